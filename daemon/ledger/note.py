"""C2SP signed notes (https://c2sp.org/signed-note) and checkpoints (tlog-checkpoint).

A checkpoint body is three lines, each ending in a newline::

    <origin>
    <tree size, decimal>
    <base64 root hash>

A signed note is the body, a blank line, then one signature line per signer::

    — <key name> <base64(key hash (4 bytes) || Ed25519 signature)>

The signature covers the body including its final newline. The key hash is the
first four bytes of SHA-256(key name || 0x0A || 0x01 || public key), and a
verifier key is written ``<name>+<key hash, 8 hex>+<base64(0x01 || public key)>``
(the form Go's ``golang.org/x/mod/sumdb/note`` and transparency-dev tools read).
Pure functions: the offline verifier uses them without a database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = b"\x01"
SIG_PREFIX = "\u2014 "  # em dash, space


class NoteError(ValueError):
    """A note, checkpoint or verifier key is malformed or its signature does not verify."""


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public_key).digest()[:4]


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_key(name: str, public_key: bytes) -> str:
    _check_name(name)
    encoded = base64.b64encode(ALG_ED25519 + public_key).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


@dataclass(frozen=True)
class Verifier:
    name: str
    key_hash: bytes
    public_key: bytes

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key has the form name+hash+base64key")
        name, hash_hex, key_b64 = parts
        try:
            khash = bytes.fromhex(hash_hex)
            key = base64.b64decode(key_b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteError(f"verifier key is not well formed: {exc}") from exc
        if len(khash) != 4 or len(key) != 33 or key[:1] != ALG_ED25519:
            raise NoteError("verifier key is not an Ed25519 C2SP key")
        if key_hash(name, key[1:]) != khash:
            raise NoteError("verifier key hash does not match its name and key")
        return cls(name=name, key_hash=khash, public_key=key[1:])

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except InvalidSignature:
            return False
        return True

    def __str__(self) -> str:
        return verifier_key(self.name, self.public_key)


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} must be non-empty without spaces or '+'")


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """A signed note: ``text`` (ending in a newline), a blank line, one signature line."""
    _check_name(name)
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text must end in a newline and contain no blank line")
    public = raw_public_key(key.public_key())
    sig = key.sign(text.encode())
    line = base64.b64encode(key_hash(name, public) + sig).decode()
    return f"{text}\n{SIG_PREFIX}{name} {line}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text if it carries a valid signature by ``verifier``; else :class:`NoteError`.

    Like Go's ``note.Open``: signature lines of other keys are ignored, a bad
    signature by the known key rejects the note.
    """
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note (no blank line before the signatures)")
    text, sigs = note[: split + 1], note[split + 2 :]
    found = False
    for line in sigs.splitlines():
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"malformed signature line {line!r}")
        try:
            name, b64 = line[len(SIG_PREFIX) :].split(" ")
            blob = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteError(f"malformed signature line {line!r}") from exc
        if len(blob) < 5:
            raise NoteError(f"malformed signature line {line!r}")
        if name != verifier.name or blob[:4] != verifier.key_hash:
            continue
        if not verifier.verify(text.encode(), blob[4:]):
            raise NoteError(f"signature by {name} does not verify")
        found = True
    if not found:
        raise NoteError(f"note is not signed by {verifier.name}+{verifier.key_hash.hex()}")
    return text


def signers(note: str) -> list[tuple[str, bytes]]:
    """(key name, key hash) of each signature line, unverified (to pick the verifier)."""
    split = note.rfind("\n\n")
    found = []
    for line in note[split + 2 :].splitlines() if split >= 0 else []:
        if not line.startswith(SIG_PREFIX):
            continue
        try:
            name, b64 = line[len(SIG_PREFIX) :].split(" ")
            blob = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error):
            continue
        found.append((name, blob[:4]))
    return found


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint has an origin, a size and a root line")
        origin, size_s, root_s = lines[0], lines[1], lines[2]
        if not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
            raise NoteError(f"checkpoint tree size {size_s!r} is not a decimal number")
        try:
            root = base64.b64decode(root_s, validate=True)
        except binascii.Error as exc:
            raise NoteError("checkpoint root hash is not base64") from exc
        if len(root) != 32:
            raise NoteError("checkpoint root hash is not 32 bytes")
        return cls(origin=origin, size=int(size_s), root=root)


def open_checkpoint(note: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Verify the signature, then parse the checkpoint (and check its origin when given)."""
    cp = Checkpoint.parse(open_note(note, verifier))
    if origin is not None and cp.origin != origin:
        raise NoteError(f"checkpoint origin {cp.origin!r} is not {origin!r}")
    return cp
