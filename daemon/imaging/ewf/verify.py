"""Hash the media data of an E01 image, decoding and checking every chunk.

Chunks are read a table run at a time and decoded on worker threads (ISA-L's
inflate releases the GIL), then hashed in order: BLAKE3 (+ piecewise windows) and
MD5, which is compared with the MD5 the image stores. A chunk that does not inflate
or fails its Adler-32 is named (index, media offset, reason) and counted as zeros,
so the digests still cover the whole medium and the damage is located.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from custodyd.daemon.errors import Cancelled
from custodyd.daemon.imaging.ewf.reader import BadChunk, EwfImage
from custodyd.daemon.imaging.hashers import new_blake3
from custodyd.daemon.imaging.piecewise import PiecewiseHasher
from custodyd.daemon.imaging.progress import ProgressCallback, ProgressMeter
from custodyd.daemon.imaging.verify import HashResult

BATCH = 256  # chunks per decode task (8 MiB of media data)
Decoded = tuple[bytes, list[dict[str, Any]]]


def _decode(image: EwfImage, batch: list[tuple[int, bytes, bool]]) -> Decoded:
    parts: list[bytes] = []
    bad: list[dict[str, Any]] = []
    for index, stored, compressed in batch:
        try:
            parts.append(image.decode(index, stored, compressed))
        except BadChunk as exc:
            bad.append({"index": exc.index, "offset": exc.offset, "reason": exc.reason})
            parts.append(bytes(image.chunk_length(index)))
    return b"".join(parts), bad


def _batches(image: EwfImage) -> Iterator[list[tuple[int, bytes, bool]]]:
    batch: list[tuple[int, bytes, bool]] = []
    for item in image.iter_stored():
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def hash_ewf(
    path: Path | EwfImage,
    *,
    window: int,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    piecewise: bool = True,
) -> HashResult:
    started = time.monotonic()
    blake3 = new_blake3()
    md5 = hashlib.md5()
    windows = PiecewiseHasher(window)
    bad: list[dict[str, Any]] = []
    done = 0
    workers = max(1, os.cpu_count() or 1)
    opened = contextlib.nullcontext(path) if isinstance(path, EwfImage) else EwfImage(path)
    with opened as image, ThreadPoolExecutor(workers) as pool:
        meter = ProgressMeter(image.size, progress, phase="verify")
        inflight: deque[Future[Decoded]] = deque()

        def take() -> None:
            nonlocal done
            data, broken = inflight.popleft().result()
            blake3.update(data)
            md5.update(data)
            if piecewise:
                windows.update(memoryview(data))
            bad.extend(broken)
            done += len(data)
            meter.update(done)

        for batch in _batches(image):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"verification of {path} cancelled")
            inflight.append(pool.submit(_decode, image, batch))
            if len(inflight) > workers + 1:
                take()
        while inflight:
            take()
        meter.update(done, final=True)
        stored_md5 = image.info.md5
        if done != image.size:
            bad.append({"index": None, "offset": done, "reason": f"media ends at {done}"})
    return HashResult(
        bytes=done,
        blake3=blake3.hexdigest(),
        piecewise=windows.finish() if piecewise else [],
        read_errors=[],
        seconds=time.monotonic() - started,
        bad_chunks=bad,
        md5=md5.hexdigest(),
        stored_md5=stored_md5,
    )
