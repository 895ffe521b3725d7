"""The security contract of the HTTP interface.

Every route that ``create_app`` serves is either on the explicit PUBLIC allowlist below
or declares its minimum role with ``govtrust.api.auth.requires(role)``, and that role is
enforced: no token, a garbage token or a revoked token get 401 problem+json with a
``WWW-Authenticate`` challenge; a token of a lower role gets 403 problem+json; a token of
the required role (or higher) is not refused.

The routes are enumerated from the application itself (not from a hand-kept list), so a
route added tomorrow is checked tomorrow; the checks fail when a non-public route has no
``required_role`` dependency (``test_a_route_without_requires_is_caught`` proves it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update
from starlette.routing import Mount, Route

from govtrust.api import create_app
from govtrust.api.auth import RANK, get_context, requires
from govtrust.services import Actor, Context, tokens
from govtrust.services.tokens import create_token, revoke_token
from govtrust.store.models import ApiToken
from tests.support import routes_portal, routes_trustlist, routes_verify

_AREAS = (routes_verify, routes_trustlist, routes_portal)

try:  # FastAPI >= 0.137.2 keeps included routers as a tree; this flattens it.
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI flattened app.routes itself
    iter_route_contexts = None  # type: ignore[assignment]

SETUP = Actor("test:authz-setup", "admin")

#: Paths anyone may call without a token: the protocol endpoints (RFC 2585, RFC 6960),
#: the landing page and FastAPI's own documentation.
PUBLIC = frozenset(
    {
        "/",
        "/ca/{name}.crt",
        "/ca/{name}.pem",
        "/crl/{name}.crl",
        "/ocsp",
        "/ocsp/{encoded:path}",
        "/tsa",
        "/ledger/checkpoint",
        "/ledger/tile/{path:path}",
        "/ledger/proof/inclusion",
        "/ledger/proof/consistency",
        "/ledger/search",
        "/ledger/witness/add-checkpoint",
        "/docs",
        "/docs-static",
        "/docs/oauth2-redirect",
        "/openapi.json",
    }
).union(*(area.PUBLIC for area in _AREAS))

#: The documented minimum role of every protected operation. Changing a role (or adding
#: an operation) is a deliberate act: update this table in the same change.
EXPECTED_ROLES = {
    ("GET", "/api/v1/cas"): "auditor",
    ("GET", "/api/v1/cas/{name}"): "auditor",
    ("POST", "/api/v1/cas"): "admin",
    ("GET", "/api/v1/certificates"): "auditor",
    ("POST", "/api/v1/certificates"): "operator",
    ("GET", "/api/v1/certificates/{serial}"): "auditor",
    ("POST", "/api/v1/certificates/{serial}/revoke"): "operator",
    ("POST", "/api/v1/certificates/{serial}/renew"): "operator",
    ("GET", "/api/v1/profiles"): "auditor",
    ("POST", "/api/v1/crls/{ca}"): "operator",
    ("POST", "/api/v1/ocsp/refresh"): "operator",
    ("GET", "/api/v1/tokens"): "admin",
    ("POST", "/api/v1/tokens"): "admin",
    ("DELETE", "/api/v1/tokens/{name}"): "admin",
    ("GET", "/api/v1/audit"): "auditor",
    ("GET", "/api/v1/credentials"): "auditor",
    ("GET", "/api/v1/credentials/{name}"): "auditor",
    ("POST", "/api/v1/credentials"): "operator",
    ("GET", "/api/v1/ledger/witnesses"): "admin",
    ("POST", "/api/v1/ledger/witnesses"): "admin",
    ("GET", "/api/v1/ledger/witnesses/key"): "admin",
    ("GET", "/api/v1/ledger/witnesses/logs"): "admin",
    ("POST", "/api/v1/ledger/witnesses/logs"): "admin",
    ("POST", "/api/v1/ledger/witnesses/submit"): "admin",
    # Remote signing: operator, and the token must be bound to the credential it signs
    # with (services.signing.authorize_remote), which a role alone never grants.
    ("POST", "/sign"): "operator",
    ("POST", "/api/v1/sign/batch"): "operator",
}
for _area in _AREAS:
    EXPECTED_ROLES.update(_area.ROLES)

#: Dummy values for path parameters.
PARAMS = {"name": "root", "serial": "01", "ca": "root", "encoded": "MAA="}

#: Plausible request bodies (valid JSON of the right shape); others get ``{}``.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/cas"): {
        "name": "authz-probe",
        "subject": "CN=Authz Probe Root CA,O=Government,C=AA",
        "key": "ec-p256",
    },
    ("POST", "/api/v1/certificates"): {
        "ca": "tls",
        "profile": "tls-server",
        "csr": "not a certificate request",
    },
    ("POST", "/api/v1/certificates/{serial}/revoke"): {"reason": "superseded"},
    ("POST", "/api/v1/tokens"): {"name": "authz-probe", "role": "auditor"},
}

PROBLEM_KEYS = {"type", "title", "status", "detail"}


# ---- enumeration -----------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One (method, path template) the application answers, and the route behind it."""

    method: str
    path: str
    route: Any

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def url(self) -> str:
        def fill(m: re.Match[str]) -> str:
            return PARAMS.get(m.group(1), "x")

        return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?\}", fill, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _flatten(routes: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path template, route) for every route, through included routers and mounts."""
    items = list(iter_route_contexts(routes)) if iter_route_contexts is not None else routes
    for route in items:
        original = getattr(route, "original_route", route)
        path = getattr(route, "path", None)
        if isinstance(original, Mount):
            # A mounted app has no dependant: it is reported as one unprotected route,
            # unless it is a router whose routes can be walked.
            inner = getattr(original, "routes", None)
            if inner:
                yield from _flatten(inner, prefix + original.path)
            else:
                yield prefix + original.path, route
            continue
        if path is None:
            raise AssertionError(f"cannot enumerate a route of type {type(original).__name__}")
        yield prefix + path, route


def endpoints(app: FastAPI) -> list[Endpoint]:
    out = []
    for path, route in _flatten(app.routes):
        if routes_portal.EXEMPT_PREFIXES and path.startswith(routes_portal.EXEMPT_PREFIXES):
            continue  # the portal's own enumeration test covers these
        methods = getattr(route, "methods", None) or {"GET"}
        for method in sorted(methods):
            if method == "HEAD" and "GET" in methods:
                continue  # Starlette adds HEAD to GET routes; same endpoint, same guard
            out.append(Endpoint(method, path, route))
    return out


def required_roles(route: Any) -> set[str]:
    """Every ``required_role`` found on the route's dependencies, recursively."""
    found: set[str] = set()

    def walk(dependant: Any) -> None:
        for dep in getattr(dependant, "dependencies", ()):
            role = getattr(dep.call, "required_role", None)
            if role is not None:
                found.add(role)
            walk(dep)

    walk(getattr(route, "dependant", None))
    return found


def effective_role(route: Any) -> str | None:
    """The minimum role a route demands (the strictest of its ``requires``)."""
    roles = required_roles(route)
    return max(roles, key=RANK.__getitem__) if roles else None


def unprotected(app: FastAPI) -> list[str]:
    """Non-public routes without a ``required_role`` dependency: each one is a failure."""
    return [str(e) for e in endpoints(app) if e.path not in PUBLIC and not required_roles(e.route)]


def protected(app: FastAPI) -> list[tuple[Endpoint, str]]:
    out = []
    for e in endpoints(app):
        if e.path in PUBLIC:
            continue
        role = effective_role(e.route)
        assert role is not None, f"{e} is not public and has no requires(role) dependency"
        out.append((e, role))
    return out


def _openapi_path(path: str) -> str:
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*):[A-Za-z_]+\}", r"{\1}", path)


# ---- fixtures and helpers --------------------------------------------------------------


@pytest.fixture
def app(ctx: Context) -> FastAPI:
    return create_app(ctx, scheduler=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def role_tokens(ctx: Context) -> dict[str, str]:
    """A live token per role."""
    return {role: create_token(ctx, f"authz-{role}", role, SETUP)[1] for role in RANK}


def call(client: TestClient, e: Endpoint, token: str | None = None, **headers: str) -> Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    kwargs: dict[str, Any] = {"headers": headers}
    if e.method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = BODIES.get(e.key, {})
    return client.request(e.method, e.url, **kwargs)


def problem_failures(e: Endpoint, r: Response, status: int) -> list[str]:
    """Why ``r`` is not a problem+json answer with ``status``, or nothing."""
    failures = []
    if r.status_code != status:
        failures.append(f"{e}: expected {status}, got {r.status_code} {r.text[:200]}")
        return failures
    if e.method == "HEAD":
        return failures
    ctype = r.headers.get("content-type", "")
    if not ctype.startswith("application/problem+json"):
        failures.append(f"{e}: content-type {ctype!r} is not application/problem+json")
        return failures
    body = r.json()
    if not set(body) >= PROBLEM_KEYS or body["status"] != status:
        failures.append(f"{e}: not an RFC 9457 problem of status {status}: {body}")
    if status == 401 and not r.headers.get("www-authenticate", "").lower().startswith("bearer"):
        failures.append(f"{e}: 401 without a 'WWW-Authenticate: Bearer' challenge")
    return failures


# ---- the enumeration itself ------------------------------------------------------------


def test_every_route_is_public_or_requires_a_role(app: FastAPI) -> None:
    assert unprotected(app) == []
    table = protected(app)
    assert table, "no protected route found: the enumeration has gone blind"
    assert all(role in RANK for _, role in table)


def test_public_allowlist_matches_real_routes(app: FastAPI) -> None:
    paths = {e.path for e in endpoints(app)}
    assert paths >= PUBLIC, f"stale allowlist entries: {sorted(PUBLIC - paths)}"
    # No public route asks for a role: the allowlist and requires() never overlap.
    overlap = [str(e) for e in endpoints(app) if e.path in PUBLIC and required_roles(e.route)]
    assert overlap == []


def test_required_roles_are_the_documented_ones(app: FastAPI) -> None:
    actual = {e.key: role for e, role in protected(app)}
    assert actual == EXPECTED_ROLES


def test_openapi_has_no_route_missing_from_the_enumeration(client: TestClient) -> None:
    enumerated = {(e.method, _openapi_path(e.path)) for e in endpoints(client.app)}  # type: ignore[arg-type]
    document = client.get("/openapi.json").json()
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete", "head", "options", "trace"}
    }
    assert documented, "the OpenAPI document lists no operation"
    assert documented - enumerated == set()
    # Every protected operation is documented.
    protected_ops = {(e.method, _openapi_path(e.path)) for e, _ in protected(client.app)}  # type: ignore[arg-type]
    assert protected_ops - documented == set()


def test_a_route_without_requires_is_caught(app: FastAPI) -> None:
    """The test's own logic: a route added without ``requires(role)`` fails it."""
    assert unprotected(app) == []

    @app.get("/api/v1/backdoor")
    def backdoor() -> dict[str, str]:
        return {}

    @app.post("/api/v1/only-context")
    def only_context(ctx: Context = Depends(get_context)) -> dict[str, str]:
        return {}

    extra = APIRouter(prefix="/api/v2")

    @extra.delete("/things/{name}")
    def delete_thing(name: str) -> dict[str, str]:
        return {}

    @extra.get("/guarded")
    def guarded(actor: Actor = Depends(requires("auditor"))) -> dict[str, str]:
        return {}

    app.include_router(extra)
    # A role required on the inclusion (router level) protects the router's routes.
    admin_only = APIRouter()

    @admin_only.get("/things")
    def list_things() -> list[str]:
        return []

    app.include_router(admin_only, prefix="/api/v3", dependencies=[Depends(requires("admin"))])
    app.router.routes.append(Route("/raw", lambda request: None))
    app.mount("/static", lambda scope, receive, send: None)

    assert sorted(unprotected(app)) == sorted(
        [
            "GET /api/v1/backdoor",
            "POST /api/v1/only-context",
            "DELETE /api/v2/things/{name}",
            "GET /raw",
            "GET /static",
        ]
    )
    with pytest.raises(AssertionError, match="backdoor"):
        protected(app)
    roles = {str(e): effective_role(e.route) for e in endpoints(app)}
    assert roles["GET /api/v3/things"] == "admin"
    assert roles["GET /api/v2/guarded"] == "auditor"


def test_requires_carries_its_role() -> None:
    for role in RANK:
        assert requires(role).required_role == role  # type: ignore[attr-defined]
    with pytest.raises(KeyError):
        requires("superuser")


# ---- the enforcement -------------------------------------------------------------------


def test_public_routes_need_no_token(client: TestClient) -> None:
    failures = []
    for e in endpoints(client.app):  # type: ignore[arg-type]
        if e.path in PUBLIC:
            r = call(client, e)
            if r.status_code in (401, 403) or r.status_code >= 500:
                failures.append(f"{e}: {r.status_code} without a token")
    assert failures == []


def test_no_token_is_401(client: TestClient) -> None:
    failures = []
    for e, _ in protected(client.app):  # type: ignore[arg-type]
        failures += problem_failures(e, call(client, e), 401)
    assert failures == []


def test_no_token_is_401_before_validation(client: TestClient) -> None:
    """Authentication comes first: a schema-invalid request without a token is 401, not
    422, so anonymous callers learn nothing from validation errors."""
    failures = []
    for e, _ in protected(client.app):  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {"params": {"limit": "0", "status": "lost"}}
        if e.method in ("POST", "PUT", "PATCH"):
            kwargs["json"] = {"unexpected": [1, 2, 3]}
        failures += problem_failures(e, client.request(e.method, e.url, **kwargs), 401)
    assert failures == []


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer gt_this-is-not-a-token",
        "Bearer not-even-the-prefix",
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "gt_no-scheme",
    ],
)
def test_garbage_token_is_401(client: TestClient, authorization: str) -> None:
    failures = []
    for e, _ in protected(client.app):  # type: ignore[arg-type]
        r = call(client, e, Authorization=authorization)
        failures += problem_failures(e, r, 401)
    assert failures == []


def test_revoked_token_is_401(client: TestClient, ctx: Context) -> None:
    secrets = {role: create_token(ctx, f"revoked-{role}", role, SETUP)[1] for role in RANK}
    for role in RANK:
        revoke_token(ctx, f"revoked-{role}", SETUP)
    failures = []
    for e, role in protected(client.app):  # type: ignore[arg-type]
        # The revoked token had the required role, and also the highest one.
        for r_role in {role, "admin"}:
            failures += problem_failures(e, call(client, e, secrets[r_role]), 401)
    assert failures == []


def test_token_look_ups_are_cached_briefly_and_dropped_on_revocation(
    client: TestClient, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token revoked in this process fails at once, even right after a cached use;
    revoked by another process (here: the row updated behind the service's back) it
    fails once the CACHE_SECONDS of its last look-up have passed. The cache's clock is
    the test's, so a slow machine cannot expire an entry early."""
    now = [1000.0]
    monkeypatch.setattr(tokens, "_clock", lambda: now[0])
    url = "/api/v1/profiles"
    in_process = create_token(ctx, "cached-1", "auditor", SETUP)[1]
    assert client.get(url, headers={"Authorization": f"Bearer {in_process}"}).status_code == 200
    assert tokens.cached_actor(ctx, in_process) is not None
    revoke_token(ctx, "cached-1", SETUP)
    assert tokens.cached_actor(ctx, in_process) is None
    assert client.get(url, headers={"Authorization": f"Bearer {in_process}"}).status_code == 401

    elsewhere = create_token(ctx, "cached-2", "auditor", SETUP)[1]
    assert client.get(url, headers={"Authorization": f"Bearer {elsewhere}"}).status_code == 200
    with ctx.db.write() as session:
        session.execute(
            update(ApiToken).where(ApiToken.name == "cached-2").values(revoked_at=ctx.clock.now())
        )
    now[0] += tokens.CACHE_SECONDS - 0.001
    assert client.get(url, headers={"Authorization": f"Bearer {elsewhere}"}).status_code == 200
    now[0] += 0.002
    assert tokens.cached_actor(ctx, elsewhere) is None
    assert client.get(url, headers={"Authorization": f"Bearer {elsewhere}"}).status_code == 401


def test_lower_role_is_403(client: TestClient, role_tokens: dict[str, str]) -> None:
    failures = []
    checked = 0
    for e, role in protected(client.app):  # type: ignore[arg-type]
        # For auditor-level routes there is no lower role.
        for lower in [r for r in RANK if RANK[r] < RANK[role]]:
            failures += problem_failures(e, call(client, e, role_tokens[lower]), 403)
            checked += 1
    assert failures == []
    assert checked > 0


def test_required_role_is_not_refused(client: TestClient, role_tokens: dict[str, str]) -> None:
    failures = []
    for e, role in protected(client.app):  # type: ignore[arg-type]
        # The required role and every higher one.
        for ok in [r for r in RANK if RANK[r] >= RANK[role]]:
            r = call(client, e, role_tokens[ok])
            if r.status_code in (401, 403) or r.status_code >= 500:
                failures.append(f"{e} as {ok}: {r.status_code} {r.text[:200]}")
    assert failures == []
