"""Self-contained ledger receipts that verify offline.

A receipt is a JSON object holding everything needed to check that an entry is in the
log: the entry, its leaf index, an RFC 9162 §2.1.3.1 inclusion proof to a signed C2SP
checkpoint, the checkpoint, and the log's verifier key. Verification (RFC 9162
§2.1.3.2) needs no database and no network::

    {
      "format": "govtrust-ledger-receipt/v1",
      "origin": "pki.gov.example/ledger",
      "log_key": "pki.gov.example/ledger+1a2b3c4d+AR...",
      "leaf_index": 41, "tree_size": 57,
      "entry": "<base64 of the entry bytes>",
      "leaf_hash": "<base64 of SHA-256(0x00 || entry)>",
      "inclusion_proof": ["<base64>", ...],
      "checkpoint": "<the signed checkpoint note>",
      "subject_opening": {"salt": "<hex>", "subject_der": "<base64>", "subject": "..."}
    }

``subject_opening`` is present only when the holder asked for it: it opens the entry's
``subject_commitment`` (SHA-256(salt || DER(subject))) so the holder can prove the entry
is about them. It is personal data: a receipt with it must not be published.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govtrust.errors import LedgerError, NoteError
from govtrust.ledger.entries import LedgerEntry, open_commitment
from govtrust.ledger.hashing import leaf_hash
from govtrust.ledger.note import Checkpoint, NoteVerifier, open_checkpoint, parse_vkey
from govtrust.ledger.proofs import verify_inclusion

__all__ = ["RECEIPT_FORMAT", "ReceiptCheck", "build_receipt", "verify_receipt"]

RECEIPT_FORMAT = "govtrust-ledger-receipt/v1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def build_receipt(
    *,
    origin: str,
    log_key: str,
    index: int,
    entry: bytes,
    proof: Sequence[bytes],
    checkpoint_note: str,
    tree_size: int,
    subject_opening: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    receipt: dict[str, Any] = {
        "format": RECEIPT_FORMAT,
        "origin": origin,
        "log_key": log_key,
        "leaf_index": index,
        "tree_size": tree_size,
        "entry": _b64(entry),
        "leaf_hash": _b64(leaf_hash(entry)),
        "inclusion_proof": [_b64(p) for p in proof],
        "checkpoint": checkpoint_note,
    }
    if subject_opening is not None:
        receipt["subject_opening"] = dict(subject_opening)
    return receipt


@dataclass(frozen=True)
class ReceiptCheck:
    """What a verified receipt proves."""

    checkpoint: Checkpoint
    index: int
    entry: LedgerEntry
    key_name: str
    key_from_receipt: bool
    """True when no trusted key was given: the receipt then only proves it is consistent
    with the key it carries; compare that key with the log's published one."""
    subject_opened: bool


def _field(receipt: Mapping[str, Any], name: str, kind: type) -> Any:
    value = receipt.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise LedgerError(f"receipt field {name!r} is missing or not a {kind.__name__}")
    return value


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise LedgerError(f"receipt {what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise LedgerError(f"receipt {what} is not valid base64") from None


def verify_receipt(
    receipt: Mapping[str, Any] | bytes | str, trusted: Sequence[NoteVerifier] = ()
) -> ReceiptCheck:
    """Verify a receipt offline; LedgerError (ProofError, NoteError) if it fails.

    Steps: (1) the checkpoint note carries a valid signature by a trusted key (the given
    ones, else the receipt's own ``log_key``) and names the receipt's origin; (2) the
    tree size matches; (3) RFC 9162 §2.1.3.2 inclusion of SHA-256(0x00 || entry) at
    ``leaf_index`` under the checkpoint's root; (4) if present, the subject opening
    matches the entry's commitment.
    """
    if isinstance(receipt, (bytes, str)):
        try:
            receipt = json.loads(receipt)
        except ValueError:
            raise LedgerError("the receipt is not JSON") from None
    if not isinstance(receipt, Mapping) or receipt.get("format") != RECEIPT_FORMAT:
        raise LedgerError(f"not a {RECEIPT_FORMAT} receipt")
    origin = _field(receipt, "origin", str)
    verifiers = list(trusted)
    key_from_receipt = not verifiers
    if key_from_receipt:
        verifiers = [parse_vkey(_field(receipt, "log_key", str))]
    # (1) the signed checkpoint
    try:
        checkpoint, signed = open_checkpoint(
            _field(receipt, "checkpoint", str), verifiers, origin=origin
        )
    except NoteError as exc:
        raise NoteError(f"receipt checkpoint: {exc}") from None
    # (2) sizes
    index = _field(receipt, "leaf_index", int)
    if _field(receipt, "tree_size", int) != checkpoint.size:
        raise LedgerError("the receipt's tree size is not its checkpoint's")
    # (3) inclusion
    entry = _unb64(receipt.get("entry"), "entry")
    proof_field = _field(receipt, "inclusion_proof", list)
    proof = [_unb64(p, "inclusion proof hash") for p in proof_field]
    verify_inclusion(leaf_hash(entry), index, checkpoint.size, proof, checkpoint.root)
    parsed = LedgerEntry.parse(entry)
    # (4) the holder's opening of the subject commitment
    opening = receipt.get("subject_opening")
    if opening is not None:
        if not isinstance(opening, Mapping) or parsed.commitment is None:
            raise LedgerError("the receipt opens a subject commitment its entry does not have")
        try:
            salt = bytes.fromhex(str(opening.get("salt", "")))
        except ValueError:
            raise LedgerError("the subject opening's salt is not hex") from None
        open_commitment(parsed.commitment, salt, _unb64(opening.get("subject_der"), "subject"))
    return ReceiptCheck(
        checkpoint=checkpoint,
        index=index,
        entry=parsed,
        key_name=signed.verified[0],
        key_from_receipt=key_from_receipt,
        subject_opened=opening is not None,
    )
