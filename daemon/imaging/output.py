"""Which image an acquisition writes (raw, or E01 with its options) and the sink that writes it.

Every sink is a pipeline consumer with the same life cycle: ``write(view)`` for
each block in source order, then ``finish(...)`` (the final name appears only
then) or ``abandon()`` (what was written is kept as ``.incomplete``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from custodyd.daemon.errors import InvalidInput
from custodyd.daemon.imaging.ewf import layout
from custodyd.daemon.imaging.ewf.writer import DEFAULT_SEGMENT_SIZE, MIN_SEGMENT_SIZE, E01Writer
from custodyd.daemon.imaging.reader import ErrorMap, SourceInfo
from custodyd.daemon.imaging.writer import ImageWriter

FORMATS = ("raw", "e01")
COMPRESSIONS = tuple(layout.COMPRESSION_LEVELS)
# What E01 stores itself (digest and hash sections): always computed for it.
E01_HASHES = ("md5", "sha1")

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str | int) -> int:
    """``1500M``, ``2G``, ``650MiB``, ``1048576`` -> bytes (binary units)."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not match:
        raise InvalidInput(f"size {text!r} is not a number with an optional K/M/G/T unit")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class ImageFormat:
    kind: str = "raw"
    compression: str = "fast"
    segment_size: int = DEFAULT_SEGMENT_SIZE

    def __post_init__(self) -> None:
        if self.kind not in FORMATS:
            raise InvalidInput(f"image format must be raw or e01, not {self.kind!r}")
        if self.compression not in COMPRESSIONS:
            raise InvalidInput(f"compression must be none, fast or best, not {self.compression!r}")
        if self.segment_size < MIN_SEGMENT_SIZE:
            raise InvalidInput(f"segment size must be at least {MIN_SEGMENT_SIZE} bytes (1M)")

    @classmethod
    def of(
        cls,
        kind: str | None,
        compression: str | None,
        segment_size: str | int | None,
        *,
        defaults: ImageFormat | None = None,
    ) -> ImageFormat:
        base = defaults or cls()
        return cls(
            (kind or base.kind).lower(),
            (compression or base.compression).lower(),
            parse_size(segment_size) if segment_size is not None else base.segment_size,
        )

    @property
    def image_name(self) -> str:
        return "image.E01" if self.kind == "e01" else "image.raw"

    @property
    def required_hashes(self) -> tuple[str, ...]:
        return E01_HASHES if self.kind == "e01" else ()

    def check_source_size(self, size: int, path: str) -> None:
        if self.kind == "e01" and size % layout.BYTES_PER_SECTOR:
            raise InvalidInput(
                f"{path} is {size} bytes, not whole 512-byte sectors: E01 cannot hold it "
                "exactly; acquire it with --format raw",
                source=path,
            )

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "raw":
            return {"format": "raw"}
        return {"format": "e01", "compression": self.compression, "segment_size": self.segment_size}


@dataclass
class ImageMetadata:
    """What an E01 header records about the acquisition."""

    case: str
    evidence_id: str
    examiner: str | None
    notes: str | None
    started: datetime
    version: str


@dataclass
class FinishInfo:
    hashes: dict[str, str]
    errors: ErrorMap


class ImageSink(Protocol):
    final_path: Path

    def write(self, view: memoryview) -> None: ...

    def finish(self, done: FinishInfo) -> Path: ...

    def abandon(self) -> Path | None: ...

    def details(self) -> dict[str, Any]: ...


class RawSink:
    def __init__(self, path: Path) -> None:
        self._writer = ImageWriter(path)
        self.final_path = path

    def write(self, view: memoryview) -> None:
        self._writer.write(view)

    def finish(self, done: FinishInfo) -> Path:
        return self._writer.finish()

    def abandon(self) -> Path | None:
        return self._writer.abandon()

    def details(self) -> dict[str, Any]:
        return {"format": "raw", "segments": [str(self.final_path)]}


class E01Sink:
    def __init__(
        self, path: Path, fmt: ImageFormat, source: SourceInfo, meta: ImageMetadata, now: datetime
    ) -> None:
        info = layout.CaseInfo(
            case_number=meta.case,
            evidence_number=meta.evidence_id,
            examiner=meta.examiner or "",
            notes=meta.notes or "",
            description=f"custodyd {meta.version} image of {source.path}",
            model=source.model or "",
            serial=source.serial or "",
            acquired=meta.started,
            system=now,
            version=meta.version,
        )
        self.fmt = fmt
        self._writer = E01Writer(
            path,
            media_size=source.size,
            info=info,
            compression=fmt.compression,
            segment_size=fmt.segment_size,
            media_type=layout.MEDIA_FIXED,
        )
        self.final_path = path

    def write(self, view: memoryview) -> None:
        self._writer.write(view)

    def finish(self, done: FinishInfo) -> Path:
        return self._writer.finish(
            md5=bytes.fromhex(done.hashes["md5"]),
            sha1=bytes.fromhex(done.hashes["sha1"]),
            bad_ranges=[(r.offset, r.length) for r in done.errors.ranges],
        )

    def abandon(self) -> Path | None:
        return self._writer.abandon()

    def details(self) -> dict[str, Any]:
        result = self._writer.result()
        return {
            **self.fmt.to_dict(),
            "segments": [str(p) for p in result.segments],
            "chunk_size": layout.CHUNK_SIZE,
            "chunks": result.chunks,
            "compressed_chunks": result.compressed_chunks,
            "stored_bytes": result.stored_bytes,
        }


def image_files(path: Path) -> list[Path]:
    """Every file of a finished image: the raw file, or an E01's segments in order."""
    from custodyd.daemon.imaging.ewf.reader import segment_paths

    return segment_paths(path) if path.suffix == ".E01" else [path]


def open_sink(
    fmt: ImageFormat,
    path: Path,
    source: SourceInfo,
    meta: ImageMetadata | None,
    now: datetime,
) -> ImageSink:
    if fmt.kind == "raw":
        return RawSink(path)
    if meta is None:
        raise InvalidInput("an E01 image needs the case metadata for its header")
    return E01Sink(path, fmt, source, meta, now)
