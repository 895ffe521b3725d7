"""Tables of the transparency ledger (govtrust.ledger, services/ledger.py).

The ``audit_event`` table is the outbox: the sequencer appends its rows, in id order, as
ledger entries. Everything one batch writes (entries, tiles that became full, the new
partial tiles, the signed checkpoint, the log's state) commits in one transaction.
``ledger_entry``, ``ledger_tile`` and ``ledger_checkpoint`` are append-only (database
triggers refuse UPDATE and DELETE, as for ``audit_event``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govtrust.store.models import Base, BigId, UTCDateTime

__all__ = [
    "LedgerCheckpointRow",
    "LedgerCosignatureRow",
    "LedgerEntryRow",
    "LedgerLogRow",
    "LedgerPartialTileRow",
    "LedgerSearchRow",
    "LedgerTileRow",
]


class LedgerLogRow(Base):
    """The log's identity and state: one row (id 1). Sequencers lock it (FOR UPDATE on
    PostgreSQL; SQLite serialises writers) so only one appends at a time."""

    __tablename__ = "ledger_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(255))
    key_ref: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    # The highest audit_event id sequenced: every id up to it is in the log or was
    # never committed.
    last_audit_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # Entries below this index are in ledger_search.
    indexed_size: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LedgerEntryRow(Base):
    """One leaf: ``entry`` is the audit_event record, byte for byte (RFC 9162 §2.1.1
    hashes ``0x00 || entry``). Nothing else is indexed on the append path; search keys
    live in ``ledger_search``."""

    __tablename__ = "ledger_entry"

    idx: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    audit_event_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    entry: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerSearchRow(Base):
    """The search index, filled behind the sequencer (up to ``ledger_log.indexed_size``):
    ``key8`` is the first 8 bytes, as a signed integer, of SHA-256 of a search key
    (``sha256:<artifact hash>``, ``serial:<serial>``, ``subject:<subject key>``, see
    ``govtrust.ledger.entries.search_keys``) of the entry ``idx``; hits are confirmed
    from the entry itself."""

    __tablename__ = "ledger_search"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy's idiom

    key8: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class LedgerTileRow(Base):
    """A full tile (C2SP tlog-tiles: 256 hashes, 8,192 bytes): immutable."""

    __tablename__ = "ledger_tile"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerPartialTileRow(Base):
    """The rightmost, partial tile of each level for the current tree size (1..255
    hashes): replaced by every batch. A partial tile of any earlier checkpoint is a
    prefix of it, or of the full tile it became."""

    __tablename__ = "ledger_partial_tile"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerCheckpointRow(Base):
    """One signed checkpoint per batch (C2SP tlog-checkpoint as a signed note)."""

    __tablename__ = "ledger_checkpoint"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    last_audit_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LedgerCosignatureRow(Base):
    """A witness cosignature line (C2SP tlog-cosignature) on the checkpoint of ``size``:
    served appended to that checkpoint. Written by the witnessing code."""

    __tablename__ = "ledger_cosignature"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    witness_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
