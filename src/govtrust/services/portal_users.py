"""Operator accounts of the web portal: create, list, disable, authenticate.

Passwords are hashed with scrypt (RFC 7914) through :func:`hashlib.scrypt`
(N=2^15, r=8, p=1, a 16-byte random salt, a 32-byte key), the parameters stored with
the hash so they can be raised later. Verification compares in constant time.

Login failures are rate-limited per account in the database, so the limit holds across
every worker and node: after ``MAX_FAILURES`` failed attempts the account refuses
logins (even with the right password) for ``LOCK_MINUTES``. A successful login resets
the counter. Logging out bumps the account's ``session_epoch``: every session cookie
carries the epoch it was issued under and is void once it differs.

Roles are the PKI core's (``auditor`` < ``operator`` < ``admin``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govtrust.errors import AlreadyExists, InputError, NotFound, Unauthenticated
from govtrust.services import audit
from govtrust.services.context import ROLES, Actor, Context
from govtrust.store.portal_models import PortalUserRow

__all__ = [
    "LOCK_MINUTES",
    "MAX_FAILURES",
    "LoginLocked",
    "PortalUser",
    "authenticate",
    "bump_session_epoch",
    "create_demo_users",
    "create_user",
    "disable_user",
    "get_user",
    "hash_password",
    "list_users",
    "set_password",
    "verify_password",
]

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 12
_NAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")
_SCRYPT = (2**15, 8, 1)  # N, r, p: RFC 7914 §2's interactive-login order of magnitude
_MAXMEM = 64 * 1024 * 1024


class LoginLocked(Unauthenticated):
    """Too many failed logins: the account refuses logins until ``until``."""

    code = "login-locked"
    title = "Too many failed logins"

    def __init__(self, until: dt.datetime) -> None:
        super().__init__("too many failed logins: try again later")
        self.until = until


@dataclass(frozen=True)
class PortalUser:
    id: int
    name: str
    role: str
    disabled: bool
    session_epoch: int
    created_at: dt.datetime
    last_login_at: dt.datetime | None

    @property
    def actor(self) -> Actor:
        """The audit-trail identity of this account's actions."""
        return Actor(f"portal:{self.name}", self.role)


def _user(row: PortalUserRow) -> PortalUser:
    return PortalUser(
        id=row.id,
        name=row.name,
        role=row.role,
        disabled=row.disabled,
        session_epoch=row.session_epoch,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$key`` (salt and key in base64)."""
    n, r, p = _SCRYPT
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        derived = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, expected)


@functools.cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows: unknown accounts cost the same time as known
    ones. Made on first use, not at import (one scrypt, ~0.15 s, at every start of
    every command and worker otherwise)."""
    return hash_password(secrets.token_urlsafe(16))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InputError("the password is too long (at most 1024 characters)")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (use one of: {', '.join(ROLES)})")


def create_user(ctx: Context, name: str, role: str, password: str, actor: Actor) -> PortalUser:
    """A new operator account (audited as ``portal.user.add``)."""
    if not _NAME.fullmatch(name):
        raise InputError(
            "a user name is 2-64 characters: lower-case letters, digits, '.', '_' or '-',"
            " starting with a letter"
        )
    _check_role(role)
    _check_password(password)
    row = PortalUserRow(
        name=name,
        role=role,
        password_hash=hash_password(password),
        disabled=False,
        session_epoch=0,
        failed_logins=0,
        created_at=ctx.clock.now(),
    )
    try:
        with ctx.db.write() as session:
            if session.scalars(select(PortalUserRow.id).where(PortalUserRow.name == name)).first():
                raise AlreadyExists(f"a portal user named {name!r} already exists")
            session.add(row)
            session.flush()
            audit.record(
                session,
                ctx,
                actor,
                "portal.user.add",
                "portal-user",
                name,
                name.encode(),
                {"name": name, "role": role},
            )
            return _user(row)
    except IntegrityError:
        raise AlreadyExists(f"a portal user named {name!r} already exists") from None


def _load(session: Session, name: str) -> PortalUserRow:
    row = session.scalars(select(PortalUserRow).where(PortalUserRow.name == name)).first()
    if row is None:
        raise NotFound("portal user", name)
    return row


def get_user(ctx: Context, user_id: int) -> PortalUser | None:
    with ctx.db.read() as session:
        row = session.get(PortalUserRow, user_id)
        return _user(row) if row is not None else None


def list_users(ctx: Context) -> list[PortalUser]:
    with ctx.db.read() as session:
        rows = session.scalars(select(PortalUserRow).order_by(PortalUserRow.name)).all()
        return [_user(r) for r in rows]


def disable_user(ctx: Context, name: str, actor: Actor) -> PortalUser:
    """Disable an account: it cannot log in and its open sessions end at once."""
    with ctx.db.write() as session:
        row = _load(session, name)
        row.disabled = True
        row.session_epoch += 1
        audit.record(session, ctx, actor, "portal.user.disable", "portal-user", name, name.encode())
        return _user(row)


def set_password(ctx: Context, name: str, password: str, actor: Actor) -> PortalUser:
    """Replace an account's password; open sessions end and the lock is lifted."""
    _check_password(password)
    with ctx.db.write() as session:
        row = _load(session, name)
        row.password_hash = hash_password(password)
        row.session_epoch += 1
        row.failed_logins = 0
        row.locked_until = None
        audit.record(
            session, ctx, actor, "portal.user.password", "portal-user", name, name.encode()
        )
        return _user(row)


def bump_session_epoch(ctx: Context, user_id: int) -> None:
    """End every session of an account (logout)."""
    with ctx.db.write() as session:
        row = session.get(PortalUserRow, user_id)
        if row is not None:
            row.session_epoch += 1


def authenticate(ctx: Context, name: str, password: str) -> PortalUser:
    """The account when ``password`` is right; Unauthenticated otherwise (one message
    for an unknown name, a wrong password and a disabled account), LoginLocked while
    the account is locked after ``MAX_FAILURES`` failures."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        row = session.scalars(select(PortalUserRow).where(PortalUserRow.name == name)).first()
        stored = row.password_hash if row is not None else _dummy_hash()
        locked_until = row.locked_until if row is not None else None
    if locked_until is not None and locked_until > now:
        raise LoginLocked(locked_until)
    ok = verify_password(password, stored)
    if row is None:
        raise Unauthenticated("wrong user name or password")
    with ctx.db.write() as session:
        fresh = session.get(PortalUserRow, row.id)
        assert fresh is not None
        if ok and not fresh.disabled:
            fresh.failed_logins = 0
            fresh.locked_until = None
            fresh.last_login_at = now
            return _user(fresh)
        fresh.failed_logins += 1
        if fresh.failed_logins >= MAX_FAILURES:
            fresh.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
            fresh.failed_logins = 0
    raise Unauthenticated("wrong user name or password")


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def create_demo_users(ctx: Context, home: Path) -> dict[str, Path]:
    """The demonstration accounts ``operator`` and ``auditor`` with random passwords,
    each written to ``home/secrets/portal-<name>.txt`` (mode 0600). Returns the files."""
    actor = Actor("cli:init", "admin")
    files: dict[str, Path] = {}
    for name in ("operator", "auditor"):
        password = secrets.token_urlsafe(18)
        create_user(ctx, name, name, password, actor)
        path = home / "secrets" / f"portal-{name}.txt"
        _write_secret(path, password)
        files[name] = path
    return files
