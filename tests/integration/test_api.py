"""The REST API end to end: CAs, issuance, revocation, CRL, OCSP refresh, tokens, audit,
the landing page and the documentation; RFC 9457 problem details for every refusal.

Every response any test here receives is checked by ``_no_secrets``: no body may carry
the key passphrase or PEM private-key text.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from govtrust.api import create_app
from govtrust.services import Context
from tests.conftest import Demo, LiveServer

PRIVATE_KEY_MARK = "-----BEGIN" + " PRIVATE KEY"
ENCRYPTED_KEY_MARK = "-----BEGIN ENCRYPTED" + " PRIVATE KEY"
PROBLEM = "application/problem+json"

Client = TestClient
Headers = dict[str, str]


# ---- fixtures ----------------------------------------------------------------------------


def _leak_guard(demo: Demo, seen: list[str]) -> Callable[[httpx.Response], None]:
    passphrase = demo.env["GOVTRUST_KEY_PASSPHRASE"]

    def check(response: httpx.Response) -> None:
        response.read()
        body = response.content.decode("utf-8", errors="replace")
        where = f"{response.request.method} {response.request.url}"
        assert passphrase not in body, f"{where}: the key passphrase is in the response"
        assert PRIVATE_KEY_MARK not in body, f"{where}: private key text in the response"
        assert ENCRYPTED_KEY_MARK not in body, f"{where}: private key text in the response"
        for value in response.headers.values():
            assert passphrase not in value, f"{where}: the key passphrase is in a header"
        seen.append(where)

    return check


@pytest.fixture
def client(ctx: Context, demo: Demo) -> Iterator[TestClient]:
    seen: list[str] = []
    with TestClient(create_app(ctx, scheduler=False)) as c:
        c.event_hooks = {"request": [], "response": [_leak_guard(demo, seen)]}
        yield c
    assert seen, "the leak guard saw no response"


@pytest.fixture
def admin(demo: Demo) -> Headers:
    return {"Authorization": f"Bearer {demo.admin_token}"}


def _token(client: TestClient, admin: Headers, name: str, role: str, **extra: Any) -> Headers:
    r = client.post("/api/v1/tokens", headers=admin, json={"name": name, "role": role, **extra})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def operator(client: TestClient, admin: Headers) -> Headers:
    return _token(client, admin, "ops", "operator")


@pytest.fixture
def auditor(client: TestClient, admin: Headers) -> Headers:
    return _token(client, admin, "audit", "auditor")


def _csr(
    cn: str, sans: tuple[str, ...] = (), extra: list[x509.NameAttribute] | None = None
) -> tuple[str, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), *(extra or [])])
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
        )
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def _issue_tls(client: TestClient, headers: Headers, host: str) -> dict[str, Any]:
    pem, _ = _csr(host, (host,))
    r = client.post(
        "/api/v1/certificates",
        headers=headers,
        json={"ca": "tls", "profile": "tls-server", "csr": pem},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _colon(serial: str) -> str:
    """The serial as openssl prints it: upper-case hex octets separated by colons."""
    text = serial.upper()
    if len(text) % 2:
        text = "0" + text
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def _assert_problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["type"].startswith("urn:govtrust:problem:")
    if code is not None:
        assert body["type"] == f"urn:govtrust:problem:{code}"
    return body


# ---- CAs ---------------------------------------------------------------------------------


def test_create_root_and_intermediate(client: TestClient, admin: Headers) -> None:
    r = client.post(
        "/api/v1/cas",
        headers=admin,
        json={"name": "nation", "subject": "CN=Nation Root CA,O=Government,C=AA", "key": "ec-p384"},
    )
    assert r.status_code == 201, r.text
    root = r.json()
    assert root["name"] == "nation" and root["parent"] is None
    assert root["subject"] == "CN=Nation Root CA,O=Government,C=AA"
    assert root["key"] == "ec-p384" and root["backend"] == "software"
    assert root["crl_number"] >= 1 and root["ocsp_signer_serial"]
    assert root["certificate_url"].endswith("/ca/nation.crt")

    r = client.post(
        "/api/v1/cas",
        headers=admin,
        json={
            "name": "nation-issuing",
            "parent": "nation",
            "subject": "CN=Nation Issuing CA,O=Government,C=AA",
            "validity_days": 1000,
        },
    )
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["parent"] == "nation" and sub["key"] == "ec-p256"

    shown = client.get("/api/v1/cas/nation-issuing", headers=admin).json()
    assert shown["serial"] == sub["serial"] and shown["sha256"] == sub["sha256"]
    names = [c["name"] for c in client.get("/api/v1/cas", headers=admin).json()]
    assert {"root", "people", "tls", "nation", "nation-issuing"} <= set(names)

    # The published certificates chain, and the intermediate is on its parent's books.
    root_der = client.get("/ca/nation.crt").content
    sub_pem = client.get("/ca/nation-issuing.pem").content
    root_cert = x509.load_der_x509_certificate(root_der)
    sub_cert = x509.load_pem_x509_certificate(sub_pem)
    sub_cert.verify_directly_issued_by(root_cert)
    assert sub_cert.not_valid_after_utc - sub_cert.not_valid_before_utc <= dt.timedelta(days=1001)
    listed = client.get(
        "/api/v1/certificates", headers=admin, params={"ca": "nation", "profile": "sub-ca"}
    ).json()
    assert [c["serial"] for c in listed] == [sub["serial"]]
    crl = x509.load_der_x509_crl(client.get("/crl/nation-issuing.crl").content)
    assert crl.is_signature_valid(sub_cert.public_key())  # type: ignore[arg-type]


# ---- certificates ------------------------------------------------------------------------


def test_issue_from_csr_with_operator_token(client: TestClient, operator: Headers) -> None:
    pem, key = _csr("api.gov.example.org", ("api.gov.example.org", "www.gov.example.org"))
    r = client.post(
        "/api/v1/certificates",
        headers=operator,
        json={"ca": "tls", "profile": "tls-server", "csr": pem},
    )
    assert r.status_code == 201, r.text
    info = r.json()
    assert info["ca"] == "tls" and info["profile"] == "tls-server"
    assert info["status"] == "valid"
    assert info["sans"] == ["dns:api.gov.example.org", "dns:www.gov.example.org"]
    cert = x509.load_pem_x509_certificate(info["pem"].encode())
    assert format(cert.serial_number, "x") == info["serial"]
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    issuer = x509.load_der_x509_certificate(client.get("/ca/tls.crt").content)
    cert.verify_directly_issued_by(issuer)

    # Shown by serial in openssl's colon form, upper or lower case.
    for form in (_colon(info["serial"]), _colon(info["serial"]).lower(), info["serial"]):
        shown = client.get(f"/api/v1/certificates/{form}", headers=operator)
        assert shown.status_code == 200, shown.text
        assert shown.json()["sha256"] == info["sha256"]

    # A base64 DER request is accepted as well as PEM.
    der_pem, _ = _csr("b64.gov.example.org", ("b64.gov.example.org",))
    der = x509.load_pem_x509_csr(der_pem.encode()).public_bytes(serialization.Encoding.DER)
    r = client.post(
        "/api/v1/certificates",
        headers=operator,
        json={"ca": "tls", "profile": "tls-server", "csr": base64.b64encode(der).decode()},
    )
    assert r.status_code == 201, r.text


def test_list_with_filters(client: TestClient, admin: Headers, operator: Headers) -> None:
    a = _issue_tls(client, operator, "a.gov.example.org")
    b = _issue_tls(client, operator, "b.gov.example.org")
    r = client.post(
        f"/api/v1/certificates/{a['serial']}/revoke",
        headers=operator,
        json={"reason": "superseded"},
    )
    assert r.status_code == 200, r.text

    revoked = client.get("/api/v1/certificates", headers=admin, params={"status": "revoked"})
    assert revoked.status_code == 200
    assert [c["serial"] for c in revoked.json()] == [a["serial"]]
    valid = client.get("/api/v1/certificates", headers=admin, params={"status": "valid"}).json()
    assert b["serial"] in {c["serial"] for c in valid}
    assert a["serial"] not in {c["serial"] for c in valid}
    assert all(c["status"] == "valid" for c in valid)

    tls = client.get(
        "/api/v1/certificates", headers=admin, params={"ca": "tls", "profile": "tls-server"}
    ).json()
    assert {c["ca"] for c in tls} == {"tls"} and {c["profile"] for c in tls} == {"tls-server"}
    # Newest first; the demo's portal certificate is the oldest tls-server one.
    assert [c["serial"] for c in tls[:2]] == [b["serial"], a["serial"]]
    assert len(tls) == 3
    assert all("pem" not in c for c in tls)

    page = client.get("/api/v1/certificates", headers=admin, params={"limit": 1, "offset": 1})
    assert [c["serial"] for c in page.json()] == [a["serial"]]
    assert client.get("/api/v1/certificates?status=expired", headers=admin).json() == []
    devices = client.get("/api/v1/certificates?profile=device", headers=admin).json()
    assert len(devices) == 1 and devices[0]["ca"] == "tls"


def test_revoke_and_renew(client: TestClient, operator: Headers, auditor: Headers) -> None:
    cert = _issue_tls(client, operator, "old.gov.example.org")
    renewed = client.post(f"/api/v1/certificates/{_colon(cert['serial'])}/renew", headers=operator)
    assert renewed.status_code == 201, renewed.text
    new = renewed.json()
    assert new["renewed_from"] == cert["serial"] and new["serial"] != cert["serial"]
    assert new["subject"] == cert["subject"] and new["sans"] == cert["sans"]
    old_key = x509.load_pem_x509_certificate(cert["pem"].encode()).public_key()
    new_key = x509.load_pem_x509_certificate(new["pem"].encode()).public_key()
    assert old_key == new_key

    r = client.post(
        f"/api/v1/certificates/{cert['serial']}/revoke",
        headers=operator,
        json={"reason": "key-compromise", "invalidity_date": "2026-01-01T00:00:00Z"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "revoked" and body["revocation_reason"] == "key-compromise"
    assert dt.datetime.fromisoformat(body["invalidity_date"]) == dt.datetime(
        2026, 1, 1, tzinfo=dt.UTC
    )
    assert "pem" not in body
    shown = client.get(f"/api/v1/certificates/{cert['serial']}", headers=auditor).json()
    assert shown["status"] == "revoked" and shown["revoked_at"]

    # Revoked certificates are not renewed; revoking twice is a conflict.
    _assert_problem(
        client.post(f"/api/v1/certificates/{cert['serial']}/renew", headers=operator), 400
    )
    _assert_problem(
        client.post(
            f"/api/v1/certificates/{cert['serial']}/revoke",
            headers=operator,
            json={"reason": "superseded"},
        ),
        409,
        "already-revoked",
    )


def test_generate_crl(client: TestClient, admin: Headers, operator: Headers) -> None:
    before = client.get("/api/v1/cas/tls", headers=admin).json()["crl_number"]
    cert = _issue_tls(client, operator, "gone.gov.example.org")
    client.post(
        f"/api/v1/certificates/{cert['serial']}/revoke",
        headers=operator,
        json={"reason": "cessation-of-operation"},
    ).raise_for_status()
    r = client.post("/api/v1/crls/tls", headers=operator)
    assert r.status_code == 201, r.text
    info = r.json()
    # Revoking regenerated the CRL once; this is the next number.
    assert info["ca"] == "tls" and info["number"] == before + 2
    assert info["entries"] == 1
    assert info["url"].endswith("/crl/tls.crl")

    published = client.get("/crl/tls.crl")
    assert published.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(published.content)
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number == info["number"]
    assert crl.get_revoked_certificate_by_serial_number(int(cert["serial"], 16)) is not None
    issuer = x509.load_der_x509_certificate(client.get("/ca/tls.crt").content)
    assert crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    _assert_problem(client.post("/api/v1/crls/nope", headers=operator), 404, "unknown-ca")


def test_ocsp_refresh(client: TestClient, operator: Headers) -> None:
    r = client.post("/api/v1/ocsp/refresh", headers=operator)
    assert r.status_code == 200, r.text
    report = r.json()
    assert set(report) == {"signed", "responders_renewed", "crls_regenerated", "failed"}
    assert isinstance(report["signed"], int)
    # Nothing is due right after a refresh.
    again = client.post("/api/v1/ocsp/refresh", headers=operator).json()
    assert again == {"signed": 0, "responders_renewed": [], "crls_regenerated": [], "failed": {}}


def test_profiles(client: TestClient, auditor: Headers) -> None:
    profiles = client.get("/api/v1/profiles", headers=auditor).json()
    names = {p["name"] for p in profiles}
    assert {"tls-server", "official", "seal", "device"} <= names


# ---- tokens and audit --------------------------------------------------------------------


def test_tokens_create_list_revoke(client: TestClient, admin: Headers) -> None:
    r = client.post(
        "/api/v1/tokens",
        headers=admin,
        json={"name": "agency-x", "role": "operator", "profiles": ["tls-server"]},
    )
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    created = r.json()
    secret = created["token"]
    assert secret.startswith("gt_") and len(secret) > 30
    assert created["role"] == "operator" and created["profiles"] == ["tls-server"]
    new = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/cas", headers=new).status_code == 200

    listing = client.get("/api/v1/tokens", headers=admin)
    assert listing.status_code == 200
    assert secret not in listing.text
    tokens = {t["name"]: t for t in listing.json()}
    assert set(tokens) >= {"admin", "agency-x"}
    for t in tokens.values():
        assert "token" not in t and "secret" not in t and "token_sha256" not in t
    assert tokens["agency-x"]["revoked_at"] is None

    _assert_problem(
        client.post("/api/v1/tokens", headers=admin, json={"name": "agency-x", "role": "auditor"}),
        409,
        "already-exists",
    )

    r = client.delete("/api/v1/tokens/agency-x", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["revoked_at"] is not None
    assert secret not in r.text
    _assert_problem(client.get("/api/v1/cas", headers=new), 401, "unauthenticated")
    listed = {t["name"]: t for t in client.get("/api/v1/tokens", headers=admin).json()}
    assert listed["agency-x"]["revoked_at"] is not None
    _assert_problem(client.delete("/api/v1/tokens/nobody", headers=admin), 404)


def test_audit_listing(client: TestClient, operator: Headers, auditor: Headers) -> None:
    cert = _issue_tls(client, operator, "audited.gov.example.org")
    r = client.get("/api/v1/audit", headers=auditor, params={"action": "cert.issue", "limit": 3})
    assert r.status_code == 200, r.text
    events = r.json()
    assert 1 <= len(events) <= 3
    # The records are the canonical audit events: the action is their "type".
    assert all(e["type"] == "cert.issue" for e in events)
    newest = events[0]
    assert newest["actor"] == "token:ops"
    assert newest["object"]["id"] == cert["serial"]
    assert newest["details"]["serial"] == cert["serial"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)

    everything = client.get("/api/v1/audit", headers=auditor, params={"limit": 1000}).json()
    actions = {e["type"] for e in everything}
    assert {"ca.create", "cert.issue", "crl.generate", "token.create"} <= actions
    second = client.get("/api/v1/audit", headers=auditor, params={"limit": 1, "offset": 1}).json()
    assert [e["id"] for e in second] == [everything[1]["id"]]


# ---- landing page and documentation -----------------------------------------------------


def test_landing_page_lists_cas_with_download_links(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    for name in ("root", "people", "tls"):
        for link, media in (
            (f"/ca/{name}.crt", "application/pkix-cert"),
            (f"/ca/{name}.pem", "application/x-pem-file"),
            (f"/crl/{name}.crl", "application/pkix-crl"),
        ):
            assert f'href="{link}"' in html
            download = client.get(link)
            assert download.status_code == 200, link
            assert download.headers["content-type"].startswith(media)
    assert "AA Government Root CA" in html
    assert 'href="/docs"' in html


def test_docs_and_openapi_are_served(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # Everything the page loads comes from this server: no CDN, no web font.
    loaded = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert len(loaded) >= 3, docs.text[:300]  # script, stylesheet, icon
    assert all(url.startswith("/") for url in loaded), loaded
    for url in loaded:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 0, url
    assert "https://" not in docs.text
    assert client.get("/redoc").status_code == 404  # its bundle would call redoc.ly
    assert (
        client.get("/docs-static/swagger-ui-bundle.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    document = spec.json()
    assert document["info"]["title"] == "govtrust"
    assert "/api/v1/certificates" in document["paths"]
    assert "/ocsp" in document["paths"]


def test_over_real_http(live_server: LiveServer, demo: Demo) -> None:
    seen: list[str] = []
    auth = {"Authorization": f"Bearer {demo.admin_token}"}
    with httpx.Client(
        base_url=live_server.url, timeout=10, event_hooks={"response": [_leak_guard(demo, seen)]}
    ) as http:
        assert "tls" in http.get("/").text
        assert http.get("/docs").status_code == 200
        assert http.get("/openapi.json").json()["info"]["title"] == "govtrust"
        x509.load_der_x509_certificate(http.get("/ca/root.crt").content)
        cas = http.get("/api/v1/cas", headers=auth)
        assert cas.status_code == 200 and len(cas.json()) == 3
        unauth = http.get("/api/v1/cas")
        assert unauth.status_code == 401
        assert unauth.headers["www-authenticate"].startswith("Bearer")
        assert unauth.headers["content-type"].startswith(PROBLEM)
    assert len(seen) == 6


# ---- problem details ---------------------------------------------------------------------


def test_problem_400(client: TestClient, admin: Headers, operator: Headers) -> None:
    body = _assert_problem(
        client.post(
            "/api/v1/certificates",
            headers=operator,
            json={
                "ca": "tls",
                "profile": "tls-server",
                "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                "-----END CERTIFICATE REQUEST-----\n",
            },
        ),
        400,
        "malformed-csr",
    )
    assert "PKCS#10" in body["detail"]
    _assert_problem(
        client.post(
            "/api/v1/certificates",
            headers=operator,
            json={"ca": "tls", "profile": "tls-server", "csr": "***"},
        ),
        400,
        "malformed-csr",
    )
    _assert_problem(client.get("/api/v1/certificates/not-hex", headers=admin), 400, "invalid-input")
    _assert_problem(
        client.post(
            "/api/v1/cas",
            headers=admin,
            json={"name": "bad-subject", "subject": "this is not a DN"},
        ),
        400,
        "invalid-subject",
    )
    _assert_problem(
        client.post(
            "/api/v1/cas", headers=admin, json={"name": "x", "subject": "CN=X", "key": "dsa"}
        ),
        400,
        "invalid-input",
    )
    _assert_problem(
        client.post("/api/v1/certificates/01/revoke", headers=operator, json={"reason": "boredom"}),
        400,
        "invalid-input",
    )


def test_problem_404(client: TestClient, admin: Headers, operator: Headers) -> None:
    _assert_problem(client.get("/api/v1/cas/nope", headers=admin), 404, "unknown-ca")
    _assert_problem(
        client.get("/api/v1/certificates/DE:AD:BE:EF", headers=admin), 404, "unknown-certificate"
    )
    pem, _ = _csr("x.gov.example.org", ("x.gov.example.org",))
    _assert_problem(
        client.post(
            "/api/v1/certificates",
            headers=operator,
            json={"ca": "nope", "profile": "tls-server", "csr": pem},
        ),
        404,
        "unknown-ca",
    )
    _assert_problem(
        client.post(
            "/api/v1/certificates",
            headers=operator,
            json={"ca": "tls", "profile": "nope", "csr": pem},
        ),
        404,
        "unknown-profile",
    )
    # An unknown URL is a problem too, and so is a wrong method.
    assert (
        client.get("/api/v1/nothing-here", headers=admin)
        .headers["content-type"]
        .startswith(PROBLEM)
    )
    _assert_problem(client.get("/api/v1/nothing-here", headers=admin), 404)
    _assert_problem(client.delete("/api/v1/cas", headers=admin), 405)
    # Protocol endpoints answer 404 for unknown CAs as well.
    assert client.get("/ca/nope.crt").status_code == 404
    assert client.get("/crl/nope.crl").status_code == 404


def test_problem_409(client: TestClient, admin: Headers) -> None:
    _assert_problem(
        client.post(
            "/api/v1/cas", headers=admin, json={"name": "root", "subject": "CN=Again,C=AA"}
        ),
        409,
        "already-exists",
    )
    _assert_problem(
        client.post("/api/v1/tokens", headers=admin, json={"name": "admin", "role": "admin"}),
        409,
        "already-exists",
    )


def test_problem_422(client: TestClient, admin: Headers, operator: Headers) -> None:
    # The request does not match the schema.
    body = _assert_problem(
        client.post("/api/v1/certificates", headers=operator, json={"ca": "tls"}),
        422,
        "invalid-request",
    )
    assert {tuple(e["loc"]) for e in body["errors"]} >= {("body", "profile"), ("body", "csr")}
    _assert_problem(
        client.post("/api/v1/tokens", headers=admin, json={"name": "x", "role": "root"}), 422
    )
    _assert_problem(client.get("/api/v1/certificates?status=lost", headers=admin), 422)
    _assert_problem(client.get("/api/v1/certificates?limit=0", headers=admin), 422)
    _assert_problem(
        client.post(
            "/api/v1/cas",
            headers={**admin, "Content-Type": "application/json"},
            content=b"{not json",
        ),
        422,
    )
    # A profile refuses the request: 422 with the profile and the rule.
    pem, _ = _csr("nosan.gov.example.org")
    body = _assert_problem(
        client.post(
            "/api/v1/certificates",
            headers=operator,
            json={"ca": "tls", "profile": "tls-server", "csr": pem},
        ),
        422,
        "policy-violation",
    )
    assert body["profile"] == "tls-server" and body["rule"] == "san-required"


def test_unexpected_error_is_a_problem_without_detail(
    ctx: Context, admin: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govtrust.services import authorities

    def broken(ctx: Context) -> list[Any]:
        raise RuntimeError("internal detail that must not be shown")

    monkeypatch.setattr(authorities, "list_cas", broken)
    with TestClient(create_app(ctx, scheduler=False), raise_server_exceptions=False) as c:
        r = c.get("/api/v1/cas", headers=admin)
    body = _assert_problem(r, 500, "internal-error")
    assert "internal detail" not in r.text and "RuntimeError" not in r.text
    assert body["title"] == "Internal error"


def test_absurd_validity_is_a_client_error(ctx: Context, admin: Headers) -> None:
    with TestClient(create_app(ctx, scheduler=False), raise_server_exceptions=False) as c:
        r = c.post(
            "/api/v1/cas",
            headers=admin,
            json={"name": "forever", "subject": "CN=Forever,C=AA", "validity_days": 10**9},
        )
    _assert_problem(r, 400)


# ---- roles ---------------------------------------------------------------------------------


def test_operator_limited_to_a_profile(client: TestClient, admin: Headers) -> None:
    limited = _token(client, admin, "tls-only", "operator", profiles=["tls-server"])
    device_csr, _ = _csr("meter-0002")
    body = _assert_problem(
        client.post(
            "/api/v1/certificates",
            headers=limited,
            json={"ca": "tls", "profile": "device", "csr": device_csr},
        ),
        403,
        "forbidden",
    )
    assert "device" in body["detail"]
    # Its own profile works; other profiles' certificates it may not revoke.
    _issue_tls(client, limited, "mine.gov.example.org")
    device = client.get("/api/v1/certificates?profile=device", headers=admin).json()[0]
    _assert_problem(
        client.post(
            f"/api/v1/certificates/{device['serial']}/revoke",
            headers=limited,
            json={"reason": "superseded"},
        ),
        403,
        "forbidden",
    )
    assert (
        client.get(f"/api/v1/certificates/{device['serial']}", headers=admin).json()["status"]
        == "valid"
    )


def test_auditor_may_not_revoke(
    client: TestClient, admin: Headers, operator: Headers, auditor: Headers
) -> None:
    cert = _issue_tls(client, operator, "kept.gov.example.org")
    body = _assert_problem(
        client.post(
            f"/api/v1/certificates/{cert['serial']}/revoke",
            headers=auditor,
            json={"reason": "key-compromise"},
        ),
        403,
        "forbidden",
    )
    assert "operator" in body["detail"]
    shown = client.get(f"/api/v1/certificates/{cert['serial']}", headers=auditor).json()
    assert shown["status"] == "valid"
    # Reading is what an auditor may do.
    assert client.get("/api/v1/audit", headers=auditor).status_code == 200
    _assert_problem(client.get("/api/v1/tokens", headers=auditor), 403, "forbidden")
    _assert_problem(client.post("/api/v1/ocsp/refresh", headers=auditor), 403, "forbidden")
