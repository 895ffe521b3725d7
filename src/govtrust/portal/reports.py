"""Validation reports a visitor asked to keep behind a link (``portal_report``).

Nothing is kept unless asked. The link's token is 32 random bytes (256 bits,
``secrets.token_urlsafe``); the table stores only its SHA-256, so reading the table does
not give the links. A kept report is the view the verdict page showed, the sealed JSON
report and, when it could be rendered, the sealed PDF; never the uploaded document.
Expired reports are deleted whenever a new one is kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from govtrust.errors import NotFound
from govtrust.services import Context
from govtrust.store.portal_models import PortalReportRow

__all__ = ["KeptReport", "keep_report", "load_report"]

_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class KeptReport:
    view: dict[str, Any]
    sealed_json: bytes
    pdf: bytes | None
    expires_at: dt.datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def keep_report(
    ctx: Context, view: dict[str, Any], sealed_json: bytes, pdf: bytes | None, days: int
) -> tuple[str, dt.datetime]:
    """Keep a report for ``days``; returns the link token and the expiry."""
    token = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    expires = now + dt.timedelta(days=days)
    with ctx.db.write() as session:
        session.execute(delete(PortalReportRow).where(PortalReportRow.expires_at < now))
        session.add(
            PortalReportRow(
                token_sha256=_digest(token),
                created_at=now,
                expires_at=expires,
                view=json.dumps(view, ensure_ascii=False),
                sealed_json=sealed_json,
                pdf=pdf,
            )
        )
    return token, expires


def load_report(ctx: Context, token: str) -> KeptReport:
    """A kept report by its link token; NotFound when unknown or expired."""
    if not _TOKEN.fullmatch(token):
        raise NotFound("report", "this link")
    with ctx.db.read() as session:
        row = session.scalars(
            select(PortalReportRow).where(PortalReportRow.token_sha256 == _digest(token))
        ).first()
        if row is None or row.expires_at < ctx.clock.now():
            raise NotFound("report", "this link (it may have expired)")
        return KeptReport(json.loads(row.view), row.sealed_json, row.pdf, row.expires_at)
