"""tso3: a fast, standalone implementation of JWST calwebb_tso3."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tso3")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
