"""The parts of the server limits that need no server: log repeat limiting, the cap."""

from __future__ import annotations

import logging

from custodyd.daemon.serve.http_limits import backlog_for, effective_cap
from custodyd.daemon.serve.logs import RepeatLimiter


def _record(msg: str, name: str = "asyncio") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)


def test_repeats_are_limited_per_window_and_counted() -> None:
    now = [0.0]
    limiter = RepeatLimiter(burst=5, window=10.0, clock=lambda: now[0])
    passed = [
        limiter.filter(_record("socket.accept() out of system resource")) for _ in range(1000)
    ]
    assert passed.count(True) == 5
    assert limiter.filter(_record("another message"))  # other messages are not affected
    now[0] = 10.5
    record = _record("socket.accept() out of system resource")
    assert limiter.filter(record)
    assert record.suppressed == 995  # type: ignore[attr-defined]


def test_cap_leaves_room_for_an_accept_burst() -> None:
    for fds in (256, 1024, 4096, 65536, 1 << 20):
        cap = effective_cap(512, fds)
        assert cap + backlog_for(fds) < fds or cap == 16
    assert effective_cap(512, 1 << 20) == 512
    assert effective_cap(512, 1024) == 512  # 1,024 - 128 reserve - 224 backlog = 672 >= 512
    assert effective_cap(2000, 1024) == 672
