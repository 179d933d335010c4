"""The rescue map in GNU ddrescue's mapfile format: state changes, strict parsing, and
the outside tool (``ddrescuelog``) reading what we write."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from custodyd.daemon.imaging import mapfile
from custodyd.daemon.imaging.mapfile import MapfileError, RescueMap

# Written by GNU ddrescue 1.27 (on a FUSE file with three failing MiB).
DDRESCUE_MAP = """\
# Mapfile. Created by GNU ddrescue version 1.27
# Command line: ddrescue /tmp/r16/mnt/disk.img out.img map
# Start time:   2026-11-27 15:14:22
# Current time: 2026-11-27 15:14:24
# Finished
# current_pos  current_status  current_pass
0x384FFC00     +               1
#      pos        size  status
0x00000000  0x0C800000  +
0x0C800000  0x00100000  -
0x0C900000  0x12B01000  +
0x1F401000  0x00100000  -
0x1F501000  0x18EFF000  +
0x38400000  0x00100000  -
0x38500000  0x07B00000  +
"""


def states(rmap: RescueMap) -> list[tuple[int, int, str]]:
    return [(b.pos, b.size, b.status) for b in rmap.blocks]


def test_set_splits_and_merges() -> None:
    rmap = RescueMap.new(10_000)
    rmap.set(0, 1000, "+")
    rmap.set(2000, 500, "*")
    rmap.set(1000, 1000, "+")
    rmap.set(2100, 100, "-")
    assert states(rmap) == [
        (0, 2000, "+"),
        (2000, 100, "*"),
        (2100, 100, "-"),
        (2200, 300, "*"),
        (2500, 7500, "?"),
    ]
    rmap.set(2000, 8000, "+")
    assert states(rmap) == [(0, 10_000, "+")]
    assert rmap.finished and rmap.rescued == 10_000 and rmap.finished_prefix() == 10_000


def test_set_clips_at_the_end_and_ignores_empty() -> None:
    rmap = RescueMap.new(100)
    rmap.set(90, 50, "-")
    rmap.set(10, 0, "+")
    assert states(rmap) == [(0, 90, "?"), (90, 10, "-")]
    with pytest.raises(ValueError):
        rmap.set(0, 1, "x")


def test_parses_ddrescues_own_map_and_round_trips() -> None:
    rmap = mapfile.parse(DDRESCUE_MAP, size=0x40000000)
    assert rmap.current_status == "+" and rmap.current_pos == 0x384FFC00
    assert [(b.pos, b.size) for b in mapfile.bad_ranges(rmap)] == [
        (0x0C800000, 0x100000),
        (0x1F401000, 0x100000),
        (0x38400000, 0x100000),
    ]
    again = mapfile.parse(rmap.render(), size=0x40000000)
    assert states(again) == states(rmap)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no status line"),
        ("0x0 Q 1\n", "status line"),
        ("0x0 + 1\n0x0 0x10 +\n0x20 0x10 +\n", "not contiguous"),
        ("0x0 + 1\n0x0 0x10 !\n", "block line"),
        ("0x0 + 1\n0x0 0x0 +\n", "not contiguous"),
        ("0x0 + 1\n0x0 0x10 +\n", "covers 16 bytes"),
    ],
)
def test_malformed_maps_are_refused(text: str, why: str) -> None:
    with pytest.raises(MapfileError, match=why):
        mapfile.parse(text, size=32)


def test_write_is_atomic_and_ddrescuelog_reads_it(tmp_path: Path) -> None:
    rmap = RescueMap.new(1 << 20)
    rmap.set(0, 4096, "+")
    rmap.set(4096, 512, "-")
    rmap.set(4608, (1 << 20) - 4608, "+")
    rmap.current_status = "+"
    path = tmp_path / "ddrescue.map"
    rmap.write(path, command="custodyd image src")
    assert [p.name for p in tmp_path.iterdir()] == ["ddrescue.map"]
    assert states(mapfile.load(path, 1 << 20)) == states(rmap)
    if shutil.which("ddrescuelog") is None:
        pytest.skip("ddrescuelog (Debian gddrescue) is not installed")
    listed = subprocess.run(
        ["ddrescuelog", "--list-blocks=-", "-b", "512", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert listed == ["8"]  # the one bad 512-byte sector, as ddrescuelog counts it


def test_read_back_compares_only_windows_no_rescue_pass_touched() -> None:
    from custodyd.daemon.imaging.readback import compare_windows

    # windows of 100 bytes; pass 1 left bytes 250..260 unread (window 2 rescued later)
    same = compare_windows(["a", "b", "c", "d"], ["a", "b", "C", "d"], [(250, 10)], 100, 0.5)
    assert (same["compared"], same["rescued"], same["mismatched"]) == (3, 1, [])
    # a window pass 1 streamed that reads back differently: the disk is not what was read
    bad = compare_windows(["a", "b", "c", "d"], ["a", "B", "C", "d"], [(250, 10)], 100, 0.5)
    assert bad["mismatched"] == [1]
    # a gap across a window boundary touches both windows
    two = compare_windows(["a", "b", "c"], ["a", "B", "C"], [(195, 10)], 100, 0.5)
    assert (two["compared"], two["mismatched"]) == (1, [])
    # a resume streamed nothing: every window rests on the read-back
    resumed = compare_windows([], ["a", "b"], [(0, 200)], 100, 0.5)
    assert (resumed["compared"], resumed["rescued"]) == (0, 2)
