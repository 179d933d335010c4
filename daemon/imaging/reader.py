"""Reading a source: identity (size, sector sizes, model/serial) and sector-granular reads.

A block read that fails with EIO is retried one logical sector at a time; sectors
that stay unreadable are zero-filled and reported as :class:`BadRange` so the
manifest states exactly which bytes are not evidence. Reads go into caller-owned
buffers (``os.preadv``), so nothing is copied and memory stays flat.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import stat
import struct
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from custodyd.daemon.errors import Cancelled, SourceError
from custodyd.hardware import sysfs

BLKGETSIZE64 = 0x80081272
BLKSSZGET = 0x1268
BLKPBSZGET = 0x127B

# Each read call asks for at most this much: the kernel's asynchronous readahead then
# keeps the medium streaming while the pipeline works (one 16 MiB read waits for all of
# its I/O before the next is issued, measurably slower on a cold cache).
READ_CHUNK = 1024 * 1024

# Errors a failing medium reports for an unreadable sector.
MEDIA_ERRNOS = frozenset({errno.EIO, errno.ENODATA, errno.EILSEQ, errno.EBADMSG})


@dataclass
class SourceInfo:
    path: str
    size: int
    logical_sector_size: int = 512
    physical_sector_size: int = 512
    is_device: bool = False
    model: str | None = None
    serial: str | None = None
    device: str | None = None  # kernel name, e.g. "sda" / "loop3"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BadRange:
    """Bytes ``[offset, offset+length)`` that could not be read and were zero-filled."""

    offset: int
    length: int
    sector_size: int

    @property
    def start_sector(self) -> int:
        return self.offset // self.sector_size

    @property
    def sectors(self) -> int:
        return -(-self.length // self.sector_size)

    def to_dict(self) -> dict[str, int]:
        return {
            "offset": self.offset,
            "length": self.length,
            "start_sector": self.start_sector,
            "sectors": self.sectors,
            "sector_size": self.sector_size,
        }


@dataclass
class ErrorMap:
    """Unreadable ranges, merged when adjacent, in source order."""

    sector_size: int
    ranges: list[BadRange] = field(default_factory=list)

    def add(self, offset: int, length: int) -> None:
        last = self.ranges[-1] if self.ranges else None
        if last is not None and last.offset + last.length == offset:
            last.length += length
        else:
            self.ranges.append(BadRange(offset, length, self.sector_size))

    @property
    def bad_bytes(self) -> int:
        return sum(r.length for r in self.ranges)

    def to_list(self) -> list[dict[str, int]]:
        return [r.to_dict() for r in self.ranges]


def _device_identity(rdev: int) -> tuple[str | None, str | None, str | None]:
    """(kernel name, model, serial) of a block device, by :mod:`custodyd.hardware.sysfs` rules."""
    ident = sysfs.identity_of_rdev(rdev)
    if ident is None:
        return None, None, None
    model, serial = ident.model, ident.serial
    if ident.loop_backing_file is not None:
        model = model or "loop device"
        serial = serial or ident.loop_backing_file
    return ident.kernel_name, model, serial


def open_source(path: Path) -> tuple[int, SourceInfo]:
    """Open ``path`` read-only and describe it. Missing/unreadable -> :class:`SourceError`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SourceError(f"source {path} does not exist", source=str(path)) from None
    except PermissionError:
        raise SourceError(f"source {path} is not readable (permission denied)") from None
    except OSError as exc:
        raise SourceError(f"source {path} cannot be opened: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISBLK(st.st_mode):
            size = struct.unpack("Q", fcntl.ioctl(fd, BLKGETSIZE64, b"\0" * 8))[0]
            logical = struct.unpack("i", fcntl.ioctl(fd, BLKSSZGET, b"\0" * 4))[0]
            physical = struct.unpack("I", fcntl.ioctl(fd, BLKPBSZGET, b"\0" * 4))[0]
            if size == 0:
                # No medium in the drive, or a loop device whose file was detached:
                # sealing 0 bytes as evidence of it would be a silent lie.
                raise SourceError(
                    f"source {path} is a block device with no data (size 0): no medium "
                    "present, or it was detached",
                    source=str(path),
                )
            name, model, serial = _device_identity(st.st_rdev)
            info = SourceInfo(
                str(path), size, logical, physical or logical, True, model, serial, name
            )
        elif stat.S_ISREG(st.st_mode):
            info = SourceInfo(str(path), st.st_size)
        else:
            raise SourceError(f"source {path} is neither a block device nor a regular file")
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        return fd, info
    except BaseException:
        os.close(fd)
        raise


def pread_into(fd: int, view: memoryview, offset: int) -> int:
    """Fill ``view`` from ``offset``; returns bytes read (short only at end of source)."""
    done = 0
    length = len(view)
    while done < length:
        n = os.preadv(fd, [view[done:]], offset + done)
        if n == 0:
            break
        done += n
    return done


class SourceReader:
    """Reads blocks of an open source; media errors fall back to one-sector reads.

    On a block device the sector reads use a second ``O_DIRECT`` descriptor: a
    buffered read would fetch a whole page-cache page (often 4 KiB), so one bad
    512-byte sector would fail, and be reported as, eight.
    """

    def __init__(
        self,
        fd: int,
        info: SourceInfo,
        *,
        retries: int = 1,
        cancel: threading.Event | None = None,
    ) -> None:
        self.cancel = cancel  # checked between sector retries: a bad region can take long
        self.fd = fd
        self.info = info
        self.sector_size = info.logical_sector_size
        self.retries = retries
        self.errors = ErrorMap(self.sector_size)
        self._direct_fd: int | None = None
        self._bounce: mmap.mmap | None = None

    def close(self) -> None:
        if self._direct_fd is not None:
            os.close(self._direct_fd)
            self._direct_fd = None
        if self._bounce is not None:
            self._bounce.close()
            self._bounce = None

    def read(self, view: memoryview, offset: int) -> int:
        """Fill ``view`` from ``offset``; bad sectors are zero-filled and recorded.

        Returns the bytes placed in ``view`` (short only at the end of the source).
        """
        length = len(view)
        done = 0
        while done < length:
            try:
                n = os.preadv(self.fd, [view[done : done + READ_CHUNK]], offset + done)
            except OSError as exc:
                if exc.errno not in MEDIA_ERRNOS:
                    where = offset + done
                    raise SourceError(f"reading source at byte {where}: {exc.strerror}") from exc
                return done + self._read_sectors(view[done:], offset + done)
            if n == 0:
                return done
            done += n
        return done

    def _read_sector(self, chunk: memoryview, offset: int) -> int:
        if not self.info.is_device or len(chunk) != self.sector_size:
            return pread_into(self.fd, chunk, offset)
        if self._direct_fd is None:
            self._direct_fd = os.open(self.info.path, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC)
            self._bounce = mmap.mmap(-1, max(self.sector_size, mmap.PAGESIZE))
        assert self._bounce is not None
        bounce = memoryview(self._bounce)[: self.sector_size]
        try:
            n = os.preadv(self._direct_fd, [bounce], offset)
            chunk[:n] = bounce[:n]
        finally:
            bounce.release()
        return n

    def _read_sectors(self, view: memoryview, offset: int) -> int:
        sector = self.sector_size
        length = len(view)
        pos = 0
        while pos < length:
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled(f"cancelled while retrying sectors at byte {offset + pos}")
            # The first step ends at a sector boundary so later sectors are aligned.
            step = min(sector - (offset + pos) % sector, length - pos)
            chunk = view[pos : pos + step]
            got = -1
            for _attempt in range(self.retries + 1):
                try:
                    got = self._read_sector(chunk, offset + pos)
                    break
                except OSError as exc:
                    if exc.errno not in MEDIA_ERRNOS:
                        raise SourceError(
                            f"reading source at byte {offset + pos}: {exc.strerror}"
                        ) from exc
            if got < 0:
                chunk[:] = bytes(step)
                self.errors.add(offset + pos, step)
                got = step
            elif got < step:  # end of source
                return pos + got
            pos += got
        return pos
