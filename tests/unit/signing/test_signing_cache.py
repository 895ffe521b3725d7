"""What signing reuses between signatures, and what it never reuses.

``cms_signer`` keeps one CMS encoder per signer, certificate and chain: the same inputs
give the same encoder, any other certificate (even for the same key), chain or key
gives another, and a signature by the reused encoder is the one a new encoder makes.
The CAdES signature time-stamp asked by hash is the checked token of that hash; the
requester's check of a reply still refuses a bad signature once the TSA's certificate
has been seen (its parsing is memoised, not the check)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from govtrust.crypto.keys import KeySpec
from govtrust.crypto.software import SoftwareSigner
from govtrust.errors import SigningFailed, TimestampMismatch
from govtrust.signing import _loop
from govtrust.signing._cms_out import CmsSigner, cms_signer
from govtrust.signing._tsp import imprint_token
from govtrust.signing.cades import CadesSigner
from govtrust.signing.levels import Level
from govtrust.tsa import build_query, check_reply, granted, parse_query
from govtrust.tsa.client import build_imprint_query
from tests.unit.signing.conftest import NOW, Pki, _cert


def _private(signer: SoftwareSigner) -> ec.EllipticCurvePrivateKey:
    key = signer.as_private_key()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def test_the_same_inputs_give_the_same_encoder(pki: Pki) -> None:
    chain = [pki.ca, pki.root]
    first = cms_signer(pki.signer, pki.signer_cert, chain)
    assert cms_signer(pki.signer, pki.signer_cert, list(chain)) is first
    assert first.signer is pki.signer and first.certificate == pki.signer_cert


def test_another_certificate_chain_or_key_gives_another_encoder(pki: Pki) -> None:
    chain = [pki.ca, pki.root]
    cached = cms_signer(pki.signer, pki.signer_cert, chain)
    # The same key certified again (a renewal): another certificate, another encoder.
    renewed = _cert(
        "Test Official", _private(pki.signer), pki.ca, pki.ca_key, ca=False, non_repudiation=True
    )
    other = cms_signer(pki.signer, renewed, chain)
    assert other is not cached and other.certificate == renewed
    assert cms_signer(pki.signer, pki.signer_cert, [pki.ca]) is not cached
    # Another Signer object for the same key (another custody): never the cached one.
    twin = SoftwareSigner("signer", _private(pki.signer), KeySpec.EC_P256)
    assert cms_signer(twin, pki.signer_cert, chain).signer is twin


def _without_signature(der: bytes) -> bytes:
    info = cms.ContentInfo.load(der)
    info["content"]["signer_infos"][0]["signature"] = b""
    return bytes(info.dump(force=True))


def test_a_reused_encoder_signs_as_a_new_one(pki: Pki) -> None:
    chain = [pki.ca, pki.root]
    digest = hashlib.sha256(b"a validation report").digest()

    def sign(encoder: CmsSigner) -> bytes:
        return _loop.run(encoder.sign(digest, "sha256", signing_time=NOW))

    cached = cms_signer(pki.signer, pki.signer_cert, chain)
    assert cms_signer(pki.signer, pki.signer_cert, chain) is cached
    reused, fresh = sign(cached), sign(CmsSigner(pki.signer, pki.signer_cert, chain))
    # ECDSA signatures differ; everything else is the same bytes.
    assert reused != fresh
    assert _without_signature(reused) == _without_signature(fresh)
    signer_info = cms.ContentInfo.load(reused)["content"]["signer_infos"][0]
    signed = b"\x31" + bytes(signer_info["signed_attrs"].dump())[1:]
    public_key = pki.signer_cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(signer_info["signature"].native, signed, ec.ECDSA(hashes.SHA256()))


def _token_imprint(token: bytes) -> tuple[str, bytes]:
    tst = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    imprint = tst["message_imprint"]
    return imprint["hash_algorithm"]["algorithm"].native, imprint["hashed_message"].native


def test_the_signature_time_stamp_is_asked_by_hash(pki: Pki) -> None:
    imprint = hashlib.sha384(b"a signature value").digest()
    token = imprint_token(pki.timestamp, imprint, "sha384")
    assert _token_imprint(token) == ("sha384", imprint)
    with pytest.raises(SigningFailed):
        imprint_token(pki.timestamp, imprint, "md5")
    with pytest.raises(ValueError):
        build_imprint_query(imprint, "sha256")  # a SHA-384 imprint is not a SHA-256 one


def test_a_cades_b_t_token_stamps_the_signature_value(pki: Pki) -> None:
    before = pki.stamps
    document = CadesSigner(pki.identity, Level.B_T, pki.services()).sign(b"report")
    assert pki.stamps == before + 1
    signer_info: Any = cms.ContentInfo.load(document.data)["content"]["signer_infos"][0]
    (token,) = [
        a["values"][0]
        for a in signer_info["unsigned_attrs"]
        if a["type"].native == "signature_time_stamp_token"
    ]
    signature = signer_info["signature"].native
    assert _token_imprint(bytes(token.dump())) == ("sha256", hashlib.sha256(signature).digest())


def test_the_reply_check_still_refuses_a_bad_signature_once_the_tsa_is_known(
    pki: Pki,
) -> None:
    der, query = build_query(b"doc")
    good = granted(pki.tsa.issue(parse_query(der), 1, NOW))
    assert check_reply(good, query).tsa_certificate == pki.tsa_cert  # memo now warm
    token = cms.ContentInfo.load(pki.tsa.issue(parse_query(der), 2, NOW))
    signer_info = token["content"]["signer_infos"][0]
    signature = bytearray(signer_info["signature"].native)
    signature[-1] ^= 1
    signer_info["signature"] = bytes(signature)
    with pytest.raises(TimestampMismatch) as info:
        check_reply(granted(token.dump(force=True)), query)
    assert info.value.field == "signature"


def test_the_reply_check_uses_the_certificate_the_token_carries(pki: Pki) -> None:
    der, query = build_query(b"doc")
    assert check_reply(granted(pki.tsa.issue(parse_query(der), 3, NOW)), query)
    # A token whose certificate is not the one its signing-certificate-v2 names.
    token = cms.ContentInfo.load(pki.tsa.issue(parse_query(der), 4, NOW))
    token["content"]["certificates"] = [
        cms.CertificateChoices.load(pki.signer_cert.public_bytes(serialization.Encoding.DER))
    ]
    with pytest.raises(TimestampMismatch) as info:
        check_reply(granted(token.dump(force=True)), query)
    assert info.value.field == "certificates"
