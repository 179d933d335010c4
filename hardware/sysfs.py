"""The one reader of a block device's identity in sysfs (model, vendor, serial, WWN).

Both the media registry (:mod:`custodyd.hardware.device`) and the imaging reader
record who a device is; they must agree, so the rules live here once:

- **serial**: the unit serial number — ``device/serial`` (NVMe, MMC, some USB),
  ``serial`` on the disk (virtio), else SCSI VPD page 0x80 ``device/vpd_pg80``
  (SCSI, and SATA behind libata). Never ``wwid``.
- **WWN**: from ``wwid`` (the VPD page 0x83 / NVMe namespace designator) only when it
  *is* a world-wide name: ``naa.`` (NAA), ``eui.`` (EUI-64) or ``0x`` (ATA WWN).
  ``t10.VENDOR MODEL SERIAL`` and ``nvme.VID-SERIAL-MODEL-NSID`` are vendor
  strings: neither a WWN nor a serial, so they are not reported as either.

Nothing here opens the device node; a missing attribute is ``None``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

WWN_PREFIXES = ("naa.", "eui.", "0x")


def read_text(path: Path) -> str | None:
    """A sysfs attribute, stripped; ``None`` when absent, unreadable or empty."""
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return None
    return text or None


def clean(value: str | None) -> str | None:
    """udev-escaped blanks (``\\x20``) and padding (spaces, ``_``) removed; ``None`` if empty."""
    if value is None:
        return None
    value = value.replace("\\x20", " ").strip().strip("_").strip()
    return value or None


def vpd_serial(path: Path) -> str | None:
    """The serial in a SCSI VPD page 0x80 (4-byte header, then ASCII)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return clean(data[4:].decode("ascii", "replace").strip(" \x00"))


def wwn_from_wwid(wwid: str | None) -> str | None:
    """The WWN a ``wwid`` attribute carries, or ``None`` when it is a vendor string."""
    wwid = clean(wwid)
    if wwid and wwid.lower().startswith(WWN_PREFIXES):
        return wwid
    return None


@dataclass(frozen=True)
class SysfsIdentity:
    """Who a block device says it is, read from its whole disk's sysfs directory."""

    kernel_name: str  # the device asked about (sda1 for a partition)
    disk_path: Path  # /sys/devices/.../block/sda (the whole disk, also for a partition)
    is_partition: bool
    vendor: str | None
    model: str | None
    serial: str | None
    wwn: str | None
    loop_backing_file: str | None


def identity(sys_path: Path) -> SysfsIdentity:
    """Identity of the block device at ``sys_path`` (``/sys/class/block/X`` or resolved)."""
    sys_path = sys_path.resolve()
    is_partition = (sys_path / "partition").exists()
    disk = sys_path.parent if is_partition else sys_path
    device = disk / "device"
    serial = clean(
        read_text(device / "serial")
        or read_text(disk / "serial")
        or vpd_serial(device / "vpd_pg80")
    )
    return SysfsIdentity(
        kernel_name=sys_path.name,
        disk_path=disk,
        is_partition=is_partition,
        vendor=clean(read_text(device / "vendor")),
        model=clean(read_text(device / "model")),
        serial=serial,
        wwn=wwn_from_wwid(read_text(device / "wwid") or read_text(disk / "wwid")),
        loop_backing_file=read_text(disk / "loop" / "backing_file"),
    )


def identity_of_rdev(rdev: int) -> SysfsIdentity | None:
    """Identity of the block device number ``rdev`` (``st_rdev``); ``None`` if sysfs lacks it."""
    try:
        sys_path = Path(f"/sys/dev/block/{os.major(rdev)}:{os.minor(rdev)}").resolve(strict=True)
    except OSError:
        return None
    return identity(sys_path)
