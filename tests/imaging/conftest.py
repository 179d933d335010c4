"""Fixtures for the acquisition engine: small block sizes (many blocks, many windows),
random source files, and outside tools as the reference for digests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from tests.conftest import REPO

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture
def small_settings(home: Path) -> Settings:
    """Blocks of 256 KiB, windows of 1 MiB: a few MiB of source exercise every path."""
    return Settings(home=home, block_size=256 * KiB, buffers=3, piecewise_window=1 * MiB)


@pytest.fixture
def ictx(small_settings: Settings, clock: ManualClock) -> Iterator[AppContext]:
    context = open_context(small_settings, clock=clock)
    yield context
    context.close()


def random_file(path: Path, size: int, seed: int = 1) -> Path:
    """Deterministic pseudo-random content (no two windows alike)."""
    import random

    rng = random.Random(seed)
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 1 * MiB)
            fh.write(rng.randbytes(n))
            left -= n
    return path


@pytest.fixture
def source_file(tmp_path: Path) -> Path:
    # Not a multiple of the block, the window or even the sector size.
    return random_file(tmp_path / "source.bin", 3 * MiB + 123_457)


def tool_digest(tool: str, path: Path) -> str:
    out = subprocess.run([tool, str(path)], check=True, capture_output=True, text=True).stdout
    return out.split()[0]


def loop_attach(path: Path, *, read_only: bool = True) -> str:
    args = ["losetup", "-f", "--show"] + (["-r"] if read_only else []) + [str(path)]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def loop_detach(device: str) -> None:
    subprocess.run(["losetup", "-d", device], check=False, capture_output=True)


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A read-only loop device over a 4 MiB random file (root only)."""
    backing = random_file(tmp_path / "disk.img", 4 * MiB, seed=7)
    device = loop_attach(backing)
    try:
        yield device, backing
    finally:
        loop_detach(device)


def chmod_writable(path: Path) -> None:
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)


@contextmanager
def fuse_mount(
    backing: Path,
    mnt: Path,
    bad: list[tuple[int, int]],
    delay: float = 0.0,
    fail_after: int | None = None,
) -> Iterator[Path]:
    """Mount :mod:`tests.imaging.faulty_fuse` over ``backing``; yields the faulty file."""
    if not Path("/dev/fuse").exists():
        pytest.skip("no /dev/fuse")
    mnt.mkdir()
    spec = ",".join(f"{o}:{n}" for o, n in bad) or ","
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.imaging.faulty_fuse",
            str(backing),
            str(mnt),
            spec,
            str(delay),
            *([] if fail_after is None else [str(fail_after)]),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while not os.path.ismount(mnt):
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"FUSE mount failed: {err}")
            time.sleep(0.05)
        yield mnt / "disk.img"
    finally:
        done = subprocess.run(["fusermount3", "-u", str(mnt)], check=False, capture_output=True)
        if done.returncode != 0:  # still busy: detach lazily rather than hang
            subprocess.run(["fusermount3", "-uz", str(mnt)], check=False, capture_output=True)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
