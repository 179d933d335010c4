"""The CLI as an examiner runs it: one JSON document on stdout, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FORENSIC_IMAGES, needs_root
from tests.imaging.conftest import MiB, chmod_writable, fuse_mount, random_file, tool_digest

CLI = [sys.executable, "-c", "from custodyd.daemon.cli import main; main()"]


def custodyd(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, env=os.environ.copy())
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


def one_json(stdout: str) -> Any:
    """stdout must be exactly one JSON document."""
    return json.loads(stdout)


MANIFEST_KEYS = {
    "evidence_id",
    "case",
    "source",
    "bytes",
    "hashes",
    "piecewise",
    "read_errors",
    "verified",
    "image_path",
    "started_at",
    "finished_at",
    "seconds",
    "tool",
}


def test_image_json_then_list_show_verify(home: Path, source_file: Path) -> None:
    proc = custodyd(
        "image",
        str(source_file),
        "--case",
        "CLI-1",
        "--hash",
        "sha256,md5",
        "--examiner",
        "Alice",
        "--notes",
        "bag 7",
        "--json",
    )
    manifest = one_json(proc.stdout)
    assert manifest.keys() >= MANIFEST_KEYS
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", source_file)
    assert manifest["hashes"]["sha256"] == tool_digest("sha256sum", source_file)
    assert manifest["hashes"]["md5"] == tool_digest("md5sum", source_file)
    assert manifest["verified"] is True and manifest["read_errors"] == []
    assert manifest["source"]["size"] == source_file.stat().st_size
    assert {"logical_sector_size", "physical_sector_size", "path"} <= manifest["source"].keys()
    assert manifest["tool"]["version"]
    assert Path(manifest["image_path"]).is_relative_to(home)
    eid = manifest["evidence_id"]

    listed = one_json(custodyd("evidence", "list", "--json").stdout)
    assert [m["evidence_id"] for m in listed] == [eid]
    assert one_json(custodyd("evidence", "list", "--case", "CLI-1", "--json").stdout) == listed
    assert one_json(custodyd("evidence", "list", "--case", "nope", "--json").stdout) == []
    shown = one_json(custodyd("evidence", "show", eid, "--json").stdout)
    assert shown == listed[0]

    ok = one_json(custodyd("verify", eid, "--json").stdout)
    assert ok["match"] is True and ok["blake3"] == manifest["hashes"]["blake3"]

    image = Path(manifest["image_path"])
    chmod_writable(image)
    with open(image, "r+b") as fh:
        fh.seek(1 * MiB + 1)
        b = fh.read(1)
        fh.seek(1 * MiB + 1)
        fh.write(bytes([b[0] ^ 0x80]))
    bad = custodyd("verify", eid, "--json", check=20)
    report = one_json(bad.stdout)
    assert report["match"] is False
    assert [w["index"] for w in report["mismatched_windows"]] == [0]  # 64 MiB default window
    assert "window 0" in bad.stderr  # the problem JSON names the window
    human = custodyd("verify", eid, check=20)
    assert "MISMATCH" in human.stdout and "window 0" in " ".join(human.stderr.split())


def test_image_missing_source_exit_code(home: Path, tmp_path: Path) -> None:
    proc = custodyd("image", str(tmp_path / "nope.dd"), "--case", "CLI-2", "--json", check=10)
    assert proc.stdout == ""
    problem = json.loads(proc.stderr)
    assert (
        problem["type"] == "urn:custodyd:problem:source" and "does not exist" in problem["detail"]
    )
    human = custodyd("image", str(tmp_path / "nope.dd"), "--case", "CLI-2", check=10)
    assert "does not exist" in " ".join(human.stderr.split())  # rich wraps long lines
    assert "Traceback" not in human.stderr


def test_unknown_hash_is_usage_error(home: Path, source_file: Path) -> None:
    proc = custodyd("image", str(source_file), "--case", "CLI-3", "--hash", "crc32", check=2)
    assert "unsupported hash" in proc.stderr


def test_verify_unknown_evidence(home: Path) -> None:
    custodyd("verify", "EVNOPE", "--json", check=3)


def test_inventory_json(home: Path) -> None:
    image = FORENSIC_IMAGES / "dfvfs_mbr.raw"
    if not image.exists():
        pytest.skip("shared forensic images missing")
    result = one_json(custodyd("inventory", str(image), "--json").stdout)
    assert result["sector_size"] == 512
    assert [(p["start_sector"], p["length_sectors"]) for p in result["partitions"]] == [
        (1, 129),
        (131, 129),
    ]
    assert [(f["offset_sectors"], f["type"], f["file_count"]) for f in result["filesystems"]] == [
        (1, "Ext2", 7),
        (131, "Ext4", 7),
    ]
    text = custodyd("inventory", str(image)).stdout
    assert "Ext4" in text and "DOS Partition Table" in text


def test_inventory_missing(home: Path, tmp_path: Path) -> None:
    custodyd("inventory", str(tmp_path / "nope"), "--json", check=10)


@needs_root
def test_ctrl_c_cancels_and_marks_incomplete(home: Path, tmp_path: Path) -> None:
    # 16 MiB served 128 KiB at a time, 50 ms each (single-threaded FUSE): >= 6 s of
    # reading in 1 MiB blocks, so the interrupt lands mid-pass.
    backing = random_file(tmp_path / "slow.img", 16 * MiB)
    with fuse_mount(backing, tmp_path / "mnt", [], delay=0.05) as source:
        proc = subprocess.Popen(
            [*CLI, "image", str(source), "--case", "CLI-C", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, CUSTODYD_BLOCK_SIZE=str(MiB)),
        )
        store = home / "evidence" / "CLI-C"
        deadline = time.monotonic() + 30
        while not list(store.glob("*/image.raw.part")):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "acquisition never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert out == ""
    [directory] = list(store.iterdir())
    names = sorted(p.name for p in directory.iterdir())
    assert "image.raw" not in names and "image.raw.part" not in names
    assert "image.raw.incomplete" in names
    assert json.loads((directory / "manifest.json").read_text())["status"] == "incomplete"
    listed = one_json(custodyd("evidence", "list", "--status", "incomplete", "--json").stdout)
    assert [m["evidence_id"] for m in listed] == [directory.name]
    assert one_json(custodyd("evidence", "list", "--json").stdout) == []
