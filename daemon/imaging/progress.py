"""Progress reports for long reads: bytes done, rate and ETA.

The engine calls a ``Callable[[Progress], None]`` at most a few times a second; the
CLI turns it into a rich bar, the API into job state. The callback runs on the
reader thread and must return quickly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    bytes_done: int
    bytes_total: int
    rate_bps: float
    eta_seconds: float | None
    phase: str = "acquire"  # acquire | verify
    read_errors: int = 0  # unreadable areas met so far (set by the engine on acquisition passes)
    read_error_bytes: int = 0


ProgressCallback = Callable[[Progress], None]


class ProgressMeter:
    """Rate-limits progress callbacks (every ``interval`` seconds, and at the end)."""

    def __init__(
        self,
        total: int,
        callback: ProgressCallback | None,
        *,
        phase: str = "acquire",
        interval: float = 0.25,
    ) -> None:
        self.total = total
        self.callback = callback
        self.phase = phase
        self.interval = interval
        self.start = time.monotonic()
        self._last = 0.0

    def update(self, done: int, *, final: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if not final and now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        remaining = max(self.total - done, 0)
        eta = remaining / rate if rate > 0 else None
        self.callback(Progress(done, self.total, rate, eta, self.phase))
