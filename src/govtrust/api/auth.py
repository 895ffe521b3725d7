"""Bearer-token authentication and role checks.

Roles are ordered by what they may do to the PKI: ``auditor`` reads everything,
``operator`` also issues and revokes (within its profiles), ``admin`` does everything.
Each protected route declares its minimum role with ``requires(role)``; the dependency
carries ``required_role`` so that a test can enumerate every route and prove it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from govtrust.errors import Forbidden, Unauthenticated
from govtrust.services import Actor, Context
from govtrust.services.tokens import authenticate

__all__ = ["RANK", "get_context", "requires"]

RANK = {"auditor": 0, "operator": 1, "admin": 2}


# Declares the Bearer scheme in OpenAPI (the Authorize button of /docs); the checks
# themselves are done below so that every failure is a problem+json 401.
_bearer = HTTPBearer(auto_error=False, description="An API token (govtrust token create)")
_Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_context(request: Request) -> Context:
    ctx = request.app.state.ctx
    assert isinstance(ctx, Context)
    return ctx


def _actor(request: Request) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("an API token is required (Authorization: Bearer ...)")
    return authenticate(get_context(request), secret.strip())


def requires(role: str) -> Callable[..., Actor]:
    minimum = RANK[role]

    def dependency(request: Request, _scheme: _Bearer = None) -> Actor:
        actor = _actor(request)
        if RANK.get(actor.role, -1) < minimum:
            raise Forbidden(f"this action needs the {role} role; {actor.name} is {actor.role}")
        return actor

    dependency.required_role = role  # type: ignore[attr-defined]
    return dependency
