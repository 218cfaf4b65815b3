"""The algorithms of tso3: pure functions on numpy arrays, no file access.

Modules here depend on nothing of tso3 but :mod:`tso3.dqflags`, :mod:`tso3.errors` and
each other.  Keep this file light: it is imported by :mod:`tso3.config` and the command.
"""

#: The two behaviours of every step: ``"default"`` (best science) and ``"jwst"``
#: (reproduce jwst 3.0.0).
MODES = ("default", "jwst")

__all__ = ["MODES"]
