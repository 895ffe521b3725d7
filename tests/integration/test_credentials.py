"""Signing credentials: a key in custody plus its certificate, under a name.

Created through the service, the API and the CLI; refused for signing when revoked,
expired, not yet valid or under a revoked CA; a profile refusal leaves no key behind;
every creation is audited; the demo has officials, seals and a TSA."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from govtrust.api import create_app
from govtrust.ca import CertificateRequest, parse_subject
from govtrust.ca.crl import RevocationReason
from govtrust.cli.main import app
from govtrust.clock import FixedClock
from govtrust.config import load_settings
from govtrust.errors import (
    AlreadyExists,
    CredentialUnusable,
    Forbidden,
    InputError,
    NotFound,
    PolicyViolation,
    UnknownCA,
    UnknownCredential,
)
from govtrust.services import (
    Actor,
    Context,
    audit,
    authorities,
    certificates,
    credentials,
    revocation,
)
from govtrust.services.tokens import create_token
from govtrust.store import CertificateRow, CredentialRow
from tests.conftest import Demo

ADMIN = Actor("test:admin", "admin")
OFFICIAL = (
    "CN=Layla Nasser,SN=Nasser,givenName=Layla,serialNumber=PNOAA-2001,O=Ministry of Health,C=AA"
)
SEAL = "CN=Ministry of Health,organizationIdentifier=NTRAA-100009,O=Ministry of Health,C=AA"


def _counts(ctx: Context) -> tuple[int, int, int]:
    with ctx.db.read() as session:
        certs = session.scalar(select(func.count()).select_from(CertificateRow)) or 0
        creds = session.scalar(select(func.count()).select_from(CredentialRow)) or 0
    keys = len(list(ctx.settings.keys_dir.glob("*.p8")))
    return certs, creds, keys


def test_demo_has_officials_seals_and_a_tsa(ctx: Context) -> None:
    items = {c.name: c for c in credentials.list_credentials(ctx)}
    assert {c.profile for c in items.values()} == {"official", "seal", "tsa"}
    assert items["amina-haddad"].profile == "official"
    assert items["ministry-of-finance"].profile == "seal"
    assert all(c.status == "valid" and c.backend == "software" for c in items.values())
    tsa = credentials.get_credential(ctx, "tsa").certificate
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]


def test_create_official_and_sign(ctx: Context) -> None:
    before = _counts(ctx)
    info = credentials.create_credential(
        ctx, "layla-nasser", "people", "official", OFFICIAL, ADMIN, sans=["email:l@health.aa"]
    )
    assert _counts(ctx) == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert (info.name, info.profile, info.ca, info.key_spec, info.status) == (
        "layla-nasser",
        "official",
        "people",
        "ec-p256",
        "valid",
    )
    cred = credentials.get_credential(ctx, "layla-nasser")
    people = authorities.get_ca(ctx, "people")
    root = authorities.get_ca(ctx, "root")
    der = serialization.Encoding.DER
    assert [c.public_bytes(der) for c in cred.chain] == [people.cert_der, root.cert_der]
    assert cred.certificate.public_bytes(der) == info.certificate_der
    assert cred.certificate.issuer == cred.chain[0].subject
    # The key is in custody and signs; the certificate's key verifies it.
    key = cred.signer.as_private_key()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(b"an official decision", ec.ECDSA(hashes.SHA256()))
    public = cred.certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"an official decision", ec.ECDSA(hashes.SHA256()))
    # Audited, in the same transaction as the credential row.
    _, event = audit.list_events(ctx, action="credential.create", limit=1)[0]
    # A natural person's credential goes to the public ledger by serial, not by name.
    assert event.object_id == info.serial and event.actor == ADMIN.name
    assert "layla" not in event.canonical().decode().lower()
    assert dict(event.details) == {
        "profile": "official",
        "certificate_serial": info.serial,
        "backend": "software",
        "origin": "generated",
    }
    assert event.object_sha256 == info.sha256


def test_seal_with_p384(ctx: Context) -> None:
    info = credentials.create_credential(
        ctx, "health-seal", "people", "seal", SEAL, ADMIN, key="ec-p384"
    )
    assert info.key_spec == "ec-p384" and info.profile == "seal"
    assert credentials.get_credential(ctx, "health-seal").signer.spec.value == "ec-p384"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"subject": "CN=Layla Nasser,C=AA"}, PolicyViolation, "SN is required"),
        ({"key": "ed25519"}, PolicyViolation, "not allowed"),
        ({"key": "rsa-2048"}, PolicyViolation, "not allowed"),
        ({"sans": ["dns:health.aa"]}, PolicyViolation, "dns"),
        ({"profile": "tls-server"}, InputError, "official, seal, tsa"),
        ({"name": "Bad Name"}, InputError, "invalid credential name"),
        ({"name": "amina-haddad"}, AlreadyExists, "already exists"),
        ({"ca": "nope"}, UnknownCA, "nope"),
        ({"backend": "pkcs11"}, InputError, "not configured"),
        ({"key": "ec-p521"}, InputError, "unknown key algorithm"),
        ({"subject": "not a subject"}, InputError, "RFC 4514"),
    ],
)
def test_refusals_leave_no_key_certificate_or_credential(
    ctx: Context, kwargs: dict[str, object], error: type[Exception], text: str
) -> None:
    args: dict[str, object] = {
        "name": "layla-nasser",
        "ca": "people",
        "profile": "official",
        "subject": OFFICIAL,
    }
    args.update(kwargs)
    extra = {k: args.pop(k) for k in ("key", "backend", "sans") if k in args}
    before = _counts(ctx)
    with pytest.raises(error, match=text):
        credentials.create_credential(
            ctx,
            str(args["name"]),
            str(args["ca"]),
            str(args["profile"]),
            str(args["subject"]),
            ADMIN,
            **extra,  # type: ignore[arg-type]
        )
    assert _counts(ctx) == before


def test_an_operator_limited_to_other_profiles_is_forbidden(ctx: Context) -> None:
    operator = Actor("token:tls-only", "operator", frozenset({"tls-server"}))
    before = _counts(ctx)
    with pytest.raises(Forbidden):
        credentials.create_credential(ctx, "x", "people", "official", OFFICIAL, operator)
    assert _counts(ctx) == before


@pytest.fixture
def at(demo: Demo) -> Iterator[tuple[Context, FixedClock]]:
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    context = Context.open(load_settings(demo.env), clock=clock)
    try:
        yield context, clock
    finally:
        context.close()


def test_expired_and_not_yet_valid_are_refused(at: tuple[Context, FixedClock]) -> None:
    ctx, clock = at
    info = credentials.describe_credential(ctx, "amina-haddad")
    credentials.get_credential(ctx, "amina-haddad")  # valid now
    clock.advance(info.not_after - clock.now() + dt.timedelta(seconds=1))
    with pytest.raises(CredentialUnusable) as gone:
        credentials.get_credential(ctx, "amina-haddad")
    assert gone.value.reason == "expired" and "expired on" in gone.value.message
    assert credentials.describe_credential(ctx, "amina-haddad").status == "expired"
    clock.advance(-(clock.now() - info.not_before) - dt.timedelta(days=1))
    with pytest.raises(CredentialUnusable) as early:
        credentials.get_credential(ctx, "amina-haddad")
    assert early.value.reason == "not-yet-valid"


def test_revoked_credential_is_refused(ctx: Context) -> None:
    serial = credentials.describe_credential(ctx, "omar-khalil").serial
    revocation.revoke(ctx, serial, RevocationReason.privilege_withdrawn, ADMIN)
    with pytest.raises(CredentialUnusable) as info:
        credentials.get_credential(ctx, "omar-khalil")
    assert info.value.reason == "revoked" and info.value.name == "omar-khalil"
    assert credentials.describe_credential(ctx, "omar-khalil").status == "revoked"


def test_credential_under_a_revoked_ca_is_refused(ctx: Context) -> None:
    authorities.create_intermediate(ctx, "agency", "root", "CN=Agency CA,O=Gov,C=AA", ADMIN)
    credentials.create_credential(ctx, "agency-seal", "agency", "seal", SEAL, ADMIN)
    assert len(credentials.get_credential(ctx, "agency-seal").chain) == 2
    revocation.revoke(
        ctx, authorities.get_ca(ctx, "agency").serial, RevocationReason.ca_compromise, ADMIN
    )
    with pytest.raises(CredentialUnusable) as info:
        credentials.get_credential(ctx, "agency-seal")
    assert info.value.reason == "issuer-revoked"


def test_unknown_credential(ctx: Context) -> None:
    with pytest.raises(UnknownCredential):
        credentials.get_credential(ctx, "nobody")
    with pytest.raises(UnknownCredential):
        credentials.describe_credential(ctx, "nobody")


def test_trusted_roots_are_the_instance_roots(ctx: Context) -> None:
    roots = credentials.trusted_roots(ctx)
    assert [r.public_bytes(serialization.Encoding.DER) for r in roots] == [
        authorities.get_ca(ctx, "root").cert_der
    ]
    authorities.create_root(ctx, "second-root", "CN=Second Root,O=Gov,C=AA", ADMIN)
    assert len(credentials.trusted_roots(ctx)) == 2
    assert all(r.subject == r.issuer for r in credentials.trusted_roots(ctx))


def test_register_refusals(ctx: Context, demo: Demo) -> None:
    portal = demo.report.certificates[4]  # a tls-server certificate, key in custody
    with pytest.raises(InputError, match="official, seal, tsa"):
        credentials.register_credential(ctx, "portal", portal, ADMIN)
    amina = credentials.describe_credential(ctx, "amina-haddad").serial
    with pytest.raises(AlreadyExists, match="amina-haddad"):
        credentials.register_credential(ctx, "amina-again", amina, ADMIN)
    key = ec.generate_private_key(ec.SECP256R1())
    outside = certificates.issue(
        ctx,
        "people",
        "seal",
        CertificateRequest(parse_subject(SEAL), key.public_key()),
        ADMIN,
    )
    with pytest.raises(InputError, match="no key in govtrust's custody"):
        credentials.register_credential(ctx, "outside", outside.serial, ADMIN)


def test_token_binding(ctx: Context) -> None:
    create_token(ctx, "signer-app", "operator", ADMIN)
    assert credentials.bound_credential(ctx, "signer-app") is None
    credentials.bind_token(ctx, "ministry-of-finance", "signer-app", ADMIN)
    assert credentials.bound_credential(ctx, "signer-app") == "ministry-of-finance"
    credentials.bind_token(ctx, "civil-registry-agency", "signer-app", ADMIN)  # replaces
    assert credentials.bound_credential(ctx, "signer-app") == "civil-registry-agency"
    credentials.unbind_token(ctx, "signer-app", ADMIN)
    assert credentials.bound_credential(ctx, "signer-app") is None
    with pytest.raises(NotFound):
        credentials.bind_token(ctx, "ministry-of-finance", "no-such-token", ADMIN)
    with pytest.raises(UnknownCredential):
        credentials.bind_token(ctx, "nobody", "signer-app", ADMIN)
    actions = [e.action for _, e in audit.list_events(ctx, limit=5)]
    assert actions[:3] == [
        "credential.unbind-token",
        "credential.bind-token",
        "credential.bind-token",
    ]


# ---- API -------------------------------------------------------------------------------


@pytest.fixture
def api(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, scheduler=False), raise_server_exceptions=False) as c:
        yield c


def _bearer(ctx: Context, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(ctx, f'cred-{role}', role, ADMIN)[1]}"}


def test_api_create_list_show(api: TestClient, ctx: Context) -> None:
    operator, auditor = _bearer(ctx, "operator"), _bearer(ctx, "auditor")
    body = {"name": "health-seal", "ca": "people", "profile": "seal", "subject": SEAL}
    r = api.post("/api/v1/credentials", json=body, headers=operator)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "health-seal" and "BEGIN CERTIFICATE" in r.json()["pem"]
    again = api.post("/api/v1/credentials", json=body, headers=operator)
    assert again.status_code == 409 and again.json()["type"].endswith("already-exists")
    listed = api.get("/api/v1/credentials", headers=auditor).json()
    assert "health-seal" in {c["name"] for c in listed} and "pem" not in listed[0]
    shown = api.get("/api/v1/credentials/health-seal", headers=auditor).json()
    assert shown["chain"][-1].startswith("CN=AA Government Root CA")
    missing = api.get("/api/v1/credentials/nobody", headers=auditor)
    assert missing.status_code == 404 and missing.json()["type"].endswith("unknown-credential")
    refused = api.post(
        "/api/v1/credentials",
        json={**body, "name": "x", "subject": "CN=Ministry of Health,C=AA"},
        headers=operator,
    )
    assert refused.status_code == 422 and refused.json()["profile"] == "seal"
    wrong = api.post(
        "/api/v1/credentials", json={**body, "profile": "tls-server"}, headers=operator
    )
    assert wrong.status_code == 422


# ---- CLI -------------------------------------------------------------------------------


def test_cli_create_list_show(demo: Demo, tmp_path: Path) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), env=demo.env)
        assert result.exit_code == 0, result.output
        return result.stdout

    created = json.loads(
        run(
            "credential",
            "create",
            "layla-nasser",
            "--ca",
            "people",
            "--profile",
            "official",
            "--subject",
            OFFICIAL,
            "--key",
            "ec-p384",
            "--san",
            "email:l@health.aa",
            "--json",
        )
    )
    assert created["key"] == "ec-p384" and created["profile"] == "official"
    listed = json.loads(run("credential", "list", "--json"))
    assert {"layla-nasser", "amina-haddad", "tsa"} <= {c["name"] for c in listed}
    assert "layla-nasser" in run("credential", "list")
    chain = tmp_path / "chain.pem"
    cert = tmp_path / "cert.pem"
    shown = run(
        "credential", "show", "layla-nasser", "--chain-out", str(chain), "--cert-out", str(cert)
    )
    assert "status: valid" in shown
    certs = x509.load_pem_x509_certificates(chain.read_bytes())
    assert [c.subject.rfc4514_string() for c in certs][-1].startswith("CN=AA Government Root")
    assert x509.load_pem_x509_certificate(cert.read_bytes()).issuer == certs[0].subject

    refused = runner.invoke(
        app,
        [
            "credential",
            "create",
            "x",
            "--ca",
            "people",
            "--profile",
            "official",
            "--subject",
            "CN=X,C=AA",
        ],
        env=demo.env,
    )
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: ") and "SN is required" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
