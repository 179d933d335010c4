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
from custodyd.daemon.durable import fsync_dir, write_atomic
from custodyd.daemon.item_files import IMAGE_NAME as IMAGE_NAME  # re-exported for callers
from custodyd.daemon.item_files import INVENTORY_NAME, LOG_NAME, MANIFEST_NAME, MAP_NAME

NOT_IMAGES = frozenset({MANIFEST_NAME, LOG_NAME, INVENTORY_NAME, MAP_NAME})
IMAGE_NAMES = ("image.raw", "image.E01")  # the first (or only) file of an image
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
    """Write ``obj`` as JSON atomically and durably (see :mod:`custodyd.daemon.durable`)."""
    write_atomic(path, json_bytes(obj), mode=0o640)


def rename_durably(source: Path, target: Path) -> None:
    """Rename within one directory and fsync it, so the new name survives power loss."""
    os.rename(source, target)
    fsync_dir(target.parent)  # why: the new name (sealed or incomplete) must survive a crash


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


def seal_on_disk(directory: Path, final: Path, manifest: bytes) -> None:
    """The disk side of sealing, run after the database says sealed (idempotent, so
    recovery repeats it after a crash): every ``*.part`` file (the raw image, or each
    E01 segment) to its final name, ``manifest.json``, then the directory read-only."""
    for part in sorted(directory.glob("*" + PART_SUFFIX)):
        rename_durably(part, part.with_name(part.name.removesuffix(PART_SUFFIX)))
    if not final.exists():
        raise FileNotFoundError(f"{final} (or its .part) does not exist")
    if is_sealed(directory):
        return  # sealing is the last step: everything before it is done
    write_atomic(directory / MANIFEST_NAME, manifest, mode=0o640)
    seal(directory)


def keep_as_incomplete(directory: Path) -> Path | None:
    """Give every image file of an unsealed acquisition the ``.incomplete`` name —
    ``.part`` files, E01 segments and rescue side files, or images an older version
    left under their final names — and return the first image's path (None when there
    is none). A directory a crash left sealed is made writable again first: an
    incomplete item is never sealed."""
    for entry in sorted(directory.iterdir()):
        name = entry.name
        if (
            name in NOT_IMAGES
            or name.startswith(".")  # an atomic write's temporary file
            or name.endswith(INCOMPLETE_SUFFIX)
            or not entry.is_file()
        ):
            continue
        if is_sealed(directory):
            os.chmod(directory, 0o750)
        target = entry.with_name(name.removesuffix(PART_SUFFIX) + INCOMPLETE_SUFFIX)
        rename_durably(entry, target)
    for name in IMAGE_NAMES:
        first = directory / (name + INCOMPLETE_SUFFIX)
        if first.exists():
            return first
    return None


def media_bytes_in(partial: Path | None) -> int:
    """The bytes of evidence a partial image holds: a raw file's size. A partial E01
    has no closing sections, so no media bytes are claimed for it (0)."""
    if partial is None or not partial.name.startswith("image.raw"):
        return 0
    return partial.stat().st_size


def is_sealed(directory: Path) -> bool:
    """The directory is read-only for everyone (what :func:`seal` leaves)."""
    return stat.S_IMODE(directory.stat().st_mode) & 0o222 == 0


def unseal_for_disposal(directory: Path) -> None:
    """Make a sealed directory writable again (only for a recorded disposal)."""
    os.chmod(directory, 0o755)
    for entry in directory.iterdir():
        if entry.is_file():
            os.chmod(entry, 0o644)
