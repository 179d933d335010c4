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

Beside the wall-clock seconds, the CPU seconds (user+sys) of each tool's process and of
the FUSE server (itself a Python process sharing the cores) during each run are
reported: on a shared machine they say what each run costs whatever the load.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def children_cpu() -> float:
    """CPU seconds of every child process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def server_cpu(mountpoint: Path) -> float:
    """CPU seconds so far of the FUSE server mounted at ``mountpoint``."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"tests.imaging.faulty_fuse" in argv and str(mountpoint).encode() in argv:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return 0.0


class Costs:
    """CPU seconds of the tool's processes and of the FUSE server, per run."""

    def __init__(self, mountpoint: Path) -> None:
        self.mountpoint = mountpoint
        self.figures: dict[str, list[float]] = {}

    def measure(self, name: str, work: Callable[[], float]) -> float:
        tool, server = children_cpu(), server_cpu(self.mountpoint)
        seconds = work()
        self.figures.setdefault(f"{name}_cpu", []).append(round(children_cpu() - tool, 3))
        self.figures.setdefault(f"{name}_fuse_server_cpu", []).append(
            round(server_cpu(self.mountpoint) - server, 3)
        )
        return seconds


def run(backing: Path, *args: str) -> float:
    drop_file(backing)
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def interrupted_at_half(
    custodyd: str, source: Path, store: Path, backing: Path, costs: Costs
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
    outcome: list[subprocess.CompletedProcess[str]] = []

    def resume() -> float:
        drop_file(backing)
        start = time.perf_counter()
        outcome.append(
            subprocess.run(
                [custodyd, "image", "--resume", evidence_id, "--json"],
                capture_output=True,
                text=True,
                check=True,
            )
        )
        return time.perf_counter() - start

    took = costs.measure("custodyd_resume_after_half", resume)
    done = outcome[0]
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
    costs = Costs(tmp_path / "mnt")
    with fuse_mount(backing, tmp_path / "mnt", BAD) as source:
        for n in range(ROUNDS):
            out, mapf = tmp_path / f"dd{n}.img", tmp_path / f"dd{n}.map"
            seconds["ddrescue"].append(
                costs.measure(
                    "ddrescue",
                    lambda out=out, mapf=mapf: run(  # type: ignore[misc]
                        backing, "ddrescue", "-q", str(source), str(out), str(mapf)
                    ),
                )
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
            ran: list[subprocess.CompletedProcess[str]] = []

            def acquire(store: Path = store, ran: list = ran) -> float:  # type: ignore[type-arg]
                drop_file(backing)
                start = time.perf_counter()
                argv = [custodyd, "image", str(source), "--case", "BENCH", "--store", str(store)]
                ran.append(
                    subprocess.run([*argv, "--json"], capture_output=True, text=True, check=True)
                )
                return time.perf_counter() - start

            seconds["custodyd"].append(costs.measure("custodyd", acquire))
            manifest = json.loads(ran[0].stdout)
            found = [(r["offset"], r["length"]) for r in manifest["read_errors"]]
            want = [(b.pos, b.size) for b in ours.blocks if b.status == mapfile.BAD_SECTOR]
            assert found == want, "custodyd and ddrescue disagree on the bad sectors"
            subprocess.run(["chmod", "-R", "u+w", str(store)], check=True)
            subprocess.run(["rm", "-rf", str(store)], check=True)

            resumed = interrupted_at_half(custodyd, source, tmp_path / f"half{n}", backing, costs)
            seconds["custodyd_resume_after_half"].append(resumed[0])
            assert resumed[1]["hashes"] == manifest["hashes"], "resume differs from a full run"
    oversubscribed = busy()
    median = {k: statistics.median(v) for k, v in seconds.items()}
    report: dict[str, Any] = {
        "size_bytes": SIZE,
        "bad_ranges": BAD,
        "rounds": ROUNDS,
        "seconds": seconds,
        "median_seconds": median,
        "cpu_seconds": costs.figures,
        "median_cpu_seconds": {k: statistics.median(v) for k, v in costs.figures.items()},
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
