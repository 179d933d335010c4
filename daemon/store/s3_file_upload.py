"""A local file that is still being written, streamed into one multipart upload as it grows.

Used for E01 segments going to S3: the E01 writer writes each segment front to back
into a local (sparse) file, but comes back to patch a few bytes behind itself (a
table group's ``sectors`` descriptor when the group closes; the volume section when
the source ended early). So the uploader is told, after each write, how far the file
is written and which offsets may still be patched: every whole part below the
written end that holds no such offset is uploaded at once (two at a time, read from
the file) and its disk space released (``FALLOC_FL_PUNCH_HOLE``); the first part
(the volume section) and the part under an open group wait. Local disk in use is
a few parts per segment, never the segment, and memory is the parts in flight.

Nothing appears under the key until :meth:`FileUpload.complete`; :meth:`abort`
drops the parts (no object).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from custodyd.daemon.errors import DestinationError
from custodyd.daemon.store.s3 import PART_SIZE, UPLOADS_IN_FLIGHT, S3Store, S3Url

_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def punch_hole(fd: int, offset: int, length: int) -> None:
    """Release the disk blocks of ``[offset, offset+length)`` (the file keeps its size;
    the range reads as zeros). Best effort: a file system without it keeps the bytes."""
    _libc.fallocate(
        fd,
        _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE,
        ctypes.c_long(offset),
        ctypes.c_long(length),
    )


class FileUpload:
    """One local file → one object, part by part while the file is written."""

    def __init__(
        self, store: S3Store, url: S3Url, path: Path, *, part_size: int = PART_SIZE
    ) -> None:
        self.store = store
        self.url = url
        self.path = path
        self.part_size = part_size
        self._etags: dict[int, str] = {}
        self._sent: set[int] = set()  # part indices submitted (0-based)
        self._low = 1  # every part below this one (but the first) is submitted
        self._inflight: list[Future[None]] = []
        self._pool = ThreadPoolExecutor(UPLOADS_IN_FLIGHT, thread_name_prefix="custodyd-s3-e01")
        self._fd = -1
        try:
            answer = store.s3.create_multipart_upload(Bucket=url.bucket, Key=url.key)
        except Exception as exc:
            self._pool.shutdown()
            raise DestinationError(f"cannot start the upload of {url}: {exc}") from None
        self.upload_id: str = answer["UploadId"]
        self.size = 0
        self.version_id: str | None = None

    def advance(self, written: int, held: Sequence[int] = ()) -> None:
        """Upload the whole parts below ``written`` that hold none of the ``held``
        offsets (still to be patched); the first part always waits for :meth:`complete`."""
        while self._low in self._sent:
            self._low += 1
        for index in range(self._low, written // self.part_size):
            if index in self._sent:
                continue
            lo, hi = index * self.part_size, (index + 1) * self.part_size
            if any(lo <= offset < hi for offset in held):
                continue
            self._send(index, lo, hi, release=True)

    def complete(self, size: int) -> str | None:
        """Upload what is left (the file is final, ``size`` bytes) and complete the object."""
        last = max(1, -(-size // self.part_size))
        for index in range(last):
            if index not in self._sent:
                lo = index * self.part_size
                self._send(index, lo, min(size, lo + self.part_size), release=False)
        self._drain()
        self._pool.shutdown()
        parts = [{"PartNumber": n + 1, "ETag": self._etags[n]} for n in range(last)]
        try:
            answer = self.store.s3.complete_multipart_upload(
                Bucket=self.url.bucket,
                Key=self.url.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": parts},
            )
        except Exception as exc:
            raise DestinationError(f"completing the upload of {self.url}: {exc}") from None
        finally:
            self._close()
        self.size = size
        self.version_id = answer.get("VersionId")
        return self.version_id

    def abort(self) -> None:
        for future in self._inflight:
            future.cancel()
        self._pool.shutdown(wait=True)
        self._inflight = []
        self._close()
        with contextlib.suppress(Exception):
            self.store.s3.abort_multipart_upload(
                Bucket=self.url.bucket, Key=self.url.key, UploadId=self.upload_id
            )

    def discard(self) -> None:
        """Abort the upload, or delete the object if it was completed (nothing locks it
        yet: an image whose acquisition did not complete is never left complete-looking)."""
        if self.version_id is None:
            self.abort()
            return
        with contextlib.suppress(Exception):
            self.store.s3.delete_object(
                Bucket=self.url.bucket, Key=self.url.key, VersionId=self.version_id
            )

    def _send(self, index: int, lo: int, hi: int, *, release: bool) -> None:
        while len(self._inflight) >= UPLOADS_IN_FLIGHT:
            self._inflight.pop(0).result()  # the first failed part's error
        self._sent.add(index)
        self._file()  # opened here, on the writer's thread, before any upload thread uses it
        self._inflight.append(self._pool.submit(self._upload, index, lo, hi, release))

    def _upload(self, index: int, lo: int, hi: int, release: bool) -> None:
        fd = self._fd
        data = os.pread(fd, hi - lo, lo)
        if len(data) != hi - lo:
            raise DestinationError(f"{self.path}: {len(data)} bytes at {lo}, expected {hi - lo}")
        try:
            answer = self.store.s3.upload_part(
                Bucket=self.url.bucket,
                Key=self.url.key,
                UploadId=self.upload_id,
                PartNumber=index + 1,
                Body=data,
            )
        except Exception as exc:
            raise DestinationError(f"uploading part {index + 1} of {self.url}: {exc}") from None
        self._etags[index] = answer["ETag"]
        if release:
            punch_hole(fd, lo, hi - lo)

    def _file(self) -> int:
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        return self._fd

    def _drain(self) -> None:
        while self._inflight:
            self._inflight.pop(0).result()

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
