"""Use cases for revocation: revoke, CRLs, OCSP responders, pre-signed OCSP responses,
and the OCSP hot path."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import NameOID
from sqlalchemy import bindparam, delete, select

from govtrust.ca.authority import cert_id_hash
from govtrust.ca.crl import RevocationReason, build_crl, encode_entry
from govtrust.ca.names import format_serial, parse_subject
from govtrust.ca.ocsp import Responder, error_response, parse_request
from govtrust.ca.profiles import CertificateRequest
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.signer import KeyRef
from govtrust.errors import AlreadyRevoked, Error, Forbidden, InputError, ProtocolError
from govtrust.services import audit
from govtrust.services.authorities import ca_is_revoked, load_ca_row, signer_for
from govtrust.services.certificates import (
    CertificateInfo,
    info_of,
    issue,
    load_cert_row,
)
from govtrust.services.context import Actor, Context
from govtrust.services.ocsp_store import (
    PRESIGNED_ALGS,
    cert_id_hashes,
    responder_for,
    sign_for,
    store_response,
    upsert,
)
from govtrust.store.engine import DriverStatement, PointReader
from govtrust.store.models import CertificateAuthority, CertificateRow, OcspResponseRow

__all__ = [
    "CrlInfo",
    "OcspAnswer",
    "OcspService",
    "RefreshReport",
    "ensure_ocsp_signer",
    "generate_crl",
    "get_crl",
    "refresh_ocsp",
    "revoke",
]

SYSTEM = Actor("system:scheduler", "admin")
log = logging.getLogger("govtrust.revocation")


# ---- revocation ------------------------------------------------------------------------


def revoke(
    ctx: Context,
    serial: str,
    reason: RevocationReason,
    actor: Actor,
    *,
    invalidity_date: dt.datetime | None = None,
) -> CertificateInfo:
    """Revoke a certificate (RFC 5280 §5.3). In one transaction: the status, the CRL
    entry, the audit event, and fresh 'revoked' OCSP responses replacing the pre-signed
    'good' ones; then the issuer's CRL is regenerated."""
    now = ctx.clock.now()
    if invalidity_date is not None:
        if invalidity_date.tzinfo is None:
            invalidity_date = invalidity_date.replace(tzinfo=dt.UTC)
        if invalidity_date > now:
            raise InputError("the invalidity date cannot be in the future")
    with ctx.db.write() as session:
        row = session.scalars(
            select(CertificateRow)
            .where(CertificateRow.id == load_cert_row(session, serial).id)
            .with_for_update()
        ).one()
        if row.status == "revoked":
            raise AlreadyRevoked(row.serial, row.revocation_reason or "unspecified")
        if not actor.may_use_profile(row.profile) or (
            row.profile == "sub-ca" and actor.role != "admin"
        ):
            raise Forbidden(f"{actor.name} may not revoke {row.profile!r} certificates")
        ca_row = session.get(CertificateAuthority, row.ca_id)
        assert ca_row is not None
        row.status = "revoked"
        row.revoked_at = now
        row.revocation_reason = reason.label
        row.invalidity_date = invalidity_date
        row.crl_entry = encode_entry(int(row.serial, 16), now, reason, invalidity_date)
        session.execute(
            delete(OcspResponseRow).where(
                OcspResponseRow.ca_id == row.ca_id, OcspResponseRow.serial == row.serial
            )
        )
        responder = responder_for(ctx, session, ca_row)
        if responder is not None:
            for alg in PRESIGNED_ALGS:
                store_response(session, ctx, ca_row, row, alg, responder, now)
        audit.record(
            session,
            ctx,
            actor,
            "cert.revoke",
            "certificate",
            row.serial,
            row.crl_entry,
            {
                "serial": row.serial,
                "ca": ca_row.name,
                "reason": reason.label,
                "invalidity_date": invalidity_date.isoformat() if invalidity_date else None,
            },
        )
        info = info_of(row, ca_row.name, now)
        ca_name = ca_row.name
    # A revoked subordinate CA issues nothing more (certificates.issue refuses); its
    # status reaches relying parties through its parent's CRL and OCSP answers.
    generate_crl(ctx, ca_name, actor)
    return info


# ---- CRLs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrlInfo:
    ca: str
    number: int
    this_update: dt.datetime
    next_update: dt.datetime
    entries: int
    der: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


_CRL_ENTRIES = select(CertificateRow.crl_entry).where(
    CertificateRow.ca_id == bindparam("ca_id"),
    CertificateRow.status == "revoked",
    CertificateRow.crl_entry.is_not(None),
)
"""Answered from the covering index ``ix_certificate_crl`` (ca_id, status, crl_entry)."""


def generate_crl(ctx: Context, ca_name: str, actor: Actor) -> CrlInfo:
    """Issue the CA's next full CRL with the next CRL number (RFC 5280 §5.2.3).

    The revoked entries (DER, encoded at revocation) are read through the DB-API
    cursor, not as ORM results, whose per-row processing was most of the time: with
    100,000 entries the whole function takes 0.15–0.17 s instead of 0.41–0.46 s
    (bench/README.md, runs C and D).
    """
    with ctx.db.write() as session:
        ca_row = session.scalars(
            select(CertificateAuthority)
            .where(CertificateAuthority.id == load_ca_row(session, ca_name).id)
            .with_for_update()
        ).one()
        now = ctx.clock.now()
        next_update = now + dt.timedelta(hours=ctx.settings.crl.validity_hours)
        number = ca_row.crl_number + 1
        connection = session.connection()
        statement = DriverStatement.compile(_CRL_ENTRIES, connection.dialect)
        entries = [row[0] for row in statement.fetchall(connection, ca_id=ca_row.id)]
        issuer = x509.load_der_x509_certificate(ca_row.cert_der)
        der = build_crl(issuer, signer_for(ctx, ca_row), number, now, next_update, entries)
        ca_row.crl_number = number
        ca_row.crl_der = der
        ca_row.crl_this_update = now
        ca_row.crl_next_update = next_update
        audit.record(
            session,
            ctx,
            actor,
            "crl.generate",
            "crl",
            f"{ca_row.name}#{number}",
            der,
            {
                "ca": ca_row.name,
                "number": number,
                "entries": len(entries),
                "next_update": next_update.isoformat(),
            },
        )
    return CrlInfo(ca_name, number, now, next_update, len(entries), der)


def get_crl(ctx: Context, ca_name: str) -> CrlInfo | None:
    with ctx.db.read() as session:
        row = load_ca_row(session, ca_name)
        if row.crl_der is None or row.crl_this_update is None or row.crl_next_update is None:
            return None
        return CrlInfo(
            ca_name, row.crl_number, row.crl_this_update, row.crl_next_update, -1, row.crl_der
        )


# ---- OCSP responders and pre-signing ----------------------------------------------------


def ensure_ocsp_signer(ctx: Context, ca_name: str, actor: Actor, force: bool = False) -> bool:
    """Give the CA a delegated responder certificate, renewing it before it expires.

    Returns True when a new responder certificate was issued.
    """
    with ctx.db.read() as session:
        ca_row = load_ca_row(session, ca_name)
        current = (
            session.get(CertificateRow, ca_row.ocsp_signer_id) if ca_row.ocsp_signer_id else None
        )
        revoked = ca_is_revoked(session, ca_row)
    now = ctx.clock.now()
    if revoked:
        return False  # a revoked CA issues nothing, not even a new responder
    renew_at = dt.timedelta(days=ctx.settings.ocsp.signer_renew_before_days)
    if (
        not force
        and current is not None
        and current.status == "valid"
        and current.not_after - now > renew_at
    ):
        return False
    if ca_row.not_after <= now:
        return False  # an expired CA gets no new responder
    ca_key = KeyRef.parse(ca_row.key_ref)
    spec = KeySpec(ca_row.key_spec)
    profile = ctx.profiles.get("ocsp-signer")
    if spec not in profile.spec.key_algorithms:
        spec = KeySpec.EC_P256
    signer = ctx.custody.generate(ca_key.backend, f"ocsp-{ca_name}", spec)
    # The responder is named after its CA and carries the CA's O and C (CA/Browser
    # Forum BR §7.1.2.8 refers to §7.1.2.10.2 for a responder's subject).
    ca_subject = x509.load_der_x509_certificate(ca_row.cert_der).subject
    cn = ca_subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    parts = [f"CN={_escape(str(cn[0].value) if cn else ca_name)} OCSP Responder"]
    for oid, short in ((NameOID.ORGANIZATION_NAME, "O"), (NameOID.COUNTRY_NAME, "C")):
        parts += [
            f"{short}={_escape(str(a.value))}" for a in ca_subject.get_attributes_for_oid(oid)
        ]
    subject = parse_subject(",".join(parts))
    info = issue(
        ctx,
        ca_name,
        "ocsp-signer",
        CertificateRequest(subject, signer.public_key()),
        actor if actor.role == "admin" else SYSTEM,
        key_ref=signer.ref,
    )
    with ctx.db.write() as session:
        row = session.scalars(
            select(CertificateRow).where(CertificateRow.serial == info.serial)
        ).one()
        ca = session.get(CertificateAuthority, ca_row.id)
        assert ca is not None
        ca.ocsp_signer_id = row.id
    return True


def _escape(value: str) -> str:
    """RFC 4514 §2.4 escaping of an attribute value."""
    out = value.replace("\\", "\\\\")
    for ch in ',+"<>;=':
        out = out.replace(ch, "\\" + ch)
    return out


@dataclass(frozen=True)
class RefreshReport:
    signed: int
    responders_renewed: list[str]
    crls_regenerated: list[str]
    failed: dict[str, str] = field(default_factory=dict)
    """CA name → why its refresh failed; the other CAs were refreshed all the same."""

    def to_dict(self) -> dict[str, object]:
        return {
            "signed": self.signed,
            "responders_renewed": self.responders_renewed,
            "crls_regenerated": self.crls_regenerated,
            "failed": self.failed,
        }


def _presign_due(
    ctx: Context, ca_id: int, now: dt.datetime, horizon: dt.datetime, batch: int
) -> int:
    """Sign the answers of one CA that are missing, due, or signed by an old responder."""
    signed = 0
    with ctx.db.read() as session:
        ca_row = session.get(CertificateAuthority, ca_id)
        assert ca_row is not None
        responder = responder_for(ctx, session, ca_row)
        if responder is None:
            return 0
        # A responder renewed above invalidates every response signed by the old one.
        signer_since = responder.certificate.not_valid_before_utc
        fresh = {
            (r.serial, r.hash_alg)
            for r in session.execute(
                select(OcspResponseRow.serial, OcspResponseRow.hash_alg).where(
                    OcspResponseRow.ca_id == ca_id,
                    OcspResponseRow.next_update > horizon,
                    OcspResponseRow.this_update >= signer_since,
                )
            )
        }
        rows = session.scalars(
            select(CertificateRow).where(
                CertificateRow.ca_id == ca_id, CertificateRow.not_after >= now
            )
        ).all()
    todo = [(r, a) for r in rows for a in PRESIGNED_ALGS if (r.serial, a) not in fresh]
    for start in range(0, len(todo), batch):
        with ctx.db.write() as session:
            ca_row = session.get(CertificateAuthority, ca_id)
            assert ca_row is not None
            for cert_row, alg in todo[start : start + batch]:
                current = session.get(CertificateRow, cert_row.id)
                assert current is not None
                store_response(session, ctx, ca_row, current, alg, responder, now)
                signed += 1
    return signed


def refresh_ocsp(
    ctx: Context, actor: Actor = SYSTEM, *, batch: int = 500, regenerate_crls: bool = True
) -> RefreshReport:
    """Pre-sign every OCSP response that is missing or close to its nextUpdate, renew
    responder certificates, and regenerate CRLs that are due (RFC 5019 §2.2.4, §6)."""
    now = ctx.clock.now()
    renewed: list[str] = []
    crls: list[str] = []
    with ctx.db.read() as session:
        cas = session.scalars(select(CertificateAuthority).order_by(CertificateAuthority.id)).all()
    failed: dict[str, str] = {}
    for ca in cas:
        # One CA's failure (a key that cannot be opened, say) must not stop the others'
        # CRLs and OCSP answers from being refreshed before they expire.
        try:
            if ensure_ocsp_signer(ctx, ca.name, actor):
                renewed.append(ca.name)
            due = now - dt.timedelta(hours=ctx.settings.crl.refresh_hours)
            if regenerate_crls and (ca.crl_this_update is None or ca.crl_this_update <= due):
                generate_crl(ctx, ca.name, actor)
                crls.append(ca.name)
        except Error as exc:
            failed[ca.name] = str(exc)
            log.error("refresh of CA %s failed: %s", ca.name, exc)
    horizon = now + dt.timedelta(hours=ctx.settings.ocsp.refresh_before_hours)
    signed = 0
    for ca in cas:
        if ca.name in failed:
            continue
        try:
            signed += _presign_due(ctx, ca.id, now, horizon, batch)
        except Error as exc:
            failed[ca.name] = str(exc)
            log.error("OCSP pre-signing for CA %s failed: %s", ca.name, exc)
    return RefreshReport(signed, renewed, crls, failed)


# ---- the OCSP hot path ------------------------------------------------------------------


@dataclass(frozen=True)
class OcspAnswer:
    """A DER OCSPResponse, with what HTTP caching (RFC 5019 §6) needs to know."""

    der: bytes
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None

    @property
    def cacheable(self) -> bool:
        return self.next_update is not None


@dataclass(frozen=True)
class _KnownCA:
    id: int
    name_hash: bytes
    responder: Responder


_STORED_ANSWER = select(
    OcspResponseRow.der, OcspResponseRow.this_update, OcspResponseRow.next_update
).where(
    OcspResponseRow.ca_id == bindparam("ca_id"),
    OcspResponseRow.serial == bindparam("serial"),
    OcspResponseRow.hash_alg == bindparam("hash_alg"),
)


class OcspService:
    """Answers OCSP requests. Responses without a nonce come from storage (signed ahead
    by ``refresh_ocsp`` or on first use); nothing on that path signs twice.

    Two entry points:

    - :meth:`stored_answer` (async, for the event loop): the pre-produced answer of a
      request that needs no signing (no nonce, which a pre-produced response cannot
      echo, RFC 5019 §4; a SHA-1 or SHA-256 CertID of a CA in the current map), read
      with one statement on the DB-API (``store.engine.PointReader``), or None. Every
      request reads the database, so a revocation committed by any process is answered
      at once (the 'revoked' answers replace the 'good' ones in the revocation's
      transaction).
    - :meth:`respond` (blocking, for a worker thread): every request, signing when it
      must.
    """

    MALFORMED = error_response(x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    UNAUTHORIZED = error_response(x509_ocsp.OCSPResponseStatus.UNAUTHORIZED)
    INTERNAL_ERROR = error_response(x509_ocsp.OCSPResponseStatus.INTERNAL_ERROR)

    def __init__(self, ctx: Context, ttl_seconds: float = 30.0) -> None:
        self._ctx = ctx
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, bytes], _KnownCA] = {}
        self._loaded_at = 0.0
        self._stored: PointReader | None = None

    def _reader(self) -> PointReader:
        """The stored-answer reader, made on first use: a service that only signs or
        answers through :meth:`respond` registers no reader with the database."""
        reader = self._stored
        if reader is None:
            with self._lock:
                if self._stored is None:
                    self._stored = self._ctx.db.point_reader(_STORED_ANSWER)
                reader = self._stored
        return reader

    def _reload(self) -> None:
        by_key: dict[tuple[str, bytes], _KnownCA] = {}
        with self._ctx.db.read() as session:
            for ca_row in session.scalars(select(CertificateAuthority)).all():
                responder = responder_for(self._ctx, session, ca_row)
                if responder is None:
                    continue
                for alg in PRESIGNED_ALGS:
                    name_hash, key_hash = cert_id_hashes(ca_row, alg)
                    by_key[(alg, key_hash)] = _KnownCA(ca_row.id, name_hash, responder)
        self._by_key = by_key
        self._loaded_at = time.monotonic()

    def _find(self, alg: str, key_hash: bytes) -> _KnownCA | None:
        with self._lock:
            if time.monotonic() - self._loaded_at > self._ttl:
                self._reload()
            known = self._by_key.get((alg, key_hash))
            if known is None and time.monotonic() - self._loaded_at > 1.0:
                self._reload()  # a CA created since the last load
                known = self._by_key.get((alg, key_hash))
            return known

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = 0.0

    def now(self) -> dt.datetime:
        return self._ctx.clock.now()

    async def stored_answer(self, request_der: bytes) -> OcspAnswer | None:
        """The stored answer to ``request_der`` if one is current, else None: the caller
        then runs :meth:`respond` (in a thread), which also answers malformed,
        unauthorized, nonce and other-hash requests, and signs what is missing.

        Never blocks on anything but the one read: the CA map is used only while fresh
        and is reloaded by :meth:`respond`, never here.
        """
        try:
            query = parse_request(request_der)
        except ProtocolError:
            return None
        if query.nonce is not None:
            return None  # RFC 9654: a nonce is echoed, so the answer is signed now
        return await self.stored_answer_for(
            query.hash_alg, query.issuer_name_hash, query.issuer_key_hash, query.serial
        )

    async def stored_answer_for(
        self, hash_alg: str, issuer_name_hash: bytes, issuer_key_hash: bytes, serial: int
    ) -> OcspAnswer | None:
        """:meth:`stored_answer` for the CertID of an already parsed request (RFC 6960
        §4.1.1: ``hashAlgorithm``, ``issuerNameHash``, ``issuerKeyHash``,
        ``serialNumber``) without a nonce: the current pre-signed answer, read now, or
        None (then :meth:`respond`, in a thread, answers and refreshes the CA map)."""
        if hash_alg not in PRESIGNED_ALGS:
            return None
        if time.monotonic() - self._loaded_at > self._ttl:
            return None
        known = self._by_key.get((hash_alg, issuer_key_hash))
        if known is None or known.name_hash != issuer_name_hash:
            return None
        try:
            row = await self._reader().fetch(
                ca_id=known.id, serial=format_serial(serial), hash_alg=hash_alg
            )
        except Exception:  # the slow path reports database failures; don't fail here
            log.warning("OCSP stored-answer read failed; answering on the slow path", exc_info=True)
            return None
        if row is None:
            return None
        der, this_update, next_update = row
        if next_update <= self._ctx.clock.now():
            return None  # expired: respond() signs a fresh one and stores it
        return OcspAnswer(der, this_update, next_update)

    def respond(self, request_der: bytes) -> OcspAnswer:
        try:
            query = parse_request(request_der)
        except ProtocolError:
            return OcspAnswer(self.MALFORMED)
        if query.hash_alg not in PRESIGNED_ALGS:
            # SHA-384/512 CertIDs: answer, but sign on demand with the request's hashes.
            return self._respond_other_alg(
                query.hash_alg,
                query.issuer_name_hash,
                query.issuer_key_hash,
                query.serial,
                query.nonce,
            )
        known = self._find(query.hash_alg, query.issuer_key_hash)
        if known is None or known.name_hash != query.issuer_name_hash:
            return OcspAnswer(self.UNAUTHORIZED)  # RFC 6960 §2.3: not a CA we answer for
        serial = format_serial(query.serial)
        now = self._ctx.clock.now()
        if query.nonce is None:
            with self._ctx.db.read() as session:
                cached = session.execute(
                    select(
                        OcspResponseRow.der,
                        OcspResponseRow.this_update,
                        OcspResponseRow.next_update,
                    ).where(
                        OcspResponseRow.ca_id == known.id,
                        OcspResponseRow.serial == serial,
                        OcspResponseRow.hash_alg == query.hash_alg,
                    )
                ).first()
            if cached is not None and cached.next_update > now:
                return OcspAnswer(cached.der, cached.this_update, cached.next_update)
        return self._sign_now(known, query.hash_alg, serial, query.serial, query.nonce, now)

    def _sign_now(
        self,
        known: _KnownCA,
        alg: str,
        serial: str,
        serial_int: int,
        nonce: bytes | None,
        now: dt.datetime,
    ) -> OcspAnswer:
        ctx = self._ctx
        with ctx.db.read() as session:
            ca_row = session.get(CertificateAuthority, known.id)
            assert ca_row is not None
            cert_row = session.scalars(
                select(CertificateRow).where(
                    CertificateRow.ca_id == known.id, CertificateRow.serial == serial
                )
            ).first()
        der, next_update = sign_for(
            ctx, ca_row, cert_row, serial_int, alg, known.responder, now, nonce=nonce
        )
        if nonce is not None or cert_row is None:
            return OcspAnswer(der, now, next_update) if nonce is None else OcspAnswer(der)
        with ctx.db.write() as session:
            # Store only if no revocation slipped in between the read and now.
            current = session.get(CertificateRow, cert_row.id)
            if current is not None and current.status == cert_row.status:
                upsert(
                    session,
                    {
                        "ca_id": known.id,
                        "serial": serial,
                        "hash_alg": alg,
                        "der": der,
                        "this_update": now,
                        "next_update": next_update,
                    },
                )
        return OcspAnswer(der, now, next_update)

    def _respond_other_alg(
        self, alg: str, name_hash: bytes, key_hash: bytes, serial_int: int, nonce: bytes | None
    ) -> OcspAnswer:
        algorithm = {"sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[alg]
        ctx = self._ctx
        with ctx.db.read() as session:
            for ca_row in session.scalars(select(CertificateAuthority)).all():
                cert = x509.load_der_x509_certificate(ca_row.cert_der)
                if cert_id_hash(cert, algorithm) != (name_hash, key_hash):
                    continue
                responder = responder_for(ctx, session, ca_row)
                if responder is None:
                    break
                cert_row = session.scalars(
                    select(CertificateRow).where(
                        CertificateRow.ca_id == ca_row.id,
                        CertificateRow.serial == format_serial(serial_int),
                    )
                ).first()
                now = ctx.clock.now()
                der, next_update = sign_for(
                    ctx,
                    ca_row,
                    cert_row,
                    serial_int,
                    alg,
                    responder,
                    now,
                    name_hash=name_hash,
                    key_hash=key_hash,
                    nonce=nonce,
                )
                return OcspAnswer(der) if nonce else OcspAnswer(der, now, next_update)
        return OcspAnswer(self.UNAUTHORIZED)
