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

from custodyd.daemon.durable import fsync_dir
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
                    fsync_dir(final_path.parent)  # why: the .part name must survive a crash
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
            if n == 0:  # no progress: a full device that does not say ENOSPC
                self._raise(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
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
            os.fsync(self.fd)  # why: the rescue map saved next vouches for these bytes
        except OSError as exc:
            self._raise(exc)

    def finish(self, *, publish: bool = True) -> Path:
        """fsync, drop the cached pages (a verify then reads the disk), rename into place.

        ``publish=False`` keeps the durable image under its ``.part`` name (and returns
        that path): the acquisition service renames it only once its database says the
        item is sealed, so a crash in between never leaves a final-named image behind.
        """
        try:
            # why: the image gets its final name only once every byte is on disk.
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
        try:
            fsync_dir(self.final_path.parent)  # why: the final name must survive a crash
        except OSError as exc:
            os.rename(self.final_path, self.part_path)  # not durable: not finished either
            self._raise(exc)
        return self.final_path

    def abandon(self) -> Path | None:
        """Keep what was written as ``.incomplete`` (never the final name)."""
        if not self.closed:
            # why: keep as much of the partial output as the disk takes; this runs on
            # the way out of an error that is already being reported, so a failing
            # fsync here (the same broken destination) must not replace it.
            with contextlib.suppress(OSError):
                os.fsync(self.fd)
            os.close(self.fd)
            self.closed = True
        if self.part_path.exists():
            os.rename(self.part_path, self.incomplete_path)
            try:
                # why: after a crash the partial output must not reappear as ``.part``,
                # which recovery would take for an acquisition that was still running.
                fsync_dir(self.final_path.parent)
            except OSError as exc:
                raise DestinationError(
                    f"kept {self.incomplete_path}, but its directory could not be synced: "
                    f"{exc.strerror}"
                ) from None
            return self.incomplete_path
        return None
