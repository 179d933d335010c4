"""RFC 6962/9162 reference vectors and property tests for the Merkle math."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodyd.daemon.ledger import merkle
from custodyd.daemon.ledger.merkle import ProofError


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# Published RFC 6962 test data, copied as data from transparency-dev/merkle:
# testonly/constants.go (LeafInputs, RootHashes, NodeHashes) and
# proof/verify_test.go (inclusionProofs with 1-based leaf numbers, consistencyProofs).
LEAVES = [h(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                         "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]
INCLUSION = [  # (leaf number, 1-based as published; tree size; proof)
    (1, 1, []),
    (1, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (3, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (2, 5, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]  # fmt: skip
CONSISTENCY = [
    (1, 1, []),
    (1, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]  # fmt: skip

REFERENCE_LEVELS = merkle.tree_levels([merkle.leaf_hash(leaf) for leaf in LEAVES])
READ = merkle.levels_reader(REFERENCE_LEVELS)


def test_reference_roots() -> None:
    assert merkle.EMPTY_ROOT == ROOTS[0] == hashlib.sha256(b"").digest()
    for size in range(len(LEAVES) + 1):
        assert merkle.root_of(LEAVES[:size]) == ROOTS[size]
        if size:
            assert merkle.root_from_nodes(size, READ) == ROOTS[size]


def test_reference_node_hashes() -> None:
    assert REFERENCE_LEVELS == NODE_HASHES


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_reference_inclusion_proofs(leaf: int, size: int, proof: list[bytes]) -> None:
    index = leaf - 1
    assert merkle.inclusion_proof(index, size, READ) == proof
    merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), proof, ROOTS[size])


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_reference_consistency_proofs(first: int, second: int, proof: list[bytes]) -> None:
    assert merkle.consistency_proof(first, second, READ) == proof
    merkle.verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)


SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION[1:])
def test_corrupted_inclusion_proofs_fail(leaf: int, size: int, proof: list[bytes]) -> None:
    """The corruptions transparency-dev's verifier tests try, each must be refused."""
    index, root, lh = leaf - 1, ROOTS[size], merkle.leaf_hash(LEAVES[leaf - 1])
    probes = [
        (index - 1, size, root, lh, proof),
        (index + 1, size, root, lh, proof),
        (index ^ 2, size, root, lh, proof),
        (index, size * 2, root, lh, proof),
        (index, size // 2, root, lh, proof),
        (index, size, root, b"WrongLeaf", proof),
        (index, size, ROOTS[0], lh, proof),
        (index, size, SOME_HASH, lh, proof),
        (index, size, root, lh, [*proof, b""]),
        (index, size, root, lh, [*proof, root]),
        (index, size, root, lh, [b"", *proof]),
        (index, size, root, lh, [root, *proof]),
        (index, size, root, lh, proof[:-1]),
    ]
    if len(proof) > 1:
        probes.append((index, size, root, lh, [proof[0], SOME_HASH, *proof[1:]]))
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((index, size, root, lh, bad))
    for p_index, p_size, p_root, p_leaf, p_proof in probes:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(p_index, p_size, p_leaf, p_proof, p_root)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY[1:])
def test_corrupted_consistency_proofs_fail(first: int, second: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[first], ROOTS[second]
    probes = [
        (first - 1, second, r1, r2, proof),
        (first + 1, second, r1, r2, proof),
        (first ^ 2, second, r1, r2, proof),
        (first, second * 2, r1, r2, proof),
        (first, second // 2, r1, r2, proof),
        (first, second, b"WrongRoot", r2, proof),
        (first, second, r1, b"WrongRoot", proof),
        (first, second, r2, r1, proof),
        (first, second, r1, r2, []),
        (first, second, r1, r2, [*proof, b""]),
        (first, second, r1, r2, [*proof, r1]),
        (first, second, r1, r2, [*proof, r2]),
        (first, second, r1, r2, [b"", *proof]),
        (first, second, r1, r2, [r1, *proof]),
        (first, second, r1, r2, [r2, *proof]),
        (first, second, r1, r2, [proof[0], *proof]),
        (first, second, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((first, second, r1, r2, bad))
    for s1, s2, a, b, p in probes:
        with pytest.raises(ProofError):
            merkle.verify_consistency(s1, s2, a, b, p)


def test_trivial_consistency_cases() -> None:
    merkle.verify_consistency(0, 0, ROOTS[0], ROOTS[0], [])
    merkle.verify_consistency(0, 5, ROOTS[0], ROOTS[5], [])
    with pytest.raises(ProofError):
        merkle.verify_consistency(1, 1, ROOTS[1], ROOTS[2], [])
    with pytest.raises(ProofError):
        merkle.verify_consistency(2, 1, ROOTS[2], ROOTS[1], [])
    with pytest.raises(ProofError):
        merkle.verify_consistency(1, 1, ROOTS[1], ROOTS[1], [ROOTS[0]])


# --- property tests -------------------------------------------------------------


def _tree(size: int) -> tuple[list[bytes], list[list[bytes]]]:
    leaves = [i.to_bytes(4, "big") + b"leaf" for i in range(size)]
    return leaves, merkle.tree_levels([merkle.leaf_hash(x) for x in leaves])


def _flip(proof: list[bytes], element: int, bit: int) -> list[bytes]:
    out = list(proof)
    raw = bytearray(out[element])
    raw[bit // 8] ^= 1 << (bit % 8)
    out[element] = bytes(raw)
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_every_inclusion_proof_verifies_and_any_flipped_bit_fails(
    size: int, data: st.DataObject
) -> None:
    leaves, levels = _tree(size)
    read = merkle.levels_reader(levels)
    root = merkle.root_from_nodes(size, read)
    assert root == merkle.root_of(leaves)
    for index in range(size) if size <= 40 else data.draw(st.lists(st.integers(0, size - 1))):
        proof = merkle.inclusion_proof(index, size, read)
        assert len(proof) <= size.bit_length()
        lh = merkle.leaf_hash(leaves[index])
        merkle.verify_inclusion(index, size, lh, proof, root)
        if proof:
            element = data.draw(st.integers(0, len(proof) - 1))
            bit = data.draw(st.integers(0, 255))
            with pytest.raises(ProofError):
                merkle.verify_inclusion(index, size, lh, _flip(proof, element, bit), root)
        bit = data.draw(st.integers(0, 255))
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, size, _flip([lh], 0, bit)[0], proof, root)
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, size, lh, proof, _flip([root], 0, bit)[0])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_every_consistency_proof_verifies_and_any_flipped_bit_fails(
    second: int, data: st.DataObject
) -> None:
    leaves, levels = _tree(second)
    read = merkle.levels_reader(levels)
    root2 = merkle.root_from_nodes(second, read)
    firsts = range(1, second + 1) if second <= 40 else data.draw(st.lists(st.integers(1, second)))
    for first in firsts:
        root1 = merkle.root_of(leaves[:first])
        proof = merkle.consistency_proof(first, second, read)
        merkle.verify_consistency(first, second, root1, root2, proof)
        if first == second:
            assert proof == []
            continue
        element = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        with pytest.raises(ProofError):
            merkle.verify_consistency(first, second, root1, root2, _flip(proof, element, bit))
        with pytest.raises(ProofError):
            merkle.verify_consistency(first, second, _flip([root1], 0, bit)[0], root2, proof)
        with pytest.raises(ProofError):
            merkle.verify_consistency(first, second, root1, _flip([root2], 0, bit)[0], proof)


@given(st.integers(0, 2**40), st.integers(0, 2**40))
def test_range_nodes_cover_the_range(a: int, b: int) -> None:
    size = max(a, b, 1)
    covered = 0
    for level, idx in merkle.peaks(size):
        assert idx << level == covered
        covered += 1 << level
    assert covered == size
