"""transparency-dev/merkle's inclusion and consistency vectors (``testdata/`` @ 417fb0c,
in ../shared/vectors/merkle), run as published: every JSON case, ``wantErr`` included.

Format: inclusion cases give ``leafIdx``, ``treeSize``, ``root``, ``leafHash`` and
``proof`` (base64, ``null`` for the empty proof); consistency cases give ``size1``,
``size2``, ``root1``, ``root2`` and ``proof``. ``wantErr`` says whether verification must
fail.

Skipped cases: none. Two published cases differ from some upstream revisions of the
generator; the copy here is authoritative and passes as published:
``consistency/additional/sizes-are-equal-zero-and-proof-is-empty`` wants an error (a
consistency proof from the empty tree is meaningless, as ``proof/verify.go`` says), and
``consistency/additional/sizes-are-equal-one-and-proof-is-empty`` accepts equal 12-byte
"roots" (equal sizes only compare the roots).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from govtrust.errors import ProofError
from govtrust.ledger.proofs import verify_consistency, verify_inclusion
from tests.conftest import SHARED

VECTORS = SHARED / "vectors" / "merkle"
SKIPPED: dict[str, str] = {}


def _cases(kind: str) -> list[Any]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [
        pytest.param(
            p,
            id=str(p.relative_to(VECTORS / kind)),
            marks=[pytest.mark.skip(reason=SKIPPED[str(p)])] if str(p) in SKIPPED else [],
        )
        for p in files
    ]


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(p) for p in value or []]


def test_the_suite_is_present() -> None:
    assert len(list((VECTORS / "inclusion").rglob("*.json"))) > 50
    assert len(list((VECTORS / "consistency").rglob("*.json"))) > 50


@pytest.mark.parametrize("path", _cases("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (
        _b64(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        _proof(case["proof"]),
        _b64(case["root"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _cases("consistency"))
def test_consistency_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (
        case["size1"],
        case["size2"],
        _proof(case["proof"]),
        _b64(case["root1"]),
        _b64(case["root2"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_root_mismatch_carries_both_roots() -> None:
    case = json.loads((VECTORS / "inclusion" / "1" / "random-root.json").read_text())
    with pytest.raises(ProofError) as info:
        verify_inclusion(
            _b64(case["leafHash"]),
            case["leafIdx"],
            case["treeSize"],
            _proof(case["proof"]),
            _b64(case["root"]),
        )
    assert info.value.expected_root == _b64(case["root"])
    assert info.value.calculated_root is not None
    assert info.value.calculated_root != info.value.expected_root
