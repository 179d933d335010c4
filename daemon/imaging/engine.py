"""One acquisition pass: source -> raw image, BLAKE3 (+ requested digests), piecewise.

:func:`image_source` never leaves a file under the final image name unless the
whole pass succeeded: on cancel (``cancel`` event or Ctrl-C), a full destination
or any other failure, the partial output is kept as ``<image>.incomplete`` and the
returned :class:`ImagingResult` says so (``outcome`` and ``error``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custodyd.daemon.errors import Cancelled, CustodydError, SourceError
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
from custodyd.daemon.imaging.readback import BlockSource, HeadReadBack, compare_windows
from custodyd.daemon.imaging.readback import rehash as readback_of
from custodyd.daemon.imaging.reader import ErrorMap, SourceInfo, SourceReader, open_source
from custodyd.daemon.imaging.rescue import CopyReader, MapKeeper, Rescuer, RescueStats
from custodyd.daemon.item_files import MAP_NAME

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


@dataclass
class PassOutcome:
    """How a pass (fresh or resumed) ended and what it produced: what :func:`_finish`
    seals, or keeps as incomplete."""

    outcome: str  # complete | cancelled | failed
    error: CustodydError | None
    digests: dict[str, Hasher]
    piecewise: PiecewiseHasher
    bytes_read: int
    stats: RescueStats = field(default_factory=lambda: RescueStats([]))
    ended_early: bool = False
    # bytes of the image known to be written (a map saved on the way out vouches for
    # no more); None: every byte the map marks finished was synced before it said so
    durable_upto: int | None = None
    readback: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        return self.outcome == "complete"

    def stopped(self, exc: BaseException, info: SourceInfo) -> None:
        """The pass ended by ``exc`` (a cancel, Ctrl-C or a failure) after pass 1."""
        if isinstance(exc, (KeyboardInterrupt, Cancelled)):
            self.outcome, self.error = (
                "cancelled",
                Cancelled(f"acquisition of {info.path} cancelled"),
            )
        else:
            self.outcome, self.error = "failed", _as_custodyd_error(exc)


class Stopwatch:
    """Wall and process CPU time (every thread) of one phase, for the acquisition log:
    the CPU figure is what the phase costs on a shared machine, whatever the load."""

    def __init__(self) -> None:
        self.wall = time.monotonic()
        self.cpu = time.process_time()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.wall

    def __str__(self) -> str:
        return f"{self.seconds:.2f}s (process CPU {time.process_time() - self.cpu:.2f}s)"


def _close_source(fd: int) -> None:
    """Close the source; a medium that is gone (a FUSE server that died: ENOTCONN) may
    fail even that, which must not lose the map and the outcome saved after it."""
    with contextlib.suppress(OSError):
        os.close(fd)


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


@dataclass(frozen=True)
class HashPlan:
    """What every hashing pipeline of one acquisition uses: the extra digests, the
    piecewise window and the pipeline's blocks."""

    hashes: tuple[str, ...]
    window: int
    block_size: int
    buffers: int

    def consumers(self) -> tuple[list[tuple[str, Consumer]], dict[str, Hasher], PiecewiseHasher]:
        return hash_consumers(self.hashes, self.window)


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
    sink: Callable[[SourceInfo, Callable[[int, int], bool]], ImageSink] | None = None,
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
    replaces the local file with another consumer (an S3 multipart upload); it is
    given ``settled(pos, end)``, true once no rescue pass can write into that range, so
    it can hold back what it could not patch once sent; after rescue passes it is read
    back through its ``readback_source()``.
    """
    say = log or (lambda _msg: None)
    output = output or ImageFormat()
    hashes = [*hashes, *(h for h in output.required_hashes if h not in hashes)]
    fd, info = open_source(source)
    started = time.monotonic()
    keeper = MapKeeper(RescueMap.new(info.size), image_path.parent / MAP_NAME, str(source))
    reader = CopyReader(fd, info, keeper, cancel=cancel)
    try:
        output.check_source_size(info.size, info.path)
        writer: ImageSink = (
            sink(info, keeper.settled)
            if sink is not None
            else open_sink(output, image_path, info, metadata)
        )
        consumers, digests, piecewise = hash_consumers(hashes, window)
        consumers.append(("writer", _write_keeping_map(writer, keeper)))
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
        done = PassOutcome(
            outcome,
            error,
            digests,
            piecewise,
            result.bytes_read,
            ended_early=result.ended_early,
        )
        if outcome == "complete" and not keeper.map.finished:
            say(
                f"pass 1 left {info.size - keeper.map.rescued} bytes unread; "
                f"rescue passes follow (retries {retries})"
            )
            try:
                _rescue_in_place(
                    done,
                    info,
                    writer,
                    reader,
                    keeper,
                    HashPlan(tuple(hashes), window, block_size, buffers),
                    retries=retries,
                    progress=progress,
                    cancel=cancel,
                    say=say,
                )
            except BaseException as exc:
                done.stopped(exc, info)
    finally:
        reader.close()
        _close_source(fd)
    if done.outcome == "complete" and result.ended_early:
        say(f"source ended after {result.bytes_read} of {info.size} bytes")
    done.durable_upto = writer.written  # the reader marks bytes before the writer has them
    return _finish(info, writer, keeper, done, started=started, say=say, publish=publish)


def _write_keeping_map(writer: ImageSink, keeper: MapKeeper) -> Callable[[memoryview], None]:
    """Pass 1's writer consumer: write, and when the rescue map is due for saving,
    sync first — the map may only vouch for bytes that are on disk (or in the store)."""

    def write(view: memoryview) -> None:
        writer.write(view)
        if keeper.due():
            writer.sync()
            keeper.save(durable_upto=writer.written)

    return write


def _rescue_in_place(
    done: PassOutcome,
    info: SourceInfo,
    writer: ImageSink,
    reader: CopyReader,
    keeper: MapKeeper,
    plan: HashPlan,
    *,
    retries: int,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    say: Log,
) -> None:
    """Passes 2-5 into the image written by pass 1, then its digests: an E01 is
    rewritten once with the rescued sectors, a raw image is read back from the disk
    (the read-back is its verification: see :mod:`.readback`). Sets ``done``'s
    digests, windows, pass statistics and read-back verdict."""
    writer.sync()
    gaps = [(b.pos, b.size) for b in bad_ranges(keeper.map)]
    # The rescue rewrites windows in place: the streamed window digests stop
    # describing the file (the finished image is re-hashed below); those of
    # untouched windows are kept to verify the read-back against the source.
    streamed = done.piecewise.finish()
    done.piecewise = PiecewiseHasher(plan.window)
    head = None
    if isinstance(writer, RawSink):
        head = _head_read_back(writer.part_path, keeper.map, plan)
    try:
        done.stats = Rescuer(
            reader,
            writer.rescue_fd(),
            keeper,
            retries=retries,
            progress=progress,
            cancel=cancel,
            log=say,
            direct_fd=writer.direct_fd if isinstance(writer, RawSink) else None,
        ).run()
    except BaseException:
        if head is not None:
            head.stop()
        raise
    if isinstance(writer, E01Sink):
        say("rewriting the E01 image with the rescued sectors")
        done.digests, done.piecewise = writer.rebuild(
            gaps,
            plan.consumers,
            block_size=plan.block_size,
            buffers=plan.buffers,
            progress=progress,
            cancel=cancel,
        )
        return
    # a raw file is read back from the disk; an upload is completed and read back from
    # the store (``readback_source``: a pipeline block reader)
    image = writer.part_path if isinstance(writer, RawSink) else writer.readback_source()
    done.digests, done.piecewise, done.readback = _read_back(
        image, streamed, gaps, plan, info.size, head=head, progress=progress, cancel=cancel, say=say
    )


def _head_read_back(image: Path, rmap: RescueMap, plan: HashPlan) -> HeadReadBack:
    """Start reading back the image's settled head (before the first area the map
    does not mark finished) while the rescue passes run (:class:`HeadReadBack`)."""
    return HeadReadBack(
        image,
        plan.consumers(),
        rmap.finished_prefix(),
        block_size=plan.block_size,
        buffers=plan.buffers,
    ).start()


def _read_back(
    image: Path | BlockSource,
    streamed: list[str],
    gaps: list[tuple[int, int]],
    plan: HashPlan,
    size: int,
    *,
    head: HeadReadBack | None,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    say: Log,
) -> tuple[dict[str, Hasher], PiecewiseHasher, dict[str, Any]]:
    """Digests of the image read back from the disk (its ``head`` already read while
    the rescue passes ran), and its windows compared with those ``streamed`` from the
    source (all but the ``gaps`` later passes filled)."""
    watch = Stopwatch()
    if head is not None:
        digests, piecewise = head.finish(size, progress=progress, cancel=cancel)
    else:
        digests, piecewise = readback_of(
            image,
            plan.consumers(),
            size,
            block_size=plan.block_size,
            buffers=plan.buffers,
            progress=progress,
            cancel=cancel,
        )
    verdict = compare_windows(streamed, piecewise.finish(), gaps, plan.window, watch.seconds)
    where = "the disk" if isinstance(image, Path) else "the store"
    early = f" (the first {head.head} while the rescue passes ran)" if head is not None else ""
    say(f"read back {size} bytes from {where}{early}; the rest hashed after them in {watch}")
    return digests, piecewise, verdict


def _finish(
    info: SourceInfo,
    writer: ImageSink,
    keeper: MapKeeper,
    done: PassOutcome,
    *,
    started: float,
    say: Log,
    publish: bool = True,
) -> ImagingResult:
    """Seal the pass's output under its final name (``publish``; else it stays ``.part``
    for the caller), or keep it as ``.incomplete`` with a map that vouches only for
    synced bytes; report what is unreadable.

    An incomplete result never overstates: its piecewise digests are those of the
    windows complete in a partial raw file (not of bytes read or hashed but never
    written, nor of a partial last window; none for a partial E01, whose file size is
    not media bytes); the caller takes ``bytes`` from the file."""
    window = done.piecewise.window
    errors = ErrorMap(info.logical_sector_size)
    for bad in bad_ranges(keeper.map):
        if bad.status == mapfile.BAD_SECTOR or done.outcome == "complete":
            errors.add(bad.pos, bad.size)
    for bad in errors.ranges:
        say(
            f"unreadable: bytes {bad.offset}-{bad.offset + bad.length - 1} "
            f"(sectors {bad.start_sector}+{bad.sectors}) zero-filled"
        )
    final: Path | None = None
    if done.outcome == "complete":
        try:
            keeper.map.current_status = mapfile.DONE
            keeper.save()
            final = writer.finish(
                FinishInfo({name: h.hexdigest() for name, h in done.digests.items()}, errors),
                publish=publish,
            )
        except CustodydError as exc:
            done.outcome, done.error = "failed", exc
    complete = done.outcome == "complete"
    if not complete:
        final = writer.abandon()
        try:
            keeper.save(durable_upto=done.durable_upto)
        except CustodydError as exc:  # e.g. the full disk that ended the pass
            say(f"rescue map not updated ({exc.detail}); the previous map stays valid")
        detail = done.error.detail if done.error else ""
        say(f"{done.outcome}: {detail}; partial output kept as {final}")
    if complete:
        windows = done.piecewise.finish()
    elif isinstance(writer, RawSink) and final is not None:
        windows = done.piecewise.digests[: final.stat().st_size // window]
    else:
        windows = []
    return ImagingResult(
        source=info,
        outcome=done.outcome,
        bytes=done.bytes_read,
        hashes={name: h.hexdigest() for name, h in done.digests.items()},
        piecewise=windows,
        window=window,
        errors=errors,
        seconds=time.monotonic() - started,
        image_path=final,
        ended_early=done.ended_early,
        error=done.error,
        rescue=done.stats.passes,
        readback=done.readback if complete else None,
        image=writer.details() if complete else {},
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
    done = PassOutcome("complete", None, {}, PiecewiseHasher(window), info.size)
    plan = HashPlan(tuple(hashes), window, block_size, buffers)
    head: HeadReadBack | None = None
    try:
        head = _head_read_back(writer.part_path, rmap, plan)
        done.stats = Rescuer(
            reader,
            writer.fd,
            keeper,
            retries=retries,
            progress=progress,
            cancel=cancel,
            log=say,
            direct_fd=writer.direct_fd,
        ).run()
        os.ftruncate(writer.fd, info.size)  # a partial file shorter than the source
        # no window was streamed through the hashers: all of them rest on the read-back
        done.digests, done.piecewise, done.readback = _read_back(
            writer.part_path,
            [],
            [(0, info.size)],
            plan,
            info.size,
            head=head,
            progress=progress,
            cancel=cancel,
            say=say,
        )
    except BaseException as exc:
        if head is not None:
            head.stop()
        done.stopped(exc, info)
    finally:
        reader.close()
        _close_source(fd)
    if not done.complete:
        done.bytes_read = rmap.finished_prefix()
    # durable_upto None: every pwrite was synced before the map vouched for it
    return _finish(info, writer, keeper, done, started=started, say=say, publish=publish)


def resume_stream(
    source: Path,
    image_path: Path,
    start: int,
    sink: Callable[[SourceInfo, Callable[[int, int], bool]], ImageSink],
    *,
    hashes: Sequence[str] = (),
    window: int,
    block_size: int,
    buffers: int,
    retries: int = 0,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    log: Log | None = None,
) -> ImagingResult:
    """Continue an interrupted acquisition into a sink that cannot be patched behind
    itself (an S3 multipart upload kept open), from byte ``start``: the bytes before it
    are already stored (the sink was opened there); everything after is read again —
    the rest of pass 1 streamed into the sink, then the usual passes over the bad areas
    (the sink holds back what they fill in) — and the digests are those of the whole
    finished image read back from where it is stored (``readback_source``), so they
    equal a fresh acquisition's; no window rests on the source stream."""
    say = log or (lambda _msg: None)
    map_path = image_path.parent / MAP_NAME
    fd, info = open_source(source)
    started = time.monotonic()
    try:
        rmap = mapfile.load(map_path, info.size)
        if start < info.size:  # only the stored prefix is trusted: the rest is read again
            rmap.set(start, info.size - start, mapfile.NON_TRIED)
        rmap.current_pos, rmap.current_status, rmap.current_pass = start, mapfile.COPYING, 1
        keeper = MapKeeper(rmap, map_path, str(source))
        say(f"resuming {info.path} into its upload from byte {start} of {info.size}")
        writer = sink(info, keeper.settled)
    except BaseException:
        os.close(fd)
        raise
    reader = CopyReader(fd, info, keeper, cancel=cancel)
    done = PassOutcome("complete", None, {}, PiecewiseHasher(window), info.size)
    try:
        write = _write_keeping_map(writer, keeper)
        result = Pipeline([("writer", write)], block_size=block_size, buffers=buffers).run(
            lambda view, offset: reader.read(view, start + offset),
            info.size - start,
            progress=_with_read_errors(progress, keeper),
            cancel=cancel,
        )
        done.outcome, done.error = _pass_outcome(result, info)
        done.bytes_read = start + result.bytes_read
        done.ended_early = result.ended_early
        if done.complete:
            if not keeper.map.finished:
                writer.sync()
                done.stats = Rescuer(
                    reader,
                    writer.rescue_fd(),
                    keeper,
                    retries=retries,
                    progress=progress,
                    cancel=cancel,
                    log=say,
                ).run()
            done.digests, done.piecewise, done.readback = _read_back(
                writer.readback_source(),  # type: ignore[attr-defined]
                [],
                [(0, info.size)],
                HashPlan(tuple(hashes), window, block_size, buffers),
                info.size,
                head=None,
                progress=progress,
                cancel=cancel,
                say=say,
            )
    except BaseException as exc:
        done.stopped(exc, info)
    finally:
        reader.close()
        _close_source(fd)
    done.durable_upto = writer.written
    return _finish(info, writer, keeper, done, started=started, say=say, publish=False)


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
