"""Fixtures shared by the whole test suite.

Plain builders of synthetic inputs are in :mod:`tests.builders`; what needs pytest (the
shared real data, which may be absent, and simulated observations, which are slow to make)
is here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tso3.simulate import simulate
from tso3.steps import _movmed

#: The archive x1dints + whtlt pair in ``../shared/realdata`` (MIRI LRS slitless, WASP-...).
ARCHIVE_STEM = "jw02783-o002_t001_miri_p750l-slitlessprism"


def _realdata_dir() -> Path | None:
    """``../shared/realdata`` relative to the checkout: the only place it is looked for."""
    folder = Path(__file__).resolve().parents[2] / "shared" / "realdata"
    return folder if folder.is_dir() else None


def realdata_file(*parts: str) -> Path:
    """A file of ``../shared/realdata``, or skip the test where it is not available."""
    base = _realdata_dir()
    path = None if base is None else base.joinpath(*parts)
    if path is None or not path.exists():
        pytest.skip(f"../shared/realdata/{'/'.join(parts)} not available")
    return path


@pytest.fixture
def archive_x1dints() -> Path:
    """The archive ``_x1dints.fits`` (legacy layout, 10 integrations)."""
    return realdata_file(f"{ARCHIVE_STEM}_x1dints.fits")


@pytest.fixture
def archive_whtlt() -> Path:
    """The archive ``_whtlt.ecsv`` made by jwst from :func:`archive_x1dints`."""
    return realdata_file(f"{ARCHIVE_STEM}_whtlt.ecsv")


@pytest.fixture
def wasp39_light_curve() -> Path:
    """The published WASP-39b NIRSpec PRISM CO2-band light curve (Espinoza et al. 2024)."""
    return realdata_file("lightcurves", "wasp39b_nirspec_prism_co2band_espinoza2024", "lc.dat")


#: Small observations of each measured mode (simulator arguments).
SMALL = {
    "nrc_tsimage": {"nints": 60, "segments": 2, "shape": (48, 96)},
    "nrs_brightobj": {"nints": 60, "segments": 3},
    "nrc_tsgrism": {"nints": 50, "segments": 2},
    "mir_lrs-slitless": {"nints": 50, "segments": 2},
    "nis_soss": {"nints": 24, "segments": 2},  # SUBSTRIP256: 256 x 2048 frames
}
#: Simulator arguments for data without outliers: the outlier pass has nothing to flag.
CLEAN = {"cr_rate": 0.0, "bad_pixel_fraction": 0.0}


@pytest.fixture(scope="session")
def simulated(tmp_path_factory):
    """``simulated(mode, **options)``: a small simulated observation, made once per session.

    ``mode`` is a key of :data:`SMALL`; ``options`` go to :func:`tso3.simulate.simulate`
    on top of the mode's size (seed 11 unless given).  Tests must not modify the files.
    """
    made: dict[tuple, object] = {}

    def get(mode: str, **options):
        key = (mode, tuple(sorted(options.items())))
        if key not in made:
            out = tmp_path_factory.mktemp(mode.replace("-", "_"))
            made[key] = simulate(mode, out, **{"seed": 11, **SMALL[mode], **options})
        return made[key]

    return get


@pytest.fixture(scope="session")
def dask_scheduler():
    """Address of a dask scheduler on 127.0.0.1 with one single-threaded worker, in this
    process (no worker process to start: fast); stopped at the end of the session."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        host="127.0.0.1",
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",  # a real address a client connects to, not inproc://
        dashboard_address=":0",  # any free port (None still serves HTTP on 8787)
    )
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(autouse=True)
def _restore_tso3_logger():
    """Undo what an in-process ``tso3.cli.main`` call does to the ``tso3`` logger (its
    own handler, no propagation), so later tests' ``caplog`` still sees tso3's records."""
    logger = logging.getLogger("tso3")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


@pytest.fixture(scope="session")
def chromatic():
    """chromatic, imported so that its import-time changes stay out of the other tests:
    it turns on matplotlib's constrained layout and defines units named "DN/s" and
    "MJy/sr" for the whole process (astropy then reads "DN/s" as its own unit)."""
    import matplotlib
    from astropy.units import core

    # each add_enabled_units call pushes a registry it never pops: restore the stack
    registries = list(core._unit_registries)
    with matplotlib.rc_context():
        import chromatic as module
    core._unit_registries[:] = registries
    return module


#: Test files (or folders) whose tests are all marked ``slow``: jwst itself, and whole
#: runs in fresh interpreters.
SLOW = ("jwst_parity/", "test_docs.py", "test_pipeline.py", "commands/test_batch.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.path.as_posix()
        if any(f"/tests/{part}" in path for part in SLOW):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(params=["kernel", "bottleneck"])
def engine(request, monkeypatch):
    """Run a test with the compiled moving median and again with bottleneck's."""
    if request.param == "kernel" and not _movmed.kernel_available():
        pytest.skip("the compiled moving-median kernel was not built")
    if request.param == "bottleneck":
        # The library lookup is cached; clear it on both sides so that neither the
        # median nor the fused detection kernel can be found during the test.
        monkeypatch.setenv(_movmed.NO_KERNEL_ENV, "1")
        _movmed._library.cache_clear()
        assert not _movmed.kernel_available()
    yield request.param
    if request.param == "bottleneck":
        monkeypatch.delenv(_movmed.NO_KERNEL_ENV)
        _movmed._library.cache_clear()
