"""Integration times that INT_TIMES does not give, derived so that no integration is lost.

Some archive files have an INT_TIMES table shorter than the segment, an empty one, none at
all, or NaN rows (jwst 3.0 processes them and leaves those times unset).  A time series
without a time for some integrations would drop them from every light curve, so tso3
derives them instead, and says so:

1. from the other integrations of the same series: JWST integrations follow a fixed
   cadence, so a straight line through (integration number, time) of the known rows
   gives the missing ones (each column on its own);
2. else from the exposure's header: EXPSTART/EXPEND (UTC) and BSTRTIME/BENDTIME (TDB)
   spread evenly over NINTS integrations.

Without either, the integrations cannot be placed in time, which is an input error.
"""

from __future__ import annotations

import numpy as np

from ..formats import INT_TIMES_COLUMNS

#: (start, end) keywords of the exposure per time scale, and the columns they give.
_HEADER_SPANS = {
    ("EXPSTART", "EXPEND"): ("int_start_MJD_UTC", "int_mid_MJD_UTC", "int_end_MJD_UTC"),
    ("BSTRTIME", "BENDTIME"): ("int_start_BJD_TDB", "int_mid_BJD_TDB", "int_end_BJD_TDB"),
}


def missing_time_rows(rows: np.ndarray) -> np.ndarray:
    """Mask of the INT_TIMES rows whose mid-integration UTC time is not finite."""
    return ~np.isfinite(rows["int_mid_MJD_UTC"])


def fill_missing_times(rows: np.ndarray, header: dict) -> tuple[np.ndarray, str]:
    """Fill the rows of ``rows`` that have no time; return the rows and how.

    Parameters
    ----------
    rows : numpy structured array
        The INT_TIMES rows of every integration of one series, in order
        (:data:`tso3.formats.INT_TIMES_DTYPE`); NaN where unknown.
    header : mapping
        Primary-header keywords: NINTS, EXPSTART, EXPEND, BSTRTIME, BENDTIME (any may be
        absent).

    Returns
    -------
    rows : numpy structured array
        A copy with the missing times filled where they can be derived.
    how : str
        ``"cadence"`` (from the other integrations), ``"header"`` (from the exposure's
        start and end), or ``""`` when nothing was missing or nothing could be derived
        (the missing rows are then still NaN).
    """
    out = rows.copy()
    missing = missing_time_rows(out)
    if not missing.any():
        return out, ""
    number = out["integration_number"].astype(np.float64)
    if cadence_known(number, out["int_mid_MJD_UTC"]):
        for column in INT_TIMES_COLUMNS[1:]:
            out[column] = fill_from_cadence(number, out[column])
        return out, "cadence"
    nints = _number(header.get("NINTS"))
    if not nints or nints < 1:
        return out, ""
    derived = False
    for (start_key, end_key), columns in _HEADER_SPANS.items():
        start, end = _number(header.get(start_key)), _number(header.get(end_key))
        if start is None or end is None or not end > start:
            continue
        step = (end - start) / nints
        for column, fraction in zip(columns, (1.0, 0.5, 0.0), strict=True):
            fill = ~np.isfinite(out[column])
            out[column][fill] = start + (number[fill] - fraction) * step
        derived = derived or start_key == "EXPSTART"
    return out, "header" if derived else ""


def cadence_known(number: np.ndarray, times: np.ndarray) -> bool:
    """Whether at least two integrations of different numbers have a time."""
    known = np.isfinite(times)
    return bool(known.sum() >= 2 and np.ptp(number[known]) > 0)


def fill_from_cadence(number: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``times`` with its NaN filled from a straight line through the known times.

    Parameters
    ----------
    number : numpy.ndarray
        Integration numbers.
    times : numpy.ndarray
        One time per integration (days), NaN where unknown.

    Returns
    -------
    numpy.ndarray
        A copy; unchanged when fewer than two integrations have a time.
    """
    number = np.asarray(number, dtype=np.float64)
    out = np.array(times, dtype=np.float64)
    good = np.isfinite(out)
    if good.all() or not cadence_known(number, out):
        return out
    x0, y0 = number[good].mean(), out[good].mean()  # centred, so the fit is exact in f8
    slope, offset = np.polyfit(number[good] - x0, out[good] - y0, 1)
    out[~good] = y0 + offset + slope * (number[~good] - x0)
    return out


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None
