"""One acquisition pass: source -> raw image, BLAKE3 (+ requested digests), piecewise.

:func:`image_source` never leaves a file under the final image name unless the
whole pass succeeded: on cancel (``cancel`` event or Ctrl-C), a full destination
or any other failure, the partial output is kept as ``<image>.incomplete`` and the
returned :class:`ImagingResult` says so (``outcome`` and ``error``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from custodyd.daemon.errors import Cancelled, CustodydError, SourceError
from custodyd.daemon.imaging.hashers import Hasher, new_blake3, new_hasher
from custodyd.daemon.imaging.piecewise import PiecewiseHasher
from custodyd.daemon.imaging.pipeline import Consumer, Pipeline
from custodyd.daemon.imaging.progress import ProgressCallback
from custodyd.daemon.imaging.reader import ErrorMap, SourceInfo, SourceReader, open_source
from custodyd.daemon.imaging.writer import ImageWriter

Log = Callable[[str], None]


@dataclass
class ImagingResult:
    source: SourceInfo
    outcome: str  # complete | cancelled | failed
    bytes: int
    hashes: dict[str, str]
    piecewise: list[str]
    window: int
    errors: ErrorMap
    seconds: float
    image_path: Path | None
    ended_early: bool = False
    error: CustodydError | None = None
    written: int = 0  # bytes in the image file (less than ``bytes`` after a full disk)

    @property
    def complete(self) -> bool:
        return self.outcome == "complete"


def _as_custodyd_error(exc: BaseException) -> CustodydError:
    if isinstance(exc, CustodydError):
        return exc
    if isinstance(exc, OSError):
        return SourceError(f"I/O error: {exc.strerror or exc}")
    return CustodydError(f"{type(exc).__name__}: {exc}")


def failed_result(source: Path, exc: BaseException, window: int) -> ImagingResult:
    """The result of a pass that could not start (nothing was written)."""
    return ImagingResult(
        source=SourceInfo(str(source), 0),
        outcome="failed",
        bytes=0,
        hashes={},
        piecewise=[],
        window=window,
        errors=ErrorMap(512),
        seconds=0.0,
        image_path=None,
        error=_as_custodyd_error(exc),
    )


def hash_consumers(
    hashes: Sequence[str], window: int
) -> tuple[list[tuple[str, Consumer]], dict[str, Hasher], PiecewiseHasher]:
    """Pipeline consumers: BLAKE3 and its piecewise windows together on one thread (each
    update already spreads over every core), each extra digest on its own thread."""
    blake3_full = new_blake3()
    piecewise = PiecewiseHasher(window)

    def blake3_both(view: memoryview) -> None:
        blake3_full.update(view)
        piecewise.update(view)

    digests: dict[str, Hasher] = {"blake3": blake3_full}
    consumers: list[tuple[str, Consumer]] = [("blake3", blake3_both)]
    for name in hashes:
        digests[name] = hasher = new_hasher(name)
        consumers.append((name, hasher.update))
    return consumers, digests, piecewise


def image_source(
    source: Path,
    image_path: Path,
    *,
    hashes: Sequence[str] = (),
    window: int,
    block_size: int,
    buffers: int,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    log: Log | None = None,
    publish: bool = True,
) -> ImagingResult:
    """One pass over ``source``. ``publish=False``: a complete image stays at
    ``<image>.part`` (fsynced) for the caller to rename (see ``ImageWriter.finish``).

    An incomplete pass reports only what the partial file holds: ``written`` bytes and
    the piecewise digests of the windows complete in it (never those of bytes that
    were read or hashed but not written, nor of a partial last window)."""
    say = log or (lambda _msg: None)
    fd, info = open_source(source)
    started = time.monotonic()
    reader = SourceReader(fd, info, cancel=cancel)
    errors = reader.errors
    try:
        writer = ImageWriter(image_path)
        consumers, digests, piecewise = hash_consumers(hashes, window)
        consumers.append(("writer", writer.write))
        say(
            f"reading {info.path}: {info.size} bytes, sector {info.logical_sector_size}, "
            f"block {block_size}, buffers {buffers}, hashes {','.join(['blake3', *hashes])}"
        )
        pipeline = Pipeline(consumers, block_size=block_size, buffers=buffers)
        result = pipeline.run(
            reader.read,
            info.size,
            progress=progress,
            cancel=cancel,
        )
    finally:
        reader.close()
        os.close(fd)
    for bad in errors.ranges:
        say(
            f"unreadable: bytes {bad.offset}-{bad.offset + bad.length - 1} "
            f"(sectors {bad.start_sector}+{bad.sectors}) zero-filled"
        )
    outcome = "complete"
    error: CustodydError | None = None
    final: Path | None = None
    if result.cancelled:
        outcome, error = "cancelled", Cancelled(f"acquisition of {info.path} cancelled")
    elif result.error is not None:
        outcome, error = "failed", _as_custodyd_error(result.error)
    else:
        try:
            final = writer.finish(publish=publish)
        except CustodydError as exc:
            outcome, error = "failed", exc
    if outcome != "complete":
        final = writer.abandon()
        say(f"{outcome}: {error.detail if error else ''}; partial output kept as {final}")
    elif result.ended_early:
        say(f"source ended after {result.bytes_read} of {info.size} bytes")
    seconds = time.monotonic() - started
    if outcome == "complete":
        windows = piecewise.finish()
    else:  # complete windows only, and only as far as the file goes
        windows = piecewise.digests[: writer.written // window]
    return ImagingResult(
        source=info,
        outcome=outcome,
        bytes=result.bytes_read,
        written=writer.written,
        hashes={name: h.hexdigest() for name, h in digests.items()},
        piecewise=windows,
        window=window,
        errors=errors,
        seconds=seconds,
        image_path=final,
        ended_early=result.ended_early,
        error=error,
    )
