"""Small parts of the daemon: JSON logs, sd_notify, runtime readiness, media list without daemon."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
from pathlib import Path

import pytest

from custodyd.daemon.context import AppContext
from custodyd.daemon.serve import sdnotify
from custodyd.daemon.serve.logs import JsonFormatter
from custodyd.daemon.serve.runtime import Runtime
from custodyd.daemon.service.media import MediaRegistry
from custodyd.daemon.service.queue import AcquisitionQueue
from tests.appliance.conftest import Loops
from tests.conftest import REPO, needs_root


def test_json_log_lines_carry_extra_fields() -> None:
    record = logging.LogRecord(
        "custodyd.media", logging.INFO, __file__, 1, "attached %s", ("x",), None
    )
    record.event = "medium.attached"
    record.device = "/dev/sdz"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "attached x"
    assert line["level"] == "info" and line["logger"] == "custodyd.media"
    assert line["event"] == "medium.attached" and line["device"] == "/dev/sdz"
    assert line["time"].endswith("+00:00")


def test_sd_notify_datagram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False
    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert sdnotify.notify("READY=1") is True
        assert sock.recv(100) == b"READY=1"
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 5.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert sdnotify.watchdog_interval() is None


def test_runtime_reports_readiness(ctx: AppContext) -> None:
    media = MediaRegistry(ctx)
    queue = AcquisitionQueue(ctx, media)
    runtime = Runtime(ctx=ctx, media=media, acquisitions=queue)
    try:
        ok, checks = runtime.ready()
        assert not ok and checks["workers"] == "not running"
        queue.start()
        runtime.monitor.source = None
        from custodyd.daemon.serve.scheduler import start_scheduler

        runtime.scheduler = start_scheduler(ctx)
        ok, checks = runtime.ready()
        assert ok, checks
        assert checks["monitor"] == "disabled"
        assert runtime.status()["acquisitions"] == {}
    finally:
        queue.shutdown(5)
        if runtime.scheduler is not None:
            runtime.scheduler.shutdown(wait=False)


@needs_root
def test_media_list_without_a_daemon(home: Path, tmp_path: Path, loops: Loops) -> None:
    image = tmp_path / "m.raw"
    image.write_bytes(b"\x01" * (1 << 20))
    node = loops.attach(image, read_only=True)
    env = {
        **os.environ,
        "CUSTODYD_HOME": str(home),
        "CUSTODYD_MEDIA_ALLOW_ONLY": "true",
        "CUSTODYD_MEDIA_ALLOW": str(image),
    }
    out = subprocess.run(
        [str(REPO / ".venv/bin/custodyd"), "media", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    items = json.loads(out.stdout)
    assert [m["path"] for m in items] == [node]
    item = items[0]
    assert item["size"] == 1 << 20 and item["read_only"] is True
    assert item["write_block"] == "software" and item["state"] == "unmanaged"
    assert "serial" in item
