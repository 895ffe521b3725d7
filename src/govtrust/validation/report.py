"""The validation report, shaped after ETSI TS 119 102-2.

TS 119 102-2 §4 structures a validation report as one ``SignatureValidationReport``
per signature (and per time-stamp, each validated as a signature of its own, §4.3),
each with its identifier, the validation time and best-signature-time
(``ValidationTimeInfo``), the status (``SignatureValidationStatus``: main indication and
sub-indication, §5.1), the validation process used (``SignatureValidationProcess``:
``urn:etsi:019102:validationprocess:Basic``, ``LTVM`` or ``LTA``), the certificate chain
of the signer, and the validation objects used (certificates, CRLs, OCSP responses,
time-stamps) with their proofs of existence (``SignatureValidationObjects``, POE types
``urn:etsi:019102:poetype:validation``/``provided``/``policy``).

This module holds that model as frozen dataclasses with ``to_dict()`` (a JSON rendering
with camelCase keys). :class:`Report` adds the document-level summary the issue asks for:
a top-level ``indication``/``subIndication`` that is the worst over its signatures
(TOTAL-FAILED over INDETERMINATE over TOTAL-PASSED), the policy and the validation
time. HTML and PDF renderings are built from :meth:`Report.to_dict` elsewhere.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import govtrust
from govtrust.validation.indications import Indication, SubIndication, worst
from govtrust.validation.policy import ValidationPolicy
from govtrust.validation.results import CertificateValidationResult

__all__ = ["ProofOfExistence", "Report", "SignatureKind", "SignatureReport", "ValidationProcess"]


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


class ValidationProcess(enum.Enum):
    """EN 319 102-1 §5.3, §5.5 and §5.6.3; URIs from TS 119 102-2 §5.2."""

    BASIC = "Basic"
    LTVM = "LTVM"  # signatures with time and with long-term validation material
    LTA = "LTA"  # long-term availability and integrity of validation material

    @property
    def uri(self) -> str:
        return f"urn:etsi:019102:validationprocess:{self.value}"


class SignatureKind(enum.Enum):
    SIGNATURE = "signature"
    TIMESTAMP = "timestamp"
    #: A certificate validated on its own (no signature): TLS, a credential check.
    CERTIFICATE = "certificate"


@dataclass(frozen=True)
class ProofOfExistence:
    """A POE (EN 319 102-1 §5.6.2.3): ``what`` existed at ``time``, proven by
    ``source`` (e.g. a time-stamp's serial). ``poe_type`` is TS 119 102-2's:
    ``validation`` (found during validation), ``provided`` (given by the caller) or
    ``policy``."""

    time: dt.datetime
    what: str
    source: str
    poe_type: str = "validation"

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "object": self.what,
            "source": self.source,
            "poeType": f"urn:etsi:019102:poetype:{self.poe_type}",
        }


@dataclass(frozen=True)
class SignatureReport:
    """One signature, time-stamp or certificate, with its own indication
    (TS 119 102-2 §4.3 ``SignatureValidationReport``).

    ``certificate`` is the signer's certificate validation (chain, per-certificate
    status, revocation data). ``timestamps`` are the reports of the time-stamps that
    give this signature its POEs. ``details`` carries format-specific findings (for a
    PDF: coverage, modifications after signing) as plain JSON values.
    """

    identifier: str
    kind: SignatureKind
    indication: Indication
    sub_indication: SubIndication | None
    message: str
    validation_time: dt.datetime
    process: ValidationProcess = ValidationProcess.BASIC
    best_signature_time: dt.datetime | None = None
    signing_time: dt.datetime | None = None  # claimed (signed attribute), not proven
    format: str | None = None  # e.g. "PAdES-BASELINE-LT", "CAdES-BASELINE-B"
    certificate: CertificateValidationResult | None = None
    timestamps: tuple[SignatureReport, ...] = ()
    poes: tuple[ProofOfExistence, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (
            self.sub_indication is not None
            and self.sub_indication.indication is not self.indication
        ):
            raise ValueError(
                f"{self.sub_indication.value} is not a sub-indication of {self.indication.value}"
            )

    @classmethod
    def for_certificate(
        cls, identifier: str, result: CertificateValidationResult
    ) -> SignatureReport:
        """A report entry for a certificate validated on its own."""
        return cls(
            identifier=identifier,
            kind=SignatureKind.CERTIFICATE,
            indication=result.indication,
            sub_indication=result.sub_indication,
            message=result.message,
            validation_time=result.validation_time,
            best_signature_time=result.poe_time,
            certificate=result,
            poes=(
                (ProofOfExistence(result.poe_time, "certificate use", "caller", "provided"),)
                if result.poe_time is not None
                else ()
            ),
        )

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    @property
    def signer(self) -> str | None:
        ee = self.certificate.end_entity if self.certificate else None
        return ee.subject if ee else None

    def to_dict(self) -> dict[str, Any]:
        cert = self.certificate
        return {
            "id": self.identifier,
            "type": self.kind.value,
            "format": self.format,
            "indication": self.indication.value,
            "subIndication": self.sub_indication.value if self.sub_indication else None,
            "indicationUri": self.indication.uri,
            "subIndicationUri": self.sub_indication.uri if self.sub_indication else None,
            "message": self.message,
            "validationProcess": self.process.uri,
            "validationTimeInfo": {
                "validationTime": self.validation_time.isoformat(),
                "bestSignatureTime": _iso(self.best_signature_time),
            },
            "signingTime": _iso(self.signing_time),
            "signer": self.signer,
            "certificateChain": [c.to_dict() for c in cert.chain] if cert else [],
            "certificateValidation": cert.to_dict(with_policy=False) if cert else None,
            "revocationData": [d.to_dict() for d in cert.revocation_data] if cert else [],
            "proofsOfExistence": [p.to_dict() for p in self.poes],
            "timestamps": [t.to_dict() for t in self.timestamps],
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Report:
    """A whole validation: every signature and time-stamp of one document.

    The top-level indication is the worst of the signatures' (a document is no better
    than its worst signature); a report with no signature at all is INDETERMINATE with
    a custom diagnostic (EN 319 102-1 §5.1.3: CUSTOM), never a pass.
    """

    validation_time: dt.datetime
    policy: ValidationPolicy | None
    signatures: tuple[SignatureReport, ...]
    document: Mapping[str, Any] = field(default_factory=dict)  # e.g. name, sha256, mediaType

    @property
    def indication(self) -> Indication:
        return worst(s.indication for s in self.signatures) or Indication.INDETERMINATE

    @property
    def worst_signature(self) -> SignatureReport | None:
        found = [s for s in self.signatures if s.indication is self.indication]
        return found[0] if found else None

    @property
    def sub_indication(self) -> SubIndication | None:
        if not self.signatures:
            return SubIndication.CUSTOM
        sig = self.worst_signature
        return sig.sub_indication if sig else None

    @property
    def message(self) -> str:
        if not self.signatures:
            return "no signature was found"
        sig = self.worst_signature
        return sig.message if sig else ""

    def to_dict(self) -> dict[str, Any]:
        sub = self.sub_indication
        return {
            "indication": self.indication.value,
            "subIndication": sub.value if sub else None,
            "message": self.message,
            "validationTime": self.validation_time.isoformat(),
            "document": dict(self.document),
            "policy": self.policy.to_dict() if self.policy else None,
            "signatures": [s.to_dict() for s in self.signatures],
            "generator": f"govtrust {govtrust.__version__}",
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
