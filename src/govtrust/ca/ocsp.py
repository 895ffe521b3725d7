"""OCSP (RFC 6960) with the lightweight profile of RFC 5019.

Responses are signed by a delegated responder whose certificate carries
id-kp-OCSPSigning and id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2), identified by key hash
(RFC 5019 §2.2.3). Responses without a nonce are pre-signed and served from storage;
a request with a nonce (RFC 8954) gets a freshly signed response that echoes it.

Why the responses are encoded here and not by pyca's ``OCSPResponseBuilder``: every
issued certificate gets two pre-signed answers, and every refresh signs them all again.
The builder took 150–220 µs per answer around a ~40 µs P-256 signature; what does not
change between answers of one responder (its key hash, its certificate, the algorithm)
is encoded once here, and an answer is then a few concatenations and the signature:
about half the builder's time (bench/README.md, run AG).
The tests parse the result with pyca/cryptography and asn1crypto, compare it field by
field with the builder's, and have ``openssl ocsp`` verify it.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from asn1crypto import keys
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from govtrust.ca.crl import RevocationReason, signature_algorithm_der
from govtrust.crypto import _der as der
from govtrust.crypto.signer import Signer, sign_bytes
from govtrust.errors import ProtocolError

__all__ = [
    "CertStatus",
    "OcspQuery",
    "Responder",
    "error_response",
    "parse_request",
    "sign_response",
]

# The CertID hash algorithms answered, with their AlgorithmIdentifier as pyca encodes
# it in a CertID (parameters NULL, RFC 6960 Appendix B.2 imports RFC 5280's form).
_HASHES: dict[str, bytes] = {
    "sha1": der.sequence(der.oid("1.3.14.3.2.26"), b"\x05\x00"),
    "sha256": der.sequence(der.oid("2.16.840.1.101.3.4.2.1"), b"\x05\x00"),
    "sha384": der.sequence(der.oid("2.16.840.1.101.3.4.2.2"), b"\x05\x00"),
    "sha512": der.sequence(der.oid("2.16.840.1.101.3.4.2.3"), b"\x05\x00"),
}
_ID_PKIX_OCSP_BASIC = der.oid("1.3.6.1.5.5.7.48.1.1")
_ID_PKIX_OCSP_NONCE = der.oid("1.3.6.1.5.5.7.48.1.2")
_SUCCESSFUL = der.tlv(0x0A, b"\x00")  # OCSPResponseStatus successful (0)


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
    """A delegated responder: its certificate and key, and the parts of its responses
    that never change, encoded once."""

    certificate: x509.Certificate
    signer: Signer
    responder_id_der: bytes = field(init=False, repr=False, compare=False)
    algorithm_der: bytes = field(init=False, repr=False, compare=False)
    certs_der: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # RFC 6960 §4.2.1: ResponderID byKey [2] EXPLICIT KeyHash, the SHA-1 of the
        # subjectPublicKey BIT STRING's value (RFC 5019 §2.2.3 asks for byKey).
        spki = self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        key_hash = keys.PublicKeyInfo.load(spki).sha1  # SHA-1 of the BIT STRING's value
        object.__setattr__(self, "responder_id_der", der.tlv(0xA2, der.octet_string(key_hash)))
        object.__setattr__(self, "algorithm_der", signature_algorithm_der(self.signer))
        cert_der = self.certificate.public_bytes(serialization.Encoding.DER)
        object.__setattr__(self, "certs_der", der.explicit(0, der.sequence(cert_der)))


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
    """A successful OCSPResponse carrying a signed BasicOCSPResponse for one CertID
    (RFC 6960 §4.2.1), DER. ``producedAt`` is ``this_update``: the answer is signed
    then. RFC 5019 §2.2: one SingleResponse, ResponderID byKey, the responder's
    certificate included, no response extension but the nonce (RFC 8954) if given."""
    if status is CertStatus.good:
        cert_status = b"\x80\x00"  # good [0] IMPLICIT NULL
    elif status is CertStatus.unknown:
        cert_status = b"\x82\x00"  # unknown [2] IMPLICIT NULL
    else:
        # revoked [1] IMPLICIT RevokedInfo: revocationTime, and revocationReason
        # [0] EXPLICIT CRLReason unless unspecified (RFC 5280 §5.3.1 omits it then).
        if revoked_at is None:
            raise ValueError("a revoked status needs its revocation time")
        revoked = der.generalized_time(revoked_at)
        if reason is not None and reason is not RevocationReason.unspecified:
            revoked += der.explicit(0, der.tlv(0x0A, bytes([reason.value])))
        cert_status = der.tlv(0xA1, revoked)
    cert_id = der.sequence(
        _HASHES[hash_alg],
        der.octet_string(issuer_name_hash),
        der.octet_string(issuer_key_hash),
        der.integer(serial),
    )
    this = der.generalized_time(this_update)
    single = der.sequence(
        cert_id, cert_status, this, der.explicit(0, der.generalized_time(next_update))
    )
    parts = [responder.responder_id_der, this, der.sequence(single)]
    if nonce is not None:
        extension = der.sequence(_ID_PKIX_OCSP_NONCE, der.octet_string(der.octet_string(nonce)))
        parts.append(der.explicit(1, der.sequence(extension)))
    tbs = der.sequence(*parts)
    signature = sign_bytes(responder.signer, tbs)
    basic = der.sequence(
        tbs, responder.algorithm_der, der.tlv(0x03, b"\x00" + signature), responder.certs_der
    )
    response_bytes = der.sequence(_ID_PKIX_OCSP_BASIC, der.octet_string(basic))
    return der.sequence(_SUCCESSFUL, der.explicit(0, response_bytes))


def error_response(status: ocsp.OCSPResponseStatus) -> bytes:
    """An unsigned error response: malformedRequest, unauthorized, tryLater, internalError."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )
