"""Bearer-token authentication and role checks.

Roles are ordered by what they may do to the PKI: ``auditor`` reads everything,
``operator`` also issues and revokes (within its profiles), ``admin`` does everything.
Each protected route declares its minimum role with ``requires(role)``; the dependency
carries ``required_role`` so that a test can enumerate every route and prove it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from govtrust.errors import Forbidden, Unauthenticated
from govtrust.services import Actor, Context
from govtrust.services.tokens import authenticate, cached_actor

__all__ = ["RANK", "Ctx", "get_context", "requires"]

RANK = {"auditor": 0, "operator": 1, "admin": 2}


# Declares the Bearer scheme in OpenAPI (the Authorize button of /docs); the checks
# themselves are done below so that every failure is a problem+json 401.
_bearer = HTTPBearer(auto_error=False, description="An API token (govtrust token create)")
_Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_context(request: Request) -> Context:
    ctx = request.app.state.ctx
    assert isinstance(ctx, Context)
    return ctx


async def _context(request: Request) -> Context:
    # ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, a hand-off
    # that cost more than the attribute read (bench/README.md, issuance profile).
    return get_context(request)


Ctx = Annotated[Context, Depends(_context)]
"""The request's :class:`Context`, for route signatures."""


async def _actor(request: Request) -> Actor:
    """The token's actor: from the per-process cache of recent look-ups
    (``services/tokens.py``) on the event loop, or from the database in a thread."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Unauthenticated("an API token is required (Authorization: Bearer ...)")
    ctx = get_context(request)
    actor = cached_actor(ctx, secret)
    if actor is None:
        actor = await asyncio.to_thread(authenticate, ctx, secret)
    return actor


def requires(role: str) -> Callable[..., Awaitable[Actor]]:
    minimum = RANK[role]

    async def dependency(request: Request, _scheme: _Bearer = None) -> Actor:
        actor = await _actor(request)
        if RANK.get(actor.role, -1) < minimum:
            raise Forbidden(f"this action needs the {role} role; {actor.name} is {actor.role}")
        return actor

    dependency.required_role = role  # type: ignore[attr-defined]
    return dependency
