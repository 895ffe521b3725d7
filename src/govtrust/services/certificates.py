"""Use cases for end-entity certificates: issue (from a CSR or a key the caller made),
show, list, renew."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govtrust.audit import subject_commitment
from govtrust.ca.authority import sign_draft
from govtrust.ca.names import (
    format_serial,
    name_to_string,
    parse_serial,
    random_serial,
    san_to_string,
)
from govtrust.ca.profiles import CertificateRequest
from govtrust.crypto.signer import KeyRef
from govtrust.errors import Conflict, Error, Forbidden, InputError, MalformedCSR, UnknownCertificate
from govtrust.services import audit
from govtrust.services.authorities import ca_is_revoked, issuer_info, load_ca_row, signer_for
from govtrust.services.context import Actor, Context
from govtrust.services.ocsp_store import PRESIGNED_ALGS, responder_for, sign_for
from govtrust.store.models import CertificateAuthority, CertificateRow, OcspResponseRow

__all__ = [
    "CertificateInfo",
    "get_certificate",
    "info_of",
    "issue",
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
        return (
            x509.load_der_x509_certificate(self.der)
            .public_bytes(serialization.Encoding.PEM)
            .decode()
        )

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
    transaction, so a crash leaves none of them, and no OCSP request ever signs."""
    profile = ctx.profiles.get(profile_name)
    if not actor.may_use_profile(profile.name):
        raise Forbidden(f"{actor.name} may not issue with profile {profile.name!r}")
    with ctx.db.read() as session:
        ca_row = load_ca_row(session, ca_name)
        ca_revoked = ca_is_revoked(session, ca_row)
        responder = responder_for(ctx, session, ca_row)
    if ca_revoked:
        raise Conflict(f"the CA {ca_name!r} is revoked and issues nothing more")
    now = ctx.clock.now()
    draft = profile.apply(request, issuer_info(ctx, ca_row), now)
    signer = signer_for(ctx, ca_row)
    salt = secrets.token_bytes(32) if profile.spec.natural_person else None
    subject_der = request.subject.public_bytes()
    for _attempt in range(5):
        serial = random_serial()
        cert = sign_draft(draft, serial, signer)
        der = cert.public_bytes(serialization.Encoding.DER)
        row = CertificateRow(
            serial=format_serial(serial),
            ca_id=ca_row.id,
            profile=profile.name,
            subject=name_to_string(request.subject),
            sans=json.dumps([san_to_string(n) for n in request.sans]),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            der=der,
            sha256=hashlib.sha256(der).hexdigest(),
            status="valid",
            key_ref=str(key_ref) if key_ref else None,
            subject_salt=salt,
            renewed_from=renewed_from,
            issued_by=actor.name,
            created_at=now,
        )
        # The audit record of a natural person's certificate carries a commitment to the
        # subject, not the name (ETSI EN 319 412-2 subjects are personal data).
        details: dict[str, str | int | bool | None] = {
            "serial": row.serial,
            "ca": ca_row.name,
            "profile": profile.name,
            "not_after": row.not_after.isoformat(),
        }
        if salt is not None:
            details["subject_commitment"] = subject_commitment(salt, subject_der)
        else:
            details["subject"] = row.subject
        if renewed_from:
            details["renewed_from"] = renewed_from
        answers = []
        if responder is not None:  # a CA's first responder is being issued: none yet
            for alg in PRESIGNED_ALGS:
                answer, next_update = sign_for(ctx, ca_row, row, serial, alg, responder, now)
                answers.append(
                    OcspResponseRow(
                        ca_id=ca_row.id,
                        serial=row.serial,
                        hash_alg=alg,
                        der=answer,
                        this_update=now,
                        next_update=next_update,
                    )
                )
        try:
            with ctx.db.write() as session:
                session.add(row)
                session.flush()
                session.add_all(answers)
                audit.record(
                    session, ctx, actor, "cert.issue", "certificate", row.serial, der, details
                )
        except IntegrityError:
            continue  # a serial collision (p ≈ 2^-159): draw again
        return info_of(row, ca_row.name, now)
    raise Error("could not allocate a unique serial number")


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
