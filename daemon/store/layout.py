"""Paths, durable JSON files, the acquisition log and sealing of an evidence directory."""

from __future__ import annotations

import contextlib
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
PART_SUFFIX = ".part"  # being written (or written, not yet sealed in the database)
INCOMPLETE_SUFFIX = ".incomplete"  # abandoned: never evidence


def new_evidence_id(now: datetime) -> str:
    """``EV<yyyymmdd>-<8 hex>``: sortable by day, unguessable, safe as a directory name."""
    return f"EV{now:%Y%m%d}-{secrets.token_hex(4).upper()}"


def evidence_directory(store: Path, case_ref: str, evidence_id: str) -> Path:
    return store / case_ref / evidence_id


def json_bytes(obj: Any) -> bytes:
    """The exact bytes ``write_json`` puts on disk (what ``manifest_sha256`` hashes)."""
    return (json.dumps(obj, indent=2, default=str) + "\n").encode()


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` durably: temporary file, fsync, rename, fsync the directory."""
    write_bytes(path, json_bytes(obj))


def write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (tmp, fsync, rename, fsync dir)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    try:
        view = memoryview(data)
        while view:  # os.write may write less than asked
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # no half-written file left beside the real one (a full disk)
        raise
    os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def rename_durably(source: Path, target: Path) -> None:
    """Rename within one directory and fsync it, so the new name survives power loss."""
    os.rename(source, target)
    _fsync_dir(target.parent)


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


def seal_on_disk(directory: Path, part: Path, final: Path, manifest: bytes) -> None:
    """The disk side of sealing, run after the database says sealed (idempotent, so
    recovery repeats it after a crash): image to its final name, ``manifest.json``,
    then the directory read-only."""
    if part.exists():
        rename_durably(part, final)
    if not final.exists():
        raise FileNotFoundError(f"neither {part} nor {final} exists")
    if is_sealed(directory):
        return  # sealing is the last step: everything before it is done
    write_bytes(directory / MANIFEST_NAME, manifest)
    seal(directory)


def keep_as_incomplete(directory: Path) -> Path | None:
    """Give the image of an unsealed acquisition the ``.incomplete`` name (whether it is
    still ``.part`` or, left by an older version, under the final name); returns that
    path, or None when there is no image. A directory a crash left sealed is made
    writable again first: an incomplete item is never sealed."""
    final = directory / IMAGE_NAME
    target = final.with_name(IMAGE_NAME + INCOMPLETE_SUFFIX)
    for candidate in (final.with_name(IMAGE_NAME + PART_SUFFIX), final):
        if candidate.exists():
            if is_sealed(directory):
                os.chmod(directory, 0o750)
            rename_durably(candidate, target)
            break
    return target if target.exists() else None


def is_sealed(directory: Path) -> bool:
    """The directory is read-only for everyone (what :func:`seal` leaves)."""
    return stat.S_IMODE(directory.stat().st_mode) & 0o222 == 0


def unseal_for_disposal(directory: Path) -> None:
    """Make a sealed directory writable again (only for a recorded disposal)."""
    os.chmod(directory, 0o755)
    for entry in directory.iterdir():
        if entry.is_file():
            os.chmod(entry, 0o644)
