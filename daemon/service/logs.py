"""Structured logs: one JSON object per line on stderr (journald keeps them as is).

Every record has ``time``, ``level``, ``logger``, ``message``; fields passed with
``extra={...}`` (``event``, ``device``, ``job``, ``evidence``...) are added as keys.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class RepeatLimiter(logging.Filter):
    """At most ``burst`` records of one kind (logger and message template) per ``window``.

    A flood of one message (a client hammering the server, ``accept()`` failing in
    a loop) must not fill the disk or bury everything else: past the burst the
    records are dropped and counted, and the next one let through after the
    window carries ``suppressed`` (how many were dropped before it).
    """

    def __init__(
        self, burst: int = 5, window: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], list[float]] = {}  # start, count, dropped

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            start, count, dropped = self._seen.get(key, (now, 0.0, 0.0))
            if now - start >= self.window:
                if dropped:
                    record.suppressed = int(dropped)
                start, count, dropped = now, 0.0, 0.0
            count += 1
            allowed = count <= self.burst
            if not allowed:
                dropped += 1
            self._seen[key] = [start, count, dropped]
            if len(self._seen) > 10_000:  # many distinct messages: forget the oldest
                self._seen.pop(next(iter(self._seen)))
        return allowed


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RepeatLimiter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
