"""Why tso3 extracts no order 2 from NIRISS SOSS SUBSTRIP96 (issue 29, item 3).

    python benchmarks/soss96_order2.py [--frame NPY] [--out PNG]

SUBSTRIP96 holds detector rows 1803-1898, SUBSTRIP256 rows 1793-2048: SUBSTRIP96's top
edge is SUBSTRIP256 row 105.5.  On the real WASP-39 SUBSTRIP256 median frame
(``../shared/realdata/frames``) this finds the order-2 trace as a tso3 run does (the
shipped PASTASOSS model plus the offset and smooth correction fitted to the frame) and,
per column of the order, measures from the frame itself:

* how far above the trace centre SUBSTRIP96 would cut the order (px);
* the share of the order's light that would fall beyond that edge;
* the order's light per pixel at the edge, as a fraction of the whole: what a box sum of
  the cut profile gains or loses when the trace moves by one pixel across the dispersion
  (so 0.01 px of pointing motion changes it by a hundredth of that).

The light of a column is the background-subtracted sum within 14 px of the trace (the
background: the median of the rows 18-30 px above it, where neither order falls).
Prints a Markdown table over column ranges and writes a figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
#: The real frame, beside the checkout (never copied into the repository).
FRAME = HERE.parent.parent / "shared/realdata/frames/wasp39_niriss_soss_substrip256_medframe.npy"
TOP_EDGE = 105.5  # SUBSTRIP96's last row + 0.5, in SUBSTRIP256 rows
HALF = 14  # px of the trace counted as the order's light
PWCPOS = 245.79


def measure(frame: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column cut distance, light beyond the cut and light per pixel at the cut."""
    from tso3.io.soss_models import default_soss_model
    from tso3.stages.soss import predicted_orders, refined_traces

    img = np.asarray(frame, dtype=np.float64)
    ny, nx = img.shape
    predicted = predicted_orders(default_soss_model(), PWCPOS, img.shape, 1793, "SUBSTRIP256")
    traces = refined_traces(img, {o: c for o, (c, _) in predicted.items()}, True)
    centre = traces[2][0]
    rows = np.arange(ny, dtype=np.float64)[:, None]
    dist = rows - centre[None, :]
    sky = np.where((dist >= 18) & (dist <= 30), img, np.nan)
    with np.errstate(all="ignore"):
        bkg = np.nanmedian(sky, axis=0)
        light = np.where(np.abs(dist) <= HALF, img - bkg[None, :], 0.0)
        total = light.sum(axis=0)
        beyond = np.where(rows > TOP_EDGE, light, 0.0).sum(axis=0)
        # light per pixel at the edge: the profile interpolated at row TOP_EDGE
        below = np.clip(np.floor(TOP_EDGE).astype(int), 0, ny - 2)
        edge = 0.5 * ((img[below] - bkg) + (img[below + 1] - bkg))
        usable = np.isfinite(centre) & (total > 0) & (centre + HALF < ny) & np.isfinite(bkg)
        return {
            "centre": centre,
            "wavelength": predicted[2][1],
            "cut_above": np.where(usable, TOP_EDGE - centre, np.nan),
            "beyond": np.where(usable, beyond / total, np.nan),
            "edge_per_px": np.where(usable & (TOP_EDGE - centre < HALF), edge / total, np.nan),
            "order1": traces[1][0],
        }


def _smooth(values: np.ndarray, width: int = 25) -> np.ndarray:
    ok = np.isfinite(values)
    kernel = np.ones(width)
    num = np.convolve(np.where(ok, values, 0.0), kernel, mode="same")
    den = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(all="ignore"):
        return np.where(den > width / 2, num / den, np.nan)


def figure(frame: np.ndarray, result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval

    cols = np.arange(frame.shape[1])
    fig, (top, low) = plt.subplots(2, 1, figsize=(10, 7.5), sharex=True, layout="none")
    norm = ImageNormalize(frame[40:140], interval=PercentileInterval(99.5),
                          stretch=AsinhStretch(0.02))  # fmt: skip
    top.imshow(frame, origin="lower", aspect="auto", cmap="viridis", norm=norm,
               interpolation="nearest")  # fmt: skip
    top.plot(cols, result["centre"], "w-", lw=0.8, label="order 2 trace (tso3)")
    top.plot(cols, result["order1"], "w--", lw=0.8, label="order 1 trace (tso3)")
    top.axhline(TOP_EDGE, color="r", lw=1.2, label="SUBSTRIP96 top edge (row 105.5)")
    top.set_ylim(20, 160)
    top.set_ylabel("SUBSTRIP256 row")
    top.set_title(
        "NIRISS SOSS, real WASP-39 SUBSTRIP256 median frame: SUBSTRIP96 would cut "
        "order 2 along its trace"
    )
    top.legend(fontsize=8, loc="upper right")
    low.plot(cols, 100 * _smooth(result["beyond"]), "C3",
             label="order-2 light beyond the edge [%]")  # fmt: skip
    low.plot(cols, 100 * _smooth(result["edge_per_px"]), "C0",
             label="order-2 light per pixel at the edge [% per px of motion]")  # fmt: skip
    low.axhline(0, color="0.5", lw=0.5)
    low.set_ylim(-5, 60)
    low.set_xlim(0, 1300)
    low.set_xlabel("column")
    low.set_ylabel("% of the column's order-2 light\n(25-column running mean)")
    low.legend(fontsize=8, loc="upper left")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frame", default=str(FRAME))
    default = HERE.parent / "docs/figures/soss_substrip96_order2.png"
    parser.add_argument("--out", default=str(default))
    args = parser.parse_args(argv)
    frame = np.load(args.frame).astype(np.float64)
    result = measure(frame)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure(frame, result, out)
    print(
        "| columns | wavelength [um] | cut above the trace [px] | light beyond the edge | "
        "light per px at the edge | flux change for 0.01 px |"
    )
    print("|---|---|---:|---:|---:|---:|")
    lam = result["wavelength"]
    for lo, hi in ((0, 250), (250, 500), (500, 750), (750, 1000), (1000, 1150)):
        sl = slice(lo, hi)
        edge = np.nanmedian(result["edge_per_px"][sl])
        print(f"| {lo}-{hi - 1} | {np.nanmin(lam[sl]):.2f}-{np.nanmax(lam[sl]):.2f} | "
              f"{np.nanmedian(result['cut_above'][sl]):.1f} | "
              f"{100 * np.nanmedian(result['beyond'][sl]):.1f} % | {100 * edge:.1f} % | "
              f"{1e4 * edge:.0f} ppm |")  # fmt: skip
    print(f"\nfigure: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
