"""jwst 3.0.0 itself, run offline next to tso3 ``--mode jwst`` on the same files.

Offline means: no CRDS server and no step-parameter references.  jwst reads
``STPIPE_DISABLE_CRDS_STEPPARS`` (exactly ``"true"``), ``CRDS_MODE=local`` and a throw-away
``CRDS_PATH``; a step that asks for a reference file gets it through its
``override_<reftype>`` parameter (``N/A`` where jwst allows it), so any reference the tests
forget fails loudly instead of reaching for the network.  The variables are set when
this folder's tests are collected, before jwst is imported.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_CRDS_ROOT = Path(tempfile.mkdtemp(prefix="tso3-crds-"))
(_CRDS_ROOT / "config" / "jwst").mkdir(parents=True)
# what CRDS reads of its last server contact: a context name for the products' metadata
(_CRDS_ROOT / "config" / "jwst" / "server_config").write_text(
    repr(
        {
            "observatory": "jwst",
            "operational_context": "jwst_0000.pmap",
            "edit_context": "jwst_0000.pmap",
            "checked_context": "jwst_0000.pmap",
            "versions_context": "jwst_0000.pmap",
            "build_context": "jwst_0000.pmap",
            "effective_mode": "local",
            "reference_url": {},
            "mapping_url": {},
            "force_remote_mode": False,
            "last_synced": "2026-01-01 00:00:00",
        }
    )
)
os.environ.update(
    STPIPE_DISABLE_CRDS_STEPPARS="true",
    CRDS_MODE="local",
    CRDS_PATH=str(_CRDS_ROOT),
    CRDS_SERVER_URL="https://offline.invalid",
)


@pytest.fixture(scope="session")
def jwst_step():
    """``jwst_step(StepClass, model, **parameters)``: run one jwst step in this process."""
    pytest.importorskip("jwst", reason="jwst 3.0.0 is in the [test] extra")

    def run(step_class, model, **parameters):
        step = step_class()
        for name, value in parameters.items():
            setattr(step, name, value)
        return step.run(model)

    return run
