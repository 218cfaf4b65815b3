"""tso3.plots: figures drawn where the data are."""

from __future__ import annotations

import numpy as np
from matplotlib import image as mpimg

from tso3.plots import _cell_edges, plot_spectral_light_curve


def test_cells_follow_the_real_wavelengths():
    wl = np.array([1.0, 1.1, 1.3, 1.7, 2.5])  # a prism-like, non-linear dispersion
    edges = _cell_edges(wl)
    np.testing.assert_allclose(edges, [0.95, 1.05, 1.2, 1.5, 2.1, 2.9])
    assert np.all((edges[:-1] < wl) & (wl < edges[1:]))
    np.testing.assert_allclose(_cell_edges(np.array([3.0])), [2.5, 3.5])


def test_spectral_light_curve_renders(tmp_path):
    mjd = 60000 + np.arange(20) / 1440
    wl = np.linspace(0.6, 5.3, 400) ** 1.5 / 5.3**0.5  # non-linear
    flux = np.ones((20, 400))
    flux[8:12] *= 0.99
    flux[:, 10] = np.nan
    path = plot_spectral_light_curve(tmp_path / "s.png", mjd, wl, flux, title="T - product")
    assert mpimg.imread(path).shape[2] in (3, 4)


def test_figures_ignore_the_callers_layout_engine(tmp_path):
    """A notebook that imported chromatic has constrained layout on for every figure;
    tso3's figures (laid out with tight_layout, colourbars included) still draw."""
    import matplotlib

    mjd = 60000 + np.arange(20) / 1440
    with matplotlib.rc_context({"figure.constrained_layout.use": True}):
        path = plot_spectral_light_curve(
            tmp_path / "s.png", mjd, np.linspace(1, 2, 50), np.ones((20, 50))
        )
    assert mpimg.imread(path).shape[2] in (3, 4)
