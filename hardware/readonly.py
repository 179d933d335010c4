"""The kernel read-only flag of a block device: ``BLKROGET``/``BLKROSET`` and sysfs.

``BLKROSET`` makes the kernel refuse every write to the block device (and, set
on each partition too, to its partitions), whoever opens it. Setting it needs
CAP_SYS_ADMIN. The device node is opened ``O_RDONLY`` for the ioctl: a
read-only open never writes and does not make udev's inotify watch synthesize a
``change`` event on close.

Note: on Linux the flag set by ``BLKROSET`` survives a loop device's detach; the
caller that set it on a loop device should clear it once the loop is empty again.
"""

from __future__ import annotations

import array
import fcntl
import os
import struct
from pathlib import Path

# From <linux/fs.h>: _IO(0x12, 93) and _IO(0x12, 94).
BLKROSET = 0x125D
BLKROGET = 0x125E

SYS_CLASS_BLOCK = Path("/sys/class/block")


def get_ro(devnode: str | os.PathLike[str]) -> bool:
    """The kernel read-only flag through ``BLKROGET`` (raises ``OSError``)."""
    fd = os.open(devnode, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        buf = array.array("i", [0])
        fcntl.ioctl(fd, BLKROGET, buf, True)
        return bool(buf[0])
    finally:
        os.close(fd)


def set_ro(devnode: str | os.PathLike[str], read_only: bool = True) -> None:
    """Set (or clear) the kernel read-only flag through ``BLKROSET`` (raises ``OSError``)."""
    fd = os.open(devnode, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, BLKROSET, struct.pack("i", 1 if read_only else 0))
    finally:
        os.close(fd)


def sysfs_ro(kernel_name: str) -> bool | None:
    """``/sys/class/block/X/ro`` (None when the device is gone)."""
    try:
        return (SYS_CLASS_BLOCK / kernel_name / "ro").read_text().strip() == "1"
    except OSError:
        return None


def partitions_of(kernel_name: str) -> list[str]:
    """Kernel names of the partitions of a whole disk (from sysfs)."""
    disk = SYS_CLASS_BLOCK / kernel_name
    try:
        return sorted(p.name for p in disk.resolve().iterdir() if (p / "partition").exists())
    except OSError:
        return []


def set_ro_with_partitions(kernel_name: str, devnode: str) -> list[str]:
    """Set the disk and each of its partitions read-only; return the nodes changed.

    Each partition has its own flag on Linux >= 5.11, so the whole disk alone
    is not enough. Raises ``OSError`` when the disk itself could not be set.
    """
    set_ro(devnode, True)
    done = [devnode]
    for part in partitions_of(kernel_name):
        node = f"/dev/{part}"
        try:
            set_ro(node, True)
            done.append(node)
        except OSError:
            if not os.path.exists(node):
                continue
            raise
    return done


def is_read_only(devnode: str, kernel_name: str) -> bool:
    """True when the kernel refuses writes: ``BLKROGET`` or, failing that, sysfs."""
    try:
        return get_ro(devnode)
    except OSError:
        return bool(sysfs_ro(kernel_name))
