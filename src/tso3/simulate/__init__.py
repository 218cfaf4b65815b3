"""Realistic synthetic JWST stage-2 TSO observations with a truth file (``tso3 simulate``).

>>> from tso3.simulate import simulate
>>> result = simulate("nrs_brightobj", "sim", nints=120, segments=3, seed=1)  # doctest: +SKIP

See ``docs/simulate.md`` for the modes, parameters and the truth file.
"""

from .core import DEFAULTS, SimulationResult, simulate
from .modes import MODES
from .transit import orbit_from_duration, orbit_separation, transit_flux

__all__ = [
    "DEFAULTS",
    "MODES",
    "SimulationResult",
    "orbit_from_duration",
    "orbit_separation",
    "simulate",
    "transit_flux",
]
