"""Storage: SQLAlchemy 2 on SQLite or PostgreSQL, schema managed by Alembic."""

from __future__ import annotations

from govtrust.store.engine import Database, upgrade
from govtrust.store.models import (
    ApiToken,
    AuditEventRow,
    Base,
    CertificateAuthority,
    CertificateRow,
    OcspResponseRow,
)

__all__ = [
    "ApiToken",
    "AuditEventRow",
    "Base",
    "CertificateAuthority",
    "CertificateRow",
    "Database",
    "OcspResponseRow",
    "upgrade",
]
