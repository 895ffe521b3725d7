"""The CA use cases against real storage (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from govtrust.ca import CertificateRequest, RevocationReason, parse_san, parse_subject
from govtrust.errors import (
    AlreadyRevoked,
    Forbidden,
    PolicyViolation,
    UnknownCA,
    UnknownCertificate,
    UnknownProfile,
)
from govtrust.services import Actor, Context, authorities, certificates, revocation
from govtrust.services import audit as audit_svc
from govtrust.store import AuditEventRow, CertificateRow

ADMIN = Actor("test:admin", "admin")


def _request(subject: str, *sans: str) -> CertificateRequest:
    key = ec.generate_private_key(ec.SECP256R1())
    return CertificateRequest(
        parse_subject(subject), key.public_key(), tuple(parse_san(s) for s in sans)
    )


def _counts(ctx: Context) -> tuple[int, int]:
    with ctx.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(CertificateRow)) or 0,
            s.scalar(select(func.count()).select_from(AuditEventRow)) or 0,
        )


def test_demo_has_three_cas_with_responders_and_crls(ctx: Context) -> None:
    cas = {c.name: c for c in authorities.list_cas(ctx)}
    assert set(cas) == {"root", "people", "tls"}
    assert cas["people"].parent == "root" and cas["root"].parent is None
    for ca in cas.values():
        assert ca.ocsp_signer_serial is not None
        assert ca.crl_number >= 1
        crl = revocation.get_crl(ctx, ca.name)
        assert crl is not None
        parsed = x509.load_der_x509_crl(crl.der)
        issuer = x509.load_der_x509_certificate(ca.cert_der)
        assert parsed.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]


def test_issue_tls_server_sets_profile_extensions(ctx: Context) -> None:
    info = certificates.issue(
        ctx,
        "tls",
        "tls-server",
        _request("CN=www.gov.example.org", "dns:www.gov.example.org"),
        ADMIN,
    )
    cert = x509.load_der_x509_certificate(info.der)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.serial_number.bit_length() >= 64
    assert format(cert.serial_number, "x") == info.serial
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc) <= dt.timedelta(days=200)
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert {d.access_location.value for d in aia} == {
        "http://pki.govtrust.org/ocsp",
        "http://pki.govtrust.org/ca/tls.crt",
    }


@pytest.mark.parametrize(
    ("profile", "subject", "sans", "rule"),
    [
        ("tls-server", "CN=a.example.org", ("email:x@example.org",), "san-type"),
        ("tls-server", "CN=a.example.org", (), "san-required"),
        ("tls-server", "CN=b.example.org", ("dns:a.example.org",), "cn-in-san"),
        ("official", "CN=No Names,C=AA", (), "subject-attribute"),
        ("seal", "CN=Agency,O=Agency,C=AA", (), "subject-attribute"),
    ],
)
def test_profile_refusal_stores_nothing(
    ctx: Context, profile: str, subject: str, sans: tuple[str, ...], rule: str
) -> None:
    before = _counts(ctx)
    with pytest.raises(PolicyViolation) as err:
        certificates.issue(
            ctx,
            "people" if profile != "tls-server" else "tls",
            profile,
            _request(subject, *sans),
            ADMIN,
        )
    assert err.value.rule == rule
    assert _counts(ctx) == before


def test_forbidden_key_algorithm(ctx: Context) -> None:
    key = ec.generate_private_key(ec.SECP521R1())
    request = CertificateRequest(
        parse_subject("CN=x.example.org"), key.public_key(), (parse_san("dns:x.example.org"),)
    )
    before = _counts(ctx)
    with pytest.raises(PolicyViolation) as err:
        certificates.issue(ctx, "tls", "tls-server", request, ADMIN)
    assert err.value.rule == "key-algorithm"
    assert _counts(ctx) == before


def test_unknown_ca_and_profile(ctx: Context) -> None:
    with pytest.raises(UnknownCA):
        certificates.issue(ctx, "nope", "tls-server", _request("CN=x"), ADMIN)
    with pytest.raises(UnknownProfile):
        certificates.issue(ctx, "tls", "nope", _request("CN=x"), ADMIN)


def test_operator_limited_to_profiles(ctx: Context) -> None:
    operator = Actor("token:web", "operator", frozenset({"tls-server"}))
    with pytest.raises(Forbidden):
        certificates.issue(ctx, "tls", "device", _request("CN=meter-9"), operator)
    certificates.issue(
        ctx, "tls", "tls-server", _request("CN=a.example.org", "dns:a.example.org"), operator
    )


def test_revoke_updates_crl_ocsp_and_audit(ctx: Context) -> None:
    info = certificates.issue(ctx, "tls", "device", _request("CN=meter-7"), ADMIN)
    crl_before = revocation.get_crl(ctx, "tls")
    assert crl_before is not None
    invalid = ctx.clock.now() - dt.timedelta(days=1)
    revoked = revocation.revoke(
        ctx, info.serial, RevocationReason.key_compromise, ADMIN, invalidity_date=invalid
    )
    assert revoked.status == "revoked" and revoked.revocation_reason == "key-compromise"
    crl = revocation.get_crl(ctx, "tls")
    assert crl is not None and crl.number == crl_before.number + 1
    parsed = x509.load_der_x509_crl(crl.der)
    entry = parsed.get_revoked_certificate_by_serial_number(int(info.serial, 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    assert (
        entry.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc
        == invalid
    )
    actions = [e.action for _, e in audit_svc.list_events(ctx, limit=5)]
    assert "cert.revoke" in actions and "crl.generate" in actions
    with pytest.raises(AlreadyRevoked):
        revocation.revoke(ctx, info.serial, RevocationReason.superseded, ADMIN)
    with pytest.raises(UnknownCertificate):
        revocation.revoke(ctx, "01:02:03", RevocationReason.superseded, ADMIN)


def test_serial_lookup_accepts_openssl_forms(ctx: Context) -> None:
    info = certificates.issue(ctx, "tls", "device", _request("CN=meter-8"), ADMIN)
    padded = info.serial if len(info.serial) % 2 == 0 else "0" + info.serial
    colons = ":".join(padded[i : i + 2] for i in range(0, len(padded), 2)).upper()
    assert certificates.get_certificate(ctx, colons).serial == info.serial
    assert certificates.get_certificate(ctx, "0x" + info.serial.upper()).serial == info.serial


def test_renew_keeps_key_and_subject(ctx: Context) -> None:
    info = certificates.issue(ctx, "tls", "device", _request("CN=meter-5"), ADMIN)
    new = certificates.renew(ctx, info.serial, ADMIN)
    old_cert = x509.load_der_x509_certificate(info.der)
    new_cert = x509.load_der_x509_certificate(new.der)
    assert new.serial != info.serial and new.renewed_from == info.serial
    assert new_cert.subject == old_cert.subject
    assert new_cert.public_key() == old_cert.public_key()


def test_natural_person_audit_has_commitment_not_name(ctx: Context) -> None:
    info = certificates.issue(
        ctx, "people", "official", _request("CN=Layla Nasser,SN=Nasser,givenName=Layla,C=AA"), ADMIN
    )
    events = [
        e
        for _, e in audit_svc.list_events(ctx, action="cert.issue", limit=5)
        if e.object_id == info.serial
    ]
    assert len(events) == 1
    record = events[0].canonical().decode()
    assert "Layla" not in record and "Nasser" not in record
    assert "subject_commitment" in events[0].details


def test_list_filters(ctx: Context) -> None:
    info = certificates.issue(ctx, "tls", "device", _request("CN=meter-4"), ADMIN)
    revocation.revoke(ctx, info.serial, RevocationReason.superseded, ADMIN)
    revoked = certificates.list_certificates(ctx, status="revoked")
    assert [c.serial for c in revoked] == [info.serial]
    assert all(c.status == "valid" for c in certificates.list_certificates(ctx, status="valid"))
    assert all(c.profile == "seal" for c in certificates.list_certificates(ctx, profile="seal"))
    # The demo's two agency seals and the validation service's report seal.
    assert len(certificates.list_certificates(ctx, profile="seal")) == 3


def test_issuance_presigns_ocsp_so_requests_never_sign(ctx: Context) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    from govtrust.services.ocsp_store import PRESIGNED_ALGS
    from govtrust.store import OcspResponseRow

    info = certificates.issue(ctx, "tls", "device", _request("CN=meter-3"), ADMIN)
    with ctx.db.read() as s:
        stored = {
            r.hash_alg: r.der
            for r in s.scalars(select(OcspResponseRow).where(OcspResponseRow.serial == info.serial))
        }
    assert set(stored) == set(PRESIGNED_ALGS)
    cert = x509.load_der_x509_certificate(info.der)
    issuer = x509.load_der_x509_certificate(authorities.get_ca(ctx, "tls").cert_der)
    svc = revocation.OcspService(ctx)
    for alg, algorithm in (("sha1", hashes.SHA1()), ("sha256", hashes.SHA256())):
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm).build()
        answer = svc.respond(request.public_bytes(serialization.Encoding.DER))
        assert answer.der == stored[alg]  # served from storage, byte for byte
        assert (
            ocsp.load_der_ocsp_response(answer.der).certificate_status == ocsp.OCSPCertStatus.GOOD
        )


def test_refresh_survives_a_revoked_subordinate_ca(ctx: Context) -> None:
    """Regression: once an intermediate was revoked, renewing its responder raised and
    the whole refresh stopped, so every CA's OCSP answers and CRLs would expire."""
    import datetime as dt

    from govtrust.clock import FixedClock

    authorities.create_intermediate(ctx, "short", "root", "CN=Short CA,O=Gov,C=AA", ADMIN)
    sub_ca = authorities.get_ca(ctx, "short")
    revocation.revoke(ctx, sub_ca.serial, RevocationReason.cessation_of_operation, ADMIN)
    # Far enough ahead that every responder is due for renewal and every CRL for reissue.
    ctx.clock = FixedClock(ctx.clock.now() + dt.timedelta(days=80))
    report = revocation.refresh_ocsp(ctx, ADMIN)
    assert report.failed == {}
    assert "short" not in report.responders_renewed
    assert {"root", "people", "tls"} <= set(report.responders_renewed)
    assert {"root", "people", "tls", "short"} <= set(report.crls_regenerated)
