"""The live-acquisition lock: an OS ``flock`` on the evidence directory's ``acquisition.log``.

A running acquisition holds an exclusive ``flock`` on its ``acquisition.log`` from
before its database row says ``running`` until after the row says how it ended.
So any process (``custodyd serve`` starting, any CLI command opening the database)
can tell a live acquisition from one a crash left behind: if it can take the lock,
nobody is working on the item. The kernel drops the lock when its holder dies,
``kill -9`` and power loss included, so a stale lock cannot exist.

The log is the lock file because every item has one from its first instant and
keeps it forever (a separate lock file would have to be removed before sealing,
and removing it would open a window in which a second process could lock a new,
different file of the same name). ``flock`` locks belong to the open file, not to
the process: a second open of the same log in the same process conflicts too.
``flock`` is local to one machine (and to filesystems that support it over the
network, such as NFSv4).
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from custodyd.daemon.store.layout import LOG_NAME


class LockBusy(Exception):
    """Another open file (another process, or another acquisition here) holds the lock."""


class EvidenceLock:
    """An exclusive ``flock`` on ``<directory>/acquisition.log`` (created when missing)."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory = directory
        self._fd: int | None = fd

    @classmethod
    def take(cls, directory: Path) -> EvidenceLock:
        """Lock ``directory`` now or raise :class:`LockBusy` (never waits).

        ``OSError`` (the directory is missing, not ours to read, ...) propagates: the
        caller cannot tell whether the item is live, so it must not act on it.
        """
        path = directory / LOG_NAME
        # O_RDONLY is enough for flock, and works on a sealed (0444) log.
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LockBusy(f"{directory} is locked by a running acquisition") from None
            raise
        return cls(directory, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Drop the lock (closing the file releases it); idempotent."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> EvidenceLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


@contextmanager
def recovery_turn(path: Path) -> Iterator[None]:
    """One recovery at a time per data directory (a blocking ``flock`` on ``path``).

    While recovery settles an item it holds that item's lock, so another process's
    recovery running at the same moment would see the lock busy, take the item for a
    live acquisition and report it still ``acquiring``. Taking turns removes that
    case: under this lock, a busy item lock can only mean a live acquisition.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
