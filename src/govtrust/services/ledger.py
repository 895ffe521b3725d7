"""Use cases of the transparency ledger: sequence the audit outbox into the RFC 9162
Merkle log, sign C2SP checkpoints, serve tiles and proofs, search, receipts, and the
local tamper check.

The ``audit_event`` table is the outbox. Every action writes its canonical record there
in the same transaction as the action, so an acknowledged action always has a record;
the sequencer appends every record, in audit id order, as one entry (the record's bytes,
unchanged), and commits each batch (entries, tiles that became full, the new partial
tiles, one signed checkpoint, the log state) in one transaction. A crash at any point
loses nothing acknowledged: the next run continues from the last committed batch.

Ordering across concurrent writers: on SQLite writers are serialised (BEGIN IMMEDIATE),
so audit ids become visible in order. On PostgreSQL a transaction may commit id 7 after
id 8 is visible; the sequencer therefore first takes ``LOCK TABLE audit_event IN SHARE
MODE`` for an instant, which waits for every transaction that has inserted into the
table, and reads ``max(id)``: every id up to that watermark is final (committed or
never), and only those are appended.

Before signing, each batch checks that the tree it extends is the one the previous
checkpoint signed, and verifies an RFC 9162 consistency proof from the previous
checkpoint to the new one (tlog-checkpoint: a log MUST NOT sign a checkpoint
inconsistent with one it signed before).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import itertools
import json
import logging
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import IntegrityError, OperationalError

from govtrust.ca.names import format_serial, parse_serial
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.signer import KeyRef
from govtrust.errors import (
    ConfigError,
    InputError,
    LedgerError,
    NotFound,
    TamperError,
)
from govtrust.ledger.entries import LedgerEntry, key8, search_keys
from govtrust.ledger.hashing import EMPTY_ROOT, leaf_hash
from govtrust.ledger.integrity import CheckReport, StoredCheckpoint, StoredEntry, check_log
from govtrust.ledger.note import (
    Checkpoint,
    Ed25519Verifier,
    append_signature_lines,
    sign_note,
    split_note,
    vkey_string,
)
from govtrust.ledger.proofs import consistency_proof, inclusion_proof, verify_consistency
from govtrust.ledger.receipts import build_receipt
from govtrust.ledger.tiles import (
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    Frontier,
    LruTileCache,
    TileHashSource,
    TileRef,
    encode_entry_bundle,
    root_from_tiles,
    split_tile,
    tile_hashes_needed,
    tile_width,
)
from govtrust.services import audit
from govtrust.services.context import Actor, Context

__all__ = [
    "LEDGER_ACTOR",
    "VERIFIED_MARKER",
    "LogInfo",
    "SequenceReport",
    "StoredCheckpointInfo",
    "TileData",
    "add_cosignature",
    "check",
    "checkpoint_note",
    "consistency",
    "ensure_log",
    "inclusion",
    "index_search",
    "latest_checkpoint",
    "log_info",
    "read_tile",
    "receipt",
    "search",
    "sequence",
    "startup_check",
]

log = logging.getLogger("govtrust.ledger")

LEDGER_ACTOR = Actor("system:ledger", "admin")
KEY_LABEL = "ledger-log"
VERIFIED_MARKER = "ledger-verified.json"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


# ---- the log's identity ----------------------------------------------------------------


@dataclass(frozen=True)
class LogInfo:
    """The log: its origin line (also the key name), its key in custody, its vkey."""

    origin: str
    key_ref: KeyRef
    public_key: bytes

    @property
    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.origin, Ed25519PublicKey.from_public_bytes(self.public_key))

    @property
    def vkey(self) -> str:
        return vkey_string(self.origin, Ed25519PublicKey.from_public_bytes(self.public_key))


def _load_log(conn: Connection) -> LogInfo | None:
    row = conn.execute(
        text("SELECT origin, key_ref, public_key FROM ledger_log WHERE id = 1")
    ).first()
    if row is None:
        return None
    return LogInfo(row.origin, KeyRef.parse(row.key_ref), bytes(row.public_key))


def log_info(ctx: Context) -> LogInfo:
    """The existing log; NotFound before the first ``sequence``."""
    with ctx.db.read() as session:
        info = _load_log(session.connection())
    if info is None:
        raise NotFound("ledger", "no log yet (run 'govtrust ledger sequence')")
    return info


def ensure_log(ctx: Context) -> LogInfo:
    """The log, created on first use: an Ed25519 key in key custody (software backend,
    label ``ledger-log``), the size-0 checkpoint signed with it, and a ``ledger.create``
    audit event (itself the log's first entry)."""
    origin = ctx.settings.ledger.origin_for(ctx.settings.public_base_url)
    with ctx.db.read() as session:
        info = _load_log(session.connection())
    if info is None:
        signer = ctx.custody.generate("software", KEY_LABEL, KeySpec.ED25519)
        public = signer.public_key()
        assert isinstance(public, Ed25519PublicKey)
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        candidate = LogInfo(origin, signer.ref, raw)
        now = ctx.clock.now()
        try:
            with ctx.db.write() as session:
                conn = session.connection()
                conn.execute(
                    text(
                        "INSERT INTO ledger_log (id, origin, key_ref, public_key, size, "
                        "last_audit_id, indexed_size, created_at) "
                        "VALUES (1, :o, :k, :p, 0, 0, 0, :t)"
                    ),
                    {"o": origin, "k": str(signer.ref), "p": raw, "t": _naive(now)},
                )
                note = _sign(ctx, candidate, Checkpoint(origin, 0, EMPTY_ROOT))
                conn.execute(
                    text(
                        "INSERT INTO ledger_checkpoint (size, root, note, last_audit_id, "
                        "created_at) VALUES (0, :r, :n, 0, :t)"
                    ),
                    {"r": EMPTY_ROOT, "n": note, "t": _naive(now)},
                )
                audit.record(
                    session,
                    ctx,
                    LEDGER_ACTOR,
                    "ledger.create",
                    "ledger",
                    origin,
                    raw,
                    {"origin": origin, "key": candidate.vkey},
                )
            info = candidate
            log.info("ledger created: origin %s, key %s", origin, candidate.vkey)
        except IntegrityError:  # another process created it first
            with ctx.db.read() as session:
                info = _load_log(session.connection())
            assert info is not None
    if info.origin != origin:
        raise ConfigError(
            f"[ledger] origin is {origin!r} but the log was created as {info.origin!r}: "
            "a log's origin cannot change"
        )
    return info


def _naive(t: dt.datetime) -> dt.datetime:
    """UTC without zone, as UTCDateTime stores it (raw SQL bypasses the TypeDecorator)."""
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def _sign(ctx: Context, info: LogInfo, checkpoint: Checkpoint) -> str:
    handle = ctx.custody.load(info.key_ref).as_private_key()
    if not isinstance(handle, Ed25519PrivateKey):
        raise LedgerError("the ledger key is not an Ed25519 key")
    return sign_note(checkpoint.body(), info.origin, handle)


# ---- sequencing ------------------------------------------------------------------------


@dataclass
class SequenceReport:
    appended: int = 0
    checkpoints: list[int] = field(default_factory=list)
    size: int = 0


def _watermark(ctx: Context) -> int | None:
    """PostgreSQL: the highest audit id below which every id is final (see module
    docstring). None on SQLite, where commit order is id order."""
    if ctx.db.dialect != "postgresql":
        return None
    with ctx.db.write() as session:
        conn = session.connection()
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(text("LOCK TABLE audit_event IN SHARE MODE"))
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_event")).scalar_one())


def _fetch(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """Rows of a read on the session's own DBAPI connection (no per-row SQLAlchemy
    processing: the proof and tile paths run this several times per request)."""
    cur, query = _raw(conn, sql)
    try:
        cur.execute(query, params)
        return list(cur.fetchall())
    finally:
        cur.close()


def _tile_body(conn: Connection, ref: TileRef) -> bytes:
    """A stored tile's body: the full tile, or the first ``ref.width`` hashes of the
    stored one (full, or the current partial tile). NotFound if there are fewer."""
    want = ref.width * 32
    rows = _fetch(
        conn, "SELECT data FROM ledger_tile WHERE level = {p} AND idx = {p}", (ref.level, ref.index)
    )
    if not rows:
        rows = _fetch(
            conn,
            "SELECT data FROM ledger_partial_tile WHERE level = {p} AND idx = {p}",
            (ref.level, ref.index),
        )
    if not rows or len(rows[0][0]) < want:
        raise NotFound("tile", ref.path)
    return bytes(rows[0][0][:want])


def _load_frontier(conn: Connection, size: int) -> Frontier:
    rows = conn.execute(text("SELECT level, idx, data FROM ledger_partial_tile")).all()
    partial = {r.level: split_tile(bytes(r.data)) for r in rows}
    needed = {ref.level: ref for ref in tile_hashes_needed(size)}
    for level, ref in needed.items():
        got = next((r for r in rows if r.level == level), None)
        if got is None or got.idx != ref.index:
            raise TamperError(
                ref.index * TILE_WIDTH ** (level + 1),
                "tile",
                f"the partial tile at level {level} is missing or misplaced",
            )
    if set(partial) - set(needed):
        raise TamperError(size, "tile", "a partial tile exists where the tree has none")
    return Frontier(size, partial)


_STATE = "SELECT size, last_audit_id FROM ledger_log WHERE id = 1"
_STATE_FOR_UPDATE = _STATE + " FOR UPDATE"
_PENDING = "SELECT id, record FROM audit_event WHERE id > {p} ORDER BY id LIMIT {p}"
_PENDING_UPTO = (
    "SELECT id, record FROM audit_event WHERE id > {p} AND id <= {p} ORDER BY id LIMIT {p}"
)


def _raw(conn: Connection, sql: str) -> tuple[Any, str]:
    """The DBAPI cursor of the session's own connection (same transaction) and ``sql``
    in its paramstyle: the append path skips SQLAlchemy's per-row processing."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    return dbapi.cursor(), sql.format(p="?" if conn.dialect.name == "sqlite" else "%s")


def _append_batch(ctx: Context, info: LogInfo, watermark: int | None) -> int:
    """Append one batch and sign its checkpoint; the number of entries appended."""
    limit = ctx.settings.ledger.batch_max_size
    pg = ctx.db.dialect == "postgresql"
    with ctx.db.write() as session:
        conn = session.connection()
        state = conn.execute(text(_STATE_FOR_UPDATE if pg else _STATE)).one()
        size, last_audit = int(state.size), int(state.last_audit_id)
        if watermark is None:
            cur, query = _raw(conn, _PENDING)
            cur.execute(query, (last_audit, limit))
        else:
            cur, query = _raw(conn, _PENDING_UPTO)
            cur.execute(query, (last_audit, watermark, limit))
        rows = cur.fetchall()
        cur.close()
        if not rows:
            return 0
        previous = conn.execute(
            text("SELECT size, root FROM ledger_checkpoint ORDER BY size DESC LIMIT 1")
        ).one()
        frontier = _load_frontier(conn, size)
        # The tree being extended must be the one the last checkpoint signed.
        if int(previous.size) != size or frontier.root() != bytes(previous.root):
            raise TamperError(
                size, "checkpoint", f"the stored tree of size {size} is not the signed one"
            )
        entries = []
        leaves = []
        for i, (audit_id, record) in enumerate(rows):
            record = bytes(record)
            if len(record) > MAX_ENTRY_SIZE:
                raise LedgerError(
                    f"audit event {audit_id} is {len(record)} bytes, more than an entry may be"
                )
            leaves.append(leaf_hash(record))
            entries.append((size + i, audit_id, record))
        completed = frontier.extend(leaves)
        _insert_entries(conn, entries)
        if completed:
            conn.execute(
                text("INSERT INTO ledger_tile (level, idx, data) VALUES (:l, :i, :d)"),
                [{"l": t.level, "i": t.index, "d": t.data} for t in completed],
            )
        conn.execute(text("DELETE FROM ledger_partial_tile"))
        partial = frontier.partial_tile_data()
        if partial:
            conn.execute(
                text("INSERT INTO ledger_partial_tile (level, idx, data) VALUES (:l, :i, :d)"),
                [
                    {"l": ref.level, "i": ref.index, "d": partial[ref.level]}
                    for ref in frontier.partial_tiles()
                ],
            )
        new_size = frontier.size
        root = frontier.root()
        if size > 0:
            proof = consistency_proof(size, new_size, _hash_source(conn, new_size, None))
            verify_consistency(size, new_size, proof, bytes(previous.root), root)
        note = _sign(ctx, info, Checkpoint(info.origin, new_size, root))
        new_last = int(rows[-1][0])
        conn.execute(
            text(
                "INSERT INTO ledger_checkpoint (size, root, note, last_audit_id, created_at) "
                "VALUES (:s, :r, :n, :a, :t)"
            ),
            {"s": new_size, "r": root, "n": note, "a": new_last, "t": _naive(ctx.clock.now())},
        )
        conn.execute(
            text("UPDATE ledger_log SET size = :s, last_audit_id = :a WHERE id = 1"),
            {"s": new_size, "a": new_last},
        )
        return len(rows)


def _bulk_insert(
    conn: Connection, table: str, columns: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    """Append rows the fastest way each engine has: PostgreSQL's COPY (psycopg
    ``Cursor.copy``), SQLite's executemany on the driver cursor."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        with (
            dbapi.cursor() as cur,  # type: ignore[attr-defined]
            cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("{p}" for _ in columns.split(","))
    cur, query = _raw(conn, f"INSERT INTO {table} ({columns}) VALUES ({marks})")  # noqa: S608
    cur.executemany(query, rows)
    cur.close()


def _insert_entries(conn: Connection, entries: list[tuple[int, int, bytes]]) -> None:
    _bulk_insert(conn, "ledger_entry", "idx, audit_event_id, entry", entries)


def sequence(ctx: Context, *, max_batches: int | None = None, index: bool = True) -> SequenceReport:
    """Append every pending audit event, one signed checkpoint per batch of at most
    ``[ledger] batch_max_size`` entries, then (``index``) bring the search index up to
    date; returns what was appended."""
    info = ensure_log(ctx)
    report = SequenceReport()
    batches = 0
    while max_batches is None or batches < max_batches:
        try:
            watermark = _watermark(ctx)
        except OperationalError:
            log.warning("ledger: audit_event stayed locked; sequencing later")
            break
        appended = _append_batch(ctx, info, watermark)
        if not appended:
            break
        batches += 1
        report.appended += appended
        with ctx.db.read() as session:
            report.size = int(
                session.execute(text("SELECT size FROM ledger_log WHERE id = 1")).scalar_one()
            )
        report.checkpoints.append(report.size)
        if appended < ctx.settings.ledger.batch_max_size:
            break
    while index and index_search(ctx):
        pass
    if not report.checkpoints:
        with ctx.db.read() as session:
            report.size = int(
                session.execute(text("SELECT size FROM ledger_log WHERE id = 1")).scalar_one()
            )
    return report


# ---- reading: checkpoints, tiles, proofs ----------------------------------------------


@dataclass(frozen=True)
class StoredCheckpointInfo:
    size: int
    root: bytes
    note: str


def latest_checkpoint(ctx: Context) -> StoredCheckpointInfo:
    with ctx.db.read() as session:
        row = session.execute(
            text("SELECT size, root, note FROM ledger_checkpoint ORDER BY size DESC LIMIT 1")
        ).first()
    if row is None:
        raise NotFound("ledger checkpoint", "none yet")
    return StoredCheckpointInfo(int(row.size), bytes(row.root), row.note)


def checkpoint_note(ctx: Context) -> str:
    """The latest signed checkpoint with the witness cosignature lines stored for it."""
    cp = latest_checkpoint(ctx)
    with ctx.db.read() as session:
        lines = (
            session.execute(
                text("SELECT line FROM ledger_cosignature WHERE size = :s ORDER BY witness_name"),
                {"s": cp.size},
            )
            .scalars()
            .all()
        )
    if not lines:
        return cp.note
    try:
        return append_signature_lines(cp.note, lines)
    except LedgerError:
        log.error("ledger: a stored cosignature line for size %d is malformed", cp.size)
        return cp.note


def add_cosignature(ctx: Context, size: int, witness_name: str, line: str) -> None:
    """Store a witness's cosignature line for the checkpoint of ``size`` (the witnessing
    code verifies it first); served appended to that checkpoint. Replaces an earlier
    line of the same witness for the same size."""
    split_note("x\n\n" + (line if line.endswith("\n") else line + "\n"))  # form only
    with ctx.db.write() as session:
        conn = session.connection()
        exists = conn.execute(
            text("SELECT 1 FROM ledger_checkpoint WHERE size = :s"), {"s": size}
        ).first()
        if exists is None:
            raise NotFound("ledger checkpoint", str(size))
        conn.execute(
            text("DELETE FROM ledger_cosignature WHERE size = :s AND witness_name = :w"),
            {"s": size, "w": witness_name},
        )
        conn.execute(
            text(
                "INSERT INTO ledger_cosignature (size, witness_name, line, created_at) "
                "VALUES (:s, :w, :l, :t)"
            ),
            {"s": size, "w": witness_name, "l": line.rstrip("\n"), "t": _naive(ctx.clock.now())},
        )


_EXPANDED = LruTileCache(8192)  # (db url, level, idx) -> expanded full tile (~16 KiB each)


def _hash_source(conn: Connection, size: int, db_key: str | None) -> TileHashSource:
    """Subtree hashes of the stored tree of ``size`` leaves; full tiles are immutable,
    so their expansions are shared across requests (``db_key`` None: not shared, as in
    the sequencer's own uncommitted transaction)."""
    return TileHashSource(
        size,
        lambda ref: _tile_body(conn, ref),
        cache=_EXPANDED if db_key is not None else None,
        cache_key=db_key,
    )


@dataclass(frozen=True)
class TileData:
    body: bytes
    immutable: bool


def read_tile(ctx: Context, ref: TileRef) -> TileData:
    """A tile or entry bundle of the latest checkpoint's tree (tlog-tiles): a full one,
    or a partial one of width W no larger than the tile has now (a partial tile of an
    earlier checkpoint is a prefix of today's tile). NotFound otherwise."""
    with ctx.db.read() as session:
        conn = session.connection()
        size = _latest_size(conn)
        have = tile_width(ref.level, ref.index, size)
        if have == 0 or ref.width > have or (ref.width == TILE_WIDTH and have != TILE_WIDTH):
            raise NotFound("tile", ref.path)
        if not ref.entries:
            if ref.width == TILE_WIDTH:
                levels = _hash_source(conn, size, ctx.db.url).tile(ref.level, ref.index)
                body = b"".join(levels[0])
            else:
                body = _tile_body(conn, ref)
            return TileData(body, ref.width == TILE_WIDTH)
        start = ref.index * TILE_WIDTH
        rows = conn.execute(
            text("SELECT entry FROM ledger_entry WHERE idx >= :a AND idx < :b ORDER BY idx"),
            {"a": start, "b": start + ref.width},
        ).all()
    if len(rows) != ref.width:
        raise LedgerError(f"entries of {ref.path} are missing from the database")
    return TileData(encode_entry_bundle(bytes(r.entry) for r in rows), ref.width == TILE_WIDTH)


def _latest_size(conn: Connection) -> int:
    size = _fetch(conn, "SELECT max(size) FROM ledger_checkpoint", ())[0][0]
    if size is None:
        raise NotFound("ledger checkpoint", "none yet")
    return int(size)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _parse_sha256(value: str) -> bytes:
    value = value.strip()
    if _HEX64.fullmatch(value):
        return bytes.fromhex(value)
    try:
        digest = base64.b64decode(value, validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != 32:
        raise InputError("sha256 must be 64 hex digits or the base64 of 32 bytes")
    return digest


def _tree_size(conn: Connection, size: int | None) -> int:
    latest = _latest_size(conn)
    if size is None:
        return latest
    if size < 0:
        raise InputError("tree size must not be negative")
    if size > latest:
        raise NotFound("tree size", f"{size} (the latest checkpoint has {latest})")
    return size


def inclusion(
    ctx: Context, *, index: int | None = None, sha256: str | None = None, size: int | None = None
) -> dict[str, Any]:
    """RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` (or of the first entry about
    the artifact ``sha256``) in the tree of ``size`` leaves (default: the latest
    checkpoint's), hashes in base64."""
    if (index is None) == (sha256 is None):
        raise InputError("give exactly one of index or sha256")
    with ctx.db.read() as session:
        conn = session.connection()
        tree = _tree_size(conn, size)
        if sha256 is not None:
            found = _by_sha256(conn, _parse_sha256(sha256), tree, 1)
            if not found:
                raise NotFound("ledger entry", f"sha256 {sha256} in a tree of size {tree}")
            index = found[0][0]
        assert index is not None
        if index < 0:
            raise InputError("leaf index must not be negative")
        if index >= tree:
            raise NotFound("ledger entry", f"index {index} in a tree of size {tree}")
        entry = _fetch(conn, "SELECT entry FROM ledger_entry WHERE idx = {p}", (index,))[0][0]
        proof = inclusion_proof(index, tree, _hash_source(conn, tree, ctx.db.url))
    return {
        "leaf_index": index,
        "tree_size": tree,
        "leaf_hash": _b64(leaf_hash(bytes(entry))),
        "entry": _b64(bytes(entry)),
        "inclusion_path": [_b64(p) for p in proof],
    }


def consistency(ctx: Context, first: int, second: int | None = None) -> dict[str, Any]:
    """RFC 9162 §2.1.4.1 consistency proof between the trees of ``first`` and ``second``
    leaves (default: the latest checkpoint's size); 0 < first <= second."""
    with ctx.db.read() as session:
        conn = session.connection()
        second = _tree_size(conn, second)
        if first <= 0:
            raise InputError("the first tree size must be positive")
        if first > second:
            raise InputError(f"the first tree size {first} is larger than the second {second}")
        proof = consistency_proof(first, second, _hash_source(conn, second, ctx.db.url))
    return {
        "first": first,
        "second": second,
        "consistency_path": [_b64(p) for p in proof],
    }


# ---- search and receipts ---------------------------------------------------------------


def _subject_key(subject: str) -> str:
    subject = subject.strip()
    if not subject:
        raise InputError("subject must not be empty")
    return subject.lower()


def _entries_at(conn: Connection, indexes: list[int]) -> list[tuple[int, bytes]]:
    out = []
    for chunk in range(0, len(indexes), 500):
        part = indexes[chunk : chunk + 500]
        rows = conn.execute(
            text("SELECT idx, entry FROM ledger_entry WHERE idx IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": part},
        ).all()
        out += [(int(r.idx), bytes(r.entry)) for r in rows]
    return sorted(out)


def _by_sha256(conn: Connection, digest: bytes, size: int, limit: int) -> list[tuple[int, bytes]]:
    """Entries about the artifact ``digest`` below ``size``."""
    return _by_key(conn, "sha256:" + digest.hex(), size, limit)


def _by_key(conn: Connection, key: str, size: int, limit: int) -> list[tuple[int, bytes]]:
    """Entries with search key ``key`` below ``size``: the search index up to its
    ``indexed_size``, then a scan of the few entries the indexer has not reached."""
    indexed = int(
        conn.execute(text("SELECT indexed_size FROM ledger_log WHERE id = 1")).scalar_one()
    )
    candidates = [
        int(i)
        for i in conn.execute(
            text("SELECT idx FROM ledger_search WHERE key8 = :k AND idx < :n ORDER BY idx"),
            {"k": key8(key), "n": min(size, indexed)},
        ).scalars()
    ]
    found = [(i, e) for i, e in _entries_at(conn, candidates) if key in search_keys(e)]
    position = indexed
    while position < size and len(found) < limit:
        rows = conn.execute(
            text("SELECT idx, entry FROM ledger_entry WHERE idx >= :a AND idx < :b ORDER BY idx"),
            {"a": position, "b": min(size, position + 10_000)},
        ).all()
        found += [(int(r.idx), bytes(r.entry)) for r in rows if key in search_keys(bytes(r.entry))]
        position += 10_000
    return found[:limit]


def _insert_search_keys(conn: Connection, keys: list[tuple[int, int]]) -> None:
    _bulk_insert(conn, "ledger_search", "key8, idx", keys)


_INDEX_STATE = "SELECT size, indexed_size FROM ledger_log WHERE id = 1"
_INDEX_STATE_FOR_UPDATE = _INDEX_STATE + " FOR UPDATE"


def index_search(ctx: Context, *, max_entries: int = 100_000) -> int:
    """Add entries the sequencer appended to the search index (serial and subject keys,
    ``ledger_search``); returns how many entries were indexed. Runs behind the
    sequencer so the append path keeps one index only; searches scan the short tail."""
    pg = ctx.db.dialect == "postgresql"
    with ctx.db.write() as session:
        conn = session.connection()
        state = conn.execute(text(_INDEX_STATE_FOR_UPDATE if pg else _INDEX_STATE)).one()
        start, end = (
            int(state.indexed_size),
            min(int(state.size), int(state.indexed_size) + max_entries),
        )
        if start >= end:
            return 0
        cur, query = _raw(
            conn, "SELECT idx, entry FROM ledger_entry WHERE idx >= {p} AND idx < {p}"
        )
        cur.execute(query, (start, end))
        keys = [(key8(k), i) for i, entry in cur.fetchall() for k in search_keys(entry)]
        cur.close()
        keys.sort()  # B-tree inserts in key order; a key twice for one entry counts once
        keys = [k for k, _ in itertools.groupby(keys)]
        _insert_search_keys(conn, keys)
        conn.execute(text("UPDATE ledger_log SET indexed_size = :e WHERE id = 1"), {"e": end})
    return end - start


def search(
    ctx: Context,
    *,
    serial: str | None = None,
    sha256: str | None = None,
    subject: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Entries by certificate serial, artifact SHA-256, or subject. A subject matches
    the subject DN of organisations, CAs and services (case-insensitive, whole DN as
    printed), or, for natural persons, only their subject commitment (64 hex digits):
    a person's name finds nothing."""
    given = [v for v in (serial, sha256, subject) if v is not None]
    if len(given) != 1:
        raise InputError("search by exactly one of serial, sha256 or subject")
    if not 0 < limit <= 1000:
        raise InputError("limit must be 1..1000")
    with ctx.db.read() as session:
        conn = session.connection()
        size = _latest_size(conn)
        if sha256 is not None:
            rows = _by_sha256(conn, _parse_sha256(sha256), size, limit)
        elif serial is not None:
            rows = _by_key(conn, "serial:" + format_serial(parse_serial(serial)), size, limit)
        else:
            assert subject is not None
            rows = _by_key(conn, "subject:" + _subject_key(subject), size, limit)
    out = []
    for index, entry in rows:
        try:
            summary = LedgerEntry.parse(entry).summary()
        except LedgerError:
            summary = {}
        out.append({"index": index, "leaf_hash": _b64(leaf_hash(entry)), **summary})
    return out


def _subject_opening(ctx: Context, serial: str, commitment: str) -> dict[str, str]:
    from govtrust.services.certificates import load_cert_row

    with ctx.db.read() as session:
        row = load_cert_row(session, serial)
        salt, der = row.subject_salt, row.der
    if salt is None:
        raise InputError(f"certificate {serial} is not about a natural person: nothing to open")
    subject = x509.load_der_x509_certificate(der).subject
    subject_der = subject.public_bytes()
    if hashlib.sha256(salt + subject_der).hexdigest() != commitment:
        raise LedgerError(
            f"the subject of certificate {serial} does not open the entry's commitment"
        )
    return {
        "salt": salt.hex(),
        "subject_der": _b64(subject_der),
        "subject": subject.rfc4514_string(),
    }


def receipt(
    ctx: Context,
    *,
    serial: str | None = None,
    sha256: str | None = None,
    entry_type: str | None = None,
    reveal_subject: bool = False,
) -> dict[str, Any]:
    """A self-contained receipt (ledger.receipts) for the first entry about a
    certificate serial (its issuance, or ``entry_type`` e.g. ``cert.revoke``) or an
    artifact hash, under the latest checkpoint. ``reveal_subject`` adds the holder's
    opening of a natural person's subject commitment (personal data: keep it private).
    """
    matches = search(ctx, serial=serial, sha256=sha256, limit=1000)
    if entry_type is not None:
        matches = [m for m in matches if m.get("type") == entry_type]
    if not matches:
        what = f"serial {serial}" if serial is not None else f"sha256 {sha256}"
        raise NotFound(
            "ledger entry",
            f"{what} (not logged yet? the sequencer runs every "
            f"{ctx.settings.ledger.batch_interval_seconds:g} s)",
        )
    index = int(matches[0]["index"])
    info = log_info(ctx)
    with ctx.db.read() as session:
        conn = session.connection()
        cp = conn.execute(
            text("SELECT size, note FROM ledger_checkpoint ORDER BY size DESC LIMIT 1")
        ).one()
        size = int(cp.size)
        entry = bytes(
            conn.execute(
                text("SELECT entry FROM ledger_entry WHERE idx = :i"), {"i": index}
            ).scalar_one()
        )
        proof = inclusion_proof(index, size, _hash_source(conn, size, ctx.db.url))
    opening = None
    if reveal_subject:
        parsed = LedgerEntry.parse(entry)
        if parsed.commitment is None or parsed.serial is None:
            raise InputError("this entry has no subject commitment to open")
        opening = _subject_opening(ctx, parsed.serial, parsed.commitment)
    return build_receipt(
        origin=info.origin,
        log_key=info.vkey,
        index=index,
        entry=entry,
        proof=proof,
        checkpoint_note=cp.note,
        tree_size=size,
        subject_opening=opening,
    )


# ---- tamper evidence -------------------------------------------------------------------


def _entries_from(conn: Connection, start: int, size: int) -> Iterator[StoredEntry]:
    chunk = 4096
    position = start
    while position < size:
        rows = conn.execute(
            text(
                "SELECT e.idx, e.audit_event_id, e.entry, a.record FROM ledger_entry e "
                "LEFT JOIN audit_event a ON a.id = e.audit_event_id "
                "WHERE e.idx >= :a AND e.idx < :b ORDER BY e.idx"
            ),
            {"a": position, "b": min(position + chunk, size)},
        ).all()
        for r in rows:
            yield StoredEntry(
                int(r.idx),
                int(r.audit_event_id),
                bytes(r.entry),
                bytes(r.record) if r.record is not None else None,
            )
        position += chunk


def _checkpoints_from(ctx: Context, start: int, upto: int) -> Iterator[StoredCheckpoint]:
    """Stored checkpoints of sizes ``start`` to ``upto``, by increasing size, in pages
    (on a connection of their own, beside the entries' scan)."""
    position = start
    while True:
        with ctx.db.read() as session:
            rows = session.execute(
                text(
                    "SELECT size, root, note FROM ledger_checkpoint WHERE size >= :s "
                    "AND size <= :u ORDER BY size LIMIT 1000"
                ),
                {"s": position, "u": upto},
            ).all()
        for r in rows:
            yield StoredCheckpoint(int(r.size), bytes(r.root), r.note)
        if len(rows) < 1000:
            return
        position = int(rows[-1].size) + 1


def _tile_or_none(conn: Connection) -> Callable[[TileRef], bytes | None]:
    def get(ref: TileRef) -> bytes | None:
        try:
            return _tile_body(conn, ref)
        except NotFound:
            return None

    return get


def _unlogged_audit_events(conn: Connection, above: int, upto: int) -> None:
    """An audit row at or below the sequenced watermark that is not in the log was
    inserted into the past (or its entry deleted): report where it belongs."""
    missing = conn.execute(
        text(
            "SELECT min(a.id) FROM audit_event a WHERE a.id > :lo AND a.id <= :hi AND NOT EXISTS "
            "(SELECT 1 FROM ledger_entry e WHERE e.audit_event_id = a.id)"
        ),
        {"lo": above, "hi": upto},
    ).scalar_one()
    if missing is None:
        return
    at = conn.execute(
        text("SELECT min(idx) FROM ledger_entry WHERE audit_event_id > :a"), {"a": int(missing)}
    ).scalar_one()
    index = int(at) if at is not None else 0
    raise TamperError(
        index, "audit-not-logged", f"audit event {missing} is not in the log (at index {index})"
    )


def check(ctx: Context, *, start: int = 0, start_root: bytes | None = None) -> CheckReport:
    """The local tamper check (``govtrust ledger check``): recompute every leaf hash from
    the stored entries and compare with the audit records, every tile and every stored
    checkpoint (signature included). From ``start`` > 0 it trusts the tree of that size
    (whose root must be ``start_root``, from an earlier check) and checks what follows.
    Raises TamperError with the first bad index."""
    info = log_info(ctx)
    with ctx.db.read() as session:
        conn = session.connection()
        state = conn.execute(text("SELECT size, last_audit_id FROM ledger_log WHERE id = 1")).one()
        size = int(state.size)
        if not 0 <= start <= size:
            raise InputError(f"cannot check from {start}: the log has {size} entries")
        get = _tile_or_none(conn)
        frontier = Frontier()
        last_audit = 0
        if start:
            frontier = Frontier.from_tiles(start, lambda ref: _tile_body(conn, ref))
            if start_root is not None and frontier.root() != start_root:
                raise TamperError(
                    start, "checkpoint", f"the tree of size {start} is not the one verified before"
                )
            last_audit = int(
                conn.execute(
                    text("SELECT audit_event_id FROM ledger_entry WHERE idx = :i"),
                    {"i": start - 1},
                ).scalar_one()
            )
        report = check_log(
            size=size,
            entries=_entries_from(conn, start, size),
            get_tile=get,
            checkpoints=_checkpoints_from(ctx, start, size),
            verifiers=[info.verifier],
            origin=info.origin,
            start=frontier,
            last_audit_id=last_audit,
        )
        _unlogged_audit_events(conn, last_audit, int(state.last_audit_id))
        # The log's size is a checkpoint's (a sequencer may have added more since).
        signed = _fetch(conn, "SELECT 1 FROM ledger_checkpoint WHERE size = {p}", (size,))
        if not signed:
            raise TamperError(size, "checkpoint", f"no checkpoint for the log's size {size}")
        root = root_from_tiles(size, lambda ref: _tile_body(conn, ref)) if size else EMPTY_ROOT
        if root != report.frontier.root():
            raise TamperError(size, "tile", "the stored tiles do not give the recomputed root")
    return report


def _sample_old_entries(ctx: Context, upto: int, count: int) -> None:
    """Spot-check ``count`` random entries below ``upto`` against their level-0 tiles
    and audit records (the incremental check's probabilistic cover of old entries)."""
    if upto <= 0 or count <= 0:
        return
    rng = random.SystemRandom()
    picks = sorted({rng.randrange(upto) for _ in range(count)})
    with ctx.db.read() as session:
        conn = session.connection()
        size = _latest_size(conn)
        for i in picks:
            row = conn.execute(
                text(
                    "SELECT e.entry, a.record FROM ledger_entry e LEFT JOIN audit_event a "
                    "ON a.id = e.audit_event_id WHERE e.idx = :i"
                ),
                {"i": i},
            ).first()
            if row is None:
                raise TamperError(i, "missing-entry", f"entry {i} is missing from the log")
            n = i // TILE_WIDTH
            width = tile_width(0, n, size)
            hashes = split_tile(_tile_body(conn, TileRef(0, n, width)), width)
            if hashes[i % TILE_WIDTH] != leaf_hash(bytes(row.entry)):
                raise TamperError(i, "leaf-hash", f"entry {i} does not hash to its tile's hash")
            if row.record is None or bytes(row.record) != bytes(row.entry):
                raise TamperError(i, "audit-differs", f"entry {i} differs from its audit event")


def startup_check(ctx: Context, *, samples: int = 256) -> CheckReport | None:
    """The self-check at ``govtrust serve`` start-up, incremental so that it stays fast
    on a log of millions of entries: it trusts the tree verified last time (size and
    root kept in ``$GOVTRUST_HOME/ledger-verified.json``, outside the database, so a
    database-only attacker cannot move it), checks that the stored tiles still give that
    root, checks every entry and checkpoint added since, spot-checks ``samples`` random
    older entries, and records the new verified size. Raises TamperError; None when
    there is no log yet. ``govtrust ledger check`` does the full scan."""
    try:
        log_info(ctx)
    except NotFound:
        return None
    marker = Path(ctx.settings.home) / VERIFIED_MARKER
    start, start_root = 0, None
    try:
        saved = json.loads(marker.read_text())
        start, start_root = int(saved["size"]), base64.b64decode(saved["root"])
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError, binascii.Error):
        log.warning("ledger: %s is unreadable; checking the whole log", marker)
    with ctx.db.read() as session:
        size = int(session.execute(text("SELECT size FROM ledger_log WHERE id = 1")).scalar_one())
    if start > size:
        raise TamperError(size, "truncated", f"the log had {start} entries, now {size}")
    report = check(ctx, start=start, start_root=start_root)
    _sample_old_entries(ctx, start, samples)
    _write_marker(marker, report.size, report.frontier.root())
    return report


def _write_marker(path: Path, size: int, root: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"size": size, "root": _b64(root)}))
    tmp.replace(path)
