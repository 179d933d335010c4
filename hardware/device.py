"""Identity of one block device, as udev and sysfs describe it.

:class:`BlockDevice` is a plain, immutable snapshot: everything the daemon needs to
record a seized medium in the ledger (vendor, model, serial, WWN, bus, USB bridge
ids, size, sector sizes, partition table...) without holding a pyudev object.
It is built from a ``pyudev.Device`` (:meth:`BlockDevice.from_udev`) or from sysfs
alone (:meth:`BlockDevice.from_sysfs`, used when no udevd runs and udev's
``ID_*`` properties are missing). Nothing here opens the device node.

Sizes in sysfs are always in 512-byte units, whatever the logical sector size.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from custodyd.hardware import sysfs

SYS_CLASS_BLOCK = Path("/sys/class/block")

# Kernel names of block devices that are never seized media (RAM disks, device
# mapper, software RAID, network block devices, optical/zoned helpers).
IGNORED_PREFIXES = ("ram", "zram", "dm-", "md", "nbd", "sr", "fd")


_read = sysfs.read_text
_clean = sysfs.clean


def _int(text: str | bytes | None, default: int = 0) -> int:
    if text is None:
        return default
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    try:
        return int(text.strip())
    except ValueError:
        return default


@dataclass(frozen=True)
class BlockDevice:
    """A block device (whole disk or partition) at one moment."""

    kernel_name: str  # sda, sda1, loop3, nvme0n1
    devnode: str  # /dev/sda
    devtype: str  # disk | partition
    size: int  # bytes (0: no medium, e.g. an empty card reader or unattached loop)
    logical_sector_size: int = 512
    physical_sector_size: int = 512
    removable: bool = False
    read_only: bool = False  # /sys/block/X/ro (kernel read-only flag) at snapshot time
    bus: str | None = None  # usb | ata | nvme | scsi | loop | mmc | virtio | ...
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    wwn: str | None = None
    usb_vendor_id: str | None = None  # the USB bridge (or write blocker) idVendor, hex
    usb_product_id: str | None = None
    by_id: tuple[str, ...] = ()
    by_path: tuple[str, ...] = ()
    partition_table: str | None = None  # dos | gpt (as udev/blkid saw it)
    parent: str | None = None  # the whole disk's kernel name, for a partition
    loop_backing_file: str | None = None
    major: int = 0
    minor: int = 0
    diskseq: int | None = None
    custodyd_tagged: bool = False  # our udev rule saw it (ENV{CUSTODYD_MEDIUM}=1)
    usb_chain: tuple[str, ...] = field(default=())  # every vid:pid between host and disk

    # -- identity ---------------------------------------------------------
    @property
    def is_disk(self) -> bool:
        return self.devtype == "disk"

    @property
    def usb_id(self) -> str | None:
        if self.usb_vendor_id and self.usb_product_id:
            return f"{self.usb_vendor_id}:{self.usb_product_id}"
        return None

    @property
    def key(self) -> str:
        """A stable identity across re-plugging: WWN, else bus+serial, else path-based.

        A loop device is identified by its backing file and size (the "medium" is
        the file); anything else without serial falls back to by-path + size.
        """
        suffix = "" if self.is_disk else f"#{self.kernel_name}"
        if self.wwn:
            return f"wwn:{self.wwn}{suffix}"
        if self.serial:
            maker = f"{self.vendor or ''}:{self.model or ''}"
            return f"serial:{self.bus or '?'}:{maker}:{self.serial}{suffix}"
        if self.loop_backing_file:
            return f"loop:{self.loop_backing_file}:{self.size}{suffix}"
        where = self.by_path[0] if self.by_path else self.devnode
        return f"path:{where}:{self.size}"

    @property
    def identifiers(self) -> set[str]:
        """Everything an allow/deny list may name: serial, WWN, by-id/by-path links, node."""
        ids = {self.devnode, self.kernel_name, *self.by_id, *self.by_path}
        ids.update(os.path.basename(link) for link in (*self.by_id, *self.by_path))
        for value in (self.serial, self.wwn, self.key, self.loop_backing_file):
            if value:
                ids.add(value)
        return ids

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["by_id"] = list(self.by_id)
        data["by_path"] = list(self.by_path)
        data["usb_chain"] = list(self.usb_chain)
        data["key"] = self.key
        data["usb_id"] = self.usb_id
        return data

    # -- construction -----------------------------------------------------
    @classmethod
    def from_udev(cls, device: Any) -> BlockDevice:
        """From a ``pyudev.Device`` of subsystem ``block`` (udev properties + sysfs)."""
        props = {str(k): str(v) for k, v in device.properties.items()}
        kernel_name = str(device.sys_name)
        base = cls.from_sysfs(kernel_name, sys_path=Path(device.sys_path))
        links = props.get("DEVLINKS", "").split()
        by_id = tuple(sorted(link for link in links if "/by-id/" in link))
        by_path = tuple(sorted(link for link in links if "/by-path/" in link))
        bus = props.get("ID_BUS") or base.bus
        if kernel_name.startswith("loop"):
            bus = "loop"
        elif props.get("ID_USB_DRIVER") or props.get("ID_USB_INTERFACES"):
            bus = "usb"
        wwn = _clean(props.get("ID_WWN_WITH_EXTENSION") or props.get("ID_WWN")) or base.wwn
        serial = _clean(props.get("ID_SERIAL_SHORT") or props.get("ID_SERIAL")) or base.serial
        diskseq = props.get("DISKSEQ")
        return _replace(
            base,
            devnode=props.get("DEVNAME") or base.devnode,
            bus=bus,
            vendor=_clean(props.get("ID_VENDOR_ENC") or props.get("ID_VENDOR")) or base.vendor,
            model=_clean(props.get("ID_MODEL_ENC") or props.get("ID_MODEL")) or base.model,
            serial=serial,
            wwn=wwn,
            by_id=by_id or base.by_id,
            by_path=by_path or base.by_path,
            partition_table=props.get("ID_PART_TABLE_TYPE") or base.partition_table,
            diskseq=_int(diskseq) if diskseq else base.diskseq,
            custodyd_tagged=props.get("CUSTODYD_MEDIUM") == "1",
        )

    @classmethod
    def from_sysfs(cls, kernel_name: str, sys_path: Path | None = None) -> BlockDevice:
        """From sysfs alone (works without udevd; no by-id links, fewer names)."""
        sys_path = (sys_path or (SYS_CLASS_BLOCK / kernel_name)).resolve()
        ident = sysfs.identity(sys_path)
        is_partition, disk_path = ident.is_partition, ident.disk_path
        uevent = _uevent(sys_path / "uevent")
        major, minor = (_int(x) for x in (_read(sys_path / "dev") or "0:0").split(":", 1))
        devnode = "/dev/" + uevent.get("DEVNAME", kernel_name)
        usb_chain = _usb_chain(disk_path)
        name = disk_path.name
        bus = _bus_from_sysfs(name, disk_path, usb_chain)
        by_id, by_path = _links_for(major, minor)
        return cls(
            kernel_name=kernel_name,
            devnode=devnode,
            devtype="partition" if is_partition else "disk",
            size=_int(_read(sys_path / "size")) * 512,
            logical_sector_size=_int(_read(disk_path / "queue" / "logical_block_size"), 512),
            physical_sector_size=_int(_read(disk_path / "queue" / "physical_block_size"), 512),
            removable=_read(disk_path / "removable") == "1",
            read_only=_read(sys_path / "ro") == "1",
            bus=bus,
            vendor=ident.vendor,
            model=ident.model,
            serial=ident.serial,
            wwn=ident.wwn,
            usb_vendor_id=usb_chain[-1].split(":")[0] if usb_chain else None,
            usb_product_id=usb_chain[-1].split(":")[1] if usb_chain else None,
            by_id=by_id,
            by_path=by_path,
            parent=name if is_partition else None,
            loop_backing_file=ident.loop_backing_file,
            major=major,
            minor=minor,
            diskseq=_int(_read(disk_path / "diskseq")) or None,
            usb_chain=tuple(usb_chain),
        )


def _replace(device: BlockDevice, **changes: Any) -> BlockDevice:
    from dataclasses import replace

    return replace(device, **changes)


def _uevent(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out


def _usb_chain(disk_path: Path) -> list[str]:
    """vid:pid of every USB device from the root hub down to the disk (last = nearest)."""
    chain: list[str] = []
    node = disk_path
    while node != node.parent and str(node).startswith("/sys/devices"):
        vid, pid = _read(node / "idVendor"), _read(node / "idProduct")
        if vid and pid:
            chain.append(f"{vid.lower()}:{pid.lower()}")
        node = node.parent
    chain.reverse()
    # The root hub (1d6b = Linux Foundation) is not a bridge.
    return [link for link in chain if not link.startswith("1d6b:")]


def _bus_from_sysfs(name: str, disk_path: Path, usb_chain: list[str]) -> str | None:
    if name.startswith("loop"):
        return "loop"
    if usb_chain:
        return "usb"
    if name.startswith("nvme"):
        return "nvme"
    if name.startswith("mmcblk"):
        return "mmc"
    if name.startswith("vd"):
        return "virtio"
    real = str(disk_path)
    if "/ata" in real:
        return "ata"
    if name.startswith("sd"):
        return "scsi"
    return None


def _links_for(major: int, minor: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """/dev/disk/by-id and by-path links pointing at MAJOR:MINOR (made by udev)."""
    found: dict[str, list[str]] = {"by-id": [], "by-path": []}
    for kind in found:
        folder = Path("/dev/disk") / kind
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for link in entries:
            try:
                st = link.stat()
            except OSError:
                continue
            if os.major(st.st_rdev) == major and os.minor(st.st_rdev) == minor:
                found[kind].append(str(link))
    return tuple(sorted(found["by-id"])), tuple(sorted(found["by-path"]))
