"""Storage: SQLAlchemy 2 on SQLite or PostgreSQL, schema managed by Alembic."""

from __future__ import annotations

from govtrust.store.engine import Database, upgrade
from govtrust.store.ledger_models import (
    LedgerCheckpointRow,
    LedgerCosignatureRow,
    LedgerEntryRow,
    LedgerLogRow,
    LedgerPartialTileRow,
    LedgerSearchRow,
    LedgerTileRow,
)
from govtrust.store.models import (
    ApiToken,
    AuditEventRow,
    Base,
    CertificateAuthority,
    CertificateRow,
    OcspResponseRow,
)
from govtrust.store.portal_models import PortalReportRow, PortalUserRow
from govtrust.store.signing_models import CredentialRow, CredentialTokenRow, TsaTokenRow
from govtrust.store.trustlist_models import (
    TrustListImportRow,
    TrustListPointerRow,
    TrustListProviderRow,
    TrustListPublicationRow,
    TrustListSchemeRow,
    TrustListServiceRow,
    TrustListServiceStatusRow,
    TrustListSourceRow,
)
from govtrust.store.witness_models import WitnessKeyRow, WitnessLogRow, WitnessPeerRow

__all__ = [
    "ApiToken",
    "AuditEventRow",
    "Base",
    "CertificateAuthority",
    "CertificateRow",
    "CredentialRow",
    "CredentialTokenRow",
    "Database",
    "LedgerCheckpointRow",
    "LedgerCosignatureRow",
    "LedgerEntryRow",
    "LedgerLogRow",
    "LedgerPartialTileRow",
    "LedgerSearchRow",
    "LedgerTileRow",
    "OcspResponseRow",
    "PortalReportRow",
    "PortalUserRow",
    "TrustListImportRow",
    "TrustListPointerRow",
    "TrustListProviderRow",
    "TrustListPublicationRow",
    "TrustListSchemeRow",
    "TrustListServiceRow",
    "TrustListServiceStatusRow",
    "TrustListSourceRow",
    "TsaTokenRow",
    "WitnessKeyRow",
    "WitnessLogRow",
    "WitnessPeerRow",
    "upgrade",
]
