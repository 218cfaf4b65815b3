"""The truth record of a simulation: every injected parameter and signal."""

from __future__ import annotations

import numpy as np


def build_truth(spec, p, seed, nints, bounds, shape, dets, times, orbit, state, files, ref) -> dict:
    """Everything injected, for tests: parameters, times, models, positions, artefacts."""
    pixar_sr = (spec.pixel_scale / 206264.806) ** 2
    # Jy per SCI-unit*pixel: MJy/sr data sum to MJy/sr*px -> Jy via Omega; MJy data directly.
    to_jy = 1e6 * (1.0 if spec.bunit == "MJy" else pixar_sr)
    truth = {
        "mode": spec.exp_type.lower(),
        "exp_type": spec.exp_type,
        "seed": seed,
        "nints": nints,
        "segments": [[a, b] for a, b in bounds],
        "shape": list(shape),
        "detectors_list": list(spec.detectors),
        "files": [f.name for f in files],
        "bunit": spec.bunit,
        "pixar_sr": pixar_sr,
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in p.items()},
        "orbit": orbit,
        "reference_position": [ref[0], ref[1]],
        "times": {
            "int_start_mjd_utc": times.start_utc,
            "int_mid_mjd_utc": times.mid_utc,
            "int_end_mjd_utc": times.end_utc,
            "int_mid_bjd_tdb": times.mid_bjd,
            "integration_time": times.integration_time,
            "barycentric_offset_s": times.barycentric_offset,
        },
        "transit_model": state["transit_model"],
        "positions": {},
        "detectors": {},
    }
    if spec.spectroscopic:
        truth["positions"]["cross_dispersion_offset"] = state["cross_dispersion_offset"]
    else:
        truth["positions"]["x"] = state["x"]
        truth["positions"]["y"] = state["y"]
        truth["psf_fwhm"] = state["fwhm"]
        truth["star_flux_jy"] = float(p["star_electrons"]) * float(dets[0].conv) * to_jy
    for det in dets:
        entry = {
            "bad_pixels": det.bad,
            "cosmic_rays": [
                [int(w[0]), int(w[1]), int(w[2]), float(a), float(s)]
                for w, a, s in zip(det.cr_where, det.cr_amplitude, det.cr_sigma, strict=True)
            ],
        }
        if det.orders:
            conv = float(np.ravel(det.conv)[0])
            entry["orders"] = {
                str(o.order): {
                    "wavelength_per_column": o.wavelength,
                    "depth_per_column": o.k**2,
                    "trace_per_column": o.trace,
                    "star_electrons_per_column": o.electrons,
                    "star_flux_per_column": o.electrons * conv,
                    "white_light_model": det.white_light[i],
                }
                for i, o in enumerate(det.orders)
            }
            entry["flux_unit"] = spec.bunit
        elif spec.spectroscopic:
            conv = det.conv.ravel()
            entry.update(
                {
                    "wavelength_per_column": det.wavelength_1d,
                    "depth_per_column": det.k**2,
                    "trace_per_column": det.trace,
                    "fwhm_per_column": det.fwhm,
                    "star_electrons_per_column": det.electrons,
                    "star_flux_jy_per_column": det.electrons * conv * to_jy,
                    "white_light_model": det.white_light,
                }
            )
        truth["detectors"][det.name] = entry
    if len(dets) == 1:
        truth["bad_pixels"] = truth["detectors"][dets[0].name]["bad_pixels"]
        truth["cosmic_rays"] = truth["detectors"][dets[0].name]["cosmic_rays"]
    return truth
