"""What every signature format needs from the outside, as small injected interfaces.

The signing package is pure domain code: it never opens the database, the key store or
a socket. The caller (``govtrust.services.signing``) hands it:

* a :class:`SigningIdentity`: the signer's certificate, its issuer chain and the
  :class:`~govtrust.crypto.signer.Signer` that signs in its key backend;
* a :data:`TimestampTransport` for B-T and above: a function that takes a DER
  ``TimeStampReq`` and returns the DER ``TimeStampResp`` (RFC 3161 §3.4), in-process
  from this instance's TSA or over HTTP from another;
* a :class:`RevocationSource` for B-LT and above: OCSP responses (RFC 6960) and CRLs
  (RFC 5280) for the certificates of the chains, answered in-process by our own CA's
  OCSP service, never fetched from the network;
* the signing time and the trust anchors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509

from govtrust.clock import Clock
from govtrust.crypto.signer import Signer
from govtrust.errors import SigningFailed
from govtrust.signing.levels import Level, SignatureFormat

__all__ = [
    "RevocationSource",
    "SignedDocument",
    "SigningIdentity",
    "SigningServices",
    "TimestampTransport",
]


class TimestampTransport(Protocol):
    """DER TimeStampReq in, DER TimeStampResp out (RFC 3161 §3.4). Raises on transport
    failure; the reply is checked by the caller of the transport."""

    def __call__(self, query: bytes, /) -> bytes: ...


class RevocationSource(Protocol):
    """Where B-LT validation data comes from: each method answers for one certificate
    (``cert`` issued by ``issuer``) or returns None when it has nothing."""

    def ocsp(self, cert: x509.Certificate, issuer: x509.Certificate) -> bytes | None:
        """A DER OCSPResponse (RFC 6960 §4.2.1) about ``cert``, or None."""
        ...

    def crl(self, issuer: x509.Certificate) -> bytes | None:
        """A DER CRL (RFC 5280 §5) issued by ``issuer``, or None."""
        ...


@dataclass(frozen=True)
class SigningIdentity:
    """Who signs: ``chain`` is the issuer chain, issuing CA first, root last."""

    certificate: x509.Certificate
    chain: Sequence[x509.Certificate]
    signer: Signer


@dataclass(frozen=True)
class SigningServices:
    """What signing (and augmenting) needs from outside: the clock (the signing time
    of each signature), and above B-B a TSA and revocation data.

    ``timestamps`` is required from B-T, ``revocation`` from B-LT. ``trust_roots`` are
    the anchors the chains end in: chains are built up to them, and pyHanko validates
    the signer's and the TSA's certificates against them before embedding validation
    data. ``intermediates`` are CA certificates chains may be built through (the TSA's
    issuing CA, which RFC 3161 tokens need not carry).
    """

    clock: Clock
    timestamps: TimestampTransport | None = None
    revocation: RevocationSource | None = None
    trust_roots: Sequence[x509.Certificate] = field(default_factory=tuple)
    intermediates: Sequence[x509.Certificate] = field(default_factory=tuple)

    @property
    def pool(self) -> list[x509.Certificate]:
        """Every certificate chains may be built from: intermediates, then roots."""
        return [*self.intermediates, *self.trust_roots]

    def transport(self) -> TimestampTransport:
        if self.timestamps is None:
            raise SigningFailed("timestamp", "B-T and above need a timestamp authority")
        return self.timestamps

    def source(self) -> RevocationSource:
        if self.revocation is None:
            raise SigningFailed("validation-data", "B-LT and above need revocation data")
        return self.revocation


@dataclass(frozen=True)
class SignedDocument:
    """A signing result. ``data`` is what is written out (the signed PDF, the ``.p7s``,
    the signed XML, the ``.asice``); ``produced`` is the signature itself (the CMS, the
    ``ds:Signature`` element, the PDF signature's ``/Contents``), which the audit trail
    records by hash; ``media_type`` is the type of ``data``."""

    data: bytes
    produced: bytes
    format: SignatureFormat
    level: Level
    media_type: str
    suffix: str
