"""Writing the raw image: ``<name>.part`` while running, the final name only on success.

A full destination raises :class:`DestinationFull`; :meth:`ImageWriter.abandon`
renames what was written to ``<name>.incomplete`` so nothing half-written looks
like a finished image. Written ranges are handed to the kernel for write-back as
the pass proceeds (``POSIX_FADV_DONTNEED`` starts write-back of dirty pages and
drops clean ones), so the final ``fsync`` has little left to do and the image does
not crowd the page cache.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from custodyd.daemon.errors import DestinationError, DestinationFull

FLUSH_EVERY = 64 * 1024 * 1024


class ImageWriter:
    def __init__(self, final_path: Path) -> None:
        self.final_path = final_path
        self.part_path = final_path.with_name(final_path.name + ".part")
        self.incomplete_path = final_path.with_name(final_path.name + ".incomplete")
        try:
            self.fd = os.open(
                self.part_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640
            )
        except FileExistsError:
            raise DestinationError(f"{self.part_path} already exists") from None
        except OSError as exc:
            raise DestinationError(f"cannot create {self.part_path}: {exc.strerror}") from None
        self.written = 0
        self._flushed = 0
        self.closed = False

    def write(self, view: memoryview) -> None:
        pos = 0
        length = len(view)
        while pos < length:
            try:
                n = os.write(self.fd, view[pos:])
            except OSError as exc:
                self._raise(exc)
            pos += n
            self.written += n
        if self.written - self._flushed >= FLUSH_EVERY:
            self._start_writeback()

    def _raise(self, exc: OSError) -> None:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DestinationFull(
                f"destination {self.final_path.parent} is full after {self.written} bytes",
                bytes_written=self.written,
            ) from None
        raise DestinationError(f"writing {self.part_path}: {exc.strerror}") from None

    def _start_writeback(self) -> None:
        with contextlib.suppress(OSError):
            os.posix_fadvise(
                self.fd, self._flushed, self.written - self._flushed, os.POSIX_FADV_DONTNEED
            )
        self._flushed = self.written

    def finish(self, *, publish: bool = True) -> Path:
        """fsync, drop the cached pages (a verify then reads the disk), rename into place.

        ``publish=False`` keeps the durable image under its ``.part`` name (and returns
        that path): the acquisition service renames it only once its database says the
        item is sealed, so a crash in between never leaves a final-named image behind.
        """
        try:
            os.fsync(self.fd)
        except OSError as exc:
            self._raise(exc)
        with contextlib.suppress(OSError):
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(self.fd)
        self.closed = True
        if not publish:
            return self.part_path
        os.rename(self.part_path, self.final_path)
        _fsync_dir(self.final_path.parent)
        return self.final_path

    def abandon(self) -> Path | None:
        """Keep what was written as ``.incomplete`` (never the final name)."""
        if not self.closed:
            with contextlib.suppress(OSError):
                os.fsync(self.fd)
            os.close(self.fd)
            self.closed = True
        if self.part_path.exists():
            os.rename(self.part_path, self.incomplete_path)
            _fsync_dir(self.final_path.parent)
            return self.incomplete_path
        return None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
