"""Live block-device events from udev (or the kernel when no udevd runs).

The monitor turns raw uevents into medium events a daemon can act on:

- ``attach``: a medium appeared — a device was added with a non-zero size, or a
  ``change`` gave an existing device a medium (a loop device being attached, a
  card inserted in a reader: the node exists before, only its size changes).
  A change of size or of the kernel's disk sequence number on a device that
  already had a medium is reported as ``detach`` then ``attach`` (medium swapped).
- ``detach``: the device was removed or its size fell to 0 (loop detached, card
  pulled).
- ``change``: anything else about a present medium (e.g. its read-only flag).

Source: udev's netlink group (events after rules ran, with ``ID_*`` properties
and our rule's tag), falling back to the kernel's group when no udevd runs —
then identities come from sysfs alone, and that is logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from custodyd.hardware.device import BlockDevice
from custodyd.hardware.discovery import enumerate_devices, udev_available

log = logging.getLogger("custodyd.hardware.monitor")

EventKind = Literal["attach", "change", "detach"]


@dataclass(frozen=True)
class MediumEvent:
    kind: EventKind
    kernel_name: str
    devnode: str
    devtype: str  # disk | partition
    device: BlockDevice | None  # None for a detach (the device or its medium is gone)
    udev_action: str  # the raw uevent action: add | change | remove | ...
    source: str  # udev | kernel


@dataclass
class _Seen:
    size: int
    diskseq: int | None


class MediumTracker:
    """Pure event logic (no I/O): remembers sizes to turn uevents into medium events."""

    def __init__(self, source: str = "udev") -> None:
        self.source = source
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def seed(self, devices: Iterable[BlockDevice]) -> None:
        with self._lock:
            for dev in devices:
                self._seen[dev.kernel_name] = _Seen(dev.size, dev.diskseq)

    def translate(
        self, action: str, kernel_name: str, device: BlockDevice | None
    ) -> list[MediumEvent]:
        devnode = device.devnode if device else f"/dev/{kernel_name}"
        devtype = device.devtype if device else "disk"

        def ev(kind: EventKind, dev: BlockDevice | None) -> MediumEvent:
            return MediumEvent(kind, kernel_name, devnode, devtype, dev, action, self.source)

        with self._lock:
            prev = self._seen.get(kernel_name)
            had_medium = prev is not None and prev.size > 0
            if action == "remove" or device is None:
                self._seen.pop(kernel_name, None)
                return [ev("detach", None)] if had_medium else []
            size = device.size
            self._seen[kernel_name] = _Seen(size, device.diskseq)
            if size == 0:
                return [ev("detach", None)] if had_medium else []
            if not had_medium:
                return [ev("attach", device)]
            assert prev is not None
            swapped = prev.size != size or (
                prev.diskseq is not None
                and device.diskseq is not None
                and prev.diskseq != device.diskseq
            )
            if swapped:
                return [ev("detach", None), ev("attach", device)]
            return [ev("change", device)]


class MediaMonitor:
    """A pyudev netlink monitor on the ``block`` subsystem yielding :class:`MediumEvent`."""

    def __init__(self, source: str | None = None) -> None:
        import pyudev

        if source is None:
            source = "udev" if udev_available() else "kernel"
            if source == "kernel":
                log.warning(
                    "no udev daemon is running: listening to kernel uevents directly "
                    "(identities from sysfs only, no by-id links, our udev rule does not run)"
                )
        self.source = source
        self.context = pyudev.Context()
        self._monitor = pyudev.Monitor.from_netlink(self.context, source=source)
        self._monitor.filter_by(subsystem="block")
        self.tracker = MediumTracker(source)
        self._started = False

    def start(self) -> list[BlockDevice]:
        """Start receiving, then snapshot present devices (no event is lost in between)."""
        self._monitor.start()
        self._started = True
        present = enumerate_devices(with_empty=True)
        self.tracker.seed(present)
        return [d for d in present if d.size > 0]

    def _device(self, raw: Any) -> BlockDevice | None:
        if raw.action == "remove":
            return None
        try:
            return BlockDevice.from_udev(raw)
        except Exception as exc:  # vanished between the event and our sysfs read
            log.debug("cannot read %s: %s", raw.sys_name, exc)
            return None

    def poll(self, timeout: float | None = 1.0) -> list[MediumEvent]:
        """Events from the next uevent (empty list on timeout or an uninteresting event)."""
        if not self._started:
            self.start()
        raw = self._monitor.poll(timeout=timeout)
        if raw is None:
            return []
        return self.tracker.translate(str(raw.action), str(raw.sys_name), self._device(raw))

    def events(self, stop: threading.Event, timeout: float = 0.5) -> Iterator[MediumEvent]:
        while not stop.is_set():
            yield from self.poll(timeout)

    def fileno(self) -> int:
        return int(self._monitor.fileno())
