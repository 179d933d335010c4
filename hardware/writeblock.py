"""Write-block verdict of a medium: ``hardware``, ``software`` or ``none``.

- ``hardware``: a known forensic write blocker sits between us and the medium
  (its USB vendor:product id is in the shipped ``blockers.json`` table or in a
  local extension file).
- ``software``: the kernel refuses writes to the device (read-only flag set by
  our udev rule, by ``BLKROSET`` or by ``losetup -r``).
- ``none``: nothing stops a write. Such a medium is never acquired as is.

A hardware blocker also gets the kernel flag set (defence in depth); the
verdict names the strongest protection present.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from custodyd.hardware.device import BlockDevice

Verdict = Literal["hardware", "software", "none"]


@dataclass(frozen=True)
class Blocker:
    vendor: str
    product: str  # hex, or "*"
    name: str

    def matches(self, usb_id: str) -> bool:
        vendor, _, product = usb_id.lower().partition(":")
        return vendor == self.vendor and self.product in ("*", product)


def _parse(data: dict[str, Any]) -> list[Blocker]:
    out = []
    for item in data.get("blockers", []):
        if not isinstance(item, dict):
            continue
        out.append(
            Blocker(
                vendor=str(item["vendor"]).lower().removeprefix("0x").zfill(4),
                product=str(item.get("product", "*")).lower().removeprefix("0x"),
                name=str(item.get("name", "")),
            )
        )
    return out


@lru_cache(maxsize=8)
def _load(extra: str | None) -> tuple[Blocker, ...]:
    text = resources.files("custodyd.hardware").joinpath("blockers.json").read_text()
    table = _parse(json.loads(text))
    if extra and Path(extra).is_file():
        table += _parse(json.loads(Path(extra).read_text()))
    return tuple(table)


def known_blockers(extra_file: Path | None = None) -> tuple[Blocker, ...]:
    """The shipped table plus ``extra_file`` (same JSON format) when it exists."""
    return _load(str(extra_file) if extra_file else None)


def find_blocker(usb_chain: Iterable[str], extra_file: Path | None = None) -> Blocker | None:
    """The most specific known blocker among the USB devices above the medium."""
    table = known_blockers(extra_file)
    for usb_id in usb_chain:
        exact = [b for b in table if b.product != "*" and b.matches(usb_id)]
        wildcard = [b for b in table if b.product == "*" and b.matches(usb_id)]
        if exact or wildcard:
            return (exact or wildcard)[0]
    return None


def verdict(
    device: BlockDevice, *, read_only: bool, extra_file: Path | None = None
) -> tuple[Verdict, str]:
    """(verdict, reason) for ``device`` given its current kernel read-only state."""
    blocker = find_blocker(device.usb_chain, extra_file)
    if blocker is not None:
        return "hardware", f"hardware write blocker {blocker.name}"
    if read_only:
        return "software", "kernel read-only flag set"
    return "none", "no write blocker and the kernel read-only flag is not set"
