"""Reading an evidence image by media offset, whatever its format (raw or E01).

``open_image(path)`` gives an object with ``size``, ``read(offset, length)`` and
``close()`` (and is a context manager): the raw file through ``pread``, an E01
segment set through :class:`~custodyd.daemon.imaging.ewf.reader.EwfImage`, which
checks every chunk it decodes and raises ``BadChunk`` naming a damaged one. Partial
disclosure (``extract``) and anything else that reads *media* bytes use this, never
the files directly, so an E01 item reads the same as a raw one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from custodyd.daemon.errors import SourceError
from custodyd.daemon.imaging.ewf.layout import is_ewf
from custodyd.daemon.imaging.ewf.reader import BadChunk, EwfImage

__all__ = ["BadChunk", "EvidenceImage", "RawImage", "open_image"]


class EvidenceImage(Protocol):
    size: int

    def read(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...

    def __enter__(self) -> EvidenceImage: ...

    def __exit__(self, *exc: object) -> None: ...


class RawImage:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise SourceError(f"cannot open image {self.path}: {exc.strerror}") from None
        self.size = os.fstat(self._fd).st_size

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        out = bytearray()
        end = min(self.size, offset + length)
        while offset + len(out) < end:
            piece = os.pread(self._fd, end - offset - len(out), offset + len(out))
            if not piece:
                break
            out += piece
        return bytes(out)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RawImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_image(path: Path | str) -> EvidenceImage:
    """The media data of an evidence image file (``.E01`` and its segments, or raw)."""
    if is_ewf(path):
        try:
            return EwfImage(path)
        except OSError as exc:
            raise SourceError(f"cannot open E01 image {path}: {exc.strerror}") from None
    return RawImage(path)
