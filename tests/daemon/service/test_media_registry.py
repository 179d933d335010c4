"""The media registry driven by a fake udev monitor: no root, no devices, real database + ledger.

The hardware calls (read-only flag, write-block verdict, hdparm) are replaced by
what a write-protected medium would answer; the registry's own logic — policy,
rows, ledger entries, the acquisition it asks for, detach — runs for real.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from custodyd.daemon.context import AppContext
from custodyd.daemon.service import media as media_module
from custodyd.daemon.service.media import MediaRegistry
from custodyd.hardware.device import BlockDevice
from tests.daemon.service.fake_monitor import FakeMonitor

DISK = BlockDevice(
    kernel_name="sdz",
    devnode="/dev/sdz",
    devtype="disk",
    size=64 * 1024 * 1024,
    bus="usb",
    vendor="ACME",
    model="Evidence Stick",
    serial="SN-0042",
)


class FakeQueue:
    """The registry's view of the acquisition queue (the ``Acquirer`` protocol)."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str | int, str, str]] = []
        self.resumed: list[str | None] = []
        self.cancelled: list[tuple[str, str]] = []

    def submit(
        self,
        medium_key_or_id: str | int,
        case_ref: str,
        *,
        actor: str,
        resume: str | None = None,
    ) -> Any:
        self.submitted.append((medium_key_or_id, case_ref, actor))
        self.resumed.append(resume)
        return None

    def cancel_for_medium(self, key: str, reason: str) -> Any:
        self.cancelled.append((key, reason))
        return None


@pytest.fixture
def protected(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers of a medium behind a kernel read-only flag, with nothing hidden."""
    monkeypatch.setattr(media_module.readonly, "is_read_only", lambda node, name: True)
    monkeypatch.setattr(media_module.readonly, "partitions_of", lambda name: [])
    monkeypatch.setattr(media_module, "verdict", lambda dev, **kw: ("kernel", "read-only flag"))
    monkeypatch.setattr(media_module, "hidden_areas", lambda dev: (None, "not an ATA disk"))
    monkeypatch.setattr(MediaRegistry, "_excluded", lambda self, dev: None)


def _actions(ctx: AppContext) -> list[str]:
    return [e.action for e in ctx.ledger.entries(0, ctx.ledger.size())]


@pytest.mark.usefixtures("protected")
def test_attach_hold_and_detach(ctx: AppContext) -> None:
    monitor = FakeMonitor()
    monitor.start()
    registry = MediaRegistry(ctx)
    monitor.emit("add", "sdz", DISK)
    for event in monitor.pending():
        registry.handle(event)
    live = registry.get("sdz")
    assert live.state == "held"  # no auto-acquire case: an examiner decides
    assert _actions(ctx)[-1] == "medium.attached"
    monitor.emit("remove", "sdz", None)
    for event in monitor.pending():
        registry.handle(event)
    assert registry.list() == []
    assert _actions(ctx)[-1] == "medium.detached"


@pytest.mark.usefixtures("protected")
def test_auto_acquire_asks_the_queue_and_a_swap_is_detach_then_attach(ctx: AppContext) -> None:
    monitor = FakeMonitor()
    monitor.start()
    queue = FakeQueue()
    registry = MediaRegistry(ctx, auto_acquire="CASE-AUTO")
    registry.queue = queue
    monitor.emit("add", "sdz", DISK)
    monitor.emit("change", "sdz", replace(DISK, size=DISK.size * 2, serial="SN-0043"))
    for event in monitor.pending():
        registry.handle(event)
    assert [case for _, case, _ in queue.submitted] == ["CASE-AUTO", "CASE-AUTO"]
    assert queue.cancelled and queue.cancelled[0][1] == "detached"
    assert registry.get("sdz").key != DISK.key  # the second medium, not the first


def test_an_unprotected_medium_is_refused(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media_module.readonly, "is_read_only", lambda node, name: False)
    monkeypatch.setattr(media_module.readonly, "partitions_of", lambda name: [])

    def no_ro(name: str, node: str) -> list[str]:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(media_module.readonly, "set_ro_with_partitions", no_ro)
    monkeypatch.setattr(media_module, "verdict", lambda dev, **kw: ("none", "no blocker"))
    monkeypatch.setattr(media_module, "hidden_areas", lambda dev: (None, "not an ATA disk"))
    monkeypatch.setattr(MediaRegistry, "_excluded", lambda self, dev: None)
    queue = FakeQueue()
    registry = MediaRegistry(ctx, auto_acquire="CASE-AUTO")
    registry.queue = queue
    monitor = FakeMonitor()
    monitor.start()
    monitor.emit("add", "sdz", DISK)
    for event in monitor.pending():
        registry.handle(event)
    assert registry.get("sdz").state == "refused"
    assert queue.submitted == []
    assert "medium.refused" in _actions(ctx)
