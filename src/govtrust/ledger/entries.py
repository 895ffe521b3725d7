"""What a ledger entry says, and what it must not say.

An entry is an audit event's canonical record (``govtrust.audit.AuditEvent.canonical``),
byte for byte: ``{"v":1,"type":...,"actor":...,"time":...,"object":{"type","id",
"sha256"},"details":{...}}``. This module reads the fields a verifier and the search
index need, and checks the privacy rule of the ledger (issue 4, point 7): an entry about
a natural person carries no personal data in clear, only a salted commitment to the
subject (``subject_commitment`` = SHA-256(salt || DER(subject)), which the holder can
open); entries about organisations, CAs and services may name them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from govtrust.errors import LedgerError

__all__ = [
    "PERSONAL_DETAIL_KEYS",
    "LedgerEntry",
    "key8",
    "open_commitment",
    "privacy_findings",
    "search_keys",
]

#: Detail keys that would put a natural person's data in clear.
PERSONAL_DETAIL_KEYS = frozenset(
    {"subject", "sans", "san", "email", "e-mail", "name", "common_name", "cn", "national_id"}
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class LedgerEntry:
    """The fields of one entry that the ledger indexes and receipts show."""

    type: str
    time: str
    actor: str
    object_type: str
    object_id: str
    sha256: str
    details: Mapping[str, Any]

    @classmethod
    def parse(cls, entry: bytes) -> LedgerEntry:
        """Read an entry; LedgerError if it is not an audit record (version 1)."""
        try:
            body = json.loads(entry)
            obj = body["object"]
            parsed = cls(
                type=str(body["type"]),
                time=str(body["time"]),
                actor=str(body["actor"]),
                object_type=str(obj["type"]),
                object_id=str(obj["id"]),
                sha256=str(obj["sha256"]),
                details=dict(body.get("details") or {}),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"not a ledger entry: {exc}") from None
        if body.get("v") != 1:
            raise LedgerError("not a version 1 ledger entry")
        return parsed

    @property
    def serial(self) -> str | None:
        value = self.details.get("serial")
        return value.lower() if isinstance(value, str) else None

    @property
    def commitment(self) -> str | None:
        value = self.details.get("subject_commitment")
        return value if isinstance(value, str) else None

    @property
    def natural_person(self) -> bool:
        """An entry about a natural person: the issuance recorded a commitment."""
        return self.commitment is not None

    @property
    def subject_key(self) -> str | None:
        """The subject search key: the commitment (hex) of a natural person, else the
        subject DN in lower case, if the entry names one."""
        if self.commitment is not None:
            return self.commitment
        value = self.details.get("subject")
        return value.lower() if isinstance(value, str) and value else None

    def summary(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "time": self.time,
            "object": {"type": self.object_type, "id": self.object_id, "sha256": self.sha256},
            "details": dict(self.details),
        }


def privacy_findings(entry: LedgerEntry) -> list[str]:
    """Why an entry breaks the privacy rule (empty: it does not).

    For a natural person (an entry with a subject commitment): no detail key that names
    the person, and no value that looks like an e-mail address. For every entry: no
    e-mail address in clear anywhere in the details, and a commitment is 64 hex digits.
    """
    findings = []
    for key, value in entry.details.items():
        if entry.natural_person and key.lower() in PERSONAL_DETAIL_KEYS:
            findings.append(f"{entry.type}: detail {key!r} names a natural person")
        if isinstance(value, str) and _EMAIL.search(value):
            findings.append(f"{entry.type}: detail {key!r} holds an e-mail address")
    if entry.commitment is not None and not _HEX64.fullmatch(entry.commitment):
        findings.append(f"{entry.type}: subject_commitment is not a SHA-256 hex digest")
    if _EMAIL.search(entry.object_id):
        findings.append(f"{entry.type}: object id holds an e-mail address")
    return findings


def open_commitment(commitment: str, salt: bytes, subject_der: bytes) -> None:
    """Check a holder's opening of a subject commitment: SHA-256(salt || subject DER)
    must equal the commitment in the entry. Raises LedgerError if it does not."""
    calculated = hashlib.sha256(salt + subject_der).hexdigest()
    if not hmac.compare_digest(calculated, commitment.lower()):
        raise LedgerError("the subject opening does not match the entry's commitment")


# The search keys of an entry, read without a JSON parser (the indexer's hot path).
# Safe on canonical records (AuditEvent.canonical): keys are sorted and unique, the only
# open map is the flat ``details`` (scalar values), and inside a JSON string every '"'
# is escaped, so a byte sequence such as '"serial":"' can only be the details key
# itself, and '","sha256":"' after '"object":{"id":"' only the object's hash.
_STRING = re.compile(rb'((?:[^"\\]|\\.)*)"')
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _string_at(record: bytes, marker: bytes) -> str | None:
    """The JSON string value after ``marker`` (which ends with the opening quote)."""
    pos = record.find(marker)
    if pos < 0:
        return None
    begin = pos + len(marker)
    end = record.find(b'"', begin)
    if end < 0:
        return None
    raw = record[begin:end]
    if b"\\" in raw:  # an escape: let the regex find the real closing quote
        m = _STRING.match(record, begin)
        if m is None:
            return None
        return str(json.loads(b'"' + m.group(1) + b'"'))
    return raw.decode("utf-8", "replace")


def _object_sha256(record: bytes) -> str | None:
    pos = record.find(b'"object":{"id":"')
    if pos < 0:
        return None
    pos = record.find(b'","sha256":"', pos)
    if pos < 0:
        return None
    value = record[pos + 12 : pos + 76]
    if len(value) != 64 or record[pos + 76 : pos + 77] != b'"' or not _HEX.issuperset(value):
        return None
    return value.decode().lower()


def search_keys(record: bytes) -> list[str]:
    """``sha256:<artifact hash>``, ``serial:<lower hex>`` and ``subject:<key>`` of an
    entry (the subject key is a natural person's commitment, or an organisation's subject
    DN in lower case): the values of ``LedgerEntry.sha256``, ``.serial`` and
    ``.subject_key``, read without parsing the JSON."""
    keys = []
    digest = _object_sha256(record)
    if digest is not None:
        keys.append("sha256:" + digest)
    serial = _string_at(record, b'"serial":"')
    if serial is not None:
        keys.append("serial:" + serial.lower())
    commitment = _string_at(record, b'"subject_commitment":"')
    if commitment is not None:
        keys.append("subject:" + commitment)
    else:
        subject = _string_at(record, b'"subject":"')
        if subject:
            keys.append("subject:" + subject.lower())
    return keys


def key8(key: str | bytes) -> int:
    """A compact index key, as a signed 64-bit integer, confirmed on lookup: the first 8
    bytes of ``key`` when it is a 32-byte digest; for ``sha256:<hex>`` the first 8 bytes
    of that (already uniform) digest; else the first 8 bytes of SHA-256(key)."""
    if isinstance(key, bytes):
        return _from_bytes(key[:8], "big", signed=True)
    if key.startswith("sha256:") and len(key) == 71:
        try:
            return _from_bytes(bytes.fromhex(key[7:23]), "big", signed=True)
        except ValueError:
            pass
    return _from_bytes(_sha256(key.encode("utf-8")).digest()[:8], "big", signed=True)


_sha256 = hashlib.sha256
_from_bytes = int.from_bytes
