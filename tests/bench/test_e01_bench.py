"""E01 throughput: whole ``custodyd image --format e01 --compression fast`` processes
against ``ewfacquirestream -c fast`` and ``dd bs=16M conv=fsync``, in the same run.

Two sources of ``CUSTODYD_BENCH_E01_MIB`` MiB (default 512, what CI runs; the issue's
figures are 1024): *mixed* (a quarter random, half zeros, a quarter text) and
*random*. Every run starts from a cold page cache (``sync; echo 3 >
/proc/sys/vm/drop_caches``, root only); the tools alternate round by round and the
median of ``CUSTODYD_BENCH_E01_ROUNDS`` (default 3) counts. Writers are timed until
their data is on disk: dd with ``conv=fsync``, ewfacquirestream followed by ``sync``
of its segments, custodyd fsyncs every segment before it renames them. custodyd is
timed as a whole process (interpreter start, database, ledger, sealing, no verify
pass), and the pass alone (its manifest's ``seconds``) is reported beside it.

Targets from the issue (reported, not asserted): E01 >= 4x ewfacquirestream and
>= 0.7x dd. CI asserts regression floors only: the whole process >= 1x
ewfacquirestream, and the pass alone >= 0.1x dd (a whole process carries a fixed
cost, ~0.7 s for the CLI's imports, the database and sealing, that weighs heavily
at CI sizes), ewfacquirestream's CPU seconds >= 0.9x ours, and a flat memory
(peak RSS < 200 MiB). Every tool's CPU seconds are reported too: on this shared
2-core machine wall times swing with the neighbours' load, CPU seconds much less.
Per phase: the whole process, the pass (manifest ``seconds``), the fixed cost
between them, and the acquisition log's line on where the pass's CPU went.
Results: ``tests/bench/results/e01.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from custodyd.daemon.bench.processes import custodyd_command, drop_caches
from tests.conftest import REPO

pytestmark = [pytest.mark.bench, pytest.mark.slow]

MiB = 1024 * 1024
SIZE = int(float(os.environ.get("CUSTODYD_BENCH_E01_MIB", "512")) * MiB)
ROUNDS = int(os.environ.get("CUSTODYD_BENCH_E01_ROUNDS", "3"))
RESULTS = REPO / "tests" / "bench" / "results" / "e01.json"
TARGETS = {"vs_ewfacquirestream": 4.0, "vs_dd": 0.7}
# Wall-clock floors (not judged on an oversubscribed machine, as in daemon/bench) and a
# CPU-time floor (always judged: ewfacquirestream's CPU seconds / custodyd's).
FLOORS = {"vs_ewfacquirestream": 1.0, "pass_vs_dd": 0.1, "cpu_vs_ewfacquirestream": 0.9}
WALL_FLOORS = {"vs_ewfacquirestream", "pass_vs_dd"}
OVERSUBSCRIBED = 1.5  # load average per CPU above which wall-clock ratios are not judged


def make_sources(work: Path) -> dict[str, Path]:
    random_path, mixed_path = work / "random.bin", work / "mixed.bin"
    with open(random_path, "wb") as fh:
        left = SIZE
        while left:
            n = min(left, 16 * MiB)
            fh.write(os.urandom(n))
            left -= n
    quarter = SIZE // 4
    text = b"".join(b"%08d custody log: item sealed, digest recorded\n" % i for i in range(350_000))
    with open(mixed_path, "wb") as fh, open(random_path, "rb") as rnd:
        fh.write(rnd.read(quarter))
        for _ in range(SIZE // 2 // (16 * MiB) or 1):
            fh.write(bytes(min(16 * MiB, SIZE // 2)))
        left = SIZE - fh.tell()
        while left:
            n = min(left, len(text))
            fh.write(text[:n])
            left -= n
    for path in (random_path, mixed_path):
        assert path.stat().st_size == SIZE
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())
    return {"mixed": mixed_path, "random": random_path}


# Runs the command and prints its exit code, peak RSS (KiB) and CPU seconds (user+system)
# as the kernel accounted them to that process alone.
PROBE = (
    "import os, subprocess, sys\n"
    "out = open(sys.argv[1], 'w')\n"
    "stdin = open(sys.argv[2], 'rb') if sys.argv[2] != '-' else subprocess.DEVNULL\n"
    "p = subprocess.Popen(sys.argv[3:], stdin=stdin, stdout=out, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, usage.ru_utime + usage.ru_stime)\n"
)


def run_timed(
    argv: list[str],
    *,
    stdin: Path | None = None,
    env: dict[str, str] | None = None,
    stdout: Path | None = None,
) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of one process, from a cold cache."""
    drop_caches()
    command = [sys.executable, "-c", PROBE, str(stdout or os.devnull), str(stdin or "-"), *argv]
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    code, kib, cpu = proc.stdout.split()
    assert int(code) == 0, f"{argv[0]} exited {code}"
    return elapsed, int(kib) / 1024, float(cpu)


@pytest.mark.skipif(
    not all(shutil.which(t) for t in ("dd", "ewfacquirestream", "ewfverify", "sync")),
    reason="needs dd and ewf-tools",
)
def test_e01_throughput(tmp_path: Path) -> None:
    work = tmp_path / "bench"
    work.mkdir()
    sources = make_sources(work)
    env = dict(os.environ, CUSTODYD_HOME=str(tmp_path / "home"))
    times: dict[str, dict[str, list[float]]] = {k: {} for k in sources}
    pass_seconds: dict[str, list[float]] = {k: [] for k in sources}
    pass_cpu: dict[str, str] = {}
    rss: list[float] = []
    stored: dict[str, int] = {}

    cpu: dict[str, dict[str, list[float]]] = {k: {} for k in sources}

    def record(kind: str, tool: str, seconds: float, cpu_seconds: float) -> None:
        times[kind].setdefault(tool, []).append(seconds)
        cpu[kind].setdefault(tool, []).append(cpu_seconds)

    load_before = os.getloadavg()[0]
    for round_ in range(ROUNDS):
        for kind, source in sources.items():
            out = work / "dd.out"
            wall, _, used = run_timed(["dd", f"if={source}", f"of={out}", "bs=16M", "conv=fsync"])
            record(kind, "dd", wall, used)
            out.unlink()

            target = work / "ewf" / "image"
            target.parent.mkdir(exist_ok=True)
            argv = ["ewfacquirestream", "-q", "-c", "fast", "-f", "encase6", "-S", "4G"]
            wall, _, used = run_timed([*argv, "-t", str(target)], stdin=source)
            start = time.perf_counter()  # it does not fsync: its data reaches the disk here
            subprocess.run(["sync", *map(str, target.parent.glob("image.E*"))], check=True)
            record(kind, "ewfacquirestream", wall + time.perf_counter() - start, used)
            shutil.rmtree(target.parent)

            manifest_path = work / "manifest.json"
            store = work / "store"
            command = custodyd_command()  # the installed command users run
            options = ["--format", "e01", "--compression", "fast", "--no-verify", "--json"]
            wall, peak, used = run_timed(
                [
                    *command,
                    "image",
                    str(source),
                    "--case",
                    f"BENCH-{kind}",
                    "--store",
                    str(store),
                    *options,
                ],
                env=env,
                stdout=manifest_path,
            )
            record(kind, "custodyd_e01_fast", wall, used)
            rss.append(peak)
            manifest: dict[str, Any] = json.loads(manifest_path.read_text())
            pass_seconds[kind].append(manifest["seconds"])
            log = Path(manifest["image_path"]).with_name("acquisition.log").read_text()
            pass_cpu[kind] = next(
                (line.split(" ", 1)[1] for line in log.splitlines() if "pass 1 CPU" in line), ""
            )
            stored[kind] = manifest["image"]["stored_bytes"]
            if round_ == 0:  # the benchmarked image is a valid E01 of the source
                check = subprocess.run(
                    ["ewfverify", "-q", manifest["image_path"]], capture_output=True, text=True
                )
                assert check.returncode == 0, check.stdout
            subprocess.run(["chmod", "-R", "u+w", str(store)], check=True)
            shutil.rmtree(store)

    load_after = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    oversubscribed = max(load_before, load_after) > OVERSUBSCRIBED * cpus
    report: dict[str, Any] = {
        "size_bytes": SIZE,
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
        "oversubscribed": oversubscribed,
        "rounds": ROUNDS,
        "cold_cache": os.geteuid() == 0,
        "cpus": os.cpu_count(),
        "targets": TARGETS,
        "floors": FLOORS,
        "peak_rss_mib": round(max(rss), 1),
        "kinds": {},
    }
    for kind in sources:
        med = {tool: statistics.median(ts) for tool, ts in times[kind].items()}
        ours = med["custodyd_e01_fast"]
        report["kinds"][kind] = {
            "seconds": {tool: [round(t, 3) for t in ts] for tool, ts in times[kind].items()},
            "cpu_seconds": {tool: [round(t, 3) for t in ts] for tool, ts in cpu[kind].items()},
            "median_mb_per_s": {tool: round(SIZE / t / 1e6, 1) for tool, t in med.items()},
            "pass_seconds": pass_seconds[kind],
            "fixed_seconds": [  # the whole process minus the pass: start-up, sealing, exit
                round(whole - p, 3)
                for whole, p in zip(
                    times[kind]["custodyd_e01_fast"], pass_seconds[kind], strict=True
                )
            ],
            "pass_cpu_last_round": pass_cpu[kind],
            "pass_mb_per_s": round(SIZE / statistics.median(pass_seconds[kind]) / 1e6, 1),
            "stored_bytes": stored[kind],
            "ratios": {
                "vs_ewfacquirestream": round(med["ewfacquirestream"] / ours, 3),
                "vs_dd": round(med["dd"] / ours, 3),
                "pass_vs_dd": round(med["dd"] / statistics.median(pass_seconds[kind]), 3),
                "pass_vs_ewfacquirestream": round(
                    med["ewfacquirestream"] / statistics.median(pass_seconds[kind]), 3
                ),
                "cpu_vs_ewfacquirestream": round(
                    statistics.median(cpu[kind]["ewfacquirestream"])
                    / statistics.median(cpu[kind]["custodyd_e01_fast"]),
                    3,
                ),
            },
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    for kind, result in report["kinds"].items():
        for name, floor in FLOORS.items():
            if oversubscribed and name in WALL_FLOORS:
                continue  # wall clock on a saturated machine measures the scheduler
            assert result["ratios"][name] >= floor, (kind, name, report)
    assert max(rss) < 200, report
