"""Tables of the web portal (govtrust.portal, services/portal_users.py).

- ``portal_user``: operator accounts (name, role, scrypt password hash, whether the
  account is disabled, a session epoch that logging out bumps so every cookie issued
  before is void, and the failed-login counter behind the login rate limit).
- ``portal_report``: validation reports a visitor asked to keep behind a link. Only
  the SHA-256 of the link's random token is stored, so the table alone does not
  reveal the links; the uploaded document itself is never stored.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govtrust.store.models import Base, UTCDateTime

__all__ = ["PortalReportRow", "PortalUserRow"]


class PortalUserRow(Base):
    __tablename__ = "portal_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PortalReportRow(Base):
    __tablename__ = "portal_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    view: Mapped[str] = mapped_column(Text)
    sealed_json: Mapped[bytes] = mapped_column(LargeBinary)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
