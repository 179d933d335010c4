"""Which block devices belong to this machine and must never be touched.

A disk is a *system disk* when it (or one of its partitions, or anything
stacked on them: LVM, dm-crypt, md RAID) holds a mounted filesystem or active
swap — which covers ``/`` and ``/boot`` — or the data directory. System disks
are never set read-only, never acquired automatically, never listed as media.

``media_allow`` / ``media_deny`` (plain lists; this module knows nothing of the
daemon's settings) name devices by serial, WWN, by-id/by-path link (full path
or basename), kernel name or node. Deny wins over everything; allow only lifts
the "mounted" rule for a device an operator deliberately wants to see (never
for the disk holding ``/`` or the data directory).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from custodyd.hardware.device import IGNORED_PREFIXES, BlockDevice

SYS_DEV_BLOCK = Path("/sys/dev/block")


def _mounted_devnums(mountinfo: Path = Path("/proc/self/mountinfo")) -> set[tuple[int, int]]:
    nums: set[tuple[int, int]] = set()
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return nums
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and ":" in fields[2]:
            major, minor = fields[2].split(":", 1)
            nums.add((int(major), int(minor)))
    return nums


def _swap_devnums() -> set[tuple[int, int]]:
    nums: set[tuple[int, int]] = set()
    try:
        lines = Path("/proc/swaps").read_text().splitlines()[1:]
    except OSError:
        return nums
    for line in lines:
        name = line.split()[0] if line.split() else ""
        try:
            st = os.stat(name)
        except OSError:
            continue
        if name.startswith("/dev/"):
            nums.add((os.major(st.st_rdev), os.minor(st.st_rdev)))
        else:  # a swap file: its filesystem's device
            nums.add((os.major(st.st_dev), os.minor(st.st_dev)))
    return nums


def _disks_under(devnum: tuple[int, int]) -> set[str]:
    """Kernel names of the whole disks a device lives on (through partitions and stacks)."""
    start = SYS_DEV_BLOCK / f"{devnum[0]}:{devnum[1]}"
    try:
        node = start.resolve(strict=True)
    except OSError:
        return set()
    found: set[str] = set()
    todo = [node]
    seen: set[Path] = set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        if (node / "partition").exists():
            node = node.parent
        slaves = list((node / "slaves").iterdir()) if (node / "slaves").is_dir() else []
        if slaves:
            todo.extend(s.resolve() for s in slaves)
        else:
            found.add(node.name)
    return found


@dataclass(frozen=True)
class SystemDisks:
    """A snapshot of the machine's own disks (kernel names of whole disks)."""

    protected: frozenset[str]  # hold /, the data dir: never touched, even if allowed
    mounted: frozenset[str]  # hold another mounted filesystem or swap

    @classmethod
    def scan(cls, data_dirs: Iterable[Path] = ()) -> SystemDisks:
        protected: set[str] = set()
        for path in (Path("/"), Path("/boot"), *data_dirs):
            try:
                st = os.stat(path)
            except OSError:
                continue
            protected |= _disks_under((os.major(st.st_dev), os.minor(st.st_dev)))
        mounted: set[str] = set()
        for num in _mounted_devnums() | _swap_devnums():
            mounted |= _disks_under(num)
        return cls(protected=frozenset(protected), mounted=frozenset(mounted))

    def disk_of(self, device: BlockDevice) -> str:
        return device.parent or device.kernel_name

    def reason_excluded(
        self,
        device: BlockDevice,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        *,
        allow_only: bool = False,
    ) -> str | None:
        """Why ``device`` must not be treated as a medium, or None when it may be.

        ``allow_only``: only devices named in ``allow`` are media (a lab machine
        where other loop devices or disks come and go that are not evidence).
        """
        ids = device.identifiers
        if device.kernel_name.startswith(IGNORED_PREFIXES):
            return f"{device.kernel_name} is a virtual device type custodyd does not handle"
        if ids & set(deny):
            return "named in media_deny"
        if allow_only and not (ids & set(allow)):
            return "not named in media_allow (media_allow_only is set)"
        disk = self.disk_of(device)
        if disk in self.protected:
            return f"system disk {disk} holds / , /boot or the data directory"
        if disk in self.mounted and not (ids & set(allow)):
            return f"{disk} holds a mounted filesystem or swap"
        return None


def is_system(
    device: BlockDevice,
    *,
    data_dirs: Iterable[Path] = (),
    allow: Iterable[str] = (),
    deny: Iterable[str] = (),
    allow_only: bool = False,
) -> str | None:
    """Convenience: scan now and return the exclusion reason (or None)."""
    return SystemDisks.scan(data_dirs).reason_excluded(device, allow, deny, allow_only=allow_only)
