"""Witnessing transparency logs: C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature)
and the C2SP tlog-witness protocol (https://c2sp.org/tlog-witness). Pure: no database,
no HTTP.

**Cosignatures** (tlog-cosignature §Format, Ed25519 type). A cosignature is a note
signature line ``— <cosigner name> base64(key ID || timestamped_signature)`` on a
checkpoint, where

- the key ID is ``SHA-256(<name> || "\\n" || 0x04 || 32-byte Ed25519 public key)[:4]``,
- ``timestamped_signature`` is ``u64 timestamp || ed25519_signature[64]`` (RFC 8446 §3.3
  serialisation: big-endian), the timestamp a POSIX time not above ``2**63 - 1``,
- the signed message (§Ed25519 signed message) is ``cosignature/v1\\n``, then
  ``time <timestamp>\\n`` (ASCII decimal, no leading zeroes), then the whole checkpoint
  note body including its final newline and no signature line.

A cosigner's public key is written as a signed-note vkey with signature type 0x04.

**tlog-witness** ``add-checkpoint``: the request body is ``old <size>\\n``, zero to 63
consistency proof lines (one base64 hash each), an empty line and the signed checkpoint;
the answer is 200 with cosignature lines, 409 with the latest cosigned size
(``text/x.tlog.size``), or 400/403/404/422. ``verify_add_checkpoint`` makes the
witness's checks in the order the specification lists them.

Written by hand: no maintained Python library implements C2SP cosignatures or the
witness protocol. Signed-note parsing, key IDs and RFC 9162 consistency verification are
``govtrust.ledger.note`` and ``govtrust.ledger.proofs``; Ed25519 is pyca/cryptography.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from govtrust.errors import (
    NoteError,
    ProofError,
    WitnessBadProof,
    WitnessBadRequest,
    WitnessBadSignature,
    WitnessConflict,
)
from govtrust.ledger.hashing import EMPTY_ROOT, HASH_SIZE
from govtrust.ledger.note import (
    MAX_NOTE_SIZE,
    Checkpoint,
    NoteVerifier,
    check_key_name,
    key_id,
    open_checkpoint,
    signature_line,
    split_note,
)
from govtrust.ledger.proofs import verify_consistency

__all__ = [
    "COSIGNATURE_HEADER",
    "COSIGNATURE_TYPE",
    "MAX_PROOF_LINES",
    "MAX_REQUEST_SIZE",
    "MAX_TIMESTAMP",
    "SIZE_CONTENT_TYPE",
    "AddCheckpointRequest",
    "Cosignature",
    "CosignatureVerifier",
    "cosign",
    "cosignature_key_id",
    "cosignature_vkey",
    "cosigned_message",
    "encode_cosignature_response",
    "encode_size_response",
    "parse_cosignature_response",
    "parse_cosignature_vkey",
    "parse_size_response",
    "verify_add_checkpoint",
    "verify_cosignatures",
]

COSIGNATURE_TYPE = 0x04
"""tlog-cosignature: the signature type byte of timestamped Ed25519 cosignatures."""
COSIGNATURE_HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = (1 << 63) - 1
MAX_PROOF_LINES = 63
"""tlog-witness: "The client MUST NOT send more than 63 consistency proof lines"."""
SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_REQUEST_SIZE = 64 * 1024
"""Cap on an add-checkpoint body: 63 proof lines and a checkpoint with its signatures
fit in a few kilobytes."""

_SIGNATURE_SIZE = 8 + 64  # u64 timestamp || Ed25519 signature
_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")
_B64_HASH = re.compile(r"[A-Za-z0-9+/]{43}=")


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def cosignature_key_id(name: str, public_key: bytes) -> int:
    """tlog-cosignature §Format: ``SHA-256(<name> || "\\n" || 0x04 || public key)[:4]``."""
    return key_id(name, COSIGNATURE_TYPE, public_key)


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """tlog-cosignature §Ed25519 signed message: the header line, the timestamp line, and
    the checkpoint note body (with its final newline, without signature lines)."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} is outside 0..2**63-1")
    if not checkpoint_text.endswith("\n"):
        raise NoteError("a checkpoint note body ends in a newline")
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True)
class CosignatureVerifier:
    """A cosigner's Ed25519 key (signature type 0x04). Implements ``note.NoteVerifier``:
    ``verify`` gets the checkpoint body and ``timestamped_signature``."""

    name: str
    public_key: Ed25519PublicKey

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @property
    def key_id(self) -> int:
        return cosignature_key_id(self.name, _raw(self.public_key))

    @property
    def vkey(self) -> str:
        return cosignature_vkey(self.name, self.public_key)

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != _SIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        try:
            message = cosigned_message(text.decode("utf-8"), timestamp)
            self.public_key.verify(signature[8:], message)
        except (NoteError, UnicodeDecodeError, InvalidSignature):
            return False
        return True


def cosignature_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """A cosigner vkey: ``<name>+<key ID, 8 hex>+base64(0x04 || public key)``."""
    check_key_name(name)
    raw = _raw(public_key)
    blob = base64.b64encode(bytes([COSIGNATURE_TYPE]) + raw).decode()
    return f"{name}+{cosignature_key_id(name, raw):08x}+{blob}"


def parse_cosignature_vkey(text: str) -> CosignatureVerifier:
    """Parse a cosigner vkey (type 0x04); NoteError if malformed, of another type, or if
    its key ID does not match its name and key."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a witness key is <name>+<key id>+<base64 key>")
    name, hex_id, b64 = parts
    check_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError("the key ID of a witness key is 8 lower-case hex digits")
    try:
        key = base64.b64decode(b64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError("the witness key is not valid base64") from None
    if len(key) != 33 or key[0] != COSIGNATURE_TYPE:
        raise NoteError(
            "a witness key is a timestamped Ed25519 cosigner key (type 0x04, 32 bytes); "
            "a type 0x01 key is a log key"
        )
    if cosignature_key_id(name, key[1:]) != int(hex_id, 16):
        raise NoteError("the witness key's ID does not match its name and key")
    return CosignatureVerifier(name, Ed25519PublicKey.from_public_bytes(key[1:]))


def cosign(checkpoint_text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """The cosignature line (with its newline) of ``name`` on a checkpoint body at
    ``timestamp``. ``key`` may be a key-custody handle (``signer.as_private_key()``)."""
    raw = _raw(key.public_key())
    signature = key.sign(cosigned_message(checkpoint_text, timestamp))
    blob = timestamp.to_bytes(8, "big") + signature
    return signature_line(name, cosignature_key_id(name, raw), blob)


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who, when (POSIX seconds), and its note line."""

    name: str
    key_id: int
    timestamp: int
    line: str


def verify_cosignatures(
    note: str | bytes,
    witnesses: Sequence[CosignatureVerifier],
    *,
    now: int | None = None,
    max_future_seconds: int = 600,
) -> list[Cosignature]:
    """The cosignatures on a note by the given witnesses, each verified.

    Lines under unknown (name, key ID) pairs are ignored (signed-note, tlog-witness: "The
    client MUST ignore any cosignatures from unknown keys"), and so is the log's own
    signature: check it with ``note.open_checkpoint``. A line of a known witness that does
    not verify, or (with ``now``) whose timestamp is more than ``max_future_seconds``
    ahead, raises NoteError: a forged cosignature is refused, never skipped.
    """
    text, signatures = split_note(note)
    known = {(w.name, w.key_id): w for w in witnesses}
    message = text.encode("utf-8")
    found: list[Cosignature] = []
    for sig in signatures:
        witness = known.get((sig.name, sig.key_id))
        if witness is None:
            continue
        if not witness.verify(message, sig.signature):
            raise NoteError(f"the cosignature of {sig.name} ({sig.key_id:08x}) does not verify")
        timestamp = int.from_bytes(sig.signature[:8], "big")
        if now is not None and timestamp > now + max_future_seconds:
            raise NoteError(f"the cosignature of {sig.name} is dated in the future ({timestamp})")
        found.append(Cosignature(sig.name, sig.key_id, timestamp, sig.line))
    return found


# ---- tlog-witness add-checkpoint ------------------------------------------------------


@dataclass(frozen=True)
class AddCheckpointRequest:
    """An ``add-checkpoint`` request body (tlog-witness §add-checkpoint)."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str
    """The signed checkpoint note (text, blank line, signature lines)."""

    def encode(self) -> bytes:
        if len(self.proof) > MAX_PROOF_LINES:
            raise WitnessBadRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
        lines = [f"old {self.old_size}\n"]
        lines += [base64.b64encode(h).decode() + "\n" for h in self.proof]
        return ("".join(lines) + "\n" + self.checkpoint).encode("utf-8")

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpointRequest:
        """Parse strictly; WitnessBadRequest (400) on anything malformed."""
        if len(body) > MAX_REQUEST_SIZE:
            raise WitnessBadRequest(f"request body larger than {MAX_REQUEST_SIZE} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessBadRequest("request body is not UTF-8") from None
        head, sep, checkpoint = text.partition("\n\n")
        if not sep:
            raise WitnessBadRequest("request body has no empty line before the checkpoint")
        old_line, *proof_lines = head.split("\n")
        match = _OLD.fullmatch(old_line)
        if match is None:
            raise WitnessBadRequest(
                "the first line must be 'old <size>' (decimal, no leading zeroes)"
            )
        if len(proof_lines) > MAX_PROOF_LINES:
            raise WitnessBadRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
        proof = tuple(_proof_hash(line, n) for n, line in enumerate(proof_lines, 1))
        if len(checkpoint) > MAX_NOTE_SIZE:
            raise WitnessBadRequest("checkpoint note too large")
        return cls(int(match.group(1)), proof, checkpoint)

    def unverified_checkpoint(self) -> Checkpoint:
        """The checkpoint's text, parsed but not verified (to find its origin)."""
        try:
            text, _ = split_note(self.checkpoint)
            return Checkpoint.parse(text)
        except NoteError as exc:
            raise WitnessBadRequest(f"malformed checkpoint: {exc}") from None


def _proof_hash(line: str, n: int) -> bytes:
    if not _B64_HASH.fullmatch(line):
        raise WitnessBadRequest(f"consistency proof line {n} is not the base64 of a 32-byte hash")
    digest = base64.b64decode(line)
    if len(digest) != HASH_SIZE or base64.b64encode(digest).decode() != line:
        raise WitnessBadRequest(f"consistency proof line {n} is not canonical base64")
    return digest


def verify_add_checkpoint(
    request: AddCheckpointRequest,
    log_verifiers: Sequence[NoteVerifier],
    origin: str,
    latest_size: int,
    latest_root: bytes | None,
) -> Checkpoint:
    """The witness's checks of tlog-witness §add-checkpoint, in the order it lists them,
    for a log whose origin is known (the caller answers 404 for an unknown one).

    ``latest_size`` / ``latest_root`` are the latest checkpoint cosigned for the origin
    (0 and None if none yet). Returns the verified checkpoint, to cosign and record;
    raises WitnessBadSignature (403), WitnessBadRequest (400), WitnessConflict (409) or
    WitnessBadProof (422).
    """
    # 1. "MUST verify the checkpoint signature against the public key(s) it trusts for
    #    the checkpoint origin, and it MUST ignore signatures from unknown keys."
    try:
        checkpoint, _ = open_checkpoint(request.checkpoint, log_verifiers, origin=origin)
    except NoteError as exc:
        raise WitnessBadSignature(f"checkpoint signature: {exc}") from None
    old = request.old_size
    # 2. "The old size MUST be equal to or lower than the checkpoint size."
    if old > checkpoint.size:
        raise WitnessBadRequest(f"old size {old} is above the checkpoint size {checkpoint.size}")
    # 3. "The witness MUST check that the old size matches the size of the latest
    #    checkpoint it cosigned (or zero if it never cosigned a checkpoint)."
    if old != latest_size:
        raise WitnessConflict(
            latest_size, f"old size {old} is not the latest cosigned size {latest_size}"
        )
    previous = latest_root if latest_root is not None else EMPTY_ROOT
    # 4. "If the old size matches the checkpoint size, the witness MUST check that the
    #    root hashes are also identical" (409), with an empty proof.
    if old == checkpoint.size:
        if checkpoint.root != previous:
            raise WitnessConflict(
                latest_size, f"checkpoint of size {old} has another root than the one cosigned"
            )
        if request.proof:
            raise WitnessBadProof("a consistency proof between equal sizes must be empty")
        return checkpoint
    # 5. "The proof MUST be empty if the old size is zero"; otherwise it must verify as an
    #    RFC 6962 §2.1.2 (RFC 9162 §2.1.4) consistency proof (422).
    if old == 0:
        if request.proof:
            raise WitnessBadProof("a consistency proof from size 0 must be empty")
        return checkpoint
    try:
        verify_consistency(old, checkpoint.size, request.proof, previous, checkpoint.root)
    except ProofError as exc:
        raise WitnessBadProof(f"consistency proof from {old} to {checkpoint.size}: {exc}") from None
    return checkpoint


def encode_cosignature_response(lines: Iterable[str]) -> bytes:
    """A 200 answer: one or more note signature lines, each ending in a newline."""
    out = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    if not out:
        raise ValueError("a cosignature response holds at least one line")
    return out.encode("utf-8")


def parse_cosignature_response(body: bytes) -> list[str]:
    """The signature lines of a 200 answer; NoteError unless every line is a well-formed
    note signature line (``— <name> <base64>``) ending in a newline."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("witness response is not UTF-8") from None
    if not text.endswith("\n"):
        raise NoteError("witness response does not end in a newline")
    lines = [line + "\n" for line in text[:-1].split("\n")]
    split_note("x\n\n" + "".join(lines))  # form of each line, count limit
    return lines


def encode_size_response(size: int) -> bytes:
    """A 409 answer body: the latest cosigned size in decimal and a newline."""
    return f"{size}\n".encode()


def parse_size_response(body: bytes) -> int:
    """The size in a 409 answer; NoteError if it is not ``<decimal>\\n``."""
    match = re.fullmatch(rb"(0|[1-9][0-9]{0,19})\n", body)
    if match is None:
        raise NoteError("a 409 witness response is the latest cosigned size and a newline")
    return int(match.group(1))
