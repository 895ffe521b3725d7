"""RFC 9162 Merkle inclusion and consistency proofs: generation and verification.

Generation follows the recursive definitions of RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1
(PROOF/SUBPROOF) over a ``HashSource`` that can give the hash of any *complete* subtree
(``2**level`` leaves starting at leaf ``index * 2**level``); hashes of incomplete right
edges are combined from complete subtrees exactly as MTH splits them.

Verification follows the iterative algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 step by
step, with the argument checks transparency-dev/merkle's ``proof/verify.go`` makes
(hash sizes, ``size1 == 0``, equal sizes with a non-empty proof). Failures raise
``govtrust.errors.ProofError``.

Written by hand: no maintained Python library implements RFC 9162 proofs.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from govtrust.errors import ProofError
from govtrust.ledger.hashing import HASH_SIZE, largest_power_of_two_below, node_hash

__all__ = [
    "HashSource",
    "LeafHashes",
    "consistency_proof",
    "inclusion_proof",
    "range_hash",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


@runtime_checkable
class HashSource(Protocol):
    """Hashes of complete subtrees: ``subtree_hash(level, index)`` is MTH of the leaves
    ``D[index * 2**level : (index + 1) * 2**level]``; level 0 gives leaf hashes."""

    def subtree_hash(self, level: int, index: int) -> bytes: ...


class LeafHashes:
    """A HashSource over an in-memory list of leaf hashes (tests, small trees).

    Subtree hashes are computed on demand and memoised.
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self._leaves = leaf_hashes
        self._memo: dict[tuple[int, int], bytes] = {}

    def subtree_hash(self, level: int, index: int) -> bytes:
        if level == 0:
            return self._leaves[index]
        key = (level, index)
        cached = self._memo.get(key)
        if cached is None:
            if (index + 1) << level > len(self._leaves):
                raise IndexError(f"subtree ({level}, {index}) is not complete")
            cached = node_hash(
                self.subtree_hash(level - 1, 2 * index), self.subtree_hash(level - 1, 2 * index + 1)
            )
            self._memo[key] = cached
        return cached


def _source(hashes: HashSource | Sequence[bytes]) -> HashSource:
    if isinstance(hashes, HashSource):
        return hashes
    return LeafHashes(hashes)


def range_hash(start: int, end: int, hashes: HashSource | Sequence[bytes]) -> bytes:
    """MTH(D[start:end]) (RFC 9162 §2.1.1) for a range whose start is a multiple of the
    smallest power of two not below ``end - start`` (every range PATH and SUBPROOF visit).
    """
    if end - start <= 0:
        raise ValueError("empty range")
    return _range(start, end, _source(hashes))


def _range(start: int, end: int, src: HashSource) -> bytes:
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        return src.subtree_hash(n.bit_length() - 1, start // n)
    k = largest_power_of_two_below(n)
    return node_hash(_range(start, start + k, src), _range(start + k, end, src))


def inclusion_proof(index: int, size: int, hashes: HashSource | Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1 for leaf ``index`` in the tree of ``size``
    leaves, lowest level first. Requires 0 <= index < size."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    src = _source(hashes)
    path: list[bytes] = []
    start, end, m = 0, size, index
    # Walk down from the root, recording the sibling at each split; the path is the
    # reverse of that walk (RFC 9162: PATH(m, D[0:k]) : MTH(D[k:n]) puts deeper first).
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if m < k:
            path.append(_range(start + k, end, src))
            end = start + k
        else:
            path.append(_range(start, start + k, src))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_proof(size1: int, size2: int, hashes: HashSource | Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 §2.1.4.1. Requires
    0 < size1 <= size2 (equal sizes give the empty proof)."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    src = _source(hashes)
    proof: list[bytes] = []
    start, end, m, whole = 0, size2, size1, True
    while m != end - start:
        k = largest_power_of_two_below(end - start)
        if m <= k:
            # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            proof.append(_range(start + k, end, src))
            end = start + k
        else:
            # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            proof.append(_range(start, start + k, src))
            start, m, whole = start + k, m - k, False
    if not whole:
        # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        proof.append(_range(start, end, src))
    proof.reverse()
    return proof


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} has {len(value)} bytes, not {HASH_SIZE}")


def _mismatch(what: str, expected: bytes, calculated: bytes) -> ProofError:
    return ProofError(
        f"{what}: calculated root {calculated.hex()} does not match expected root {expected.hex()}",
        expected_root=expected,
        calculated_root=calculated,
    )


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Steps 1–4 of RFC 9162 §2.1.3.2: the root the proof leads to (step 5 compares it)."""
    # 1. leaf_index must be below tree_size.
    if index < 0 or index >= size:
        raise ProofError(f"leaf index {index} is beyond tree size {size}")
    _check_hash("the leaf hash", leaf_hash)
    for p in proof:
        _check_hash("a proof hash", p)
    # 2. fn = leaf_index, sn = tree_size - 1.
    fn, sn = index, size - 1
    # 3. r = hash.
    r = leaf_hash
    # 4. For each p in inclusion_path:
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
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
    # 5. sn must be 0 (the proof reached the root).
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: raise ProofError unless ``proof`` proves leaf ``index`` with
    ``leaf_hash`` in the tree of ``size`` leaves whose root is ``root``."""
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if not hmac.compare_digest(calculated, root):
        raise _mismatch("inclusion proof", root, calculated)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """RFC 9162 §2.1.4.2: raise ProofError unless ``proof`` shows that the tree of
    ``size1`` leaves with ``root1`` is a prefix of the tree of ``size2`` with ``root2``.

    Argument checks as transparency-dev/merkle: size2 < size1 fails; size1 == 0 fails (a
    consistency proof from the empty tree is meaningless); equal sizes need an empty proof
    and equal roots.
    """
    if size1 < 0 or size2 < size1:
        raise ProofError(f"tree size {size2} is smaller than {size1}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError("equal tree sizes need an empty consistency proof")
        if not hmac.compare_digest(root1, root2):
            raise _mismatch("equal tree sizes", root2, root1)
        return
    # 1. An empty consistency_path fails.
    if not proof:
        raise ProofError("empty consistency proof")
    for c in proof:
        _check_hash("a proof hash", c)
    path = list(proof)
    # 2. If first is an exact power of 2, prepend first_hash.
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = size1 - 1, size2 - 1
    # 4. If LSB(fn) is set, right-shift fn and sn until it is not.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first value of the path.
    fr = sr = path[0]
    # 6. For each subsequent value c:
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
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
    # 7. fr must equal first_hash, sr second_hash, and sn be 0.
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if not hmac.compare_digest(fr, root1):
        raise _mismatch("consistency proof (first tree)", root1, fr)
    if not hmac.compare_digest(sr, root2):
        raise _mismatch("consistency proof (second tree)", root2, sr)
