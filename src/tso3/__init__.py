"""tso3: a fast, standalone implementation of JWST calwebb_tso3."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tso3")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

__all__ += ["run", "RunResult", "simulate"]


def __getattr__(name: str):
    # Imported on first use so that `import tso3` stays light.
    if name in ("run", "RunResult"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "simulate":
        from .simulate import simulate

        return simulate
    raise AttributeError(f"module 'tso3' has no attribute {name!r}")
