"""``custodyd bench imaging``: imaging, verification and start-up, measured as users run them.

Every figure is a whole ``custodyd`` process (start-up, database, ledger entries,
inventory, sealing included) next to an outside tool run in the same session on
the same file, each from a cold page cache, the tools alternating round by round:

- ``custodyd image --no-verify`` vs ``dd bs=16M conv=fsync`` (both until on disk);
- ``custodyd verify`` vs ``b3sum --no-mmap`` on the sealed image;
- ``custodyd image --hash sha256`` vs ``dc3dd hash=sha256`` and ``dcfldd hash=sha256``
  (each followed by ``sync FILE``: they do not fsync);
- ``custodyd --help``, ``custodyd version`` (best of N, warm) and ``custodyd image`` of
  a 1 MiB file end to end, verify pass included (median of N, warm);
- peak RSS of one ``custodyd image --hash sha256`` process.

Ratios are outside-tool time / custodyd time (higher is better for custodyd).
:data:`TARGETS` are what the project promises (reported, ``met`` true/false);
:data:`FLOORS` are regression floors, far below the targets, that CI asserts so
that disk noise cannot fail a landing while a real regression still does.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from custodyd.daemon.bench.processes import (
    Run,
    custodyd_command,
    drop_caches,
    have,
    run,
    write_random,
)
from custodyd.daemon.bench.targets import judge

MiB = 1024 * 1024

# name -> (comparison, value). Seconds: lower is better; ratios and MiB as stated.
TARGETS: dict[str, tuple[str, float]] = {
    "help_seconds": ("<=", 0.3),
    "version_seconds": ("<=", 0.3),
    "image_1mib_seconds": ("<=", 0.8),
    "image_vs_dd": (">=", 0.90),
    "verify_vs_b3sum": (">=", 0.90),
    "image_sha256_vs_dc3dd": (">", 1.0),
    "image_sha256_vs_dcfldd": (">", 1.0),
    "peak_rss_mib_image": ("<", 200.0),
}
WALL_FLOORS: dict[str, tuple[str, float]] = {
    "image_vs_dd": (">=", 0.5),
    # verify's start-up (~0.55 CPU s: imports, database, ledger) now overlaps the read (the
    # console script's head start, daemon/imaging/headstart.py), so a whole verify takes
    # the longer of the two; on the 1 GiB CI file the start-up can still be the longer one.
    # The last quiet full CI run, before the head start, measured 0.363; no quiet figure
    # with it yet (loaded machine: 0.28 at 1 GiB, 0.54 at 2 GiB), so the floor stays here
    # until one shows it safely above 0.5. It catches a second read or a slower loop.
    "verify_vs_b3sum": (">=", 0.25),
    "image_sha256_vs_dc3dd": (">=", 0.5),
    "image_sha256_vs_dcfldd": (">=", 0.5),
}
FLOORS: dict[str, tuple[str, float]] = {
    **WALL_FLOORS,
    # CPU seconds of the outside tool / of custodyd: load-independent, catches a
    # slower loop, a second read pass or start-up bloat even on a busy machine.
    # (custodyd's start-up is ~0.5-0.8 CPU s; measured at 1 GiB: 0.48, at 2 GiB: 0.35.)
    "verify_vs_b3sum_cpu": (">=", 0.15),
    "image_sha256_vs_dc3dd_cpu": (">=", 0.25),
    # --help must stay far cheaper than importing the domain (the CLI stays lazy).
    "help_vs_domain_import": (">=", 2.0),
    "peak_rss_mib_image": ("<", 200.0),
}
OUTSIDE_TOOLS = ("dd", "b3sum", "dc3dd", "dcfldd", "sync")
# 1-minute load average above this many runnable tasks per CPU: wall-clock ratios
# are not judged (the CPU-time floors are).
OVERSUBSCRIBED = 1.5


class _Session:
    """One scratch ``CUSTODYD_HOME`` and the processes run against it."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.home = work / "home"
        # Only the scratch home: a CUSTODYD_DATABASE_URL etc. of the caller must not leak in.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODYD_")}
        self.env["CUSTODYD_HOME"] = str(self.home)
        self.cli = custodyd_command()
        self.latest: str | None = None

    def custodyd(self, *args: str, cold: bool = True) -> Run:
        return run([*self.cli, *args], cold=cold, env=self.env)

    def image(self, source: Path, *extra: str, cold: bool = True) -> Run:
        result = self.custodyd("image", str(source), "--case", "BENCH", "--json", *extra, cold=cold)
        self.latest = json.loads(result.stdout)["evidence_id"]
        self._keep_only_latest()
        return result

    def _keep_only_latest(self) -> None:
        """Free the disk of earlier bench items (sealed 0555/0444: unseal first)."""
        case = self.home / "evidence" / "BENCH"
        for directory in case.iterdir() if case.is_dir() else ():
            if directory.name != self.latest:
                os.chmod(directory, 0o755)
                shutil.rmtree(directory)


def measure(
    work: Path,
    *,
    size: int,
    rounds: int,
    slow_rounds: int = 1,
    startup_runs: int = 5,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Run the whole benchmark in ``work`` (a scratch directory) and return the report."""
    if not have(*OUTSIDE_TOOLS):
        raise RuntimeError(f"the imaging bench needs {', '.join(OUTSIDE_TOOLS)}")
    load_before = os.getloadavg()[0]
    s = _Session(work)
    source, copy = work / "source.bin", work / "copy.bin"
    say(f"writing {size // MiB} MiB of random data")
    write_random(source, size)
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def record(name: str, *runs: Run) -> Run:
        wall.setdefault(name, []).append(sum(r.seconds for r in runs))
        cpu.setdefault(name, []).append(sum(r.cpu_seconds for r in runs))
        return runs[0]

    for round_ in range(rounds):
        say(f"round {round_ + 1}/{rounds}: dd, custodyd image, b3sum, custodyd verify")
        record("dd", run(["dd", f"if={source}", f"of={copy}", "bs=16M", "conv=fsync"]))
        copy.unlink()
        record("custodyd_image", s.image(source, "--no-verify"))
        assert s.latest is not None
        image = s.home / "evidence" / "BENCH" / s.latest / "image.raw"
        record("b3sum_no_mmap", run(["b3sum", "--no-mmap", str(image)]))
        record("custodyd_verify", s.custodyd("verify", s.latest, "--json"))
    rss = 0.0
    for round_ in range(slow_rounds):
        say(f"sha256 round {round_ + 1}/{slow_rounds}: dc3dd, dcfldd, custodyd image --hash")
        for tool, argv in (
            ("dc3dd_sha256", ["dc3dd", f"if={source}", f"of={copy}", "hash=sha256"]),
            ("dcfldd_sha256", ["dcfldd", f"if={source}", f"of={copy}", "hash=sha256", "bs=16M"]),
        ):
            record(tool, run(argv), run(["sync", str(copy)], cold=False))
            copy.unlink()
        record("custodyd_image_sha256", s.image(source, "--no-verify", "--hash", "sha256"))
        rss = max(rss, s.image(source, "--hash", "sha256", cold=False).peak_rss_mib)
    source.unlink()

    say(f"start-up: --help, version, domain import, 1 MiB image ({startup_runs} runs each)")
    small = work / "small.bin"
    write_random(small, MiB)
    s.image(small, cold=False)  # warm-up: nothing of the first-use setup is timed
    # What every command touching the database imports (the old CLI paid it for --help).
    domain = [sys.executable, "-c", "import custodyd.daemon.acquisition, custodyd.daemon.auth"]
    for _ in range(startup_runs):
        record("help", s.custodyd("--help", cold=False))
        record("version", s.custodyd("version", cold=False))
        record("domain_import", run(domain, cold=False))
        record("image_1mib", s.image(small, cold=False))
    drop_caches()
    load_after = os.getloadavg()[0]

    def ratio(outside: str, ours: str, samples: dict[str, list[float]]) -> float:
        return round(statistics.median(samples[outside]) / statistics.median(samples[ours]), 3)

    pairs = {
        "image_vs_dd": ("dd", "custodyd_image"),
        "verify_vs_b3sum": ("b3sum_no_mmap", "custodyd_verify"),
        "image_sha256_vs_dc3dd": ("dc3dd_sha256", "custodyd_image_sha256"),
        "image_sha256_vs_dcfldd": ("dcfldd_sha256", "custodyd_image_sha256"),
    }
    figures = {
        "help_seconds": round(min(wall["help"]), 3),
        "version_seconds": round(min(wall["version"]), 3),
        "image_1mib_seconds": round(statistics.median(wall["image_1mib"]), 3),
        **{name: ratio(a, b, wall) for name, (a, b) in pairs.items()},
        **{f"{name}_cpu": ratio(a, b, cpu) for name, (a, b) in pairs.items()},
        "help_vs_domain_import": round(min(wall["domain_import"]) / min(wall["help"]), 2),
        "peak_rss_mib_image": round(rss, 1),
    }
    cpus = os.cpu_count() or 1
    oversubscribed = max(load_before, load_after) > OVERSUBSCRIBED * cpus
    floors = judge(figures, FLOORS)
    for name, verdict in floors.items():
        # Wall-clock ratios on an oversubscribed machine measure the scheduler: there
        # the CPU-time floors (always judged) stand in for them.
        verdict["judged"] = not (oversubscribed and name in WALL_FLOORS)
    streams = [n for n in wall if n not in ("help", "version", "domain_import", "image_1mib")]
    return {
        "bench": "imaging",
        "size_bytes": size,
        "rounds": rounds,
        "cold_cache": os.geteuid() == 0,
        "cpus": cpus,
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
        "oversubscribed": oversubscribed,
        "python": sys.version.split()[0],
        "figures": figures,
        "targets": judge(figures, TARGETS),
        "floors": floors,
        "median_mb_per_s": {n: round(size / statistics.median(wall[n]) / 1e6, 1) for n in streams},
        "seconds": {name: [round(v, 3) for v in values] for name, values in wall.items()},
        "cpu_seconds": {name: [round(v, 3) for v in values] for name, values in cpu.items()},
    }
