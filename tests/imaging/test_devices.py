"""Real block devices (root): loop sources, refusals of unsafe destinations and sources,
and a destination that fills up."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from custodyd.daemon.acquisition import acquire, list_evidence
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import DestinationFull, DestinationOnSource, SourceBusy
from tests.conftest import needs_root
from tests.imaging.conftest import MiB, loop_attach, loop_detach, random_file, tool_digest

pytestmark = [needs_root, pytest.mark.root]
ACTOR = "user:alice"


@contextmanager
def mounted(what: str, where: Path, *opts: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", *opts, what, str(where)], check=True, capture_output=True)
    try:
        yield where
    finally:
        done = subprocess.run(["umount", str(where)], check=False, capture_output=True)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


@contextmanager
def attached(path: Path, *extra: str, read_only: bool = False) -> Iterator[str]:
    args = ["losetup", "-f", "--show", *extra] + (["-r"] if read_only else []) + [str(path)]
    dev = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()
    try:
        yield dev
    finally:
        loop_detach(dev)


def partition_node(dev: str, number: int, tmp_path: Path) -> str:
    """``/dev/loopNpK``, or a node made here from /sys when no udev creates it."""
    name = f"{Path(dev).name}p{number}"
    subprocess.run(["udevadm", "settle", "-t", "5"], check=False, capture_output=True)
    if Path("/dev", name).exists():
        return f"/dev/{name}"
    if not Path("/sys/class/block", name).exists():  # the scan of -P may not have happened
        subprocess.run(["partx", "-a", dev], check=False, capture_output=True)
    major, minor = Path("/sys/class/block", name, "dev").read_text().strip().split(":")
    node = tmp_path / name
    os.mknod(node, 0o600 | stat.S_IFBLK, os.makedev(int(major), int(minor)))
    return str(node)


def ext4_image(path: Path, size: int = 16 * MiB) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(path)], check=True)
    return path


def test_read_only_loop_device_source(ictx: AppContext, tmp_path: Path) -> None:
    backing = random_file(tmp_path / "disk.img", 4 * MiB + 512 * 3, seed=3)
    device = loop_attach(backing, read_only=True)
    try:
        manifest = acquire(ictx, Path(device), "DEV-1", actor=ACTOR, hashes=["sha256", "md5"])
    finally:
        loop_detach(device)
    src = manifest["source"]
    assert src["is_device"] is True and src["path"] == device
    assert src["size"] == backing.stat().st_size
    assert src["logical_sector_size"] == 512 and src["model"] == "loop device"
    assert src["serial"] == str(backing)  # a loop device's identity is its backing file
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", backing)
    assert manifest["hashes"]["sha256"] == tool_digest("sha256sum", backing)
    assert manifest["hashes"]["md5"] == tool_digest("md5sum", backing)
    assert Path(manifest["image_path"]).read_bytes() == backing.read_bytes()


def test_destination_inside_filesystem_of_source_refused(ictx: AppContext, tmp_path: Path) -> None:
    image = ext4_image(tmp_path / "fs.img")
    with (
        attached(image) as dev,
        mounted(dev, tmp_path / "mnt", "-o", "ro") as mnt,
        pytest.raises(DestinationOnSource, match="on the source medium"),
    ):
        acquire(ictx, Path(dev), "DEV-2", actor=ACTOR, store=mnt / "store")
    assert list_evidence(ictx, status=None) == []


def test_destination_on_partition_of_source_disk_refused(ictx: AppContext, tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as fh:
        fh.truncate(24 * MiB)
    subprocess.run(["sgdisk", "-n", "1:0:+16M", str(disk)], check=True, capture_output=True)
    with attached(disk, "-P") as dev:
        part = partition_node(dev, 1, tmp_path)
        subprocess.run(["mkfs.ext4", "-q", "-F", part], check=True)
        with (
            mounted(part, tmp_path / "mnt", "-o", "ro") as mnt,
            pytest.raises(DestinationOnSource),
        ):
            acquire(ictx, Path(dev), "DEV-3", actor=ACTOR, store=mnt / "store")
        # ... and the whole disk is refused as a source while a partition is mounted rw:
        with (
            mounted(part, tmp_path / "mnt2"),
            pytest.raises(SourceBusy, match="mounted read-write"),
        ):
            acquire(ictx, Path(dev), "DEV-3", actor=ACTOR, store=tmp_path / "store")


def test_source_mounted_read_write_refused(ictx: AppContext, tmp_path: Path) -> None:
    image = ext4_image(tmp_path / "fs.img")
    with (
        attached(image) as dev,
        mounted(dev, tmp_path / "mnt"),
        pytest.raises(SourceBusy, match="mounted read-write"),
    ):
        acquire(ictx, Path(dev), "DEV-4", actor=ACTOR)


WRITER = (
    "import os,sys,time; fd=os.open(sys.argv[1], os.O_RDWR); "
    "print('ready', flush=True); time.sleep(60)"
)


@contextmanager
def held_for_writing(path: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, path], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_source_open_for_writing_refused(ictx: AppContext, tmp_path: Path) -> None:
    backing = random_file(tmp_path / "disk.img", 1 * MiB)
    with held_for_writing(str(backing)) as proc:  # noqa: SIM117 (match needs proc.pid)
        with pytest.raises(SourceBusy, match=f"process {proc.pid} "):
            acquire(ictx, backing, "DEV-5", actor=ACTOR)
    with attached(backing) as dev:
        with held_for_writing(dev) as proc:  # noqa: SIM117 (match needs proc.pid)
            with pytest.raises(SourceBusy, match=f"process {proc.pid} "):
                acquire(ictx, Path(dev), "DEV-5", actor=ACTOR)
        # Once the writer is gone the same device is accepted.
        manifest = acquire(ictx, Path(dev), "DEV-5", actor=ACTOR, verify=False)
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", backing)
    assert list_evidence(ictx, status=None) == [manifest]


def test_full_destination(ictx: AppContext, tmp_path: Path) -> None:
    source = random_file(tmp_path / "big.bin", 3 * MiB)
    with mounted("tmpfs", tmp_path / "small", "-t", "tmpfs", "-o", "size=1m") as store:
        with pytest.raises(DestinationFull, match="full"):
            acquire(ictx, source, "DEV-6", actor=ACTOR, store=store)
        [item] = list_evidence(ictx, "DEV-6", status="incomplete")
        directory = store / "DEV-6" / item["evidence_id"]
        names = sorted(p.name for p in directory.iterdir())
        assert "image.raw" not in names and "image.raw.part" not in names
        assert "image.raw.incomplete" in names
        assert item["image_path"] == str(directory / "image.raw.incomplete")
        assert item["hashes"] == {} and item["status"] == "incomplete"
        assert "destination" in item["incomplete_reason"]
        entries = ictx.ledger.history(item["evidence_id"])
        assert [e.action for e in entries] == ["acquisition.started", "acquisition.incomplete"]
        assert entries[-1].payload["error"] == "destination-full"
    assert os.path.exists(source)


def test_inventory_of_a_block_device() -> None:
    from custodyd.daemon.inventory import inventory
    from tests.conftest import FORENSIC_IMAGES

    image = FORENSIC_IMAGES / "dfvfs_mbr.raw"
    if not image.exists():
        pytest.skip("shared forensic images missing")
    device = loop_attach(image, read_only=True)
    try:
        got = inventory(device)
    finally:
        loop_detach(device)
    assert [(f["offset_sectors"], f["type"], f["file_count"]) for f in got["filesystems"]] == [
        (1, "Ext2", 7),
        (131, "Ext4", 7),
    ]
