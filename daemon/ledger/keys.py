"""This appliance's ledger keys, kept in ``settings.key_dir`` (0700 directory, 0600 files).

- ``ledger-ed25519.pem``: the Ed25519 key that signs checkpoints. It is never
  created implicitly once the ledger has entries (a fresh key on a non-empty
  ledger could only hide a lost one): :meth:`Ledger.signing_key` creates it only
  for the very first entry of an empty ledger (first start of ``serve``), and
  ``custodyd ledger init-key`` creates it explicitly.
- ``ledger-ed25519.next.pem``: during ``custodyd ledger rotate-key``, the new key
  written before the handover entry is signed by the old one; promoted after.
- ``ledger-pending.key``: 32 random bytes, the HMAC key that authenticates the
  rows this appliance stages in ``ledger_pending``. Created on demand (a new MAC
  key vouches for nothing that was staged before it).

Creation is race-free across processes: each file is written to a private
temporary file and hard-linked into place, so when two processes start at once
exactly one file wins and both use it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from custodyd.daemon.durable import fsync_dir, write_atomic
from custodyd.daemon.errors import ConfigError

KEY_FILE = "ledger-ed25519.pem"
NEXT_KEY_FILE = "ledger-ed25519.next.pem"
MAC_KEY_FILE = "ledger-pending.key"


def key_path(key_dir: Path) -> Path:
    return key_dir / KEY_FILE


def next_key_path(key_dir: Path) -> Path:
    return key_dir / NEXT_KEY_FILE


def load(path: Path) -> Ed25519PrivateKey | None:
    """The key in ``path``, or None when there is no such file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"ledger signing key {path} is unreadable: {exc}") from exc
    try:
        key = load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise ConfigError(f"ledger signing key {path} is unreadable: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"ledger signing key {path} is not an Ed25519 key")
    return key


def create(path: Path) -> Ed25519PrivateKey:
    """Create the key file unless it exists (then the existing one wins); return the key."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    _publish(path, pem)
    key = load(path)
    assert key is not None
    return key


def promote_next(key_dir: Path) -> None:
    """Make the rotated-in key the signing key (atomic rename, fsynced)."""
    os.replace(next_key_path(key_dir), key_path(key_dir))
    fsync_dir(key_dir)


def mac_key(key_dir: Path) -> bytes:
    """The HMAC key for staged rows; created (race-free) when missing."""
    path = key_dir / MAC_KEY_FILE
    if not path.exists():
        _publish(path, secrets.token_bytes(32))
    data = path.read_bytes()
    if len(data) != 32:
        raise ConfigError(f"ledger pending-row key {path} is not 32 bytes")
    return data


def _publish(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600) unless it already exists; durable."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # replace=False: when another process won the race, its file is kept and used.
        write_atomic(path, data, mode=0o600, replace=False)
    except OSError as exc:
        raise ConfigError(f"cannot create the ledger key file {path}: {exc}") from exc
