"""Timing whole processes the way a user meets them: cold page cache, wall clock, peak RSS.

Benchmarks in custodyd compare ``custodyd`` *processes* (start-up included) with
an outside tool run in the same session on the same data, never a service call
in-process: users run the CLI. Dropping the page cache needs root; without it the
figures are reported with ``cold_cache: false``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def custodyd_command() -> list[str]:
    """``custodyd`` as installed beside this interpreter (the console script users run)."""
    script = Path(sys.executable).with_name("custodyd")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from custodyd.daemon.cli import main; main()"]


def drop_caches() -> bool:
    """Write back dirty pages, then drop the page cache (root only). True if dropped."""
    os.sync()
    if os.geteuid() != 0:
        return False
    Path("/proc/sys/vm/drop_caches").write_text("3\n")
    return True


@dataclass(frozen=True)
class Run:
    seconds: float  # wall clock, spawn to exit
    cpu_seconds: float  # user + system time of the process itself
    peak_rss_mib: float
    stdout: str


def run(
    argv: Sequence[str],
    *,
    cold: bool = True,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> Run:
    """Run ``argv`` to completion; wall seconds from spawn to exit, and its own peak RSS."""
    if cold:
        drop_caches()
    # Linux carries the parent's high-water RSS into a forked child's ``ru_maxrss``
    # across exec (a 400 MiB pytest made every child "peak" at 400 MiB): GNU time, a
    # small process, forks the command itself and reports the command's own peak.
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("w+") as peak,
    ):
        command = list(argv)
        if gnu_time is not None:
            command = [gnu_time, "-q", "-f", "%M", "-o", peak.name, *command]
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=out, stderr=err, env=dict(env) if env is not None else None
        )
        _, status, usage = os.wait4(proc.pid, 0)  # this child's (and its child's) rusage
        seconds = time.perf_counter() - started
        peak.seek(0)
        reported = peak.read().strip().splitlines()
        max_rss_kib = int(reported[-1]) if reported and reported[-1].isdigit() else usage.ru_maxrss
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {stderr.strip()}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, max_rss_kib / 1024, stdout)


def best_and_median(samples: list[float]) -> dict[str, float]:
    return {"min": round(min(samples), 3), "median": round(statistics.median(samples), 3)}


def have(*tools: str) -> bool:
    return all(shutil.which(t) for t in tools)


def write_random(path: Path, size: int) -> None:
    """Incompressible data, written and fsynced once per run."""
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 16 * 1024 * 1024)
            fh.write(os.urandom(n))
            left -= n
        fh.flush()
        os.fsync(fh.fileno())
