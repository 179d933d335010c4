"""Paths, durable JSON files, the acquisition log and sealing of an evidence directory."""

from __future__ import annotations

import os
import secrets
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

from custodyd.daemon.clock import Clock
from custodyd.daemon.durable import fsync_dir, write_json_atomic

IMAGE_NAME = "image.raw"
MANIFEST_NAME = "manifest.json"
LOG_NAME = "acquisition.log"
INVENTORY_NAME = "inventory.json"


def new_evidence_id(now: datetime) -> str:
    """``EV<yyyymmdd>-<8 hex>``: sortable by day, unguessable, safe as a directory name."""
    return f"EV{now:%Y%m%d}-{secrets.token_hex(4).upper()}"


def evidence_directory(store: Path, case_ref: str, evidence_id: str) -> Path:
    return store / case_ref / evidence_id


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON atomically and durably (see :mod:`custodyd.daemon.durable`)."""
    write_json_atomic(path, obj, mode=0o640)


class AcquisitionLog:
    """Append-only, line-buffered text log of one acquisition (timestamped, UTC)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.failed = False

    def __call__(self, message: str) -> None:
        if self._file.closed:
            return
        try:
            self._file.write(f"{self.clock.now().isoformat()} {message}\n")
        except OSError:
            self.failed = True  # a full disk must not turn a clear error into another

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._file.flush()
            # why: the log is part of the evidence directory that gets sealed next.
            os.fsync(self._file.fileno())
        except OSError:
            self.failed = True  # kept on the object (see .failed); nothing reads it yet
        finally:
            try:
                self._file.close()
            except OSError:
                self.failed = True


def seal(directory: Path) -> None:
    """Files 0444, the directory 0555 (after everything in it is durable)."""
    for entry in directory.iterdir():
        if entry.is_file():
            os.chmod(entry, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.chmod(directory, 0o555)
    # why: the sealed directory's new mode is metadata of the directory inode; a
    # crash must not bring back a writable evidence directory after we reported it sealed.
    fsync_dir(directory)


def unseal_for_disposal(directory: Path) -> None:
    """Make a sealed directory writable again (only for a recorded disposal)."""
    os.chmod(directory, 0o755)
    for entry in directory.iterdir():
        if entry.is_file():
            os.chmod(entry, 0o644)
