"""A fake udev monitor: uevents chosen by the test, translated by the real MediumTracker.

Modelled on pyudev's own test plugin (``tests/plugins/fake_monitor.py``): the test
emits raw ``(action, device)`` pairs; the monitor yields the medium events the
daemon would get from netlink. No root, no udevd, no block device.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from custodyd.hardware.device import BlockDevice
from custodyd.hardware.monitor import MediumEvent, MediumTracker


class FakeMonitor:
    def __init__(self, present: list[BlockDevice] | None = None) -> None:
        self.source = "fake"
        self.present = list(present or [])
        self.tracker = MediumTracker(self.source)
        self._raw: queue.SimpleQueue[tuple[str, str, BlockDevice | None]] = queue.SimpleQueue()

    def start(self) -> list[BlockDevice]:
        self.tracker.seed(self.present)
        return [d for d in self.present if d.size > 0]

    def emit(self, action: str, kernel_name: str, device: BlockDevice | None) -> None:
        """Queue one raw uevent (``add``, ``change``, ``remove``)."""
        self._raw.put((action, kernel_name, device))

    def poll(self, timeout: float | None = 0.0) -> list[MediumEvent]:
        try:
            action, name, device = (
                self._raw.get(timeout=timeout) if timeout else self._raw.get_nowait()
            )
        except queue.Empty:
            return []
        return self.tracker.translate(action, name, device)

    def events(self, stop: threading.Event, timeout: float = 0.05) -> Iterator[MediumEvent]:
        while not stop.is_set():
            yield from self.poll(timeout)

    def pending(self) -> Iterator[MediumEvent]:
        """Every event queued so far, without blocking."""
        while not self._raw.empty():
            yield from self.poll(0)
