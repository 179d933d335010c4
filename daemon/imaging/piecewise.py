"""Piecewise hashes: a BLAKE3 digest per fixed window, so later damage can be located.

Window ``i`` covers bytes ``[i*window, min((i+1)*window, size))``. A verify pass
computes the same list and names the windows that differ.
"""

from __future__ import annotations

from typing import Any

from custodyd.daemon.imaging.hashers import Hasher, new_blake3


class PiecewiseHasher:
    def __init__(self, window: int) -> None:
        if window <= 0:
            raise ValueError("piecewise window must be positive")
        self.window = window
        self._current: Hasher = new_blake3()
        self._filled = 0
        self.digests: list[str] = []

    def update(self, view: memoryview) -> None:
        pos = 0
        length = len(view)
        while pos < length:
            take = min(self.window - self._filled, length - pos)
            self._current.update(view[pos : pos + take])
            self._filled += take
            pos += take
            if self._filled == self.window:
                self._close()

    def _close(self) -> None:
        self.digests.append(self._current.hexdigest())
        self._current = new_blake3()
        self._filled = 0

    def finish(self) -> list[str]:
        if self._filled:
            self._close()
        return self.digests


def piecewise_manifest(window: int, digests: list[str]) -> dict[str, Any]:
    return {"algorithm": "blake3", "window": window, "count": len(digests), "digests": digests}


def window_range(window: int, index: int, size: int) -> tuple[int, int]:
    """(offset, length) of window ``index`` in an image of ``size`` bytes."""
    start = index * window
    return start, max(0, min(window, size - start))


def diff_windows(window: int, expected: list[str], actual: list[str], size: int) -> list[dict]:
    """Windows whose digests differ (or are missing on one side)."""
    out = []
    for i in range(max(len(expected), len(actual))):
        want = expected[i] if i < len(expected) else None
        got = actual[i] if i < len(actual) else None
        if want != got:
            offset, length = window_range(window, i, size)
            out.append(
                {"index": i, "offset": offset, "length": length, "expected": want, "actual": got}
            )
    return out
