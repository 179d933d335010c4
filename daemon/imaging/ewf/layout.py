"""The on-disk layout of EWF-E01 (Expert Witness, as EnCase 6 writes it): pack and parse.

Reimplemented from the published layout (libyal/libewf, "Expert Witness Compression
Format (EWF)" and its ``ewf_*.h`` structure descriptions); every integer is
little-endian and every checksum is Adler-32.

A segment file (``.E01``, ``.E02``, ...) is a 13-byte file header followed by
sections. Each section starts with a 76-byte descriptor (type, absolute offset of
the next section, size of this section including the descriptor, padding,
Adler-32 of the first 72 bytes). EnCase 6 order:

* first segment: ``header2`` twice, ``header``, ``volume``;
  later segments: ``data`` (a copy of ``volume``);
* then groups of ``sectors`` (the chunks), ``table`` and ``table2`` (identical
  lists of 32-bit chunk offsets relative to the group's base offset, the most
  significant bit set for a zlib-compressed chunk);
* ``next`` ends every segment but the last; the last ends with ``error2`` (only
  when sectors were unreadable), ``digest`` (MD5 + SHA-1), ``hash`` (MD5), ``done``.

A chunk is 32 KiB of media data (64 sectors of 512 bytes; the last one may be
shorter), stored either as a zlib stream (whose trailer is the Adler-32 of the
data) or, when compression would not make it smaller, raw followed by its
Adler-32.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime

SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"


EWF_FIRST_SEGMENT_SUFFIXES = (".e01", ".s01")


def is_ewf(path: str | os.PathLike[str]) -> bool:
    """Whether the file is the first segment of an EWF image: named as one (``.E01``)
    and starting with the EWF signature.

    The name is required, not only the content: a raw acquisition of a medium or file
    that itself holds an E01 container (``image.raw`` starting with the signature) is raw
    evidence, and must be hashed as the bytes it is, never decoded. Here, not in the
    reader: the verification of raw images asks this without loading the E01 decoder.
    """
    name = os.fspath(path).lower().removesuffix(".part")  # still being written: *.E01.part
    if not name.endswith(EWF_FIRST_SEGMENT_SUFFIXES):
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SIGNATURE)) == SIGNATURE
    except OSError:
        return False


FILE_HEADER_SIZE = 13
DESCRIPTOR_SIZE = 76
VOLUME_SIZE = 1052
TABLE_HEADER_SIZE = 24
ERROR2_HEADER_SIZE = 520
DIGEST_SIZE = 80
HASH_SIZE = 36

BYTES_PER_SECTOR = 512
SECTORS_PER_CHUNK = 64
CHUNK_SIZE = BYTES_PER_SECTOR * SECTORS_PER_CHUNK
# EnCase keeps at most this many chunk offsets in one table section.
MAX_TABLE_ENTRIES = 16375
COMPRESSED_FLAG = 0x80000000
OFFSET_MASK = 0x7FFFFFFF

MEDIA_FIXED = 0x01
MEDIA_REMOVABLE = 0x00
FLAG_IMAGE = 0x01
FLAG_PHYSICAL = 0x02

COMPRESSION_LEVELS = {"none": 0, "fast": 1, "best": 2}

_DESCRIPTOR = struct.Struct("<16sQQ40x")
_VOLUME = struct.Struct("<B3xIIIQIIIB3xIIIB3xII16s963x5x")
_TABLE_HEADER = struct.Struct("<I4xQ4x")


def adler32(data: bytes | bytearray | memoryview) -> int:
    return zlib.adler32(data) & 0xFFFFFFFF


def _with_checksum(body: bytes) -> bytes:
    return body + struct.pack("<I", adler32(body))


def file_header(segment_number: int) -> bytes:
    if not 1 <= segment_number <= 0xFFFF:
        raise ValueError(f"segment number {segment_number} out of range")
    return SIGNATURE + struct.pack("<BHH", 1, segment_number, 0)


def descriptor(kind: str, offset: int, size: int, *, next_offset: int | None = None) -> bytes:
    """A section descriptor at absolute ``offset`` of ``size`` bytes (descriptor included).

    ``next`` and ``done`` point at themselves with size 0, as EnCase writes them.
    """
    nxt = offset + size if next_offset is None else next_offset
    return _with_checksum(_DESCRIPTOR.pack(kind.encode("ascii"), nxt, size))


@dataclass
class Descriptor:
    kind: str
    offset: int
    next_offset: int
    size: int
    checksum_ok: bool


def parse_descriptor(data: bytes, offset: int) -> Descriptor:
    if len(data) < DESCRIPTOR_SIZE:
        raise ValueError(f"truncated section descriptor at offset {offset}")
    kind, nxt, size = _DESCRIPTOR.unpack_from(data)
    (stored,) = struct.unpack_from("<I", data, 72)
    return Descriptor(
        kind.rstrip(b"\x00").decode("ascii", "replace"),
        offset,
        nxt,
        size,
        adler32(data[:72]) == stored,
    )


@dataclass
class Volume:
    """The ``volume``/``data`` section: media geometry and how it was stored."""

    chunk_count: int
    sector_count: int
    bytes_per_sector: int = BYTES_PER_SECTOR
    sectors_per_chunk: int = SECTORS_PER_CHUNK
    media_type: int = MEDIA_FIXED
    media_flags: int = FLAG_IMAGE | FLAG_PHYSICAL
    compression_level: int = 1
    error_granularity: int = SECTORS_PER_CHUNK
    guid: bytes = bytes(16)

    def pack(self) -> bytes:
        body = _VOLUME.pack(
            self.media_type,
            self.chunk_count,
            self.sectors_per_chunk,
            self.bytes_per_sector,
            self.sector_count,
            0,
            0,
            0,
            self.media_flags,
            0,
            0,
            0,
            self.compression_level,
            self.error_granularity,
            0,
            self.guid,
        )
        return _with_checksum(body)

    @classmethod
    def parse(cls, data: bytes) -> Volume:
        if len(data) < VOLUME_SIZE:
            raise ValueError("truncated volume section")
        (
            media_type,
            chunks,
            spc,
            bps,
            sectors,
            _c,
            _h,
            _s,
            flags,
            _p,
            _u,
            _sm,
            level,
            gran,
            _u5,
            guid,
        ) = _VOLUME.unpack_from(data)
        (stored,) = struct.unpack_from("<I", data, VOLUME_SIZE - 4)
        if adler32(data[: VOLUME_SIZE - 4]) != stored:
            raise ValueError("volume section checksum mismatch")
        return cls(chunks, sectors, bps, spc, media_type, flags, level, gran, guid)


def table_section(entries: list[int], base_offset: int) -> bytes:
    """Table header + entries + Adler-32 of the entries (the section body)."""
    header = _with_checksum(_TABLE_HEADER.pack(len(entries), base_offset))
    array = struct.pack(f"<{len(entries)}I", *entries)
    return header + _with_checksum(array)


def table_size(entries: int) -> int:
    """Bytes of a whole table section (descriptor included) with ``entries`` offsets."""
    return DESCRIPTOR_SIZE + TABLE_HEADER_SIZE + 4 * entries + 4


def parse_table(body: bytes) -> tuple[int, list[int]]:
    """(base offset, entries) of a table section body; checksums checked."""
    if len(body) < TABLE_HEADER_SIZE:
        raise ValueError("truncated table header")
    count, base = _TABLE_HEADER.unpack_from(body)
    (stored,) = struct.unpack_from("<I", body, 20)
    if adler32(body[:20]) != stored:
        raise ValueError("table header checksum mismatch")
    end = TABLE_HEADER_SIZE + 4 * count
    if len(body) < end + 4:
        raise ValueError("truncated table entries")
    entries = list(struct.unpack_from(f"<{count}I", body, TABLE_HEADER_SIZE))
    (stored,) = struct.unpack_from("<I", body, end)
    if adler32(body[TABLE_HEADER_SIZE:end]) != stored:
        raise ValueError("table entries checksum mismatch")
    return base, entries


def error2_section(ranges: list[tuple[int, int]]) -> bytes:
    """Unreadable ranges as (first sector, number of sectors)."""
    header = _with_checksum(struct.pack("<I512x", len(ranges)))
    array = b"".join(struct.pack("<II", start, count) for start, count in ranges)
    return header + _with_checksum(array)


def parse_error2(body: bytes) -> list[tuple[int, int]]:
    (count,) = struct.unpack_from("<I", body)
    out = []
    for i in range(count):
        start, n = struct.unpack_from("<II", body, ERROR2_HEADER_SIZE + 8 * i)
        out.append((start, n))
    return out


def digest_section(md5: bytes, sha1: bytes) -> bytes:
    return _with_checksum(md5 + sha1 + bytes(40))


def hash_section(md5: bytes) -> bytes:
    return _with_checksum(md5 + bytes(16))


@dataclass
class CaseInfo:
    """What the ``header``/``header2`` sections say about the acquisition."""

    case_number: str
    evidence_number: str
    examiner: str
    notes: str
    description: str
    model: str
    serial: str
    acquired: datetime
    system: datetime
    version: str
    platform: str = "Linux"


def _clean(value: str | None) -> str:
    """Values are tab- and line-separated: those characters cannot be inside one."""
    return " ".join((value or "").replace("\t", " ").splitlines())


def header2_text(info: CaseInfo) -> bytes:
    """EnCase 5-7 ``header2``: UTF-16LE with a byte order mark, three categories."""
    values = [
        info.description,
        info.case_number,
        info.evidence_number,
        info.examiner,
        info.notes,
        info.model,
        info.serial,
        info.version[:11],
        info.platform[:23],
        str(int(info.acquired.timestamp())),
        str(int(info.system.timestamp())),
        "0",
        "",
    ]
    lines = [
        "3",
        "main",
        "a\tc\tn\te\tt\tmd\tsn\tav\tov\tm\tu\tp\tdc",
        "\t".join(_clean(v) for v in values),
        "",
        "srce",
        "0\t1",
        "p\tn\tid\tev\ttb\tlo\tpo\tah\tgu\taq",
        "0\t0",
        "\t\t\t\t\t-1\t-1\t\t\t",
        "",
        "sub",
        "0\t1",
        "p\tn\tid\tnu\tco\tgu",
        "0\t0",
        "\t\t\t\t1\t",
        "",
        "",
    ]
    return b"\xff\xfe" + "\n".join(lines).encode("utf-16-le")


def _header_date(dt: datetime) -> str:
    return f"{dt.year} {dt.month} {dt.day} {dt.hour} {dt.minute} {dt.second}"


def header_text(info: CaseInfo) -> bytes:
    """EnCase 4-6 ``header``: ASCII, CRLF lines, dates as "year month day h m s" (UTC)."""
    values = [
        info.case_number,
        info.evidence_number,
        info.description,
        info.examiner,
        info.notes,
        info.version[:11],
        info.platform[:23],
        _header_date(info.acquired),
        _header_date(info.system),
        "0",
    ]
    text = "\r\n".join(
        [
            "1",
            "main",
            "c\tn\ta\te\tt\tav\tov\tm\tu\tp",
            "\t".join(_clean(v) for v in values),
            "",
            "",
        ]
    )
    return text.encode("ascii", "replace")


def parse_header2(raw: bytes) -> dict[str, str]:
    """The ``main`` category of a ``header2`` (or ASCII ``header``) as identifier -> value."""
    if raw.startswith(b"\xff\xfe"):
        text = raw[2:].decode("utf-16-le", "replace")
    elif raw.startswith(b"\xfe\xff"):
        text = raw[2:].decode("utf-16-be", "replace")
    else:
        text = raw.decode("ascii", "replace")
    lines = text.replace("\r\n", "\n").split("\n")
    if len(lines) < 4:
        return {}
    return dict(zip(lines[2].split("\t"), lines[3].split("\t"), strict=False))


def segment_extension(number: int) -> str:
    """``E01`` .. ``E99``, then ``EAA`` .. ``EZZ``, ``FAA`` .. ``ZZZ``."""
    if number < 1:
        raise ValueError("segment numbers start at 1")
    if number <= 99:
        return f"E{number:02d}"
    n = number - 100
    first, rest = divmod(n, 26 * 26)
    if first > ord("Z") - ord("E"):
        raise ValueError(f"segment number {number} is beyond .ZZZ")
    second, third = divmod(rest, 26)
    return chr(ord("E") + first) + chr(ord("A") + second) + chr(ord("A") + third)
