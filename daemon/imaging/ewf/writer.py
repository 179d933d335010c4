"""Writing EWF-E01 segments as one more consumer of the acquisition pipeline's buffers.

Each block the pipeline hands over is cut into 4 MiB slices, and each slice into a
batch per worker thread, which stores every 32 KiB chunk deflated with ISA-L
(``isal.isal_zlib``: zlib format, so any zlib inflates it; it releases the GIL, so
the workers use every core) or, when that does not shrink it, raw with its
Adler-32 (:mod:`.chunks`). While the workers encode slice N+1, this thread adds
slice N's chunks to the table a batch at a time and hands their bytes to the
segment's file (:mod:`.segment_file`: staged, written with ``O_DIRECT``, one
``fsync`` when the segment is closed). ``write`` returns only when nothing refers
to the block any more (the pipeline reuses that buffer): memory stays at a few
slices of output whatever the medium's size.

Segments are written as ``image.E01.part``, ``image.E02.part``, ... and renamed to
their final names only by :meth:`E01Writer.finish`, after the closing sections
(``error2``, ``digest``, ``hash``, ``done``) are written and every segment is on
disk; :meth:`E01Writer.abandon` renames them ``.incomplete`` instead. A segment
never grows past ``segment_size``: before a chunk is added, room for it, its
table entries and the closing sections is checked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate, chain
from pathlib import Path

from isal import isal_zlib

from custodyd.daemon.durable import fsync_dir
from custodyd.daemon.errors import DestinationError, DestinationFull, InvalidInput
from custodyd.daemon.imaging.ewf import layout
from custodyd.daemon.imaging.ewf.chunks import Batch, encode
from custodyd.daemon.imaging.ewf.layout import (
    CHUNK_SIZE,
    COMPRESSED_FLAG,
    DESCRIPTOR_SIZE,
    MAX_TABLE_ENTRIES,
    OFFSET_MASK,
    CaseInfo,
    Volume,
)
from custodyd.daemon.imaging.ewf.segment_file import SegmentFile

MiB = 1024 * 1024
DEFAULT_SEGMENT_SIZE = 1500 * MiB
MIN_SEGMENT_SIZE = 1 * MiB
# ISA-L levels: 1 is its fast general level (faster than 0 on incompressible data,
# measured), 3 its strongest.
ISAL_LEVELS = {"fast": 1, "best": 3}
# error2 (header, up to ~400 ranges, footer) + digest + hash + done, kept free in
# every segment so the last one never has to grow past the segment size.
TAIL_RESERVE = 4096

SLICE = 4 * MiB  # encoded while the slice before it is written


@dataclass
class _Segment:
    number: int
    part: Path
    final: Path
    file: SegmentFile | None
    offset: int = 0
    chunks: int = 0
    volume_offset: int = 0  # where its volume/data section body starts


@dataclass
class _Group:
    """One sectors/table/table2 group being filled."""

    start: int
    entries: list[int] = field(default_factory=list)


@dataclass
class E01Result:
    first: Path
    segments: list[Path]
    chunks: int
    compressed_chunks: int
    stored_bytes: int


class E01Writer:
    """Consumer writing an E01 image of ``media_size`` bytes (a multiple of 512)."""

    def __init__(
        self,
        first_path: Path,
        *,
        media_size: int,
        info: CaseInfo,
        compression: str = "fast",
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        workers: int | None = None,
        media_type: int = layout.MEDIA_FIXED,
    ) -> None:
        if compression not in layout.COMPRESSION_LEVELS:
            raise InvalidInput(f"compression must be none, fast or best, not {compression!r}")
        if segment_size < MIN_SEGMENT_SIZE:
            raise InvalidInput(f"segment size must be at least {MIN_SEGMENT_SIZE} bytes")
        if media_size % layout.BYTES_PER_SECTOR:
            raise InvalidInput(
                f"E01 stores whole 512-byte sectors; {media_size} bytes is not a multiple of 512"
            )
        self.first_path = first_path
        self.final_path = first_path
        self.media_size = media_size
        self.info = info
        self.compression = compression
        self.level = ISAL_LEVELS.get(compression)
        self.segment_size = segment_size
        self.volume = Volume(
            chunk_count=-(-media_size // CHUNK_SIZE),
            sector_count=media_size // layout.BYTES_PER_SECTOR,
            media_type=media_type,
            compression_level=layout.COMPRESSION_LEVELS[compression],
            guid=uuid.uuid4().bytes,
        )
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="custodyd-e01")
        self._segments: list[_Segment] = []
        self._group: _Group | None = None
        self._iov: list[bytes | memoryview] = []
        self._carry = bytearray()
        self._encode_lock = threading.Lock()
        self.encode_cpu_seconds = 0.0  # CPU the worker threads spent encoding chunks
        self.media_written = 0
        self.chunks = 0
        self.compressed_chunks = 0
        self.stored_bytes = 0
        self.closed = False
        self._open_segment()

    # -- the pipeline side ------------------------------------------------------------

    def write(self, view: memoryview) -> None:
        """Take one block in source order; returns once nothing refers to ``view``.

        The block is cut into slices; while the workers compress slice k+1, this
        thread writes slice k. Everything is written before returning, since raw
        chunks are written straight from ``view``.
        """
        self.media_written += len(view)
        if self._carry:
            take = min(CHUNK_SIZE - len(self._carry), len(view))
            self._carry += view[:take]
            view = view[take:]
            if len(self._carry) == CHUNK_SIZE:
                self._store(self._encode(memoryview(bytes(self._carry))))
                self._carry.clear()
        whole = len(view) - len(view) % CHUNK_SIZE
        slices = [view[i : min(i + SLICE, whole)] for i in range(0, whole, SLICE)]
        inflight: list[list[Future[Batch]]] = []
        try:
            for piece in slices[:2]:
                inflight.append(self._submit(piece))
            for k in range(len(slices)):
                done = [f.result() for f in inflight.pop(0)]
                if k + 2 < len(slices):
                    inflight.append(self._submit(slices[k + 2]))
                for batch in done:
                    self._store(batch)
                self._drain()
        finally:  # on an error, still never return while a worker reads view
            for futures in inflight:
                for f in futures:
                    f.cancel()
                    with contextlib.suppress(BaseException):
                        f.result()
        if whole < len(view):
            self._carry += view[whole:]

    def _encode(self, body: memoryview) -> Batch:
        started = time.thread_time()
        batch = encode(body, self.level, skip_random=self.compression == "fast")
        with self._encode_lock:
            self.encode_cpu_seconds += time.thread_time() - started
        return batch

    def _submit(self, body: memoryview) -> list[Future[Batch]]:
        chunks = -(-len(body) // CHUNK_SIZE)
        per_task = max(1, -(-chunks // self.workers))
        step = per_task * CHUNK_SIZE
        return [
            self._pool.submit(self._encode, body[i : i + step]) for i in range(0, len(body), step)
        ]

    def _store(self, batch: Batch) -> None:
        """Add a batch of encoded chunks: all at once when the whole batch fits in the
        current table group and segment (the usual case), else chunk by chunk."""
        group, seg = self._group, self._segment()
        assert group is not None
        n = len(batch.sizes)
        entries = len(group.entries) + n
        end = seg.offset + batch.stored
        reserve = 2 * layout.table_size(entries) + DESCRIPTOR_SIZE + TAIL_RESERVE
        if not (
            seg.chunks
            and entries <= MAX_TABLE_ENTRIES
            and end - group.start <= OFFSET_MASK
            and end + reserve <= self.segment_size
        ):
            for parts, compressed in zip(batch.chunks, batch.compressed, strict=True):
                self._add_chunk(parts, compressed)
            return
        offsets = accumulate(batch.sizes[:-1], initial=seg.offset - group.start)
        group.entries.extend(
            offset | COMPRESSED_FLAG if compressed else offset
            for offset, compressed in zip(offsets, batch.compressed, strict=True)
        )
        self._iov.extend(chain.from_iterable(batch.chunks))
        seg.offset = end
        seg.chunks += n
        self.chunks += n
        self.stored_bytes += batch.stored
        self.compressed_chunks += batch.deflated

    # -- sections -----------------------------------------------------------------------

    def _segment(self) -> _Segment:
        return self._segments[-1]

    def _open_segment(self) -> None:
        number = len(self._segments) + 1
        final = self.first_path.with_suffix("." + layout.segment_extension(number))
        part = final.with_name(final.name + ".part")
        try:
            file = SegmentFile(part)
        except FileExistsError:
            raise DestinationError(f"{part} already exists") from None
        except OSError as exc:
            raise DestinationError(f"cannot create {part}: {exc.strerror}") from None
        seg = _Segment(number, part, final, file)
        self._segments.append(seg)
        self._emit(layout.file_header(number))
        if number == 1:
            header2 = isal_zlib.compress(layout.header2_text(self.info), 1)
            self._section("header2", header2)
            self._section("header2", header2)
            self._section("header", isal_zlib.compress(layout.header_text(self.info), 1))
            seg.volume_offset = seg.offset + DESCRIPTOR_SIZE
            self._section("volume", self.volume.pack())
        else:
            seg.volume_offset = seg.offset + DESCRIPTOR_SIZE
            self._section("data", self.volume.pack())
        self._group = _Group(seg.offset)
        self._emit(bytes(DESCRIPTOR_SIZE))  # the sectors descriptor, filled in on close

    def _section(self, kind: str, body: bytes) -> None:
        offset = self._segment().offset
        self._emit(layout.descriptor(kind, offset, DESCRIPTOR_SIZE + len(body)))
        self._emit(body)

    def _emit(self, data: bytes | memoryview) -> None:
        self._iov.append(data)
        self._segment().offset += len(data)

    def _add_chunk(self, parts: tuple[bytes | memoryview, ...], compressed: bool) -> None:
        group = self._group
        assert group is not None
        seg = self._segment()
        size = sum(len(p) for p in parts)
        full = len(group.entries) >= MAX_TABLE_ENTRIES or (
            seg.offset + size - group.start > OFFSET_MASK
        )
        reserve = 2 * layout.table_size(len(group.entries) + 1) + DESCRIPTOR_SIZE + TAIL_RESERVE
        if seg.chunks and seg.offset + size + reserve > self.segment_size:
            self._close_group()
            self._close_segment(last=False)
            self._open_segment()
        elif full:
            self._close_group()
            self._group = _Group(seg.offset)
            self._emit(bytes(DESCRIPTOR_SIZE))
        group = self._group
        assert group is not None
        seg = self._segment()
        relative = seg.offset - group.start
        group.entries.append(relative | COMPRESSED_FLAG if compressed else relative)
        for part in parts:
            self._emit(part)
        seg.chunks += 1
        self.chunks += 1
        self.stored_bytes += size
        if compressed:
            self.compressed_chunks += 1

    def _close_group(self) -> None:
        group, seg = self._group, self._segment()
        assert group is not None
        self._drain()
        sectors = layout.descriptor("sectors", group.start, seg.offset - group.start)
        self._pwrite(seg, sectors, group.start)
        if group.entries:
            table = layout.table_section(group.entries, group.start)
            self._section("table", table)
            self._section("table2", table)
        self._group = None

    def _close_segment(self, *, last: bool, trailer: Sequence[tuple[str, bytes]] = ()) -> None:
        for kind, body in trailer:
            self._section(kind, body)
        seg = self._segment()
        kind = "done" if last else "next"
        self._emit(layout.descriptor(kind, seg.offset, 0, next_offset=seg.offset))
        self._drain()
        self._sync(seg)
        assert seg.file is not None
        seg.file.close()
        seg.file = None

    def sync(self) -> None:
        """Everything handed over so far is on disk (a rescue map saved next vouches for it)."""
        self._drain()
        self._sync(self._segment())

    # -- finishing ---------------------------------------------------------------------

    def finish(
        self,
        *,
        md5: bytes,
        sha1: bytes,
        bad_ranges: Sequence[tuple[int, int]] = (),
        publish: bool = True,
    ) -> Path:
        """Write the last chunk and the closing sections, sync, rename into place
        (``publish=False``: keep the ``.part`` names and return the first one; the
        acquisition service renames them once its database says sealed).

        ``bad_ranges`` are (byte offset, length) of unreadable, zero-filled source
        ranges; they become ``error2`` entries in sectors.
        """
        if (
            self._carry
        ):  # the last, shorter chunk: whole sectors (padded if the source ended mid-sector)
            pad = -len(self._carry) % layout.BYTES_PER_SECTOR
            self._carry += bytes(pad)
            self._store(self._encode(memoryview(bytes(self._carry))))
            self._carry.clear()
        self._drain()
        self._close_group()
        trailer: list[tuple[str, bytes]] = []
        if bad_ranges:
            trailer.append(("error2", layout.error2_section(_sector_ranges(bad_ranges))))
        trailer.append(("digest", layout.digest_section(md5, sha1)))
        trailer.append(("hash", layout.hash_section(md5)))
        self._close_segment(last=True, trailer=trailer)
        self._patch_volumes()
        self._pool.shutdown()
        self.closed = True
        if not publish:
            return self._segments[0].part
        for seg in self._segments:
            os.rename(seg.part, seg.final)
        fsync_dir(self.first_path.parent)
        return self.first_path

    def _patch_volumes(self) -> None:
        """When the source ended early, the geometry written up front is corrected."""
        sectors = -(-self.media_written // layout.BYTES_PER_SECTOR)
        if self.chunks == self.volume.chunk_count and sectors == self.volume.sector_count:
            return
        self.volume.chunk_count, self.volume.sector_count = self.chunks, sectors
        body = self.volume.pack()
        for seg in self._segments:
            fd = os.open(seg.part, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.pwrite(fd, body, seg.volume_offset)
                os.fsync(fd)
            finally:
                os.close(fd)

    def result(self) -> E01Result:
        return E01Result(
            first=self.first_path,
            segments=[s.final for s in self._segments],
            chunks=self.chunks,
            compressed_chunks=self.compressed_chunks,
            stored_bytes=sum(
                (s.final if s.final.exists() else s.part).stat().st_size for s in self._segments
            )
            if self.closed
            else 0,
        )

    def abandon(self) -> Path | None:
        """Keep what was written as ``.incomplete`` segments (never a final name)."""
        self._pool.shutdown(cancel_futures=True)
        if self._segments and self._segment().file is not None:
            with contextlib.suppress(OSError, DestinationError):
                self._drain()
        first: Path | None = None
        for seg in self._segments:
            if seg.file is not None:
                # why: keep as much of the partial output as the disk takes; this runs
                # on the way out of an error already being reported, so a failing sync
                # (the same broken destination) must not replace it.
                with contextlib.suppress(OSError):
                    seg.file.sync()
                seg.file.close()
                seg.file = None
            if seg.part.exists():
                target = seg.final.with_name(seg.final.name + ".incomplete")
                os.rename(seg.part, target)
                first = first or target
        self._iov = []
        fsync_dir(self.first_path.parent)
        self.closed = True
        return first

    # -- I/O ----------------------------------------------------------------------------

    def _drain(self) -> None:
        """Hand the queued buffers of the current segment to its file, in order."""
        seg = self._segment()
        iov, self._iov = self._iov, []
        assert seg.file is not None
        try:
            seg.file.append(iov)
        except OSError as exc:
            self._raise(exc)

    def _pwrite(self, seg: _Segment, data: bytes, offset: int) -> None:
        assert seg.file is not None
        try:
            seg.file.patch(data, offset)
        except OSError as exc:
            self._raise(exc)

    def _sync(self, seg: _Segment) -> None:
        assert seg.file is not None
        try:
            seg.file.sync()
        except OSError as exc:
            self._raise(exc)

    def _raise(self, exc: OSError) -> None:
        written = sum(s.offset for s in self._segments)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DestinationFull(
                f"destination {self.first_path.parent} is full after {written} bytes",
                bytes_written=written,
            ) from None
        raise DestinationError(f"writing {self._segment().part}: {exc.strerror}") from None


def _sector_ranges(bad_ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for offset, length in bad_ranges:
        first = offset // layout.BYTES_PER_SECTOR
        last = -(-(offset + length) // layout.BYTES_PER_SECTOR)
        out.append((first, last - first))
    return out
