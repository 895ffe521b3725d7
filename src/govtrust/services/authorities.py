"""Use cases for certification authorities: create a root or an intermediate, list, show."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from govtrust.ca.authority import build_intermediate_ca, build_root_ca, cert_id_hashes
from govtrust.ca.names import format_serial, name_to_string, parse_subject, random_serial
from govtrust.ca.profiles import IssuerInfo, distribution_base_url, eku_oid
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.signer import KeyRef, Signer
from govtrust.errors import AlreadyExists, InputError, UnknownCA
from govtrust.services import audit
from govtrust.services.context import Actor, Context
from govtrust.store.models import CertificateAuthority, CertificateRow

__all__ = [
    "CAInfo",
    "ca_is_revoked",
    "create_intermediate",
    "create_root",
    "get_ca",
    "issuer_info",
    "list_cas",
    "load_ca_row",
    "signer_for",
]

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
MAX_VALIDITY_DAYS = 36_525  # a century: beyond it a CA is a mistake, not a policy


def _check_validity(days: int) -> None:
    if not 0 < days <= MAX_VALIDITY_DAYS:
        raise InputError(f"validity must be 1 to {MAX_VALIDITY_DAYS} days, not {days}")


@dataclass(frozen=True)
class CAInfo:
    name: str
    subject: str
    parent: str | None
    key_spec: str
    backend: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    sha256: str
    crl_number: int
    crl_next_update: dt.datetime | None
    ocsp_signer_serial: str | None
    cert_der: bytes

    @property
    def pem(self) -> str:
        return (
            x509.load_der_x509_certificate(self.cert_der)
            .public_bytes(serialization.Encoding.PEM)
            .decode()
        )

    def to_dict(self, base_url: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "subject": self.subject,
            "parent": self.parent,
            "key": self.key_spec,
            "backend": self.backend,
            "serial": self.serial,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "sha256": self.sha256,
            "crl_number": self.crl_number,
            "crl_next_update": self.crl_next_update.isoformat() if self.crl_next_update else None,
            "ocsp_signer_serial": self.ocsp_signer_serial,
            "certificate_url": f"{distribution_base_url(base_url)}/ca/{self.name}.crt",
            "crl_url": f"{distribution_base_url(base_url)}/crl/{self.name}.crl",
            "ocsp_url": f"{distribution_base_url(base_url)}/ocsp",
            "pem": self.pem,
        }


def _info(session: Session, row: CertificateAuthority) -> CAInfo:
    cert = x509.load_der_x509_certificate(row.cert_der)
    parent = session.get(CertificateAuthority, row.parent_id) if row.parent_id else None
    signer = session.get(CertificateRow, row.ocsp_signer_id) if row.ocsp_signer_id else None
    return CAInfo(
        name=row.name,
        subject=row.subject,
        parent=parent.name if parent else None,
        key_spec=row.key_spec,
        backend=KeyRef.parse(row.key_ref).backend,
        serial=format_serial(cert.serial_number),
        not_before=row.not_before,
        not_after=row.not_after,
        sha256=hashlib.sha256(row.cert_der).hexdigest(),
        crl_number=row.crl_number,
        crl_next_update=row.crl_next_update,
        ocsp_signer_serial=signer.serial if signer else None,
        cert_der=row.cert_der,
    )


def load_ca_row(session: Session, name: str) -> CertificateAuthority:
    row = session.scalars(
        select(CertificateAuthority).where(CertificateAuthority.name == name)
    ).first()
    if row is None:
        raise UnknownCA(name)
    return row


def ca_is_revoked(session: Session, row: CertificateAuthority) -> bool:
    """Whether this CA's own certificate was revoked by its parent (a root never is)."""
    return (
        session.scalars(
            select(CertificateRow.id).where(
                CertificateRow.sha256 == hashlib.sha256(row.cert_der).hexdigest(),
                CertificateRow.status == "revoked",
            )
        ).first()
        is not None
    )


def issuer_info(ctx: Context, row: CertificateAuthority) -> IssuerInfo:
    return IssuerInfo(
        name=row.name,
        certificate=x509.load_der_x509_certificate(row.cert_der),
        base_url=ctx.settings.public_base_url,
    )


def signer_for(ctx: Context, row: CertificateAuthority) -> Signer:
    return ctx.custody.load(KeyRef.parse(row.key_ref))


def list_cas(ctx: Context) -> list[CAInfo]:
    with ctx.db.read() as session:
        rows = session.scalars(select(CertificateAuthority).order_by(CertificateAuthority.id)).all()
        return [_info(session, row) for row in rows]


def get_ca(ctx: Context, name: str) -> CAInfo:
    with ctx.db.read() as session:
        return _info(session, load_ca_row(session, name))


def _check_new_name(ctx: Context, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InputError(
            f"invalid CA name {name!r}: use lower-case letters, digits and '-' (max 64)"
        )
    with ctx.db.read() as session:
        exists = session.scalars(
            select(CertificateAuthority.id).where(CertificateAuthority.name == name)
        ).first()
    if exists is not None:
        raise AlreadyExists(f"a CA named {name!r} already exists")


def _store_ca(
    ctx: Context,
    actor: Actor,
    name: str,
    cert: x509.Certificate,
    signer: Signer,
    parent_id: int | None,
) -> CertificateAuthority:
    hashes_ = cert_id_hashes(cert)
    der = cert.public_bytes(serialization.Encoding.DER)
    with ctx.db.write() as session:
        if session.scalars(
            select(CertificateAuthority.id).where(CertificateAuthority.name == name)
        ).first():
            raise AlreadyExists(f"a CA named {name!r} already exists")
        row = CertificateAuthority(
            name=name,
            parent_id=parent_id,
            subject=name_to_string(cert.subject),
            cert_der=der,
            key_ref=str(signer.ref),
            key_spec=signer.spec.value,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            name_sha1=hashes_.name_sha1,
            key_sha1=hashes_.key_sha1,
            name_sha256=hashes_.name_sha256,
            key_sha256=hashes_.key_sha256,
            crl_number=0,
            created_at=ctx.clock.now(),
        )
        session.add(row)
        session.flush()
        if parent_id is not None:
            # A subordinate CA is also a certificate its parent issued: it can be looked
            # up, answered for by the parent's OCSP responder, and revoked on its CRL.
            session.add(
                CertificateRow(
                    serial=format_serial(cert.serial_number),
                    ca_id=parent_id,
                    profile="sub-ca",
                    subject=row.subject,
                    sans="[]",
                    not_before=row.not_before,
                    not_after=row.not_after,
                    der=der,
                    sha256=hashlib.sha256(der).hexdigest(),
                    status="valid",
                    key_ref=row.key_ref,
                    issued_by=actor.name,
                    created_at=row.created_at,
                )
            )
        audit.record(
            session,
            ctx,
            actor,
            "ca.create",
            "ca",
            name,
            der,
            {
                "subject": row.subject,
                "serial": format_serial(cert.serial_number),
                "parent_id": parent_id,
                "key": signer.spec.value,
                "backend": signer.ref.backend,
            },
        )
    return row


def _after_create(ctx: Context, actor: Actor, name: str) -> CAInfo:
    # Every CA gets its delegated OCSP responder and a first CRL at once, so that the
    # URLs its certificates name answer from the first second.
    from govtrust.services.revocation import ensure_ocsp_signer, generate_crl

    ensure_ocsp_signer(ctx, name, actor)
    generate_crl(ctx, name, actor)
    return get_ca(ctx, name)


def create_root(
    ctx: Context,
    name: str,
    subject: str,
    actor: Actor,
    *,
    key: KeySpec = KeySpec.EC_P384,
    backend: str = "software",
    validity_days: int = 7300,
) -> CAInfo:
    _check_new_name(ctx, name)
    subject_name = parse_subject(subject)
    _check_validity(validity_days)
    signer = ctx.custody.generate(backend, f"ca-{name}", key)
    cert = build_root_ca(signer, subject_name, random_serial(), ctx.clock.now(), validity_days)
    _store_ca(ctx, actor, name, cert, signer, None)
    return _after_create(ctx, actor, name)


def create_intermediate(
    ctx: Context,
    name: str,
    parent: str,
    subject: str,
    actor: Actor,
    *,
    key: KeySpec = KeySpec.EC_P256,
    backend: str = "software",
    validity_days: int = 3650,
    path_length: int | None = 0,
    extended_key_usage: Sequence[str] = (),
) -> CAInfo:
    """A subordinate CA. ``extended_key_usage`` (profile names such as ``server_auth``,
    or OIDs) limits what it may issue for, as the CA/Browser Forum BR §7.1.2.10.6 asks
    of a TLS issuing CA."""
    _check_new_name(ctx, name)
    subject_name = parse_subject(subject)
    ekus = [eku_oid(e) for e in extended_key_usage]
    _check_validity(validity_days)
    with ctx.db.read() as session:
        parent_row = load_ca_row(session, parent)
    now = ctx.clock.now()
    if parent_row.not_after <= now:
        raise InputError(f"the parent CA {parent!r} has expired")
    parent_cert = x509.load_der_x509_certificate(parent_row.cert_der)
    constraint = parent_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    if constraint.path_length is not None and (
        constraint.path_length == 0
        or (path_length is not None and path_length >= constraint.path_length)
    ):
        raise InputError(
            f"the parent CA {parent!r} has pathLenConstraint {constraint.path_length}: "
            "it cannot have this subordinate"
        )
    if path_length is None and constraint.path_length is not None:
        # RFC 5280 §4.2.1.9: the parent's constraint binds anyway; state it in the
        # child so that the certificate says what validation will enforce.
        path_length = constraint.path_length - 1
    signer = ctx.custody.generate(backend, f"ca-{name}", key)
    cert = build_intermediate_ca(
        signer,
        subject_name,
        issuer_info(ctx, parent_row),
        signer_for(ctx, parent_row),
        random_serial(),
        now,
        validity_days,
        path_length,
        extended_key_usage=ekus,
    )
    _store_ca(ctx, actor, name, cert, signer, parent_row.id)
    return _after_create(ctx, actor, name)
