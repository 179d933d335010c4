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
    def __init__(self, final_path: Path, *, resume_from: Path | None = None) -> None:
        """Create ``<name>.part``; with ``resume_from`` (a partial image kept by an
        interrupted acquisition) that file becomes the ``.part`` and is written on."""
        self.final_path = final_path
        self.part_path = final_path.with_name(final_path.name + ".part")
        self.incomplete_path = final_path.with_name(final_path.name + ".incomplete")
        flags = os.O_WRONLY | os.O_CLOEXEC
        try:
            if resume_from is None:
                self.fd = os.open(self.part_path, flags | os.O_CREAT | os.O_EXCL, 0o640)
            else:
                if resume_from != self.part_path:
                    os.rename(resume_from, self.part_path)
                    _fsync_dir(final_path.parent)
                self.fd = os.open(self.part_path, flags)
        except FileExistsError:
            raise DestinationError(f"{self.part_path} already exists") from None
        except OSError as exc:
            raise DestinationError(f"cannot open {self.part_path}: {exc.strerror}") from None
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

    def sync(self) -> None:
        """fsync what was written so far: a rescue map saved next may vouch for it."""
        try:
            os.fsync(self.fd)
        except OSError as exc:
            self._raise(exc)

    def finish(self) -> Path:
        """fsync, drop the cached pages (a verify then reads the disk), rename into place."""
        try:
            os.fsync(self.fd)
        except OSError as exc:
            self._raise(exc)
        with contextlib.suppress(OSError):
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(self.fd)
        self.closed = True
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
