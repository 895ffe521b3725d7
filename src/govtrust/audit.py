"""Audit events: who did what, when, and the hash of what it produced.

The canonical form (``AuditEvent.canonical()``) is the exact byte string a transparency
log appends as a leaf (RFC 9162 §2.1.1 hashes ``0x00 || entry``): JSON with sorted keys,
no insignificant white space, UTF-8, times in RFC 3339 UTC with seconds. It carries no
personal data of natural persons in clear: for those, ``details`` holds a salted
commitment to the subject (``subject_commitment``) instead of the name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["AuditEvent", "Scalar", "subject_commitment"]

Scalar = str | int | bool | None


def _rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AuditEvent:
    """One administrative action. ``action`` is ``<area>.<verb>`` (``cert.issue``...)."""

    action: str
    actor: str
    time: dt.datetime
    object_type: str
    object_id: str
    object_sha256: str
    details: Mapping[str, Scalar] = field(default_factory=lambda: MappingProxyType({}))

    def canonical(self) -> bytes:
        body = {
            "v": 1,
            "type": self.action,
            "actor": self.actor,
            "time": _rfc3339(self.time),
            "object": {
                "type": self.object_type,
                "id": self.object_id,
                "sha256": self.object_sha256,
            },
            "details": dict(self.details),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )

    @classmethod
    def from_canonical(cls, data: bytes) -> AuditEvent:
        body = json.loads(data)
        return cls(
            action=body["type"],
            actor=body["actor"],
            time=dt.datetime.strptime(body["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC),
            object_type=body["object"]["type"],
            object_id=body["object"]["id"],
            object_sha256=body["object"]["sha256"],
            details=MappingProxyType(body["details"]),
        )


def subject_commitment(salt: bytes, subject_der: bytes) -> str:
    """A hiding commitment to a subject: SHA-256(salt || DER(subject)), hex.

    The holder, who receives the salt, can open it by revealing salt and subject; the
    public cannot recover the name from it (the salt has 256 bits).
    """
    return hashlib.sha256(salt + subject_der).hexdigest()
