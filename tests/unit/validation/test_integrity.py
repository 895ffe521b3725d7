"""The signer-level checks of ``validation.signatures._integrity`` against pyHanko's
own functions, on signatures pyHanko's ``SimpleSigner`` made and variants re-signed
here with the signer's key: :func:`check_integrity` (RFC 5652 §5.4, §11.1, §11.2,
RFC 6211) must accept and refuse what ``validate_sig_integrity`` accepts and refuses;
the ESSCertID(v2) matcher what ``check_ess_certid`` matches; and :func:`settle` must
leave the received encoding in place while ending asn1crypto's re-encoding."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from asn1crypto import algos, cms, keys, tsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyhanko.sign.general import check_ess_certid
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko_certvalidator.registry import SimpleCertificateStore

from govtrust.validation import SubIndication
from govtrust.validation.signatures._integrity import (
    _certid_matches,
    check_integrity,
    select_signer_certificate,
    settle,
)
from tests.unit.validation.pki_factory import SmallPki, make_pki

DATA = b"an order of the ministry\n" * 50
DIGEST = hashlib.sha256(DATA).digest()


@pytest.fixture(scope="module")
def pki() -> SmallPki:
    return make_pki(intermediate=True)


def _asn1(cert: x509.Certificate) -> a_x509.Certificate:
    return a_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _signer_info(pki: SmallPki) -> cms.SignerInfo:
    key = keys.PrivateKeyInfo.load(
        pki.leaf.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    )
    signer = SimpleSigner(
        signing_cert=_asn1(pki.leaf.cert),
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([_asn1(pki.root.cert)]),
    )
    info = asyncio.run(signer.async_sign_general_data(DATA, "sha256", detached=True))
    # A fresh parse, as a validator receives it.
    return cms.ContentInfo.load(info.dump())["content"]["signer_infos"][0]


def _attrs(info: cms.SignerInfo) -> list[dict[str, Any]]:
    return [{"type": a["type"].native, "values": list(a["values"])} for a in info["signed_attrs"]]


def _fields(info: cms.SignerInfo, *, signed: bool = True) -> dict[str, Any]:
    names = ["version", "sid", "digest_algorithm", "signature_algorithm"]
    return {k: info[k] for k in [*names, "signed_attrs"] if signed or k in names}


def _resigned(pki: SmallPki, info: cms.SignerInfo, attrs: list[dict[str, Any]] | None) -> Any:
    """``info`` with ``attrs`` as its signed attributes (None: none), signed again
    with the signer's key, then parsed afresh."""
    fields = _fields(info, signed=False)
    if attrs is None:
        signature = pki.leaf.key.sign(DIGEST, ec.ECDSA(Prehashed(hashes.SHA256())))
    else:
        signed = cms.CMSAttributes(attrs)
        signature = pki.leaf.key.sign(signed.dump(), ec.ECDSA(hashes.SHA256()))
        fields["signed_attrs"] = signed
    return cms.SignerInfo.load(cms.SignerInfo({**fields, "signature": signature}).dump())


def _pyhanko_accepts(info: Any, cert: Any, content_type: str, digest: bytes) -> bool:
    try:
        intact, valid = validate_sig_integrity(info, cert, content_type, digest)
    except Exception:
        return False
    return bool(intact and valid)


def _check(pki: SmallPki, info: Any, content_type: str = "data", digest: bytes = DIGEST) -> Any:
    cert = _asn1(pki.leaf.cert)
    problem = check_integrity(info, cert, content_type, digest)
    assert (problem is None) == _pyhanko_accepts(info, cert, content_type, digest)
    return problem


def test_an_intact_signature_passes(pki: SmallPki) -> None:
    assert _check(pki, _signer_info(pki)) is None


def test_other_content_is_a_hash_failure(pki: SmallPki) -> None:
    problem = _check(pki, _signer_info(pki), digest=hashlib.sha256(b"other").digest())
    assert problem.sub is SubIndication.HASH_FAILURE


def test_an_altered_signature_value_is_a_crypto_failure(pki: SmallPki) -> None:
    info = _signer_info(pki)
    value = bytearray(info["signature"].native)
    value[12] ^= 0x01  # inside r: still DER, no longer the signature
    altered = cms.SignerInfo.load(
        cms.SignerInfo({**_fields(info), "signature": bytes(value)}).dump()
    )
    assert _check(pki, altered).sub is SubIndication.SIG_CRYPTO_FAILURE


def test_a_wrong_content_type_is_a_format_failure(pki: SmallPki) -> None:
    problem = _check(pki, _signer_info(pki), content_type="tst_info")
    assert problem.sub is SubIndication.FORMAT_FAILURE
    assert "content-type" in problem.message


@pytest.mark.parametrize("name", ["content_type", "message_digest"])
def test_a_missing_mandatory_attribute_is_a_format_failure(pki: SmallPki, name: str) -> None:
    info = _signer_info(pki)
    attrs = [a for a in _attrs(info) if a["type"] != name]
    problem = _check(pki, _resigned(pki, info, attrs))
    assert problem.sub is SubIndication.FORMAT_FAILURE
    assert name.replace("_", "-") in problem.message


def test_a_repeated_message_digest_is_a_format_failure(pki: SmallPki) -> None:
    info = _signer_info(pki)
    attrs = _attrs(info)
    attrs += [a for a in attrs if a["type"] == "message_digest"]
    problem = _check(pki, _resigned(pki, info, attrs))
    assert problem.sub is SubIndication.FORMAT_FAILURE


def test_algorithm_protection_must_name_the_algorithms(pki: SmallPki) -> None:
    """RFC 6211 §2: the attribute protects the SignerInfo's (unsigned) algorithm
    identifiers; one naming SHA-512 for a SHA-256 signature is refused."""
    info = _signer_info(pki)
    attrs = [a for a in _attrs(info) if a["type"] != "cms_algorithm_protection"]
    honest = {
        "digest_algorithm": info["digest_algorithm"],
        "signature_algorithm": info["signature_algorithm"],
    }
    lying = {**honest, "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha512"})}
    protection = "cms_algorithm_protection"
    good = _resigned(pki, info, [*attrs, {"type": protection, "values": [honest]}])
    bad = _resigned(pki, info, [*attrs, {"type": protection, "values": [lying]}])
    assert _check(pki, good) is None
    assert _check(pki, bad).sub is SubIndication.SIG_CONSTRAINTS_FAILURE


def test_without_signed_attributes_the_signature_covers_the_digest(pki: SmallPki) -> None:
    """RFC 5652 §5.4: no signed attributes, the signature is over the content's
    digest itself; other content is a hash failure."""
    bare = _resigned(pki, _signer_info(pki), None)
    assert _check(pki, bare) is None
    problem = _check(pki, bare, digest=hashlib.sha256(b"other").digest())
    assert problem.sub is SubIndication.HASH_FAILURE


def _tlv(tag: int, content: bytes) -> bytes:
    if len(content) < 0x80:
        return bytes([tag, len(content)]) + content
    size = len(content).to_bytes((len(content).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _malformed(pki: SmallPki) -> cms.SignerInfo:
    """The signer's attributes with a message-digest whose value is an INTEGER, not
    the OCTET STRING RFC 5652 §11.2 requires; signed, so only the structure is wrong."""
    info = _signer_info(pki)
    kept = b"".join(a.dump() for a in info["signed_attrs"] if a["type"].native != "message_digest")
    oid = cms.CMSAttributeType("message_digest").dump()
    content = kept + _tlv(0x30, oid + _tlv(0x31, b"\x02\x01\x05"))
    signature = pki.leaf.key.sign(_tlv(0x31, content), ec.ECDSA(hashes.SHA256()))
    fields = _fields(info, signed=False)
    fields["signed_attrs"] = cms.CMSAttributes.load(_tlv(0x31, content))
    return cms.SignerInfo.load(cms.SignerInfo({**fields, "signature": signature}).dump())


def test_a_malformed_attribute_is_a_format_failure(pki: SmallPki) -> None:
    problem = _check(pki, _malformed(pki))
    assert problem.sub is SubIndication.FORMAT_FAILURE


# ---- ESSCertID(v2) ----------------------------------------------------------------------


def _issuer_serial(names: list[a_x509.Name], serial: int) -> tsp.IssuerSerial:
    general = [a_x509.GeneralName(name="directory_name", value=n) for n in names]
    return tsp.IssuerSerial({"issuer": general, "serial_number": serial})


def _certid(cert: a_x509.Certificate, issuer_serial: tsp.IssuerSerial | None) -> Any:
    value = {"cert_hash": hashlib.sha256(cert.dump()).digest()}
    if issuer_serial is not None:
        value["issuer_serial"] = issuer_serial
    # Through DER and back: hashAlgorithm SHA-256 is the DEFAULT, so it is omitted.
    return tsp.ESSCertIDv2.load(tsp.ESSCertIDv2(value).dump())


def test_certid_matching_agrees_with_pyhanko(pki: SmallPki) -> None:
    cert = _asn1(pki.leaf.cert)
    issuer = cert.issuer
    serial = cert.serial_number
    # The same name as a PrintableString (the certificate's is a UTF8String): equal
    # under RFC 4518, not byte for byte, so the string-preparation path decides.
    reencoded = a_x509.Name.build(issuer.native, use_printable=True)
    assert reencoded.chosen.contents != issuer.chosen.contents
    other_issuer = _asn1(pki.root.cert).subject
    cases = {
        "no issuerSerial": (_certid(cert, None), True),
        "same encoding": (_certid(cert, _issuer_serial([issuer], serial)), True),
        "same name, other encoding": (_certid(cert, _issuer_serial([reencoded], serial)), True),
        "other serial": (_certid(cert, _issuer_serial([issuer], serial + 1)), False),
        "other issuer": (_certid(cert, _issuer_serial([other_issuer], serial)), False),
        "two names": (_certid(cert, _issuer_serial([issuer, issuer], serial)), False),
        "other certificate": (_certid(_asn1(pki.root.cert), None), False),
    }
    for name, (certid, expected) in cases.items():
        assert _certid_matches(cert, certid) is expected, name
        assert bool(check_ess_certid(cert, certid)) is expected, name


def test_a_substituted_certificate_is_not_selected(pki: SmallPki) -> None:
    info = _signer_info(pki)
    leaf = _asn1(pki.leaf.cert)
    assert select_signer_certificate(info, [leaf]) == (leaf, None)
    # Same issuer and serial in the SignerIdentifier, but not the certificate the
    # signing-certificate-v2 attribute names.
    impostor = a_x509.Certificate.load(leaf.dump())
    tbs = impostor["tbs_certificate"]
    tbs["subject"] = a_x509.Name.build({"common_name": "Impostor"})
    impostor = a_x509.Certificate.load(impostor.dump(force=True))
    cert, problem = select_signer_certificate(info, [impostor])
    assert cert is None and problem is not None
    assert problem.sub is SubIndication.NO_SIGNING_CERTIFICATE_FOUND


# ---- settle -----------------------------------------------------------------------------


def test_settle_keeps_the_received_encoding(pki: SmallPki) -> None:
    received = _signer_info(pki).dump()
    # Without settle: reading fills ESSCertIDv2's omitted default hashAlgorithm in and
    # leaves asn1crypto's "mutated" mark, so every dump() re-encodes.
    plain = cms.SignerInfo.load(received)["signed_attrs"]
    plain.native  # noqa: B018
    assert plain._is_mutated()
    info = cms.SignerInfo.load(received)
    attrs = info["signed_attrs"]
    settle(attrs)
    assert not attrs._is_mutated()
    original = attrs.dump()
    assert original in received
    assert info.dump() == received
    assert attrs.untag().dump() == b"\x31" + original[1:]
    # The attribute still reads as before, default included, and stays settled.
    v2 = next(a for a in attrs if a["type"].native == "signing_certificate_v2")
    certid = v2["values"][0]["certs"][0]
    assert certid["hash_algorithm"]["algorithm"].native == "sha256"
    attrs.native  # noqa: B018
    assert not attrs._is_mutated()
    assert attrs.dump() == original


def test_settle_leaves_a_malformed_value_to_the_checks(pki: SmallPki) -> None:
    info = _malformed(pki)
    settle(info["signed_attrs"])  # does not raise
    problem = check_integrity(info, _asn1(pki.leaf.cert), "data", DIGEST)
    assert problem is not None and problem.sub is SubIndication.FORMAT_FAILURE
