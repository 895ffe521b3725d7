"""What a certificate validation found, shaped like EN 319 102-1 says a result is.

:class:`CertificateValidationResult` is the output of the X.509 certificate validation
building block (EN 319 102-1 §5.2.6.3, Table 13) after the proof-of-existence rules of
the past signature validation (§5.6.2.4) are applied: a main indication and
sub-indication (§5.1.3 Tables 5 and 6), the certificate chain with every certificate's
own status, and the revocation data that was used (Table 6 asks for "the certificate
chain used in the validation process" and, for REVOKED, "the time and, if available,
the reason of revocation").
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from govtrust.validation.indications import Indication, SubIndication
from govtrust.validation.policy import ValidationPolicy

__all__ = [
    "CertificateStatus",
    "CertificateValidationResult",
    "ChainCertificate",
    "RevocationData",
    "RevocationStatus",
    "Validity",
]


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


class RevocationStatus(enum.Enum):
    """The revocation status of one certificate at the validation time."""

    GOOD = "good"
    REVOKED = "revoked"
    #: Checked for, but no usable CRL or OCSP response was found.
    UNKNOWN = "unknown"
    #: The policy turned revocation checking off (EN 319 102-1 §5.1.4.1).
    NOT_CHECKED = "not-checked"
    #: A trust anchor: its status is a matter of the trust store (RFC 5280 §6.1.1 d).
    NOT_APPLICABLE = "not-applicable"


class Validity(enum.Enum):
    """Where the validation time falls relative to notBefore/notAfter (RFC 5280 §4.1.2.5)."""

    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"


class CertificateStatus(enum.Enum):
    """One word for a certificate's state, combining revocation and validity."""

    GOOD = "good"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    REVOCATION_UNKNOWN = "revocation-unknown"
    REVOCATION_NOT_CHECKED = "revocation-not-checked"
    TRUST_ANCHOR = "trust-anchor"


@dataclass(frozen=True)
class RevocationData:
    """One CRL or OCSP response used for a certificate, as TS 119 102-2 lists
    validation objects (``urn:etsi:019102:validationObject:CRL``/``OCSPResponse``).

    ``source`` is ``fetched`` (from the URL the certificate names) or ``embedded``
    (given with the signature or by the caller). ``certificate_status`` is what this
    object says about the certificate it is attached to.
    """

    kind: str  # "crl" | "ocsp"
    source: str  # "fetched" | "embedded"
    sha256: str
    issuer: str
    this_update: dt.datetime | None
    next_update: dt.datetime | None
    certificate_status: RevocationStatus
    produced_at: dt.datetime | None = None  # OCSP (RFC 6960 §4.2.1)
    crl_number: int | None = None  # CRL (RFC 5280 §5.2.3)
    revocation_time: dt.datetime | None = None
    revocation_reason: str | None = None

    @property
    def object_type_uri(self) -> str:
        kind = "CRL" if self.kind == "crl" else "OCSPResponse"
        return f"urn:etsi:019102:validationObject:{kind}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.kind,
            "objectType": self.object_type_uri,
            "source": self.source,
            "sha256": self.sha256,
            "issuer": self.issuer,
            "thisUpdate": _iso(self.this_update),
            "nextUpdate": _iso(self.next_update),
            "certificateStatus": self.certificate_status.value,
        }
        if self.kind == "ocsp":
            out["producedAt"] = _iso(self.produced_at)
        else:
            out["crlNumber"] = self.crl_number
        if self.revocation_time is not None:
            out["revocationTime"] = _iso(self.revocation_time)
            out["revocationReason"] = self.revocation_reason
        return out


@dataclass(frozen=True)
class _Facts:
    subject: str
    issuer: str
    serial: str
    sha256: str
    not_before: str
    not_after: str


@functools.lru_cache(maxsize=4096)
def _facts(cert: x509.Certificate) -> _Facts:
    """What a report says of a certificate, worked out once per certificate (pyca's
    certificates hash and compare by their DER): RFC 4514 names and the fingerprint
    were a third of turning a report into JSON, for the same few CA certificates."""
    return _Facts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        sha256=hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
    )


@dataclass(frozen=True)
class ChainCertificate:
    """A certificate of the chain, end entity first, with its own status."""

    certificate: x509.Certificate
    role: str  # "end-entity" | "intermediate" | "trust-anchor"
    validity: Validity
    revocation: RevocationStatus
    revocation_time: dt.datetime | None = None
    revocation_reason: str | None = None
    revocation_data: tuple[RevocationData, ...] = ()

    @property
    def subject(self) -> str:
        return _facts(self.certificate).subject

    @property
    def issuer(self) -> str:
        return _facts(self.certificate).issuer

    @property
    def serial(self) -> str:
        return _facts(self.certificate).serial

    @property
    def sha256(self) -> str:
        return _facts(self.certificate).sha256

    @property
    def status(self) -> CertificateStatus:
        """Revoked first, then out of validity, then what is known of revocation."""
        if self.role == "trust-anchor":
            return CertificateStatus.TRUST_ANCHOR
        if self.revocation is RevocationStatus.REVOKED:
            return CertificateStatus.REVOKED
        if self.validity is Validity.EXPIRED:
            return CertificateStatus.EXPIRED
        if self.validity is Validity.NOT_YET_VALID:
            return CertificateStatus.NOT_YET_VALID
        if self.revocation is RevocationStatus.UNKNOWN:
            return CertificateStatus.REVOCATION_UNKNOWN
        if self.revocation is RevocationStatus.NOT_CHECKED:
            return CertificateStatus.REVOCATION_NOT_CHECKED
        return CertificateStatus.GOOD

    def to_dict(self, *, with_pem: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "role": self.role,
            "subject": self.subject,
            "issuer": self.issuer,
            "serialNumber": self.serial,
            "sha256": self.sha256,
            "notBefore": _facts(self.certificate).not_before,
            "notAfter": _facts(self.certificate).not_after,
            "status": self.status.value,
            "validity": self.validity.value,
            "revocation": {
                "status": self.revocation.value,
                "time": _iso(self.revocation_time),
                "reason": self.revocation_reason,
                "data": [d.to_dict() for d in self.revocation_data],
            },
        }
        if with_pem:
            out["pem"] = self.certificate.public_bytes(Encoding.PEM).decode()
        return out


@dataclass(frozen=True)
class CertificateValidationResult:
    """EN 319 102-1 result of validating one certificate (§5.2.6, §5.6.2.4).

    ``current_time_sub_indication`` is what the X.509 certificate validation building
    block said at the validation time, before proofs of existence were considered
    (e.g. REVOKED_NO_POE, which a POE before the revocation turns into a pass).
    ``poe_time`` is the proof of existence the caller gave for the use of the
    certificate (a signature time-stamp), ``control_time`` the time the past
    certificate validation (§5.6.2.1) found the chain valid at, when it ran.
    """

    indication: Indication
    sub_indication: SubIndication | None
    message: str
    validation_time: dt.datetime
    chain: tuple[ChainCertificate, ...]
    policy: ValidationPolicy
    poe_time: dt.datetime | None = None
    control_time: dt.datetime | None = None
    current_time_sub_indication: SubIndication | None = None
    #: A certificate or algorithm judgement's time: the revocation time for REVOKED*,
    #: the sunset for CRYPTO_CONSTRAINTS_FAILURE_NO_POE, nextUpdate for TRY_LATER.
    error_time: dt.datetime | None = None

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    @property
    def failed(self) -> bool:
        return self.indication is Indication.TOTAL_FAILED

    @property
    def indeterminate(self) -> bool:
        return self.indication is Indication.INDETERMINATE

    @property
    def end_entity(self) -> ChainCertificate | None:
        return self.chain[0] if self.chain else None

    @property
    def trust_anchor(self) -> ChainCertificate | None:
        if self.chain and self.chain[-1].role == "trust-anchor":
            return self.chain[-1]
        return None

    @property
    def revoked(self) -> bool:
        """Some certificate of the chain is known to be revoked at the validation time."""
        return any(c.revocation is RevocationStatus.REVOKED for c in self.chain)

    @property
    def revocation_data(self) -> tuple[RevocationData, ...]:
        seen: dict[str, RevocationData] = {}
        for cert in self.chain:
            for data in cert.revocation_data:
                seen.setdefault(data.sha256 + data.kind, data)
        return tuple(seen.values())

    def summary(self) -> str:
        sub = f"/{self.sub_indication.value}" if self.sub_indication else ""
        return f"{self.indication.value}{sub}: {self.message}"

    def to_dict(self, *, with_policy: bool = True, with_pem: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "indication": self.indication.value,
            "subIndication": self.sub_indication.value if self.sub_indication else None,
            "message": self.message,
            "validationTime": self.validation_time.isoformat(),
            "poeTime": _iso(self.poe_time),
            "controlTime": _iso(self.control_time),
            "currentTimeSubIndication": (
                self.current_time_sub_indication.value if self.current_time_sub_indication else None
            ),
            "errorTime": _iso(self.error_time),
            "chain": [c.to_dict(with_pem=with_pem) for c in self.chain],
        }
        if with_policy:
            out["policy"] = self.policy.to_dict()
        return out
