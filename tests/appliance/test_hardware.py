"""The hardware model on real loop devices (root) and its pure logic (anyone)."""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from custodyd.hardware import readonly
from custodyd.hardware.device import BlockDevice
from custodyd.hardware.discovery import enumerate_devices, find_device
from custodyd.hardware.hdparm import hidden_areas, parse_dco, parse_max_sectors
from custodyd.hardware.monitor import MediaMonitor, MediumTracker
from custodyd.hardware.system_disks import SystemDisks
from custodyd.hardware.writeblock import find_blocker, verdict
from tests.appliance.conftest import Loops, settle, sha256_file
from tests.conftest import FORENSIC_IMAGES, needs_root


def _image(tmp_path: Path, size: int = 16 << 20) -> Path:
    path = tmp_path / "medium.raw"
    with path.open("wb") as fh:
        fh.write(os.urandom(size))
    return path


def _dev(**kw: object) -> BlockDevice:
    base: dict[str, object] = {
        "kernel_name": "sdz",
        "devnode": "/dev/sdz",
        "devtype": "disk",
        "size": 1 << 30,
    }
    base.update(kw)
    return BlockDevice(**base)  # type: ignore[arg-type]


# -- pure logic -----------------------------------------------------------------
def test_tracker_turns_loop_changes_into_attach_and_detach() -> None:
    tracker = MediumTracker()
    empty = _dev(kernel_name="loop9", devnode="/dev/loop9", size=0, diskseq=5)
    tracker.seed([empty])
    full = _dev(kernel_name="loop9", devnode="/dev/loop9", size=1 << 20, diskseq=6)
    assert [e.kind for e in tracker.translate("change", "loop9", full)] == ["attach"]
    assert [e.kind for e in tracker.translate("change", "loop9", full)] == ["change"]
    swapped = _dev(kernel_name="loop9", devnode="/dev/loop9", size=1 << 20, diskseq=7)
    assert [e.kind for e in tracker.translate("change", "loop9", swapped)] == [
        "detach",
        "attach",
    ]
    assert [e.kind for e in tracker.translate("change", "loop9", empty)] == ["detach"]
    assert tracker.translate("change", "loop9", empty) == []
    assert [e.kind for e in tracker.translate("add", "sdz", _dev())] == ["attach"]
    assert [e.kind for e in tracker.translate("remove", "sdz", None)] == ["detach"]
    assert tracker.translate("remove", "sdz", None) == []


def test_identity_key_prefers_wwn_then_serial_then_backing_file() -> None:
    assert _dev(wwn="0x5000c500a1b2c3d4", serial="X1").key == "wwn:0x5000c500a1b2c3d4"
    assert _dev(serial="X1", bus="usb", vendor="V", model="M").key == "serial:usb:V:M:X1"
    loop = _dev(kernel_name="loop1", loop_backing_file="/tmp/a.raw", size=512)
    assert loop.key == "loop:/tmp/a.raw:512"
    assert "/tmp/a.raw" in loop.identifiers
    assert _dev().key == "path:/dev/sdz:1073741824"


def test_write_block_verdicts() -> None:
    tableau = _dev(usb_chain=("05e3:0610", "13d7:000c"), bus="usb")
    assert find_blocker(tableau.usb_chain) is not None
    assert verdict(tableau, read_only=False)[0] == "hardware"
    plain_usb = _dev(usb_chain=("0781:5581",), bus="usb")
    assert verdict(plain_usb, read_only=True)[0] == "software"
    assert verdict(plain_usb, read_only=False)[0] == "none"


def test_extra_blocker_file_extends_the_table(tmp_path: Path) -> None:
    extra = tmp_path / "blockers.json"
    extra.write_text('{"blockers": [{"vendor": "0781", "product": "5581", "name": "lab"}]}')
    device = _dev(usb_chain=("0781:5581",), bus="usb")
    assert verdict(device, read_only=False, extra_file=extra)[0] == "hardware"


def test_hdparm_parsing_and_unsupported_buses() -> None:
    text = "\n/dev/sdb:\n max sectors   = 312579695/312581808, HPA is enabled\n"
    assert parse_max_sectors(text) == (312579695, 312581808, True)
    assert parse_dco("DCO Revision: 0x0001\nReal max sectors: 312581808\n") == 312581808
    report, reason = hidden_areas(_dev(kernel_name="loop1", bus="loop"))
    assert report is None and "loop" in reason


def test_system_disks_rules() -> None:
    disks = SystemDisks(protected=frozenset({"vda"}), mounted=frozenset({"sdb"}))
    assert disks.reason_excluded(_dev(kernel_name="vda", devnode="/dev/vda")) is not None
    assert disks.reason_excluded(_dev(kernel_name="vda2", parent="vda")) is not None
    mounted = _dev(kernel_name="sdb", devnode="/dev/sdb", serial="S")
    assert disks.reason_excluded(mounted) is not None
    assert disks.reason_excluded(mounted, allow=["S"]) is None
    assert disks.reason_excluded(_dev(), deny=["/dev/sdz"]) == "named in media_deny"
    assert disks.reason_excluded(_dev(), allow_only=True) is not None
    assert disks.reason_excluded(_dev(kernel_name="zram0")) is not None
    assert disks.reason_excluded(_dev()) is None


def test_root_disk_is_a_system_disk() -> None:
    st = os.stat("/")
    disks = SystemDisks.scan()
    if not Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}").exists():
        pytest.skip("environment: / is not on a block device here (overlay/tmpfs)")
    assert disks.protected, "the disk holding / must be protected"


# -- real loop devices ----------------------------------------------------------
@needs_root
def test_identity_of_a_read_only_loop_device(tmp_path: Path, loops: Loops) -> None:
    image = _image(tmp_path)
    node = loops.attach(image, read_only=True)
    device = find_device(node)
    assert device is not None
    assert device.devnode == node
    assert device.devtype == "disk" and device.is_disk
    assert device.size == 16 << 20
    assert device.bus == "loop"
    assert device.loop_backing_file == str(image)
    assert device.read_only is True
    assert device.logical_sector_size == 512
    assert device.key == f"loop:{image}:{16 << 20}"
    assert readonly.get_ro(node) is True
    assert any(d.kernel_name == device.kernel_name for d in enumerate_devices())
    assert SystemDisks.scan().reason_excluded(device) is None


@needs_root
def test_blkroset_makes_a_writable_loop_refuse_writes(tmp_path: Path, loops: Loops) -> None:
    image = _image(tmp_path)
    before = sha256_file(image)
    node = loops.attach(image, read_only=False)
    name = Path(node).name
    assert readonly.get_ro(node) is False
    assert readonly.sysfs_ro(name) is False
    readonly.set_ro(node)
    assert readonly.get_ro(node) is True
    assert readonly.sysfs_ro(name) is True
    with pytest.raises(OSError) as exc:
        fd = os.open(node, os.O_WRONLY)
        try:
            os.write(fd, b"\xff" * 512)
        finally:
            os.close(fd)
    assert exc.value.errno in (errno.EROFS, errno.EPERM, errno.EACCES)
    assert sha256_file(image) == before


@needs_root
def test_partitions_are_set_read_only_too(tmp_path: Path, loops: Loops) -> None:
    image = tmp_path / "mbr.raw"
    shutil.copyfile(FORENSIC_IMAGES / "dfvfs_mbr.raw", image)
    node = loops.attach(image, read_only=False, partscan=True)
    name = Path(node).name
    for _ in range(50):
        if readonly.partitions_of(name):
            break
        time.sleep(0.1)
    parts = readonly.partitions_of(name)
    if not parts:  # the MBR image has two partitions: the kernel did not scan them
        pytest.skip("environment: this kernel creates no partitions (no CONFIG_MSDOS_PARTITION?)")
    changed = readonly.set_ro_with_partitions(name, node)
    assert len(changed) == 1 + len(parts)
    assert all(readonly.sysfs_ro(p) for p in parts)


@needs_root
@pytest.mark.parametrize("source", ["kernel", "udev"])
def test_monitor_sees_attach_and_detach(
    source: str, udevd: None, tmp_path: Path, loops: Loops
) -> None:
    image = _image(tmp_path, 4 << 20)
    monitor = MediaMonitor(source)
    assert monitor.source == source
    monitor.start()
    events = []
    stop = threading.Event()

    def collect() -> None:
        for event in monitor.events(stop, timeout=0.2):
            events.append(event)

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    node = loops.attach(image, read_only=True)
    name = Path(node).name
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(
        e.kernel_name == name and e.kind == "attach" for e in events
    ):
        time.sleep(0.05)
    loops.detach(node)
    while time.monotonic() < deadline and not any(
        e.kernel_name == name and e.kind == "detach" for e in events
    ):
        time.sleep(0.05)
    stop.set()
    thread.join(5)
    mine = [e for e in events if e.kernel_name == name]
    kinds = [e.kind for e in mine]
    assert "attach" in kinds and "detach" in kinds, kinds
    attach = next(e for e in mine if e.kind == "attach")
    assert attach.device is not None
    assert attach.device.loop_backing_file == str(image)
    assert attach.device.size == 4 << 20
    assert kinds.index("attach") < len(kinds) - 1 - kinds[::-1].index("detach") + 1


@needs_root
def test_monitor_picks_udev_when_udevd_runs(udevd: None) -> None:
    settle()
    assert MediaMonitor().source == "udev"
