"""A failing source: ``custodyd image`` against GNU ddrescue on the same source, same run.

The source is a FUSE file (tests/imaging/faulty_fuse.py) over ``CUSTODYD_BENCH_RESCUE_MIB``
MiB of random data (default 1024, the issue's figure, what CI runs) with three
unreadable ranges of 1 MiB. Both tools run as whole processes from a cold page cache,
alternating round by round; medians of ``CUSTODYD_BENCH_RESCUE_ROUNDS`` (default 2).

"Cold" means the source's pages are dropped before each run (the backing file of the
FUSE source and every output), not the whole page cache: both tools then read the
failing source for real, and custodyd's own program files stay cached as they do on a
workstation that runs it every day. On an oversubscribed machine (load average >
1.5 x CPUs) the wall-clock floor measures the scheduler and is reported, not judged.

ddrescue with default options neither hashes nor syncs its output; custodyd hashes
(BLAKE3, and once more over the finished image since bytes recovered after pass 1
change it), fsyncs, verifies by re-reading, inventories, ledgers and seals. So two
ratios are reported: against ``ddrescue`` alone (target <= 1.2) and against what an
examiner would run to get the same assurance (``ddrescue``, ``sync``, ``b3sum`` of
the image). CI asserts only that both find the same bad sectors and a regression
floor (custodyd within 4x of ddrescue alone); the figures go to
``tests/bench/results/rescue.json``.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from custodyd.daemon.bench.imaging import OVERSUBSCRIBED
from custodyd.daemon.imaging import mapfile
from tests.conftest import REPO, needs_root
from tests.imaging.conftest import MiB, fuse_mount

pytestmark = [pytest.mark.bench, pytest.mark.slow, pytest.mark.root, needs_root]

SIZE = int(os.environ.get("CUSTODYD_BENCH_RESCUE_MIB", "1024")) * MiB
ROUNDS = int(os.environ.get("CUSTODYD_BENCH_RESCUE_ROUNDS", "2"))
RESULTS = REPO / "tests" / "bench" / "results" / "rescue.json"
BAD = [(SIZE // 5, MiB), (SIZE // 2 + 4096, MiB), (SIZE - SIZE // 8, MiB)]
FLOOR = 4.0


def drop_file(path: Path) -> None:
    """Evict one file's pages (after writing back its dirty ones)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # why: dirty pages cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run(backing: Path, *args: str) -> float:
    drop_file(backing)
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def interrupted_at_half(
    custodyd: str, source: Path, store: Path, backing: Path
) -> tuple[float, dict]:  # type: ignore[type-arg]
    """SIGINT an acquisition once half the image is written, then time the resume."""
    proc = subprocess.Popen(
        [custodyd, "image", str(source), "--case", "HALF", "--store", str(store), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while True:
        parts = list(store.glob("*/*/image.raw.part"))
        if parts and parts[0].stat().st_size >= SIZE // 2:
            break
        assert proc.poll() is None and time.monotonic() < deadline, "never reached half"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    evidence_id = parts[0].parent.name
    drop_file(backing)
    start = time.perf_counter()
    done = subprocess.run(
        [custodyd, "image", "--resume", evidence_id, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    took = time.perf_counter() - start
    subprocess.run(["chmod", "-R", "u+w", str(store)], check=True)
    subprocess.run(["rm", "-rf", str(store)], check=True)
    return took, json.loads(done.stdout)


def busy() -> bool:
    return os.getloadavg()[0] > OVERSUBSCRIBED * (os.cpu_count() or 1)


def test_rescue_against_ddrescue(tmp_path: Path, home: Path) -> None:
    backing = tmp_path / "backing.img"
    with open(backing, "wb") as fh:
        for _ in range(SIZE // (16 * MiB)):
            fh.write(os.urandom(16 * MiB))
    custodyd = str(Path(sys.executable).parent / "custodyd")
    seconds: dict[str, list[float]] = {
        "ddrescue": [],
        "ddrescue_sync_b3sum": [],
        "custodyd": [],
        "custodyd_resume_after_half": [],
    }
    with fuse_mount(backing, tmp_path / "mnt", BAD) as source:
        for n in range(ROUNDS):
            out, mapf = tmp_path / f"dd{n}.img", tmp_path / f"dd{n}.map"
            seconds["ddrescue"].append(
                run(backing, "ddrescue", "-q", str(source), str(out), str(mapf))
            )
            ours = mapfile.load(mapf, SIZE)
            out.unlink()
            mapf.unlink()

            def examiner(out: Path = out, mapf: Path = mapf) -> None:
                subprocess.run(["ddrescue", "-q", str(source), str(out), str(mapf)], check=True)
                subprocess.run(["sync", str(out)], check=True)
                subprocess.run(["b3sum", "--no-mmap", str(out)], check=True, capture_output=True)

            drop_file(backing)
            start = time.perf_counter()
            examiner()
            seconds["ddrescue_sync_b3sum"].append(time.perf_counter() - start)
            out.unlink()

            store = tmp_path / f"store{n}"
            drop_file(backing)
            start = time.perf_counter()
            done = subprocess.run(
                [
                    custodyd,
                    "image",
                    str(source),
                    "--case",
                    "BENCH",
                    "--store",
                    str(store),
                    "--json",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds["custodyd"].append(time.perf_counter() - start)
            manifest = json.loads(done.stdout)
            found = [(r["offset"], r["length"]) for r in manifest["read_errors"]]
            want = [(b.pos, b.size) for b in ours.blocks if b.status == mapfile.BAD_SECTOR]
            assert found == want, "custodyd and ddrescue disagree on the bad sectors"
            subprocess.run(["chmod", "-R", "u+w", str(store)], check=True)
            subprocess.run(["rm", "-rf", str(store)], check=True)

            resumed = interrupted_at_half(custodyd, source, tmp_path / f"half{n}", backing)
            seconds["custodyd_resume_after_half"].append(resumed[0])
            assert resumed[1]["hashes"] == manifest["hashes"], "resume differs from a full run"
    oversubscribed = busy()
    median = {k: statistics.median(v) for k, v in seconds.items()}
    report = {
        "size_bytes": SIZE,
        "bad_ranges": BAD,
        "rounds": ROUNDS,
        "seconds": seconds,
        "median_seconds": median,
        "custodyd_vs_ddrescue": round(median["custodyd"] / median["ddrescue"], 3),
        "custodyd_vs_ddrescue_sync_b3sum": round(
            median["custodyd"] / median["ddrescue_sync_b3sum"], 3
        ),
        "target_custodyd_vs_ddrescue": 1.2,
        "resume_after_half_vs_full": round(
            median["custodyd_resume_after_half"] / median["custodyd"], 3
        ),
        "target_resume_after_half_vs_full": 0.6,
        "floor_custodyd_vs_ddrescue": FLOOR,
        "oversubscribed": oversubscribed,
        "load_average": os.getloadavg()[0],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if not oversubscribed:
        assert report["custodyd_vs_ddrescue"] <= FLOOR, report
