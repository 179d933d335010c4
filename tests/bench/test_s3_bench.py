"""Acquisition into S3 (SeaweedFS ``weed mini`` on loopback, sharing the 2 cores) against
``dd bs=16M conv=fsync`` to the local disk, in the same run: whole ``custodyd image
--store s3://…`` processes, cold cache, the median of ``CUSTODYD_BENCH_S3_ROUNDS``
(default 3) rounds on ``CUSTODYD_BENCH_S3_MIB`` MiB (default 256, CI; the issue's
figure is 1024). The ratio is reported (``tests/bench/results/s3.json``); CI asserts
only a regression floor (0.03x dd, wall clock, not judged on an oversubscribed
machine) and that the object's BLAKE3 equals b3sum's."""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import pytest

from custodyd.daemon.bench.processes import custodyd_command, have, run, write_random
from tests.conftest import REPO
from tests.store.seaweed import seaweed, weed_binary

pytestmark = [
    pytest.mark.bench,
    pytest.mark.slow,
    pytest.mark.skipif(weed_binary() is None or not have("dd", "b3sum"), reason="needs weed, dd"),
]

MiB = 1024 * 1024
SIZE = int(float(os.environ.get("CUSTODYD_BENCH_S3_MIB", "256")) * MiB)
ROUNDS = int(os.environ.get("CUSTODYD_BENCH_S3_ROUNDS", "3"))
FLOOR = 0.03
# Flat: two 16 MiB pipeline blocks (the upload paces the pass), two 8 MiB parts in flight,
# boto3 itself (measured 166-179 MiB at 512 MiB and 1 GiB; 198-216 with four blocks).
RSS_LIMIT_MIB = 240
RESULTS = REPO / "tests" / "bench" / "results" / "s3.json"


def test_s3_acquisition_vs_dd(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    write_random(source, SIZE)
    b3 = run(["b3sum", "--no-mmap", str(source)], cold=False).stdout.split()[0]
    with seaweed(tmp_path / "weed") as server:
        server.client().create_bucket(Bucket="bench", ObjectLockEnabledForBucket=True)
        env = dict(os.environ, CUSTODYD_HOME=str(tmp_path / "home"), **server.env())
        load_before = os.getloadavg()[0]
        times: dict[str, list[float]] = {"dd": [], "custodyd_s3": []}
        cpu: list[float] = []
        rss: list[float] = []
        for round_ in range(ROUNDS):
            out = tmp_path / "dd.out"
            times["dd"].append(
                run(["dd", f"if={source}", f"of={out}", "bs=16M", "conv=fsync"]).seconds
            )
            out.unlink()
            done = run(
                [
                    *custodyd_command(),
                    "image",
                    str(source),
                    "--case",
                    f"B{round_}",
                    "--store",
                    "s3://bench/run",
                    "--no-verify",
                    "--json",
                ],
                env=env,
            )
            manifest = json.loads(done.stdout)
            assert manifest["hashes"]["blake3"] == b3
            times["custodyd_s3"].append(done.seconds)
            cpu.append(done.cpu_seconds)
            rss.append(done.peak_rss_mib)
        load_after = os.getloadavg()[0]
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["dd"] / med["custodyd_s3"]
    oversubscribed = max(load_before, load_after) > 1.5 * (os.cpu_count() or 1)
    report = {
        "size_bytes": SIZE,
        "rounds": ROUNDS,
        "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "median_mb_per_s": {k: round(SIZE / t / 1e6, 1) for k, t in med.items()},
        "custodyd_cpu_seconds": [round(c, 3) for c in cpu],
        "peak_rss_mib": round(max(rss), 1),
        "ratio_vs_dd": round(ratio, 3),
        "floor": FLOOR,
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
        "oversubscribed": oversubscribed,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if not oversubscribed:
        assert ratio >= FLOOR, report
    assert max(rss) < RSS_LIMIT_MIB, report
