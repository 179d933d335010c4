"""One acquisition pass: source -> raw image, BLAKE3 (+ requested digests), piecewise.

:func:`image_source` never leaves a file under the final image name unless the
whole pass succeeded: on cancel (``cancel`` event or Ctrl-C), a full destination
or any other failure, the partial output is kept as ``<image>.incomplete`` and the
returned :class:`ImagingResult` says so (``outcome`` and ``error``).
"""

from __future__ import annotations

import dataclasses
import os
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custodyd.daemon.errors import Cancelled, CustodydError, DestinationError, SourceError
from custodyd.daemon.imaging import mapfile
from custodyd.daemon.imaging.hashers import Hasher, new_blake3, new_hasher
from custodyd.daemon.imaging.mapfile import RescueMap, bad_ranges
from custodyd.daemon.imaging.output import (
    E01Sink,
    FinishInfo,
    ImageFormat,
    ImageMetadata,
    ImageSink,
    RawSink,
    open_sink,
)
from custodyd.daemon.imaging.piecewise import PiecewiseHasher
from custodyd.daemon.imaging.pipeline import Consumer, PassResult, Pipeline
from custodyd.daemon.imaging.progress import Progress, ProgressCallback
from custodyd.daemon.imaging.reader import ErrorMap, SourceInfo, SourceReader, open_source
from custodyd.daemon.imaging.rescue import CopyReader, MapKeeper, Rescuer, RescueStats

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
    rescue: list[dict[str, int | str]] = field(default_factory=list)  # passes after the first
    # When rescue passes ran on a raw image: its digests come from a read-back of the
    # destination; windows no later pass touched were compared with pass 1's stream.
    readback: dict[str, Any] | None = None
    image: dict[str, Any] = field(default_factory=dict)  # format, segments, ...

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


MAP_NAME = "ddrescue.map"


def image_source(
    source: Path,
    image_path: Path,
    *,
    hashes: Sequence[str] = (),
    window: int,
    block_size: int,
    buffers: int,
    retries: int = 0,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    log: Log | None = None,
    output: ImageFormat | None = None,
    metadata: ImageMetadata | None = None,
    publish: bool = True,
    sink: Callable[[SourceInfo], ImageSink] | None = None,
) -> ImagingResult:
    """Image ``source`` into ``image_path`` and keep the rescue map beside it.

    ``publish=False``: a complete image stays under its ``.part`` name(s), synced,
    for the caller to rename once it has recorded it (see ``ImageWriter.finish``).
    An incomplete result reports only what the partial file holds (see ``_finish``).

    Pass 1 streams the source through the hashers and the writer; media errors are
    zero-filled and left to the ddrescue-style passes of :mod:`.rescue`, which then
    complete the image in place. If any such pass ran, the digests are those of the
    finished image, read back from the destination (the streamed ones covered zeros
    where data were later recovered). ``ddrescue.map`` (GNU format) is written beside
    the image in every case, and kept consistent with the image's synced bytes, so an
    interrupted acquisition can be resumed from it.

    ``output`` chooses the image written (raw by default). An E01 sink also gets
    MD5 and SHA-1 (it stores them); as compressed chunks cannot be patched in
    place, rescued bytes go to a sparse side file and the E01 is then rewritten
    once from the first one and that file (:meth:`E01Sink.rebuild`). ``sink``
    replaces the local file with another consumer (an S3 multipart upload).
    """
    say = log or (lambda _msg: None)
    output = output or ImageFormat()
    hashes = [*hashes, *(h for h in output.required_hashes if h not in hashes)]
    fd, info = open_source(source)
    started = time.monotonic()
    keeper = MapKeeper(RescueMap.new(info.size), image_path.parent / MAP_NAME, str(source))
    reader = CopyReader(fd, info, keeper, cancel=cancel)
    stats = RescueStats([])
    readback: dict[str, Any] | None = None
    try:
        output.check_source_size(info.size, info.path)
        writer: ImageSink = (
            sink(info) if sink is not None else open_sink(output, image_path, info, metadata)
        )
        consumers, digests, piecewise = hash_consumers(hashes, window)

        def write(view: memoryview) -> None:
            writer.write(view)
            if keeper.due():
                writer.sync()  # the map may only vouch for bytes that are on disk
                keeper.save(durable_upto=writer.written)

        consumers.append(("writer", write))
        say(
            f"reading {info.path}: {info.size} bytes, sector {info.logical_sector_size}, "
            f"block {block_size}, buffers {buffers}, hashes {','.join(['blake3', *hashes])}, "
            f"output {output.to_dict()}"
        )
        pipeline = Pipeline(consumers, block_size=block_size, buffers=buffers)
        progress = _with_read_errors(progress, keeper)
        cpu_before = _process_cpu()
        result = pipeline.run(reader.read, info.size, progress=progress, cancel=cancel)
        say(_cpu_line(result, writer, _process_cpu() - cpu_before))
        outcome, error = _pass_outcome(result, info)
        if outcome == "complete" and not keeper.map.finished:
            say(
                f"pass 1 left {info.size - keeper.map.rescued} bytes unread; "
                f"rescue passes follow (retries {retries})"
            )
            try:
                writer.sync()
                gaps = [(b.pos, b.size) for b in bad_ranges(keeper.map)]
                # The rescue rewrites windows in place: the streamed window digests stop
                # describing the file (the finished image is re-hashed below); those of
                # untouched windows are kept to verify the read-back against the source.
                streamed = piecewise.finish()
                piecewise = PiecewiseHasher(window)
                stats = Rescuer(
                    reader,
                    writer.rescue_fd(),
                    keeper,
                    retries=retries,
                    progress=progress,
                    cancel=cancel,
                    log=say,
                ).run()
                if isinstance(writer, E01Sink):
                    say("rewriting the E01 image with the rescued sectors")
                    digests, piecewise = writer.rebuild(
                        gaps,
                        lambda: hash_consumers(hashes, window),
                        block_size=block_size,
                        buffers=buffers,
                        progress=progress,
                        cancel=cancel,
                    )
                else:
                    assert isinstance(writer, RawSink)
                    reread = time.monotonic()
                    digests, piecewise = _rehash(
                        writer.part_path,
                        hashes,
                        window,
                        info.size,
                        block_size,
                        buffers,
                        progress,
                        cancel,
                    )
                    readback = compare_windows(
                        streamed, piecewise.finish(), gaps, window, time.monotonic() - reread
                    )
            except (KeyboardInterrupt, Cancelled):
                outcome, error = "cancelled", Cancelled(f"acquisition of {info.path} cancelled")
            except BaseException as exc:
                outcome, error = "failed", _as_custodyd_error(exc)
    finally:
        reader.close()
        os.close(fd)
    if outcome == "complete" and result.ended_early:
        say(f"source ended after {result.bytes_read} of {info.size} bytes")
    return _finish(
        info,
        writer,
        keeper,
        outcome,
        error,
        stats,
        digests,
        piecewise,
        window,
        started,
        say,
        bytes_read=result.bytes_read,
        ended_early=result.ended_early,
        durable_upto=writer.written,  # the reader marks bytes before the writer has them
        publish=publish,
        readback=readback,
    )


def _finish(
    info: SourceInfo,
    writer: ImageSink,
    keeper: MapKeeper,
    outcome: str,
    error: CustodydError | None,
    stats: RescueStats,
    digests: dict[str, Hasher],
    piecewise: PiecewiseHasher,
    window: int,
    started: float,
    say: Log,
    *,
    bytes_read: int,
    ended_early: bool,
    durable_upto: int | None,
    publish: bool = True,
    readback: dict[str, Any] | None = None,
) -> ImagingResult:
    """Seal the pass's output under its final name (``publish``; else it stays ``.part``
    for the caller), or keep it as ``.incomplete`` with a map that vouches only for
    synced bytes; report what is unreadable.

    An incomplete result never overstates: its piecewise digests are those of the
    windows complete in a partial raw file (not of bytes read or hashed but never
    written, nor of a partial last window; none for a partial E01, whose file size is
    not media bytes); the caller takes ``bytes`` from the file."""
    errors = ErrorMap(info.logical_sector_size)
    for bad in bad_ranges(keeper.map):
        if bad.status == mapfile.BAD_SECTOR or outcome == "complete":
            errors.add(bad.pos, bad.size)
    for bad in errors.ranges:
        say(
            f"unreadable: bytes {bad.offset}-{bad.offset + bad.length - 1} "
            f"(sectors {bad.start_sector}+{bad.sectors}) zero-filled"
        )
    final: Path | None = None
    if outcome == "complete":
        try:
            keeper.map.current_status = mapfile.DONE
            keeper.save()
            final = writer.finish(
                FinishInfo({name: h.hexdigest() for name, h in digests.items()}, errors),
                publish=publish,
            )
        except CustodydError as exc:
            outcome, error = "failed", exc
    if outcome != "complete":
        final = writer.abandon()
        try:
            keeper.save(durable_upto=durable_upto)
        except CustodydError as exc:  # e.g. the full disk that ended the pass
            say(f"rescue map not updated ({exc.detail}); the previous map stays valid")
        say(f"{outcome}: {error.detail if error else ''}; partial output kept as {final}")
    if outcome == "complete":
        windows = piecewise.finish()
    elif isinstance(writer, RawSink) and final is not None:
        windows = piecewise.digests[: final.stat().st_size // window]
    else:
        windows = []
    return ImagingResult(
        source=info,
        outcome=outcome,
        bytes=bytes_read,
        hashes={name: h.hexdigest() for name, h in digests.items()},
        piecewise=windows,
        window=window,
        errors=errors,
        seconds=time.monotonic() - started,
        image_path=final,
        ended_early=ended_early,
        error=error,
        rescue=stats.passes,
        readback=readback if outcome == "complete" else None,
        image=writer.details() if outcome == "complete" else {},
    )


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_line(result: PassResult, writer: ImageSink, total: float) -> str:
    """Where pass 1's CPU went: each consumer's thread, the E01 encoders, and the whole
    process (the rest: the reading thread, BLAKE3's own helper threads, the kernel)."""
    parts = [f"{name} {seconds:.2f}" for name, seconds in result.stage_cpu.items()]
    if isinstance(writer, E01Sink):
        parts.append(f"e01 encoders {writer.encode_cpu_seconds:.2f}")
    return f"pass 1 CPU seconds: {total:.2f} in all; by thread " + ", ".join(parts)


def _pass_outcome(result: PassResult, info: SourceInfo) -> tuple[str, CustodydError | None]:
    if result.cancelled:
        return "cancelled", Cancelled(f"acquisition of {info.path} cancelled")
    if result.error is not None:
        return "failed", _as_custodyd_error(result.error)
    return "complete", None


def _rehash(
    image: Path,
    hashes: Sequence[str],
    window: int,
    size: int,
    block_size: int,
    buffers: int,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> tuple[dict[str, Hasher], PiecewiseHasher]:
    """Digests of the image as it now is on the destination, through the same pipeline."""
    consumers, digests, piecewise = hash_consumers(hashes, window)
    fd = os.open(image, os.O_RDONLY | os.O_CLOEXEC)
    try:
        # why: these digests are the read-back verification of what the passes wrote:
        # everything must be on the disk, and read from it, not from the page cache.
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        reader = SourceReader(fd, SourceInfo(str(image), size), cancel=cancel)
        result = Pipeline(consumers, block_size=block_size, buffers=buffers).run(
            reader.read, size, progress=progress, phase="rescue: hashing", cancel=cancel
        )
    finally:
        os.close(fd)
    if result.cancelled:
        raise Cancelled("cancelled while hashing the rescued image")
    if result.error is not None:
        raise result.error
    if result.bytes_read != size or reader.errors.ranges:
        raise DestinationError(f"the rescued image {image} could not be read back whole")
    return digests, piecewise


def compare_windows(
    streamed: list[str],
    readback: list[str],
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


def resume_image(
    source: Path,
    image_path: Path,
    partial: Path,
    *,
    hashes: Sequence[str] = (),
    window: int,
    block_size: int,
    buffers: int,
    retries: int = 0,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    log: Log | None = None,
    publish: bool = True,
) -> ImagingResult:
    """Continue an interrupted acquisition from its rescue map, in the same image.

    Only bytes the map marks finished are trusted (the map is saved only after the
    image bytes it vouches for were synced); everything else is read again, bad areas
    through the usual passes. The digests are then those of the whole finished image,
    so they equal a fresh acquisition's. ``result.bytes`` is the source size; the log
    says how much was already there.
    """
    say = log or (lambda _msg: None)
    map_path = image_path.parent / MAP_NAME
    fd, info = open_source(source)
    started = time.monotonic()
    try:
        rmap = mapfile.load(map_path, info.size)
        keeper = MapKeeper(rmap, map_path, str(source))
        already = rmap.rescued
        say(
            f"resuming {info.path}: {already} of {info.size} bytes already copied; "
            f"{rmap.bytes_in(mapfile.BAD_SECTOR)} in bad sectors"
        )
        writer = RawSink(image_path, resume_from=partial)
    except BaseException:
        os.close(fd)
        raise
    reader = SourceReader(fd, info, cancel=cancel)
    outcome, error = "complete", None
    stats = RescueStats([])
    readback: dict[str, Any] | None = None
    digests: dict[str, Hasher] = {}
    piecewise = PiecewiseHasher(window)
    try:
        stats = Rescuer(
            reader, writer.fd, keeper, retries=retries, progress=progress, cancel=cancel, log=say
        ).run()
        os.ftruncate(writer.fd, info.size)  # a partial file shorter than the source
        reread = time.monotonic()
        digests, piecewise = _rehash(
            writer.part_path, hashes, window, info.size, block_size, buffers, progress, cancel
        )
        # no window was streamed through the hashers: all of them rest on the read-back
        readback = compare_windows(
            [], piecewise.finish(), [(0, info.size)], window, time.monotonic() - reread
        )
    except (KeyboardInterrupt, Cancelled):
        outcome, error = "cancelled", Cancelled(f"acquisition of {info.path} cancelled")
    except BaseException as exc:
        outcome, error = "failed", _as_custodyd_error(exc)
    finally:
        reader.close()
        os.close(fd)
    return _finish(
        info,
        writer,
        keeper,
        outcome,
        error,
        stats,
        digests,
        piecewise,
        window,
        started,
        say,
        bytes_read=info.size if outcome == "complete" else rmap.finished_prefix(),
        ended_early=False,
        durable_upto=None,  # every pwrite was synced before the map vouched for it
        publish=publish,
        readback=readback,
    )


_FAILED_AREAS = (mapfile.NON_TRIMMED, mapfile.NON_SCRAPED, mapfile.BAD_SECTOR)


def _with_read_errors(
    progress: ProgressCallback | None, keeper: MapKeeper
) -> ProgressCallback | None:
    """Progress reports that also say how many areas failed to read so far (live views)."""
    if progress is None:
        return None
    report = progress

    def counting(update: Progress) -> None:
        with keeper.lock:
            failed = [b for b in keeper.map.blocks if b.status in _FAILED_AREAS]
        report(
            dataclasses.replace(
                update,
                read_errors=len(failed),
                read_error_bytes=sum(b.size for b in failed),
            )
        )

    return counting
