"""Engines for SQLite (the embedded default, WAL) and PostgreSQL (scale-out).

SQLite writers open transactions with ``BEGIN IMMEDIATE`` so that two processes never
deadlock upgrading a read lock; readers use a separate engine with deferred
transactions so the OCSP and CRL read paths never queue behind the write lock.

Hot paths (the OCSP responder, CRL generation) can bypass SQLAlchemy's per-execution
work (statement cache keys, result processing, ORM loading, a transaction per session):
:class:`DriverStatement` compiles a Core statement once for the dialect and runs it on a
DB-API cursor, and :class:`PointReader` keeps dedicated autocommit connections for
one-row reads. Each read is its own statement, so it sees every transaction committed
before it by any process: there is no cache to invalidate.

Start-up: importing Alembic (and Mako, which it pulls in) costs ~0.3 s on a loaded
2-core machine, so it is imported only when the schema is behind. :func:`upgrade` first
compares ``alembic_version`` (one SELECT) with the heads of the migration scripts, read
from their ``revision``/``down_revision`` assignments (:func:`script_heads`).
"""

from __future__ import annotations

import ast
import asyncio
import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy.pool import PoolProxiedConnection

__all__ = [
    "Database",
    "DriverStatement",
    "PointReader",
    "current_revisions",
    "script_heads",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"

AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below decide
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives power loss, not only a crash of the process. A CA
        # that acknowledged an issuance or revocation must still have it after a reboot.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The two session factories every service uses: ``write()`` and ``read()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
        else:
            self.engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self.read_engine = self.engine
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        self._readers: list[PointReader] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction: commits on success, rolls back on any exception."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    def point_reader(self, statement: AnySelect) -> PointReader:
        """A :class:`PointReader` for ``statement``, closed by :meth:`dispose`."""
        reader = PointReader(self, statement)
        self._readers.append(reader)
        return reader

    def dispose(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers.clear()
        self.engine.dispose()
        self.read_engine.dispose()


# ---- statements run on the DB-API ------------------------------------------------------


@dataclass(frozen=True)
class DriverStatement:
    """A Core statement compiled once for one dialect, executed on a DB-API cursor.

    Bind values go through the column types' bind processors and result values
    through their result processors (``UTCDateTime`` gives aware datetimes on every
    engine), exactly as SQLAlchemy would apply them, but without its per-execution
    cache-key, result-object and ORM work.
    """

    sql: str
    positional: tuple[str, ...] | None
    """Bind names in the order of a positional paramstyle (SQLite ``?``); None: named."""
    defaults: Mapping[str, Any]
    binders: Mapping[str, Any]
    results: tuple[Any, ...]

    @classmethod
    def compile(cls, statement: AnySelect, dialect: Dialect) -> DriverStatement:
        compiled = statement.compile(dialect=dialect)
        binders = {
            name: proc
            for name, bind in compiled.binds.items()
            if (proc := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )
        positional = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        return cls(
            str(compiled),
            positional,
            compiled.construct_params(_check=False),
            binders,
            results,
        )

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        merged = {**self.defaults, **values}
        for name, proc in self.binders.items():
            merged[name] = proc(merged[name])
        if self.positional is not None:
            return tuple(merged[name] for name in self.positional)
        return merged

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(v if p is None else p(v) for v, p in zip(raw, self.results, strict=True))

    def fetchall(self, connection: Connection, **values: Any) -> list[tuple[Any, ...]]:
        """All rows, read through ``connection``'s DB-API connection (and so inside its
        current transaction)."""
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self.sql, self.parameters(values))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if any(p is not None for p in self.results):
            return [self.row(r) for r in rows]
        return [tuple(r) for r in rows]


class PointReader:
    """One-row reads of one statement on dedicated autocommit connections.

    - SQLite: one connection of the read engine, taken out of its pool. A read by
      primary key costs ~15–25 µs, so callers may run it on the event loop; a short
      ``busy_timeout`` bounds the rare wait for a WAL lock (the read then raises and
      the caller takes its slow path).
    - PostgreSQL: up to ``POOL`` psycopg ``AsyncConnection``\\ s of the running event
      loop (one AsyncConnection runs one statement at a time). Measured beside a
      psycopg connection per thread of the thread pool, from 32 concurrent tasks on
      uvloop: ~160–190 µs of client CPU per read against ~260–300 µs, at a higher rate
      (over HTTP: see ``api/ocsp_fast.py``).
    """

    POOL = 4
    SQLITE_BUSY_MS = 100

    def __init__(self, db: Database, statement: AnySelect) -> None:
        self._engine = db.read_engine
        self._dialect = self._engine.dialect
        self._statement = DriverStatement.compile(statement, self._dialect)
        self._lock = threading.Lock()
        self._sqlite: PoolProxiedConnection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._opened: list[psycopg.AsyncConnection[Any]] = []

    @property
    def is_sqlite(self) -> bool:
        return self._dialect.name == "sqlite"

    async def fetch(self, **values: Any) -> tuple[Any, ...] | None:
        """The first row, or None. Raises the driver's error if the read fails."""
        if self.is_sqlite:
            return self._fetch_sqlite(values)
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            self.close()  # connections of another (finished) loop cannot serve this one
            self._loop, self._slots = loop, asyncio.Semaphore(self.POOL)
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                cursor = await conn.execute(self._statement.sql, self._statement.parameters(values))
                raw = await cursor.fetchone()
            except BaseException:  # an error or a cancellation mid-statement: drop it
                self._opened.remove(conn)
                conn.pgconn.finish()
                raise
            self._idle.append(conn)
        return None if raw is None else self._statement.row(raw)

    def _fetch_sqlite(self, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        with self._lock:  # one loop uses it; the lock only guards odd multi-loop use
            if self._sqlite is None:
                conn = self._engine.raw_connection()
                conn.detach()  # ours until close(): not returned to the pool
                setup = conn.cursor()
                setup.execute("PRAGMA query_only=ON")
                setup.execute(f"PRAGMA busy_timeout={self.SQLITE_BUSY_MS}")
                setup.close()
                self._sqlite = conn
            cursor = self._sqlite.cursor()
            try:
                cursor.execute(self._statement.sql, self._statement.parameters(values))
                # fetchall() runs the statement to its end, so its read transaction ends
                # here and the next read sees a newer snapshot.
                rows = cursor.fetchall()
            finally:
                cursor.close()
        return self._statement.row(rows[0]) if rows else None

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        import psycopg

        cargs, cparams = self._dialect.create_connect_args(self._engine.url)
        conn = await psycopg.AsyncConnection.connect(*cargs, **cparams, autocommit=True)
        self._opened.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection. Callable from any thread, with or without a loop:
        closing a psycopg connection is libpq's synchronous PQfinish."""
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None
        for conn in self._opened:
            conn.pgconn.finish()
        self._opened, self._idle = [], []
        self._loop, self._slots = None, None


# ---- migrations ------------------------------------------------------------------------


def _literal(node: ast.expr | None) -> Any:
    return ast.literal_eval(node) if node is not None else None


@functools.cache
def script_heads() -> frozenset[str] | None:
    """The head revisions of the migration scripts, or None if a script could not be
    read this way (callers then leave the decision to Alembic).

    Written by hand because Alembic's ``ScriptDirectory`` is what costs the import
    time avoided here. A head is a revision that no script names as its
    ``down_revision``, the definition Alembic's revision map uses; a unit test checks
    the result against ``ScriptDirectory.get_heads()``.
    """
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        if path.name == "__init__.py" or path.name.startswith(".#"):
            continue
        found: dict[str, Any] = {}
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                value: ast.expr | None
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target, value = node.targets[0], node.value
                elif isinstance(node, ast.AnnAssign):
                    target, value = node.target, node.value
                else:
                    continue
                if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                    found[target.id] = _literal(value)
        except (OSError, SyntaxError, ValueError):
            return None
        revision, down = found.get("revision"), found.get("down_revision")
        if not isinstance(revision, str) or "down_revision" not in found:
            return None
        revisions.add(revision)
        if isinstance(down, str):
            downs.add(down)
        elif isinstance(down, tuple | list):
            downs.update(str(d) for d in down)
        elif down is not None:
            return None
    return frozenset(revisions - downs) or None


def current_revisions(db: Database) -> frozenset[str]:
    """The revisions recorded in ``alembic_version`` (empty for a new database)."""
    with db.read_engine.connect() as conn:
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return frozenset(str(r) for r in rows)
        except DBAPIError:
            return frozenset()


def upgrade(db: Database) -> None:
    """Bring the schema to the newest Alembic revisions (``upgrade heads``); when the
    database is already there, one SELECT and no Alembic import."""
    heads = script_heads()
    if heads is not None and current_revisions(db) == heads:
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection_engine"] = db.engine
    command.upgrade(cfg, "heads")
