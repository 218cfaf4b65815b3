"""Header content of simulated calints: keywords as stdatamodels paths, slit attributes."""

from __future__ import annotations

from . import modes as M
from . import writer


def common_meta(spec, p, obs, times, shape, subarray, subsize, ref, dates) -> dict:
    """Keywords shared by every segment of the exposure (datamodel path -> value)."""
    ny, nx = shape
    pixar_sr = (spec.pixel_scale / 206264.806) ** 2
    effinttm = times.integration_time
    duration = (times.end_utc[-1] - times.start_utc[0]) * 86400.0
    meta = {
        "meta.telescope": "JWST",
        "meta.calibration_software_version": writer.CAL_VER,
        "meta.ref_file.crds.context_used": writer.CRDS_CONTEXT,
        "meta.instrument.name": spec.instrument,
        "meta.instrument.filter": spec.filter,
        "meta.instrument.pupil": spec.pupil,
        "meta.instrument.grating": spec.grating,
        "meta.instrument.channel": spec.channel,
        "meta.exposure.type": spec.exp_type,
        "meta.exposure.nints": times.nints,
        "meta.exposure.ngroups": times.ngroups,
        "meta.exposure.nframes": 1,
        "meta.exposure.groupgap": 0,
        "meta.exposure.frame_time": times.frame_time,
        "meta.exposure.group_time": times.frame_time,
        "meta.exposure.integration_time": effinttm,
        "meta.exposure.exposure_time": effinttm * times.nints,
        "meta.exposure.duration": duration,
        "meta.exposure.readpatt": writer.READPATT[spec.instrument],
        "meta.exposure.nresets_at_start": 1,
        "meta.exposure.nresets_between_ints": 1,
        "meta.exposure.start_time": times.start_utc[0],
        "meta.exposure.mid_time": 0.5 * (times.start_utc[0] + times.end_utc[-1]),
        "meta.exposure.end_time": times.end_utc[-1],
        "meta.time.barycentric_correction": times.barycentric_offset,
        "meta.time.barycentric_expstart": times.start_bjd[0],
        "meta.time.barycentric_expmid": 0.5 * (times.start_bjd[0] + times.end_bjd[-1]),
        "meta.time.barycentric_expend": times.end_bjd[-1],
        "meta.observation.program_number": obs.program,
        "meta.observation.observation_number": f"{obs.observation:03d}",
        "meta.observation.visit_number": f"{obs.visit:03d}",
        "meta.observation.visit_group": obs.visit_group,
        "meta.observation.sequence_id": obs.sequence,
        "meta.observation.activity_id": obs.activity,
        "meta.observation.exposure_number": f"{obs.exposure:05d}",
        "meta.observation.date": dates["date"],
        "meta.observation.time": dates["time"],
        "meta.visit.tsovisit": True,
        "meta.target.catalog_name": obs.target_name,
        "meta.target.proposer_name": obs.target_name,
        "meta.target.ra": obs.ra,
        "meta.target.dec": obs.dec,
        "meta.target.source_type": "POINT" if spec.spectroscopic else None,
        "meta.subarray.name": subarray,
        "meta.subarray.xstart": spec.substrt_by_subarray.get(subarray, spec.substrt)[0],
        "meta.subarray.ystart": spec.substrt_by_subarray.get(subarray, spec.substrt)[1],
        "meta.subarray.xsize": subsize[1],
        "meta.subarray.ysize": subsize[0],
        "meta.subarray.fastaxis": -1 if spec.instrument == "NIRCAM" else 1,
        "meta.subarray.slowaxis": 2,
        "meta.aperture.name": spec.aperture,
        "meta.aperture.position_angle": obs.roll,
        "meta.bunit_data": spec.bunit,
        "meta.bunit_err": spec.bunit,
        "meta.photometry.pixelarea_steradians": pixar_sr,
        "meta.photometry.pixelarea_arcsecsq": spec.pixel_scale**2,
        "meta.wcsinfo.siaf_xref_sci": ref[0] + 1.0,
        "meta.wcsinfo.siaf_yref_sci": ref[1] + 1.0,
        "meta.wcsinfo.ra_ref": obs.ra,
        "meta.wcsinfo.dec_ref": obs.dec,
        "meta.wcsinfo.roll_ref": obs.roll,
        "meta.wcsinfo.v3yangle": 0.0,
        "meta.wcsinfo.vparity": -1,
    }
    if spec.exp_type == "NIS_SOSS":
        meta["meta.instrument.pupil_position"] = float(p["pwcpos"])
        meta["meta.aperture.name"] = f"NIS_{subarray}"
    if spec.exp_type == "MIR_LRS-FIXEDSLIT":  # where assign_wcs puts the source (DITH_RA)
        meta["meta.dither.dithered_ra"] = obs.ra
        meta["meta.dither.dithered_dec"] = obs.dec
    if spec.spectroscopic:
        meta["meta.wcsinfo.dispersion_direction"] = spec.dispaxis
        meta["meta.wcsinfo.spectral_order"] = 1
    else:
        meta["meta.photometry.conversion_megajanskys"] = float(p["photom"])
    return meta


def slit_meta(spec: M.ModeSpec, shape, subsize) -> dict | None:
    """SlitModel attributes: cutout position in the subarray, source type, slit name."""
    if spec.model != "slit":
        return None
    ny, nx = shape
    slit = {
        "xstart": 1 + max(subsize[1] - nx, 0) // 2,
        "xsize": nx,
        "ystart": 1 + max(subsize[0] - ny, 0) // 2,
        "ysize": ny,
        "source_type": "POINT",
    }
    if spec.slit_name:
        slit.update({"name": spec.slit_name, "source_xpos": 0.0, "source_ypos": 0.0})
    return slit
