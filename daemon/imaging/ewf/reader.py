"""Reading EWF-E01 images: the media data by offset, chunk by chunk, with every check.

:class:`EwfImage` opens ``X.E01`` and the segments beside it (``X.E02``, ...),
walks each segment's section descriptors (checking their Adler-32 and that each
``next`` points forward), and keeps only the table locations in memory: a table's
entries are loaded when a chunk in it is wanted, so memory does not grow with the
medium. :meth:`EwfImage.chunk` returns a chunk's media data after checking it
(zlib's own Adler-32 trailer for a compressed chunk, the stored Adler-32 of a raw
one) and raises :class:`BadChunk` naming the chunk otherwise.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from isal import isal_zlib

from custodyd.daemon.errors import SourceError
from custodyd.daemon.imaging.ewf import layout
from custodyd.daemon.imaging.ewf.layout import (
    COMPRESSED_FLAG,
    DESCRIPTOR_SIZE,
    FILE_HEADER_SIZE,
    OFFSET_MASK,
    SIGNATURE,
    Volume,
)


class BadChunk(Exception):
    """A chunk whose stored data does not decode or does not match its checksum."""

    def __init__(self, index: int, offset: int, reason: str) -> None:
        super().__init__(f"chunk {index} (media offset {offset}): {reason}")
        self.index = index
        self.offset = offset
        self.reason = reason


def segment_paths(first: Path) -> list[Path]:
    """``X.E01`` and every consecutive ``X.E02``, ``X.E03``, ... that exists beside it
    (``X.E01.part``: the ``X.E0n.part`` segments of an image not yet published)."""
    tail = ".part" if first.name.endswith(".part") else ""
    base = first.with_name(first.name.removesuffix(tail))
    paths = [first]
    number = 2
    while True:
        segment = base.with_suffix("." + layout.segment_extension(number))
        candidate = segment.with_name(segment.name + tail)
        if not candidate.exists():
            return paths
        paths.append(candidate)
        number += 1


@dataclass
class _Table:
    first_chunk: int
    segment: int
    base: int
    section_offset: int  # where the table section starts
    data_end: int  # end of the chunk data the table points into
    count: int
    entries: list[int] | None = None


@dataclass
class EwfInfo:
    header: dict[str, str] = field(default_factory=dict)
    md5: str | None = None
    sha1: str | None = None
    errors: list[tuple[int, int]] = field(default_factory=list)  # (first sector, sectors)


class SegmentSource(Protocol):
    """One segment's bytes: a local file, or an object read with ranged GETs."""

    size: int

    def pread(self, length: int, offset: int) -> bytes: ...

    def close(self) -> None: ...


class _LocalSegment:
    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.size = os.fstat(self.fd).st_size

    def pread(self, length: int, offset: int) -> bytes:
        return os.pread(self.fd, length, offset)

    def close(self) -> None:
        os.close(self.fd)


class EwfImage:
    """Random and sequential access to the media data of an E01 segment set.

    ``sources`` replaces the local files: the segments in order (e.g. objects in a
    store), named by ``first`` and the names they carry."""

    def __init__(self, first: Path | str, sources: Sequence[SegmentSource] | None = None) -> None:
        self.path = Path(first)
        self.segments = (
            segment_paths(self.path)
            if sources is None
            else [
                self.path.with_suffix("." + layout.segment_extension(n + 1))
                for n in range(len(sources))
            ]
        )
        self._fds: list[SegmentSource] = []
        self._tables: list[_Table] = []
        self._starts: list[int] = []
        self.info = EwfInfo()
        self.volume: Volume | None = None
        try:
            for number, path in enumerate(self.segments, start=1):
                fd = _LocalSegment(path) if sources is None else sources[number - 1]
                self._fds.append(fd)
                self._scan(number - 1, fd, path, number)
        except BaseException:
            self.close()
            raise
        if self.volume is None:
            self.close()
            raise SourceError(f"{self.path}: no volume section")
        self.chunk_size: int = self.volume.sectors_per_chunk * self.volume.bytes_per_sector
        self.size: int = self.volume.sector_count * self.volume.bytes_per_sector
        self.chunk_count: int = sum(t.count for t in self._tables)
        self._starts = [t.first_chunk for t in self._tables]
        self._cache: tuple[int, bytes] | None = None
        self.url = str(self.path)  # what the inventory names it by

    is_ewf = True  # for readers of a store: decode and check, never hash the container

    def __enter__(self) -> EwfImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                fd.close()
        self._fds = []

    # -- structure ----------------------------------------------------------------------

    def _scan(self, index: int, fd: SegmentSource, path: Path, number: int) -> None:
        head = fd.pread(FILE_HEADER_SIZE, 0)
        if head[:8] != SIGNATURE:
            raise SourceError(f"{path} is not an EWF-E01 segment")
        (stored_number,) = struct.unpack_from("<H", head, 9)
        if stored_number != number:
            raise SourceError(f"{path} is segment {stored_number}, expected {number}")
        size = fd.size
        offset = FILE_HEADER_SIZE
        sectors_end = 0
        while True:
            d = layout.parse_descriptor(fd.pread(DESCRIPTOR_SIZE, offset), offset)
            if not d.checksum_ok:
                raise SourceError(f"{path}: section descriptor at {offset} fails its checksum")
            body_size = max(0, d.size - DESCRIPTOR_SIZE)
            if d.kind in ("done", "next"):
                return
            if d.kind == "sectors":
                sectors_end = offset + d.size
            elif d.kind in ("volume", "data", "disk") and self.volume is None:
                self.volume = Volume.parse(fd.pread(layout.VOLUME_SIZE, offset + DESCRIPTOR_SIZE))
            elif d.kind == "table":
                self._add_table(index, fd, d, sectors_end or offset)
            elif d.kind in ("header2", "header") and not self.info.header:
                raw = isal_zlib.decompress(fd.pread(body_size, offset + DESCRIPTOR_SIZE))
                self.info.header = layout.parse_header2(raw)
            elif d.kind in ("digest", "hash"):
                body = fd.pread(body_size, offset + DESCRIPTOR_SIZE)
                if (
                    layout.adler32(body[: len(body) - 4])
                    == struct.unpack_from("<I", body, len(body) - 4)[0]
                ):
                    if any(body[:16]):
                        self.info.md5 = body[:16].hex()
                    if d.kind == "digest" and any(body[16:36]):
                        self.info.sha1 = body[16:36].hex()
            elif d.kind == "error2":
                self.info.errors = layout.parse_error2(
                    fd.pread(body_size, offset + DESCRIPTOR_SIZE)
                )
            if d.next_offset <= offset or d.next_offset > size:
                raise SourceError(f"{path}: section at {offset} points to {d.next_offset}")
            offset = d.next_offset

    def _add_table(
        self, segment: int, fd: SegmentSource, d: layout.Descriptor, data_end: int
    ) -> None:
        header = fd.pread(layout.TABLE_HEADER_SIZE, d.offset + DESCRIPTOR_SIZE)
        count, base = struct.unpack_from("<I4xQ", header)
        first = sum(t.count for t in self._tables)
        self._tables.append(_Table(first, segment, base, d.offset, data_end, count))

    def _entries(self, table: _Table) -> list[int]:
        if table.entries is None:
            fd = self._fds[table.segment]
            size = layout.TABLE_HEADER_SIZE + 4 * table.count + 4
            body = fd.pread(size, table.section_offset + DESCRIPTOR_SIZE)
            try:
                _base, table.entries = layout.parse_table(body)
            except ValueError as exc:
                raise SourceError(f"{self.segments[table.segment]}: {exc}") from None
            for other in self._tables:  # keep one table's entries in memory at a time
                if other is not table:
                    other.entries = None
        return table.entries

    # -- chunks -------------------------------------------------------------------------

    def _locate(self, index: int) -> tuple[int, int, int, bool]:
        """(segment, absolute offset, stored size, compressed?) of chunk ``index``."""
        if not 0 <= index < self.chunk_count:
            raise IndexError(index)
        table = self._tables[bisect.bisect_right(self._starts, index) - 1]
        entries = self._entries(table)
        i = index - table.first_chunk
        start = (entries[i] & OFFSET_MASK) + table.base
        end = (
            (entries[i + 1] & OFFSET_MASK) + table.base if i + 1 < len(entries) else table.data_end
        )
        return table.segment, start, end - start, bool(entries[i] & COMPRESSED_FLAG)

    def chunk_length(self, index: int) -> int:
        return min(self.chunk_size, self.size - index * self.chunk_size)

    def stored_chunk(self, index: int) -> tuple[bytes, bool]:
        segment, offset, size, compressed = self._locate(index)
        return self._fds[segment].pread(size, offset), compressed

    def decode(self, index: int, stored: bytes, compressed: bool) -> bytes:
        """The media data of chunk ``index`` from its stored bytes; :class:`BadChunk` if bad."""
        want = self.chunk_length(index)
        where = index * self.chunk_size
        if compressed:
            try:
                data = isal_zlib.decompress(stored)
            except Exception as exc:  # isal_zlib.IsalError: a corrupt deflate stream
                raise BadChunk(index, where, f"does not inflate ({exc})") from None
        else:
            data, checksum = stored[:-4], stored[-4:]
            if len(checksum) < 4 or layout.adler32(data) != struct.unpack("<I", checksum)[0]:
                raise BadChunk(index, where, "Adler-32 mismatch")
        if len(data) < want:
            raise BadChunk(index, where, f"holds {len(data)} bytes, expected {want}")
        return data[:want]

    def chunk(self, index: int) -> bytes:
        return self.decode(index, *self.stored_chunk(index))

    def iter_stored(self, first: int = 0) -> Iterator[tuple[int, bytes, bool]]:
        """Every chunk's stored bytes in order, read a table's contiguous run at a time."""
        for table in self._tables:
            if table.first_chunk + table.count <= first:
                continue
            entries = self._entries(table)
            fd = self._fds[table.segment]
            start = max(0, first - table.first_chunk)
            batch = 256
            for i in range(start, table.count, batch):
                j = min(i + batch, table.count)
                lo = (entries[i] & OFFSET_MASK) + table.base
                hi = (entries[j] & OFFSET_MASK) + table.base if j < table.count else table.data_end
                span = fd.pread(hi - lo, lo)
                for k in range(i, j):
                    a = (entries[k] & OFFSET_MASK) + table.base - lo
                    b = (entries[k + 1] & OFFSET_MASK) + table.base - lo if k + 1 < j else len(span)
                    yield table.first_chunk + k, span[a:b], bool(entries[k] & COMPRESSED_FLAG)

    def read(self, offset: int, length: int) -> bytes:
        """Media bytes ``[offset, offset+length)`` (short at the end of the media)."""
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        end = min(self.size, offset + length)
        out = bytearray()
        pos = offset
        while pos < end:
            index = pos // self.chunk_size
            if self._cache is not None and self._cache[0] == index:
                data = self._cache[1]
            else:
                data = self.chunk(index)
                self._cache = (index, data)
            start = pos - index * self.chunk_size
            piece = data[start : start + (end - pos)]
            out += piece
            pos += len(piece)
        return bytes(out)
