"""Fixtures for the appliance tests: a running udevd, loop devices we own, a fake ledger.

Other helpers use loop devices on the same machine at the same time: we only
detach what we attached, and we clear the kernel read-only flag on our loop
devices before detaching them (Linux keeps BLKROSET on an empty loop device).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import is_root

UDEVD = "/lib/systemd/systemd-udevd"


def udevd_running() -> bool:
    ping = subprocess.run(["udevadm", "control", "--ping"], capture_output=True, check=False)
    return ping.returncode == 0


@pytest.fixture(scope="session")
def udevd() -> Iterator[None]:
    """A running udevd (started if none runs; left running for other users)."""
    if not is_root():
        pytest.skip("needs root to run udevd")
    if not udevd_running():
        if not Path(UDEVD).exists():
            pytest.skip(f"{UDEVD} is not installed (Debian package udev)")
        subprocess.run([UDEVD, "--daemon"], check=True)
        for _ in range(50):
            if udevd_running():
                break
            threading.Event().wait(0.1)
        subprocess.run(
            ["udevadm", "trigger", "--subsystem-match=block", "--action=add"], check=False
        )
        subprocess.run(["udevadm", "settle", "--timeout=30"], check=False)
    yield


def settle() -> None:
    subprocess.run(["udevadm", "settle", "--timeout=30"], check=False)


class Loops:
    """Attach loop devices; detach only ours at the end (read-only flag cleared first)."""

    def __init__(self) -> None:
        self.attached: list[str] = []

    def attach(self, backing: Path, *, read_only: bool = True, partscan: bool = False) -> str:
        args = ["losetup", "-f", "--show"]
        if read_only:
            args.append("-r")
        if partscan:
            args.append("-P")
        node = subprocess.run(
            [*args, str(backing)], capture_output=True, text=True, check=True
        ).stdout.strip()
        self.attached.append(node)
        return node

    def detach(self, node: str) -> None:
        subprocess.run(["blockdev", "--setrw", node], capture_output=True, check=False)
        name = Path(node).name
        for part in Path(f"/sys/class/block/{name}").glob(f"{name}p*"):
            subprocess.run(["blockdev", "--setrw", f"/dev/{part.name}"], check=False)
        subprocess.run(["losetup", "-d", node], capture_output=True, check=False)
        if node in self.attached:
            self.attached.remove(node)

    def cleanup(self) -> None:
        for node in list(self.attached):
            self.detach(node)


@pytest.fixture
def loops() -> Iterator[Loops]:
    if not is_root():
        pytest.skip("needs root (loop devices)")
    if shutil.which("losetup") is None:
        pytest.skip("losetup is not installed")
    owner = Loops()
    yield owner
    owner.cleanup()


@dataclass
class FakeEntry:
    index: int
    action: str
    actor: str
    case: str | None
    evidence: str | None
    payload: dict[str, Any]


@dataclass
class FakeLedger:
    """Records appends in memory (unit tests of the daemon without the real ledger)."""

    entries: list[FakeEntry] = field(default_factory=list)

    def append(
        self,
        action: str,
        *,
        actor: str,
        case: str | None = None,
        evidence: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> FakeEntry:
        entry = FakeEntry(len(self.entries), action, actor, case, evidence, dict(payload or {}))
        self.entries.append(entry)
        return entry

    def history(self, evidence_id: str) -> list[FakeEntry]:
        return [e for e in self.entries if e.evidence == evidence_id]

    def actions(self) -> list[str]:
        return [e.action for e in self.entries]


def sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
