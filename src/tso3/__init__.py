"""tso3: a fast, standalone implementation of JWST calwebb_tso3."""

import importlib
import sys
import types
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tso3")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

__all__ += ["run", "RunResult", "simulate", "batch", "BatchResult", "export_legacy", "sweep"]


def __getattr__(name: str):
    # Imported on first use so that `import tso3` stays light.
    if name in ("run", "RunResult"):
        from . import pipeline

        return getattr(pipeline, name)
    if name in ("batch", "BatchResult"):  # dask.distributed only when batching
        return getattr(importlib.import_module(".batch", __name__), name)
    if name == "sweep":
        from .sweeping import sweep

        return sweep
    if name == "export_legacy":
        from .commands.export import export_legacy

        return export_legacy
    if name == "simulate":
        from .simulate import simulate

        return simulate
    raise AttributeError(f"module 'tso3' has no attribute {name!r}")


#: Functions of the API that share their name with the module they live in.
_SAME_NAME = ("batch", "simulate")


class _Package(types.ModuleType):
    """Keeps ``tso3.batch`` and ``tso3.simulate`` the functions once their modules load.

    Importing a submodule binds it to the package attribute of its name, which would
    hide the function (``tso3.simulate(...)`` would fail after any import of
    ``tso3.simulate.core``); the function is bound instead.  The modules stay
    importable (``from tso3.simulate import MODES``).
    """

    def __setattr__(self, name: str, value) -> None:
        if name in _SAME_NAME and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
