"""RFC 5280 §5 version 2 CRLs, generated in linear time.

Each revoked entry (§5.1.2.6) is encoded once, when the certificate is revoked, and
stored; ``build_crl`` concatenates the stored entries under a freshly encoded
TBSCertList header and signs it. The revocation reason (§5.3.1) and invalidity date
(§5.3.2) are entry extensions; the CRL carries the authority key identifier (§5.2.1) and
a monotonically increasing CRL number (§5.2.3).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from govtrust.crypto import _der as der
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.signer import Signer, sign_bytes
from govtrust.errors import InputError

__all__ = ["RevocationReason", "build_crl", "encode_entry", "signature_algorithm_der"]


class RevocationReason(enum.Enum):
    """RFC 5280 §5.3.1 CRLReason codes govtrust accepts (no hold: revocation is final)."""

    unspecified = 0
    key_compromise = 1
    ca_compromise = 2
    affiliation_changed = 3
    superseded = 4
    cessation_of_operation = 5
    privilege_withdrawn = 9

    @classmethod
    def parse(cls, text: str) -> RevocationReason:
        key = text.strip().replace("-", "_")
        aliases = {
            "keycompromise": "key_compromise",
            "cacompromise": "ca_compromise",
            "affiliationchanged": "affiliation_changed",
            "cessationofoperation": "cessation_of_operation",
            "privilegewithdrawn": "privilege_withdrawn",
        }
        key = aliases.get(key.lower(), key.lower())
        try:
            return cls[key]
        except KeyError:
            allowed = ", ".join(r.name.replace("_", "-") for r in cls)
            raise InputError(
                f"unknown revocation reason {text!r} (use one of: {allowed})"
            ) from None

    @property
    def label(self) -> str:
        return self.name.replace("_", "-")

    @property
    def x509_flag(self) -> x509.ReasonFlags:
        return x509.ReasonFlags[self.name]


_REASON_CODE = "2.5.29.21"
_INVALIDITY_DATE = "2.5.29.24"


def _extension(oid: str, value_der: bytes, critical: bool = False) -> bytes:
    parts = [der.oid(oid)]
    if critical:
        parts.append(der.boolean(True))
    parts.append(der.octet_string(value_der))
    return der.sequence(*parts)


def encode_entry(
    serial: int,
    revoked_at: dt.datetime,
    reason: RevocationReason,
    invalidity_date: dt.datetime | None,
) -> bytes:
    """One revokedCertificates entry. Reason ``unspecified`` is omitted (§5.3.1 SHOULD)."""
    extensions = []
    if reason is not RevocationReason.unspecified:
        extensions.append(_extension(_REASON_CODE, der.tlv(0x0A, bytes([reason.value]))))
    if invalidity_date is not None:
        extensions.append(_extension(_INVALIDITY_DATE, der.generalized_time(invalidity_date)))
    parts = [der.integer(serial), der.time(revoked_at)]
    if extensions:
        parts.append(der.sequence(*extensions))
    return der.sequence(*parts)


_ALGORITHMS = {
    # RFC 5758 §3.2 (ECDSA: parameters absent), RFC 4055 §5 (RSA: parameters NULL),
    # RFC 8410 §3 (Ed25519: parameters absent).
    KeySpec.EC_P256: der.sequence(der.oid("1.2.840.10045.4.3.2")),
    KeySpec.EC_P384: der.sequence(der.oid("1.2.840.10045.4.3.3")),
    KeySpec.ED25519: der.sequence(der.oid("1.3.101.112")),
}
_RSA_SHA256 = der.sequence(der.oid("1.2.840.113549.1.1.11"), b"\x05\x00")


def signature_algorithm_der(signer: Signer) -> bytes:
    """The AlgorithmIdentifier matching ``crypto.signer.sign_bytes`` for this signer."""
    key = signer.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_SHA256
    if isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        return _ALGORITHMS[signer.spec]
    raise TypeError(f"unsupported CA key {type(key).__name__}")


def build_crl(
    issuer: x509.Certificate,
    signer: Signer,
    number: int,
    this_update: dt.datetime,
    next_update: dt.datetime,
    entries: Iterable[bytes],
) -> bytes:
    """Encode and sign a CertificateList (RFC 5280 §5.1). Returns DER."""
    algorithm = signature_algorithm_der(signer)
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    crl_extensions = der.explicit(
        0,
        der.sequence(
            _extension(aki.oid.dotted_string, aki.public_bytes()),
            _extension("2.5.29.20", der.integer(number)),
        ),
    )
    revoked = b"".join(entries)
    tbs_parts = [
        der.integer(1),  # v2
        algorithm,
        issuer.subject.public_bytes(),
        der.time(this_update),
        der.time(next_update),
    ]
    if revoked:  # §5.1.2.6: absent, not empty, when nothing is revoked
        tbs_parts.append(der.tlv(0x30, revoked))
    tbs_parts.append(crl_extensions)
    tbs = der.sequence(*tbs_parts)
    signature = sign_bytes(signer, tbs)
    return der.sequence(tbs, algorithm, der.tlv(0x03, b"\x00" + signature))
