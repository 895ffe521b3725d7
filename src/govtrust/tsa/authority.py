"""The time-stamping authority: TSTInfo, the signed token, and the TimeStampResp.

Standards: RFC 3161 §2.4.2 (TimeStampResp, TSTInfo), RFC 5652 §5 (CMS SignedData),
RFC 5816 (ESSCertIDv2 in a signing-certificate-v2 attribute, RFC 5035 §5.4), RFC 5754
and RFC 5758 §3.2 (SHA-2 digest and ECDSA signature identifiers), ETSI EN 319 422
(time-stamping protocol and token profiles).

Why the token is assembled here: no maintained Python library implements the server side
of RFC 3161 for a key it does not hold. pyHanko's ``DummyTimeStamper`` is a test helper
that needs the private key in memory, which a PKCS#11 key never is. The one signature is
made through the :class:`~govtrust.crypto.signer.Signer` interface, inside whichever
backend holds the key.

Why partly by hand: built entirely from asn1crypto objects, a token took about 35 ms,
because asn1crypto copies and re-serialises the embedded certificate and names on every
build; the throughput goal is thousands of tokens per second. So every part that does
not change from token to token (certificate, signer identifier, algorithm identifiers,
the signing-certificate-v2 attribute, the ``tsa`` name, policy, accuracy) is encoded
*once*, by asn1crypto, when the authority is made, and each token is the concatenation
of those parts and the few per-token fields under DER headers (``govtrust.crypto._der``,
X.690 §8, §10). The unit tests check byte for byte that the result equals asn1crypto's
own encoding of the same token, and that ``openssl ts -verify`` accepts it.

The token (RFC 3161 §2.4.2, RFC 5652 §5.1, §5.3):

- SignedData version 3 (the content type is not id-data), one digest algorithm: the
  hash paired with the key (SHA-256 for P-256 and RSA, SHA-384 for P-384). asn1crypto
  writes SHA-2 digest identifiers with NULL parameters, which RFC 5754 §2 requires
  verifiers to accept.
- encapContentInfo: id-ct-TSTInfo, the DER TSTInfo.
- certificates: the TSA certificate and its issuing CAs when the request had ``certReq``
  true (§2.4.1).
- one SignerInfo, version 1 (issuerAndSerialNumber), with signed attributes
  content-type (id-ct-TSTInfo), message-digest, and signing-certificate-v2 holding one
  ESSCertIDv2 (SHA-256 of the TSA certificate, the default hash, so left out of the DER,
  and its issuerSerial), as RFC 5816 §2.2.1 and EN 319 422 §5.2.1 ask.

TSTInfo: version 1, the configured policy, the request's imprint, the serial number
given by the caller (unique and increasing: the storage layer allocates it), ``genTime``
from the caller's clock, ``accuracy``, ``ordering`` false (left out, the DEFAULT), the
request's nonce when it had one, and ``tsa`` = the TSA certificate's subject as a
directoryName, which §2.4.2 asks to match the certificate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from govtrust.crypto import _der as der
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.signer import Signer, sign_bytes
from govtrust.errors import ConfigError
from govtrust.tsa.asn1 import TimeStampResp
from govtrust.tsa.request import FailInfo, TimestampQuery

__all__ = ["Accuracy", "TimestampAuthority", "granted", "rejection"]


@dataclass(frozen=True)
class Accuracy:
    """RFC 3161 §2.4.2 ``Accuracy``: genTime is within ± this of UTC. All zero: absent."""

    seconds: int = 0
    millis: int = 0

    def __post_init__(self) -> None:
        if self.seconds < 0 or not 0 <= self.millis <= 999:
            raise ConfigError("accuracy: seconds >= 0 and millis 0..999")

    def to_asn1(self) -> dict[str, int] | None:
        value: dict[str, int] = {}
        if self.seconds:
            value["seconds"] = self.seconds
        if self.millis:  # millis is INTEGER (1..999): present only when not zero
            value["millis"] = self.millis
        return value or None


def _check_certificate(cert: x509.Certificate, signer: Signer) -> None:
    """RFC 3161 §2.3: the TSA certificate has exactly one EKU, id-kp-timeStamping, and
    it is critical; and the signer's key is the certificate's."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise ConfigError("the TSA certificate has no extended key usage") from None
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise ConfigError(
            "the TSA certificate's extended key usage must be critical and only "
            "id-kp-timeStamping (RFC 3161 §2.3): issue it with the 'tsa' profile"
        )
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*spki) != signer.public_key().public_bytes(*spki):
        raise ConfigError("the TSA signing key does not match the TSA certificate")


def _signature_algorithm(spec: KeySpec, digest: str, key: Any) -> dict[str, Any]:
    if isinstance(key, ec.EllipticCurvePublicKey):
        # RFC 5758 §3.2: ecdsa-with-SHA256/384, parameters absent.
        return {"algorithm": f"{digest}_ecdsa"}
    if isinstance(key, rsa.RSAPublicKey):
        # RFC 4055 §5 / RFC 5754 §3.2: shaNNNWithRSAEncryption, parameters NULL.
        return {"algorithm": f"{digest}_rsa", "parameters": core.Null()}
    raise ConfigError(
        f"{spec.value} keys cannot sign timestamps here: use an EC (P-256, P-384) or RSA key"
    )


class TimestampAuthority:
    """One TSA identity (certificate, key, policy, accuracy) that issues tokens.

    Everything that does not depend on the request is encoded once, here (see the
    module docstring). ``issue`` is safe to call from several threads.
    """

    def __init__(
        self,
        certificate: x509.Certificate,
        signer: Signer,
        policy: str,
        accuracy: Accuracy,
        *,
        chain: Sequence[x509.Certificate] = (),
    ) -> None:
        _check_certificate(certificate, signer)
        self.certificate = certificate
        self.chain = tuple(chain)
        self.signer = signer
        self.policy = policy
        self.accuracy = accuracy
        digest = "sha384" if signer.spec is KeySpec.EC_P384 else "sha256"
        self.digest_name = digest
        cert_der = certificate.public_bytes(serialization.Encoding.DER)
        cert = asn1_x509.Certificate.load(cert_der)
        # certReq (RFC 3161 §2.4.1): the TSA certificate MUST be there, others MAY; the
        # issuing CAs are added (not self-signed roots, which a verifier must already
        # trust) so that a token, and a B-T signature holding it, validates on its own.
        # SET OF in DER is sorted by encoding (X.690 §11.6).
        extra = [
            c.public_bytes(serialization.Encoding.DER) for c in self.chain if c.subject != c.issuer
        ]
        self._cert_der = b"".join(sorted([cert_der, *extra]))
        self._policy_der = der.oid(policy)
        accuracy_value = accuracy.to_asn1()
        self._accuracy_der = tsp.Accuracy(accuracy_value).dump() if accuracy_value else b""
        self._tsa_der = der.explicit(
            0, asn1_x509.GeneralName(name="directory_name", value=cert.subject).dump()
        )
        self._digest_alg_der = algos.DigestAlgorithm({"algorithm": digest}).dump()
        self._sig_alg_der = algos.SignedDigestAlgorithm(
            _signature_algorithm(signer.spec, digest, certificate.public_key())
        ).dump()
        self._sid_der = cms.IssuerAndSerialNumber(
            {"issuer": cert.issuer, "serial_number": cert.serial_number}
        ).dump()
        # RFC 5816 §2.2.1 / RFC 5035 §5.4: ESSCertIDv2 of the TSA's certificate.
        self._signing_certificate_der = der.signing_certificate_v2(cert_der)
        self._content_type_der = cms.CMSAttribute(
            {"type": "content_type", "values": ["tst_info"]}
        ).dump()

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    def tst_info(self, query: TimestampQuery, serial: int, gen_time: dt.datetime) -> bytes:
        """The DER TSTInfo (RFC 3161 §2.4.2) for ``query``: the fields in their ASN.1
        order, ``ordering`` left out (DEFAULT FALSE), no extensions."""
        if serial <= 0:
            raise ValueError("serial numbers are positive integers")
        return der.sequence(
            _VERSION_1,
            self._policy_der,
            _message_imprint(query),
            der.integer(serial),
            _generalized_time(gen_time),
            self._accuracy_der,
            der.integer(query.nonce) if query.nonce is not None else b"",
            self._tsa_der,
        )

    def issue(self, query: TimestampQuery, serial: int, gen_time: dt.datetime) -> bytes:
        """The timestamp token: a DER ContentInfo holding the SignedData (RFC 5652 §3)."""
        tst_info = self.tst_info(query, serial, gen_time)
        digest = hashlib.new(self.digest_name, tst_info).digest()
        message_digest = der.sequence(_MESSAGE_DIGEST_OID, der.tlv(0x31, der.octet_string(digest)))
        # X.690 §11.6: the attributes of a SET OF in ascending order of their encodings.
        attributes = b"".join(
            sorted((self._content_type_der, message_digest, self._signing_certificate_der))
        )
        # RFC 5652 §5.4: the signature covers the attributes' DER as a SET OF (0x31); in
        # the SignerInfo they are [0] IMPLICIT (0xA0).
        signature = sign_bytes(self.signer, der.tlv(0x31, attributes))
        signer_info = der.sequence(
            _VERSION_1,
            self._sid_der,
            self._digest_alg_der,
            der.tlv(0xA0, attributes),
            self._sig_alg_der,
            der.octet_string(signature),
        )
        signed_data = der.sequence(
            _VERSION_3,
            der.tlv(0x31, self._digest_alg_der),
            der.sequence(_TST_INFO_OID, der.explicit(0, der.octet_string(tst_info))),
            der.tlv(0xA0, self._cert_der) if query.cert_req else b"",
            der.tlv(0x31, signer_info),
        )
        return der.sequence(_SIGNED_DATA_OID, der.explicit(0, signed_data))


_VERSION_1 = der.integer(1)
_VERSION_3 = der.integer(3)
_TST_INFO_OID = der.oid("1.2.840.113549.1.9.16.1.4")  # id-ct-TSTInfo, RFC 3161 §2.4.2
_SIGNED_DATA_OID = der.oid("1.2.840.113549.1.7.2")  # id-signedData, RFC 5652 §5.1
_MESSAGE_DIGEST_OID = der.oid("1.2.840.113549.1.9.4")  # id-messageDigest, RFC 5652 §11.2
_GRANTED = der.sequence(der.integer(0))  # PKIStatusInfo { status granted }


def _message_imprint(query: TimestampQuery) -> bytes:
    """RFC 3161 §2.4.2: "the same value as the similar field in TimeStampReq": the
    request's own bytes when it was parsed from one."""
    if query.message_imprint_der is not None:
        return query.message_imprint_der
    algorithm = algos.DigestAlgorithm({"algorithm": query.hash_name}).dump()
    return der.sequence(algorithm, der.octet_string(query.imprint))


def _generalized_time(t: dt.datetime) -> bytes:
    """RFC 3161 §2.4.2 genTime: UTC ``YYYYMMDDhhmmss[.s...]Z``, the fraction without
    trailing zeros and no fraction at all when it is zero."""
    if t.tzinfo is None:
        raise ValueError("genTime must be an aware UTC datetime")
    t = t.astimezone(dt.UTC)
    # Formatted by hand: strftime was a twentieth of a token's CPU (bench/README.md).
    text = f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"
    if t.microsecond:
        text += "." + f"{t.microsecond:06d}".rstrip("0")
    return der.tlv(0x18, (text + "Z").encode())


def granted(token: bytes) -> bytes:
    """A TimeStampResp with status ``granted`` carrying ``token`` (RFC 3161 §2.4.2)."""
    return der.sequence(_GRANTED, token)


def rejection(fail: FailInfo, text: str) -> bytes:
    """A TimeStampResp with status ``rejection``, one failInfo bit and a statusString."""
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [text], "fail_info": {fail.asn1_name}}
    )
    return bytes(TimeStampResp({"status": status}).dump())
