"""Inventory against The Sleuth Kit's own answers: the shared oracle and images built here."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from custodyd.daemon.inventory import inventory
from tests.conftest import FORENSIC_IMAGES, needs_root

ORACLE_FILE = FORENSIC_IMAGES / "oracle.json"
ORACLE: dict[str, Any] = json.loads(ORACLE_FILE.read_text()) if ORACLE_FILE.exists() else {}
RAW = sorted(k for k, v in ORACLE.items() if v["format"] == "raw")
ALL = sorted(ORACLE)  # raw images and E01 containers (decoded by libewf)


def test_oracle_present() -> None:
    assert RAW and len(ALL) > len(RAW), f"no forensic images at {FORENSIC_IMAGES}"


@pytest.mark.parametrize("name", ALL)
def test_matches_oracle(name: str) -> None:
    want = ORACLE[name]
    got = inventory(FORENSIC_IMAGES / want["path"])
    assert got["format"] == want["format"]
    assert got["size"] == want.get("media", want)["size"]
    assert got["sector_size"] == want["sector_size"]
    assert got["volume_system"] == want["volume_system"]
    assert [
        (p["start_sector"], p["length_sectors"], p["description"]) for p in got["partitions"]
    ] == [(p["start_sector"], p["length_sectors"], p["description"]) for p in want["partitions"]]
    assert [(f["offset_sectors"], f["type"], f["file_count"]) for f in got["filesystems"]] == [
        (f["offset_sectors"], f["fstype"], f["file_count"]) for f in want["filesystems"]
    ]


def test_garbage_gives_clear_notes(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4096)
    got = inventory(junk)
    assert got["volume_system"] is None and got["filesystems"] == []
    assert got["notes"] == ["no volume system", "unknown filesystem at offset 0"]
    missing = inventory(tmp_path / "missing")
    assert missing["notes"][0].startswith("cannot open image")


def fls_rows(image: Path, offset: int) -> int:
    out = subprocess.run(
        ["fls", "-r", "-p", "-o", str(offset), str(image)], capture_output=True, text=True
    ).stdout
    return len([line for line in out.splitlines() if line.strip()])


def mkfs(kind: str, image: Path, size_mib: int, populate: bool = True) -> None:
    image.write_bytes(b"")
    with open(image, "r+b") as fh:
        fh.truncate(size_mib * 1024 * 1024)
    if kind == "ext4":
        subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
        if populate:
            _debugfs(image)
    else:
        subprocess.run(
            ["mkfs.vfat", "-F", "16", "-s", "1", str(image)], check=True, capture_output=True
        )
        if populate:
            _mtools(image)


def _debugfs(image: Path) -> None:
    script = "mkdir docs\nmkdir docs/deep\nwrite /etc/hostname docs/a.txt\n"
    script += "write /etc/passwd docs/deep/b.txt\nwrite /etc/os-release c.txt\nrm c.txt\n"
    subprocess.run(
        ["debugfs", "-w", "-f", "-", str(image)],
        input=script,
        text=True,
        check=True,
        capture_output=True,
    )


def _mtools(image: Path) -> None:
    env = {"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"}
    for args in (
        ["mmd", "::/docs"],
        ["mcopy", "/etc/passwd", "::/docs/p.txt"],
        ["mcopy", "/etc/hostname", "::/h.txt"],
        ["mdel", "::/h.txt"],
    ):
        subprocess.run(
            [args[0], "-i", str(image), *args[1:]], check=True, env=env, capture_output=True
        )


needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("fls", "mkfs.ext4", "mkfs.vfat", "debugfs", "mcopy")),
    reason="needs sleuthkit, e2fsprogs, dosfstools, mtools",
)


@needs_tools
@pytest.mark.parametrize("kind,expect", [("ext4", "Ext4"), ("vfat", "FAT16")])
def test_built_filesystem_matches_fls(tmp_path: Path, kind: str, expect: str) -> None:
    image = tmp_path / f"{kind}.img"
    mkfs(kind, image, 32)
    got = inventory(image)
    [fs] = got["filesystems"]
    assert fs["type"] == expect and fs["offset_sectors"] == 0
    assert fs["file_count"] == fls_rows(image, 0)
    assert fs["file_count"] >= 5


def _sgdisk(disk: Path, sector: int) -> None:
    """Two 8 MiB partitions named data/fat. sgdisk has no sector-size option for image
    files, so the 4096-byte case goes through a loop device with 4 KiB sectors."""
    args = ["sgdisk", "-a", "1", "-n", "1:0:+8M", "-c", "1:data", "-n", "2:0:+8M", "-c", "2:fat"]
    if sector == 512:
        subprocess.run([*args, str(disk)], check=True, capture_output=True)
        return
    dev = subprocess.run(
        ["losetup", "-f", "--show", "--sector-size", str(sector), str(disk)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        subprocess.run([*args, dev], check=True, capture_output=True)
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


@needs_tools
@pytest.mark.parametrize("sector", [512, pytest.param(4096, marks=needs_root)])
def test_gpt_with_filesystems(tmp_path: Path, sector: int) -> None:
    """A GPT disk (512- or 4096-byte sectors) with ext4 and FAT partitions, built here."""
    disk = tmp_path / "disk.img"
    fs1, fs2 = tmp_path / "p1.img", tmp_path / "p2.img"
    mkfs("ext4", fs1, 8)
    mkfs("vfat", fs2, 8)
    with open(disk, "wb") as fh:
        fh.truncate(24 * 1024 * 1024)
    _sgdisk(disk, sector)
    parts = inventory(disk)["partitions"]
    assert [p["description"] for p in parts] == ["data", "fat"]
    with open(disk, "r+b") as fh:
        for part, fs in zip(parts, (fs1, fs2), strict=True):
            fh.seek(part["start_sector"] * sector)
            fh.write(fs.read_bytes())
    got = inventory(disk)
    assert got["sector_size"] == sector
    assert got["volume_system"] == "GUID Partition Table (EFI)"
    types = [(f["offset_sectors"], f["type"]) for f in got["filesystems"]]
    assert types == [(parts[0]["start_sector"], "Ext4"), (parts[1]["start_sector"], "FAT16")]
    for fs in got["filesystems"]:
        assert fs["file_count"] == fls_rows(disk, fs["offset_sectors"] * sector // 512)
