"""The engine's digests against outside tools, piecewise windows, and the .part/.incomplete rule."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import blake3
import pytest

from custodyd.daemon.errors import InvalidInput, SourceError
from custodyd.daemon.imaging.engine import image_source
from custodyd.daemon.imaging.hashers import parse_hashes
from custodyd.daemon.imaging.piecewise import diff_windows
from custodyd.daemon.imaging.progress import Progress
from custodyd.daemon.imaging.verify import hash_image, verify_image
from tests.imaging.conftest import KiB, MiB, tool_digest


def run(source: Path, dest: Path, **kw):  # type: ignore[no-untyped-def]
    params = {"window": 1 * MiB, "block_size": 256 * KiB, "buffers": 3}
    params.update(kw)
    return image_source(source, dest, **params)


def test_digests_equal_coreutils_and_b3sum(source_file: Path, tmp_path: Path) -> None:
    result = run(source_file, tmp_path / "image.raw", hashes=("sha256", "md5", "sha1"))
    assert result.complete and result.error is None
    assert result.bytes == source_file.stat().st_size
    assert result.hashes["blake3"] == tool_digest("b3sum", source_file)
    assert result.hashes["sha256"] == tool_digest("sha256sum", source_file)
    assert result.hashes["md5"] == tool_digest("md5sum", source_file)
    assert result.hashes["sha1"] == tool_digest("sha1sum", source_file)
    image = tmp_path / "image.raw"
    assert image.read_bytes() == source_file.read_bytes()
    assert not (tmp_path / "image.raw.part").exists()
    assert result.errors.ranges == []


def test_piecewise_windows_cover_the_source(source_file: Path, tmp_path: Path) -> None:
    result = run(source_file, tmp_path / "image.raw", window=1 * MiB)
    data = source_file.read_bytes()
    expected = [blake3.blake3(data[i : i + MiB]).hexdigest() for i in range(0, len(data), MiB)]
    assert result.piecewise == expected and len(expected) == 4


def test_window_larger_than_block_and_not_multiple(source_file: Path, tmp_path: Path) -> None:
    # A window that does not divide the block size still splits exactly.
    result = run(source_file, tmp_path / "image.raw", window=300_000, block_size=128 * KiB)
    data = source_file.read_bytes()
    assert result.piecewise == [
        blake3.blake3(data[i : i + 300_000]).hexdigest() for i in range(0, len(data), 300_000)
    ]


def test_empty_source(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    result = run(empty, tmp_path / "image.raw")
    assert result.complete and result.bytes == 0
    assert result.hashes["blake3"] == blake3.blake3(b"").hexdigest()
    assert (tmp_path / "image.raw").read_bytes() == b""


def test_progress_reports_bytes_rate_eta(source_file: Path, tmp_path: Path) -> None:
    seen: list[Progress] = []
    run(source_file, tmp_path / "image.raw", progress=seen.append)
    assert seen, "no progress reported"
    last = seen[-1]
    assert last.bytes_done == last.bytes_total == source_file.stat().st_size
    assert last.rate_bps > 0 and last.eta_seconds == 0


def test_cancel_keeps_partial_output_as_incomplete(source_file: Path, tmp_path: Path) -> None:
    cancel = threading.Event()

    def stop_after_first(p: Progress) -> None:
        cancel.set()

    result = run(source_file, tmp_path / "image.raw", progress=stop_after_first, cancel=cancel)
    # The meter reports immediately on the first block, so the pass stops early.
    assert result.outcome == "cancelled"
    assert result.bytes < source_file.stat().st_size
    assert not (tmp_path / "image.raw").exists()
    assert not (tmp_path / "image.raw.part").exists()
    assert (tmp_path / "image.raw.incomplete").exists()


def test_missing_source_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        run(tmp_path / "nope", tmp_path / "image.raw")


def test_existing_part_file_is_refused(source_file: Path, tmp_path: Path) -> None:
    (tmp_path / "image.raw.part").write_bytes(b"x")
    with pytest.raises(Exception, match="already exists"):
        run(source_file, tmp_path / "image.raw")


def test_verify_names_the_changed_window(source_file: Path, tmp_path: Path) -> None:
    image = tmp_path / "image.raw"
    result = run(source_file, image)
    with open(image, "r+b") as fh:
        fh.seek(2 * MiB + 5)
        byte = fh.read(1)
        fh.seek(2 * MiB + 5)
        fh.write(bytes([byte[0] ^ 0x01]))
    check = verify_image(
        image,
        expected_blake3=result.hashes["blake3"],
        expected_piecewise=result.piecewise,
        window=MiB,
        block_size=256 * KiB,
        buffers=3,
    )
    assert not check.match
    assert [w["index"] for w in check.mismatched_windows] == [2]
    assert check.mismatched_windows[0]["offset"] == 2 * MiB


def test_hash_image_equals_b3sum(source_file: Path) -> None:
    got = hash_image(source_file, window=MiB, block_size=256 * KiB, buffers=2)
    assert got.blake3 == tool_digest("b3sum", source_file)


def test_parse_hashes() -> None:
    assert parse_hashes("SHA256, md5,sha256,blake3") == ["sha256", "md5"]
    assert parse_hashes(["sha-1"]) == ["sha1"]
    with pytest.raises(InvalidInput):
        parse_hashes("crc32")


def test_diff_windows_reports_missing() -> None:
    assert diff_windows(10, ["a", "b"], ["a"], 15) == [
        {"index": 1, "offset": 10, "length": 5, "expected": "b", "actual": None}
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to open a free loop device")
def test_empty_block_device_is_refused(tmp_path: Path) -> None:
    """A block device of size 0 (no medium; a detached loop) is never imaged as evidence."""
    free = subprocess.run(["losetup", "-f"], capture_output=True, text=True, check=True)
    device = Path(free.stdout.strip())
    with pytest.raises(SourceError, match="no data"):
        run(device, tmp_path / "image.raw")
    assert not (tmp_path / "image.raw").exists()
