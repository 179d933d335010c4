"""``custodyd serve`` logs: text on a terminal, JSON lines otherwise or with --log-format json."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SERVE = [sys.executable, "-c", "from custodyd.daemon.cli import main; main()", "serve",
         "--no-udev", "--no-api"]  # fmt: skip


def _serve(home: Path, *extra: str, tty: bool) -> list[str]:
    """Start serve, wait for its "custodyd ready" line, stop it; its stderr lines."""
    env = {**os.environ, "CUSTODYD_HOME": str(home)}
    if tty:
        leader, follower = pty.openpty()
        quiet = subprocess.DEVNULL
        proc = subprocess.Popen([*SERVE, *extra], stdin=quiet, stdout=quiet,
                                stderr=follower, env=env)  # fmt: skip
        os.close(follower)
        read_fd = leader
    else:
        proc = subprocess.Popen([*SERVE, *extra], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env)  # fmt: skip
        assert proc.stderr is not None
        read_fd = proc.stderr.fileno()
    out = b""
    deadline = time.monotonic() + 60
    try:
        while b"custodyd ready" not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 1)
            if ready:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break
                out += chunk
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        if tty:
            os.close(read_fd)
    assert b"custodyd ready" in out, out.decode(errors="replace")
    return [line for line in out.decode().replace("\r\n", "\n").splitlines() if line.strip()]


def test_text_on_a_terminal(tmp_path: Path) -> None:
    lines = _serve(tmp_path / "home", tty=True)
    ready = next(line for line in lines if "custodyd ready" in line)
    assert not ready.lstrip().startswith("{")
    assert " info " in ready and "event=ready" in ready


def test_json_when_not_a_terminal(tmp_path: Path) -> None:
    lines = _serve(tmp_path / "home", tty=False)
    ready = json.loads(next(line for line in lines if "custodyd ready" in line))
    assert ready["event"] == "ready" and ready["level"] == "info"


def test_json_on_a_terminal_when_asked(tmp_path: Path) -> None:
    lines = _serve(tmp_path / "home", "--log-format", "json", tty=True)
    ready = json.loads(next(line for line in lines if "custodyd ready" in line))
    assert ready["message"] == "custodyd ready"


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "CUSTODYD_HOME": str(tmp_path / "home")}
    done = subprocess.run([*SERVE, "--log-format", "xml"], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "log format" in done.stderr


pytestmark = pytest.mark.timeout(300)
