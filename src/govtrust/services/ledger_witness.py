"""Cross-country witnessing of transparency logs (C2SP tlog-witness, tlog-cosignature).

govtrust plays both roles of https://c2sp.org/tlog-witness:

**Witness for other logs.** An administrator accepts to witness another country's log
(``trust_log``: its origin and verifier key). ``add_checkpoint`` answers the protocol's
``POST <prefix>/add-checkpoint``: it verifies the log's signature with that key, checks
the ``old`` size against the latest checkpoint it cosigned for the origin, verifies the
RFC 9162 consistency proof from there, and only then records the new checkpoint and
returns a timestamped Ed25519 cosignature (tlog-cosignature ``cosignature/v1``). Check
and update are one transaction, the row locked (``FOR UPDATE`` on PostgreSQL; SQLite
serialises writers) and the update conditional on the old size, so two concurrent
requests can never roll the recorded size back (the race tlog-witness describes). The
witness key is an Ed25519 key in key custody (software backend, label
``ledger-witness``), created on first use.

**Log asking witnesses.** An administrator configures the witnesses of our log
(``add_witness``: submission URL and cosigner key). ``submit`` sends our latest
checkpoint to each with a consistency proof from the size that witness last cosigned
(retrying once from the size a ``409 Conflict`` names), verifies every returned
cosignature with the configured key (a forged one is refused, never stored) and stores
the valid line with ``services.ledger.add_cosignature``, so that ``GET
/ledger/checkpoint`` serves it appended. ``after_sequence`` is the hook the scheduler
calls after each sequencing run that signed a checkpoint.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govtrust.crypto.keys import KeySpec
from govtrust.crypto.signer import KeyRef
from govtrust.errors import (
    AlreadyExists,
    Error,
    InputError,
    LedgerError,
    NoteError,
    WitnessBadRequest,
    WitnessConflict,
    WitnessError,
    WitnessUnknownLog,
)
from govtrust.ledger.hashing import EMPTY_ROOT
from govtrust.ledger.note import (
    Ed25519Verifier,
    append_signature_lines,
    check_key_name,
    parse_vkey,
    split_note,
)
from govtrust.ledger.witness import (
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    AddCheckpointRequest,
    CosignatureVerifier,
    cosign,
    parse_cosignature_response,
    parse_cosignature_vkey,
    parse_size_response,
    verify_add_checkpoint,
    verify_cosignatures,
)
from govtrust.services import audit
from govtrust.services import ledger as ledger_svc
from govtrust.services.context import Actor, Context
from govtrust.store.witness_models import WitnessKeyRow, WitnessLogRow, WitnessPeerRow

__all__ = [
    "AFTER_SEQUENCE_BACKOFF",
    "WITNESS_ACTOR",
    "WITNESS_KEY_LABEL",
    "PeerInfo",
    "SubmitReport",
    "SubmitResult",
    "TrustedLog",
    "WitnessIdentity",
    "add_checkpoint",
    "add_witness",
    "after_sequence",
    "ensure_witness",
    "list_trusted_logs",
    "list_witnesses",
    "submit",
    "trust_log",
    "witness_name_for",
]

log = logging.getLogger("govtrust.ledger.witness")

WITNESS_ACTOR = Actor("system:witness", "admin")
WITNESS_KEY_LABEL = "ledger-witness"
SUBMIT_TIMEOUT = 10.0
AFTER_SEQUENCE_BACKOFF = 60.0
_MAX_RESPONSE = 64 * 1024
_MAX_SIZE = (1 << 63) - 1  # a BIGINT column
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,254}")


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---- our witness identity ------------------------------------------------------------


def witness_name_for(public_base_url: str) -> str:
    """Our cosigner name: the public base URL without its scheme, plus ``/witness``
    (tlog-cosignature: "a schema-less URL that identifies the cosigner")."""
    name = public_base_url.split("://", 1)[-1].rstrip("/") + "/witness"
    check_key_name(name)
    return name


@dataclass(frozen=True)
class WitnessIdentity:
    """Our witness: cosigner name, key in custody, raw Ed25519 public key."""

    name: str
    key_ref: KeyRef
    public_key: bytes

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, Ed25519PublicKey.from_public_bytes(self.public_key))

    @property
    def vkey(self) -> str:
        return self.verifier.vkey


def _identity(session: Session) -> WitnessIdentity | None:
    row = session.get(WitnessKeyRow, 1)
    if row is None:
        return None
    return WitnessIdentity(row.name, KeyRef.parse(row.key_ref), bytes(row.public_key))


def ensure_witness(ctx: Context) -> WitnessIdentity:
    """Our witness identity, created on first use: an Ed25519 key in key custody and a
    ``ledger.witness.create`` audit event publishing its vkey in our own log."""
    with ctx.db.read() as session:
        identity = _identity(session)
    if identity is not None:
        return identity
    name = witness_name_for(ctx.settings.public_base_url)
    signer = ctx.custody.generate("software", WITNESS_KEY_LABEL, KeySpec.ED25519)
    public = signer.public_key()
    if not isinstance(public, Ed25519PublicKey):
        raise LedgerError("the witness key is not an Ed25519 key")
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    candidate = WitnessIdentity(name, signer.ref, raw)
    try:
        with ctx.db.write() as session:
            session.add(
                WitnessKeyRow(
                    id=1,
                    name=name,
                    key_ref=str(signer.ref),
                    public_key=raw,
                    created_at=ctx.clock.now(),
                )
            )
            audit.record(
                session,
                ctx,
                WITNESS_ACTOR,
                "ledger.witness.create",
                "witness",
                name,
                raw,
                {"name": name, "key": candidate.vkey},
            )
        log.info("witness created: %s", candidate.vkey)
        return candidate
    except IntegrityError:  # another process created it first
        with ctx.db.read() as session:
            identity = _identity(session)
        assert identity is not None
        return identity


def _signing_key(ctx: Context, identity: WitnessIdentity) -> Ed25519PrivateKey:
    handle = ctx.custody.load(identity.key_ref).as_private_key()
    if not isinstance(handle, Ed25519PrivateKey):
        raise LedgerError("the witness key is not an Ed25519 key")
    return handle


# ---- role 1: witnessing other logs ---------------------------------------------------


@dataclass(frozen=True)
class TrustedLog:
    """A log we witness and the latest checkpoint we cosigned for it."""

    origin: str
    vkey: str
    size: int
    root: bytes
    updated_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "key": self.vkey,
            "size": self.size,
            "root": _b64(self.root),
            "updated_at": _iso(self.updated_at),
        }


def _trusted(row: WitnessLogRow) -> TrustedLog:
    return TrustedLog(row.origin, row.vkey, int(row.size), bytes(row.root), row.updated_at)


def _check_origin(origin: str) -> str:
    origin = origin.strip()
    if not origin or len(origin) > 255 or any(not c.isprintable() for c in origin):
        raise InputError("a log origin is one printable line of at most 255 characters")
    return origin


def trust_log(ctx: Context, origin: str, vkey: str, actor: Actor) -> TrustedLog:
    """Accept to witness the log ``origin`` whose checkpoints ``vkey`` signs (a C2SP
    signed-note Ed25519 verifier key, type 0x01). Idempotent for the same key; another
    key for a log already witnessed is refused (AlreadyExists)."""
    origin = _check_origin(origin)
    try:
        verifier = parse_vkey(vkey)
    except NoteError as exc:
        raise InputError(f"log key: {exc}") from None
    assert isinstance(verifier, Ed25519Verifier)
    canonical = verifier.vkey
    ensure_witness(ctx)
    with ctx.db.write() as session:
        row = session.get(WitnessLogRow, origin)
        if row is not None:
            if row.vkey != canonical:
                raise AlreadyExists(f"log {origin!r} is already witnessed with another key")
            return _trusted(row)
        row = WitnessLogRow(
            origin=origin,
            vkey=canonical,
            size=0,
            root=EMPTY_ROOT,
            checkpoint=None,
            created_at=ctx.clock.now(),
            updated_at=None,
        )
        session.add(row)
        audit.record(
            session,
            ctx,
            actor,
            "ledger.witness.trust-log",
            "witnessed-log",
            origin,
            canonical.encode(),
            {"origin": origin, "key": canonical},
        )
        return _trusted(row)


def list_trusted_logs(ctx: Context) -> list[TrustedLog]:
    with ctx.db.read() as session:
        rows = session.execute(select(WitnessLogRow).order_by(WitnessLogRow.origin)).scalars()
        return [_trusted(r) for r in rows]


def add_checkpoint(ctx: Context, body: bytes) -> str:
    """tlog-witness ``add-checkpoint``: verify, record, cosign; the response body (our
    cosignature line). Raises a WitnessError subclass whose ``status`` is the HTTP
    status the specification prescribes (see ``ledger.witness.verify_add_checkpoint``).
    """
    if len(body) > MAX_REQUEST_SIZE:
        raise WitnessError(f"request body larger than {MAX_REQUEST_SIZE} bytes")
    request = AddCheckpointRequest.parse(body)
    origin = request.unverified_checkpoint().origin
    with ctx.db.read() as session:
        known = session.get(WitnessLogRow, origin) is not None
    if not known:
        raise WitnessUnknownLog(origin)
    identity = ensure_witness(ctx)
    text, _ = split_note(request.checkpoint)
    with ctx.db.write() as session:
        row = session.execute(
            select(WitnessLogRow).where(WitnessLogRow.origin == origin).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise WitnessUnknownLog(origin)
        size, root = int(row.size), bytes(row.root)
        try:
            verifier = parse_vkey(row.vkey)
        except NoteError as exc:
            raise LedgerError(f"the stored key of log {origin!r} is unusable: {exc}") from None
        try:
            checkpoint = verify_add_checkpoint(request, [verifier], origin, size, root)
        except WitnessError as exc:
            if exc.status in (409, 422):
                # Signed by the log, yet inconsistent: possible evidence of a fork.
                log.warning(
                    "witness: refused a checkpoint of %s (HTTP %d): %s", origin, exc.status, exc
                )
            raise
        if checkpoint.size > _MAX_SIZE:
            raise WitnessBadRequest(f"tree size {checkpoint.size} is beyond what is stored")
        now = ctx.clock.now()
        line = cosign(text, identity.name, _signing_key(ctx, identity), int(now.timestamp()))
        updated = session.execute(
            update(WitnessLogRow)
            .where(WitnessLogRow.origin == origin, WitnessLogRow.size == size)
            .values(
                size=checkpoint.size,
                root=checkpoint.root,
                checkpoint=request.checkpoint,
                updated_at=now,
            )
        )
        if getattr(updated, "rowcount", 1) != 1:  # pragma: no cover - the row is locked
            raise WitnessConflict(size, "the witnessed state changed during the request")
    return line


# ---- role 2: our log asks witnesses --------------------------------------------------


@dataclass(frozen=True)
class PeerInfo:
    """A witness of our log."""

    name: str
    url: str
    vkey: str
    size: int
    last_error: str | None
    last_attempt_at: dt.datetime | None
    cosigned_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "key": self.vkey,
            "size": self.size,
            "last_error": self.last_error,
            "last_attempt_at": _iso(self.last_attempt_at),
            "cosigned_at": _iso(self.cosigned_at),
        }


def _peer(row: WitnessPeerRow) -> PeerInfo:
    return PeerInfo(
        row.name,
        row.url,
        row.vkey,
        int(row.size),
        row.last_error,
        row.last_attempt_at,
        row.cosigned_at,
    )


def _submission_prefix(url: str) -> str:
    """A witness's submission prefix (tlog-witness §HTTP Interface); a URL ending in
    ``/add-checkpoint`` is accepted and cut back to its prefix."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"a witness URL is an http(s) URL, not {url!r}")
    if parts.query or parts.fragment:
        raise InputError("a witness URL has no query or fragment")
    path = parts.path.rstrip("/")
    if path.endswith("/add-checkpoint"):
        path = path[: -len("/add-checkpoint")]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def add_witness(
    ctx: Context, url: str, vkey: str, actor: Actor, *, name: str | None = None
) -> PeerInfo:
    """Ask the witness at ``url`` (its submission prefix, e.g.
    ``https://pki.gov.bb/ledger/witness``) to cosign our checkpoints; ``vkey`` is its
    cosigner key (tlog-cosignature vkey, type 0x04); ``name`` a local label (default:
    the key's name)."""
    try:
        verifier = parse_cosignature_vkey(vkey)
    except NoteError as exc:
        raise InputError(f"witness key: {exc}") from None
    prefix = _submission_prefix(url)
    label = (name or verifier.name).strip()
    if not _NAME.fullmatch(label):
        raise InputError("a witness name is 1..255 letters, digits and . _ : / -")
    with ctx.db.write() as session:
        if session.get(WitnessPeerRow, label) is not None:
            raise AlreadyExists(f"witness {label!r} is already configured")
        row = WitnessPeerRow(
            name=label,
            url=prefix,
            vkey=verifier.vkey,
            size=0,
            last_error=None,
            last_attempt_at=None,
            cosigned_at=None,
            created_at=ctx.clock.now(),
        )
        session.add(row)
        audit.record(
            session,
            ctx,
            actor,
            "ledger.witness.add",
            "witness",
            label,
            verifier.vkey.encode(),
            {"name": label, "url": prefix, "key": verifier.vkey},
        )
        return _peer(row)


def list_witnesses(ctx: Context) -> list[PeerInfo]:
    with ctx.db.read() as session:
        rows = session.execute(select(WitnessPeerRow).order_by(WitnessPeerRow.name)).scalars()
        return [_peer(r) for r in rows]


@dataclass(frozen=True)
class SubmitResult:
    """One witness's answer to our checkpoint."""

    witness: str
    ok: bool
    size: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"witness": self.witness, "ok": self.ok, "size": self.size, "message": self.message}


@dataclass
class SubmitReport:
    size: int
    results: list[SubmitResult] = field(default_factory=list)

    @property
    def cosigned(self) -> int:
        return sum(r.ok for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "cosigned": self.cosigned,
            "results": [r.to_dict() for r in self.results],
        }


def _proof(ctx: Context, old: int, new: int) -> tuple[bytes, ...]:
    """tlog-witness: empty from size 0 or between equal sizes; else RFC 9162 §2.1.4.1."""
    if old == 0 or old == new:
        return ()
    path = ledger_svc.consistency(ctx, old, new)["consistency_path"]
    return tuple(base64.b64decode(p) for p in path)


def _printable(answer: bytes, limit: int = 200) -> str:
    """The first line of a remote answer, safe to log and store."""
    lines = answer.decode("utf-8", "replace").strip().splitlines() or [""]
    return "".join(c if c.isprintable() else "?" for c in lines[0][:limit])


def _post(http: httpx.Client, url: str, body: bytes) -> tuple[int, str, bytes]:
    """POST with the answer capped (a witness answers a few lines)."""
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    with http.stream("POST", url, content=body, headers=headers) as response:
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > _MAX_RESPONSE:
                raise InputError(f"the witness answered more than {_MAX_RESPONSE} bytes")
        return response.status_code, response.headers.get("content-type", ""), bytes(data)


@contextmanager
def _client(http: httpx.Client | None) -> Iterator[httpx.Client]:
    if http is not None:
        yield http
        return
    with httpx.Client(timeout=SUBMIT_TIMEOUT) as own:
        yield own


class _Submission:
    """One checkpoint sent to one witness (tlog-witness §add-checkpoint, client side)."""

    def __init__(
        self, ctx: Context, http: httpx.Client, checkpoint: ledger_svc.StoredCheckpointInfo
    ) -> None:
        self.ctx = ctx
        self.http = http
        self.cp = checkpoint

    def run(self, peer: PeerInfo) -> SubmitResult:
        try:
            verifier = parse_cosignature_vkey(peer.vkey)
        except NoteError as exc:
            return self._fail(peer, f"configured key unusable: {exc}")
        old = peer.size
        for _ in range(2):
            if old > self.cp.size:
                return self._fail(
                    peer,
                    f"the witness cosigned size {old} of our log, above our latest "
                    f"checkpoint {self.cp.size}: our log was rolled back, or forked",
                )
            body = AddCheckpointRequest(old, _proof(self.ctx, old, self.cp.size), self.cp.note)
            try:
                status, ctype, answer = _post(
                    self.http, peer.url + "/add-checkpoint", body.encode()
                )
            except (httpx.HTTPError, InputError) as exc:
                return self._fail(peer, f"unreachable: {type(exc).__name__}: {exc}")
            if status == 200:
                return self._accept(peer, verifier, answer)
            if status != 409 or not ctype.startswith(SIZE_CONTENT_TYPE):
                return self._fail(peer, f"HTTP {status}: {_printable(answer)}")
            try:
                latest = parse_size_response(answer)
            except NoteError as exc:
                return self._fail(peer, f"HTTP 409 with a malformed body: {exc}")
            if latest == old:
                return self._fail(
                    peer,
                    f"HTTP 409: the witness holds another root for size {old}: a fork of our log",
                )
            old = latest  # tlog-witness: retry from the size the witness holds
        return self._fail(peer, "the witness's size keeps changing; try again later")

    def _accept(self, peer: PeerInfo, verifier: CosignatureVerifier, answer: bytes) -> SubmitResult:
        try:
            lines = parse_cosignature_response(answer)
            combined = append_signature_lines(self.cp.note, lines)
            now = int(self.ctx.clock.now().timestamp())
            found = verify_cosignatures(combined, [verifier], now=now)
        except LedgerError as exc:  # NoteError: malformed or forged
            return self._fail(peer, f"cosignature refused: {exc}")
        if not found:
            return self._fail(
                peer, f"the answer holds no cosignature by {verifier.name} ({verifier.key_id:08x})"
            )
        ledger_svc.add_cosignature(self.ctx, self.cp.size, peer.name, found[0].line)
        with self.ctx.db.write() as session:
            now_t = self.ctx.clock.now()
            session.execute(
                update(WitnessPeerRow)
                .where(WitnessPeerRow.name == peer.name)
                .values(
                    size=self.cp.size, last_error=None, last_attempt_at=now_t, cosigned_at=now_t
                )
            )
        return SubmitResult(peer.name, True, self.cp.size, "cosigned")

    def _fail(self, peer: PeerInfo, message: str) -> SubmitResult:
        log.warning("witness %s: checkpoint %d not cosigned: %s", peer.name, self.cp.size, message)
        with self.ctx.db.write() as session:
            session.execute(
                update(WitnessPeerRow)
                .where(WitnessPeerRow.name == peer.name)
                .values(last_error=message[:1000], last_attempt_at=self.ctx.clock.now())
            )
        return SubmitResult(peer.name, False, self.cp.size, message)


def _resting(peer: PeerInfo, now: dt.datetime, backoff: float) -> bool:
    """A witness that failed less than ``backoff`` seconds ago is left alone."""
    if not backoff or peer.last_error is None or peer.last_attempt_at is None:
        return False
    return (now - peer.last_attempt_at).total_seconds() < backoff


def submit(
    ctx: Context, *, http: httpx.Client | None = None, backoff_seconds: float = 0.0
) -> SubmitReport:
    """Send our latest checkpoint to every configured witness and store the valid
    cosignatures (see the module docstring). ``http`` is injected by tests; by default a
    client with a 10 s timeout. With ``backoff_seconds``, a witness whose last attempt
    failed more recently than that is skipped. NotFound when our log has no checkpoint
    yet."""
    checkpoint = ledger_svc.latest_checkpoint(ctx)
    report = SubmitReport(checkpoint.size)
    now = ctx.clock.now()
    peers = [p for p in list_witnesses(ctx) if not _resting(p, now, backoff_seconds)]
    if not peers:
        return report
    with _client(http) as client:
        submission = _Submission(ctx, client, checkpoint)
        for peer in peers:
            report.results.append(submission.run(peer))
    return report


def after_sequence(
    ctx: Context, report: ledger_svc.SequenceReport, *, http: httpx.Client | None = None
) -> SubmitReport | None:
    """The scheduler's hook after a sequencing run: when it signed a checkpoint and
    witnesses are configured, submit the latest checkpoint to them. Never raises (a
    witness being down must not stop the sequencer); failures are logged and kept in
    each witness's ``last_error``, and a failing witness is retried at most once a
    minute (``AFTER_SEQUENCE_BACKOFF``)."""
    if not report.checkpoints:
        return None
    try:
        with ctx.db.read() as session:
            if session.execute(select(WitnessPeerRow.name).limit(1)).first() is None:
                return None
        return submit(ctx, http=http, backoff_seconds=AFTER_SEQUENCE_BACKOFF)
    except Error as exc:
        log.warning("witness submission failed: %s", exc)
        return None
