"""The timestamp authority's use cases: answer a TimeStampReq (``POST /tsa`` and the
CLI in-process), and ask a TSA for a token (``govtrust tsa stamp``).

Per token the database work is one short transaction (RFC 3161 §2.4.2 serial number +
audit record): a ``tsa_token`` row whose auto-incremented key is the serial, the token
signed with it, and the ``tsa.stamp`` audit event with the token's hash, committed
together. A crash leaves neither; a failed transaction leaves at most a gap in the
serial numbers. Nothing is batched across requests.

The TSA signs with the credential named in ``[tsa] credential`` (profile ``tsa``). Each
process keeps it loaded and looks at the database again every
:data:`RELOAD_SECONDS`, so a revoked or replaced TSA certificate stops being used
within that time; an expired one is refused at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import cast

import httpx
from sqlalchemy import Table, insert, select

from govtrust.errors import (
    ConfigError,
    CredentialUnusable,
    Error,
    TimestampError,
    TimestampRejected,
    UnknownCredential,
)
from govtrust.services import audit
from govtrust.services.context import Actor, Context
from govtrust.services.credentials import get_credential
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
_NEXT_SERIAL = insert(_TSA_TOKEN).returning(_TSA_TOKEN.c.serial)

PUBLIC_ACTOR = Actor("anonymous", "public")
"""Who asks ``POST /tsa``: anyone (the endpoint is public, RFC 3161 §3.4)."""


@dataclass(frozen=True)
class _Loaded:
    authority: TimestampAuthority
    credential: str
    credential_id: int


class TsaService:
    """The TSA of one process: ``respond`` turns any request body into a DER
    TimeStampResp and never raises."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._failure: Error | None = None
        self._due = 0.0

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
            return granted(self.stamp(parse_query(body), actor))
        except TimestampRejected as exc:
            return rejection(FailInfo(exc.fail_info), exc.message)
        except (UnknownCredential, CredentialUnusable, ConfigError) as exc:
            log.warning("timestamp refused: %s", exc)
            return rejection(FailInfo.SYSTEM_FAILURE, f"the TSA cannot sign now: {_why(exc)}")
        except Exception:
            # Key custody, database or a bug: say nothing of it to the requester.
            log.exception("TSA failure")
            return rejection(FailInfo.SYSTEM_FAILURE, "the TSA could not issue a token")

    def stamp(self, query: TimestampQuery, actor: Actor) -> bytes:
        """Issue the token for a parsed query (policy checked here); return its DER."""
        ctx = self._ctx
        policy = ctx.settings.tsa.policy
        if query.policy is not None and query.policy != policy:
            raise TimestampRejected(
                FailInfo.UNACCEPTED_POLICY,
                f"this TSA issues tokens under policy {policy} only, not {query.policy}",
            )
        loaded = self.current()
        authority = loaded.authority
        with ctx.db.write() as session:
            # On SQLite this BEGIN IMMEDIATE takes the write lock, so genTime is read
            # after it and genTimes follow serial numbers on one node.
            connection = session.connection()
            gen_time = ctx.clock.now()
            if not authority.certificate.not_valid_before_utc <= gen_time <= authority.not_after:
                raise CredentialUnusable(
                    loaded.credential, "expired", "the TSA certificate is outside its validity"
                )
            # Core, not the ORM: this is the hot path (one statement, compiled once).
            serial = connection.execute(
                _NEXT_SERIAL, {"gen_time": gen_time, "credential_id": loaded.credential_id}
            ).scalar_one()
            token = authority.issue(query, serial, gen_time)
            # No request content in the trail: not the imprint, not the nonce.
            audit.record(
                session,
                ctx,
                actor,
                "tsa.stamp",
                "timestamp",
                str(serial),
                token,
                {
                    "policy": policy,
                    "hash_alg": query.hash_name,
                    "gen_time": gen_time.isoformat(),
                    "tsa": loaded.credential,
                },
            )
        return token


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
