"""The ledger's Ed25519 signing key: created once, kept in ``settings.key_dir`` (0600).

Creation is race-free across processes: the key is written to a private
temporary file and hard-linked into place, so when two processes start at once
exactly one key wins and both use it.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from custodyd.daemon.durable import write_atomic
from custodyd.daemon.errors import ConfigError

KEY_FILE = "ledger-ed25519.pem"


def key_path(key_dir: Path) -> Path:
    return key_dir / KEY_FILE


def load_or_create(key_dir: Path) -> Ed25519PrivateKey:
    path = key_path(key_dir)
    if not path.exists():
        _create(key_dir, path)
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"ledger signing key {path} is unreadable: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"ledger signing key {path} is not an Ed25519 key")
    return key


def _create(key_dir: Path, path: Path) -> None:
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    try:
        # replace=False: when another process won the race, its key is kept and used.
        write_atomic(path, pem, mode=0o600, replace=False)
    except OSError as exc:
        raise ConfigError(f"cannot create the ledger signing key {path}: {exc}") from exc
