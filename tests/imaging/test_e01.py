"""E01 output judged by outside tools: ewfverify/ewfinfo (libewf), The Sleuth Kit
(img_stat, fls), zlib, md5sum and b3sum; segments, compression levels, unreadable
sectors (error2) and damaged chunks named by ``custodyd verify``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from custodyd.daemon.imaging.ewf import layout
from custodyd.daemon.imaging.ewf.reader import EwfImage, segment_paths
from custodyd.daemon.imaging.ewf.verify import hash_ewf
from custodyd.daemon.imaging.image_file import open_image
from custodyd.daemon.imaging.output import parse_size
from tests.conftest import FORENSIC_IMAGES, needs_root
from tests.imaging.conftest import MiB, chmod_writable, fuse_mount, random_file, tool_digest
from tests.imaging.test_cli import custodyd, one_json

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("ewfverify", "ewfinfo", "img_stat", "fls", "b3sum")),
    reason="needs ewf-tools, sleuthkit and b3sum",
)


def mixed_file(path: Path, size: int) -> Path:
    """A quarter random, half zeros, a quarter text: every chunk kind (raw, deflated)."""
    quarter = size // 4
    random_file(path, quarter, seed=5)
    text = b"".join(b"%06d custody log line, integrity preserved\n" % i for i in range(40000))
    with open(path, "ab") as fh:
        fh.write(bytes(size // 2))
        left = size - quarter - size // 2
        while left:
            n = min(left, len(text))
            fh.write(text[:n])
            left -= n
    return path


def acquire_e01(source: Path, store: Path, *extra: str, case: str = "CASE-E01") -> dict[str, Any]:
    proc = custodyd(
        "image",
        str(source),
        "--case",
        case,
        "--store",
        str(store),
        "--format",
        "e01",
        *extra,
        "--json",
    )
    manifest: dict[str, Any] = one_json(proc.stdout)
    return manifest


def ewfverify(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ewfverify", "-q", path], capture_output=True, text=True)


def ewf_md5(report: str) -> str:
    match = re.search(r"MD5 hash calculated over data:\s+([0-9a-f]{32})", report)
    assert match, report
    return match.group(1)


def test_contract_e01_fast_ewfverify_and_ewfinfo(home: Path, tmp_path: Path) -> None:
    source = mixed_file(tmp_path / "mixed.bin", 3 * MiB)
    manifest = acquire_e01(
        source,
        tmp_path / "store",
        "--compression",
        "fast",
        "--examiner",
        "Alice Examiner",
        "--notes",
        "seized at the scene",
    )
    image = manifest["image_path"]
    assert manifest["format"] == "e01"
    assert image.endswith(".E01") and Path(image).is_file()
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", source)
    assert manifest["hashes"]["md5"] == tool_digest("md5sum", source)
    assert manifest["hashes"]["sha1"] == tool_digest("sha1sum", source)
    assert manifest["hashes"]["sha256"] == tool_digest("sha256sum", source)
    assert manifest["verified"] is True and manifest["status"] == "sealed"
    assert manifest["image"]["compressed_chunks"] > 0  # the zeros and text deflate
    assert manifest["image"]["stored_bytes"] < source.stat().st_size

    check = ewfverify(image)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout
    assert ewf_md5(check.stdout) == tool_digest("md5sum", source)

    info = subprocess.run(["ewfinfo", image], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Case number:\s+CASE-E01", info)
    assert re.search(rf"Evidence number:\s+{manifest['evidence_id']}", info)
    assert re.search(r"Examiner name:\s+Alice Examiner", info)
    assert re.search(r"Notes:\s+seized at the scene", info)
    assert "EnCase 6" in info
    assert re.search(rf"MD5:\s+{manifest['hashes']['md5']}", info)
    assert re.search(rf"SHA1:\s+{manifest['hashes']['sha1']}", info)


def test_sleuthkit_reads_the_e01_like_the_raw_image(home: Path, tmp_path: Path) -> None:
    raw = FORENSIC_IMAGES / "dfvfs_mbr.raw"
    manifest = acquire_e01(raw, tmp_path / "store")
    image = manifest["image_path"]

    def run(*args: str) -> str:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    stat_e01, stat_raw = run("img_stat", image), run("img_stat", str(raw))
    assert "ewf" in stat_e01.lower()
    size_e01 = re.search(r"Size of data in bytes:\s+(\d+)", stat_e01)
    size_raw = re.search(r"Size in bytes:\s+(\d+)", stat_raw)
    assert size_e01 and size_raw
    assert int(size_e01.group(1)) == int(size_raw.group(1)) == raw.stat().st_size
    assert re.search(rf"MD5 hash of data:\s+{manifest['hashes']['md5']}", stat_e01)
    assert run("mmls", image) == run("mmls", str(raw))
    for part in manifest["inventory"]["partitions"]:
        offset = str(part["start_sector"])
        listing = run("fls", "-r", "-p", "-o", offset, image)
        assert listing and listing == run("fls", "-r", "-p", "-o", offset, str(raw))
    raw_inventory = one_json(custodyd("inventory", str(raw), "--json").stdout)
    e01_inventory = one_json(custodyd("inventory", image, "--json").stdout)
    for key in ("partitions", "filesystems", "volume_system", "size"):
        assert e01_inventory[key] == raw_inventory[key]
    assert e01_inventory["format"] == "ewf"


def test_segments_split_as_asked(home: Path, tmp_path: Path) -> None:
    source = random_file(tmp_path / "random.bin", 5 * MiB, seed=3)
    manifest = acquire_e01(source, tmp_path / "store", "--segment-size", "1M")
    segments = [Path(p) for p in manifest["image"]["segments"]]
    assert [p.suffix for p in segments] == [".E01", ".E02", ".E03", ".E04", ".E05", ".E06"]
    assert segments == segment_paths(Path(manifest["image_path"]))
    assert all(p.stat().st_size <= 1 * MiB for p in segments)
    check = ewfverify(manifest["image_path"])
    assert check.returncode == 0, check.stdout + check.stderr
    assert ewf_md5(check.stdout) == tool_digest("md5sum", source)
    # random data does not deflate: every chunk is stored raw with its Adler-32
    assert manifest["image"]["compressed_chunks"] == 0


@pytest.mark.parametrize("level", ["none", "best"])
def test_compression_levels(home: Path, tmp_path: Path, level: str) -> None:
    source = mixed_file(tmp_path / "mixed.bin", 2 * MiB)
    manifest = acquire_e01(source, tmp_path / "store", "--compression", level)
    assert manifest["image"]["compression"] == level
    check = ewfverify(manifest["image_path"])
    assert check.returncode == 0, check.stdout + check.stderr
    info = subprocess.run(["ewfinfo", manifest["image_path"]], capture_output=True, text=True)
    if level == "none":
        assert manifest["image"]["compressed_chunks"] == 0
        assert manifest["image"]["stored_bytes"] > source.stat().st_size
        assert "no compression" in info.stdout
    else:
        assert manifest["image"]["stored_bytes"] < source.stat().st_size // 2
        assert "best compression" in info.stdout


def test_compressed_chunks_inflate_with_standard_zlib(tmp_path: Path, home: Path) -> None:
    source = mixed_file(tmp_path / "mixed.bin", 1 * MiB)
    manifest = acquire_e01(source, tmp_path / "store")
    data = source.read_bytes()
    with EwfImage(manifest["image_path"]) as image:
        assert image.chunk_count == len(data) // layout.CHUNK_SIZE
        seen = set()
        for index, stored, compressed in image.iter_stored():
            want = data[index * layout.CHUNK_SIZE : (index + 1) * layout.CHUNK_SIZE]
            if compressed:
                assert zlib.decompress(stored) == want
            else:
                assert stored[:-4] == want
                assert int.from_bytes(stored[-4:], "little") == zlib.adler32(want)
            seen.add(compressed)
        assert seen == {True, False}


def test_open_image_reads_e01_like_raw(home: Path, tmp_path: Path) -> None:
    raw = FORENSIC_IMAGES / "dfvfs_ext2.raw"
    manifest = acquire_e01(raw, tmp_path / "store", "--segment-size", "1M")
    with open_image(manifest["image_path"]) as e01, open_image(raw) as plain:
        assert e01.size == plain.size
        for offset, length in [(0, 512), (32_000, 70_000), (plain.size - 100, 4096)]:
            assert e01.read(offset, length) == plain.read(offset, length)
    # and third-party E01s decode to what the oracle says
    with open_image(FORENSIC_IMAGES / "e01" / "dfvfs_ext2.E01") as other:
        assert other.read(0, other.size) == raw.read_bytes()


def test_verify_names_a_damaged_chunk(home: Path, tmp_path: Path) -> None:
    source = mixed_file(tmp_path / "mixed.bin", 2 * MiB)
    manifest = acquire_e01(source, tmp_path / "store")
    first = Path(manifest["image_path"])
    with EwfImage(first) as image:
        _segment, offset, _size, compressed = image._locate(5)  # a random-data chunk
    assert not compressed
    chmod_writable(first)
    with open(first, "r+b") as fh:
        fh.seek(offset + 100)
        byte = fh.read(1)
        fh.seek(offset + 100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    proc = custodyd("verify", manifest["evidence_id"], check=20)
    assert "E01 chunk 5" in proc.stderr and "Adler-32" in proc.stderr
    assert ewfverify(str(first)).returncode != 0  # libewf agrees it is damaged


def test_hash_ewf_of_third_party_images_matches_oracle() -> None:
    import json

    oracle = json.loads((FORENSIC_IMAGES / "oracle.json").read_text())
    for name in ("dfvfs_ext2.E01", "tsk_imageformat_mmls_1.E01"):
        got = hash_ewf(FORENSIC_IMAGES / "e01" / name, window=1 * MiB)
        media = oracle[name]["media"]
        assert (got.bytes, got.blake3, got.md5) == (media["size"], media["blake3"], media["md5"])
        assert got.stored_md5 == media["ewf_stored_md5"] and not got.bad_chunks


def test_refused_when_source_is_not_whole_sectors(home: Path, tmp_path: Path) -> None:
    source = random_file(tmp_path / "odd.bin", 1 * MiB + 100)
    proc = custodyd(
        "image",
        str(source),
        "--case",
        "C",
        "--store",
        str(tmp_path / "s"),
        "--format",
        "e01",
        check=2,
    )
    assert "512-byte sectors" in proc.stderr
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").rglob("*.E01*"))


def test_segment_extensions_and_sizes() -> None:
    assert [layout.segment_extension(n) for n in (1, 9, 99, 100, 101, 126, 775, 776)] == [
        "E01",
        "E09",
        "E99",
        "EAA",
        "EAB",
        "EBA",
        "EZZ",
        "FAA",
    ]
    assert parse_size("1500M") == 1500 * MiB and parse_size("2G") == 2 * 1024 * MiB
    assert parse_size("650MiB") == 650 * MiB and parse_size("4096") == 4096


SECTOR = 512
BAD = [(1954 * SECTOR, 2 * SECTOR), (3_000_000, 10)]


@needs_root
@pytest.mark.root
def test_unreadable_sectors_are_in_error2(home: Path, tmp_path: Path) -> None:
    backing = random_file(tmp_path / "backing.img", 4 * MiB, seed=11)
    with fuse_mount(backing, tmp_path / "mnt", BAD) as source:
        manifest = acquire_e01(source, tmp_path / "store")
    want = [(1954, 2), (3_000_000 // SECTOR, 1)]
    assert [(r["start_sector"], r["sectors"]) for r in manifest["read_errors"]] == want
    image = manifest["image_path"]
    with EwfImage(image) as ewf:
        assert ewf.info.errors == want
    info = subprocess.run(["ewfinfo", image], capture_output=True, text=True, check=True).stdout
    assert "Read errors during acquiry" in info
    assert "at sector(s): 1954 - 1955 number: 2" in info
    # the stored MD5 is of what was read (bad sectors zero-filled): ewfverify agrees
    zero_filled = bytearray(backing.read_bytes())
    for start, count in want:
        zero_filled[start * SECTOR : (start + count) * SECTOR] = bytes(count * SECTOR)
    check = ewfverify(image)
    assert check.returncode == 0, check.stdout
    import hashlib

    assert ewf_md5(check.stdout) == hashlib.md5(zero_filled).hexdigest()
    assert manifest["verified"] is True
    # pass 1 skipped the bad areas; the rescue passes read them sector by sector into a
    # side file and the E01 was written once more with them; nothing of that is left
    log = (Path(image).parent / "acquisition.log").read_text()
    assert "rewriting the E01 image with the rescued sectors" in log
    assert sorted(p.name for p in Path(image).parent.iterdir() if "E0" in p.name) == ["image.E01"]
    assert os.path.exists(image)


def test_raw_acquisition_of_an_e01_file_verifies_as_raw(home: Path, tmp_path: Path) -> None:
    """A seized E01 container acquired as raw bytes is raw evidence: verify hashes the
    container itself (what b3sum sees), it does not decode it because of its content."""
    source = tmp_path / "seized.bin"
    shutil.copyfile(FORENSIC_IMAGES / "e01" / "dfvfs_ext2.E01", source)
    whole = source.stat().st_size // 512 * 512
    os.truncate(source, whole)  # raw sources are whole sectors; the EWF header stays
    proc = custodyd(
        "image", str(source), "--case", "CASE-RAW", "--store", str(tmp_path / "s"), "--json"
    )
    manifest = one_json(proc.stdout)
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", source)
    assert layout.is_ewf(source) is False  # the name, not the content, says E01
    custodyd("verify", manifest["evidence_id"])  # exits 0: the raw image matches
