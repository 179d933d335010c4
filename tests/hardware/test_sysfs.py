"""One sysfs identity reader: serial from serial/VPD 0x80, a WWN only from a real WWN ``wwid``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from custodyd.daemon.imaging.reader import _device_identity
from custodyd.hardware import sysfs
from custodyd.hardware.device import BlockDevice


def _disk(root: Path, name: str, **attrs: str | bytes) -> Path:
    """A fake /sys/devices/.../block/NAME with ``device/<attr>`` files (``disk_<attr>``: on it)."""
    disk = root / "devices" / "pci0000:00" / "block" / name
    (disk / "device").mkdir(parents=True)
    (disk / "dev").write_text("8:0\n")
    (disk / "size").write_text("2048\n")
    for key, value in attrs.items():
        target = (
            disk / key.removeprefix("disk_") if key.startswith("disk_") else disk / "device" / key
        )
        if isinstance(value, bytes):
            target.write_bytes(value)
        else:
            target.write_text(value + "\n")
    return disk


def test_scsi_serial_comes_from_vpd_page_80_never_from_a_t10_wwid(tmp_path: Path) -> None:
    disk = _disk(
        tmp_path,
        "sda",
        model="Samsung SSD 870  ",
        vpd_pg80=b"\x00\x80\x00\x0fS6PXNS0T123456A",
        wwid="t10.ATA     Samsung SSD 870 EVO 1TB              S6PXNS0T123456A",
    )
    ident = sysfs.identity(disk)
    assert ident.serial == "S6PXNS0T123456A"
    assert ident.wwn is None  # a t10 vendor string is not a world-wide name
    assert ident.model == "Samsung SSD 870"


def test_naa_and_eui_wwids_are_wwns_and_never_serials(tmp_path: Path) -> None:
    naa = sysfs.identity(_disk(tmp_path, "sdb", wwid="naa.5000c500a1b2c3d4"))
    assert (naa.wwn, naa.serial) == ("naa.5000c500a1b2c3d4", None)
    eui = sysfs.identity(_disk(tmp_path, "nvme0n1", disk_wwid="eui.0025388b71b2c3d4", serial="S4X"))
    assert (eui.wwn, eui.serial) == ("eui.0025388b71b2c3d4", "S4X")
    nvme = sysfs.identity(_disk(tmp_path, "nvme1n1", disk_wwid="nvme.144d-5334-4d6f-00000001"))
    assert (nvme.wwn, nvme.serial) == (None, None)


def test_a_partition_reports_its_disk(tmp_path: Path) -> None:
    disk = _disk(tmp_path, "sdc", serial="ABC123", wwid="naa.5000000000000001")
    part = disk / "sdc1"
    part.mkdir()
    (part / "partition").write_text("1\n")
    ident = sysfs.identity(part)
    assert (ident.kernel_name, ident.is_partition, ident.disk_path) == ("sdc1", True, disk)
    assert (ident.serial, ident.wwn) == ("ABC123", "naa.5000000000000001")


def test_registry_and_imaging_reader_use_the_same_rules(tmp_path: Path) -> None:
    disk = _disk(
        tmp_path, "sdd", model="Disk", vpd_pg80=b"\x00\x80\x00\x04SN42", wwid="t10.X Disk SN42"
    )
    device = BlockDevice.from_sysfs("sdd", sys_path=disk)
    assert (device.serial, device.wwn, device.model) == ("SN42", None, "Disk")


def _real_block_devices() -> list[str]:
    root = Path("/sys/class/block")
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


@pytest.mark.parametrize("name", _real_block_devices() or ["none"])
def test_reader_and_registry_agree_on_this_machine(name: str) -> None:
    if name == "none":
        pytest.skip("no /sys/class/block here")
    device = BlockDevice.from_sysfs(name)
    kernel_name, model, serial = _device_identity(os.makedev(device.major, device.minor))
    assert kernel_name == name
    if device.loop_backing_file is None:
        assert (model, serial) == (device.model, device.serial)
    else:  # the reader names a loop device by what backs it
        assert serial == (device.serial or device.loop_backing_file)
