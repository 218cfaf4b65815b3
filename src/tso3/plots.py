"""Diagnostic figures (PNG) of a run, one function per figure.

Each ``plot_*`` function takes plain arrays and a file name, so it can be used from a
notebook too; :func:`make_plots` picks the figures a run's products support.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HOURS = 24.0


def _hours(mjd: np.ndarray) -> np.ndarray:
    mjd = np.asarray(mjd, dtype=float)
    return (mjd - np.nanmin(mjd)) * HOURS


def _binned(x: np.ndarray, y: np.ndarray, nbin: int) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``nbin`` consecutive points (NaN ignored)."""
    n = (len(x) // nbin) * nbin
    if n == 0:
        return x, y
    xb = np.nanmean(x[:n].reshape(-1, nbin), axis=1)
    with np.errstate(all="ignore"):
        yb = np.nanmean(y[:n].reshape(-1, nbin), axis=1)
    return xb, yb


def _save(fig, path: str | os.PathLike) -> Path:
    # figures are made with layout="none" and laid out here, whatever layout engine the
    # caller's rcParams ask for (chromatic turns on constrained layout when imported)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_light_curves(path, mjd, curves: dict[str, np.ndarray], *, title: str = "") -> Path:
    """Normalised light curve(s) against time with a binned overlay.

    Parameters
    ----------
    path : path-like
        PNG to write.
    mjd : array_like
        Times (MJD); plotted as hours since the first integration.
    curves : dict of str to array
        Label -> flux, normalised here by its median.
    """
    t = _hours(mjd)
    fig, ax = plt.subplots(layout="none", figsize=(8, 4.5))
    nbin = max(1, len(t) // 60)
    for k, (label, flux) in enumerate(curves.items()):
        f = np.asarray(flux, dtype=float)
        f = f / np.nanmedian(f)
        ax.plot(t, f, ".", ms=2, alpha=0.35, color=f"C{k}")
        tb, fb = _binned(t, f, nbin)
        ax.plot(tb, fb, "o-", ms=3, lw=1, color=f"C{k}", label=f"{label} (binned x{nbin})")
    ax.set_xlabel("time since first integration [h]")
    ax.set_ylabel("normalised flux")
    ax.set_title(title or "light curve")  # the callers name the target and product
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_sweep(path, table, varied: list[str], score: str, *, title: str = "") -> Path:
    """The score of every configuration of a sweep against each varied parameter.

    Parameters
    ----------
    path : path-like
        PNG to write.
    table : astropy.table.Table
        The sweep table (:func:`tso3.sweep`): a column per varied parameter, the scores
        and ``rank``.
    varied : list of str
        The varied parameters' columns, one panel each.
    score : str
        The score column ranked by (ppm); the best configuration is marked.
    """
    fig, axes = plt.subplots(1, len(varied), layout="none", squeeze=False,
                             figsize=(3.6 * len(varied) + 1, 3.8))  # fmt: skip
    values = np.asarray(table[score], float)
    best = int(np.argmin(np.asarray(table["rank"])))
    for ax, name in zip(axes[0], varied, strict=True):
        labels = [str(v) for v in table[name]]
        order = list(dict.fromkeys(labels))  # as given in the grid
        x = np.array([order.index(label) for label in labels], float)
        # configurations that differ in other parameters share a column: spread them
        jitter = np.zeros(len(x))
        for column in range(len(order)):
            members = np.flatnonzero(x == column)
            if members.size > 1:
                jitter[members] = np.linspace(-0.15, 0.15, members.size)
        ax.plot(x + jitter, values, "o", ms=4, alpha=0.7)
        ax.plot(x[best] + jitter[best], values[best], "*", ms=14, color="C3", label="best")
        ax.set_xticks(range(len(order)), order, rotation=30 if len(order) > 5 else 0)
        ax.set_xlabel(name)
        ax.set_ylabel(f"{score}")
        ax.legend(fontsize=8)
    fig.suptitle(title or "sweep", fontsize=10)
    return _save(fig, path)


def plot_outliers(
    path, mjd, fraction: np.ndarray, flag_map: np.ndarray, *, title: str = ""
) -> Path:
    """Fraction of pixels flagged per integration, and where on the detector."""
    from matplotlib.ticker import MaxNLocator

    fig, (ax1, ax2) = plt.subplots(2, 1, layout="none", figsize=(8, 6.5))
    ax1.plot(_hours(mjd), 100 * np.asarray(fraction), lw=0.8)
    ax1.set_xlabel("time since first integration [h]")
    ax1.set_ylabel("pixels flagged [%]")
    ax1.set_title((f"{title}\n" if title else "") + "outlier_detection: new flags per integration")
    ny, nx = np.shape(flag_map)
    # square pixels unless the frame is a long strip (NIRSpec, SOSS, grism subarrays)
    aspect = "equal" if 1 / 3 <= ny / max(nx, 1) <= 3 else "auto"
    im = ax2.imshow(flag_map, origin="lower", aspect=aspect, cmap="magma", interpolation="nearest")
    ax2.set_xlabel("x [pixel]")
    ax2.set_ylabel("y [pixel]")
    ax2.set_title("integrations flagged per pixel")
    fig.colorbar(im, ax=ax2, label="integrations", ticks=MaxNLocator(integer=True))
    return _save(fig, path)


def plot_median_frame(
    path, image, center, lower, upper, *, dispaxis: int = 1, title: str = "", unit: str = "",
    window: tuple[tuple[int, int], tuple[int, int]] | None = None,
) -> Path:  # fmt: skip
    """Median frame with the fitted trace and the extraction aperture drawn on it.

    ``center``, ``lower``, ``upper`` are cross-dispersion positions per dispersion
    pixel (0-based, pixel centres); for DISPAXIS=2 they are x positions per row.  An
    asinh stretch over the 0.5-99.8 % range shows the faint end of a trace as well as
    its core; the axes stay on the frame, or on ``window`` = ``((y0, y1), (x0, x1))``
    (pixel index ranges, stop excluded), e.g. a slit within the full frame.
    """
    from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval

    img = np.asarray(image, dtype=float)
    (y0, y1), (x0, x1) = window or ((0, img.shape[0]), (0, img.shape[1]))
    fig, ax = plt.subplots(layout="none", figsize=(9.5, 4) if dispaxis == 1 else (5.5, 8))
    finite = img[y0:y1, x0:x1][np.isfinite(img[y0:y1, x0:x1])]
    norm = None
    if finite.size:
        norm = ImageNormalize(finite, interval=PercentileInterval(99.3), stretch=AsinhStretch(0.05))
    shown = ax.imshow(img, origin="lower", aspect="auto", cmap="viridis", norm=norm,
                      interpolation="nearest")  # fmt: skip
    fig.colorbar(shown, ax=ax, label=f"median [{unit}]" if unit else "median")
    disp = np.arange(len(center))
    for y, style, label in ((center, "-", "trace"), (lower, "--", "aperture"), (upper, "--", None)):
        if dispaxis == 1:
            ax.plot(disp, y, style, color="w", lw=0.8, label=label)
        else:
            ax.plot(y, disp, style, color="w", lw=0.8, label=label)
    ax.set_xlim(x0 - 0.5, x1 - 0.5)
    ax.set_ylim(y0 - 0.5, y1 - 0.5)  # an aperture edge past the subarray stays off
    ax.set_xlabel("x [pixel]")
    ax.set_ylabel("y [pixel]")
    if title and dispaxis == 2:  # a tall, narrow figure: the product name on its own line
        title = textwrap.fill(title, 44)
    ax.set_title((f"{title}\n" if title else "") + "median frame, trace and aperture")
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, path)


def plot_trace(path, mjd, position, width, *, title: str = "") -> Path:
    """Cross-dispersion trace position and width against time."""
    t = _hours(mjd)
    fig, (ax1, ax2) = plt.subplots(2, 1, layout="none", figsize=(8, 5.5), sharex=True)
    ax1.plot(t, position, lw=0.7)
    ax1.set_ylabel("trace offset [pixel]")
    ax2.plot(t, width, lw=0.7, color="C1")
    ax2.set_ylabel("trace width (sigma) [pixel]")
    ax2.set_xlabel("time since first integration [h]")
    ax1.set_title((f"{title}\n" if title else "") + "spectral trace vs time")
    return _save(fig, path)


def _cell_edges(centres: np.ndarray) -> np.ndarray:
    """Edges of cells around ascending ``centres``: midpoints, the ends mirrored."""
    c = np.asarray(centres, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def plot_spectral_light_curve(path, mjd, wavelength, flux, *, title: str = "") -> Path:
    """Normalised 2-D spectral light curve (time x wavelength), with a colourbar.

    Every element is drawn at its own wavelength (cells between the midpoints of the
    real wavelengths), so a non-linear dispersion (NIRSpec PRISM, MIRI LRS) puts features
    where they are.
    """
    f = np.asarray(flux, dtype=float)
    wl = np.asarray(wavelength, dtype=float)
    # show at most ~150 wavelength bins: single columns at the faint end are noise only
    group = max(1, int(np.ceil(f.shape[1] / 150)))
    if group > 1:
        nb = f.shape[1] // group
        f = np.nansum(f[:, : nb * group].reshape(len(f), nb, group), axis=2)
        wl = np.nanmean(wl[: nb * group].reshape(nb, group), axis=1)
    with np.errstate(all="ignore"):
        norm = f / np.nanmedian(f, axis=0)
    good = np.flatnonzero(np.isfinite(wl))
    good = good[np.argsort(wl[good])]  # ascending, whatever the dispersion direction
    t = _hours(mjd)
    rows = np.argsort(t)
    fig, ax = plt.subplots(layout="none", figsize=(8.5, 5))
    shown = norm[np.ix_(rows, good)]
    finite = np.isfinite(shown)
    lo, hi = np.percentile(shown[finite], [2, 98]) if finite.any() else (0.98, 1.02)
    mesh = ax.pcolormesh(
        _cell_edges(wl[good]), _cell_edges(t[rows]), shown, cmap="RdBu_r", vmin=lo, vmax=hi,
        shading="flat", rasterized=True,
    )  # fmt: skip
    fig.colorbar(mesh, ax=ax, label="flux / median flux of the element")
    ax.set_xlabel("wavelength [um]")
    ax.set_ylabel("time since first integration [h]")
    binned = f" ({group} columns per bin)" if group > 1 else ""
    ax.set_title((f"{title}\n" if title else "") + "normalised spectral light curve" + binned)
    return _save(fig, path)


def plot_centroids(path, mjd, cx, cy, sx, sy, *, title: str = "") -> Path:
    """Centroid and Gaussian PSF width against time (imaging)."""
    t = _hours(mjd)
    fig, (ax1, ax2) = plt.subplots(2, 1, layout="none", figsize=(8, 5.5), sharex=True)
    ax1.plot(t, np.asarray(cx) - np.nanmedian(cx), lw=0.7, label="x")
    ax1.plot(t, np.asarray(cy) - np.nanmedian(cy), lw=0.7, label="y")
    ax1.set_ylabel("centroid - median [pixel]")
    ax1.legend(fontsize=8)
    ax2.plot(t, sx, lw=0.7, label="sigma x")
    ax2.plot(t, sy, lw=0.7, label="sigma y")
    ax2.set_ylabel("PSF width (sigma) [pixel]")
    ax2.set_xlabel("time since first integration [h]")
    ax2.legend(fontsize=8)
    ax1.set_title((f"{title}\n" if title else "") + "centroid and PSF width vs time")
    return _save(fig, path)


def _aperture_edges(profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper cross-dispersion edges of a box profile, per column (NaN if empty)."""
    ny, nx = profile.shape
    used = profile > 0
    any_row = used.any(axis=0)
    first = np.argmax(used, axis=0)
    last = ny - 1 - np.argmax(used[::-1], axis=0)
    cols = np.arange(nx)
    lower = first - 0.5 + (1.0 - profile[first, cols])
    upper = last + 0.5 - (1.0 - profile[last, cols])
    return np.where(any_row, lower, np.nan), np.where(any_row, upper, np.nan)


def make_plots(plot_dir, obs, outcome=None, *, phot=None, extraction=None, curves=None):
    """Write every diagnostic the run's results support; return the PNG paths.

    Parameters
    ----------
    plot_dir : path-like
        Folder for the PNGs (created if missing).
    obs : tso3.io.observation.Observation
    outcome : tso3.stages.outliers.OutlierOutcome, optional
    phot : astropy.table.QTable, optional
        The photometry table (imaging).
    extraction : tso3.stages.extraction.Extraction, optional
    curves : tso3.stages.whitelight.LightCurves, optional
    """
    out = Path(plot_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    if outcome is not None:
        for det, segs in obs.series.items():
            mjd = obs.int_times(det)["int_mid_MJD_UTC"]
            npix = segs[0].shape[1] * segs[0].shape[2]
            frac = np.concatenate([outcome.flagged[s.key] for s in segs]) / npix
            name = f"outliers{'_' + det.lower() if len(obs.series) > 1 else ''}.png"
            title = f"{_target(obs)} - {obs.product_name} {det}"
            paths.append(
                plot_outliers(out / name, mjd, frac, outcome.invalid_map[det], title=title)
            )
    if phot is not None:
        mjd = np.asarray(phot["MJD"])
        flux = {"net_aperture_sum": np.asarray(phot["net_aperture_sum"].value)}
        name = f"{_target(obs)} - {obs.product_name}"
        paths.append(
            plot_light_curves(out / "light_curve.png", mjd, flux, title=f"{name}\nphotometry")
        )
        if "centroid_x" in phot.colnames:
            cols = [np.asarray(phot[c].value) for c in ("centroid_x", "centroid_y")]
            widths = [np.asarray(phot[c].value) for c in ("psf_width_x", "psf_width_y")]
            paths.append(plot_centroids(out / "centroids.png", mjd, *cols, *widths, title=name))
    if curves is not None:
        table = curves.table
        mjd_col = next(c for c in table.colnames if c.startswith("MJD"))
        flux = {
            c: np.asarray(table[c].value if hasattr(table[c], "value") else table[c])
            for c in table.colnames
            if c.startswith("whitelight_flux") and "_err" not in c
        }
        paths.append(
            plot_light_curves(
                out / "white_light.png",
                np.asarray(table[mjd_col]),
                flux,
                title=f"{_target(obs)} - {obs.product_name}\nwhite light",
            )  # fmt: skip
        )
    if extraction is not None:
        paths += _spectral_plots(out, obs, extraction)
    return paths


def _label(det: str, order: int, orders: set) -> str:
    """Detector, and the order when there are several, for figure titles."""
    return " ".join(x for x in (det, f"order {order}" if len(orders) > 1 else "") if x)


def _target(obs) -> str:
    """The target's name for figure titles."""
    target = obs.first.meta.target
    return str(target.catalog_name or target.proposer_name or "target")


def _spectral_window(wavelength: np.ndarray, margin: int = 12):
    """Where the frame has wavelengths (plus ``margin`` px) when that is under half of it
    (a slit in a full frame), else None: the whole frame."""
    rows = np.flatnonzero(np.isfinite(wavelength).any(axis=1))
    cols = np.flatnonzero(np.isfinite(wavelength).any(axis=0))
    if not rows.size:
        return None
    ny, nx = wavelength.shape
    y0, y1 = max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, ny)
    x0, x1 = max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, nx)
    if (y1 - y0) * (x1 - x0) > 0.5 * ny * nx:
        return None
    return (int(y0), int(y1)), (int(x0), int(x1))


def _spectral_plots(out: Path, obs, extraction) -> list[Path]:
    paths = []
    detectors = {det for det, _ in extraction.setups}
    orders = {order for _, order in extraction.setups}
    for (det, order), setup in extraction.setups.items():
        tag = (f"_{det.lower()}" if len(detectors) > 1 else "") + (
            f"_order{order}" if len(orders) > 1 else ""
        )
        lower, upper = _aperture_edges(setup.aperture.profile)
        centre = setup.trace.center if setup.trace is not None else (lower + upper) / 2
        image = setup.median.T if setup.dispaxis == 2 else setup.median
        wavelength = setup.wavelength.T if setup.dispaxis == 2 else setup.wavelength
        paths.append(
            plot_median_frame(
                out / f"median_frame{tag}.png",
                image,
                centre,
                lower,
                upper,
                dispaxis=setup.dispaxis,
                unit=str(obs.first.meta.bunit_data or ""),
                title=f"{_target(obs)} - {obs.product_name} {_label(det, order, orders)}".rstrip(),
                window=_spectral_window(wavelength),
            )  # fmt: skip
        )
        sets = [s for s in extraction.spectra if s.series == det and s.spectral_order == order]
        mjd = np.concatenate([s.times["mjd_avg"] for s in sets])
        if all(s.trace_position is not None for s in sets):
            position = np.concatenate([s.trace_position for s in sets])
            width = np.concatenate([s.trace_width for s in sets])
            title = f"{_target(obs)} - {obs.product_name} {_label(det, order, orders)}".rstrip()
            paths.append(plot_trace(out / f"trace{tag}.png", mjd, position, width, title=title))
        flux = np.concatenate([s.flux for s in sets])
        wl = np.asarray(sets[0].wavelength)
        wl = wl if wl.ndim == 1 else np.nanmedian(wl, axis=0)
        by_wl = np.argsort(wl)
        label = _label(det, order, orders)
        paths.append(
            plot_spectral_light_curve(
                out / f"spectral_light_curve{tag}.png",
                mjd,
                wl[by_wl],
                flux[:, by_wl],
                title=f"{_target(obs)} - {obs.product_name} {label}".rstrip(),
            )  # fmt: skip
        )
    return paths
