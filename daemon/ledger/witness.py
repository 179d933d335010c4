"""Witnesses: the newest signed checkpoint, kept outside the database.

The database is not trusted (it can be restored from an older backup, or edited
by whoever administers it). Each directory of ``witness_dirs`` (default
``$CUSTODYD_HOME/witness``; add a second disk or a network share) holds one
file per ledger, named after the ledger's *origin* (not the database URL, so
copying ``$CUSTODYD_HOME`` elsewhere or renaming the database keeps the check),
containing the largest checkpoint this appliance has committed. Before any new
checkpoint is signed the new tree must be provably consistent with every
witness (:mod:`custodyd.daemon.ledger.service`), and ``custodyd ledger verify``
checks the whole ledger against each of them.

Files are replaced atomically (temporary file, fsync, rename, fsync of the
directory) under an ``flock``, and never by a smaller checkpoint, so concurrent
processes of one appliance leave the largest one.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from custodyd.daemon.durable import write_atomic
from custodyd.daemon.ledger.note import Checkpoint, NoteError

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=16)  # asked twice for every append (read, then write)
def file_name(origin: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in origin)[:60]
    return f"checkpoint-{safe}-{hashlib.sha256(origin.encode()).hexdigest()[:12]}.note"


def note_size(note: str) -> int:
    """The tree size a note's checkpoint names (unverified); NoteError if malformed."""
    split = note.find("\n\n")
    if split < 0:
        raise NoteError("not a signed note")
    return Checkpoint.parse(note[: split + 1]).size


@dataclass(frozen=True)
class Witnessed:
    """One witness file: its note, or None when missing (``error`` when unreadable)."""

    path: Path
    note: str | None
    error: str | None = None


class Witnesses:
    def __init__(self, directories: list[Path], origin: str) -> None:
        self.paths = [Path(d) / file_name(origin) for d in directories]

    def read(self) -> list[Witnessed]:
        found = []
        for path in self.paths:
            try:
                found.append(Witnessed(path, path.read_text()))
            except FileNotFoundError:
                found.append(Witnessed(path, None))
            except (OSError, UnicodeDecodeError) as exc:
                found.append(Witnessed(path, None, f"unreadable: {exc}"))
        return found

    def write(self, note: str, size: int, *, replace: bool = False) -> list[str]:
        """Keep ``note`` in every witness unless it holds a larger one already.

        ``replace`` overwrites whatever is there (``custodyd ledger rewitness`` after
        the old file was set aside). Returns the failures (already logged): the entry
        is committed by then; a missing witness refuses the next append, loudly.
        """
        failures = []
        for path in self.paths:
            try:
                _write_one(path, note, size, replace)
            except OSError as exc:
                message = f"cannot write ledger witness {path}: {exc}"
                log.critical("%s; appends will be refused until it is writable", message)
                failures.append(message)
        return failures


def _write_one(path: Path, note: str, size: int, replace: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not replace:
            with contextlib.suppress(OSError, NoteError):
                if note_size(path.read_text()) >= size:
                    return
        write_atomic(path, note.encode(), mode=0o644)
