"""tso3/__init__.py: the top-level API stays the functions whatever is imported."""

import subprocess
import sys


def test_simulate_and_batch_stay_functions_after_their_modules_load():
    code = (
        "import tso3, tso3.simulate.core, tso3.batch\n"
        "from tso3.simulate import MODES\n"
        "from tso3.batch import find_observations\n"
        "assert callable(tso3.simulate) and tso3.simulate.__name__ == 'simulate'\n"
        "assert callable(tso3.batch) and tso3.batch.__name__ == 'batch'\n"
        "assert 'nis_soss' in MODES and callable(find_observations)\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
