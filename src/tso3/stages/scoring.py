"""How good a reduction's light curves are: the scores ``tso3 sweep`` ranks by (issue 31).

The same numbers come from a run's products read back (``whtlt.ecsv``, ``speclc.fits``,
``phot.ecsv``) and from the light curves a sweep holds in memory, so that a
configuration's score is what ``tso3 run`` with it gives.  The scores themselves are
:mod:`tso3.steps.scores`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.table import Table

from ..spectra import SpecLightCurve
from ..steps.scores import mad_ppm, point_to_point_ppm

#: Score names, in the order of a sweep table's columns.
SCORE_NAMES = ("white_p2p_ppm", "white_mad_ppm", "spec_mad_ppm")


def _first_flux(table: Table, prefix: str) -> np.ndarray:
    """The table's first ``prefix*`` column that is no error column: the combined light
    of NIRCam DHS stripes, else the first detector, order or aperture."""
    name = next(c for c in table.colnames if c.startswith(prefix) and "_err" not in c)
    return np.asarray(getattr(table[name], "value", table[name]), float)


def light_curve_scores(
    table: Table, binned: Sequence[SpecLightCurve] = (), *, prefix: str = "whitelight_flux"
) -> dict[str, float]:
    """The noise scores of one reduction.

    Parameters
    ----------
    table : astropy.table.Table
        The white-light table (``prefix`` ``whitelight_flux``) or the photometry table
        (``prefix`` ``net_aperture_sum``).
    binned : sequence of SpecLightCurve
        The spectroscopic light curves (none for photometry or without a binning).
    prefix : str
        The flux columns' common start.

    Returns
    -------
    dict
        ``white_p2p_ppm`` and ``white_mad_ppm`` of the first flux column (the combined
        light of NIRCam DHS stripes, the first detector, order or aperture otherwise);
        ``spec_mad_ppm``, the median :func:`~tso3.steps.scores.mad_ppm` of every binned
        light curve (NaN without binned curves).
    """
    white = _first_flux(table, prefix)
    spec = [mad_ppm(curve.flux) for curve in binned]
    spec_mad = float(np.nanmedian(np.concatenate(spec))) if spec else float("nan")
    return {
        "white_p2p_ppm": float(point_to_point_ppm(white)),
        "white_mad_ppm": float(mad_ppm(white)),
        "spec_mad_ppm": spec_mad,
    }
