"""Tables of cross-country witnessing (C2SP tlog-witness; services/ledger_witness.py).

- ``witness_key``: this instance's own witness identity (one row, id 1): its cosigner
  name and the Ed25519 key in key custody that signs cosignatures (tlog-cosignature).
- ``witness_log``: the logs this instance witnesses: each log's origin, its verifier
  key, and the latest checkpoint cosigned for it (size, root hash, the note itself as
  evidence). tlog-witness: "the witness is only required to keep track of the latest
  checkpoint it observed and verified".
- ``witness_peer``: the witnesses this instance's own log asks for cosignatures: where
  to submit, their cosigner key, and the size each last cosigned.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govtrust.store.models import Base, UTCDateTime

__all__ = ["WitnessKeyRow", "WitnessLogRow", "WitnessPeerRow"]


class WitnessKeyRow(Base):
    """Our witness: cosigner name, key reference in custody, raw Ed25519 public key."""

    __tablename__ = "witness_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    key_ref: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class WitnessLogRow(Base):
    """A log we witness, and the latest checkpoint we cosigned for it (size 0 and the
    empty-tree root until the first)."""

    __tablename__ = "witness_log"

    origin: Mapped[str] = mapped_column(String(255), primary_key=True)
    vkey: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    checkpoint: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WitnessPeerRow(Base):
    """A witness of our log: ``url`` is its tlog-witness submission prefix, ``vkey`` its
    cosigner key (type 0x04), ``size`` the size of our checkpoint it last cosigned."""

    __tablename__ = "witness_peer"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    vkey: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cosigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
