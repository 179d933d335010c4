"""Paths, durable JSON files, the acquisition log and sealing of an evidence directory."""

from __future__ import annotations

import json
import os
import secrets
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

from custodyd.daemon.clock import Clock

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
    """Write ``obj`` durably: temporary file, fsync, rename, fsync the directory."""
    tmp = path.with_name(path.name + ".tmp")
    data = (json.dumps(obj, indent=2, default=str) + "\n").encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
            os.fsync(self._file.fileno())
        except OSError:
            self.failed = True
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
    _fsync_dir(directory)


def unseal_for_disposal(directory: Path) -> None:
    """Make a sealed directory writable again (only for a recorded disposal)."""
    os.chmod(directory, 0o755)
    for entry in directory.iterdir():
        if entry.is_file():
            os.chmod(entry, 0o644)
