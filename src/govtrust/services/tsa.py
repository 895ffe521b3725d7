"""The timestamp authority's use cases: answer a TimeStampReq (``POST /tsa`` and the
CLI in-process), and ask a TSA for a token (``govtrust tsa stamp``).

Per token the database work is a ``tsa_token`` row whose key is the token's serial
number (RFC 3161 §2.4.2) and the ``tsa.stamp`` audit event with the token's hash,
committed together. Requests that arrive together are written together
(:class:`~govtrust.store.engine.GroupCommit`): one transaction and one fsync for the
batch, and every reply leaves only after that commit, so a granted token always has
its row and its audit record on disk. A crash leaves neither, and no reply was sent.
Serial numbers are taken as a block per batch, and genTime is read for each token
while the block is held, so serial numbers increase with genTime:

- SQLite: before the transaction, under an exclusive ``flock`` of
  ``<database>-tsa-serials`` shared by the processes of the node. The file holds the
  last serial handed out; the block starts after the larger of it and the table's
  high-water mark (``AUTOINCREMENT``'s ``sqlite_sequence`` and ``max(serial)``, read
  then). The tokens are signed after the lock is released, in parallel across
  processes, and then written with the group commit. Were the file lost or stale
  (it is not fsynced), only numbers of tokens never committed, hence never answered,
  could be handed out again: the committed ones are in the high-water mark.
  Signing under the database's write lock instead serialised every process's CPU work
  behind one lock (measured: under one core used of two, bench/README.md).
- PostgreSQL: before the transaction, in a short one of its own that holds a
  transaction-level advisory lock (``pg_advisory_xact_lock``, shared by every node),
  from the table's sequence (``nextval`` once per token, in one statement). That
  transaction writes no row, so its commit waits for no fsync.

A number is never reused for a granted token; a failed token or transaction leaves at
most a gap. An item that fails (expired certificate, key custody error) is answered
with its error and leaves no row; the others of the batch still commit.

The TSA signs with the credential named in ``[tsa] credential`` (profile ``tsa``). Each
process keeps it loaded and looks at the database again every
:data:`RELOAD_SECONDS`, so a revoked or replaced TSA certificate stops being used
within that time; an expired one is refused at once.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import Connection, Table, select, text
from sqlalchemy.orm import Session

from govtrust.audit import AuditEvent
from govtrust.clock import Clock
from govtrust.errors import (
    ConfigError,
    CredentialUnusable,
    Error,
    TimestampError,
    TimestampRejected,
    UnknownCredential,
)
from govtrust.services.context import Actor, Context
from govtrust.services.credentials import get_credential
from govtrust.store.engine import DriverStatement, GroupCommit
from govtrust.store.models import AuditEventRow
from govtrust.store.signing_models import CredentialRow, TsaTokenRow
from govtrust.tsa import (
    Accuracy,
    FailInfo,
    TimestampAuthority,
    TimestampQuery,
    TimestampReply,
    build_query,
    check_reply,
    granted,
    parse_query,
    rejection,
)

__all__ = [
    "MEDIA_QUERY",
    "MEDIA_REPLY",
    "PUBLIC_ACTOR",
    "RELOAD_SECONDS",
    "TsaService",
    "stamp_local",
    "stamp_remote",
]

log = logging.getLogger(__name__)

MEDIA_QUERY = "application/timestamp-query"  # RFC 3161 §3.4
MEDIA_REPLY = "application/timestamp-reply"
RELOAD_SECONDS = 60.0
_RETRY_SECONDS = 5.0  # after a failed load (no TSA credential yet, HSM down...)
_MAX_REPLY = 1 << 20

_TSA_TOKEN = cast(Table, TsaTokenRow.__table__)
_AUDIT = cast(Table, AuditEventRow.__table__)
_AUDIT_COLUMNS = ("time", "actor", "action", "object_type", "object_id", "object_sha256", "record")
# The next serial numbers. SQLite: above the AUTOINCREMENT high-water mark (which a
# delete never lowers), read under the write lock; inserting them explicitly moves the
# mark. PostgreSQL: the BIGSERIAL's sequence, one nextval per token.
_SQLITE_HIGH_WATER = text(
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'tsa_token'), 0), "
    "coalesce((SELECT max(serial) FROM tsa_token), 0))"
)
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_PG_LOCK_KEY = 0x676F7674727573  # "govtrus": the TSA's serial block, any node
_PG_NEXTVAL = text(
    "SELECT nextval(pg_get_serial_sequence('tsa_token', 'serial')) FROM generate_series(1, :n)"
)

PUBLIC_ACTOR = Actor("anonymous", "public")
"""Who asks ``POST /tsa``: anyone (the endpoint is public, RFC 3161 §3.4)."""


@dataclass(frozen=True)
class _Loaded:
    authority: TimestampAuthority
    credential: str
    credential_id: int


@dataclass(slots=True)
class _Job:
    """One request on its way through the group commit. Not frozen, and never
    ``dataclasses.replace``-d: a frozen dataclass's ``__init__`` and ``replace`` were
    ~7 % of a token's CPU (bench/README.md); each stage builds the next job directly."""

    query: TimestampQuery
    actor: Actor
    # Set by TsaService._prepare (SQLite): the token, made before the transaction.
    loaded: _Loaded | None = None
    serial: int = 0
    gen_time: dt.datetime | None = None
    token: bytes | None = None
    error: Exception | None = None


class _SerialFile:
    """The SQLite node's serial-number counter and lock (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def allocate(
        self, n: int, clock: Clock, high_water: Callable[[], int]
    ) -> tuple[list[int], list[dt.datetime]]:
        """``n`` increasing serials after every number handed out or committed, and the
        genTime of each, read while the block is held."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 8, 0)
            last = int.from_bytes(raw, "big") if len(raw) == 8 else 0
            base = max(last, high_water())
            os.pwrite(fd, (base + n).to_bytes(8, "big"), 0)
            times = [clock.now() for _ in range(n)]
        finally:
            os.close(fd)  # releases the lock
        return list(range(base + 1, base + n + 1)), times


@dataclass(frozen=True)
class _Statements:
    """The two inserts of a batch, compiled once per process for the dialect."""

    token: DriverStatement
    audit: DriverStatement


class TsaService:
    """The TSA of one process: ``respond`` turns any request body into a DER
    TimeStampResp and never raises. Thread-safe; ``respond_async`` is the same for the
    event loop (it waits for the group commit without blocking the loop)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._failure: Error | None = None
        self._due = 0.0
        self._statements: _Statements | None = None
        path = ctx.db.sqlite_path
        self._serials = (
            _SerialFile(path.with_name(path.name + "-tsa-serials")) if path is not None else None
        )
        self.writer: GroupCommit[_Job, bytes] = GroupCommit(
            ctx.db, self._issue_batch, name="tsa", prepare=self._prepare
        )

    # -- the authority, loaded and refreshed -------------------------------------------

    def _load(self) -> _Loaded:
        settings = self._ctx.settings.tsa
        credential = get_credential(self._ctx, settings.credential)
        if credential.profile != "tsa":
            raise ConfigError(
                f"[tsa] credential {settings.credential!r} has profile "
                f"{credential.profile!r}, not 'tsa'"
            )
        authority = TimestampAuthority(
            credential.certificate,
            credential.signer,
            settings.policy,
            Accuracy(settings.accuracy_seconds, settings.accuracy_millis),
            chain=credential.chain,
        )
        with self._ctx.db.read() as session:
            credential_id = session.scalars(
                select(CredentialRow.id).where(CredentialRow.name == credential.name)
            ).one()
        return _Loaded(authority, credential.name, credential_id)

    def current(self) -> _Loaded:
        """The loaded authority; reloaded when due. Raises the load's error."""
        now = time.monotonic()
        with self._lock:
            if now >= self._due:
                try:
                    self._loaded, self._failure = self._load(), None
                    self._due = now + RELOAD_SECONDS
                except Error as exc:
                    self._loaded, self._failure = None, exc
                    self._due = now + _RETRY_SECONDS
                    log.warning("the TSA cannot sign: %s", exc)
            if self._loaded is None:
                assert self._failure is not None
                raise self._failure
            return self._loaded

    # -- answering ---------------------------------------------------------------------

    def respond(
        self, body: bytes | None, *, media_type_ok: bool = True, actor: Actor = PUBLIC_ACTOR
    ) -> bytes:
        """A DER TimeStampResp for ``body`` (``None``: the body was over the size cap)."""
        try:
            return granted(self.stamp(self._query(body, media_type_ok), actor))
        except Exception as exc:
            return _refusal(exc)

    async def respond_async(
        self, body: bytes | None, *, media_type_ok: bool = True, actor: Actor = PUBLIC_ACTOR
    ) -> bytes:
        """:meth:`respond` on the event loop: the request is parsed here, the token is
        issued and committed by the group-commit thread, and this coroutine resumes once
        the token's records are durable."""
        try:
            job = self._job(self._query(body, media_type_ok), actor)
            return granted(await self.writer.run_async(job))
        except Exception as exc:
            return _refusal(exc)

    def _query(self, body: bytes | None, media_type_ok: bool) -> TimestampQuery:
        if body is None:
            limit = self._ctx.settings.tsa.max_request_bytes
            raise TimestampRejected(
                FailInfo.BAD_REQUEST, f"the request is larger than {limit} bytes"
            )
        if not media_type_ok:
            raise TimestampRejected(
                FailInfo.BAD_REQUEST,
                f"the request's Content-Type must be {MEDIA_QUERY} (RFC 3161 §3.4)",
            )
        return parse_query(body)

    def _job(self, query: TimestampQuery, actor: Actor) -> _Job:
        policy = self._ctx.settings.tsa.policy
        if query.policy is not None and query.policy != policy:
            raise TimestampRejected(
                FailInfo.UNACCEPTED_POLICY,
                f"this TSA issues tokens under policy {policy} only, not {query.policy}",
            )
        return _Job(query, actor)

    def stamp(self, query: TimestampQuery, actor: Actor) -> bytes:
        """Issue the token for a parsed query (policy checked here); return its DER once
        the token's row and audit record are committed."""
        return self.writer.run(self._job(query, actor))

    # -- the batch, in the group-commit thread -----------------------------------------

    def _compiled(self, connection: Connection) -> _Statements:
        if self._statements is None:
            dialect = connection.dialect
            self._statements = _Statements(
                DriverStatement.insert(
                    _TSA_TOKEN, ("serial", "gen_time", "credential_id"), dialect
                ),
                DriverStatement.insert(_AUDIT, _AUDIT_COLUMNS, dialect),
            )
        return self._statements

    def _high_water(self) -> int:
        with self._ctx.db.read_engine.connect() as conn:
            return int(conn.execute(_SQLITE_HIGH_WATER).scalar_one())

    def _allocate(self, n: int) -> tuple[list[int], list[dt.datetime]]:
        clock = self._ctx.clock
        if self._serials is not None:
            return self._serials.allocate(n, clock, self._high_water)
        with self._ctx.db.engine.begin() as conn:
            conn.execute(_PG_LOCK, {"key": _PG_LOCK_KEY})
            serials = _allocate_serials(conn, n)
            return serials, [clock.now() for _ in range(n)]

    def _prepare(self, jobs: Sequence[_Job]) -> list[_Job]:
        """Before the transaction: a block of serials, the genTimes, the tokens."""
        try:
            loaded = self.current()
        except Error as exc:
            return [_Job(job.query, job.actor, error=exc) for job in jobs]
        serials, times = self._allocate(len(jobs))
        return [
            self._sign(job, loaded, serial, gen_time)
            for job, serial, gen_time in zip(jobs, serials, times, strict=True)
        ]

    def _sign(self, job: _Job, loaded: _Loaded, serial: int, gen_time: dt.datetime) -> _Job:
        authority = loaded.authority
        if not authority.certificate.not_valid_before_utc <= gen_time <= authority.not_after:
            unusable = CredentialUnusable(
                loaded.credential, "expired", "the TSA certificate is outside its validity"
            )
            return _Job(job.query, job.actor, loaded, error=unusable)
        try:
            token = authority.issue(job.query, serial, gen_time)
        except Exception as exc:  # key custody: this token fails, not the batch
            return _Job(job.query, job.actor, loaded, error=exc)
        return _Job(job.query, job.actor, loaded, serial, gen_time, token)

    def _issue_batch(self, session: Session, jobs: Sequence[_Job]) -> list[bytes | Exception]:
        """The token rows and audit records of a prepared batch, in the caller's
        transaction (see the module docstring)."""
        connection = session.connection()  # SQLite: BEGIN IMMEDIATE, the write lock
        statements = self._compiled(connection)
        token_rows: list[dict[str, Any]] = []
        audit_rows: list[dict[str, Any]] = []
        results: list[bytes | Exception] = []
        for job in jobs:
            if job.token is None or job.loaded is None or job.gen_time is None:
                results.append(job.error or RuntimeError("no token"))
                continue
            token, serial, gen_time, loaded = job.token, job.serial, job.gen_time, job.loaded
            policy = loaded.authority.policy
            token_rows.append(
                {"serial": serial, "gen_time": gen_time, "credential_id": loaded.credential_id}
            )
            # No request content in the trail: not the imprint, not the nonce.
            object_id, sha256 = str(serial), hashlib.sha256(token).hexdigest()
            audit_rows.append(
                {
                    "time": gen_time,
                    "actor": job.actor.name,
                    "action": "tsa.stamp",
                    "object_type": "timestamp",
                    "object_id": object_id,
                    "object_sha256": sha256,
                    "record": _stamp_record(
                        job.actor.name,
                        object_id,
                        sha256,
                        gen_time,
                        policy,
                        job.query.hash_name,
                        loaded.credential,
                    ),
                }
            )
            results.append(token)
        statements.token.executemany(connection, token_rows)
        statements.audit.executemany(connection, audit_rows)
        return results


@functools.lru_cache(maxsize=256)
def _json_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _stamp_record(
    actor: str,
    serial: str,
    sha256: str,
    gen_time: dt.datetime,
    policy: str,
    hash_alg: str,
    tsa: str,
) -> bytes:
    """The canonical record of a ``tsa.stamp`` audit event: the same bytes as
    :meth:`govtrust.audit.AuditEvent.canonical` for that event (a unit test compares
    them), assembled from its fixed layout. ``json.dumps`` with sorted keys was ~18 µs
    of a token's CPU; here the strings that repeat from token to token (actor, policy,
    hash and TSA names) are escaped once, and the serial, the hex digest and the times
    are ASCII that JSON leaves as they are."""
    plain = serial.isascii() and serial.isdigit() and sha256.isascii() and sha256.isalnum()
    if gen_time.utcoffset() != dt.timedelta(0) or not plain:
        return AuditEvent(
            action="tsa.stamp",
            actor=actor,
            time=gen_time,
            object_type="timestamp",
            object_id=serial,
            object_sha256=sha256,
            details={
                "policy": policy,
                "hash_alg": hash_alg,
                "gen_time": gen_time.isoformat(),
                "tsa": tsa,
            },
        ).canonical()
    iso = gen_time.isoformat()
    return (
        f'{{"actor":{_json_string(actor)},"details":{{"gen_time":"{iso}",'
        f'"hash_alg":{_json_string(hash_alg)},"policy":{_json_string(policy)},'
        f'"tsa":{_json_string(tsa)}}},"object":{{"id":"{serial}","sha256":"{sha256}",'
        f'"type":"timestamp"}},"time":"{iso[:19]}Z","type":"tsa.stamp","v":1}}'
    ).encode()


def _allocate_serials(connection: Connection, n: int) -> list[int]:
    """PostgreSQL: ``n`` new serial numbers from the sequence, increasing."""
    return sorted(int(v) for v in connection.execute(_PG_NEXTVAL, {"n": n}).scalars())


def _refusal(exc: Exception) -> bytes:
    """The TimeStampResp rejection for why a token was not issued."""
    if isinstance(exc, TimestampRejected):
        return rejection(FailInfo(exc.fail_info), exc.message)
    if isinstance(exc, UnknownCredential | CredentialUnusable | ConfigError):
        log.warning("timestamp refused: %s", exc)
        return rejection(FailInfo.SYSTEM_FAILURE, f"the TSA cannot sign now: {_why(exc)}")
    # Key custody, database or a bug: say nothing of it to the requester.
    log.error("TSA failure", exc_info=exc)
    return rejection(FailInfo.SYSTEM_FAILURE, "the TSA could not issue a token")


def _why(exc: Error) -> str:
    if isinstance(exc, UnknownCredential):
        return "no TSA credential is configured"
    if isinstance(exc, CredentialUnusable):
        return f"its certificate is {exc.reason}"
    return "its configuration is invalid"


# ---- the requester's side --------------------------------------------------------------


def stamp_local(
    ctx: Context,
    data: bytes,
    actor: Actor,
    *,
    hash_name: str = "sha256",
    cert_req: bool = True,
    service: TsaService | None = None,
) -> TimestampReply:
    """Timestamp ``data`` with this instance's TSA, in-process, through the same code
    path as ``POST /tsa`` (serial, audit); the reply is checked like a remote one."""
    query_der, query = build_query(data, hash_name, cert_req=cert_req)
    reply = (service or TsaService(ctx)).respond(query_der, actor=actor)
    return check_reply(reply, query)


def stamp_remote(
    url: str,
    data: bytes,
    *,
    hash_name: str = "sha256",
    cert_req: bool = True,
    client: httpx.Client | None = None,
    timeout: float = 30.0,
) -> TimestampReply:
    """POST a TimeStampReq for ``data`` to the TSA at ``url`` (RFC 3161 §3.4) and check
    the reply. ``client`` is injected by tests and callers with their own transport."""
    if not url.startswith(("http://", "https://")):
        raise TimestampError(f"the TSA URL must be http(s): {url!r}")
    query_der, query = build_query(data, hash_name, cert_req=cert_req)
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        with http.stream(
            "POST", url, content=query_der, headers={"Content-Type": MEDIA_QUERY}
        ) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > _MAX_REPLY:
                    raise TimestampError(f"the TSA at {url} answered more than 1 MiB")
            status, media = response.status_code, response.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise TimestampError(f"cannot reach the TSA at {url}: {type(exc).__name__}") from None
    finally:
        if own:
            http.close()
    if media.split(";")[0].strip().lower() != MEDIA_REPLY:
        raise TimestampError(
            f"the TSA at {url} answered HTTP {status} with {media or 'no content type'}, "
            f"not {MEDIA_REPLY}"
        )
    return check_reply(body, query)
