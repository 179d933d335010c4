"""Enumerate the block devices present now (whole disks and partitions)."""

from __future__ import annotations

from pathlib import Path

from custodyd.hardware.device import SYS_CLASS_BLOCK, BlockDevice


def udev_available() -> bool:
    """True when a udev daemon runs (its control socket exists and answers)."""
    return Path("/run/udev/control").exists()


def enumerate_devices(*, with_empty: bool = False) -> list[BlockDevice]:
    """Every block device (udev database when present, sysfs otherwise).

    Devices without a medium (size 0: unattached loop devices, empty card
    readers) are left out unless ``with_empty``.
    """
    devices: list[BlockDevice] = []
    try:
        import pyudev

        context = pyudev.Context()
        for dev in context.list_devices(subsystem="block"):
            devices.append(BlockDevice.from_udev(dev))
    except Exception:  # no libudev: sysfs alone
        devices = [BlockDevice.from_sysfs(p.name) for p in sorted(SYS_CLASS_BLOCK.iterdir())]
    if not with_empty:
        devices = [d for d in devices if d.size > 0]
    return sorted(devices, key=lambda d: (d.parent or d.kernel_name, d.kernel_name))


def find_device(name_or_node: str) -> BlockDevice | None:
    """A device by kernel name (``sdb``), node (``/dev/sdb``) or a /dev/disk link."""
    path = Path(name_or_node)
    name = path.resolve().name if path.is_absolute() else name_or_node
    if not (SYS_CLASS_BLOCK / name).exists():
        return None
    try:
        import pyudev

        dev = pyudev.Devices.from_name(pyudev.Context(), "block", name)
        return BlockDevice.from_udev(dev)
    except Exception:
        return BlockDevice.from_sysfs(name)
