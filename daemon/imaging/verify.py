"""Re-read an image and compare its BLAKE3 and piecewise digests with the recorded ones."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custodyd.daemon.errors import Cancelled, SourceError
from custodyd.daemon.imaging.engine import hash_consumers
from custodyd.daemon.imaging.piecewise import diff_windows
from custodyd.daemon.imaging.pipeline import Pipeline
from custodyd.daemon.imaging.progress import ProgressCallback
from custodyd.daemon.imaging.reader import SourceInfo, SourceReader


@dataclass
class HashResult:
    bytes: int
    blake3: str
    piecewise: list[str]
    read_errors: list[dict[str, int]]
    seconds: float


@dataclass
class VerifyResult:
    match: bool
    blake3: str
    expected: str
    mismatched_windows: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    read_errors: list[dict[str, int]] = field(default_factory=list)


def hash_image(
    path: Path,
    *,
    window: int,
    block_size: int,
    buffers: int,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> HashResult:
    """BLAKE3 and piecewise BLAKE3 of a file, read once (unreadable sectors count as zeros
    and are listed, so a damaged image is reported, not silently accepted)."""
    started = time.monotonic()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise SourceError(f"cannot open image {path}: {exc.strerror}") from None
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        size = os.fstat(fd).st_size
        consumers, digests, piecewise = hash_consumers((), window)
        reader = SourceReader(fd, SourceInfo(str(path), size))
        errors = reader.errors
        result = Pipeline(consumers, block_size=block_size, buffers=buffers).run(
            reader.read,
            size,
            progress=progress,
            phase="verify",
            cancel=cancel,
        )
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    if result.cancelled:
        raise Cancelled(f"verification of {path} cancelled")
    if result.error is not None:
        raise result.error
    return HashResult(
        bytes=result.bytes_read,
        blake3=digests["blake3"].hexdigest(),
        piecewise=piecewise.finish(),
        read_errors=errors.to_list(),
        seconds=time.monotonic() - started,
    )


def verify_image(
    path: Path,
    *,
    expected_blake3: str,
    expected_piecewise: list[str],
    window: int,
    block_size: int,
    buffers: int,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> VerifyResult:
    got = hash_image(
        path,
        window=window,
        block_size=block_size,
        buffers=buffers,
        progress=progress,
        cancel=cancel,
    )
    windows = diff_windows(window, expected_piecewise, got.piecewise, got.bytes)
    match = got.blake3 == expected_blake3 and not windows and not got.read_errors
    return VerifyResult(
        match=match,
        blake3=got.blake3,
        expected=expected_blake3,
        mismatched_windows=windows,
        bytes=got.bytes,
        seconds=got.seconds,
        read_errors=got.read_errors,
    )
