"""Server limits against a real ``custodyd serve`` on 127.0.0.1 (issue 10, item 12).

1,100 connections each send a request's headers announcing a 100-byte body and
then only 7 bytes of it. The server runs with 1,024 file descriptors (soft and
hard: the usual default, so the connection cap, not a raised limit, must hold):
``/healthz`` must still answer within 2 s, the half-sent requests must be closed
once the body deadline passes, and the log must stay short (repeats rate-limited).
On a server without these limits ``accept()`` runs out of descriptors, ``/healthz``
times out and the log grows by thousands of lines a second.
"""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.live import LiveServer, start_server

HALF_SENT = 1_100  # more than the 1,024 descriptors the server has
DEADLINE = 2.0  # the server's header and body timeouts in this test
HALF_REQUEST = (
    b"POST /v1/cases HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n1234567"
)


def _pin_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    env = {
        "CUSTODYD_API_HEADER_TIMEOUT": str(DEADLINE),
        "CUSTODYD_API_BODY_TIMEOUT": str(DEADLINE),
    }
    live = start_server(tmp_path / "home", ["--no-udev"], env=env, preexec=_pin_fd_limit)
    yield live
    live.stop()


@pytest.fixture
def enough_descriptors() -> None:
    """The load generator holds 1,100 sockets: lift this process's limit (root may raise the
    hard limit too)."""
    need = HALF_SENT + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
        except (ValueError, OSError):
            pytest.skip(f"environment: the load generator needs {need} descriptors (hard {hard})")
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))


def _healthz(url: str) -> float:
    started = time.monotonic()
    r = httpx.get(f"{url}/healthz", timeout=10)
    assert r.status_code == 200
    return time.monotonic() - started


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0)
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


@pytest.mark.timeout(120)
def test_half_sent_requests_do_not_take_the_api_down(
    server: LiveServer, enough_descriptors: None
) -> None:
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    log_before = len(server.log.read_text().splitlines())
    socks: list[socket.socket] = []
    try:
        for _ in range(HALF_SENT):
            sock = socket.create_connection((host, port), timeout=10)
            sock.sendall(HALF_REQUEST)
            socks.append(sock)
        waits = [_healthz(server.url) for _ in range(3)]
        assert max(waits) < 2.0, waits
        # a real request with a body still goes through
        r = httpx.post(
            f"{server.url}/v1/cases", json={"ref": "AFTER"}, headers=server.headers(), timeout=10
        )
        assert r.status_code == 201, r.text
        # a request line that never ends is closed after the header deadline, and the
        # half-sent ones once the body deadline has passed
        slow = socket.create_connection((host, port), timeout=10)
        slow.sendall(b"GET /healthz HT")
        socks.append(slow)
        time.sleep(DEADLINE + 1.5)
        still_open = [s for s in socks if not _closed_by_server(s)]
        assert not still_open, f"{len(still_open)} half-sent requests still open"
    finally:
        for sock in socks:
            sock.close()
    assert _healthz(server.url) < 2.0
    lines = server.log.read_text().splitlines()[log_before:]
    assert len(lines) < 100, f"{len(lines)} log lines for {HALF_SENT} half-sent requests"
    assert server.process.poll() is None
