"""XAdES with the in-memory PKI: signxml's own XAdES verifier accepts what is signed,
the unsigned properties of each level are where EN 319 132-1 puts them, and the
time-stamps' imprints are recomputed here from the canonical XML."""

from __future__ import annotations

import base64
import hashlib

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.asymmetric import ed25519
from lxml import etree
from signxml import SignatureConfiguration
from signxml.xades import XAdESVerifier

from govtrust.crypto.keys import KeySpec
from govtrust.crypto.software import SoftwareSigner
from govtrust.errors import InputError, MalformedDocument
from govtrust.signing.api import SigningIdentity
from govtrust.signing.levels import Level
from govtrust.signing.xades import augment_xml, sign_xml
from tests.unit.signing.conftest import Pki, make_pki, pem

NS = {
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xades": "http://uri.etsi.org/01903/v1.3.2#",
    "xadesv141": "http://uri.etsi.org/01903/v1.4.1#",
}
DOC = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<decision xmlns="urn:example:gov" id="d-1"><title>Budget 2027</title>'
    b'<amount currency="AAD">1000</amount></decision>'
)


def verify(data: bytes, pki: Pki) -> None:
    XAdESVerifier().verify(
        data,
        ca_pem_file=None,
        x509_cert=pem(pki.signer_cert).decode(),
        expect_config=SignatureConfiguration(expect_references=3),
    )


def imprint(token_b64: str) -> bytes:
    token = cms.ContentInfo.load(base64.b64decode(token_b64))
    tst = token["content"]["encap_content_info"]["content"].parsed
    return bytes(tst["message_imprint"]["hashed_message"].native)


@pytest.mark.parametrize("level", list(Level))
def test_each_level(level: Level) -> None:
    pki = make_pki()
    signed = sign_xml(DOC, pki.identity, level, pki.services())
    verify(signed.data, pki)
    root = etree.fromstring(signed.data)
    assert root.findtext(".//xades:SigningTime", namespaces=NS) == "2026-03-01T12:00:00Z"
    assert root.find(".//xades:SigningCertificateV2", namespaces=NS) is not None
    usp = root.find(".//xades:UnsignedSignatureProperties", namespaces=NS)
    if level is Level.B_B:
        assert usp is None
        return
    ts = usp.find("xades:SignatureTimeStamp", namespaces=NS)
    value = root.find(".//ds:SignatureValue", namespaces=NS)
    canonical = etree.tostring(value, method="c14n", exclusive=True)
    token = ts.findtext("xades:EncapsulatedTimeStamp", namespaces=NS)
    assert imprint(token) == hashlib.sha256(canonical).digest()
    if level.at_least(Level.B_LT):
        certs = usp.findall(
            "xades:CertificateValues/xades:EncapsulatedX509Certificate", namespaces=NS
        )
        ocsps = usp.findall(
            "xades:RevocationValues/xades:OCSPValues/xades:EncapsulatedOCSPValue", namespaces=NS
        )
        assert len(certs) >= 1  # the TSA's certificate, not in ds:KeyInfo
        assert len(ocsps) == 3
    if level is Level.B_LTA:
        (archive,) = usp.findall("xadesv141:ArchiveTimeStamp", namespaces=NS)
        assert archive.getparent() is usp
        assert list(usp)[-1] is archive


def test_archive_timestamp_imprint_is_recomputed_independently() -> None:
    pki = make_pki()
    signed = sign_xml(DOC, pki.identity, Level.B_LTA, pki.services()).data
    root = etree.fromstring(signed)
    signature = root.find("ds:Signature", namespaces=NS)
    # §5.5.2.2: referenced data (the document without the signature; SignedProperties;
    # KeyInfo), SignedInfo, SignatureValue, KeyInfo, earlier unsigned properties.
    stripped = etree.fromstring(signed)
    stripped.remove(stripped.find("ds:Signature", namespaces=NS))
    parts = [etree.tostring(stripped, method="c14n", exclusive=True)]
    for ref in signature.findall("ds:SignedInfo/ds:Reference", namespaces=NS)[1:]:
        target = root.xpath("//*[@Id=$id]", id=ref.get("URI")[1:])[0]
        parts.append(etree.tostring(target, method="c14n", exclusive=True))
    for tag in ("ds:SignedInfo", "ds:SignatureValue", "ds:KeyInfo"):
        parts.append(
            etree.tostring(signature.find(tag, namespaces=NS), method="c14n", exclusive=True)
        )
    usp = root.find(".//xades:UnsignedSignatureProperties", namespaces=NS)
    archive = usp.find("xadesv141:ArchiveTimeStamp", namespaces=NS)
    for child in usp:
        if child is archive:
            break
        parts.append(etree.tostring(child, method="c14n", exclusive=True))
    token = archive.findtext("xades:EncapsulatedTimeStamp", namespaces=NS)
    assert imprint(token) == hashlib.sha256(b"".join(parts)).digest()


def test_tampered_document_fails() -> None:
    pki = make_pki()
    signed = sign_xml(DOC, pki.identity, Level.B_B, pki.services()).data
    with pytest.raises(Exception, match=r"(?i)digest"):
        verify(signed.replace(b"1000", b"9000"), pki)


def test_augment_and_renew() -> None:
    pki = make_pki()
    signed = sign_xml(DOC, pki.identity, Level.B_B, pki.services()).data
    lta = augment_xml(signed, Level.B_LTA, pki.services()).data
    renewed = augment_xml(lta, Level.B_LTA, pki.services()).data
    verify(renewed, pki)
    root = etree.fromstring(renewed)
    assert len(root.findall(".//xadesv141:ArchiveTimeStamp", namespaces=NS)) == 2
    assert len(root.findall(".//xades:SignatureTimeStamp", namespaces=NS)) == 1


def test_augmenting_xml_without_a_signature(pki: Pki) -> None:
    with pytest.raises(MalformedDocument, match="no XAdES signature"):
        augment_xml(DOC, Level.B_LTA, pki.services())


def test_ed25519_credentials_are_refused(pki: Pki) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    identity = SigningIdentity(
        pki.signer_cert, [pki.ca], SoftwareSigner("ed", key, KeySpec.ED25519)
    )
    with pytest.raises(InputError, match="Ed25519"):
        sign_xml(DOC, identity, Level.B_B, pki.services())


@pytest.mark.parametrize(
    "data", [b"plain text", b"%PDF-1.7", b"<a>", b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>']
)
def test_non_xml_and_dtd_are_refused(pki: Pki, data: bytes) -> None:
    with pytest.raises(MalformedDocument):
        sign_xml(data, pki.identity, Level.B_B, pki.services())
