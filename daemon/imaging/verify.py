"""Re-read an image and compare its BLAKE3 and piecewise digests with the recorded ones."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from custodyd.daemon.errors import Cancelled, SourceError
from custodyd.daemon.imaging.ewf.layout import is_ewf
from custodyd.daemon.imaging.hashers import new_blake3
from custodyd.daemon.imaging.piecewise import PiecewiseHasher, diff_windows
from custodyd.daemon.imaging.progress import ProgressCallback, ProgressMeter
from custodyd.daemon.imaging.rehash import HASH_CHUNK, HashResult, hash_raw_fd

if TYPE_CHECKING:
    from custodyd.daemon.imaging.headstart import HeadStart


@dataclass
class VerifyResult:
    match: bool
    blake3: str
    expected: str
    mismatched_windows: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    read_errors: list[dict[str, int]] = field(default_factory=list)
    bad_chunks: list[dict[str, Any]] = field(default_factory=list)
    md5: str | None = None
    stored_md5: str | None = None


class MediaReader(Protocol):
    """Anything with a size and ranged reads (an object in a store, read with ranged GETs)."""

    size: int

    def read(self, offset: int, length: int) -> bytes: ...


READER_CHUNK = 16 * 1024 * 1024


def hash_reader(
    reader: MediaReader,
    *,
    window: int,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    piecewise: bool = True,
) -> HashResult:
    """BLAKE3 (+ piecewise windows) of a reader's bytes, the next range fetched while the
    current one is hashed."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()
    digest = new_blake3()
    windows = PiecewiseHasher(window)
    meter = ProgressMeter(reader.size, progress, phase="verify")
    done = 0
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(reader.read, 0, READER_CHUNK)
        while done < reader.size:
            if cancel is not None and cancel.is_set():
                raise Cancelled("verification cancelled")
            data = pending.result()
            if not data:
                break
            nxt = done + len(data)
            if nxt < reader.size:
                pending = pool.submit(reader.read, nxt, READER_CHUNK)
            digest.update(data)
            if piecewise:
                windows.update(memoryview(data))
            done = nxt
            meter.update(done)
    meter.update(done, final=True)
    return HashResult(
        bytes=done,
        blake3=digest.hexdigest(),
        piecewise=windows.finish() if piecewise else [],
        read_errors=[],
        seconds=time.monotonic() - started,
    )


def hash_image(
    path: Path | str | MediaReader,
    *,
    window: int,
    block_size: int = HASH_CHUNK,
    buffers: int = 1,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    piecewise: bool = True,
) -> HashResult:
    """BLAKE3 (and, with ``piecewise``, the window digests) of a file, read once.

    A plain loop, not the acquisition pipeline: with nothing to write, the kernel's
    readahead already overlaps the reads with hashing, and one reused 1 MiB buffer
    stays in cache (the pipeline's large blocks cost more CPU for no gain here) —
    the same shape as ``b3sum --no-mmap``.
    ``block_size``/``buffers`` are accepted for symmetry and ignored. Unreadable
    sectors count as zeros and are listed, so a damaged image is reported, not
    silently accepted. An E01 image is decoded (every chunk checked) and its media
    data hashed instead (:func:`custodyd.daemon.imaging.ewf.verify.hash_ewf`).
    """
    if not isinstance(path, (str, Path)):
        if getattr(path, "is_ewf", False):  # an E01 read from a store: decode, check chunks
            from custodyd.daemon.imaging.ewf.verify import hash_ewf

            return hash_ewf(
                path,  # type: ignore[arg-type]
                window=window,
                progress=progress,
                cancel=cancel,
                piecewise=piecewise,
            )
        return hash_reader(
            path, window=window, progress=progress, cancel=cancel, piecewise=piecewise
        )
    if is_ewf(path):
        from custodyd.daemon.imaging.ewf.verify import hash_ewf  # it builds a HashResult

        return hash_ewf(path, window=window, progress=progress, cancel=cancel, piecewise=piecewise)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise SourceError(f"cannot open image {path}: {exc.strerror}") from None
    try:
        return hash_raw_fd(
            fd, str(path), window=window, progress=progress, cancel=cancel, piecewise=piecewise
        )
    finally:
        os.close(fd)


def verify_image(
    path: Path | str | MediaReader,
    *,
    expected_blake3: str,
    expected_piecewise: list[str],
    window: int,
    block_size: int,
    buffers: int,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    head_start: HeadStart | None = None,
) -> VerifyResult:
    """Compare an image with its recorded digests.

    The first pass computes only the full BLAKE3 (a good image verifies at disk
    speed); the piecewise windows are computed in a second pass only when that
    differs, to name the damaged windows. ``head_start``: a thread that may already
    have hashed this very file (:mod:`custodyd.daemon.imaging.headstart`); its
    digests stand in for the first pass only if it hashed ``path`` itself, unchanged.
    """
    got = None
    if head_start is not None and isinstance(path, Path) and not is_ewf(path):
        got = head_start.result_for(path, progress=progress, cancel=cancel)
    if got is None:
        got = hash_image(
            path,
            window=window,
            block_size=block_size,
            buffers=buffers,
            progress=progress,
            cancel=cancel,
            piecewise=False,
        )
    match = (
        got.blake3 == expected_blake3
        and not got.read_errors
        and not got.bad_chunks
        and got.md5 == got.stored_md5
    )
    windows: list[dict[str, Any]] = []
    seconds = got.seconds
    if not match:
        located = hash_image(
            path,
            window=window,
            block_size=block_size,
            buffers=buffers,
            progress=progress,
            cancel=cancel,
        )
        windows = diff_windows(window, expected_piecewise, located.piecewise, located.bytes)
        seconds += located.seconds
    return VerifyResult(
        match=match,
        blake3=got.blake3,
        expected=expected_blake3,
        mismatched_windows=windows,
        bytes=got.bytes,
        seconds=seconds,
        read_errors=got.read_errors,
        bad_chunks=got.bad_chunks,
        md5=got.md5,
        stored_md5=got.stored_md5,
    )
