"""The stages of a run: the outlier pass and the measuring stages it feeds.

A measuring stage module (:mod:`~tso3.stages.photometry`, :mod:`~tso3.stages.extraction`)
has ``STEP`` (its parameter table), ``prepare(obs, mode)`` (array-only work done at the
start, while the crfints copies begin), ``needs_wcs(obs)`` (whether it evaluates a WCS,
whose ASDF trees a run then parses in the background),
``plan(obs, params, mode=, prepared=)`` (a context manager with ``consume(block)``,
``finish()`` and ``arrays``) and ``write(...)``.
"""

from __future__ import annotations

from types import ModuleType


def measuring_stage(phot: object, x1dints: object) -> ModuleType | None:
    """The stage module that makes the planned product, None when nothing is measured.

    Parameters
    ----------
    phot, x1dints : object
        The planned ``phot.ecsv`` / ``x1dints.fits`` paths (None when not made).
    """
    if phot is not None:
        from . import photometry  # photutils is only needed here

        return photometry
    if x1dints is not None:
        from . import extraction

        return extraction
    return None
