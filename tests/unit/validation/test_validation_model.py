"""The EN 319 102-1 model: indications, the policy builder, name matching, the report,
and the time rules (cryptographic sunsets, purposes) on a generated PKI."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from govtrust.errors import InputError
from govtrust.validation import (
    AlgorithmPolicy,
    Indication,
    Purpose,
    Report,
    RevocationMode,
    SignatureReport,
    SubIndication,
    ValidationPolicy,
    match_email_address,
    match_server_name,
    validate_certificate,
    worst,
)
from govtrust.validation.report import SignatureKind
from tests.unit.validation.pki_factory import NOW, make_pki


def test_table_6_sub_indications_and_their_main_indication() -> None:
    failed = {s.value for s in SubIndication if s.indication is Indication.TOTAL_FAILED}
    assert failed == {
        "FORMAT_FAILURE",
        "HASH_FAILURE",
        "SIG_CRYPTO_FAILURE",
        "REVOKED",
        "EXPIRED",
        "NOT_YET_VALID",
    }
    assert len(SubIndication) == 26
    assert SubIndication.REVOKED_NO_POE.uri == "urn:etsi:019102:subindication:REVOKED_NO_POE"
    assert Indication.TOTAL_PASSED.uri == "urn:etsi:019102:mainindication:total-passed"
    assert SubIndication.TRY_LATER.retryable and not SubIndication.HASH_FAILURE.retryable


def test_worst() -> None:
    assert worst([]) is None
    assert worst([Indication.TOTAL_PASSED, Indication.INDETERMINATE]) is Indication.INDETERMINATE
    assert (
        worst([Indication.INDETERMINATE, Indication.TOTAL_FAILED, Indication.TOTAL_PASSED])
        is Indication.TOTAL_FAILED
    )


def test_policy_builder_is_immutable_and_checked() -> None:
    pki = make_pki()
    base = ValidationPolicy.builder()
    with_anchor = base.trust_anchors([pki.root.cert])
    assert base is not with_anchor
    with pytest.raises(InputError):
        base.build()  # no trust anchor
    with pytest.raises(ValueError, match="once"):
        with_anchor.trust_anchors([pki.root.cert])
    with pytest.raises(InputError):
        with_anchor.at(dt.datetime(2030, 1, 1))  # naive
    with pytest.raises(InputError):
        with_anchor.revocation("sometimes")
    policy = with_anchor.revocation("off").at(NOW).purpose(Purpose.SIGNATURE).build()
    assert dataclasses.is_dataclass(policy)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.at = None  # type: ignore[misc]
    doc = policy.to_dict()
    assert doc["revocation"] == "off"
    assert doc["disabledChecks"] == ["revocation"]
    assert doc["validationTime"] == NOW.isoformat()
    assert doc["trustAnchors"][0]["subject"] == "CN=Test Root"
    assert doc["algorithms"]["minRsaBits"] == 2048


def _with_san(*names: x509.GeneralName) -> x509.Certificate:
    pki = make_pki()
    cert = pki.leaf.cert
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=www.example.com"))
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(1)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    return builder.sign(pki.root.key, hashes.SHA256())


@pytest.mark.parametrize(
    ("presented", "reference", "expected"),
    [
        ("www.example.com", "www.example.com", True),
        ("www.example.com", "WWW.Example.COM.", True),
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("w*.example.com", "www.example.com", False),
        ("*.com", "example.com", False),
        ("www.example.com", "www.example.org", False),
        ("www.example.com", "www..example.com", False),
    ],
)
def test_server_name_matching(presented: str, reference: str, expected: bool) -> None:
    cert = _with_san(x509.DNSName(presented))
    assert match_server_name(cert, reference) is expected


def test_ip_and_cn_rules() -> None:
    import ipaddress

    cert = _with_san(x509.IPAddress(ipaddress.ip_address("192.0.2.1")), x509.DNSName("192.0.2.2"))
    assert match_server_name(cert, "192.0.2.1")
    assert not match_server_name(cert, "192.0.2.2")  # a dNSName never matches an IP
    assert not match_server_name(_with_san(), "www.example.com")  # the CN is not used
    mail = _with_san(x509.RFC822Name("Alice@Example.org"))
    assert match_email_address(mail, "Alice@example.ORG")
    assert not match_email_address(mail, "alice@example.org")


def test_empty_report_is_never_a_pass() -> None:
    report = Report(validation_time=NOW, policy=None, signatures=())
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.CUSTOM
    assert report.to_dict()["signatures"] == []
    with pytest.raises(ValueError, match="not a sub-indication"):
        SignatureReport(
            identifier="s1",
            kind=SignatureKind.SIGNATURE,
            indication=Indication.INDETERMINATE,
            sub_indication=SubIndication.HASH_FAILURE,
            message="",
            validation_time=NOW,
        )


def test_a_digest_after_its_sunset_needs_a_poe() -> None:
    """EN 319 102-1 §5.2.6.4 step 6 and §5.6.2.4: an algorithm past its sunset is
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE, unless a POE from before the sunset exists.
    (cryptography no longer signs with SHA-1, so SHA-256 is given a sunset here.)"""
    sunset = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
    pki = make_pki(not_before=dt.datetime(2012, 1, 1, tzinfo=dt.UTC))
    policy = (
        ValidationPolicy.builder()
        .trust_anchors([pki.root.cert])
        .revocation(RevocationMode.OFF)
        .at(NOW)
        .algorithms(AlgorithmPolicy(digest_sunsets=(("sha256", sunset),)))
        .build()
    )
    now = validate_certificate(pki.leaf.cert, policy, poe_time=NOW)
    assert now.indication is Indication.INDETERMINATE
    assert now.sub_indication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
    assert now.error_time == sunset

    before = dt.datetime(2013, 1, 1, tzinfo=dt.UTC)
    proven = validate_certificate(pki.leaf.cert, policy, poe_time=before)
    assert proven.indication is Indication.TOTAL_PASSED, proven.summary()

    default = dataclasses.replace(policy, algorithms=AlgorithmPolicy())
    assert validate_certificate(pki.leaf.cert, default).passed


def test_purpose_rules() -> None:
    stamping = make_pki(eku=(ExtendedKeyUsageOID.TIME_STAMPING,))
    server = make_pki(eku=(ExtendedKeyUsageOID.SERVER_AUTH,))

    def check(pki, purpose):  # type: ignore[no-untyped-def]
        policy = (
            ValidationPolicy.builder()
            .trust_anchors([pki.root.cert])
            .revocation("off")
            .at(NOW)
            .purpose(purpose)
            .build()
        )
        return validate_certificate(pki.leaf.cert, policy)

    assert check(server, Purpose.TLS_SERVER).passed
    wrong = check(server, Purpose.TLS_CLIENT)
    assert wrong.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    # RFC 3161 §2.3: the timeStamping EKU must be critical; the factory's is not.
    assert check(stamping, Purpose.TIMESTAMPING).sub_indication is (
        SubIndication.CHAIN_CONSTRAINTS_FAILURE
    )
    assert check(server, Purpose.SIGNATURE).passed  # KU digitalSignature, no EKU rule
