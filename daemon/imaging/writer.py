"""Writing the raw image: ``<name>.part`` while running, the final name only on success.

A full destination raises :class:`DestinationFull`; :meth:`ImageWriter.abandon`
renames what was written to ``<name>.incomplete`` so nothing half-written looks
like a finished image.

The pipeline's blocks are page-aligned, so whole aligned blocks go to the disk with
``O_DIRECT`` (DMA from the block, no copy into the page cache, no write-back left
for the final ``fsync``): on this kind of disk a buffered 1 GiB copy costs 0.4-2.4 s
of kernel CPU in the write and its ``fsync``, a direct one 0.1-0.2 s (see README,
rescue figures). What cannot go direct (an unaligned tail, a destination that
refuses ``O_DIRECT`` such as some tmpfs or FUSE stores, the rescue passes' sector
writes through :attr:`fd`) is written buffered, and its ranges are handed to the
kernel for write-back as the pass proceeds (``POSIX_FADV_DONTNEED``), so the final
``fsync`` has little left to do and the image does not crowd the page cache.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from custodyd.daemon.durable import fsync_dir
from custodyd.daemon.errors import DestinationError, DestinationFull

FLUSH_EVERY = 64 * 1024 * 1024
# O_DIRECT needs offsets, lengths and memory aligned to the destination's logical
# block size; 4 KiB covers 512-byte and 4Kn disks (and the page-aligned buffers).
DIRECT_ALIGN = 4096


class ImageWriter:
    def __init__(self, final_path: Path, *, resume_from: Path | None = None) -> None:
        """Create ``<name>.part``; with ``resume_from`` (a partial image kept by an
        interrupted acquisition) that file becomes the ``.part`` and is written on.

        :attr:`fd` is the buffered descriptor (positional writes of the rescue passes,
        ``fsync``); sequential :meth:`write` calls use a second, ``O_DIRECT`` one
        when the destination takes it."""
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
        self.direct_fd: int | None = None
        try:
            self.direct_fd = os.open(self.part_path, flags | os.O_DIRECT)
        except OSError:  # the destination refuses O_DIRECT: everything buffered
            self.direct_fd = None

    def write(self, view: memoryview) -> None:
        """Append ``view`` (positional: the image is written in source order)."""
        length = len(view)
        pos = 0
        if self.direct_fd is not None and self.written % DIRECT_ALIGN == 0:
            aligned = length - length % DIRECT_ALIGN
            pos = self._write_direct(view[:aligned])
        while pos < length:
            n = self._pwrite(self.fd, view[pos:], self.written)
            pos += n
            self.written += n
        if self.written - self._flushed >= FLUSH_EVERY:
            self._start_writeback()

    def _write_direct(self, view: memoryview) -> int:
        """Write ``view`` with O_DIRECT; bytes written. A refusal (EINVAL: memory or a
        filesystem that does not align) turns direct writes off: the rest is buffered."""
        done = 0
        assert self.direct_fd is not None
        while done < len(view):
            try:
                n = self._pwrite(self.direct_fd, view[done:], self.written)
            except _DirectRefused:
                self._close_direct()
                break
            done += n
            self.written += n
            self._flushed = self.written  # nothing of it waits in the page cache
            if n % DIRECT_ALIGN:  # a short direct write leaves the offset unaligned
                self._close_direct()
                break
        return done

    def _pwrite(self, fd: int, view: memoryview, offset: int) -> int:
        try:
            n = os.pwrite(fd, view, offset)
        except OSError as exc:
            if exc.errno == errno.EINVAL and fd == self.direct_fd:
                raise _DirectRefused from None
            self._raise(exc)
        if n == 0:  # no progress: a full device that does not say ENOSPC
            self._raise(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        return n

    def _close_direct(self) -> None:
        if self.direct_fd is not None:
            os.close(self.direct_fd)
            self.direct_fd = None

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
        self._close_direct()
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
            self._close_direct()
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


class _DirectRefused(Exception):
    """An O_DIRECT write the destination refused (EINVAL); it is redone buffered."""
