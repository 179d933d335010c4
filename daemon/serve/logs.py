"""Logs on stderr: readable lines for a person at a terminal, JSON lines for machines.

JSON (``--log-format json``, and the default when stderr is not a terminal, e.g.
under systemd, where journald keeps the lines as is): every record has ``time``,
``level``, ``logger``, ``message``; fields passed with ``extra={...}``
(``event``, ``device``, ``job``, ``evidence``...) are added as keys.
Text (``--log-format text``, the default on a terminal): ``HH:MM:SS level
message  key=value ...`` with the same fields.
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
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(_extra_fields(record))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def _extra_fields(record: logging.LogRecord) -> dict[str, object]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }


class TextFormatter(logging.Formatter):
    """``12:00:01 warning  message  event=x job=y`` (local time: it is read by a person)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = "".join(f" {k}={v}" for k, v in _extra_fields(record).items())
        line = f"{stamp} {record.levelname.lower():<7} {record.getMessage()}"
        if fields:
            line += f" [{fields.strip()}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


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


LOG_FORMATS = ("auto", "text", "json")


def choose_format(requested: str = "auto", *, tty: bool | None = None) -> str:
    """``text`` or ``json``: as requested, else text on a terminal and JSON otherwise."""
    if requested not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {requested!r}")
    if requested != "auto":
        return requested
    return "text" if (sys.stderr.isatty() if tty is None else tty) else "json"


def setup_logging(level: str = "INFO", log_format: str = "auto") -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if choose_format(log_format) == "json" else TextFormatter()
    handler.setFormatter(formatter)
    handler.addFilter(RepeatLimiter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
