"""Use cases for end-entity certificates: issue (from a CSR or a key the caller made),
show, list, renew.

Issuance throughput (issue 2, "Benchmarks"): every check and every signature (the
certificate and its pre-signed OCSP answers) is made before the database is touched;
the rows are then written by the process's group-commit thread
(:class:`~govtrust.store.engine.GroupCommit`), so issuances that arrive together share
one transaction and one fsync, and each caller returns only once its certificate, its
OCSP answers and its audit record are committed. What the issuing CA needs (its row,
certificate, signer and OCSP responder) is kept per process and checked again inside
that transaction: a CA revoked meanwhile issues nothing, and answers signed by a
responder that was replaced meanwhile are signed again.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
import hashlib
import json
import secrets
import threading
import weakref
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Table, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govtrust.audit import AuditEvent, subject_commitment
from govtrust.ca.authority import sign_draft
from govtrust.ca.names import (
    format_serial,
    name_to_string,
    parse_serial,
    random_serial,
    san_to_string,
)
from govtrust.ca.ocsp import Responder
from govtrust.ca.profiles import CertificateRequest, IssuerInfo
from govtrust.crypto.signer import KeyRef, Signer
from govtrust.errors import Conflict, Error, Forbidden, InputError, MalformedCSR, UnknownCertificate
from govtrust.services.authorities import ca_is_revoked, issuer_info, load_ca_row, signer_for
from govtrust.services.context import Actor, Context
from govtrust.services.ocsp_store import PRESIGNED_ALGS, responder_for, sign_for
from govtrust.store.engine import Database, DriverStatement, GroupCommit
from govtrust.store.models import (
    AuditEventRow,
    CertificateAuthority,
    CertificateRow,
    OcspResponseRow,
)

__all__ = [
    "CertificateInfo",
    "get_certificate",
    "info_of",
    "issue",
    "issue_async",
    "list_certificates",
    "load_cert_row",
    "parse_csr",
    "renew",
]

STATUSES = ("valid", "revoked", "expired")


@dataclass(frozen=True)
class CertificateInfo:
    serial: str
    ca: str
    profile: str
    subject: str
    sans: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    status: str
    revoked_at: dt.datetime | None
    revocation_reason: str | None
    invalidity_date: dt.datetime | None
    sha256: str
    der: bytes
    renewed_from: str | None

    @property
    def pem(self) -> str:
        """RFC 7468 §5: the DER in base64, 64 characters a line, between the labels
        (written here: parsing the certificate to re-serialise it cost more)."""
        text = base64.b64encode(self.der).decode("ascii")
        body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
        return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"

    def to_dict(self, *, with_pem: bool = True) -> dict[str, Any]:
        def iso(t: dt.datetime | None) -> str | None:
            return t.isoformat() if t else None

        out: dict[str, Any] = {
            "serial": self.serial,
            "ca": self.ca,
            "profile": self.profile,
            "subject": self.subject,
            "sans": list(self.sans),
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "status": self.status,
            "revoked_at": iso(self.revoked_at),
            "revocation_reason": self.revocation_reason,
            "invalidity_date": iso(self.invalidity_date),
            "sha256": self.sha256,
            "renewed_from": self.renewed_from,
        }
        if with_pem:
            out["pem"] = self.pem
        return out


def _status(row: CertificateRow, now: dt.datetime) -> str:
    if row.status == "revoked":
        return "revoked"
    return "expired" if row.not_after < now else "valid"


def info_of(row: CertificateRow, ca_name: str, now: dt.datetime) -> CertificateInfo:
    return CertificateInfo(
        serial=row.serial,
        ca=ca_name,
        profile=row.profile,
        subject=row.subject,
        sans=tuple(json.loads(row.sans)),
        not_before=row.not_before,
        not_after=row.not_after,
        status=_status(row, now),
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
        invalidity_date=row.invalidity_date,
        sha256=row.sha256,
        der=row.der,
        renewed_from=row.renewed_from,
    )


def parse_csr(data: bytes) -> CertificateRequest:
    """A PKCS#10 request (RFC 2986), PEM or DER, whose self-signature must verify."""
    try:
        if b"-----BEGIN" in data:
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise MalformedCSR(f"not a PKCS#10 certificate request: {exc}") from None
    try:
        valid = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, x509.UnsupportedGeneralNameType) as exc:
        raise MalformedCSR(f"unreadable certificate request: {exc}") from None
    if not valid:
        raise MalformedCSR("the certificate request's signature does not verify")
    sans: tuple[x509.GeneralName, ...] = ()
    try:
        ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = tuple(ext.value)
    except x509.ExtensionNotFound:
        pass
    except (ValueError, x509.DuplicateExtension) as exc:
        raise MalformedCSR(f"bad extensions in the certificate request: {exc}") from None
    # An unsupported key type is the profile's to refuse (a policy violation, with the
    # allowed algorithms named), not a malformed request.
    return CertificateRequest(csr.subject, public_key, sans)


def load_cert_row(session: Session, serial: str) -> CertificateRow:
    key = format_serial(parse_serial(serial))
    row = session.scalars(select(CertificateRow).where(CertificateRow.serial == key)).first()
    if row is None:
        raise UnknownCertificate(serial)
    return row


def _ca_name(session: Session, ca_id: int) -> str:
    ca = session.get(CertificateAuthority, ca_id)
    assert ca is not None
    return ca.name


@dataclass(frozen=True)
class _Issuer:
    """What issuing under one CA needs, kept per process (see the module docstring)."""

    ca_row: CertificateAuthority
    info: IssuerInfo
    signer: Signer
    responder: Responder | None
    cert_sha256: str


@dataclass(frozen=True)
class _Issuance:
    """One certificate's rows, written by the group-commit thread."""

    ca_id: int
    ocsp_signer_id: int | None
    ca_cert_sha256: str
    ca_name: str
    certificate: dict[str, Any]
    answers: tuple[dict[str, Any], ...]
    audit: dict[str, Any]


_GOOD = CertificateRow(status="valid")
"""A new certificate as ``sign_for`` sees it: status good (RFC 6960 §2.2)."""


class _StaleIssuer(Exception):
    """The CA's responder (or certificate) changed after the issuer was cached: read it
    again and sign again."""


_CERT_COLUMNS = (
    "serial",
    "ca_id",
    "profile",
    "subject",
    "sans",
    "not_before",
    "not_after",
    "der",
    "sha256",
    "status",
    "key_ref",
    "subject_salt",
    "renewed_from",
    "issued_by",
    "created_at",
)
_OCSP_COLUMNS = ("ca_id", "serial", "hash_alg", "der", "this_update", "next_update")
_AUDIT_COLUMNS = ("time", "actor", "action", "object_type", "object_id", "object_sha256", "record")
_CA_STATE = text(
    "SELECT ocsp_signer_id, cert_der, EXISTS (SELECT 1 FROM certificate "
    "WHERE sha256 = :sha256 AND status = 'revoked') FROM ca WHERE id = :id"
)


class _Issuing:
    """Per process and database: the issuers and the group-commit writer."""

    def __init__(self, db: Database) -> None:
        self.lock = threading.Lock()
        self.issuers: dict[tuple[str, int], _Issuer] = {}
        self.writer: GroupCommit[_Issuance, None] = GroupCommit(db, _write_batch, name="issue")


_ISSUING: weakref.WeakKeyDictionary[Database, _Issuing] = weakref.WeakKeyDictionary()
_ISSUING_LOCK = threading.Lock()
_STATEMENTS: dict[str, tuple[DriverStatement, DriverStatement, DriverStatement]] = {}


def _issuing(ctx: Context) -> _Issuing:
    with _ISSUING_LOCK:
        found = _ISSUING.get(ctx.db)
        if found is None:
            found = _ISSUING[ctx.db] = _Issuing(ctx.db)
        return found


def _cached_issuer(ctx: Context, ca_name: str) -> _Issuer | None:
    state = _issuing(ctx)
    with state.lock:
        return state.issuers.get((ca_name, id(ctx.custody)))


def _issuer(ctx: Context, ca_name: str, *, fresh: bool = False) -> _Issuer:
    """The CA's issuer, from the process cache unless ``fresh``; a revoked CA raises
    Conflict (and is not cached)."""
    cached = None if fresh else _cached_issuer(ctx, ca_name)
    if cached is not None:
        return cached
    with ctx.db.read() as session:
        ca_row = load_ca_row(session, ca_name)
        ca_revoked = ca_is_revoked(session, ca_row)
        responder = responder_for(ctx, session, ca_row)
    if ca_revoked:
        raise Conflict(f"the CA {ca_name!r} is revoked and issues nothing more")
    issuer = _Issuer(
        ca_row,
        issuer_info(ctx, ca_row),
        signer_for(ctx, ca_row),
        responder,
        hashlib.sha256(ca_row.cert_der).hexdigest(),
    )
    state = _issuing(ctx)
    with state.lock:
        state.issuers[(ca_name, id(ctx.custody))] = issuer
    return issuer


def _forget_issuer(ctx: Context, ca_name: str) -> None:
    state = _issuing(ctx)
    with state.lock:
        state.issuers.pop((ca_name, id(ctx.custody)), None)


def _write_batch(session: Session, items: Sequence[_Issuance]) -> list[Exception | None]:
    """The group-commit work: check each CA once inside the transaction, then insert
    the certificates, their OCSP answers and their audit records (Core, executemany)."""
    connection = session.connection()  # SQLite: BEGIN IMMEDIATE, the write lock
    dialect = connection.dialect
    statements = _STATEMENTS.get(dialect.name)
    if statements is None:
        statements = _STATEMENTS[dialect.name] = (
            DriverStatement.insert(cast(Table, CertificateRow.__table__), _CERT_COLUMNS, dialect),
            DriverStatement.insert(cast(Table, OcspResponseRow.__table__), _OCSP_COLUMNS, dialect),
            DriverStatement.insert(cast(Table, AuditEventRow.__table__), _AUDIT_COLUMNS, dialect),
        )
    cert_insert, ocsp_insert, audit_insert = statements
    states: dict[tuple[int, str], tuple[Any, bool, bool] | None] = {}
    results: list[Exception | None] = []
    certs: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    for item in items:
        key = (item.ca_id, item.ca_cert_sha256)
        if key not in states:
            row = connection.execute(
                _CA_STATE, {"id": item.ca_id, "sha256": item.ca_cert_sha256}
            ).first()
            states[key] = (
                None
                if row is None
                else (
                    row[0],
                    bool(row[2]),
                    hashlib.sha256(bytes(row[1])).hexdigest() == item.ca_cert_sha256,
                )
            )
        state = states[key]
        if state is None or state[1]:
            results.append(Conflict(f"the CA {item.ca_name!r} is revoked and issues nothing more"))
            continue
        if state[0] != item.ocsp_signer_id or not state[2]:
            results.append(_StaleIssuer(item.ca_name))
            continue
        certs.append(item.certificate)
        answers.extend(item.answers)
        audits.append(item.audit)
        results.append(None)
    cert_insert.executemany(connection, certs)
    ocsp_insert.executemany(connection, answers)
    audit_insert.executemany(connection, audits)
    return results


def issue(
    ctx: Context,
    ca_name: str,
    profile_name: str,
    request: CertificateRequest,
    actor: Actor,
    *,
    key_ref: KeyRef | None = None,
    renewed_from: str | None = None,
) -> CertificateInfo:
    """Issue one certificate. Every check runs before anything is written. The row, its
    audit event and its pre-signed 'good' OCSP answers (RFC 5019 §2.2) commit in one
    transaction (shared with the issuances that arrive together: group commit), so a
    crash leaves none of them, and no OCSP request ever signs."""
    steps = _issue_steps(ctx, ca_name, profile_name, request, actor, key_ref, renewed_from)
    writer = _issuing(ctx).writer
    outcome: Any = None
    error: Exception | None = None
    while True:
        try:
            step = steps.throw(error) if error is not None else steps.send(outcome)
        except StopIteration as done:
            return cast(CertificateInfo, done.value)
        outcome, error = None, None
        try:
            outcome = step() if callable(step) else writer.run(step)
        except Exception as exc:
            error = exc


async def issue_async(
    ctx: Context,
    ca_name: str,
    profile_name: str,
    request: CertificateRequest,
    actor: Actor,
    *,
    key_ref: KeyRef | None = None,
    renewed_from: str | None = None,
) -> CertificateInfo:
    """:func:`issue` for the event loop: the checks and signatures run here (about a
    millisecond of CPU), a database read of the issuing CA (when not cached) in a
    thread, and the coroutine waits for the group commit without a thread of its own."""
    steps = _issue_steps(ctx, ca_name, profile_name, request, actor, key_ref, renewed_from)
    writer = _issuing(ctx).writer
    outcome: Any = None
    error: Exception | None = None
    while True:
        try:
            step = steps.throw(error) if error is not None else steps.send(outcome)
        except StopIteration as done:
            return cast(CertificateInfo, done.value)
        outcome, error = None, None
        try:
            if callable(step):
                outcome = await asyncio.to_thread(step)
            else:
                await writer.run_async(step)
        except Exception as exc:
            error = exc


_Step = Callable[[], "_Issuer"] | _Issuance
"""What :func:`_issue_steps` asks its driver for: load an issuer (blocking database
work) or commit an issuance through the group commit."""


def _issue_steps(
    ctx: Context,
    ca_name: str,
    profile_name: str,
    request: CertificateRequest,
    actor: Actor,
    key_ref: KeyRef | None,
    renewed_from: str | None,
) -> Generator[_Step, Any, CertificateInfo]:
    """The issuance, written once for the two drivers (:func:`issue`,
    :func:`issue_async`): it yields the steps that wait and gets their outcome back
    (or their exception raised at the ``yield``)."""
    profile = ctx.profiles.get(profile_name)
    if not actor.may_use_profile(profile.name):
        raise Forbidden(f"{actor.name} may not issue with profile {profile.name!r}")
    issuer = _cached_issuer(ctx, ca_name)
    if issuer is None:  # a database read: the async driver runs it in a thread
        issuer = yield functools.partial(_issuer, ctx, ca_name)
    salt = secrets.token_bytes(32) if profile.spec.natural_person else None
    subject_der = request.subject.public_bytes()
    subject = name_to_string(request.subject)
    sans = json.dumps([san_to_string(n) for n in request.sans])
    for _attempt in range(5):
        ca_row = issuer.ca_row
        now = ctx.clock.now()
        draft = profile.apply(request, issuer.info, now)
        serial = random_serial()
        cert = sign_draft(draft, serial, issuer.signer)
        der = cert.public_bytes(serialization.Encoding.DER)
        serial_text = format_serial(serial)
        not_after = cert.not_valid_after_utc
        row: dict[str, Any] = {
            "serial": serial_text,
            "ca_id": ca_row.id,
            "profile": profile.name,
            "subject": subject,
            "sans": sans,
            "not_before": cert.not_valid_before_utc,
            "not_after": not_after,
            "der": der,
            "sha256": hashlib.sha256(der).hexdigest(),
            "status": "valid",
            "key_ref": str(key_ref) if key_ref else None,
            "subject_salt": salt,
            "renewed_from": renewed_from,
            "issued_by": actor.name,
            "created_at": now,
        }
        # The audit record of a natural person's certificate carries a commitment to the
        # subject, not the name (ETSI EN 319 412-2 subjects are personal data).
        details: dict[str, str | int | bool | None] = {
            "serial": serial_text,
            "ca": ca_row.name,
            "profile": profile.name,
            "not_after": not_after.isoformat(),
        }
        if salt is not None:
            details["subject_commitment"] = subject_commitment(salt, subject_der)
        else:
            details["subject"] = subject
        if renewed_from:
            details["renewed_from"] = renewed_from
        answers = []
        if issuer.responder is not None:  # a CA's first responder is being issued: none yet
            for alg in PRESIGNED_ALGS:
                answer, next_update = sign_for(
                    ctx, ca_row, _GOOD, serial, alg, issuer.responder, now
                )
                answers.append(
                    {
                        "ca_id": ca_row.id,
                        "serial": serial_text,
                        "hash_alg": alg,
                        "der": answer,
                        "this_update": now,
                        "next_update": next_update,
                    }
                )
        event = AuditEvent(
            action="cert.issue",
            actor=actor.name,
            time=ctx.clock.now(),
            object_type="certificate",
            object_id=serial_text,
            object_sha256=hashlib.sha256(der).hexdigest(),
            details=details,
        )
        item = _Issuance(
            ca_id=ca_row.id,
            ocsp_signer_id=ca_row.ocsp_signer_id if issuer.responder is not None else None,
            ca_cert_sha256=issuer.cert_sha256,
            ca_name=ca_row.name,
            certificate=row,
            answers=tuple(answers),
            audit={
                "time": event.time,
                "actor": event.actor,
                "action": event.action,
                "object_type": event.object_type,
                "object_id": event.object_id,
                "object_sha256": event.object_sha256,
                "record": event.canonical(),
            },
        )
        try:
            yield item
        except IntegrityError:
            continue  # a serial collision (p ≈ 2^-159): draw again
        except (_StaleIssuer, Conflict):
            _forget_issuer(ctx, ca_name)
            # Read again; raises Conflict if the CA was revoked.
            issuer = yield functools.partial(_issuer, ctx, ca_name, fresh=True)
            continue
        return CertificateInfo(
            serial=serial_text,
            ca=ca_row.name,
            profile=profile.name,
            subject=subject,
            sans=tuple(json.loads(sans)),
            not_before=row["not_before"],
            not_after=not_after,
            status=_status_of_new(not_after, now),
            revoked_at=None,
            revocation_reason=None,
            invalidity_date=None,
            sha256=row["sha256"],
            der=der,
            renewed_from=renewed_from,
        )
    raise Error("could not allocate a unique serial number")


def _status_of_new(not_after: dt.datetime, now: dt.datetime) -> str:
    return "expired" if not_after < now else "valid"


def get_certificate(ctx: Context, serial: str) -> CertificateInfo:
    with ctx.db.read() as session:
        row = load_cert_row(session, serial)
        return info_of(row, _ca_name(session, row.ca_id), ctx.clock.now())


def list_certificates(
    ctx: Context,
    *,
    ca: str | None = None,
    profile: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[CertificateInfo]:
    if status is not None and status not in STATUSES:
        raise InputError(f"unknown status {status!r} (use one of: {', '.join(STATUSES)})")
    if limit <= 0 or limit > 10_000 or offset < 0:
        raise InputError("limit must be 1..10000 and offset not negative")
    now = ctx.clock.now()
    with ctx.db.read() as session:
        query = select(CertificateRow, CertificateAuthority.name).join(
            CertificateAuthority, CertificateRow.ca_id == CertificateAuthority.id
        )
        if ca is not None:
            load_ca_row(session, ca)
            query = query.where(CertificateAuthority.name == ca)
        if profile is not None:
            if profile != "sub-ca":
                ctx.profiles.get(profile)  # raises UnknownProfile for a typo
            query = query.where(CertificateRow.profile == profile)
        if status == "revoked":
            query = query.where(CertificateRow.status == "revoked")
        elif status == "valid":
            query = query.where(CertificateRow.status == "valid", CertificateRow.not_after >= now)
        elif status == "expired":
            query = query.where(CertificateRow.status == "valid", CertificateRow.not_after < now)
        query = query.order_by(CertificateRow.id.desc()).limit(limit).offset(offset)
        return [info_of(row, name, now) for row, name in session.execute(query).all()]


def renew(ctx: Context, serial: str, actor: Actor) -> CertificateInfo:
    """Issue a new certificate for the same subject, names, key and profile.

    The old certificate stays valid until it expires or is revoked (superseded).
    """
    with ctx.db.read() as session:
        row = load_cert_row(session, serial)
        ca_name = _ca_name(session, row.ca_id)
    if row.profile == "sub-ca":
        raise InputError("CA certificates are not renewed with 'cert renew'")
    if row.status == "revoked":
        raise InputError(f"certificate {row.serial} is revoked and cannot be renewed")
    old = x509.load_der_x509_certificate(row.der)
    try:
        sans = tuple(old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        sans = ()
    request = CertificateRequest(old.subject, old.public_key(), sans)
    key_ref = KeyRef.parse(row.key_ref) if row.key_ref else None
    return issue(
        ctx, ca_name, row.profile, request, actor, key_ref=key_ref, renewed_from=row.serial
    )
