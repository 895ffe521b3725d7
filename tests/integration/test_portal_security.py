"""The portal's security contract, enumerated from the application itself: every
operator page sends an anonymous visitor to the login page and answers a lower role
with a 403 page; every POST form refuses a request without its CSRF token and changes
nothing; sessions are HttpOnly, Secure, SameSite=Strict cookies that logging out ends;
login failures are rate-limited; the operator flows (issue, revoke with confirmation)
work and are audited under the account's name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from govtrust.api import create_app
from govtrust.api.auth import RANK
from govtrust.services import Context, audit, certificates
from govtrust.services.portal_users import MAX_FAILURES
from tests.e2e.support import Accounts, csrf_of, make_accounts
from tests.integration.test_api_authorization import _flatten
from tests.support.routes_portal import EXEMPT_PREFIXES, PUBLIC


@pytest.fixture
def app(ctx: Context) -> FastAPI:
    return create_app(ctx, scheduler=False)


@pytest.fixture
def accounts(ctx: Context) -> Accounts:
    return make_accounts(ctx)


def _client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with _client(app) as c:
        yield c


def login(app: FastAPI, accounts: Accounts, role: str) -> TestClient:
    c = _client(app)
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


def portal_routes(app: FastAPI) -> list[tuple[str, str, Any]]:
    """(method, path, endpoint) of every portal page under an operator prefix."""
    out = []
    for path, route in _flatten(app.routes):
        if path.startswith(EXEMPT_PREFIXES):
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                if method != "HEAD":
                    out.append((method, path, route.endpoint))
    return out


def _url(path: str, serial: str) -> str:
    return re.sub(r"\{[a-z_]+\}", serial, path)


def test_enumeration_sees_every_operator_page(app: FastAPI) -> None:
    routes = portal_routes(app)
    paths = {p for _, p, _ in routes}
    for lang in ("en", "ar"):
        for page in ("", "/login", "/logout", "/issue", "/certificates", "/audit", "/sign"):
            assert f"/{lang}/operator{page}" in paths
    assert all(hasattr(e, "portal_role") for _, _, e in routes)
    # Public pages are on the API test's allowlist and need no role.
    public = [(m, p) for m, p, e in portal_routes(app) if e.portal_role is None]
    assert {p for _, p in public} == {"/en/operator/login", "/ar/operator/login"}
    assert not PUBLIC.intersection(paths)


def test_anonymous_visitors_are_sent_to_login(
    app: FastAPI, anonymous: TestClient, ctx: Context
) -> None:
    serial = certificates.list_certificates(ctx, limit=1)[0].serial
    checked = 0
    for method, path, endpoint in portal_routes(app):
        if endpoint.portal_role is None:
            continue
        r = anonymous.request(method, _url(path, serial))
        assert r.status_code == 303, f"{method} {path}: {r.status_code}"
        lang = path.split("/")[1]
        assert r.headers["location"].startswith(f"/{lang}/operator/login?next=")
        checked += 1
    assert checked >= 20


def test_lower_roles_get_a_403_page(app: FastAPI, accounts: Accounts, ctx: Context) -> None:
    serial = certificates.list_certificates(ctx, profile="device")[0].serial
    clients = {role: login(app, accounts, role) for role in RANK}
    checked = 0
    for method, path, endpoint in portal_routes(app):
        role = endpoint.portal_role
        if role is None:
            continue
        for lower in [r for r in RANK if RANK[r] < RANK[role]]:
            c = clients[lower]
            data = {"csrf": csrf_of(c.get("/en/operator"))} if method == "POST" else None
            r = c.request(method, _url(path, serial), data=data)
            assert r.status_code == 403, f"{method} {path} as {lower}: {r.status_code}"
            assert "You are not allowed to do this" in r.text or "غير مسموح" in r.text
            checked += 1
        for ok in [r for r in RANK if RANK[r] >= RANK[role]]:
            if method == "GET":
                r = clients[ok].get(_url(path, serial))
                assert r.status_code in (200, 303), f"{path} as {ok}: {r.status_code}"
    assert checked >= 10
    assert certificates.get_certificate(ctx, serial).status == "valid"


def test_every_form_needs_its_csrf_token(app: FastAPI, accounts: Accounts, ctx: Context) -> None:
    admin = login(app, accounts, "admin")
    serial = certificates.list_certificates(ctx, profile="device")[0].serial
    before = len(audit.list_events(ctx, limit=10_000))
    posts = [(p, e) for m, p, e in portal_routes(app) if m == "POST"]
    for path in sorted(PUBLIC):  # the public forms too
        if path.endswith(("/verify", "/verify/report.json", "/certificates/check")):
            posts.append((path, None))
    assert len(posts) >= 10
    for path, _ in posts:
        for data in ({}, {"csrf": "forged-" + "x" * 40}):
            r = admin.post(
                _url(path, serial),
                data={**data, "reason": "superseded", "confirmed": "yes", "profile": "seal"},
            )
            assert r.status_code == 400, f"POST {path}: {r.status_code}"
            assert "This form has expired" in r.text or "انتهت صلاحية" in r.text
    assert certificates.get_certificate(ctx, serial).status == "valid"
    assert len(audit.list_events(ctx, limit=10_000)) == before
    # Still logged in: a CSRF failure does not end the session.
    assert admin.get("/en/operator").status_code == 200


def test_session_cookie_attributes_and_logout(app: FastAPI, accounts: Accounts) -> None:
    c = _client(app)
    form = c.get("/en/operator/login")
    r = c.post(
        "/en/operator/login",
        data={
            "csrf": csrf_of(form),
            "username": "test-auditor",
            "password": accounts.passwords["auditor"],
        },
    )
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("gt_session="))
    lowered = cookie.lower()
    assert "httponly" in lowered and "secure" in lowered and "samesite=strict" in lowered
    stolen = c.cookies.get("gt_session")
    page = c.get("/en/operator")
    assert page.status_code == 200
    assert c.post("/en/operator/logout", data={"csrf": csrf_of(page)}).status_code == 303
    # The old cookie, replayed, no longer opens a session.
    replay = _client(app)
    replay.cookies.set("gt_session", stolen or "")
    assert replay.get("/en/operator").status_code == 303
    forged = _client(app)
    forged.cookies.set("gt_session", "eyJ1IjoxLCJlIjowLCJjIjoieCJ9.forged.signature")
    assert forged.get("/en/operator").status_code == 303


def test_login_failures_are_rate_limited(app: FastAPI, accounts: Accounts) -> None:
    c = _client(app)
    for _ in range(MAX_FAILURES):
        form = c.get("/en/operator/login")
        r = c.post(
            "/en/operator/login",
            data={
                "csrf": csrf_of(form),
                "username": "test-operator",
                "password": "wrong password!",
            },
        )
        assert r.status_code == 401 and "Wrong user name or password." in r.text
    form = c.get("/en/operator/login")
    r = c.post(
        "/en/operator/login",
        data={
            "csrf": csrf_of(form),
            "username": "test-operator",
            "password": accounts.passwords["operator"],
        },
    )
    assert r.status_code == 429 and "Too many failed logins" in r.text


def test_open_redirects_are_refused(app: FastAPI, accounts: Accounts) -> None:
    c = _client(app)
    form = c.get("/en/operator/login")
    r = c.post(
        "/en/operator/login",
        data={
            "csrf": csrf_of(form),
            "username": "test-auditor",
            "password": accounts.passwords["auditor"],
            "next": "//evil.example/en/operator",
        },
    )
    assert r.headers["location"] == "/en/operator"


def test_issue_then_revoke_with_confirmation(
    app: FastAPI, accounts: Accounts, ctx: Context
) -> None:
    c = login(app, accounts, "operator")
    form = c.get("/en/operator/issue", params={"profile": "seal"})
    assert "organizationIdentifier" in form.text  # what the profile allows
    r = c.post(
        "/en/operator/issue",
        data={
            "csrf": csrf_of(form),
            "profile": "seal",
            "ca": "people",
            "subject": "CN=Ministry of Health,O=Ministry of Health,"
            "organizationIdentifier=NTRAA-100009,C=AA",
            "key": "ec-p256",
        },
    )
    assert r.status_code == 303, r.text[:1500]
    serial = r.headers["location"].split("/")[-1].split("?")[0]
    info = certificates.get_certificate(ctx, serial)
    assert info.subject.startswith("CN=Ministry of Health") and info.status == "valid"
    page = c.get(f"/en/operator/certificates/{serial}/revoke")
    first = c.post(
        f"/en/operator/certificates/{serial}/revoke",
        data={"csrf": csrf_of(page), "reason": "superseded"},
    )
    assert first.status_code == 200 and "Confirm the revocation" in first.text
    assert certificates.get_certificate(ctx, serial).status == "valid"  # not yet
    done = c.post(
        f"/en/operator/certificates/{serial}/revoke",
        data={"csrf": csrf_of(first), "reason": "superseded", "confirmed": "yes"},
    )
    assert done.status_code == 303
    assert certificates.get_certificate(ctx, serial).status == "revoked"
    actors = {e.actor for _, e in audit.list_events(ctx, action="cert.revoke")}
    assert "portal:test-operator" in actors
    # A policy refusal is a clear page, not a 500.
    bad = c.post(
        "/en/operator/issue",
        data={"csrf": csrf_of(form), "profile": "seal", "ca": "people", "subject": "CN=x"},
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.text
