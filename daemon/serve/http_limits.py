"""HTTP server limits: request read deadlines and a cap on open connections.

uvicorn (h11) has an idle keep-alive timeout but no deadline for *reading* a
request: a client that sends half a request line, or headers announcing 100
body bytes and then 7, holds its connection (and a file descriptor) for ever.
A thousand such clients exhaust the process's descriptors; ``accept()`` then
fails in a tight loop (asyncio logs every failure) and ``/healthz`` stops
answering (slowloris).

:class:`GuardedH11Protocol` is uvicorn's h11 protocol with three additions
(settings in :class:`HttpLimits`, from ``api_*`` in the configuration):

- **header deadline**: the request head (request line and headers) must be
  complete within ``header_timeout`` seconds of the connection opening or of
  the previous response ending (keep-alive);
- **body deadline**: the body must be complete within ``body_timeout`` seconds
  of the head;
- **connection cap**: at most ``max_connections`` connections are open. When a
  new one arrives at the cap, the oldest connection that is *not* being served
  (its request still incomplete, or idle between requests) is closed to make
  room; only when every open connection is being served is the newcomer closed.
  So half-sent requests cannot lock out a real one, and ``accept()`` never runs
  out of descriptors (the cap is kept below the descriptor limit, which
  :func:`raise_fd_limit` lifts to the hard limit at start).

Closing for a deadline or the cap is logged at most a few times per interval
(:class:`custodyd.daemon.serve.logs.RepeatLimiter` on every handler).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("custodyd.http")

FD_RESERVE = 128  # descriptors kept for the database, logs, images, the listening socket
MAX_BACKLOG = 1024


@dataclass(frozen=True)
class HttpLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 512


def raise_fd_limit() -> int:
    """Lift the soft descriptor limit to the hard one; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def backlog_for(fd_soft_limit: int) -> int:
    """The listen backlog. asyncio also accepts up to this many connections in one go,
    before any protocol (so the cap) sees them: a quarter of the descriptors at most."""
    return max(64, min(MAX_BACKLOG, (fd_soft_limit - FD_RESERVE) // 4))


def effective_cap(wanted: int, fd_soft_limit: int) -> int:
    """``wanted`` connections, or fewer if the descriptor limit could not hold them
    together with one accept burst (:func:`backlog_for`) and the reserve."""
    room = fd_soft_limit - FD_RESERVE - backlog_for(fd_soft_limit)
    return max(16, min(wanted, room))


class _Registry:
    """The open connections of one server, oldest first (dict order)."""

    def __init__(self) -> None:
        self.open: dict[GuardedH11Protocol, None] = {}


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with read deadlines and a fair connection cap."""

    limits = HttpLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = getattr(self.config, "custodyd_limits", None)
        if isinstance(limits, HttpLimits):
            self.limits = limits
        state: Any = self.server_state
        registry = getattr(state, "custodyd_registry", None)
        if registry is None:
            registry = state.custodyd_registry = _Registry()
        self.registry: _Registry = registry
        self.deadline: asyncio.TimerHandle | None = None
        self.phase = "head"  # head -> body -> serving -> head (keep-alive) ...

    # -- connection life ------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.registry.open[self] = None
        self._arm(self.limits.header_timeout)
        if len(self.registry.open) > self.limits.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.open.pop(self, None)
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.phase = "head"
            self._arm(self.limits.header_timeout)
        self._follow()  # a pipelined request may already be complete

    # -- deadlines ----------------------------------------------------------------
    def _follow(self) -> None:
        """Move the deadline along with what the client has sent so far."""
        state = self.conn.their_state
        if state is h11.SEND_BODY and self.phase == "head":
            self.phase = "body"
            self._arm(self.limits.body_timeout)
        elif state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED) and self.phase != "serving":
            self.phase = "serving"
            self._disarm()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, self._expired, self.phase)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expired(self, phase: str) -> None:
        self.deadline = None
        if self.phase != phase or self.transport.is_closing():
            return
        log.warning(
            "closed a connection that did not send its request %s in time",
            "headers" if phase == "head" else "body",
            extra={"event": "http.read_timeout", "client": _client(self)},
        )
        self.transport.abort()

    # -- the cap ----------------------------------------------------------------------
    def _make_room(self) -> None:
        for other in self.registry.open:
            if other is not self and other.phase != "serving":
                log.warning(
                    "connection cap reached: closed the oldest connection not being served",
                    extra={"event": "http.evicted", "client": _client(other)},
                )
                self.registry.open.pop(other, None)
                other.transport.abort()
                return
        log.warning(
            "connection cap reached and every connection is being served: refused one",
            extra={"event": "http.refused", "client": _client(self)},
        )
        self.registry.open.pop(self, None)
        self.transport.abort()


def _client(protocol: H11Protocol) -> str:
    client = protocol.client
    return f"{client[0]}:{client[1]}" if client else "?"
