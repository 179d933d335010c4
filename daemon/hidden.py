"""Hidden areas at acquisition time: report them, and open an HPA only when asked.

Before a whole ATA disk is imaged, its native max and DCO are read (read-only
queries) and any hidden sectors are ledgered as ``medium.hidden_area``: an image of
the visible size is then known not to be the whole disk. With ``include_hidden``
(``custodyd image --include-hidden``) an HPA is opened for the acquisition and closed
again after it:

1. ``medium.hpa_opening`` is ledgered *before* anything is sent to the disk (what will
   be changed, from and to), so even a crash mid-change leaves the intent on record;
2. ATA SET MAX is issued **volatile** (``hdparm -N`` without ``p``: the drive returns
   to its own setting at its next power cycle), read back, and the kernel is asked to
   re-read the size; ``medium.hpa_opened`` records the result;
3. after the acquisition — whatever its outcome — the previous visible max is set
   again, read back, and ``medium.hpa_restored`` (or ``medium.hpa_restore_failed``,
   which says the drive keeps the change only until it is power-cycled) is ledgered.

A DCO is never changed (a DCO change is permanent): its hidden sectors are reported
and left unread, and the ledger says so. A change the drive or a write blocker
refuses is a clear error before anything is imaged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import DeviceError
from custodyd.hardware.device import BlockDevice
from custodyd.hardware.hdparm import HiddenAreaChangeFailed, HiddenAreas

log = logging.getLogger("custodyd.hidden")

Probe = Callable[[BlockDevice], tuple[HiddenAreas | None, str]]
SetMax = Callable[[BlockDevice, int], tuple[int, int]]
Rescan = Callable[[BlockDevice], int]


@dataclass
class Hardware:
    """The calls that reach the disk (real ones by default; tests pass fakes)."""

    find: Callable[[str], BlockDevice | None]
    probe: Probe
    set_max: SetMax
    rescan: Rescan

    @classmethod
    def real(cls) -> Hardware:
        from custodyd.hardware.discovery import find_device
        from custodyd.hardware.hdparm import hidden_areas, set_visible_max

        return cls(find_device, hidden_areas, set_visible_max, rescan_size)


def rescan_size(device: BlockDevice) -> int:
    """Ask the SCSI layer to re-read the capacity; the size the kernel now reports."""
    base = Path("/sys/class/block") / device.kernel_name
    rescan = base / "device" / "rescan"
    if rescan.exists():
        rescan.write_text("1\n")
    return int((base / "size").read_text()) * 512


@contextmanager
def hidden_areas_for_acquisition(
    ctx: AppContext,
    source: Path,
    *,
    actor: str,
    case_ref: str,
    include_hidden: bool,
    hardware: Hardware | None = None,
) -> Iterator[dict[str, Any] | None]:
    """Report (and with ``include_hidden``, open for the duration) the hidden areas of
    ``source``; yields the report for the manifest (None: not a disk, no answer)."""
    hw = hardware or Hardware.real()
    device = hw.find(str(source))
    if device is None or device.devtype != "disk":
        if include_hidden:
            raise DeviceError(
                f"--include-hidden needs a whole disk; {source} is not one",
                source=str(source),
            )
        yield None
        return
    report, reason = hw.probe(device)
    payload: dict[str, Any] = {"source": str(source), "key": device.key, "reason": reason}
    if report is None:
        if include_hidden:
            raise DeviceError(
                f"--include-hidden: no hidden-area determination for {source} ({reason})",
                source=str(source),
            )
        yield {"determined": False, **payload}
        return
    sector = device.logical_sector_size or 512
    hidden = {**report.to_dict(), **payload, "determined": True}
    if report.hpa_sectors or report.dco_sectors:
        hidden["hidden_bytes"] = (report.hpa_sectors + (report.dco_sectors or 0)) * sector
        ctx.ledger.append("medium.hidden_area", actor=actor, case=case_ref, payload=hidden)
    if not include_hidden or not report.hpa_sectors:
        if include_hidden and report.dco_sectors:
            hidden["dco_left_closed"] = "a DCO change is permanent: not done"
        yield hidden
        return
    with _opened_hpa(ctx, hw, device, report, actor=actor, case_ref=case_ref):
        hidden["imaged_native_size"] = True
        if report.dco_sectors:
            hidden["dco_left_closed"] = "a DCO change is permanent: not done"
        yield hidden


@contextmanager
def _opened_hpa(
    ctx: AppContext,
    hw: Hardware,
    device: BlockDevice,
    report: HiddenAreas,
    *,
    actor: str,
    case_ref: str,
) -> Iterator[None]:
    visible, native = report.visible_sectors, report.native_sectors
    sector = device.logical_sector_size or 512
    change = {"key": device.key, "device": device.devnode, "from": visible, "to": native}
    ctx.ledger.append(
        "medium.hpa_opening", actor=actor, case=case_ref, payload={**change, "volatile": True}
    )
    try:
        now_visible, _ = hw.set_max(device, native)
        size = hw.rescan(device)
    except (HiddenAreaChangeFailed, OSError) as exc:
        ctx.ledger.append(
            "medium.hpa_open_failed",
            actor=actor,
            case=case_ref,
            payload={**change, "error": str(exc)},
        )
        raise DeviceError(f"could not open the HPA of {device.devnode}: {exc}") from None
    ctx.ledger.append(
        "medium.hpa_opened",
        actor=actor,
        case=case_ref,
        payload={**change, "visible_now": now_visible, "kernel_size": size},
    )
    if size != native * sector:
        _restore(ctx, hw, device, visible, change, actor=actor, case_ref=case_ref)
        raise DeviceError(
            f"{device.devnode}: the kernel still reports {size} bytes after opening the HPA "
            f"(expected {native * sector}); nothing was imaged"
        )
    try:
        yield
    finally:
        _restore(ctx, hw, device, visible, change, actor=actor, case_ref=case_ref)


def _restore(
    ctx: AppContext,
    hw: Hardware,
    device: BlockDevice,
    visible: int,
    change: dict[str, Any],
    *,
    actor: str,
    case_ref: str,
) -> None:
    try:
        now_visible, _ = hw.set_max(device, visible)
        size = hw.rescan(device)
    except (HiddenAreaChangeFailed, OSError) as exc:
        log.error("HPA of %s not restored: %s", device.devnode, exc)
        ctx.ledger.append(
            "medium.hpa_restore_failed",
            actor=actor,
            case=case_ref,
            payload={
                **change,
                "error": str(exc),
                "note": "the change was volatile: the drive returns to its own setting "
                "when it is power-cycled",
            },
        )
        return
    ctx.ledger.append(
        "medium.hpa_restored",
        actor=actor,
        case=case_ref,
        payload={**change, "visible_now": now_visible, "kernel_size": size},
    )
