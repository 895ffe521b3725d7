"""The hand-written DER of OCSP responses (govtrust.ca.ocsp.sign_response), checked
against pyca/cryptography's OCSPResponseBuilder: the same fields, the same
tbsResponseData but for producedAt, and a signature that verifies."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from govtrust.ca.authority import build_root_ca
from govtrust.ca.crl import RevocationReason
from govtrust.ca.ocsp import CertStatus, Responder, sign_response
from govtrust.crypto.keys import KeySpec, default_hash
from govtrust.crypto.software import SoftwareSigner

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=24)
REVOKED_AT = NOW - dt.timedelta(days=3)
_PYCA_HASHES = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@pytest.fixture(
    scope="module", params=[KeySpec.EC_P256, KeySpec.EC_P384, KeySpec.RSA_2048, KeySpec.ED25519]
)
def responder(request: pytest.FixtureRequest) -> Responder:
    """A delegated responder with a key of each kind, its certificate issued by a CA."""
    spec: KeySpec = request.param
    ca_signer = SoftwareSigner("ca", KeySpec.EC_P256.generate(), KeySpec.EC_P256)
    ca = build_root_ca(ca_signer, x509.Name.from_rfc4514_string("CN=CA,C=AA"), 1, NOW, 30)
    signer = SoftwareSigner("ocsp", spec.generate(), spec)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=OCSP responder,C=AA"))
        .issuer_name(ca.subject)
        .public_key(signer.public_key())
        .serial_number(2)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False)
        .add_extension(x509.OCSPNoCheck(), False)
        .sign(ca_signer.as_private_key(), hashes.SHA256())
    )
    return Responder(cert, signer)


def _pyca(responder: Responder, kw: dict[str, Any]) -> bytes:
    """The same answer from pyca's builder."""
    cert_status = {
        CertStatus.good: ocsp.OCSPCertStatus.GOOD,
        CertStatus.revoked: ocsp.OCSPCertStatus.REVOKED,
        CertStatus.unknown: ocsp.OCSPCertStatus.UNKNOWN,
    }[kw["status"]]
    reason = kw.get("reason")
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=kw["issuer_name_hash"],
            issuer_key_hash=kw["issuer_key_hash"],
            serial_number=kw["serial"],
            algorithm=_PYCA_HASHES[kw["hash_alg"]](),
            cert_status=cert_status,
            this_update=kw["this_update"],
            next_update=kw["next_update"],
            revocation_time=kw.get("revoked_at"),
            revocation_reason=(
                reason.x509_flag
                if reason is not None and reason is not RevocationReason.unspecified
                else None
            ),
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder.certificate)
        .certificates([responder.certificate])
    )
    if kw.get("nonce") is not None:
        builder = builder.add_extension(x509.OCSPNonce(kw["nonce"]), critical=False)
    signed = builder.sign(responder.signer.as_private_key(), default_hash(responder.signer.spec))
    return signed.public_bytes(serialization.Encoding.DER)


def _without_produced_at(data: bytes) -> list[bytes]:
    """Every part of the response's DER but producedAt and the signature value, as it
    was encoded (asn1crypto keeps the bytes it parsed)."""
    response = asn1_ocsp.OCSPResponse.load(data)
    basic = response["response_bytes"]["response"].parsed
    tbs = basic["tbs_response_data"]
    return [
        tbs.contents[:1],  # the first field's tag: no version (v1 is the DEFAULT)
        response["response_status"].dump(),
        response["response_bytes"]["response_type"].dump(),
        tbs["responder_id"].dump(),
        tbs["responses"].dump(),
        tbs["response_extensions"].dump(),
        basic["signature_algorithm"].dump(),
        basic["certs"].dump(),
    ]


def _verify(responder: Responder, response: ocsp.OCSPResponse) -> None:
    key = responder.certificate.public_key()
    tbs, signature = response.tbs_response_bytes, response.signature
    if isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = response.signature_hash_algorithm
        assert algorithm is not None
        key.verify(signature, tbs, ec.ECDSA(algorithm))
    elif isinstance(key, rsa.RSAPublicKey):
        algorithm = response.signature_hash_algorithm
        assert algorithm is not None
        key.verify(signature, tbs, padding.PKCS1v15(), algorithm)
    else:
        assert isinstance(key, ed25519.Ed25519PublicKey)
        key.verify(signature, tbs)


CASES: list[dict[str, Any]] = [
    {"status": CertStatus.good, "hash_alg": "sha1"},
    {"status": CertStatus.good, "hash_alg": "sha256", "nonce": b"\x01" * 32},
    {"status": CertStatus.unknown, "hash_alg": "sha384"},
    {"status": CertStatus.revoked, "hash_alg": "sha512", "reason": RevocationReason.unspecified},
    {
        "status": CertStatus.revoked,
        "hash_alg": "sha256",
        "reason": RevocationReason.key_compromise,
        "nonce": b"n",
    },
    {"status": CertStatus.revoked, "hash_alg": "sha1", "reason": RevocationReason.superseded},
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['status'].name}-{c['hash_alg']}")
def test_answer_matches_pycas_builder(responder: Responder, case: dict[str, Any]) -> None:
    serial = secrets.randbits(159) | 1
    kw: dict[str, Any] = {
        "issuer_name_hash": hashlib.new(case["hash_alg"], b"name").digest(),
        "issuer_key_hash": hashlib.new(case["hash_alg"], b"key").digest(),
        "serial": serial,
        "this_update": NOW,
        "next_update": LATER,
        **case,
    }
    if case["status"] is CertStatus.revoked:
        kw["revoked_at"] = REVOKED_AT
    ours = sign_response(responder, **kw)
    assert _without_produced_at(ours) == _without_produced_at(_pyca(responder, kw))

    parsed = ocsp.load_der_ocsp_response(ours)
    assert parsed.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert parsed.produced_at_utc == NOW
    assert parsed.serial_number == serial
    assert parsed.hash_algorithm.name == case["hash_alg"]
    assert parsed.this_update_utc == NOW and parsed.next_update_utc == LATER
    assert (
        parsed.responder_key_hash
        == x509.SubjectKeyIdentifier.from_public_key(
            responder.certificate.public_key()  # type: ignore[arg-type]
        ).digest
    )
    assert parsed.certificates == [responder.certificate]
    assert parsed.certificate_status.name == case["status"].name.upper()
    if case["status"] is CertStatus.revoked:
        assert parsed.revocation_time_utc == REVOKED_AT
        reason = case["reason"]
        expected = None if reason is RevocationReason.unspecified else reason.x509_flag
        assert parsed.revocation_reason == expected
    nonces = [e.value for e in parsed.extensions if isinstance(e.value, x509.OCSPNonce)]
    assert [n.nonce for n in nonces] == ([case["nonce"]] if "nonce" in case else [])
    _verify(responder, parsed)


def test_a_revoked_answer_needs_its_time(responder: Responder) -> None:
    with pytest.raises(ValueError, match="revocation time"):
        sign_response(
            responder,
            hash_alg="sha1",
            issuer_name_hash=b"\x00" * 20,
            issuer_key_hash=b"\x00" * 20,
            serial=1,
            status=CertStatus.revoked,
            this_update=NOW,
            next_update=LATER,
        )
