"""Tables of the signing domain: credentials (keys in custody with their certificate),
the timestamp authority's serial numbers, and API tokens bound to a credential.

Migration: ``migrations/versions/0003_signing.py`` (branch ``signing``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from govtrust.store.models import Base, BigId, UTCDateTime

__all__ = ["CredentialRow", "CredentialTokenRow", "TsaTokenRow"]


class CredentialRow(Base):
    """A signing credential: a named certificate whose private key govtrust holds.

    The key's ``KeyRef`` is on the certificate row (``certificate.key_ref``): a credential
    adds the name that signers use (``govtrust sign --as NAME``) and who made it.
    """

    __tablename__ = "credential"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    profile: Mapped[str] = mapped_column(String(64))
    certificate_id: Mapped[int] = mapped_column(BigId, ForeignKey("certificate.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(128))


class TsaTokenRow(Base):
    """One row per timestamp token issued: the row's key *is* the token's serial number.

    RFC 3161 §2.4.2 asks serial numbers unique per TSA; govtrust also makes them increase.
    The key is an auto-incremented integer: a sequence (``BIGSERIAL``) on PostgreSQL, so
    concurrent transactions on several nodes never wait on each other for it; on SQLite
    ``AUTOINCREMENT`` (never reusing a number, even after a delete) under the database
    write lock every writer takes (``BEGIN IMMEDIATE``). Either way numbers are handed out
    in increasing order, across processes, and a rolled-back transaction only leaves a
    gap. No request content is kept.
    """

    __tablename__ = "tsa_token"
    __table_args__ = ({"sqlite_autoincrement": True},)

    serial: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    gen_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    credential_id: Mapped[int] = mapped_column(Integer, ForeignKey("credential.id"))


class CredentialTokenRow(Base):
    """An API token bound to one credential, for remote signing (``POST /sign``): such a
    token may sign with that credential only. A token has at most one binding."""

    __tablename__ = "credential_token"

    token_id: Mapped[int] = mapped_column(Integer, ForeignKey("api_token.id"), primary_key=True)
    credential_id: Mapped[int] = mapped_column(Integer, ForeignKey("credential.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(128))
