"""Bad sectors for real: a FUSE file that fails with EIO in chosen ranges, imaged directly
and through a read-only loop device. The error map must name exactly those sectors,
every other byte must equal the backing data, and ``read_errors`` must say so."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from custodyd.daemon.acquisition import acquire
from custodyd.daemon.context import AppContext
from tests.conftest import needs_root
from tests.imaging.conftest import (
    MiB,
    fuse_mount,
    loop_attach,
    loop_detach,
    random_file,
    tool_digest,
)

pytestmark = [needs_root, pytest.mark.root]

SECTOR = 512
# (offset, length) of failing bytes: two whole sectors; 10 bytes inside one sector; a
# run across the 256 KiB block boundary; the very last sector of the source.
BAD = [
    (1954 * SECTOR, 2 * SECTOR),
    (3_000_000, 10),
    (262_144 - 1024, 2048),
    (4 * MiB - SECTOR, SECTOR),
]


def expected_map(bad: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Failing byte ranges widened to whole sectors, sorted and merged (offset, length)."""
    sectors = sorted(
        s for off, ln in bad for s in range(off // SECTOR, (off + ln - 1) // SECTOR + 1)
    )
    out: list[list[int]] = []
    for s in sectors:
        if out and out[-1][0] + out[-1][1] == s:
            out[-1][1] += 1
        elif not out or out[-1][0] + out[-1][1] < s:
            out.append([s, 1])
    return [(s * SECTOR, n * SECTOR) for s, n in out]


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(FUSE file with the BAD ranges, its backing file)."""
    backing = random_file(tmp_path / "backing.img", 4 * MiB, seed=11)
    with fuse_mount(backing, tmp_path / "mnt", BAD) as source:
        yield source, backing


def check_image(manifest: dict, backing: Path) -> None:  # type: ignore[type-arg]
    want = expected_map(BAD)
    got = [(r["offset"], r["length"]) for r in manifest["read_errors"]]
    assert got == want
    assert manifest["read_error_count"] == len(want)
    assert manifest["read_error_bytes"] == sum(n for _, n in want)
    for r in manifest["read_errors"]:
        assert r["start_sector"] == r["offset"] // SECTOR
        assert r["sectors"] == r["length"] // SECTOR
    image = Path(manifest["image_path"]).read_bytes()
    source = bytearray(backing.read_bytes())
    assert len(image) == len(source) == manifest["bytes"]
    for off, ln in want:
        assert image[off : off + ln] == bytes(ln), "bad sectors must be zero-filled"
        source[off : off + ln] = bytes(ln)
    assert image == bytes(source), "every readable byte must equal the backing data"
    assert manifest["hashes"]["blake3"] == tool_digest("b3sum", Path(manifest["image_path"]))
    assert manifest["verified"] is True


def test_expected_map_helper() -> None:
    assert expected_map([(0, 1), (511, 2), (2048, 512)]) == [(0, 1024), (2048, 512)]


def test_fuse_file_with_bad_ranges(ictx: AppContext, faulty: tuple[Path, Path]) -> None:
    source, backing = faulty
    fd = os.open(source, os.O_RDONLY)
    try:
        with pytest.raises(OSError):  # the fault is real
            os.pread(fd, SECTOR, 1954 * SECTOR)
        assert len(os.pread(fd, SECTOR, 1953 * SECTOR)) == SECTOR
    finally:
        os.close(fd)
    manifest = acquire(ictx, source, "BAD-1", actor="user:alice")
    check_image(manifest, backing)
    acquired = [
        e for e in ictx.ledger.history(manifest["evidence_id"]) if e.action == "evidence.acquired"
    ]
    assert acquired[0].payload["read_errors"] == manifest["read_errors"]
    log = (Path(manifest["image_path"]).parent / "acquisition.log").read_text()
    assert log.count("unreadable:") == len(expected_map(BAD))


def test_loop_device_over_failing_file(ictx: AppContext, faulty: tuple[Path, Path]) -> None:
    source, backing = faulty
    device = loop_attach(source, read_only=True)
    try:
        manifest = acquire(ictx, Path(device), "BAD-2", actor="user:alice")
    finally:
        loop_detach(device)
    assert manifest["source"]["is_device"] is True
    assert manifest["source"]["logical_sector_size"] == SECTOR
    check_image(manifest, backing)


def test_cancel_reaches_the_sector_retries(faulty: tuple[Path, Path]) -> None:
    """A long bad region is retried sector by sector; a cancel must not wait for all of it."""
    import threading

    from custodyd.daemon.errors import Cancelled
    from custodyd.daemon.imaging.reader import SourceReader, open_source

    source, _backing = faulty
    cancel = threading.Event()
    fd, info = open_source(source)
    reader = SourceReader(fd, info, cancel=cancel)
    try:
        buf = bytearray(4096)
        assert reader.read(memoryview(buf), 1954 * SECTOR - 1024) == 4096  # spans a bad run
        assert [(r.offset, r.length) for r in reader.errors.ranges] == [(1954 * SECTOR, 1024)]
        cancel.set()
        with pytest.raises(Cancelled):
            reader.read(memoryview(buf), 1954 * SECTOR - 1024)
    finally:
        reader.close()
        os.close(fd)
