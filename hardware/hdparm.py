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

_MAX = re.compile(r"max sectors\s*=\s*(\d+)/(\d+),\s*HPA is (enabled|disabled)", re.I)
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


def parse_max_sectors(text: str) -> tuple[int, int, bool] | None:
    match = _MAX.search(text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(3).lower() == "enabled"


def parse_dco(text: str) -> int | None:
    match = _DCO.search(text)
    return int(match.group(1)) if match else None


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
    parsed = parse_max_sectors(out.stdout)
    if parsed is None:
        reason = (out.stderr or out.stdout).strip().splitlines()
        return None, "device does not answer ATA READ NATIVE MAX: " + (
            reason[-1] if reason else "no output"
        )
    visible, native, enabled = parsed
    dco_max = None
    try:
        dco = subprocess.run(
            [hdparm, "--dco-identify", device.devnode],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        dco_max = parse_dco(dco.stdout)
    except (OSError, subprocess.TimeoutExpired):
        pass
    return HiddenAreas(visible, native, enabled, dco_max), "hdparm"
