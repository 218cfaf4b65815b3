"""What a run writes: product names, the overwrite rules, and provenance.

A run plans every product name before it reads any array (:func:`plan_products`),
refuses to replace existing products unless told to (:func:`refuse_existing`), and
records the same provenance in every product (:func:`provenance`,
:func:`provenance_keywords`).
"""

from __future__ import annotations

import contextlib
import errno
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .config import Parameters
from .errors import InputError, OutputExistsError, OutputWriteError
from .formats import PROVENANCE_KEYWORDS
from .io.association import check_name_part
from .io.atomic import StagedOutputs, output_folder
from .io.crfints import crfints_path
from .io.observation import Observation
from .runlog import run_log


@dataclass
class RunResult:
    """Products of a run and its closing numbers."""

    output_dir: Path
    crfints: list[Path] = field(default_factory=list)
    phot: Path | None = None
    x1dints: Path | None = None
    whtlt: Path | None = None
    speclc: Path | None = None
    plots: list[Path] = field(default_factory=list)
    log_file: Path | None = None
    plot_dir: Path | None = None
    summary: dict = field(default_factory=dict)

    @property
    def products(self) -> list[Path]:
        """Every product file written."""
        files = [*self.crfints, self.phot, self.x1dints, self.whtlt, self.speclc]
        return [p for p in files if p is not None]


def plan_products(obs: Observation, out: Path, skip: set[str]) -> RunResult:
    """Final names of every product a run with these skipped steps will write.

    ``speclc`` is planned for spectroscopy and dropped later when no binning is set.
    """
    if "\0" in str(out):
        raise InputError(None, "the output folder name holds a NUL character")
    name = obs.product_name
    check_name_part(obs.association.source, "product name", name)  # also for the Python API
    check_name_part(obs.association.source, "asn_id", obs.asn_id)
    result = RunResult(out, log_file=out / f"{name}_tso3.log", plot_dir=out / f"{name}_plots")
    if "outlier_detection" not in skip:
        result.crfints = [crfints_path(out, path, obs.asn_id) for path in obs.files]
    if obs.is_imaging:
        if "tso_photometry" not in skip:
            result.phot = out / f"{name}_phot.ecsv"
    elif "extract_1d" not in skip:
        result.x1dints = out / f"{name}_x1dints.fits"
        if "white_light" not in skip:
            result.whtlt = out / f"{name}_whtlt.ecsv"
            result.speclc = out / f"{name}_speclc.fits"
    inputs = {path.resolve() for path in obs.files}
    if obs.association.source is not None:
        inputs.add(obs.association.source.resolve())
    for path in [*result.products, result.log_file]:
        if path.resolve() in inputs:
            raise InputError(path, "an input would be replaced by this product: choose another -o")
    return result


def refuse_existing(result: RunResult, overwrite: bool) -> None:
    """Raise OutputExistsError if a planned product exists and ``overwrite`` is False.

    The log and the plot folder count as products; a speclc of an earlier run counts
    too, since a run without binning removes it (:func:`remove_stale`).
    """
    if overwrite:
        return
    others = [result.log_file, result.plot_dir]
    existing = [p for p in [*result.products, *others] if p is not None and p.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise OutputExistsError(
            f"{existing[0]}: product exists{more}; use --overwrite (overwrite=True in Python)"
        )


def products_complete(planned: RunResult, *, binning: bool, plots: bool) -> bool:
    """Whether every output a run with these options writes already exists.

    A run publishes its outputs together (:func:`staged_products`), so this is true only
    after a successful run with the same skipped steps, binning and plots setting.

    Parameters
    ----------
    planned : RunResult
        The names from :func:`plan_products`.
    binning : bool
        White-light binning is set, so the planned speclc is written.
    plots : bool
        The plots folder is written.

    Returns
    -------
    bool
    """
    speclc = planned.speclc if binning else None
    plot_dir = planned.plot_dir if plots else None
    files = [*planned.crfints, planned.phot, planned.x1dints, planned.whtlt, speclc]
    return all(p.exists() for p in [*files, planned.log_file, plot_dir] if p is not None)


def remove_stale(planned_speclc: Path | None, result: RunResult) -> None:
    """Remove an earlier run's speclc that this run (without binning) did not replace.

    It would no longer match the other products.
    """
    if planned_speclc is not None and result.speclc is None:
        planned_speclc.unlink(missing_ok=True)


def provenance(mode: str, params: Parameters, obs: Observation | None = None) -> dict:
    """What every product records of its run.

    tso3 version, mode and every parameter value; with ``obs``, also the integrations
    the input holds (``"1-300"``, see :meth:`Observation.integration_ranges`: an
    incomplete exposure shows) and how many had their times derived.
    """
    prov = {"version": __version__, "mode": mode, "parameters": params.as_dict()}
    if obs is not None:
        prov.update(integrations=obs.integration_ranges(), derived_times=obs.derived_times)
    return prov


def provenance_keywords(prov: dict) -> dict[str, object]:
    """FITS keywords of the provenance: TSO3VER, TSO3MODE, TSO3PARS (JSON), and TSO3INTS,
    TSO3DTIM when ``prov`` has them (:data:`tso3.formats.PROVENANCE_KEYWORDS`)."""
    values = dict(prov, parameters=json.dumps(prov["parameters"], separators=(",", ":")))
    return {key: values[field] for field, key in PROVENANCE_KEYWORDS.items() if field in values}


def software_keywords(inputs_version: object) -> dict[str, tuple[str, str]]:
    """CAL_VER and CAL_VCS of a product tso3 made: they name tso3, not the jwst version
    copied from the calints; that one is kept as CALVERIN.

    Readers decide things from CAL_VER (chromatic compares it across files; a jwst
    version would also claim a layout and algorithms the product does not have).
    """
    return {
        "CAL_VER": (f"tso3 {__version__}", "Calibration software that made this product"),
        "CAL_VCS": ("tso3", "Calibration software version control sys number"),
        "CALVERIN": (str(inputs_version or "N/A"), "Calibration software version of the inputs"),
    }


def x1dints_keywords(prov: dict, outliers_done: bool, inputs_version: object = None) -> dict:
    """Primary-header keywords of the x1dints: the software (:func:`software_keywords`),
    provenance, the outlier step's status and, when one was applied, the
    aperture-correction reference (R_APCORR, as jwst)."""
    keywords: dict[str, object] = {k: v for k, (v, _) in software_keywords(inputs_version).items()}
    keywords.update(provenance_keywords(prov))
    if outliers_done:
        keywords["S_OUTLIR"] = "COMPLETE"
    extract = prov["parameters"]["extract_1d"]
    if extract.get("apply_apcorr") and extract.get("override_apcorr"):
        keywords["R_APCORR"] = Path(extract["override_apcorr"]).name
    return keywords


def crfints_keywords(obs: Observation, params: Parameters, prov: dict) -> dict:
    """Primary-header keywords of every crfints: step status, association, provenance."""
    p = params.outlier_detection
    return {
        **software_keywords(obs.segments[0].keyword("CAL_VER")),
        "S_OUTLIR": ("COMPLETE", "Outlier Detection"),
        "ASNPOOL": (obs.association.asn_pool or "N/A", "Name of the ASN pool"),
        "ASNTABLE": (obs.association.asn_table or "N/A", "Name of the ASN table"),
        PROVENANCE_KEYWORDS["version"]: (prov["version"], "tso3 version"),
        PROVENANCE_KEYWORDS["mode"]: (prov["mode"], "tso3 mode (default or jwst)"),
        PROVENANCE_KEYWORDS["integrations"]: (obs.integration_ranges(), "integrations present"),
        PROVENANCE_KEYWORDS["derived_times"]: (
            obs.derived_times,
            "integrations with derived times",
        ),
        "TSO3RWW": (p.rolling_window_width, "rolling_window_width"),
        "TSO3SNR": (p.snr, "outlier_detection snr"),
        "TSO3GBIT": (p.good_bits, "outlier_detection good_bits"),
        "TSO3MOT": (p.motion_modes, "outlier_detection motion_modes"),
    }


#: A product write failing with these is the machine's state, not a bug: said in one line.
_FULL_OR_READ_ONLY = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


@contextlib.contextmanager
def staged_products(result: RunResult):
    """Products under temporary names, the run log among them; all removed on failure.

    A failed run also removes the output folders it made (when empty); a
    successful one removes an earlier run's speclc it did not replace (:func:`remove_stale`).
    A write that fails because the disk is full, over quota or read-only is raised as
    :class:`~tso3.errors.OutputWriteError` (one line, exit status 2).
    """
    planned_speclc = result.speclc
    staged = StagedOutputs()
    with output_folder(result.output_dir):
        try:
            with run_log(staged.reserve(result.log_file)):
                yield staged
            remove_stale(planned_speclc, result)
        except OSError as exc:
            staged.abort()
            if exc.errno in _FULL_OR_READ_ONLY:
                raise OutputWriteError(result.output_dir, exc) from exc
            raise
        except BaseException:
            staged.abort()
            raise
