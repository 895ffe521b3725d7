"""What every CMS-based signature format shares: CAdES, PAdES, ASiC with CAdES, and
RFC 3161 time-stamp tokens (themselves CMS SignedData).

INTERFACE FIXED BY THE LEAD; the bodies are being written (helper "cms-core"). Other
format modules call only the names in ``__all__``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms
from cryptography import x509

from govtrust.validation.fetchers import ValidationData
from govtrust.validation.report import SignatureReport
from govtrust.validation.signatures import Environment

__all__ = [
    "EmbeddedMaterial",
    "TimestampCheck",
    "validate_signer",
    "validate_timestamp_token",
]


@dataclass(frozen=True)
class EmbeddedMaterial:
    """Certificates, CRLs (DER) and OCSP responses (DER, OCSPResponse) found in or
    beside a signature: CMS ``certificates``/``crls``, CAdES certificate-values and
    revocation-values, a PAdES DSS, XAdES CertificateValues/RevocationValues."""

    certificates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsp_responses: tuple[bytes, ...] = ()

    def merged(self, other: EmbeddedMaterial) -> EmbeddedMaterial:
        """Both sets, without duplicates, self's first."""
        raise NotImplementedError  # cms-core replaces this

    def as_validation_data(self) -> ValidationData:
        raise NotImplementedError  # cms-core replaces this


@dataclass(frozen=True)
class TimestampCheck:
    """A validated time-stamp token: its report (kind TIMESTAMP, with its own
    indication, TSA certificate chain and POEs) and, when the token is usable as a POE
    (intact, imprint matches, TSA certificate valid), the time it proves."""

    report: SignatureReport
    gen_time: dt.datetime | None

    @property
    def proves(self) -> dt.datetime | None:
        """The genTime when the token passed, else None."""
        raise NotImplementedError  # cms-core replaces this


def validate_timestamp_token(
    token: bytes | cms.ContentInfo,
    *,
    imprinted: bytes,
    env: Environment,
    identifier: str,
    role: str = "signature-time-stamp",
    material: EmbeddedMaterial = EmbeddedMaterial(),
) -> TimestampCheck:
    """Validate an RFC 3161 token whose messageImprint must be the hash of
    ``imprinted`` (the signature value for a CAdES signature-time-stamp, the signed
    byte ranges for a PDF document time-stamp, the canonicalised ``ds:SignatureValue``
    for XAdES). ``role`` names the time-stamp in the report (TS 119 102-2 types:
    signature-time-stamp, archive-time-stamp, document-time-stamp, content-time-stamp).
    Never raises for a bad token: a malformed one gives FORMAT_FAILURE."""
    raise NotImplementedError  # cms-core replaces this


def validate_signer(
    signed_data: cms.SignedData,
    *,
    env: Environment,
    identifier: str,
    format_name: str,
    content: bytes | None = None,
    content_digest: bytes | None = None,
    material: EmbeddedMaterial = EmbeddedMaterial(),
    later_timestamps: Sequence[TimestampCheck] = (),
    signer_index: int = 0,
) -> SignatureReport:
    """EN 319 102-1 validation of one SignerInfo of ``signed_data``.

    The signed content is ``content`` (detached, or the PDF byte ranges), or its digest
    ``content_digest`` computed by the caller with the SignerInfo's digest algorithm,
    or neither when the content is encapsulated. ``material`` adds validation data
    found outside the CMS (a PDF's DSS). ``later_timestamps`` are time-stamps over this
    signature taken outside its own unsigned attributes (PAdES document time-stamps in
    later revisions): POEs for the archival process. The report's ``format`` is
    ``format_name`` with the level found (e.g. "CAdES-BASELINE-LT")."""
    raise NotImplementedError  # cms-core replaces this
