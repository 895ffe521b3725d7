"""API tokens with roles (admin, operator, auditor). Only a token's SHA-256 is stored;
the secret is shown once, when it is created."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from govtrust.errors import AlreadyExists, InputError, NotFound, Unauthenticated
from govtrust.services import audit
from govtrust.services.context import ROLES, Actor, Context
from govtrust.store.models import ApiToken

__all__ = [
    "CACHE_SECONDS",
    "TokenInfo",
    "authenticate",
    "cached_actor",
    "create_token",
    "forget_all",
    "list_tokens",
    "revoke_token",
]

PREFIX = "gt_"

CACHE_SECONDS = 2.0
"""How long a process reuses a successful token look-up. A token revoked in this process
fails at once (the cache is emptied); revoked by another process (the CLI, another
worker or node), it fails within this time. Reading the token table on every request
was an eighth of a worker's CPU per issued certificate (bench/README.md)."""

_CACHE_SIZE = 4096
_cache: dict[tuple[str, str], tuple[float, Actor]] = {}
_cache_lock = threading.Lock()
_clock = time.monotonic  # the cache's clock (tests move it)
_generation = 0  # bumped by forget_all(): a look-up that began before is not cached


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: str
    profiles: list[str] | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "profiles": self.profiles,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        row.name,
        row.role,
        json.loads(row.profiles) if row.profiles else None,
        row.created_at,
        row.revoked_at,
    )


def create_token(
    ctx: Context, name: str, role: str, actor: Actor, profiles: list[str] | None = None
) -> tuple[TokenInfo, str]:
    """Returns the token's record and its secret (``gt_...``), which is not stored."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise InputError(f"invalid token name {name!r}")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (use one of: {', '.join(ROLES)})")
    if profiles:
        for p in profiles:
            ctx.profiles.get(p)
    secret = PREFIX + secrets.token_urlsafe(32)
    with ctx.db.write() as session:
        if session.scalars(select(ApiToken.id).where(ApiToken.name == name)).first():
            raise AlreadyExists(f"a token named {name!r} already exists")
        row = ApiToken(
            name=name,
            role=role,
            token_sha256=_digest(secret),
            profiles=json.dumps(sorted(profiles)) if profiles else None,
            created_at=ctx.clock.now(),
        )
        session.add(row)
        audit.record(
            session,
            ctx,
            actor,
            "token.create",
            "token",
            name,
            row.token_sha256.encode(),
            {"role": role, "profiles": row.profiles},
        )
    return _info(row), secret


def list_tokens(ctx: Context) -> list[TokenInfo]:
    with ctx.db.read() as session:
        return [_info(r) for r in session.scalars(select(ApiToken).order_by(ApiToken.id)).all()]


def revoke_token(ctx: Context, name: str, actor: Actor) -> TokenInfo:
    with ctx.db.write() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.name == name)).first()
        if row is None:
            raise NotFound("token", name)
        if row.revoked_at is None:
            row.revoked_at = ctx.clock.now()
            audit.record(
                session, ctx, actor, "token.revoke", "token", name, row.token_sha256.encode()
            )
        info = _info(row)
    forget_all()  # after the commit: a look-up running meanwhile does not cache
    return info


def forget_all() -> None:
    """Empty this process's cache of token look-ups (after a revocation)."""
    global _generation
    with _cache_lock:
        _generation += 1
        _cache.clear()


def cached_actor(ctx: Context, secret: str) -> Actor | None:
    """The actor of ``secret`` if this process looked it up successfully less than
    :data:`CACHE_SECONDS` ago; None otherwise (then call :func:`authenticate`)."""
    hit = _cache.get((ctx.settings.database_url, _digest(secret)))
    if hit is None or hit[0] <= _clock():
        return None
    return hit[1]


def authenticate(ctx: Context, secret: str) -> Actor:
    """The actor of an API token, read from the database; unknown, malformed and revoked
    tokens raise :class:`Unauthenticated` (and are not cached)."""
    if not secret.startswith(PREFIX):
        raise Unauthenticated("invalid API token")
    digest = _digest(secret)
    generation = _generation
    with ctx.db.read() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == digest)).first()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("invalid or revoked API token")
    profiles = frozenset(json.loads(row.profiles)) if row.profiles else None
    actor = Actor(f"token:{row.name}", row.role, profiles)
    with _cache_lock:
        if generation != _generation:
            return actor
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[(ctx.settings.database_url, digest)] = (_clock() + CACHE_SECONDS, actor)
    return actor
