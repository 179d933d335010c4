"""A live ``custodyd serve`` in a subprocess on a free loopback port, for HTTP-level tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODYD_")}
    env["CUSTODYD_HOME"] = str(home)
    env.update(extra or {})
    return env


def cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``custodyd ARGS`` against ``home``."""
    return subprocess.run(
        [str(BIN / "custodyd"), *args],
        env=clean_env(home),
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
    )


def cli_json(home: Path, *args: str) -> dict[str, object]:
    out = cli(home, *args, "--json").stdout
    data: dict[str, object] = json.loads(out)
    return data


@dataclass
class LiveServer:
    home: Path
    url: str
    admin_token: str
    process: subprocess.Popen[bytes]
    log: Path

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(
    home: Path,
    extra: Sequence[str] = (),
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None,
) -> LiveServer:
    """Start ``custodyd serve`` with ``extra`` arguments and wait until it answers."""
    port = free_port()
    log = home.parent / f"serve-{port}.log"
    home.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(BIN / "custodyd"), "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
            env=clean_env(home, env),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec,
        )
    url = f"http://127.0.0.1:{port}"
    server = LiveServer(home, url, "", process, log)
    deadline = time.monotonic() + timeout
    token_file = home / "admin.token"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"custodyd serve exited {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200 and token_file.exists():
                server.admin_token = token_file.read_text().strip()
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"custodyd serve did not come up in {timeout} s:\n{log.read_text()}")
