"""The read-back of a rescued image: its digests, read from the disk, are the verification.

After the rescue passes have patched the image in place, the digests streamed in
pass 1 no longer describe it, so the finished image is hashed again by reading it
back from the destination. That read is also the verification: every window that
no later pass touched must equal the digest streamed from the source in pass 1
(:func:`compare_windows`).

The image is read with ``O_DIRECT``: the bytes come from the disk, never from the
page cache (a stronger statement than dropping the cache first), and the kernel
copies nothing — the device fills the pipeline's page-aligned blocks directly, a
whole block per request, while the hashers work on the previous blocks. A
destination that refuses ``O_DIRECT`` is read buffered after its cached pages were
dropped, as before.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from custodyd.daemon.errors import Cancelled, DestinationError
from custodyd.daemon.imaging.hashers import Hasher
from custodyd.daemon.imaging.piecewise import PiecewiseHasher
from custodyd.daemon.imaging.pipeline import Consumer, Pipeline
from custodyd.daemon.imaging.progress import ProgressCallback
from custodyd.daemon.imaging.writer import DIRECT_ALIGN

ConsumerSet = tuple[list[tuple[str, Consumer]], dict[str, Hasher], PiecewiseHasher]


class DiskReader:
    """Reads a file from the disk, bypassing the page cache where the filesystem allows.

    ``read(view, offset)`` is a pipeline block reader. Aligned spans go through an
    ``O_DIRECT`` descriptor; an unaligned tail (an image not a multiple of 4 KiB), or
    everything on a filesystem that refuses ``O_DIRECT``, through a buffered one whose
    pages were written back and dropped first. A read error is a
    :class:`DestinationError`: the image on the destination is not readable whole.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.direct_fd: int | None = None
        try:
            # why: these bytes are the verification of what the passes wrote: all of
            # them must be on the disk, and read from it.
            os.fsync(self.fd)
            with contextlib.suppress(OSError):
                os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
            with contextlib.suppress(OSError):
                self.direct_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECT)
        except BaseException:
            self.close()
            raise

    @property
    def direct(self) -> bool:
        return self.direct_fd is not None

    def read(self, view: memoryview, offset: int) -> int:
        length = len(view)
        done = 0
        if self.direct_fd is not None and offset % DIRECT_ALIGN == 0:
            aligned = length - length % DIRECT_ALIGN
            done = self._fill(view[:aligned], offset, direct=True)
            if done < aligned:
                return done  # end of file
        return done + self._fill(view[done:], offset + done, direct=False)

    def _fill(self, view: memoryview, offset: int, *, direct: bool) -> int:
        done = 0
        while done < len(view):
            fd = self.direct_fd if direct and self.direct_fd is not None else self.fd
            try:
                n = os.preadv(fd, [view[done:]], offset + done)
            except OSError as exc:
                if exc.errno == errno.EINVAL and fd == self.direct_fd:
                    self._drop_direct()  # refused after all: the rest is read buffered
                    continue
                raise DestinationError(
                    f"reading back {self.path} at byte {offset + done}: {exc.strerror}"
                ) from None
            if n == 0:
                break
            done += n
            if direct and n % DIRECT_ALIGN:
                break  # end of file inside the request
        return done

    def _drop_direct(self) -> None:
        if self.direct_fd is not None:
            os.close(self.direct_fd)
            self.direct_fd = None

    def close(self) -> None:
        self._drop_direct()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class BlockSource(Protocol):
    """A pipeline block reader of an image kept elsewhere (an object read back with
    ranged GETs): fills ``view`` from ``offset``, returns the bytes read."""

    def read(self, view: memoryview, offset: int) -> int: ...

    def close(self) -> None: ...


def rehash(
    image: Path | BlockSource,
    consumers: ConsumerSet,
    size: int,
    *,
    block_size: int,
    buffers: int,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    start: int = 0,
) -> tuple[dict[str, Hasher], PiecewiseHasher]:
    """Digests of the image as it now is on the destination, through the same pipeline
    (reading blocks while the hashers work on earlier ones); ``consumers`` as made by
    :func:`~custodyd.daemon.imaging.engine.hash_consumers`, or, with ``start``, holding
    the digest state of the bytes before it (see :class:`HeadReadBack`)."""
    stages, digests, piecewise = consumers
    reader = DiskReader(image) if isinstance(image, Path) else image
    try:
        _read_range(reader, stages, start, size, block_size, buffers, progress, cancel)
    finally:
        reader.close()
    return digests, piecewise


def _read_range(
    reader: DiskReader | BlockSource,
    stages: list[tuple[str, Consumer]],
    start: int,
    end: int,
    block_size: int,
    buffers: int,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    """Feed bytes ``[start, end)`` of the image to ``stages``; raise if not all of them
    could be read back."""

    def read(view: memoryview, offset: int) -> int:
        return reader.read(view, start + offset)

    result = Pipeline(stages, block_size=block_size, buffers=buffers).run(
        read, end - start, progress=progress, phase="rescue: hashing", cancel=cancel
    )
    if result.cancelled:
        raise Cancelled("cancelled while hashing the rescued image")
    if result.error is not None:
        raise result.error
    if result.bytes_read != end - start:
        where = getattr(reader, "path", "the image")
        raise DestinationError(f"the rescued image {where} could not be read back whole")


class HeadReadBack:
    """The read-back of an image's settled head, while the rescue passes still run.

    Bytes before the first area the rescue map does not mark finished never change
    again (no later pass writes into finished areas), so they can be read back from
    the disk and hashed while the passes are busy reading the source (a failing disk
    is slow, and those passes leave the destination disk idle). :meth:`finish` then
    reads the rest with the same digest state: the same digests and the same
    verification as one read-back after the passes.
    """

    def __init__(
        self,
        image: Path,
        consumers: ConsumerSet,
        head: int,
        *,
        block_size: int,
        buffers: int,
    ) -> None:
        self.image = image
        self.consumers = consumers
        self.head = head - head % DIRECT_ALIGN
        self.block_size = block_size
        self.buffers = buffers
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="custodyd-readback", daemon=True)

    def start(self) -> HeadReadBack:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            reader = DiskReader(self.image)
            try:
                _read_range(
                    reader,
                    self.consumers[0],
                    0,
                    self.head,
                    self.block_size,
                    self.buffers,
                    None,
                    self._stop,
                )
            finally:
                reader.close()
        except BaseException as exc:  # re-raised by finish() in the caller's thread
            self._error = exc

    def stop(self) -> None:
        """Abandon the read-back (the passes failed or were cancelled)."""
        self._stop.set()
        self._thread.join()

    def finish(
        self,
        size: int,
        *,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
    ) -> tuple[dict[str, Hasher], PiecewiseHasher]:
        """Once the passes are done: wait for the head, then read back the rest."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return rehash(
            self.image,
            self.consumers,
            size,
            block_size=self.block_size,
            buffers=self.buffers,
            progress=progress,
            cancel=cancel,
            start=self.head,
        )


def compare_windows(
    streamed: Sequence[str],
    readback: Sequence[str],
    gaps: list[tuple[int, int]],
    window: int,
    seconds: float,
) -> dict[str, Any]:
    """Compare the window digests read back from the destination with those streamed
    from the source in pass 1, for every window no later pass touched (``gaps``: the
    areas pass 1 left unread, which later passes filled in place)."""
    touched: set[int] = set()
    for pos, size in gaps:
        touched.update(range(pos // window, (pos + size - 1) // window + 1))
    compared = [i for i in range(len(readback)) if i not in touched]
    mismatched = [i for i in compared if i >= len(streamed) or streamed[i] != readback[i]]
    return {
        "windows": len(readback),
        "compared": len(compared),
        "rescued": len(readback) - len(compared),
        "mismatched": mismatched,
        "seconds": round(seconds, 3),
    }
