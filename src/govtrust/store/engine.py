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

Group commit (:class:`GroupCommit`): with ``synchronous=FULL`` (SQLite) or
``synchronous_commit=on`` (PostgreSQL) every commit waits for one fsync, ~1–10 ms here,
which bounded a transaction-per-request service to a few hundred requests per second.
Requests that arrive while a commit is under way are queued and then written together,
in one transaction and one fsync, by one writer thread per process; each caller gets
its result only once that transaction is durable.

Start-up: importing Alembic (and Mako, which it pulls in) costs ~0.3 s on a loaded
2-core machine, so it is imported only when the schema is behind. :func:`upgrade` first
compares ``alembic_version`` (one SELECT) with the heads of the migration scripts, read
from their ``revision``/``down_revision`` assignments (:func:`script_heads`).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Insert, Select

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy.pool import PoolProxiedConnection

__all__ = [
    "Database",
    "DriverStatement",
    "GroupCommit",
    "PointReader",
    "current_revisions",
    "script_heads",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)

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
        self.sqlite_path: Path | None = None
        """The SQLite database file, if this is one."""
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self.sqlite_path = Path(path)
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

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction: commits on success, rolls back on any exception."""
        with self._write() as session, session.begin():
            yield session

    @contextlib.contextmanager
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
    def compile(cls, statement: AnySelect | Insert, dialect: Dialect) -> DriverStatement:
        compiled = statement.compile(dialect=dialect)
        binders = {
            name: proc
            for name, bind in compiled.binds.items()
            if (proc := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        columns = statement.selected_columns if isinstance(statement, Select) else ()
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        positional = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        return cls(
            str(compiled),
            positional,
            compiled.construct_params(_check=False),
            binders,
            results,
        )

    @classmethod
    def insert(cls, table: Any, columns: Sequence[str], dialect: Dialect) -> DriverStatement:
        """``INSERT INTO table (columns...) VALUES (...)``, one bind per column, typed by
        the column (so ``UTCDateTime`` and ``LargeBinary`` convert as in the ORM)."""
        from sqlalchemy import bindparam, insert

        values = {name: bindparam(name, type_=table.c[name].type) for name in columns}
        return cls.compile(insert(table).values(values), dialect)

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

    def executemany(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the (insert) statement once per row of ``rows`` with one DB-API
        ``executemany``, inside ``connection``'s current transaction."""
        if not rows:
            return
        parameters = [self.parameters(r) for r in rows]
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(self.sql, parameters)  # type: ignore[arg-type]
        except connection.dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy would raise it (IntegrityError, OperationalError...).
            raise DBAPIError.instance(
                self.sql, parameters, exc, connection.dialect.loaded_dbapi.Error
            ) from exc
        finally:
            cursor.close()

    def scalars(self, connection: Connection, **values: Any) -> list[Any]:
        """The first column of every row."""
        return [r[0] for r in self.fetchall(connection, **values)]


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


# ---- group commit ----------------------------------------------------------------------

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

BatchWork: TypeAlias = Callable[[Session, Sequence[_Item]], Sequence["_Result | Exception"]]


class GroupCommit(Generic[_Item, _Result]):
    """Write many requests in one transaction and one fsync: group commit.

    ``work(session, items)`` does the writes of a batch of items inside one write
    transaction (``Database.write``'s session; on SQLite the write lock is taken by the
    first statement) and returns one result per item, in order. An item that cannot be
    done gets an ``Exception`` in its place *instead of* any write for it: the others
    still commit. If ``work`` raises, the transaction is rolled back and each item is
    run again alone, in its own transaction, so that one failing request never costs
    the others their records. If the commit itself fails, every item of the batch gets
    that error (it is not retried: the outcome of a failed COMMIT may be unknown).

    ``prepare(items)``, if given, runs first, outside any transaction and lock, and
    returns the items ``work`` gets (the TSA signs its tokens there).

    One writer thread per instance takes everything queued (at most ``max_batch``),
    runs and commits it, and only then resolves the callers' futures: **no caller hears
    of its result before its record is durable.** Callers on an event loop
    (:meth:`run_async`) are woken together: one ``call_soon_threadsafe`` per loop and
    batch sets all their results, instead of one cross-thread wake-up (a write to the
    loop's self-pipe) and a chained ``concurrent.futures.Future`` per item.

    There is no timer: a batch is what accumulated while the previous one was being
    written, so a lone request is not delayed and a busy process writes large batches.
    The thread ends after ``idle_seconds`` without work and is started again by the
    next :meth:`submit`. A process killed mid-batch leaves nothing of it (the
    transaction never committed) and has answered none of its callers.

    SQLite: the writers of several processes (``govtrust serve --workers N``) queue on
    an exclusive ``flock`` of ``<database>-writers.lock`` before ``BEGIN IMMEDIATE``.
    Without it a writer that finds the database locked sleeps in SQLite's busy handler
    (1, 2, 5, 10, 15, 20, 25... ms between tries) while the other process commits in
    ~1–5 ms: measured, 30–60 ms per batch and 0.4 of a core used, the rest waiting. The
    kernel wakes a ``flock`` waiter as soon as the lock is released. Other writers
    (the CLI, the ORM services) do not take it and still meet the busy handler, which
    keeps them correct; a holder of the file lock never waits for one of them long.
    """

    def __init__(
        self,
        db: Database,
        work: BatchWork[_Item, _Result],
        *,
        name: str,
        max_batch: int = 256,
        idle_seconds: float = 5.0,
        prepare: Callable[[Sequence[_Item]], Sequence[_Item]] | None = None,
    ) -> None:
        self._db = db
        self._work = work
        self._prepare = prepare
        self._name = name
        self.max_batch = max_batch
        self._idle = idle_seconds
        self._cond = threading.Condition()
        self._queue: list[tuple[_Item, _Waiter]] = []
        self._thread: threading.Thread | None = None
        self._waiting = False
        self._lock_path = (
            db.sqlite_path.with_name(db.sqlite_path.name + "-writers.lock")
            if db.sqlite_path is not None
            else None
        )
        self._lock_fd: int | None = None
        self.batches = 0
        """Transactions committed (for tests and benchmarks)."""

    def submit(self, item: _Item) -> Future[_Result]:
        """Queue ``item``; the future completes once its transaction has committed."""
        future: Future[_Result] = Future()
        self._enqueue(item, future)
        return future

    def _enqueue(self, item: _Item, waiter: _Waiter) -> None:
        with self._cond:
            self._queue.append((item, waiter))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"group-commit-{self._name}", daemon=True
                )
                self._thread.start()
            elif self._waiting:  # busy writers look at the queue when they finish
                self._cond.notify()

    def run(self, item: _Item) -> _Result:
        """Submit ``item`` and wait for its durable result (or raise its error)."""
        return self.submit(item).result()

    async def run_async(self, item: _Item) -> _Result:
        """:meth:`run` for the event loop: awaits without blocking it. A caller
        cancelled before the writer takes its item up is not written."""
        waiter = _LoopWaiter(asyncio.get_running_loop())
        self._enqueue(item, waiter)
        result: _Result = await waiter.future
        return result

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._waiting = True
                    woken = self._cond.wait(self._idle)
                    self._waiting = False
                    if not woken and not self._queue:
                        self._thread = None
                        if self._lock_fd is not None:
                            os.close(self._lock_fd)
                            self._lock_fd = None
                        return
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
            # A caller that gave up (cancelled) before its turn is not written.
            live = [(i, w) for i, w in batch if w.set_running_or_notify_cancel()]
            if live:
                try:
                    if self._prepare is not None:
                        # CPU work outside the database's write lock, so that the
                        # writers of other processes are not held up by it.
                        prepared = self._prepare([item for item, _ in live])
                        live = [(p, w) for p, (_, w) in zip(prepared, live, strict=True)]
                    with self._writers_lock():
                        self._commit(live, isolate=len(live) > 1)
                except BaseException as exc:  # never leave a caller waiting forever
                    error = exc if isinstance(exc, Exception) else RuntimeError()
                    _settle([(w, error) for _, w in live])
                    if not isinstance(exc, Exception):
                        raise

    @contextlib.contextmanager
    def _writers_lock(self) -> Iterator[None]:
        if self._lock_path is None:
            yield
            return
        import fcntl

        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _commit(self, batch: list[tuple[_Item, _Waiter]], *, isolate: bool) -> None:
        items = [item for item, _ in batch]
        with self._db._write() as session:
            transaction = session.begin()
            try:
                results = list(self._work(session, items))
                if len(results) != len(items):
                    raise RuntimeError("group commit: one result per item expected")
            except Exception as exc:
                transaction.rollback()
                if not isolate:
                    _settle([(w, exc) for _, w in batch])
                    return
                log.warning(
                    "group commit %s: a batch of %d failed (%s); writing them one by one",
                    self._name,
                    len(items),
                    type(exc).__name__,
                )
            else:
                try:
                    transaction.commit()
                except Exception as exc:
                    _settle([(w, exc) for _, w in batch])
                    return
                self.batches += 1
                _settle([(w, r) for (_, w), r in zip(batch, results, strict=True)])
                return
        for one in batch:  # isolate the failure: each item in its own transaction
            self._commit([one], isolate=False)


class _LoopWaiter:
    """An event-loop caller of :meth:`GroupCommit.run_async`: its asyncio future, set
    from the loop's own thread by :func:`_settle`."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()

    def set_running_or_notify_cancel(self) -> bool:
        # Read from the writer thread: a single state read of the future (the GIL
        # makes it atomic). A cancellation that lands after this check finds the
        # item written, as with concurrent futures once running.
        return not self.future.cancelled()


_Waiter: TypeAlias = "Future[Any] | _LoopWaiter"


def _settle(outcomes: Sequence[tuple[_Waiter, Any]]) -> None:
    """Give each waiter its result or exception: thread futures at once, and the
    waiters of each event loop in one callback scheduled on that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for waiter, outcome in outcomes:
        if isinstance(waiter, _LoopWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter.future, outcome))
        else:
            _resolve(waiter, outcome)
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_resolve_all, pairs)


def _resolve_all(pairs: Sequence[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in pairs:
        _resolve(future, outcome)


def _resolve(future: Future[Any] | asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


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
