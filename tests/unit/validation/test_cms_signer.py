"""EN 319 102-1 signer validation of CMS SignedData (``validation.signatures._cms``)
with a test PKI made here: signer identification (§5.2.3), cryptographic verification
(§5.2.7), certificate validation with embedded CRLs, several SignerInfos, attached and
detached content, and malformed input. Signatures are made by pyHanko's
``SimpleSigner`` (an independent CMS producer); nothing is mocked."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import pytest
from asn1crypto import cms, keys
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from govtrust.clock import FixedClock
from govtrust.validation import Indication, RevocationMode, SubIndication, ValidationPolicy
from govtrust.validation.report import ValidationProcess
from govtrust.validation.signatures import Environment
from govtrust.validation.signatures._cms import EmbeddedMaterial, validate_signer
from govtrust.validation.signatures.cades import validate_cms
from tests.unit.validation.pki_factory import NOW, Issued, SmallPki, make_pki

DATA = b"a decree of the ministry\n" * 400


def _asn1(cert: x509.Certificate) -> a_x509.Certificate:
    return a_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _sign(
    pki: SmallPki, data: bytes = DATA, *, detached: bool = True, who: Issued | None = None
) -> cms.ContentInfo:
    who = who or pki.leaf
    key = keys.PrivateKeyInfo.load(
        who.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    )
    chain = [_asn1(c.cert) for c in (*pki.intermediates, pki.root)]
    signer = SimpleSigner(
        signing_cert=_asn1(who.cert),
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    return asyncio.run(signer.async_sign_general_data(data, "sha256", detached=detached))


def _env(
    pki: SmallPki, revocation: RevocationMode = RevocationMode.OFF, **kw: object
) -> Environment:
    builder = ValidationPolicy.builder().trust_anchors([pki.root.cert]).revocation(revocation)
    for name, value in kw.items():
        builder = getattr(builder, name)(value)
    return Environment(policy=builder.build(), clock=FixedClock(NOW))


@pytest.fixture(scope="module")
def pki() -> SmallPki:
    return make_pki(intermediate=True)


def test_detached_signature_passes(pki: SmallPki) -> None:
    sig = _sign(pki)
    report = validate_signer(
        sig["content"], env=_env(pki), identifier="s", format_name="CAdES", content=DATA
    )
    assert report.indication is Indication.TOTAL_PASSED, report.message
    assert report.format == "CAdES-BASELINE-B"
    assert report.process is ValidationProcess.BASIC
    assert report.best_signature_time == NOW
    assert report.signer == "CN=Test Signer"
    assert report.details["signingCertificateAttribute"] == "v2"
    assert [c.role for c in report.certificate.chain] == [  # type: ignore[union-attr]
        "end-entity",
        "intermediate",
        "trust-anchor",
    ]


def test_content_digest_instead_of_content(pki: SmallPki) -> None:
    sd = _sign(pki)["content"]
    env = _env(pki)
    good = validate_signer(
        sd,
        env=env,
        identifier="s",
        format_name="PAdES",
        content_digest=hashlib.sha256(DATA).digest(),
    )
    assert good.indication is Indication.TOTAL_PASSED, good.message
    assert good.format == "PAdES-BASELINE-B"
    bad = validate_signer(
        sd,
        env=env,
        identifier="s",
        format_name="PAdES",
        content_digest=hashlib.sha256(b"x").digest(),
    )
    assert bad.sub_indication is SubIndication.HASH_FAILURE
    missing = validate_signer(sd, env=env, identifier="s", format_name="CAdES")
    assert missing.indication is Indication.INDETERMINATE
    assert missing.sub_indication is SubIndication.SIGNED_DATA_NOT_FOUND


def test_attached_signature(pki: SmallPki) -> None:
    sig = _sign(pki, detached=False)
    result = validate_cms(sig.dump(), _env(pki))
    (entry,) = result.signatures
    assert entry.indication is Indication.TOTAL_PASSED, entry.message
    assert result.details["signedContent"] == "encapsulated"
    assert result.details["encapsulatedContentSha256"] == hashlib.sha256(DATA).hexdigest()


def _signed_data(original: cms.SignedData, **changes: object) -> cms.SignedData:
    """A SignedData with some fields replaced (None: left out); the others keep their
    original encoding."""
    names = ("version", "digest_algorithms", "encap_content_info", "certificates", "crls")
    fields: dict[str, object] = {n: original[n] for n in names if original[n].native is not None}
    fields["signer_infos"] = original["signer_infos"]
    fields.update(changes)
    return cms.SignedData({k: v for k, v in fields.items() if v is not None})


def test_signer_certificate_missing_then_given(pki: SmallPki) -> None:
    sd = _signed_data(_sign(pki)["content"], certificates=None)
    env = _env(pki, intermediates=[pki.intermediates[0].cert])
    report = validate_signer(sd, env=env, identifier="s", format_name="CAdES", content=DATA)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.NO_SIGNING_CERTIFICATE_FOUND
    given = validate_signer(
        sd,
        env=env,
        identifier="s",
        format_name="CAdES",
        content=DATA,
        material=EmbeddedMaterial(certificates=(pki.leaf.cert,)),
    )
    assert given.indication is Indication.TOTAL_PASSED, given.message


def test_signing_certificate_attribute_mismatch(pki: SmallPki) -> None:
    """A certificate with the signer's issuer and serial number but another key put in
    place of the signer's: the SignerIdentifier matches it, the signed ESSCertIDv2 does
    not (EN 319 102-1 §5.2.3, RFC 5035 §3)."""
    original = pki.leaf.cert
    key = ec.generate_private_key(ec.SECP256R1())
    twin = (
        x509.CertificateBuilder()
        .subject_name(original.subject)
        .issuer_name(original.issuer)
        .public_key(key.public_key())
        .serial_number(original.serial_number)
        .not_valid_before(original.not_valid_before_utc)
        .not_valid_after(original.not_valid_after_utc)
        .sign(pki.issuer.key, hashes.SHA256())
    )
    sd = _sign(pki)["content"]
    others = [
        c for c in sd["certificates"] if c.chosen.dump() != original.public_bytes(Encoding.DER)
    ]
    swapped = _signed_data(
        sd, certificates=[*others, cms.CertificateChoices({"certificate": _asn1(twin)})]
    )
    report = validate_signer(
        swapped, env=_env(pki), identifier="s", format_name="CAdES", content=DATA
    )
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.NO_SIGNING_CERTIFICATE_FOUND
    assert "signing-certificate" in report.message


def test_two_signer_infos(pki: SmallPki) -> None:
    other = make_pki()
    first = _sign(pki)["content"]
    second = _sign(other)["content"]
    both = _signed_data(
        first,
        certificates=[*first["certificates"], *second["certificates"]],
        signer_infos=[first["signer_infos"][0], second["signer_infos"][0]],
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": both})
    result = validate_cms(info.dump(), _env(pki), detached=DATA)
    assert result.details["signerCount"] == 2
    assert len({s.identifier for s in result.signatures}) == 2
    # SignerInfos is a SET OF (RFC 5652 §5.1): find each by its certificate.
    by_leaf = {s.certificate.chain[0].certificate: s for s in result.signatures}  # type: ignore[union-attr]
    ours = by_leaf[pki.leaf.cert]
    assert ours.indication is Indication.TOTAL_PASSED, ours.message
    # The second signer's root (same name, other key) is not trusted by this policy.
    theirs = by_leaf[other.leaf.cert]
    assert theirs.indication is Indication.INDETERMINATE


def test_embedded_crl_revoked_signer_without_poe(pki: SmallPki) -> None:
    sd = _sign(pki)["content"]
    crl = pki.crl()
    good = validate_signer(
        sd,
        env=_env(pki, RevocationMode.REQUIRE),
        identifier="s",
        format_name="CAdES",
        content=DATA,
        material=EmbeddedMaterial(crls=(crl, pki.crl(issuer=pki.root))),
    )
    assert good.indication is Indication.TOTAL_PASSED, good.message
    assert {d.source for d in good.certificate.revocation_data} == {"embedded"}  # type: ignore[union-attr]
    revoked_crl = pki.crl({pki.leaf.cert.serial_number: NOW - dt.timedelta(minutes=30)})
    revoked = validate_signer(
        sd,
        env=_env(pki, RevocationMode.REQUIRE),
        identifier="s",
        format_name="CAdES",
        content=DATA,
        material=EmbeddedMaterial(crls=(revoked_crl, pki.crl(issuer=pki.root))),
    )
    # B-B: nothing proves the signature predates the revocation (EN 319 102-1 §5.3.4).
    assert revoked.indication is Indication.INDETERMINATE, revoked.message
    assert revoked.sub_indication is SubIndication.REVOKED_NO_POE


def test_crls_in_signed_data_are_used(pki: SmallPki) -> None:
    sd = _sign(pki)["content"]
    crls = [a_x509_crl(pki.crl()), a_x509_crl(pki.crl(issuer=pki.root))]
    with_crls = _signed_data(sd, crls=[cms.RevocationInfoChoice({"crl": c}) for c in crls])
    report = validate_signer(
        with_crls,
        env=_env(pki, RevocationMode.REQUIRE),
        identifier="s",
        format_name="CAdES",
        content=DATA,
    )
    assert report.indication is Indication.TOTAL_PASSED, report.message
    assert report.details["embeddedValidationData"]["crls"] == 2


def a_x509_crl(der: bytes):  # type: ignore[no-untyped-def]
    from asn1crypto import crl

    return crl.CertificateList.load(der)


@pytest.mark.parametrize("index", [1, -1])
def test_missing_signer_index_is_format_failure(pki: SmallPki, index: int) -> None:
    report = validate_signer(
        _sign(pki)["content"],
        env=_env(pki),
        identifier="s",
        format_name="CAdES",
        content=DATA,
        signer_index=index,
    )
    assert report.sub_indication is SubIndication.FORMAT_FAILURE


def test_malformed_signer_info_is_format_failure(pki: SmallPki) -> None:
    der = bytearray(_sign(pki).dump())
    # Corrupt the signature algorithm OID's length inside the SignerInfo.
    at = der.rfind(bytes.fromhex("06082a8648ce3d040302"))
    der[at + 1] = 0x7F
    result = validate_cms(bytes(der), _env(pki), detached=DATA)
    (entry,) = result.signatures
    assert entry.indication is Indication.TOTAL_FAILED
    assert entry.sub_indication is SubIndication.FORMAT_FAILURE


def test_poe_before_the_certificate_existed_is_not_yet_valid(pki: SmallPki) -> None:
    """EN 319 102-1 §5.5.4: a time-stamp proving the signature existed before its
    signing certificate was issued: TOTAL-FAILED/NOT_YET_VALID."""
    from govtrust.validation.report import SignatureKind, SignatureReport
    from govtrust.validation.signatures._cms import TimestampCheck

    early = pki.leaf.cert.not_valid_before_utc - dt.timedelta(days=1)
    stamp = TimestampCheck(
        SignatureReport(
            identifier="doc-ts",
            kind=SignatureKind.TIMESTAMP,
            indication=Indication.TOTAL_PASSED,
            sub_indication=None,
            message="",
            validation_time=NOW,
            details={"role": "document-time-stamp"},
        ),
        early,
        serial=1,
    )
    report = validate_signer(
        _sign(pki)["content"],
        env=_env(pki),
        identifier="s",
        format_name="CAdES",
        content=DATA,
        later_timestamps=[stamp],
    )
    assert report.indication is Indication.TOTAL_FAILED, report.message
    assert report.sub_indication is SubIndication.NOT_YET_VALID
    assert report.best_signature_time == early
