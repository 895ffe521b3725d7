"""govtrust's hand-encoded CMS (signing/_cms_out.py) beside pyHanko's signer, for the
same inputs: the same fields (versions, algorithms, certificates, signer identifier),
the same signed attributes byte for byte, the same signature where the scheme is
deterministic (RSA PKCS#1 v1.5, Ed25519), and pyHanko's validator accepts ours. Every
key type govtrust signs with, CAdES (with signing-time) and PAdES (without), B-B and B-T;
and in a PDF, the CMS is what /Contents holds and pyHanko's PDF validator accepts it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from io import BytesIO
from typing import Any

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_cms import CMSSignedAttributes, PdfCMSSignedAttributes
from pyhanko.sign.validation import async_validate_detached_cms, validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from govtrust.crypto import _der as der
from govtrust.crypto._pyhanko import PyHankoSigner, digest_algorithm_for, to_asn1
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.software import SoftwareSigner
from govtrust.errors import SigningFailed
from govtrust.signing._cms_out import CmsSigner
from govtrust.signing._tsp import TransportTimeStamper
from govtrust.signing.api import SigningIdentity
from govtrust.signing.levels import Level
from govtrust.signing.pades import PadesSigner
from govtrust.signing.pades._pdf import cms_from_contents
from tests.conftest import SHARED
from tests.unit.signing.conftest import NOW, Pki, make_pki

DATA = b"Circular 12/2026: opening hours of the registry offices\n" * 40
PDF = (SHARED / "vectors" / "pdf" / "minimal.pdf").read_bytes()
SPECS = [KeySpec.EC_P256, KeySpec.EC_P384, KeySpec.RSA_2048, KeySpec.ED25519]


def _identity(pki: Pki, spec: KeySpec) -> SigningIdentity:
    """A signer of ``spec`` whose certificate the test PKI's issuing CA issues."""
    key = spec.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Signer {spec.value}")])
    usage = x509.KeyUsage(
        digital_signature=False, content_commitment=True, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(pki.ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(pki.ca_key, hashes.SHA256())
    )
    return SigningIdentity(cert, [pki.ca, pki.root], SoftwareSigner("s", key, spec))


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def identities(pki: Pki) -> dict[KeySpec, SigningIdentity]:
    return {spec: _identity(pki, spec) for spec in SPECS}


def _ours(identity: SigningIdentity, pki: Pki, pades: bool, timestamped: bool) -> bytes:
    md = digest_algorithm_for(identity.signer.spec)
    signer = CmsSigner(identity.signer, identity.certificate, identity.chain)
    return asyncio.run(
        signer.sign(
            hashlib.new(md, DATA).digest(),
            md,
            signing_time=None if pades else NOW,
            timestamper=TransportTimeStamper(pki.timestamp) if timestamped else None,
        )
    )


def _pyhankos(identity: SigningIdentity, pki: Pki, pades: bool, timestamped: bool) -> bytes:
    """What govtrust's signing produced before the CMS was encoded by hand: pyHanko's
    ``async_sign`` with CAdES attributes (``use_pades``), for a PDF or not."""
    md = digest_algorithm_for(identity.signer.spec)
    signer = PyHankoSigner(identity.signer, identity.certificate, identity.chain)
    settings = (
        PdfCMSSignedAttributes(signing_time=NOW) if pades else CMSSignedAttributes(signing_time=NOW)
    )
    signed = asyncio.run(
        signer.async_sign(
            hashlib.new(md, DATA).digest(),
            md,
            use_pades=True,
            is_pdf_sig=pades,
            timestamper=TransportTimeStamper(pki.timestamp) if timestamped else None,
            signed_attr_settings=settings,  # type: ignore[arg-type]
        )
    )
    return bytes(signed.dump())


def _signer_info(signed_data: Any) -> Any:
    (info,) = signed_data["signer_infos"]
    return info


@pytest.mark.parametrize("timestamped", [False, True], ids=["B-B", "B-T"])
@pytest.mark.parametrize("pades", [False, True], ids=["cades", "pades"])
@pytest.mark.parametrize("spec", SPECS, ids=[s.value for s in SPECS])
def test_field_by_field_as_pyhanko(
    pki: Pki,
    identities: dict[KeySpec, SigningIdentity],
    spec: KeySpec,
    pades: bool,
    timestamped: bool,
) -> None:
    identity = identities[spec]
    ours_der = _ours(identity, pki, pades, timestamped)
    theirs_der = _pyhankos(identity, pki, pades, timestamped)
    ours, theirs = cms.ContentInfo.load(ours_der, strict=True), cms.ContentInfo.load(theirs_der)
    assert ours["content_type"].native == theirs["content_type"].native == "signed_data"
    sd, their_sd = ours["content"], theirs["content"]
    for name in ("version", "digest_algorithms", "encap_content_info"):
        assert sd[name].dump() == their_sd[name].dump(), name
    assert sd["version"].native == "v1" and sd["encap_content_info"]["content"].native is None
    assert {c.dump() for c in sd["certificates"]} == {c.dump() for c in their_sd["certificates"]}
    assert len(sd["certificates"]) == 3 and not sd["crls"]
    info, their_info = _signer_info(sd), _signer_info(their_sd)
    for name in ("version", "sid", "digest_algorithm", "signature_algorithm"):
        assert info[name].dump() == their_info[name].dump(), name
    # The signed attributes, byte for byte (content-type, message-digest,
    # signing-certificate-v2, and for CAdES signing-time), in DER order.
    assert info["signed_attrs"].dump() == their_info["signed_attrs"].dump()
    types = [a["type"].native for a in info["signed_attrs"]]
    expected = {"content_type", "message_digest", "signing_certificate_v2"}
    assert set(types) == (expected if pades else expected | {"signing_time"})
    encodings = [a.dump() for a in info["signed_attrs"]]
    assert encodings == sorted(encodings)  # X.690 §11.6
    if spec.is_rsa or spec is KeySpec.ED25519:  # deterministic schemes
        assert info["signature"].native == their_info["signature"].native
    unsigned = [a["type"].native for a in info["unsigned_attrs"] or ()]
    their_unsigned = [a["type"].native for a in their_info["unsigned_attrs"] or ()]
    assert unsigned == their_unsigned == (["signature_time_stamp_token"] if timestamped else [])
    if timestamped:
        token = info["unsigned_attrs"][0]["values"][0]
        tst = token["content"]["encap_content_info"]["content"].parsed
        md = digest_algorithm_for(spec)
        imprint = tst["message_imprint"]
        assert imprint["hash_algorithm"]["algorithm"].native == md
        assert (
            imprint["hashed_message"].native == hashlib.new(md, info["signature"].native).digest()
        )


@pytest.mark.parametrize("spec", SPECS, ids=[s.value for s in SPECS])
def test_pyhanko_validates_ours_and_sees_a_change(
    pki: Pki, identities: dict[KeySpec, SigningIdentity], spec: KeySpec
) -> None:
    signed_data = cms.ContentInfo.load(_ours(identities[spec], pki, False, True))["content"]
    vc = ValidationContext(trust_roots=[to_asn1(pki.root)], moment=NOW, allow_fetching=False)
    status = asyncio.run(
        async_validate_detached_cms(DATA, signed_data, signer_validation_context=vc)
    )
    assert status.intact and status.valid and status.trusted
    assert status.timestamp_validity is not None and status.timestamp_validity.intact
    changed = asyncio.run(
        async_validate_detached_cms(DATA + b".", signed_data, signer_validation_context=vc)
    )
    assert not changed.intact


def test_signing_time_after_2049_is_generalized_time(
    identities: dict[KeySpec, SigningIdentity],
) -> None:
    """RFC 5652 §11.3: UTCTime through 2049, GeneralizedTime from 2050."""
    identity = identities[KeySpec.EC_P256]
    signer = CmsSigner(identity.signer, identity.certificate, identity.chain)
    late = dt.datetime(2051, 6, 1, 8, 30, tzinfo=dt.UTC)
    attrs = cms.CMSAttributes.load(signer.signed_attributes(bytes(32), late))
    (time,) = [a["values"][0] for a in attrs if a["type"].native == "signing_time"]
    assert time.name == "generalized_time" and time.native == late
    early = cms.CMSAttributes.load(signer.signed_attributes(bytes(32), NOW))
    (time,) = [a["values"][0] for a in early if a["type"].native == "signing_time"]
    assert time.name == "utc_time" and time.native == NOW


def test_set_of_is_in_der_order() -> None:
    assert der.set_of(b"\x04\x02zz", b"\x04\x01a", b"\x02\x01\x05") == (
        b"\x31\x0a" + b"\x02\x01\x05" + b"\x04\x01a" + b"\x04\x02zz"
    )


def test_bad_inputs_are_refused(identities: dict[KeySpec, SigningIdentity]) -> None:
    ec_identity, ed_identity = identities[KeySpec.EC_P256], identities[KeySpec.ED25519]
    ec = CmsSigner(ec_identity.signer, ec_identity.certificate, ec_identity.chain)
    with pytest.raises(SigningFailed, match="wrong length"):
        asyncio.run(ec.sign(bytes(20), "sha256"))
    with pytest.raises(SigningFailed, match="md5"):
        asyncio.run(ec.sign(bytes(16), "md5"))
    ed = CmsSigner(ed_identity.signer, ed_identity.certificate, ed_identity.chain)
    with pytest.raises(SigningFailed, match="sha256"):
        asyncio.run(ed.sign(bytes(32), "sha256"))
    # A P-256 key may sign a SHA-384 digest (remote signing of a given hash): ECDSA with
    # SHA-384, and the CMS says so (RFC 5753 §2.1.1).
    signed = cms.ContentInfo.load(asyncio.run(ec.sign(bytes(48), "sha384")))["content"]
    info = _signer_info(signed)
    assert info["digest_algorithm"]["algorithm"].native == "sha384"
    assert info["signature_algorithm"]["algorithm"].native == "sha384_ecdsa"


@pytest.mark.parametrize("spec", SPECS, ids=[s.value for s in SPECS])
def test_pades_embeds_ours_in_the_reserved_space(
    pki: Pki, identities: dict[KeySpec, SigningIdentity], spec: KeySpec
) -> None:
    """The CMS goes into /Contents as produced (B-T: with its time-stamp, in the room
    pyHanko's size estimate reserved), and pyHanko's PDF validator accepts it."""
    signed = PadesSigner(identities[spec], Level.B_T, pki.services()).sign(PDF)
    reader = PdfFileReader(BytesIO(signed.data))
    (embedded,) = reader.embedded_signatures
    contents = bytes(embedded.pkcs7_content)
    assert cms_from_contents(contents) == signed.produced
    assert len(contents) > len(signed.produced)  # zero padding left in the reserved space
    info = _signer_info(cms.ContentInfo.load(signed.produced)["content"])
    assert {a["type"].native for a in info["signed_attrs"]} == {
        "content_type",
        "message_digest",
        "signing_certificate_v2",
    }  # EN 319 142-1 §5.2: no signing-time in a PAdES CMS
    assert embedded.sig_object["/M"] is not None
    vc = ValidationContext(trust_roots=[to_asn1(pki.root)], moment=NOW, allow_fetching=False)
    status = validate_pdf_signature(embedded, vc)
    assert status.intact and status.valid and status.trusted and status.coverage is not None
    assert status.timestamp_validity is not None and status.timestamp_validity.valid
