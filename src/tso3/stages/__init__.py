"""The stages of a run: the outlier pass and the measuring stages it feeds.

A measuring stage is a :class:`~tso3.stages.blocks.MeasuringStage` subclass
(:class:`~tso3.stages.photometry.PhotometryStage`,
:class:`~tso3.stages.extraction.ExtractionStage`): ``STEP`` (its parameter table),
``prepare(obs, mode)`` (array-only work done at the start, while the crfints copies
begin), ``wcs_segments(obs)`` (the segments whose WCS it evaluates: a run parses their
ASDF trees, and only theirs, in the background), ``plan(obs, params, mode=, prepared=)``
(the stage, a context manager with ``consume(block)``, ``finish()`` and ``arrays``) and
``write(product, ...)``.
"""

from __future__ import annotations


def measuring_stage(phot: object, x1dints: object) -> type | None:
    """The stage class that makes the planned product, None when nothing is measured.

    Parameters
    ----------
    phot, x1dints : object
        The planned ``phot.ecsv`` / ``x1dints.fits`` paths (None when not made).
    """
    if phot is not None:
        from .photometry import PhotometryStage  # photutils is only needed here

        return PhotometryStage
    if x1dints is not None:
        from .extraction import ExtractionStage

        return ExtractionStage
    return None
