"""The media registry and the acquisition queue on real loop devices with the real ledger.

The acquisition service is replaced by a stand-in here (its own tests live with
the acquisition service); ``test_serve.py`` runs the whole daemon with the real one.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import AcquisitionInProgress, Cancelled, WriteBlockError
from custodyd.daemon.models import Medium
from custodyd.daemon.service import media as media_module
from custodyd.daemon.service.media import MediaRegistry
from custodyd.daemon.service.queue import AcquisitionQueue
from custodyd.hardware import readonly
from custodyd.hardware.discovery import find_device
from tests.appliance.conftest import Loops, sha256_file
from tests.conftest import needs_root

pytestmark = needs_root


class SlowAcquire:
    """Stands in for custodyd.daemon.acquisition.acquire: runs until cancelled or released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls: list[dict[str, Any]] = []

    def __call__(self, ctx: AppContext, source: Path, case_ref: str, **kw: Any) -> dict[str, Any]:
        self.calls.append({"source": source, "case": case_ref, **kw})
        self.started.set()
        cancel: threading.Event = kw["cancel"]
        while not self.release.is_set():
            if cancel.wait(0.05):
                raise Cancelled("cancelled", evidence_id=None)
        return {"evidence_id": "ev-1", "bytes": 1, "seconds": 0.1}


def _image(tmp_path: Path, name: str = "m.raw") -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(2 << 20))
    return path


def test_writable_medium_is_made_read_only_and_held(
    ctx: AppContext, tmp_path: Path, loops: Loops
) -> None:
    image = _image(tmp_path)
    before = sha256_file(image)
    node = loops.attach(image, read_only=False)
    device = find_device(node)
    assert device is not None and not device.read_only
    registry = MediaRegistry(ctx)
    live = registry.attached(device)
    assert live is not None
    assert live.read_only and live.write_block == "software"
    assert live.state == "held" and live.policy == "hold"
    assert readonly.get_ro(node)
    entries = _all_entries(ctx)
    assert [e.action for e in entries][-2:] == ["medium.attached", "medium.read_only_set"]
    attached = entries[-2]
    assert attached.payload["read_only_on_arrival"] is False
    assert attached.payload["write_block"] == "software"
    assert attached.payload["identity"]["loop_backing_file"] == str(image)
    with ctx.session() as session:
        row = session.get(Medium, live.id)
        assert row is not None and row.read_only and row.state == "held"
    assert registry.get(node) is live and registry.get(live.key) is live
    loops.detach(node)
    registry.detached(device.kernel_name)
    assert [e.action for e in _all_entries(ctx)][-1] == "medium.detached"
    assert registry.list() == []
    assert sha256_file(image) == before


def _all_entries(ctx: AppContext) -> list[Any]:
    """Every ledger entry, oldest first."""
    return list(ctx.ledger.entries())


def test_auto_acquire_one_at_a_time_and_detach_cancels(
    ctx: AppContext, tmp_path: Path, loops: Loops
) -> None:
    node = loops.attach(_image(tmp_path), read_only=True)
    device = find_device(node)
    assert device is not None
    registry = MediaRegistry(ctx, auto_acquire="CASE-1")
    fake = SlowAcquire()
    queue = AcquisitionQueue(ctx, registry, acquire=fake)
    queue.start()
    try:
        live = registry.attached(device)
        assert live is not None and live.policy == "auto"
        assert fake.started.wait(10)
        assert fake.calls[0]["case"] == "CASE-1"
        assert fake.calls[0]["medium_id"] == live.id
        assert live.state == "acquiring"
        with pytest.raises(AcquisitionInProgress):
            queue.submit(live.key, "CASE-1", actor="user:x")
        registry.detached(device.kernel_name)  # pulled mid-acquisition
        assert queue.wait_idle(10)
        job = queue.list()[0]
        assert job.state == "incomplete" and job.cancel_reason == "detached"
        tail = [e.action for e in _all_entries(ctx)][-2:]
        assert sorted(tail) == ["acquisition.incomplete", "medium.detached"]
    finally:
        queue.shutdown(10)


def test_medium_that_cannot_be_made_read_only_is_refused(
    ctx: AppContext, tmp_path: Path, loops: Loops, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = loops.attach(_image(tmp_path), read_only=False)
    device = find_device(node)
    assert device is not None

    def fail(kernel_name: str, devnode: str) -> list[str]:
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(media_module.readonly, "set_ro_with_partitions", fail)
    registry = MediaRegistry(ctx, auto_acquire="CASE-1")
    fake = SlowAcquire()
    queue = AcquisitionQueue(ctx, registry, acquire=fake)
    live = registry.attached(device)
    assert live is not None
    assert live.state == "refused" and live.write_block == "none"
    assert "will not be acquired" in live.message
    assert [e.action for e in _all_entries(ctx)][-2:] == ["medium.attached", "medium.refused"]
    with pytest.raises(WriteBlockError):
        queue.submit(live.key, "CASE-1", actor="user:x")
    assert fake.calls == []
    assert not readonly.get_ro(node)


def test_allow_only_ignores_other_devices(ctx: AppContext, tmp_path: Path, loops: Loops) -> None:
    node = loops.attach(_image(tmp_path), read_only=True)
    device = find_device(node)
    assert device is not None
    ctx.settings.media_allow_only = True
    ctx.settings.media_allow = ["/nonexistent/other.raw"]
    assert MediaRegistry(ctx).attached(device) is None
    ctx.settings.media_allow = [str(device.loop_backing_file)]
    assert MediaRegistry(ctx).attached(device) is not None


def test_read_only_flag_cleared_while_held_is_set_again_before_acquiring(
    ctx: AppContext, tmp_path: Path, loops: Loops
) -> None:
    import subprocess

    node = loops.attach(_image(tmp_path), read_only=False)
    device = find_device(node)
    assert device is not None
    registry = MediaRegistry(ctx)
    fake = SlowAcquire()
    fake.release.set()
    queue = AcquisitionQueue(ctx, registry, acquire=fake)
    queue.start()
    try:
        live = registry.attached(device)
        assert live is not None and live.state == "held"
        subprocess.run(["blockdev", "--setrw", node], check=True)  # someone undoes it
        assert not readonly.get_ro(node)
        queue.submit(live.key, "CASE-2", actor="user:examiner")
        assert queue.wait_idle(10)
        assert queue.list()[0].state == "done"
        assert readonly.get_ro(node), "read-only again before the acquisition ran"
        last_ro = [e for e in _all_entries(ctx) if e.action == "medium.read_only_set"][-1]
        assert "cleared" in last_ro.payload["reason"]
    finally:
        queue.shutdown(10)


def test_registry_and_queue_on_postgres(
    settings: Any, clock: Any, fresh_postgres_url: str, tmp_path: Path, loops: Loops
) -> None:
    from custodyd.daemon.context import open_context

    pg = open_context(settings.model_copy(update={"database_url": fresh_postgres_url}), clock)
    try:
        node = loops.attach(_image(tmp_path), read_only=False)
        device = find_device(node)
        assert device is not None
        registry = MediaRegistry(pg, auto_acquire="CASE-PG")
        fake = SlowAcquire()
        queue = AcquisitionQueue(pg, registry, acquire=fake)
        queue.start()
        try:
            live = registry.attached(device)
            assert live is not None and live.write_block == "software"
            assert fake.started.wait(10)
            registry.detached(device.kernel_name)
            assert queue.wait_idle(10)
        finally:
            queue.shutdown(10)
        actions = [e.action for e in _all_entries(pg)]
        assert actions[:2] == ["medium.attached", "medium.read_only_set"]
        assert sorted(actions[2:]) == ["acquisition.incomplete", "medium.detached"]
        with pg.session() as session:
            row = session.get(Medium, live.id)
            assert row is not None and row.state == "detached" and row.read_only
    finally:
        pg.close()
