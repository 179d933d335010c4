"""Evidence that a crash or a second process cannot misstate, tested as whole processes.

- ``custodyd image`` killed with SIGKILL at 22 random instants of a 256 MiB
  acquisition (at least 20 of them mid-way), spread over every phase; after each, one
  run of ``custodyd evidence list --case C --status all --json`` (which runs recovery)
  and every item it lists is checked against the files on disk (``invariants.py``).
- A CLI acquisition running while ``custodyd serve`` starts completes sealed (the
  issue's contract: image started, serve started 1 s later).

``CUSTODYD_CRASH_SEED`` (default: time) reproduces a run and ``CUSTODYD_CRASH_KILLS``
adds that many more; the seed and the outcomes are printed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import needs_root
from tests.imaging.conftest import MiB, fuse_mount, random_file
from tests.imaging.invariants import b3sum, check_store

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from custodyd.daemon.cli import main; main()"]
SIZE = 256 * MiB
# Read at import: the ``home`` fixture clears every CUSTODYD_* variable but the home.
SEED = os.environ.get("CUSTODYD_CRASH_SEED")
EXTRA_KILLS = int(os.environ.get("CUSTODYD_CRASH_KILLS", "0"))


def env() -> dict[str, str]:
    return os.environ.copy()  # the ``home`` fixture set CUSTODYD_HOME


def image(source: Path, case: str, store: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "image", str(source), "--case", case, "--store", str(store), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )


def evidence_list(case: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [*CLI, "evidence", "list", "--case", case, "--status", "all", "--json"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    items: list[dict[str, Any]] = json.loads(proc.stdout)
    return items


def remove_store(store: Path) -> None:
    for root, dirs, _files in os.walk(store):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    shutil.rmtree(store, ignore_errors=True)


def wait_for_file(store: Path, name: str, size: int | None, proc: subprocess.Popen[str]) -> None:
    """Poll (2 ms) until ``<store>/<case>/<item>/name`` exists (with ``size`` bytes)."""
    while proc.poll() is None:
        for found in store.glob(f"*/*/{name}"):
            try:
                if size is None or found.stat().st_size == size:
                    return
            except FileNotFoundError:
                pass
        time.sleep(0.002)


# When each kill lands: a random delay after a milestone the test sees on disk, so every
# phase is hit however fast this machine is today — start-up (process started), reading
# (directory created), verify/inventory/sealing (the .part complete), the disk side of
# sealing (the image under its final name).
MILESTONES = {
    "start": (None, 3.0),
    "reading": ("acquisition.log", 2.5),
    "verify..seal": ("image.raw.part", 1.0),
    "renamed": ("image.raw", 0.05),
}
PLAN = ["start"] * 4 + ["reading"] * 7 + ["verify..seal"] * 7 + ["renamed"] * 4


def test_sigkill_at_random_instants_then_evidence_list(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    with source.open("wb") as fh:
        for _ in range(SIZE // MiB):
            fh.write(os.urandom(MiB))
    expected = b3sum(source)
    seed = int(SEED or time.time_ns() % 1_000_000)
    rng = random.Random(seed)
    kinds = PLAN + rng.choices(PLAN, k=EXTRA_KILLS)
    plan = [(kind, rng.uniform(0, MILESTONES[kind][1])) for kind in kinds]

    def kill_once(i: int, kind: str, delay: float) -> tuple[str, bool]:
        """Run, SIGKILL, one ``evidence list``, check. Returns (status, killed alive)."""
        case, store = f"C{i}", tmp_path / f"store-{i}"
        proc = image(source, case, store)
        name = MILESTONES[kind][0]
        if name is not None:
            wait_for_file(store, name, SIZE if name.endswith(".part") else None, proc)
        time.sleep(delay)
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        items = evidence_list(case)  # recovery runs at its start
        context = f"kill {i} ({kind} + {delay:.3f}s, seed {seed})"
        try:
            check_store(items, store)
            assert [item["case"] for item in items] == [case] * len(items)
            assert len(items) <= 1
            if items and items[0]["status"] == "sealed":
                assert items[0]["hashes"]["blake3"] == expected
        except AssertionError as exc:
            raise AssertionError(f"{context}: {exc}") from None
        finally:
            remove_store(store)
        return (items[0]["status"] if items else "not recorded"), alive

    # Three at a time: kills, recoveries and live acquisitions of other cases overlap
    # (each ``evidence list`` recovers around the others' live, locked acquisitions).
    # The database is created first (concurrent first migrations are not the subject).
    assert evidence_list("NONE") == []
    started = time.monotonic()
    results: list[tuple[str, bool]] = []
    with ThreadPoolExecutor(max_workers=3) as pool:
        while sum(alive for _status, alive in results) < 20 and len(plan) < 60:
            # On a fast machine some runs finish before their instant: plan more.
            if results:
                more = rng.choices(PLAN, k=20 - sum(alive for _s, alive in results))
                plan += [(kind, rng.uniform(0, MILESTONES[kind][1])) for kind in more]
            batch = list(enumerate(plan))[len(results) :]
            futures = [pool.submit(kill_once, i, kind, delay) for i, (kind, delay) in batch]
            try:
                results += [f.result() for f in futures]
            finally:
                for future in futures:
                    future.cancel()
    outcomes = Counter(status for status, _alive in results)
    killed = sum(alive for _status, alive in results)
    print(
        f"\ncrash test: seed {seed}, {len(plan)} runs in {time.monotonic() - started:.0f}s, "
        f"{killed} killed mid-way: {dict(outcomes)}"
    )
    assert killed >= 20, f"only {killed} of {len(plan)} runs were still going when killed"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@needs_root
def test_cli_acquisition_completes_sealed_while_serve_starts(home: Path, tmp_path: Path) -> None:
    """The contract: ``custodyd image SRC --case C --store S --json``, then ``custodyd
    serve --no-udev --port P`` 1 s later; the image ends with exit 0, ``sealed``."""
    backing = random_file(tmp_path / "slow.img", 40 * MiB)
    store = tmp_path / "store"
    # 40 MiB served 128 KiB per read, 25 ms each: >= 8 s of reading.
    with fuse_mount(backing, tmp_path / "mnt", [], delay=0.025) as source:
        proc = image(source, "LIVE", store)
        time.sleep(1)
        serve = subprocess.Popen(
            [*CLI, "serve", "--no-udev", "--port", str(free_port())],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env(),
        )
        ready = threading.Event()

        def watch() -> None:
            assert serve.stdout is not None
            for line in serve.stdout:
                if "API listening" in line:
                    ready.set()

        threading.Thread(target=watch, daemon=True).start()
        try:
            assert ready.wait(60), "custodyd serve did not start"
            assert proc.poll() is None, "the acquisition ended before serve was up"
            out, err = proc.communicate(timeout=300)
        finally:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(60)
            except subprocess.TimeoutExpired:
                serve.kill()
    assert proc.returncode == 0, err
    manifest = json.loads(out)
    assert manifest["status"] == "sealed" and manifest["verified"] is True
    assert manifest["hashes"]["blake3"] == b3sum(backing)
    items = evidence_list("LIVE")
    assert [i["status"] for i in items] == ["sealed"]
    check_store(items, store)
