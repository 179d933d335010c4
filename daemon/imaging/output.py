"""Which image an acquisition writes (raw, or E01 with its options) and the sink that writes it.

Every sink is a pipeline consumer with the same life cycle: ``write(view)`` for
each block in source order, then ``finish(...)`` (the final name appears only
then) or ``abandon()`` (what was written is kept as ``.incomplete``).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from custodyd.daemon.errors import Cancelled, DestinationError, InvalidInput
from custodyd.daemon.imaging.ewf import layout
from custodyd.daemon.imaging.ewf.reader import EwfImage
from custodyd.daemon.imaging.ewf.writer import DEFAULT_SEGMENT_SIZE, MIN_SEGMENT_SIZE, E01Writer
from custodyd.daemon.imaging.hashers import Hasher
from custodyd.daemon.imaging.piecewise import PiecewiseHasher
from custodyd.daemon.imaging.pipeline import Consumer, Pipeline
from custodyd.daemon.imaging.progress import ProgressCallback
from custodyd.daemon.imaging.reader import ErrorMap, SourceInfo
from custodyd.daemon.imaging.writer import ImageWriter

FORMATS = ("raw", "e01")
COMPRESSIONS = tuple(layout.COMPRESSION_LEVELS)
# E01 stores MD5 and SHA-1 itself (digest and hash sections); SHA-256 goes with BLAKE3
# into the manifest, since E01 has no place for it. All are computed for every E01.
E01_HASHES = ("md5", "sha1", "sha256")

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

    def sync(self) -> None: ...

    @property
    def written(self) -> int: ...

    def rescue_fd(self) -> int: ...

    def finish(self, done: FinishInfo, *, publish: bool = True) -> Path: ...

    def abandon(self) -> Path | None: ...

    def details(self) -> dict[str, Any]: ...


class RawSink:
    """The raw image (:class:`ImageWriter`); rescue passes write into it in place."""

    def __init__(self, path: Path, *, resume_from: Path | None = None) -> None:
        self._writer = ImageWriter(path, resume_from=resume_from)
        self.final_path = path

    @property
    def fd(self) -> int:
        return self._writer.fd

    @property
    def direct_fd(self) -> int | None:
        """The image opened ``O_DIRECT`` for aligned rescue writes (None: refused)."""
        return self._writer.direct_fd

    @property
    def part_path(self) -> Path:
        return self._writer.part_path

    @property
    def written(self) -> int:
        return self._writer.written

    def write(self, view: memoryview) -> None:
        self._writer.write(view)

    def sync(self) -> None:
        self._writer.sync()

    def rescue_fd(self) -> int:
        return self._writer.fd

    def finish(self, done: FinishInfo, *, publish: bool = True) -> Path:
        return self._writer.finish(publish=publish)

    def abandon(self) -> Path | None:
        return self._writer.abandon()

    def details(self) -> dict[str, Any]:
        return {"format": "raw", "segments": [str(self.final_path)]}


ConsumersFactory = Callable[
    [], tuple[list[tuple[str, Consumer]], dict[str, Hasher], PiecewiseHasher]
]


class E01Sink:
    """An E01 segment set (:class:`E01Writer`).

    Compressed chunks cannot be patched in place, so sectors recovered by the rescue
    passes go to a sparse side file (``rescue_fd``); :meth:`rebuild` then writes the
    E01 once more from the first one with those sectors laid over it, hashing the
    result, and removes the first one and the side file.
    """

    def __init__(
        self, path: Path, fmt: ImageFormat, source: SourceInfo, meta: ImageMetadata
    ) -> None:
        self.info = layout.CaseInfo(
            case_number=meta.case,
            evidence_number=meta.evidence_id,
            examiner=meta.examiner or "",
            notes=meta.notes or "",
            description=f"custodyd {meta.version} image of {source.path}",
            model=source.model or "",
            serial=source.serial or "",
            acquired=meta.started,
            system=meta.started,
            version=meta.version,
        )
        self.fmt = fmt
        self.size = source.size
        self.final_path = path
        self._writer = self._new_writer()
        self._patch_path = path.with_name(path.name + ".rescue.part")
        self._patch_fd = -1
        self._scratch: list[Path] = []

    def _new_writer(self) -> E01Writer:
        return E01Writer(
            self.final_path,
            media_size=self.size,
            info=self.info,
            compression=self.fmt.compression,
            segment_size=self.fmt.segment_size,
            media_type=layout.MEDIA_FIXED,
        )

    @property
    def written(self) -> int:
        return self._writer.media_written

    @property
    def encode_cpu_seconds(self) -> float:
        return self._writer.encode_cpu_seconds

    def write(self, view: memoryview) -> None:
        self._writer.write(view)

    def sync(self) -> None:
        self._writer.sync()

    def rescue_fd(self) -> int:
        if self._patch_fd < 0:
            try:
                fd = os.open(
                    self._patch_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640
                )
                os.ftruncate(fd, self.size)  # sparse: unrecovered sectors read as zeros
            except OSError as exc:
                raise DestinationError(
                    f"cannot create {self._patch_path}: {exc.strerror}"
                ) from None
            self._patch_fd = fd
        return self._patch_fd

    def rebuild(
        self,
        gaps: list[tuple[int, int]],
        consumers: ConsumersFactory,
        *,
        block_size: int,
        buffers: int,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
    ) -> tuple[dict[str, Hasher], PiecewiseHasher]:
        """Rewrite the E01 with the rescued sectors; the digests of the final media data."""
        first = self._writer
        first.finish(md5=bytes(16), sha1=bytes(20))
        for segment in first.result().segments:
            scratch = segment.with_name("pass1" + segment.suffix)
            os.rename(segment, scratch)
            self._scratch.append(scratch)
        self._writer = self._new_writer()
        stages, digests, piecewise = consumers()
        stages.append(("writer", self._writer.write))
        patch = self._patch_fd
        with EwfImage(self._scratch[0]) as old:

            def read(view: memoryview, offset: int) -> int:
                data = old.read(offset, len(view))
                view[: len(data)] = data
                end = offset + len(data)
                for pos, size in gaps:
                    lo, hi = max(pos, offset), min(pos + size, end)
                    if lo < hi:
                        piece = os.pread(patch, hi - lo, lo)
                        view[lo - offset : lo - offset + len(piece)] = piece
                return len(data)

            result = Pipeline(stages, block_size=block_size, buffers=buffers).run(
                read, self.size, progress=progress, phase="rescue: rewriting E01", cancel=cancel
            )
        if result.cancelled:
            raise Cancelled("cancelled while rewriting the rescued E01 image")
        if result.error is not None:
            raise result.error
        if result.bytes_read != self.size:
            raise DestinationError(f"the first E01 image ended at {result.bytes_read} bytes")
        self._drop_side_files()
        return digests, piecewise

    def _drop_side_files(self) -> None:
        if self._patch_fd >= 0:
            os.close(self._patch_fd)
            self._patch_fd = -1
        for path in [*self._scratch, self._patch_path]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._scratch = []

    def finish(self, done: FinishInfo, *, publish: bool = True) -> Path:
        return self._writer.finish(
            md5=bytes.fromhex(done.hashes["md5"]),
            sha1=bytes.fromhex(done.hashes["sha1"]),
            bad_ranges=[(r.offset, r.length) for r in done.errors.ranges],
            publish=publish,
        )

    def abandon(self) -> Path | None:
        """The segments written so far are kept as ``.incomplete``; the side files of a
        rescue (a first, zero-filled E01 and the recovered sectors) are removed, so no
        complete-looking image is left behind."""
        kept = self._writer.abandon()
        self._drop_side_files()
        return kept

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
    """Every file of a finished image: the raw file, or an E01's segments in order
    (``image.E01.part`` -> its ``.part`` segments, before the image is published)."""
    from custodyd.daemon.imaging.ewf.reader import segment_paths

    return segment_paths(path) if path.name.removesuffix(".part").endswith(".E01") else [path]


def open_sink(
    fmt: ImageFormat, path: Path, source: SourceInfo, meta: ImageMetadata | None
) -> ImageSink:
    if fmt.kind == "raw":
        return RawSink(path)
    if meta is None:
        raise InvalidInput("an E01 image needs the case metadata for its header")
    return E01Sink(path, fmt, source, meta)
