"""Re-read a raw image file and hash it: the loop of :func:`.verify.hash_image`, and the
:class:`HashResult` every hashing pass returns.

Kept apart from :mod:`.verify` (which also knows E01 and remote images): the head
start (:mod:`.headstart`) builds a :class:`HashResult` at process start without
loading those.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from custodyd.daemon.errors import Cancelled
from custodyd.daemon.imaging.hashers import new_blake3
from custodyd.daemon.imaging.piecewise import PiecewiseHasher
from custodyd.daemon.imaging.progress import ProgressCallback, ProgressMeter
from custodyd.daemon.imaging.reader import SourceInfo, SourceReader

HASH_CHUNK = 1024 * 1024


@dataclass
class HashResult:
    bytes: int
    blake3: str
    piecewise: list[str]
    read_errors: list[dict[str, int]]
    seconds: float
    # E01 only: chunks that failed their checks, and the MD5 recomputed vs. stored inside
    bad_chunks: list[dict[str, Any]] = field(default_factory=list)
    md5: str | None = None
    stored_md5: str | None = None


def hash_raw_fd(
    fd: int,
    name: str,
    *,
    window: int,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    piecewise: bool = True,
) -> HashResult:
    """BLAKE3 (and, with ``piecewise``, the window digests) of the open raw image ``fd``
    (``name`` only labels errors); the caller closes ``fd``. See :func:`hash_image`."""
    started = time.monotonic()
    buf = mmap.mmap(-1, HASH_CHUNK)
    view = memoryview(buf)
    # One thread: at 1 MiB per update, fanning out to more cores costs more than it
    # saves (measured), and the read, not the hash, sets the pace.
    digest = new_blake3(threads=1)
    windows = PiecewiseHasher(window) if piecewise else None
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        size = os.fstat(fd).st_size
        reader = SourceReader(fd, SourceInfo(name, size), cancel=cancel)
        meter = ProgressMeter(size, progress, phase="verify")
        offset = 0
        while offset < size:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"verification of {name} cancelled")
            n = reader.read(view[: min(HASH_CHUNK, size - offset)], offset)
            if n == 0:
                break
            chunk = view[:n]
            digest.update(chunk)
            if windows is not None:
                windows.update(chunk)
            chunk.release()
            offset += n
            meter.update(offset)
        meter.update(offset, final=True)
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        view.release()
        buf.close()
    return HashResult(
        bytes=offset,
        blake3=digest.hexdigest(),
        piecewise=windows.finish() if windows is not None else [],
        read_errors=reader.errors.to_list(),
        seconds=time.monotonic() - started,
    )
