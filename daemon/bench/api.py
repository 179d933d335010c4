"""``custodyd bench api``: audited custody-history reads against a real ``custodyd serve``.

Seeds a ledger of ``entries`` entries through the durable append path (or reuses
the one in ``home``), starts ``custodyd serve --no-udev`` as a separate process
on a free loopback port, and lets ``clients`` concurrent keep-alive connections
read ``GET /v1/evidence/{id}/custody`` (first page; each read appends its
``history.read`` entry durably before it is answered) for ``seconds`` seconds.

The same clients then read ``/healthz`` for a few seconds: the rate of the server
and framework alone on this machine at this moment (``healthz_per_s``), the
reference a regression floor is judged against.

The load generator is a minimal HTTP/1.1 client on asyncio streams in this
process, so that on a small machine the measurement is not dominated by the
client's own CPU. The server's CPU per read is read from ``/proc/<pid>/stat``
(user + system time of the serve process over the measured window).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CASE = "CASE-00000"
TARGETS = 50  # evidence items read (all of CASE-00000), ~20 entries each
BATCH = 5000
TOKEN_FILE = "bench-investigator.token"


@dataclass
class Load:
    latencies_ms: list[float]
    statuses: dict[str, int]
    seconds: float
    client_cpu_s: float


def pct(samples: list[float], p: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else 0.0
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def seed(home: Path, entries: int, progress: Callable[[int, int], None] | None = None) -> None:
    """Append ``entries`` bench entries and create the case, items and reader token."""
    from custodyd.daemon.auth import create_token_unrecorded
    from custodyd.daemon.cases import find_case
    from custodyd.daemon.config import Settings
    from custodyd.daemon.context import open_context
    from custodyd.daemon.ledger import bench as ledger_bench
    from custodyd.daemon.models import Case, Evidence

    ctx = open_context(Settings(home=home))
    try:
        start = ctx.ledger.size()
        items = max(TARGETS, (start + entries) // ledger_bench.ENTRIES_PER_ITEM)
        done = 0
        while done < entries:
            n = min(BATCH, entries - done)
            ctx.ledger.append_many([ledger_bench._event(start + done + k, items) for k in range(n)])
            done += n
            if progress:
                progress(done, entries)
        if (home / TOKEN_FILE).exists():
            return
        with ctx.session() as session:
            case = find_case(session, CASE)
            if case is None:
                case = Case(ref=CASE, title="bench", created_at=ctx.clock.now())
                session.add(case)
                session.flush()
            for i in range(TARGETS):
                session.add(
                    Evidence(
                        id=f"EV{i:08d}",
                        case_id=case.id or 0,
                        status="sealed",
                        source_path="/dev/bench",
                        directory=str(home / f"EV{i:08d}"),
                        image_path=str(home / f"EV{i:08d}" / "image.raw"),
                        created_at=ctx.clock.now(),
                    )
                )
            token = create_token_unrecorded(session, ctx.clock, role="investigator", cases=[CASE])
        (home / TOKEN_FILE).write_text(token.secret + "\n")
    finally:
        ctx.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _start_server(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODYD_")}
    env["CUSTODYD_HOME"] = str(home)
    cmd = [sys.executable, "-c", "from custodyd.daemon.cli import main; main()"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*cmd, "serve", "--no-udev", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"custodyd serve exited {process.returncode}: {log.read_text()}")
        try:
            status, _ = asyncio.run(_one("127.0.0.1", port, "/healthz", {}))
            if status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"custodyd serve did not come up: {log.read_text()}")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


def _request(path: str, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


async def _one(host: str, port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(_request(path, headers))
        await writer.drain()
        return await _read_response(reader)
    finally:
        writer.close()


async def _load(
    port: int, secret: str, clients: int, seconds: float, *, path: str | None = None
) -> Load:
    """``clients`` connections reading custody histories (or ``path``) for ``seconds``."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {secret}"}
    targets = [f"EV{i:08d}" for i in range(TARGETS)]
    paths = [path] if path else [f"/v1/evidence/{t}/custody" for t in targets]
    requests = [_request(p, headers) for p in paths]
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        rng = random.Random(n)
        reader = writer = None
        while time.monotonic() < deadline:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            started = time.perf_counter()
            try:
                writer.write(rng.choice(requests))
                await writer.drain()
                status, _ = await asyncio.wait_for(_read_response(reader), 60)
                key = str(status)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                key = type(exc).__name__
                writer.close()
                reader = writer = None
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[key] = statuses.get(key, 0) + 1
        if writer is not None:
            writer.close()

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return Load(latencies, statuses, time.perf_counter() - started, time.process_time() - cpu)


def run(
    entries: int,
    clients: int,
    seconds: float,
    *,
    home: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Seed (``entries`` more entries), serve, load; the figures as a dict."""
    say = progress or (lambda _msg: None)
    with ExitStack() as stack:
        if home is None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="custodyd-bench-")))
        started = time.perf_counter()
        step = max(BATCH, entries // 10)
        seed(home, entries, lambda d, t: say(f"seed: {d}/{t}") if d % step < BATCH else None)
        seed_s = time.perf_counter() - started
        secret = (home / TOKEN_FILE).read_text().strip()
        port = _free_port()
        process = _start_server(home, port, home / "bench-serve.log")
        try:
            say("warm-up")
            asyncio.run(_load(port, secret, min(clients, 4), 1.0))
            say(f"load: {clients} clients for {seconds} s")
            cpu_before = _cpu_seconds(process.pid)
            load = asyncio.run(_load(port, secret, clients, seconds))
            server_cpu = _cpu_seconds(process.pid) - cpu_before
            size = _ledger_size(port, secret)
            say("reference: /healthz (no authentication, no audit, no database)")
            reference = asyncio.run(
                _load(port, secret, clients, min(5.0, max(1.0, seconds / 3)), path="/healthz")
            )
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    ok = load.statuses.get("200", 0)
    reads = len(load.latencies_ms)
    return {
        "entries": size,
        "clients": clients,
        "seconds": round(load.seconds, 2),
        "requests": reads,
        "reads_per_s": round(ok / load.seconds, 1),
        "p50_ms": round(pct(load.latencies_ms, 50), 2),
        "p99_ms": round(pct(load.latencies_ms, 99), 2),
        "errors": reads - ok,
        "statuses": load.statuses,
        "cpu_ms_per_read": round(server_cpu * 1000 / max(ok, 1), 3),
        "server_cpu_s": round(server_cpu, 2),
        "client_cpu_ms_per_read": round(load.client_cpu_s * 1000 / max(reads, 1), 3),
        "healthz_per_s": round(reference.statuses.get("200", 0) / reference.seconds, 1),
        "seed_seconds": round(seed_s, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }


def _ledger_size(port: int, secret: str) -> int:
    """Entries in the ledger after the run (from the signed checkpoint's size line)."""
    status, body = asyncio.run(
        _one("127.0.0.1", port, "/v1/ledger/checkpoint", {"Authorization": f"Bearer {secret}"})
    )
    if status != 200:
        return -1
    return int(body.decode().split("\n")[1])
