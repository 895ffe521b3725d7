"""The token (RFC 3161 §2.4.2, RFC 5652, RFC 5816): its fields, and its DER equal, byte
for byte, to asn1crypto's encoding of the same structure (the authority concatenates
pre-encoded parts for speed; this is the check that it encodes what asn1crypto would)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from govtrust.crypto.keys import KeySpec
from govtrust.crypto.software import SoftwareSigner
from govtrust.errors import ConfigError
from govtrust.tsa import (
    Accuracy,
    FailInfo,
    TimestampAuthority,
    TimestampQuery,
    build_query,
    check_reply,
    granted,
    parse_query,
    rejection,
)
from govtrust.tsa.asn1 import TimeStampResp
from tests.unit.tsa._pki import NOW, Pki

POLICY = "1.3.6.1.4.1.58995.1.1"


def _reference(
    authority: TimestampAuthority, query: TimestampQuery, serial: int, gen_time: dt.datetime
) -> bytes:
    """The same token built from asn1crypto objects only (the slow, obvious way)."""
    cert = asn1_x509.Certificate.load(
        authority.certificate.public_bytes(serialization.Encoding.DER)
    )
    tst: dict[str, Any] = {
        "version": "v1",
        "policy": POLICY,
        "message_imprint": tsp.MessageImprint.load(query.message_imprint_der)
        if query.message_imprint_der
        else {"hash_algorithm": {"algorithm": query.hash_name}, "hashed_message": query.imprint},
        "serial_number": serial,
        "gen_time": core.GeneralizedTime(gen_time),
        "tsa": asn1_x509.GeneralName(name="directory_name", value=cert.subject),
    }
    accuracy = authority.accuracy.to_asn1()
    if accuracy:
        tst["accuracy"] = accuracy
    if query.nonce is not None:
        tst["nonce"] = query.nonce
    tst_der = tsp.TSTInfo(tst).dump()
    digest = authority.digest_name
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.new(digest, tst_der).digest()]},
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha256(cert.dump()).digest(),
                                "issuer_serial": {
                                    "issuer": [
                                        asn1_x509.GeneralName(
                                            name="directory_name", value=cert.issuer
                                        )
                                    ],
                                    "serial_number": cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            },
        ]
    )
    produced = cms.ContentInfo.load(authority.issue(query, serial, gen_time))
    signature = produced["content"]["signer_infos"][0]["signature"].native  # ECDSA: random
    sig_alg: dict[str, Any] = (
        {"algorithm": f"{digest}_rsa", "parameters": core.Null()}
        if authority.signer.spec.is_rsa
        else {"algorithm": f"{digest}_ecdsa"}
    )
    signed: dict[str, Any] = {
        "version": "v3",
        "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": {
            "content_type": "tst_info",
            "content": core.ParsableOctetString(tst_der),
        },
        "signer_infos": [
            {
                "version": "v1",
                "sid": {
                    "issuer_and_serial_number": {
                        "issuer": cert.issuer,
                        "serial_number": cert.serial_number,
                    }
                },
                "digest_algorithm": {"algorithm": digest},
                "signed_attrs": attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm(sig_alg),
                "signature": signature,
            }
        ],
    }
    if query.cert_req:
        signed["certificates"] = [cert]
    reference = cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
    return bytes(reference), produced.dump()


_TSAS: dict[KeySpec, tuple[x509.Certificate, SoftwareSigner]] = {}


@pytest.mark.parametrize("spec", [KeySpec.EC_P256, KeySpec.EC_P384, KeySpec.RSA_3072])
@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize(("nonce", "cert_req"), [(None, False), (2**63 + 5, True), (7, False)])
def test_token_is_asn1crypto_s_encoding(
    pki: Pki, spec: KeySpec, hash_name: str, nonce: int | None, cert_req: bool
) -> None:
    if spec not in _TSAS:  # one key per algorithm: RSA key generation is slow
        _TSAS[spec] = pki.tsa(spec)
    cert, signer = _TSAS[spec]
    authority = TimestampAuthority(cert, signer, POLICY, Accuracy(1, 250))
    der, _ = build_query(b"payload", hash_name, cert_req=cert_req, nonce=nonce)
    query = parse_query(der)
    reference, produced = _reference(authority, query, 123456789, NOW)
    assert produced == reference
    # And a requester's checks (imprint, nonce, signature with the certificate) pass.
    if cert_req:
        reply = check_reply(granted(produced), query)
        assert reply.serial == 123456789 and reply.gen_time == NOW and reply.nonce == nonce
        assert reply.tsa_certificate == cert


def test_tst_info_fields(pki: Pki) -> None:
    cert, signer = pki.tsa()
    authority = TimestampAuthority(cert, signer, POLICY, Accuracy(2, 5))
    query = parse_query(build_query(b"x", "sha384", nonce=99)[0])
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=dt.UTC)
    tst = tsp.TSTInfo.load(authority.tst_info(query, 77, at)).native
    assert tst["version"] == "v1" and tst["policy"] == POLICY
    assert tst["serial_number"] == 77 and tst["nonce"] == 99 and tst["ordering"] is False
    assert tst["gen_time"] == at
    assert tst["accuracy"] == {"seconds": 2, "millis": 5, "micros": None}
    assert tst["message_imprint"]["hashed_message"] == query.imprint
    assert (
        tst["tsa"]
        == asn1_x509.GeneralName(
            name="directory_name", value=asn1_x509.Name.load(cert.subject.public_bytes())
        ).native
    )
    # RFC 3161 §2.4.2: fractions of a second without trailing zeros.
    assert b"20260102030405.12Z" in authority.tst_info(query, 77, at)
    assert b"20260102030405Z" in authority.tst_info(query, 77, at.replace(microsecond=0))


def test_no_accuracy_when_zero(pki: Pki) -> None:
    cert, signer = pki.tsa()
    authority = TimestampAuthority(cert, signer, POLICY, Accuracy(0, 0))
    query = parse_query(build_query(b"x")[0])
    assert tsp.TSTInfo.load(authority.tst_info(query, 1, NOW))["accuracy"].native is None


def test_serial_must_be_positive_and_time_aware(pki: Pki) -> None:
    cert, signer = pki.tsa()
    authority = TimestampAuthority(cert, signer, POLICY, Accuracy(1))
    query = parse_query(build_query(b"x")[0])
    with pytest.raises(ValueError):
        authority.issue(query, 0, NOW)
    with pytest.raises(ValueError):
        authority.issue(query, 1, NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("eku", "critical", "message"),
    [
        ([], True, "no extended key usage"),
        ([ExtendedKeyUsageOID.TIME_STAMPING], False, "critical"),
        ([ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING], True, "only"),
        ([ExtendedKeyUsageOID.SERVER_AUTH], True, "only"),
    ],
)
def test_tsa_certificate_must_be_rfc3161_2_3(
    pki: Pki, eku: list[x509.ObjectIdentifier], critical: bool, message: str
) -> None:
    cert, signer = pki.tsa(eku=eku, eku_critical=critical)
    with pytest.raises(ConfigError, match=message):
        TimestampAuthority(cert, signer, POLICY, Accuracy(1))


def test_key_must_match_certificate(pki: Pki) -> None:
    cert, _ = pki.tsa()
    other = KeySpec.EC_P256.generate()
    with pytest.raises(ConfigError, match="does not match"):
        TimestampAuthority(
            cert,
            SoftwareSigner("other", other, KeySpec.EC_P256),  # type: ignore[arg-type]
            POLICY,
            Accuracy(1),
        )


def test_ed25519_cannot_sign_tokens(pki: Pki) -> None:
    cert, signer = pki.tsa(KeySpec.ED25519)
    with pytest.raises(ConfigError, match="ed25519"):
        TimestampAuthority(cert, signer, POLICY, Accuracy(1))


def test_accuracy_bounds() -> None:
    with pytest.raises(ConfigError):
        Accuracy(-1)
    with pytest.raises(ConfigError):
        Accuracy(0, 1000)
    assert Accuracy(0, 0).to_asn1() is None
    assert Accuracy(3, 0).to_asn1() == {"seconds": 3}


@pytest.mark.parametrize("fail", list(FailInfo))
def test_rejection_encoding(fail: FailInfo) -> None:
    response = TimeStampResp.load(rejection(fail, "why not"))
    status = response["status"]
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {fail.asn1_name}
    assert status["status_string"].native == ["why not"]
    assert response["time_stamp_token"].native is None
    assert response.dump(force=True) == rejection(fail, "why not")  # DER


def test_granted_encoding(pki: Pki) -> None:
    cert, signer = pki.tsa()
    authority = TimestampAuthority(cert, signer, POLICY, Accuracy(1))
    token = authority.issue(parse_query(build_query(b"x")[0]), 5, NOW)
    reply = granted(token)
    reference = tsp.TimeStampResp(
        {"status": {"status": "granted"}, "time_stamp_token": cms.ContentInfo.load(token)}
    ).dump()
    assert reply == reference
