"""Hidden areas (HPA, DCO) reported by ``hdparm``, when it can tell.

HPA (Host Protected Area) and DCO (Device Configuration Overlay) hide sectors
from the host; an examiner must know about them before trusting an image's
size. ``hdparm`` only answers for ATA disks (directly or through a SAT-capable
USB bridge). For other devices (loop, NVMe, virtio, MMC) or without hdparm the
report is ``None`` with the reason, never a guess. Only read-only queries are
issued (``-N`` without a value, ``--dco-identify``): nothing is changed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from custodyd.hardware.device import BlockDevice

UNSUPPORTED_BUSES = {"loop", "nvme", "virtio", "mmc"}

# ``hdparm -N``: " max sectors   = VISIBLE/NATIVE[(DCO?)], HPA is enabled|disabled" (newer
# drives: "ACCESSIBLE MAX ADDRESS enabled|disabled"), or "..., HPA setting seems invalid"
# when the answer is nonsense (seen from USB bridges: "0/1", with exit status 0).
_MAX = re.compile(
    r"max sectors\s*=\s*(\d+)\s*/\s*(\d+)(?:\(\d+\?\))?\s*,\s*"
    r"(HPA is enabled|HPA is disabled|ACCESSIBLE MAX ADDRESS enabled|"
    r"ACCESSIBLE MAX ADDRESS disabled|HPA setting seems invalid)",
    re.I,
)
_DCO = re.compile(r"Real max sectors:\s*(\d+)", re.I)


@dataclass(frozen=True)
class HiddenAreas:
    visible_sectors: int
    native_sectors: int
    hpa_enabled: bool
    dco_max_sectors: int | None

    @property
    def hpa_sectors(self) -> int:
        return max(0, self.native_sectors - self.visible_sectors)

    @property
    def dco_sectors(self) -> int | None:
        if self.dco_max_sectors is None:
            return None
        return max(0, self.dco_max_sectors - self.native_sectors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "visible_sectors": self.visible_sectors,
            "native_sectors": self.native_sectors,
            "hpa_enabled": self.hpa_enabled,
            "hpa_sectors": self.hpa_sectors,
            "dco_max_sectors": self.dco_max_sectors,
            "dco_sectors": self.dco_sectors,
        }


class Unreliable(ValueError):
    """hdparm answered, but the answer cannot be trusted (the reason says why)."""


def parse_max_sectors(text: str) -> tuple[int, int, bool] | None:
    """(visible, native, HPA/AMAX enabled) from ``hdparm -N``; None when absent.

    Raises :class:`Unreliable` for an answer hdparm itself calls invalid or that is
    impossible (native below visible, zero sectors)."""
    match = _MAX.search(text)
    if not match:
        return None
    visible, native, state = int(match.group(1)), int(match.group(2)), match.group(3).lower()
    if "invalid" in state:
        raise Unreliable(
            f"hdparm says the HPA setting seems invalid ({visible}/{native}): the drive, "
            "bridge or driver answers nonsense"
        )
    if visible == 0 or native < visible:
        raise Unreliable(f"impossible max sectors {visible}/{native}")
    return visible, native, state.endswith("enabled")


def parse_dco(text: str) -> int | None:
    match = _DCO.search(text)
    return int(match.group(1)) if match else None


def assess(
    n_output: str, dco_output: str | None, kernel_sectors: int
) -> tuple[HiddenAreas | None, str]:
    """Judge hdparm's answers against the kernel's own size of the device.

    A report is returned only when it is consistent: the visible max equals what the
    kernel reads (``BLKGETSIZE64`` / sector size), native >= visible, DCO >= native.
    Anything else is no determination, with the reason, never "no hidden area".
    """
    try:
        parsed = parse_max_sectors(n_output)
    except Unreliable as exc:
        return None, str(exc)
    if parsed is None:
        lines = n_output.strip().splitlines()
        return None, "device does not answer ATA READ NATIVE MAX: " + (
            lines[-1].strip() if lines else "no output"
        )
    visible, native, enabled = parsed
    if kernel_sectors and visible != kernel_sectors:
        return None, (
            f"hdparm's visible max ({visible} sectors) disagrees with the kernel's size "
            f"({kernel_sectors} sectors): not trusted"
        )
    dco_max = parse_dco(dco_output) if dco_output else None
    reason = "hdparm"
    if dco_max is not None and dco_max < native:
        reason = f"hdparm (DCO real max {dco_max} below native max {native} ignored)"
        dco_max = None
    return HiddenAreas(visible, native, enabled, dco_max), reason


def hidden_areas(device: BlockDevice, timeout: float = 10.0) -> tuple[HiddenAreas | None, str]:
    """(report, reason). The report is None when hdparm is absent or cannot tell."""
    if device.devtype != "disk":
        return None, "partitions have no HPA/DCO; see the whole disk"
    if device.bus in UNSUPPORTED_BUSES:
        return None, f"HPA/DCO do not exist on {device.bus} devices"
    hdparm = shutil.which("hdparm")
    if hdparm is None:
        return None, "hdparm is not installed"
    try:
        out = subprocess.run(
            [hdparm, "-N", device.devnode],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"hdparm -N failed: {exc}"
    dco_text: str | None = None
    try:
        dco = subprocess.run(
            [hdparm, "--dco-identify", device.devnode],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        dco_text = dco.stdout
    except (OSError, subprocess.TimeoutExpired):
        pass
    sector = device.logical_sector_size or 512
    return assess(out.stdout + out.stderr, dco_text, (device.size or 0) // sector)


class HiddenAreaChangeFailed(RuntimeError):
    """hdparm could not change the visible max, or the drive does not show the change."""


def set_visible_max(device: BlockDevice, sectors: int, *, timeout: float = 30.0) -> tuple[int, int]:
    """Set the drive's visible max to ``sectors`` *volatilely* (ATA SET MAX without
    the ``p`` prefix: the drive returns to its own setting at the next power cycle).

    Used only when an examiner explicitly asks to image a hidden area; the caller
    records the change and restores the previous max afterwards. DCO is never changed
    (a DCO restore is permanent). Returns (visible, native) read back after the
    change; raises :class:`HiddenAreaChangeFailed` when hdparm fails or the read-back
    does not show the new max (a write blocker typically refuses SET MAX)."""
    hdparm = shutil.which("hdparm")
    if hdparm is None:
        raise HiddenAreaChangeFailed("hdparm is not installed")
    try:
        done = subprocess.run(
            [hdparm, "--yes-i-know-what-i-am-doing", "-N", str(sectors), device.devnode],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        check = subprocess.run(
            [hdparm, "-N", device.devnode],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HiddenAreaChangeFailed(f"hdparm failed: {exc}") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise HiddenAreaChangeFailed(
            "hdparm could not set the max sectors: " + (lines[-1] if lines else "no output")
        )
    try:
        parsed = parse_max_sectors(check.stdout)
    except Unreliable as exc:
        raise HiddenAreaChangeFailed(str(exc)) from None
    if parsed is None or parsed[0] != sectors:
        raise HiddenAreaChangeFailed(
            f"the drive does not show the new max ({sectors}): {check.stdout.strip()[-120:]}"
        )
    return parsed[0], parsed[1]
