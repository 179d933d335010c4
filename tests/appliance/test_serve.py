"""``custodyd serve`` end to end: real udevd, real loop devices, the real acquisition service.

Each test runs the daemon as a subprocess with its own ``$CUSTODYD_HOME`` and a
free port. ``media_allow_only`` restricts it to the backing files this test
created: other people's loop devices on this machine are never touched.

A USB unplug is a kernel ``remove`` uevent. A busy loop device cannot be
detached at once (``losetup -d`` only sets autoclear until the last close), so
"pulled mid-acquisition" is ``losetup -d`` plus the kernel's own ``remove``
uevent for the device (``udevadm trigger --action=remove``), which is what the
daemon would receive from a real unplug.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from tests.appliance.conftest import Loops, settle, sha256_file
from tests.appliance.test_systemd import record
from tests.conftest import REPO, needs_root

pytestmark = [needs_root, pytest.mark.slow]

CUSTODYD = str(REPO / ".venv" / "bin" / "custodyd")
MiB = 1 << 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def b3sum(path: Path) -> str:
    out = subprocess.run(
        ["b3sum", "--no-names", str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        for _ in range(size // MiB):
            fh.write(os.urandom(MiB))
    return path


def sparse_file(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        fh.write(os.urandom(MiB))
        fh.truncate(size)
    return path


class Daemon:
    def __init__(self, home: Path, allow: list[Path], **env: str) -> None:
        self.home = home
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CUSTODYD_")},
            "CUSTODYD_HOME": str(home),
            "CUSTODYD_MEDIA_ALLOW_ONLY": "true",
            "CUSTODYD_MEDIA_ALLOW": ",".join(str(p) for p in allow),
            **env,
        }
        self.proc: subprocess.Popen[str] | None = None
        self.stdout: list[str] = []
        self.stderr_path = home.parent / f"serve-{self.port}.log"

    def start(self, *args: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        stderr = self.stderr_path.open("a")
        self.proc = subprocess.Popen(
            [CUSTODYD, "serve", "--port", str(self.port), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        stderr.close()
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.stdout.append(line.rstrip())
                if "API listening" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 60
        while not ready.is_set() and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            ready.wait(0.1)
        if not ready.is_set():
            self.kill()
            pytest.fail(f"custodyd serve did not start:\n{self.logs()}")
        # ready line comes after the monitor thread registered present devices
        deadline = time.monotonic() + 30
        while '"event": "ready"' not in self.logs() and time.monotonic() < deadline:
            time.sleep(0.05)

    def logs(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path.exists() else ""

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def cli(self, *args: str) -> Any:
        out = subprocess.run(
            [CUSTODYD, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


@pytest.fixture
def spawn(tmp_path: Path, udevd: None) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def make(allow: list[Path], *args: str, home: Path | None = None, **env: str) -> Daemon:
        daemon = Daemon(home or tmp_path / "home", allow, **env)
        daemon.start(*args)
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        daemon.kill()


def context(home: Path) -> AppContext:
    return open_context(Settings(home=home))


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, daemon: Daemon) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}\n--- daemon log ---\n{daemon.logs()[-12000:]}")


def evidence(home: Path, status: str | None = "sealed") -> list[dict[str, Any]]:
    from custodyd.daemon.acquisition import list_evidence

    ctx = context(home)
    try:
        return list_evidence(ctx, status=status)
    finally:
        ctx.close()


def evidence_rows(home: Path) -> list[Any]:
    from sqlmodel import select

    from custodyd.daemon.models import Evidence

    ctx = context(home)
    try:
        with ctx.session() as session:
            rows = session.exec(select(Evidence)).all()
            return [(r.id, r.status, r.source_path, r.medium_id) for r in rows]
    finally:
        ctx.close()


def ledger_until(daemon: Daemon, done: Callable[[list[Any]], bool]) -> list[Any]:
    """The ledger's entries once ``done(entries)`` holds (fails after 30 s)."""
    found: list[list[Any]] = []

    def check() -> bool:
        entries = ledger_entries(daemon.home)
        found[:] = [entries]
        return done(entries)

    wait_for(check, 30, "ledger entries", daemon)
    return found[0]


def source_of(manifest: dict[str, Any]) -> str:
    source = manifest["source"]
    return str(source["path"] if isinstance(source, dict) else source)


def ledger_entries(home: Path) -> list[Any]:
    ctx = context(home)
    try:
        return list(ctx.ledger.entries())
    finally:
        ctx.close()


def test_plugged_media_become_sealed_evidence(
    tmp_path: Path, loops: Loops, spawn: Callable[..., Daemon]
) -> None:
    size = 64 * MiB
    protected = random_file(tmp_path / "seized-ro.raw", size)
    writable = random_file(tmp_path / "seized-rw.raw", 8 * MiB)
    expected = {protected: b3sum(protected), writable: b3sum(writable)}
    sha_before = sha256_file(writable)
    notify_dir = Path(tempfile.mkdtemp(prefix="custodyd-notify-", dir="/tmp"))
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_dir / "notify"))
    daemon = spawn(
        [protected, writable],
        "--auto-acquire",
        "CASE-APPLIANCE",
        NOTIFY_SOCKET=str(notify_dir / "notify"),
        WATCHDOG_USEC="1000000",
    )
    messages: list[str] = []

    def drain() -> None:  # systemd's side of the socket
        while True:
            try:
                messages.append(notify.recv(4096).decode())
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    wait_for(lambda: "WATCHDOG=1" in messages, 10, "a watchdog ping", daemon)
    assert messages[0].startswith("READY=1"), messages
    assert f"http://127.0.0.1:{daemon.port}" in "\n".join(daemon.stdout)
    assert any("admin token" in line for line in daemon.stdout)

    t0 = time.monotonic()
    node = loops.attach(protected, read_only=True)
    sealed = wait_for(
        lambda: [e for e in evidence(daemon.home) if source_of(e) == node],
        120,
        "sealed evidence of the read-only loop",
        daemon,
    )
    seconds = time.monotonic() - t0
    manifest = sealed[0]
    assert manifest["hashes"]["blake3"] == expected[protected]
    assert manifest["bytes"] == size
    assert manifest["verified"] is True

    node_rw = loops.attach(writable, read_only=False)
    sealed_rw = wait_for(
        lambda: [e for e in evidence(daemon.home) if source_of(e) == node_rw],
        120,
        "sealed evidence of the writable loop (after it was made read-only)",
        daemon,
    )
    assert sealed_rw[0]["hashes"]["blake3"] == expected[writable]

    listed = daemon.cli("media", "list", "--json")
    by_path = {m["path"]: m for m in listed}
    for path in (node, node_rw):
        assert by_path[path]["read_only"] is True
        assert by_path[path]["write_block"] == "software"
        assert by_path[path]["state"] == "acquired"
    assert set(by_path) == {node, node_rw}, "only our media are listed"
    cli_evidence = daemon.cli("evidence", "list", "--case", "CASE-APPLIANCE", "--json")
    assert sorted(e["evidence_id"] for e in cli_evidence) == sorted(
        [manifest["evidence_id"], sealed_rw[0]["evidence_id"]]
    )

    # the sealed status is committed just before its ledger entry: wait for both
    entries = ledger_until(daemon, lambda es: [e.action for e in es].count("evidence.sealed") == 2)
    actions = [e.action for e in entries]
    attached = [e for e in entries if e.action == "medium.attached"]
    assert len(attached) == 2
    ro_set = [e for e in entries if e.action == "medium.read_only_set"]
    assert len(ro_set) == 1 and ro_set[0].payload["nodes"] == [node_rw]
    for item in (manifest, sealed_rw[0]):
        mine = [e.action for e in entries if e.evidence == item["evidence_id"]]
        for action in ("acquisition.started", "evidence.acquired", "evidence.sealed"):
            assert mine.count(action) == 1, (action, mine)
    assert "medium.refused" not in actions

    # unplugged and plugged in again: a new acquisition, and the ledger says why
    loops.detach(node)
    wait_for(
        lambda: [e for e in ledger_entries(daemon.home) if e.action == "medium.detached"],
        30,
        "medium.detached",
        daemon,
    )
    node = loops.attach(protected, read_only=True)
    again = wait_for(
        lambda: [e for e in ledger_entries(daemon.home) if e.action == "medium.attached"][2:],
        30,
        "the medium attached again",
        daemon,
    )[0]
    assert again.payload["previous_evidence"] == [manifest["evidence_id"]]
    assert again.payload["policy"] == "auto"
    assert again.payload["resume"].startswith("restart")
    wait_for(
        lambda: len(evidence(daemon.home)) == 3,
        120,
        "a second sealed evidence of the re-plugged medium",
        daemon,
    )
    assert daemon.terminate() == 0
    wait_for(lambda: "STOPPING=1" in messages, 10, "STOPPING=1", daemon)
    notify.close()
    shutil.rmtree(notify_dir)
    assert sha256_file(writable) == sha_before, "the writable medium's bytes are unchanged"
    assert b3sum(protected) == expected[protected]
    print(f"attach -> sealed evidence, 64 MiB loop device: {seconds:.2f} s")
    record("attach_to_sealed_64MiB_seconds", round(seconds, 2))


def _wait_acquiring(daemon: Daemon, node: str) -> str:
    rows = wait_for(
        lambda: [r for r in evidence_rows(daemon.home) if r[2] == node and r[1] == "acquiring"],
        60,
        "an acquisition in progress",
        daemon,
    )
    evidence_id: str = rows[0][0]

    def reading() -> bool:  # bytes are flowing: the device is open and being read
        ctx = context(daemon.home)
        try:
            from custodyd.daemon.models import Evidence

            with ctx.session() as session:
                row = session.get(Evidence, evidence_id)
                assert row is not None
                folder = Path(row.directory)
        finally:
            ctx.close()
        parts = list(folder.glob("image.raw*")) if folder.exists() else []
        return any(p.stat().st_size > 0 for p in parts)

    wait_for(reading, 60, "the first bytes of the image", daemon)
    return evidence_id


def test_detach_mid_acquisition_then_reattach_then_sigterm(
    tmp_path: Path, loops: Loops, spawn: Callable[..., Daemon]
) -> None:
    medium = sparse_file(tmp_path / "big.raw", 1024 * MiB)
    daemon = spawn(
        [medium], "--auto-acquire", "CASE-DETACH", CUSTODYD_ACQUIRE_MAX_BPS=str(16 * MiB)
    )
    node = loops.attach(medium, read_only=True)
    name = Path(node).name
    first = _wait_acquiring(daemon, node)

    # pulled: the kernel's remove uevent (a busy loop detaches on last close)
    subprocess.run(["losetup", "-d", node], check=True)
    subprocess.run(["udevadm", "trigger", "--action=remove", f"/sys/class/block/{name}"])
    wait_for(
        lambda: any(r[0] == first and r[1] == "incomplete" for r in evidence_rows(daemon.home)),
        60,
        "the cut acquisition to be marked incomplete",
        daemon,
    )
    wait_for(lambda: not Path(f"/sys/class/block/{name}/loop").exists(), 30, "detach", daemon)
    loops.attached.remove(node)
    subprocess.run(["udevadm", "trigger", "--action=add", f"/sys/class/block/{name}"])
    settle()
    entries = ledger_until(
        daemon,
        lambda es: any(e.evidence == first and e.action == "acquisition.incomplete" for e in es),
    )
    assert [e.action for e in entries if e.evidence == first].count("acquisition.incomplete") == 1
    detached = [e for e in entries if e.action == "medium.detached"]
    assert len(detached) == 1 and detached[0].payload["cancelled"] is True
    directory = Path(evidence(daemon.home, status="incomplete")[0]["image_path"]).parent
    assert any(p.name.startswith("image.raw") for p in directory.iterdir()), "partial kept"
    assert evidence(daemon.home) == [], "nothing sealed"

    # plugged back in: the same item continues from its rescue map (not from sector 0)
    node2 = loops.attach(medium, read_only=True)
    reattach = wait_for(
        lambda: [e for e in ledger_entries(daemon.home) if e.action == "medium.attached"][1:],
        30,
        "the medium attached again",
        daemon,
    )[-1]
    assert reattach.payload["reattach"] is True
    assert reattach.payload["previous_incomplete"] == [first]
    assert reattach.payload["resume"].startswith(f"resume: {first}")
    resumed = wait_for(
        lambda: [
            e
            for e in ledger_entries(daemon.home)
            if e.action == "acquisition.resumed" and e.evidence == first
        ],
        60,
        "acquisition.resumed",
        daemon,
    )[0]
    assert resumed.payload["source"] == node2
    assert resumed.payload["already_copied"] > 0
    wait_for(
        lambda: any(r[0] == first and r[1] == "acquiring" for r in evidence_rows(daemon.home)),
        60,
        "the resumed item acquiring",
        daemon,
    )

    # SIGTERM while resuming: cancelled, incomplete again, recorded; clean exit
    assert daemon.terminate() == 0
    rows = {r[0]: r[1] for r in evidence_rows(daemon.home)}
    assert rows == {first: "incomplete"}, "no second item: the first one was resumed"
    entries = ledger_entries(daemon.home)
    assert [e.action for e in entries if e.evidence == first].count("acquisition.incomplete") == 2
    assert '"event": "stopped"' in daemon.logs()


def test_kill_9_mid_acquisition_and_restart(
    tmp_path: Path, loops: Loops, spawn: Callable[..., Daemon]
) -> None:
    medium = sparse_file(tmp_path / "big.raw", 1024 * MiB)
    env = {"CUSTODYD_ACQUIRE_MAX_BPS": str(16 * MiB)}
    daemon = spawn([medium], "--auto-acquire", "CASE-CRASH", **env)
    node = loops.attach(medium, read_only=True)
    first = _wait_acquiring(daemon, node)
    daemon.kill()  # SIGKILL: no clean-up at all

    again = spawn([medium], "--auto-acquire", "CASE-CRASH", home=daemon.home, **env)
    rows = evidence_rows(again.home)
    assert rows == [(first, "incomplete", node, rows[0][3])], "recovered, not re-acquired"
    entries = ledger_entries(again.home)
    assert [e.action for e in entries if e.evidence == first].count("acquisition.incomplete") == 1
    assert evidence(again.home) == [], "a half-done acquisition is never evidence"
    listed = {m["path"]: m for m in again.cli("media", "list", "--json")}
    assert listed[node]["state"] == "held"
    startup = [e for e in entries if e.action == "medium.attached"][-1]
    assert startup.payload["at_startup"] is True
    assert startup.payload["previous_incomplete"] == [first]
    assert again.terminate() == 0
    assert evidence_rows(again.home) == rows, "nothing double-counted"
