"""Tables of trusted lists (ETSI TS 119 612; services/trustlists.py).

Publishing (this country's list):

- ``trustlist_scheme``: this instance's scheme operator (one row, id 1): territory,
  names, address, the trusted-list signer's certificate serial, the last sequence number.
- ``trustlist_provider`` / ``trustlist_service``: the supervised providers and their
  services (type URI, digital identity, extensions);
  ``trustlist_service_status``: every status of a service with its starting time (the
  current status is the latest; the rest is the service history, §5.6).
- ``trustlist_publication``: every list and list of lists published, kept (history).
- ``trustlist_pointer``: the member lists a list of lists points at (``publish-lotl``).

Importing (the neighbours' lists):

- ``trustlist_source``: one list followed: where from, the pinned signer certificates,
  the last attempt and its error, and the import in force (never replaced by a failure).
- ``trustlist_import``: every good import of a source, kept (history).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govtrust.store.models import Base, BigId, UTCDateTime

__all__ = [
    "TrustListImportRow",
    "TrustListPointerRow",
    "TrustListProviderRow",
    "TrustListPublicationRow",
    "TrustListSchemeRow",
    "TrustListServiceRow",
    "TrustListServiceStatusRow",
    "TrustListSourceRow",
]


class TrustListSchemeRow(Base):
    __tablename__ = "trustlist_scheme"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    territory: Mapped[str] = mapped_column(String(8))
    operator_name: Mapped[str] = mapped_column(String(255))
    scheme_name: Mapped[str] = mapped_column(String(255))
    street: Mapped[str] = mapped_column(String(255))
    locality: Mapped[str] = mapped_column(String(255))
    electronic_address: Mapped[str] = mapped_column(String(255))
    information_uri: Mapped[str] = mapped_column(String(255))
    signer_serial: Mapped[str | None] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    lotl_sequence: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TrustListProviderRow(Base):
    __tablename__ = "trustlist_provider"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    trade_name: Mapped[str | None] = mapped_column(String(255))
    info_uri: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TrustListServiceRow(Base):
    __tablename__ = "trustlist_service"
    __table_args__ = (UniqueConstraint("provider_id", "name", name="uq_trustlist_service_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("trustlist_provider.id"))
    name: Mapped[str] = mapped_column(String(255))
    type_uri: Mapped[str] = mapped_column(String(255))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_sha256: Mapped[str] = mapped_column(String(64), index=True)
    additional_info: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of URIs
    qualifiers: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of URIs
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TrustListServiceStatusRow(Base):
    __tablename__ = "trustlist_service_status"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("trustlist_service.id"), index=True)
    status: Mapped[str] = mapped_column(String(255))
    starting_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(255))


class TrustListPublicationRow(Base):
    __tablename__ = "trustlist_publication"
    __table_args__ = (UniqueConstraint("kind", "sequence", name="uq_trustlist_publication"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # "tl" | "lotl"
    sequence: Mapped[int] = mapped_column(Integer)
    issued: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sha256: Mapped[str] = mapped_column(String(64))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(255))


class TrustListPointerRow(Base):
    __tablename__ = "trustlist_pointer"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    territory: Mapped[str] = mapped_column(String(8), unique=True)
    location: Mapped[str] = mapped_column(Text)
    operator_name: Mapped[str] = mapped_column(String(255))
    certificates_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TrustListSourceRow(Base):
    __tablename__ = "trustlist_source"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # "tl" | "lotl"
    url: Mapped[str | None] = mapped_column(Text)
    pinned_pem: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("trustlist_source.id"))
    current_import_id: Mapped[int | None] = mapped_column(BigId)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_reason: Mapped[str | None] = mapped_column(String(32))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TrustListImportRow(Base):
    __tablename__ = "trustlist_import"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("trustlist_source.id"), index=True)
    territory: Mapped[str] = mapped_column(String(8))
    sequence: Mapped[int] = mapped_column(Integer)
    issued: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sha256: Mapped[str] = mapped_column(String(64))
    signer_sha256: Mapped[str] = mapped_column(String(64))
    providers: Mapped[int] = mapped_column(Integer)
    services: Mapped[int] = mapped_column(Integer)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
