"""An independent RFC 9162 / C2SP checkpoint verifier for the tests.

Written from the RFCs (RFC 9162 section 2.1.3.2 inclusion, 2.1.4.2 consistency;
C2SP signed-note and tlog-checkpoint), deliberately not importing
``custodyd.daemon.ledger``: the tests check the project's ledger against it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: recompute the root from a leaf and its inclusion proof."""
    if index >= size:
        raise ValueError("index beyond tree")
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    path = list(proof)
    if first & (first - 1) == 0:  # exact power of two: first_root is the first node
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def open_checkpoint(note: str, verifier_key: str) -> Checkpoint:
    """Check the Ed25519 signature of a C2SP signed note and parse its checkpoint body.

    Verifier key: ``<name>+<hex key id>+<base64(0x01 || 32-byte Ed25519 key)>``; key id
    = first 4 bytes of SHA-256(name || 0x0A || 0x01 || key). Signature lines:
    ``\u2014 <name> <base64(key id || signature)>``, signature over the note text
    (everything before the blank line, with its final newline).
    """
    name, key_id_hex, key_b64 = verifier_key.strip().split("+", 2)
    key_bytes = base64.b64decode(key_b64)
    if key_bytes[0] != 0x01 or len(key_bytes) != 33:
        raise ValueError("not an Ed25519 verifier key")
    key_id = hashlib.sha256(name.encode() + b"\n" + key_bytes).digest()[:4]
    if key_id.hex() != key_id_hex:
        raise ValueError("key id does not match the key")
    public = Ed25519PublicKey.from_public_bytes(key_bytes[1:])
    text, sep, signatures = note.partition("\n\n")
    if not sep:
        raise ValueError("no signature block")
    body = text + "\n"
    verified = False
    for line in signatures.splitlines():
        if not line:
            continue
        dash, signer, sig_b64 = line.split(" ")
        if dash != "\u2014" or signer != name:
            continue
        raw = base64.b64decode(sig_b64)
        if raw[:4] != key_id:
            continue
        public.verify(raw[4:], body.encode())  # raises InvalidSignature
        verified = True
    if not verified:
        raise ValueError("no signature by this key")
    lines = body.splitlines()
    return Checkpoint(lines[0], int(lines[1]), base64.b64decode(lines[2]))
