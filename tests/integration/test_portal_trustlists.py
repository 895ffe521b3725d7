"""Trusted-list management in the portal (issue 6, operators: "trusted-list management
(providers, services, publish)"): an operator adds and updates a trust service
provider and adds a service by form (its certificate uploaded as PEM), lists this
instance's own services in one click, an administrator publishes, and the public
trusted-lists page and the signed list show the new service; refusals come back as the
filled-in form with the reason; an auditor may look but not change."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import etree

from govtrust.api import create_app
from govtrust.services import Context, audit, trustlists
from tests.e2e.support import Accounts, csrf_of, make_accounts

TSL = "{http://uri.etsi.org/02231/v2#}"


@pytest.fixture
def app(ctx: Context) -> FastAPI:
    return create_app(ctx, scheduler=False)


@pytest.fixture
def accounts(ctx: Context) -> Accounts:
    return make_accounts(ctx)


def _login(app: FastAPI, accounts: Accounts, role: str) -> TestClient:
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    form = c.get("/en/operator/login")
    r = c.post(
        "/en/operator/login",
        data={
            "csrf": csrf_of(form),
            "username": f"test-{role}",
            "password": accounts.passwords[role],
        },
    )
    assert r.status_code == 303, r.text[:500]
    return c


@pytest.fixture
def operator(app: FastAPI, accounts: Accounts) -> Iterator[TestClient]:
    with _login(app, accounts, "operator") as c:
        yield c


def ca_certificate(name: str = "Digital Economy Qualified CA") -> x509.Certificate:
    """A CA certificate of a provider this instance does not run (its own key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ministry of Digital Economy"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "AA"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def add_provider(c: TestClient, name: str, lang: str = "en", **fields: str):  # type: ignore[no-untyped-def]
    form = c.get(f"/{lang}/operator/trustlists/providers/new")
    assert form.status_code == 200
    return c.post(
        f"/{lang}/operator/trustlists/providers/new",
        data={"csrf": csrf_of(form), "name": name, **fields},
    )


def add_service(  # type: ignore[no-untyped-def]
    c: TestClient,
    provider: str,
    name: str,
    certificate: bytes | None,
    lang: str = "en",
    **fields: str,
):
    form = c.get(f"/{lang}/operator/trustlists/services/new", params={"provider": provider})
    assert form.status_code == 200
    files = (
        {"certificate": ("service.pem", certificate, "application/x-pem-file")}
        if certificate is not None
        else {"certificate": ("", b"", "application/octet-stream")}
    )
    data = {"csrf": csrf_of(form), "provider": provider, "name": name, "type": "CA/QC"}
    data.update({"status": "granted", **fields})
    return c.post(f"/{lang}/operator/trustlists/services/new", data=data, files=files)


def _services(ctx: Context) -> dict[tuple[str, str], str]:
    """(provider, service) -> service type URI, from the list as it would be published."""
    return {
        (p.name, s.name): s.type_uri
        for p in trustlists.current_model(ctx).providers
        for s in p.services
    }


def test_add_provider_and_service_then_publish(
    app: FastAPI, accounts: Accounts, operator: TestClient, ctx: Context
) -> None:
    provider = "Ministry of Digital Economy"
    r = add_provider(
        operator, provider, trade_name="VATAA-100042", info_uri="https://mde.example/tsp"
    )
    assert r.status_code == 303, r.text[:2000]
    page = operator.get(r.headers["location"])
    assert "The provider is added." in page.text and provider in page.text
    assert "https://mde.example/tsp" in page.text

    cert = ca_certificate()
    r = add_service(
        operator, provider, "Digital Economy Qualified CA", _pem(cert), info="ForeSeals"
    )
    assert r.status_code == 303, r.text[:2000]
    assert "Publish the next list" in operator.get(r.headers["location"]).text
    assert _services(ctx)[(provider, "Digital Economy Qualified CA")].endswith("/Svctype/CA/QC")

    # Audited under the account's name by the service layer.
    for action in ("trustlist.tsp.add", "trustlist.service.add"):
        actors = {e.actor for _, e in audit.list_events(ctx, action=action)}
        assert "portal:test-operator" in actors, action

    # Publishing is an administrator's (as POST /api/v1/trustlists/publish).
    manage = operator.get("/en/operator/trustlists")
    assert "/operator/trustlists/publish" not in manage.text
    r = operator.post("/en/operator/trustlists/publish", data={"csrf": csrf_of(manage)})
    assert r.status_code == 403
    before = trustlists.published_status(ctx)["sequenceNumber"]
    with _login(app, accounts, "admin") as admin:
        manage = admin.get("/en/operator/trustlists")
        r = admin.post("/en/operator/trustlists/publish", data={"csrf": csrf_of(manage)})
        assert r.status_code == 303
        assert (
            "The next trusted list is signed and published."
            in admin.get(r.headers["location"]).text
        )
    assert trustlists.published_status(ctx)["sequenceNumber"] == before + 1

    with TestClient(app, base_url="https://testserver") as public:
        html = public.get("/en/trustlists").text
        assert provider in html and "Digital Economy Qualified CA" in html
        xml = public.get("/trustlist.xml")
        assert xml.status_code == 200
    tree = etree.fromstring(xml.content)
    names = tree.findall(f".//{TSL}TSPInformation/{TSL}TSPName/{TSL}Name")
    assert provider in [n.text for n in names]
    identities = [e.text for e in tree.iter(f"{TSL}X509Certificate")]
    der = cert.public_bytes(serialization.Encoding.DER)
    assert base64.b64encode(der).decode() in [(t or "").replace("\n", "") for t in identities]
    uris = [
        e.text for e in tree.iter(f"{TSL}URI") if e.getparent().tag == f"{TSL}TSPInformationURI"
    ]
    assert "https://mde.example/tsp" in uris


def test_bad_pem_gives_the_form_back(operator: TestClient, ctx: Context) -> None:
    assert add_provider(operator, "Registry Services").status_code == 303
    before = trustlists.published_status(ctx)["services"]
    junk = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    for data in (junk, b"hello", b"\x30\x03\x02\x01\x01"):
        r = add_service(operator, "Registry Services", "Registry CA", data)
        assert r.status_code == 400, r.text[:1000]
        assert 'role="alert"' in r.text
        assert "The file is not a certificate in PEM (or DER) format." in r.text
        assert 'value="Registry CA"' in r.text  # what was typed is kept
        assert 'id="certificate" ' in r.text and 'aria-invalid="true"' in r.text
    # In Arabic too.
    r = add_service(operator, "Registry Services", "Registry CA", junk, lang="ar")
    assert r.status_code == 400 and "الملف ليس شهادة بصيغة PEM (أو DER)." in r.text
    # Two certificates in one file: which one would be the identity?
    two = _pem(ca_certificate("A")) + _pem(ca_certificate("B"))
    r = add_service(operator, "Registry Services", "Registry CA", two)
    assert r.status_code == 400 and "The file must hold exactly one certificate." in r.text
    assert trustlists.published_status(ctx)["services"] == before


def test_missing_fields_and_duplicates(operator: TestClient, ctx: Context) -> None:
    r = add_provider(operator, "   ")
    assert r.status_code == 400 and "Give the provider&#39;s name." in r.text
    r = add_provider(operator, "Land Registry", info_uri="javascript:alert(1)")
    assert r.status_code == 400 and "Give a web address that starts with https://" in r.text
    r = add_provider(operator, "x" * 256)
    assert r.status_code == 400 and "At most 255 characters, please." in r.text
    assert add_provider(operator, "Land Registry").status_code == 303
    r = add_provider(operator, "Land Registry", trade_name="again")
    assert r.status_code == 409
    assert "A provider named “Land Registry” is already listed." in r.text
    assert 'value="again"' in r.text

    r = add_service(operator, "Land Registry", "Land CA", None)
    assert r.status_code == 400 and "Choose the service&#39;s certificate file." in r.text
    r = add_service(operator, "Land Registry", "", _pem(ca_certificate()))
    assert r.status_code == 400 and "Give the service&#39;s name." in r.text
    r = add_service(operator, "Nobody", "Land CA", _pem(ca_certificate()))
    assert r.status_code == 400 and "Choose the provider of the service." in r.text
    r = add_service(operator, "Land Registry", "Land CA", _pem(ca_certificate()), type="CA/XX")
    assert r.status_code == 400 and "Choose the type of the service." in r.text
    r = add_service(
        operator, "Land Registry", "Land CA", _pem(ca_certificate()), starting_time="soon"
    )
    assert r.status_code == 400 and "Give the starting time as a date and a time" in r.text
    assert add_service(
        operator, "Land Registry", "Land CA", _pem(ca_certificate())
    ).status_code == (303)
    r = add_service(operator, "Land Registry", "Land CA", _pem(ca_certificate()))
    assert r.status_code == 409
    assert "Land Registry already has a service named “Land CA”." in r.text
    assert [k for k in _services(ctx) if k[0] == "Land Registry"] == [("Land Registry", "Land CA")]


def test_service_status_and_starting_time(operator: TestClient, ctx: Context) -> None:
    assert add_provider(operator, "Archive Authority").status_code == 303
    r = add_service(
        operator,
        "Archive Authority",
        "Archive TSA",
        _pem(ca_certificate("Archive TSA")),
        type="TSA/QTST",
        status="withdrawn",
        starting_time="2026-01-02T03:04",
    )
    assert r.status_code == 303, r.text[:1000]
    (service,) = [
        s
        for p in trustlists.current_model(ctx).providers
        for s in p.services
        if s.name == "Archive TSA"
    ]
    assert service.type_uri.endswith("/Svctype/TSA/QTST")
    assert service.status.status.endswith("/Svcstatus/withdrawn")
    assert service.status.start == dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)


def test_update_a_provider(operator: TestClient, ctx: Context) -> None:
    for name in ("Post Office", "Customs"):
        assert add_provider(operator, name).status_code == 303
    form = operator.get("/en/operator/trustlists/providers/edit", params={"name": "Post Office"})
    assert form.status_code == 200 and 'value="Post Office"' in form.text
    post = {"csrf": csrf_of(form), "original": "Post Office"}
    r = operator.post(
        "/en/operator/trustlists/providers/edit",
        data={**post, "name": "Customs", "trade_name": "", "info_uri": ""},
    )
    assert r.status_code == 409 and "A provider named “Customs” is already listed." in r.text
    r = operator.post(
        "/en/operator/trustlists/providers/edit",
        data={**post, "name": "National Post", "trade_name": "AA Post", "info_uri": "ftp://x"},
    )
    assert r.status_code == 400 and "Give a web address" in r.text
    r = operator.post(
        "/en/operator/trustlists/providers/edit",
        data={
            **post,
            "name": "National Post",
            "trade_name": "AA Post",
            "info_uri": "https://post.example/tsp",
        },
    )
    assert r.status_code == 303, r.text[:1000]
    page = operator.get(r.headers["location"]).text
    assert "The provider is updated." in page and "National Post" in page
    assert "AA Post" in page and "https://post.example/tsp" in page
    actors = {e.actor for _, e in audit.list_events(ctx, action="trustlist.tsp.update")}
    assert "portal:test-operator" in actors
    # An unknown provider is a not-found page, not an error.
    assert (
        operator.get(
            "/en/operator/trustlists/providers/edit", params={"name": "Post Office"}
        ).status_code
        == 404
    )


def test_add_local_services_in_one_click(operator: TestClient, ctx: Context) -> None:
    assert add_provider(operator, "Government Services").status_code == 303
    manage = operator.get("/en/operator/trustlists")
    r = operator.post(
        "/en/operator/trustlists",
        data={"csrf": csrf_of(manage), "action": "add-local", "provider": "Government Services"},
    )
    assert r.status_code == 303
    # The demo already lists its CAs and TSA (under its own provider): nothing new.
    assert "added=0" in r.headers["location"]
    page = operator.get(r.headers["location"]).text
    assert "This instance's services are listed." in page and "Services added: 0." in page
    r = operator.post(
        "/en/operator/trustlists",
        data={"csrf": csrf_of(manage), "action": "add-local", "provider": "Nobody"},
    )
    assert r.status_code == 404


def test_an_auditor_may_look_but_not_change(app: FastAPI, accounts: Accounts, ctx: Context) -> None:
    with _login(app, accounts, "auditor") as auditor:
        manage = auditor.get("/en/operator/trustlists")
        assert manage.status_code == 200 and "Trust service providers" in manage.text
        assert "/operator/trustlists/providers/new" not in manage.text
        for path in ("providers/new", "services/new", "providers/edit?name=x"):
            r = auditor.get(f"/en/operator/trustlists/{path}")
            assert r.status_code == 403 and "You are not allowed to do this" in r.text
        before = trustlists.published_status(ctx)
        r = auditor.post(
            "/en/operator/trustlists/providers/new",
            data={"csrf": csrf_of(manage), "name": "Sneaky"},
        )
        assert r.status_code == 403
        r = auditor.post(
            "/en/operator/trustlists/services/new",
            data={"csrf": csrf_of(manage), "provider": "Sneaky", "name": "x"},
            files={"certificate": ("c.pem", _pem(ca_certificate()), "application/x-pem-file")},
        )
        assert r.status_code == 403
        assert trustlists.published_status(ctx) == before
