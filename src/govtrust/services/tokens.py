"""API tokens with roles (admin, operator, auditor). Only a token's SHA-256 is stored;
the secret is shown once, when it is created."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from govtrust.errors import AlreadyExists, InputError, NotFound, Unauthenticated
from govtrust.services import audit
from govtrust.services.context import ROLES, Actor, Context
from govtrust.store.models import ApiToken

__all__ = ["TokenInfo", "authenticate", "create_token", "list_tokens", "revoke_token"]

PREFIX = "gt_"


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
        return _info(row)


def authenticate(ctx: Context, secret: str) -> Actor:
    if not secret.startswith(PREFIX):
        raise Unauthenticated("invalid API token")
    with ctx.db.read() as session:
        row = session.scalars(
            select(ApiToken).where(ApiToken.token_sha256 == _digest(secret))
        ).first()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("invalid or revoked API token")
    profiles = frozenset(json.loads(row.profiles)) if row.profiles else None
    return Actor(f"token:{row.name}", row.role, profiles)
