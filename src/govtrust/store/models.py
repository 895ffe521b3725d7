"""Tables. Every schema change goes through an Alembic migration in ``migrations/``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiToken",
    "AuditEventRow",
    "Base",
    "CertificateAuthority",
    "CertificateRow",
    "OcspResponseRow",
    "UTCDateTime",
]

BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC, on every engine (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    pass


class CertificateAuthority(Base):
    __tablename__ = "ca"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("ca.id"))
    subject: Mapped[str] = mapped_column(Text)
    cert_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_ref: Mapped[str] = mapped_column(String(200))
    key_spec: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # RFC 6960 §4.1.1 CertID hashes of this CA's name and key, hex, for OCSP lookups.
    name_sha1: Mapped[str] = mapped_column(String(40))
    key_sha1: Mapped[str] = mapped_column(String(40), index=True)
    name_sha256: Mapped[str] = mapped_column(String(64))
    key_sha256: Mapped[str] = mapped_column(String(64), index=True)
    crl_number: Mapped[int] = mapped_column(BigInteger, default=0)
    crl_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    crl_this_update: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    crl_next_update: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The delegated OCSP responder's certificate (a row of ``certificate``). No foreign
    # key: the two tables would reference each other.
    ocsp_signer_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CertificateRow(Base):
    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Lower-case hex without leading zeros; unique across the instance (RFC 5280 §4.1.2.2
    # asks uniqueness per issuer; we enforce the stronger property by constraint).
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("ca.id"))
    profile: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    sans: Mapped[str] = mapped_column(Text, default="[]")
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="valid")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    invalidity_date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The DER of this certificate's RFC 5280 §5.1.2.6 revokedCertificates entry, encoded
    # once at revocation so that CRL generation is a concatenation.
    crl_entry: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_ref: Mapped[str | None] = mapped_column(String(200))
    subject_salt: Mapped[bytes | None] = mapped_column(LargeBinary)
    renewed_from: Mapped[str | None] = mapped_column(String(40))
    issued_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Covering for CRL generation (migration 0005); its (ca_id, status) prefix serves
        # the look-ups by CA and status.
        Index("ix_certificate_crl", "ca_id", "status", "crl_entry"),
        Index("ix_certificate_not_after", "not_after"),
        Index("ix_certificate_profile", "profile"),
    )


class OcspResponseRow(Base):
    """Pre-signed OCSP responses (RFC 5019 §2.2): the hot path only reads these."""

    __tablename__ = "ocsp_response"

    ca_id: Mapped[int] = mapped_column(ForeignKey("ca.id"), primary_key=True)
    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    hash_alg: Mapped[str] = mapped_column(String(8), primary_key=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    this_update: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class AuditEventRow(Base):
    """Append-only (database triggers refuse UPDATE and DELETE).

    ``record`` is the event's canonical JSON (govtrust.audit), the exact bytes a
    transparency log appends as a leaf.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(128), index=True)
    object_sha256: Mapped[str] = mapped_column(String(64))
    record: Mapped[bytes] = mapped_column(LargeBinary)


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    profiles: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
