"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys, and C2SP
transparency-log checkpoints (https://c2sp.org/tlog-checkpoint).

A signed note is a UTF-8 text ending in a newline, a blank line, and one or more
signature lines ``— <key name> base64(key ID || signature)``. The Ed25519 key ID is
``SHA-256(name || 0x0A || 0x01 || public key)[:4]``; a verifier key is written
``<name>+<key ID, 8 hex digits>+base64(0x01 || public key)`` (the golang.org/x/mod/sumdb
``note`` "vkey" encoding). Opening a note ignores signatures from unknown keys, rejects
the note when a known key's signature fails, and requires at least one known valid
signature (signed-note §Signatures).

Written by hand: no maintained Python library implements C2SP signed notes; the
signatures themselves are pyca/cryptography's Ed25519 (RFC 8032).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from govtrust.errors import NoteError
from govtrust.ledger.hashing import HASH_SIZE

__all__ = [
    "ED25519_TYPE",
    "MAX_SIGNATURES",
    "Checkpoint",
    "Ed25519Verifier",
    "NoteSignature",
    "NoteVerifier",
    "SignedNote",
    "append_signature_lines",
    "check_key_name",
    "key_id",
    "open_checkpoint",
    "open_note",
    "parse_vkey",
    "sign_note",
    "signature_line",
    "split_note",
    "vkey_string",
]

ED25519_TYPE = 0x01
MAX_SIGNATURES = 100  # signed-note: "MUST accept at least up to 16 signatures"
MAX_NOTE_SIZE = 1 << 20
_DASH = "\u2014 "
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def check_key_name(name: str) -> None:
    """signed-note §Format: key names are non-empty, without Unicode spaces or ``+``."""
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"invalid key name {name!r}: empty, or contains a space or '+'")


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """``SHA-256(key name || 0x0A || signature type || public key)[:4]``, big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64decode(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(data).decode() != text:
        raise NoteError(f"{what} is not canonical base64")
    return data


@runtime_checkable
class NoteVerifier(Protocol):
    """A key that can check note signatures: identified by ``name`` and ``key_id``;
    ``verify`` gets the note text (UTF-8) and the signature without its key ID. Witness
    cosignature verifiers (tlog-cosignature, type 0x04) implement the same protocol."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, text: bytes, signature: bytes) -> bool: ...


@dataclass(frozen=True)
class Ed25519Verifier:
    """An Ed25519 note verifier key (signature type 0x01)."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> int:
        return key_id(self.name, ED25519_TYPE, _raw(self.public_key))

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True

    @property
    def vkey(self) -> str:
        return vkey_string(self.name, self.public_key)


def vkey_string(name: str, public_key: Ed25519PublicKey) -> str:
    """``<name>+<hex key ID>+base64(0x01 || 32-byte public key)``."""
    check_key_name(name)
    raw = _raw(public_key)
    kid = key_id(name, ED25519_TYPE, raw)
    return f"{name}+{kid:08x}+{base64.b64encode(bytes([ED25519_TYPE]) + raw).decode()}"


def parse_vkey(text: str) -> NoteVerifier:
    """Parse a verifier key string; NoteError if malformed, of another signature type,
    or if its key ID does not match its name and key."""
    # Names contain no '+', but base64 may: split at the first two only.
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<key id>+<base64 key>")
    name, hex_id, b64 = parts
    check_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError("the key ID of a verifier key is 8 lower-case hex digits")
    key = _b64decode(b64, "the verifier key")
    if len(key) != 33 or key[0] != ED25519_TYPE:
        raise NoteError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
    if key_id(name, ED25519_TYPE, key[1:]) != int(hex_id, 16):
        raise NoteError("the verifier key's ID does not match its name and key")
    return Ed25519Verifier(name, Ed25519PublicKey.from_public_bytes(key[1:]))


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    if _CONTROL.search(text):
        raise NoteError("note text contains an ASCII control character")


def signature_line(name: str, kid: int, signature: bytes) -> str:
    """``— <name> base64(key ID || signature)`` plus newline."""
    check_key_name(name)
    blob = kid.to_bytes(4, "big") + signature
    return f"{_DASH}{name} {base64.b64encode(blob).decode()}\n"


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """Sign ``text`` (must end in a newline) with an Ed25519 key under ``name``.

    ``key`` may be a key-custody handle (``signer.as_private_key()``): only its
    ``sign()`` and ``public_key()`` are used.
    """
    _check_text(text)
    kid = key_id(name, ED25519_TYPE, _raw(key.public_key()))
    signature = key.sign(text.encode("utf-8"))
    return text + "\n" + signature_line(name, kid, signature)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    @property
    def line(self) -> str:
        return signature_line(self.name, self.key_id, self.signature)


@dataclass(frozen=True)
class SignedNote:
    """An opened note: its text, every signature on it, and the names of the known keys
    whose signatures verified."""

    text: str
    signatures: tuple[NoteSignature, ...]
    verified: tuple[str, ...]


def split_note(note: str | bytes) -> tuple[str, tuple[NoteSignature, ...]]:
    """The text and signature lines of a note, checked for form only (no verification)."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_SIZE:
            raise NoteError("note too large")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    if len(note) > MAX_NOTE_SIZE:
        raise NoteError("note too large")
    if _CONTROL.search(note):
        raise NoteError("note contains an ASCII control character")
    if not note.endswith("\n"):
        raise NoteError("note must end in a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    lines = block[:-1].split("\n") if block else []
    if not lines:
        raise NoteError("note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(_DASH):
            raise NoteError("malformed signature line (no em dash)")
        name, sep, b64 = line[len(_DASH) :].rpartition(" ")
        if not sep:
            raise NoteError("malformed signature line")
        check_key_name(name)
        blob = _b64decode(b64, "a note signature")
        if len(blob) < 5:
            raise NoteError("a note signature is shorter than its key ID")
        signatures.append(NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:]))
    return text, tuple(signatures)


def open_note(note: str | bytes, verifiers: Sequence[NoteVerifier]) -> SignedNote:
    """Parse and verify a signed note (signed-note §Signatures).

    Signatures whose (name, key ID) matches no verifier are ignored; a matching one must
    verify, or the whole note is rejected; at least one must match and verify.
    """
    text, signatures = split_note(note)
    known = {(v.name, v.key_id): v for v in reversed(verifiers)}
    message = text.encode("utf-8")
    verified: list[str] = []
    seen: set[tuple[str, int]] = set()
    for sig in signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if (sig.name, sig.key_id) in seen:
            continue  # repeated signatures by one key count once
        seen.add((sig.name, sig.key_id))
        if not verifier.verify(message, sig.signature):
            raise NoteError(f"the signature by {sig.name} ({sig.key_id:08x}) does not verify")
        verified.append(sig.name)
    if not verified:
        raise NoteError("the note carries no signature by a known key")
    return SignedNote(text, signatures, tuple(verified))


def append_signature_lines(note: str, lines: Iterable[str]) -> str:
    """Add signature lines (e.g. witness cosignatures) to a signed note, each checked for
    form; the result must still split as a note."""
    extra = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    combined = note + extra
    split_note(combined)
    return combined


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint note text: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise NoteError("checkpoint origin must be one non-empty line")
        if self.size < 0:
            raise NoteError("checkpoint tree size must not be negative")
        if len(self.root) != HASH_SIZE:
            raise NoteError("checkpoint root hash must be 32 bytes")
        for ext in self.extensions:
            if not ext or "\n" in ext:
                raise NoteError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text strictly (tlog-checkpoint §Note text)."""
        if not text.endswith("\n"):
            raise NoteError("checkpoint text must end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("a checkpoint has at least three lines")
        origin, size, root, *extensions = lines
        if not re.fullmatch(r"0|[1-9][0-9]{0,19}", size):
            raise NoteError("checkpoint tree size is not a decimal without leading zeros")
        digest = _b64decode(root, "checkpoint root hash")
        if len(digest) != HASH_SIZE:
            raise NoteError("checkpoint root hash must be 32 bytes")
        return cls(origin, int(size), digest, tuple(extensions))


def open_checkpoint(
    note: str | bytes, verifiers: Sequence[NoteVerifier], origin: str | None = None
) -> tuple[Checkpoint, SignedNote]:
    """Open a signed checkpoint: verify the note, parse its text, check the origin."""
    signed = open_note(note, verifiers)
    checkpoint = Checkpoint.parse(signed.text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint, signed
