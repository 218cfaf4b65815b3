"""crfints written from the outlier pass's blocks instead of copied from the calints.

The pass reads every integration of SCI, ERR, DQ and VAR_* anyway.  Copying the
calints first (:func:`tso3.io.crfints.write_copy`) read those bytes a second time and
patched the copy through a memory map afterwards; for NIS_SOSS (11.7 GB in four
segments) the copy was the longest part of the run.  A stream instead writes, when the
crfints is started, the new primary HDU and every byte the pass does not read (headers,
INT_TIMES, the ASDF tree, WAVELENGTH, padding: a few MB), then each block's rows of
the cubes, already changed (DQ flags, NaN), as they are judged.  The file is the same
byte for byte as the patched copy.

A stream pays when the observation does not fit the page cache twice over (calints
read, crfints written): then the copy's read is evicted before the pass reads the same
bytes again from the disk (NIS_SOSS 1000 x 256 x 2048, 11.7 GB on a 24 GB machine: 38 s
instead of 48).  When it fits, the copy's read serves the pass from memory and the
in-kernel copy costs less CPU than converting and writing the rows (NRS 6000 x 32 x
512, 2.2 GB: 6.0 s copied, 6.4 s streamed), so :func:`streaming_pays` chooses.

Only files of the plain layout are streamed: one of each cube, float32 cubes and a DQ
stored as int32 with BZERO = 2**31, all of one shape (what stage 2 writes).  Anything
else (a MultiSlit calints, integer or float64 cubes) is copied and patched as before.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from astropy.io import fits

from .crfints import FLOAT_CUBES, copy_bytes, write_copy
from .segments import DQ_OFFSET

#: The cubes the outlier pass reads (and so can write) row by row.
STREAMED_CUBES = (*FLOAT_CUBES, "DQ")
_DQ_DISK = np.dtype(">u4")  # the int32 bits of DQ - 2**31, as unsigned
_FLOAT_DISK = np.dtype(">f4")


@dataclass(frozen=True)
class _Cube:
    """Where one cube's data lie in the calints (``source``) and its crfints."""

    source: int
    target: int
    nints: int
    frame: int  # samples per integration

    @property
    def nbytes(self) -> int:
        return self.nints * self.frame * 4


def stream_layout(hdul: fits.HDUList) -> dict[str, tuple[int, tuple[int, ...]]] | None:
    """Data offset and shape of every cube of :data:`STREAMED_CUBES` in an open calints
    (opened with ``do_not_scale_image_data=True``), or None when the file does not have
    the plain layout a stream needs (see the module's description)."""
    found: dict[str, tuple[int, tuple[int, ...]]] = {}
    for hdu in hdul[1:]:
        if hdu.name not in STREAMED_CUBES:
            continue
        header = hdu.header
        if hdu.name in found or hdu.ver != 1 or header.get("NAXIS") != 3:
            return None
        scale = (header.get("BSCALE", 1), header.get("BZERO", 0))
        if hdu.name == "DQ":
            plain = header["BITPIX"] == 32 and scale == (1, 2**31)
        else:
            plain = header["BITPIX"] == -32 and scale == (1, 0)
        if not plain:
            return None
        shape = tuple(header[f"NAXIS{k}"] for k in (3, 2, 1))
        found[hdu.name] = (hdu.fileinfo()["datLoc"], shape)
    shapes = {shape for _, shape in found.values()}
    if not {"SCI", "ERR", "DQ"} <= found.keys() or len(shapes) != 1:
        return None
    return found


#: Bytes of rows converted and waiting for the writing thread at most: the pass runs
#: ahead of the disk by this much (a few blocks' rows of one cube), and the writes catch
#: up while the run does less (the last blocks, the measuring stage's end).
WRITE_BYTES = 384 * 1024**2


class _Thread(Protocol):
    """The one writing thread (:func:`tso3.parallel.background`, which owns it)."""

    def submit(self, func, /, *args) -> Any: ...  # a Future


class RowWriter:
    """Writes rows of cubes into files on one thread, from reused buffers.

    The caller converts each block's rows into a buffer (big-endian, changes applied:
    the block's own arrays may then be changed by the measuring stage) and the thread
    writes it.  With ``budget`` bytes of buffers in flight the caller waits for the
    oldest write, which bounds the memory held.  Reusing buffers also spares the page
    faults of a fresh allocation (10x the cost of the conversion).
    """

    def __init__(self, executor: _Thread, budget: int = WRITE_BYTES) -> None:
        self._executor, self._budget = executor, budget
        self._free: list[np.ndarray] = []
        self._busy: deque[tuple[Any, np.ndarray | None]] = deque()  # (Future, buffer)
        self._held = 0  # bytes of the buffers in _busy
        self._lent: np.ndarray | None = None

    def buffer(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` to fill and then :meth:`write`."""
        nbytes = int(np.prod(shape)) * dtype.itemsize
        while self._busy and self._held + nbytes > self._budget:
            self._reclaim(raising=True)  # a failed write fails the run here
        large = [buf for buf in self._free if buf.nbytes >= nbytes]
        if large:
            buf = min(large, key=lambda b: b.nbytes)
            self._free = [b for b in self._free if b is not buf]
        else:  # rows longer than any buffer so far (the first, a longer block)
            self._free.clear()
            buf = np.empty(nbytes, np.uint8)
        self._lent = buf
        return buf[:nbytes].view(dtype).reshape(shape)

    def write(self, fd: int, offset: int, rows: np.ndarray) -> None:
        """Write ``rows`` (the array :meth:`buffer` gave last) at ``offset`` of ``fd``."""
        buf, self._lent = self._lent, None
        self._busy.append((self._executor.submit(_pwrite, fd, rows, offset), buf))
        self._held += buf.nbytes

    def submit(self, func, *args) -> None:
        """Run ``func(*args)`` on the writing thread after every write submitted so far;
        :meth:`flush` waits for it and raises its failure."""
        self._busy.append((self._executor.submit(func, *args), None))

    def _reclaim(self, raising: bool) -> BaseException | None:
        done, buf = self._busy.popleft()
        if buf is not None:
            self._held -= buf.nbytes
            self._free.append(buf)
        failure = None if done.cancelled() else done.exception()  # cancelled: a run failing
        if failure is not None and raising:
            raise failure
        return failure

    def flush(self, raising: bool = True) -> None:
        """Wait for every write and job; raise the first failure (or, ``raising=False``
        when a run is failing anyway, only wait)."""
        failure = None
        while self._busy:
            found = self._reclaim(raising=False)
            failure = failure or found
        if failure is not None and raising:
            raise failure


def _pwrite(fd: int, rows: np.ndarray, offset: int) -> None:
    view = memoryview(rows.reshape(-1).view(np.uint8))
    while view.nbytes:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


@dataclass
class CrfintsStream:
    """One crfints being written from the pass's blocks (a context manager, entered when
    the pass first writes to it; leaving it checks that every row was written)."""

    destination: Path
    cubes: dict[str, _Cube]
    writer: RowWriter
    source: Path
    shift: int
    fd: int = -1
    written: dict[str, np.ndarray] = field(default_factory=dict)
    entered: bool = False

    @classmethod
    def start(
        cls, source: str | os.PathLike, destination: str | os.PathLike, primary: bytes,
        writer: RowWriter,
    ) -> CrfintsStream | None:  # fmt: skip
        """Write ``primary`` and every byte of ``source`` outside its cubes' data to
        ``destination`` (sized for the cubes); None (nothing written) when the file does
        not have the plain layout."""
        with fits.open(source, memmap=True, do_not_scale_image_data=True) as hdul:
            layout = stream_layout(hdul)
            rest = hdul[1].fileinfo()["hdrLoc"] if len(hdul) > 1 else 0
        if layout is None:
            return None
        shift = len(primary) - rest
        cubes = {
            name: _Cube(at, at + shift, shape[0], shape[1] * shape[2])
            for name, (at, shape) in layout.items()
        }
        stream = cls(Path(destination), cubes, writer, Path(source), shift)
        stream.written = {name: np.zeros(c.nints, bool) for name, c in cubes.items()}
        size = os.path.getsize(source)
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            os.pwrite(fd, primary, 0)
            os.ftruncate(fd, size + shift)
            src = os.open(source, os.O_RDONLY)
            try:
                start = rest
                for cube in sorted(cubes.values(), key=lambda c: c.source):
                    copy_bytes(src, fd, start, cube.source, shift)
                    start = cube.source + cube.nbytes
                copy_bytes(src, fd, start, size, shift)
            finally:
                os.close(src)
        except BaseException:
            os.close(fd)
            raise
        stream.fd = fd
        return stream

    def write_floats(self, name: str, first: int, rows: np.ndarray, nan_at: np.ndarray) -> None:
        """Rows ``first:first+len(rows)`` of float cube ``name`` (native float32, as read),
        NaN at the flat indices ``nan_at`` of ``rows``."""
        out = self.writer.buffer(rows.shape, _FLOAT_DISK)
        np.copyto(out, rows)
        out.reshape(-1)[nan_at] = np.nan
        self._write(name, first, out)

    def write_dq(self, first: int, rows: np.ndarray, index: np.ndarray, values: np.ndarray):
        """Rows of DQ (native uint32, as read) with ``values`` at flat indices ``index``."""
        out = self.writer.buffer(rows.shape, _DQ_DISK)
        np.bitwise_xor(rows, DQ_OFFSET, out=out)
        out.reshape(-1)[index] = values ^ DQ_OFFSET
        self._write("DQ", first, out)

    def _write(self, name: str, first: int, out: np.ndarray) -> None:
        cube = self.cubes[name]
        if out.size != len(out) * cube.frame or first + len(out) > cube.nints:
            raise ValueError(f"rows {first}:{first + len(out)} do not fit {name} of "
                             f"{self.destination.name}")  # fmt: skip
        self.written[name][first : first + len(out)] = True
        self.writer.write(self.fd, cube.target + first * cube.frame * 4, out)

    def __enter__(self) -> CrfintsStream:
        self.entered = True
        return self

    def discard(self) -> None:
        """Close a stream the pass never wrote to (a run failing before it did)."""
        if not self.entered:
            self.entered = True
            os.close(self.fd)

    def __exit__(self, kind, *_) -> None:
        if kind is not None:
            self._abandon()
            return
        for name, rows in self.written.items():
            if rows.any() and not rows.all():  # a bug
                self._abandon()
                missing = np.flatnonzero(~rows)[:5].tolist()
                raise RuntimeError(f"{self.destination.name}: {name} rows {missing}... unwritten")
        # the writes still queued go on while the run finishes; the writing thread closes
        # the file after them (leaving crfints_copies waits for that)
        unread = [c for name, c in self.cubes.items() if not self.written[name].any()]
        self.writer.submit(self._close, unread)

    def _abandon(self) -> None:
        self.writer.flush(raising=False)  # nothing may still write to the fd
        os.close(self.fd)

    def _close(self, unread: list[_Cube]) -> None:
        """Copy the cubes the pass never wrote (it reads a VAR_* only when every segment
        of the series has it), then close the file."""
        try:
            if unread:
                src = os.open(self.source, os.O_RDONLY)
                try:
                    for cube in unread:
                        copy_bytes(src, self.fd, cube.source, cube.source + cube.nbytes, self.shift)
                finally:
                    os.close(src)
        finally:
            os.close(self.fd)


def start_crfints(
    source: str | os.PathLike, destination: str | os.PathLike, primary: bytes,
    writer: RowWriter | None,
) -> CrfintsStream | None:  # fmt: skip
    """Start the crfints of ``source``: a :class:`CrfintsStream` for the pass to write,
    or (no ``writer``, or not the plain layout) a complete copy to patch (None)."""
    stream = writer and CrfintsStream.start(source, destination, primary, writer)
    if stream is None:
        write_copy(source, destination, primary)
    return stream


def streaming_pays(sources: list[str | os.PathLike]) -> bool:
    """Whether to stream the crfints of ``sources`` (all the files of one run): when
    their calints and crfints together would not fit the memory available now."""
    total = sum(os.path.getsize(path) for path in sources)
    return 2 * total > available_memory()


def available_memory() -> int:
    """Bytes of memory the page cache may use now (MemAvailable on Linux; elsewhere the
    free pages, which errs towards streaming)."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
