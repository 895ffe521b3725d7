"""Proof generation against the RFC 9162 recursive definitions and the verifiers, for
every (index, size) and (size1, size2) up to 40 leaves, and against the known good
proofs of transparency-dev/merkle's ``verify_test.go``."""

from __future__ import annotations

import hashlib

import pytest

from govtrust.errors import ProofError
from govtrust.ledger.hashing import EMPTY_ROOT, leaf_hash, node_hash, root_hash
from govtrust.ledger.proofs import (
    LeafHashes,
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)


def mth(d: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, literally recursive."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    n = len(d)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


DATA = [f"entry {i}".encode() for i in range(40)]
LEAVES = [leaf_hash(d) for d in DATA]


def test_hashes_are_rfc_9162() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert root_hash([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    for n in range(1, 41):
        assert root_hash(LEAVES[:n]) == mth(DATA[:n]), n


def test_known_roots_of_the_reference_tree() -> None:
    """The eight-leaf tree of transparency-dev/merkle (and RFC 6962's test data)."""
    leaves = [
        bytes.fromhex(h)
        for h in (
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        )
    ]
    assert root_hash([leaf_hash(x) for x in leaves]).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )
    proof = inclusion_proof(5, 8, [leaf_hash(x) for x in leaves])
    assert [p.hex() for p in proof] == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]


@pytest.mark.parametrize("size", range(1, 41))
def test_inclusion_proofs_match_path_and_verify(size: int) -> None:
    src = LeafHashes(LEAVES[:size])
    root = mth(DATA[:size])
    for m in range(size):
        proof = inclusion_proof(m, size, src)
        assert proof == path(m, DATA[:size])
        verify_inclusion(LEAVES[m], m, size, proof, root)
        if size > 1:
            with pytest.raises(ProofError):
                verify_inclusion(LEAVES[m], (m + 1) % size, size, proof, root)


@pytest.mark.parametrize("size2", range(1, 41))
def test_consistency_proofs_match_subproof_and_verify(size2: int) -> None:
    src = LeafHashes(LEAVES[:size2])
    root2 = mth(DATA[:size2])
    for size1 in range(1, size2 + 1):
        proof = consistency_proof(size1, size2, src)
        assert proof == subproof(size1, DATA[:size2], True)
        root1 = mth(DATA[:size1])
        verify_consistency(size1, size2, proof, root1, root2)
        if size1 < size2:
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, proof, root2, root1)
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, [*proof, root1], root1, root2)


@pytest.mark.parametrize(("index", "size"), [(-1, 3), (3, 3), (0, 0)])
def test_inclusion_proof_refuses_bad_arguments(index: int, size: int) -> None:
    with pytest.raises(ValueError):
        inclusion_proof(index, size, LEAVES)


@pytest.mark.parametrize(("size1", "size2"), [(0, 3), (4, 3), (-1, 2)])
def test_consistency_proof_refuses_bad_arguments(size1: int, size2: int) -> None:
    with pytest.raises(ValueError):
        consistency_proof(size1, size2, LEAVES)


def test_a_proof_hash_of_the_wrong_size_fails() -> None:
    proof = inclusion_proof(2, 5, LEAVES)
    with pytest.raises(ProofError, match="32"):
        verify_inclusion(LEAVES[2], 2, 5, [*proof[:-1], proof[-1][:31]], mth(DATA[:5]))
