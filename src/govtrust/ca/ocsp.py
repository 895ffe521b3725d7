"""OCSP (RFC 6960) with the lightweight profile of RFC 5019.

Responses are signed by a delegated responder whose certificate carries
id-kp-OCSPSigning and id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2), identified by key hash
(RFC 5019 §2.2.3). Responses without a nonce are pre-signed and served from storage;
a request with a nonce (RFC 8954) gets a freshly signed response that echoes it.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from govtrust.ca.crl import RevocationReason
from govtrust.crypto.signer import Signer, signature_hash
from govtrust.errors import ProtocolError

__all__ = [
    "CertStatus",
    "OcspQuery",
    "Responder",
    "error_response",
    "parse_request",
    "sign_response",
]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class OcspQuery:
    """The one CertID of a request (RFC 5019 §2.1.1 allows one) and its nonce."""

    hash_alg: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    nonce: bytes | None


def parse_request(data: bytes) -> OcspQuery:
    """Parse a DER OCSPRequest; any defect raises ProtocolError (→ malformedRequest)."""
    try:
        request = ocsp.load_der_ocsp_request(data)
        alg = request.hash_algorithm.name
        query_name_hash = request.issuer_name_hash
        query_key_hash = request.issuer_key_hash
        serial = request.serial_number
        nonce: bytes | None = None
        for ext in request.extensions:
            if isinstance(ext.value, x509.OCSPNonce):
                nonce = ext.value.nonce
    except (
        ValueError,
        TypeError,
        NotImplementedError,
        UnsupportedAlgorithm,  # a CertID hash OID pyca does not know (MD5, SHA3, ...)
        x509.UnsupportedGeneralNameType,
    ) as exc:
        raise ProtocolError(f"malformed OCSP request: {exc}") from None
    if alg not in _HASHES:
        raise ProtocolError(f"unsupported CertID hash algorithm {alg}")
    if nonce is not None and not 1 <= len(nonce) <= 128:  # RFC 9654 §2.1: 1 to 128 octets
        raise ProtocolError("OCSP nonce must be 1 to 128 octets")
    return OcspQuery(alg, query_name_hash, query_key_hash, serial, nonce)


class CertStatus(enum.Enum):
    good = "good"
    revoked = "revoked"
    unknown = "unknown"


@dataclass(frozen=True)
class Responder:
    """A delegated responder: its certificate and key."""

    certificate: x509.Certificate
    signer: Signer


def sign_response(
    responder: Responder,
    *,
    hash_alg: str,
    issuer_name_hash: bytes,
    issuer_key_hash: bytes,
    serial: int,
    status: CertStatus,
    this_update: dt.datetime,
    next_update: dt.datetime,
    revoked_at: dt.datetime | None = None,
    reason: RevocationReason | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """A signed BasicOCSPResponse for one CertID (RFC 6960 §4.2.1). Returns DER."""
    cert_status = {
        CertStatus.good: ocsp.OCSPCertStatus.GOOD,
        CertStatus.revoked: ocsp.OCSPCertStatus.REVOKED,
        CertStatus.unknown: ocsp.OCSPCertStatus.UNKNOWN,
    }[status]
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=issuer_name_hash,
        issuer_key_hash=issuer_key_hash,
        serial_number=serial,
        algorithm=_HASHES[hash_alg](),
        cert_status=cert_status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=revoked_at if status is CertStatus.revoked else None,
        revocation_reason=(
            reason.x509_flag
            if status is CertStatus.revoked
            and reason is not None
            and reason is not RevocationReason.unspecified
            else None
        ),
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder.certificate)
    builder = builder.certificates([responder.certificate])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    response = builder.sign(responder.signer.as_private_key(), signature_hash(responder.signer))
    return response.public_bytes(serialization.Encoding.DER)


def error_response(status: ocsp.OCSPResponseStatus) -> bytes:
    """An unsigned error response: malformedRequest, unauthorized, tryLater, internalError."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )
