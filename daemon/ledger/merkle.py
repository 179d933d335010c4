"""RFC 9162 Merkle tree math: hashes, proof plans and proof verification.

Pure functions, no database: the offline verifier and the tests use them as
they are. Hashing is exactly RFC 9162 §2.1.1 (SHA-256)::

    MTH({})      = SHA-256()
    leaf hash    = SHA-256(0x00 || leaf)
    node hash    = SHA-256(0x01 || left || right)

so the RFC's own vectors and any outside verifier apply.

Storage model used by :mod:`custodyd.daemon.ledger.service`: every *complete*
subtree is stored once it exists, keyed by ``(level, index)``; node
``(level, i)`` covers leaves ``[i * 2**level, (i + 1) * 2**level)``. Every range
the RFC's proof recursion needs decomposes into at most ``log2(n)`` such nodes
(:func:`range_nodes`), which is why a proof costs O(log n) reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [lo, hi)


class ProofError(ValueError):
    """A proof does not verify (wrong length, wrong hashes, or impossible sizes)."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from the RFC definition (reference; O(n) memory)."""
    return _mth([leaf_hash(leaf) for leaf in leaves])


def _mth(hashes: Sequence[bytes]) -> bytes:
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


# --- complete subtrees -------------------------------------------------------


def range_nodes(lo: int, hi: int) -> list[NodeId]:
    """The complete subtrees, left to right, whose right fold is MTH(D[lo:hi]).

    Valid for every range the RFC recursion produces (``lo`` is a multiple of a
    power of two >= ``hi - lo``): the RFC puts the largest power of two on the
    left, so the range splits by the binary digits of its length.
    """
    nodes: list[NodeId] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo & ((1 << level) - 1):
            raise ValueError(f"range [{lo}, {hi}) is not aligned")
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Right fold of complete-subtree hashes: H(a, H(b, H(c, d)))."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def completed_nodes(index: int) -> list[NodeId]:
    """Nodes above leaf ``index`` that become complete once it is appended (bottom up)."""
    nodes: list[NodeId] = []
    level, i = 0, index
    while i & 1:
        i >>= 1
        level += 1
        nodes.append((level, i))
    return nodes


def peaks(size: int) -> list[NodeId]:
    """The complete subtrees of a tree of ``size`` leaves (its right border), left to right."""
    return range_nodes(0, size)


# --- proof plans (which ranges a proof consists of) ---------------------------


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) as leaf ranges, in proof order (leaf to root)."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    out: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[Range]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) as leaf ranges, in proof order."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to {second}")
    if first == 0 or first == second:
        return []
    out: list[Range] = []
    lo, hi, whole = 0, second, True
    while True:
        m = first - lo
        if m == hi - lo:
            if not whole:
                out.append((lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
            whole = False
    out.reverse()
    return out


def plan_nodes(ranges: Iterable[Range]) -> set[NodeId]:
    return {node for lo, hi in ranges for node in range_nodes(lo, hi)}


def assemble(ranges: Iterable[Range], nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """Turn a proof plan into hashes, given the stored complete-subtree hashes."""
    return [fold([nodes[n] for n in range_nodes(lo, hi)]) for lo, hi in ranges]


NodeReader = Callable[[set[NodeId]], Mapping[NodeId, bytes]]


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    ranges = inclusion_ranges(index, size)
    return assemble(ranges, read(plan_nodes(ranges)))


def consistency_proof(first: int, second: int, read: NodeReader) -> list[bytes]:
    ranges = consistency_ranges(first, second)
    return assemble(ranges, read(plan_nodes(ranges)))


def root_from_nodes(size: int, read: NodeReader) -> bytes:
    ids = peaks(size)
    nodes = read(set(ids))
    return fold([nodes[n] for n in ids])


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ----------------------------


def root_from_inclusion(index: int, size: int, leaf_hash_: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to; raises :class:`ProofError` if malformed."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf_hash_
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf_hash_: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows leaf ``index`` in the tree ``root``."""
    if root_from_inclusion(index, size, leaf_hash_, proof) != root:
        raise ProofError(f"inclusion proof for index {index} does not lead to the root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows tree ``first`` is a prefix of ``second``."""
    if not 0 <= first <= second:
        raise ProofError(f"size {first} is larger than {second}")
    if first == second:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError("equal tree sizes with different roots")
        return
    if first == 0:
        if proof:
            raise ProofError("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != first_root:
        raise ProofError(f"consistency proof does not lead to the root of size {first}")
    if sr != second_root:
        raise ProofError(f"consistency proof does not lead to the root of size {second}")


# --- whole-tree computation (verification of a full copy) ---------------------


def tree_levels(leaf_hashes: list[bytes]) -> list[list[bytes]]:
    """All complete-subtree hashes, level by level: ``levels[l][i]`` is node (l, i)."""
    levels = [leaf_hashes]
    current = leaf_hashes
    sha = hashlib.sha256
    while len(current) > 1:
        current = [
            sha(b"\x01" + a + b).digest()
            for a, b in zip(current[0::2], current[1::2], strict=False)
        ]
        levels.append(current)
    return levels


def levels_reader(levels: list[list[bytes]]) -> NodeReader:
    """A :data:`NodeReader` over in-memory levels (for proofs from a full copy)."""

    def read(ids: set[NodeId]) -> Mapping[NodeId, bytes]:
        return {(lv, i): levels[lv][i] for lv, i in ids}

    return read
