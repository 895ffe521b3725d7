"""Pre-signed OCSP responses: who signs them, and how they are stored.

Shared by issuance (a certificate's 'good' answers are signed before it is stored, so
no OCSP request for it ever signs), revocation (its 'revoked' answers replace them in
the same transaction) and the refresh that re-signs answers before their nextUpdate.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from govtrust.ca.crl import RevocationReason
from govtrust.ca.ocsp import CertStatus, Responder, sign_response
from govtrust.crypto.signer import KeyRef
from govtrust.services.context import Context
from govtrust.store.models import CertificateAuthority, CertificateRow, OcspResponseRow

__all__ = [
    "PRESIGNED_ALGS",
    "cert_id_hashes",
    "responder_for",
    "sign_for",
    "store_response",
    "upsert",
]

PRESIGNED_ALGS = ("sha1", "sha256")
"""CertID hash algorithms answered from storage: SHA-1 (RFC 5019 §2.1.1) and SHA-256."""


def responder_for(ctx: Context, session: Session, ca_row: CertificateAuthority) -> Responder | None:
    if ca_row.ocsp_signer_id is None:
        return None
    signer_row = session.get(CertificateRow, ca_row.ocsp_signer_id)
    if signer_row is None or signer_row.key_ref is None:
        return None
    return Responder(
        x509.load_der_x509_certificate(signer_row.der),
        ctx.custody.load(KeyRef.parse(signer_row.key_ref)),
    )


def _status_of(row: CertificateRow | None) -> tuple[CertStatus, RevocationReason | None]:
    if row is None:
        return CertStatus.unknown, None
    if row.status == "revoked":
        return CertStatus.revoked, RevocationReason.parse(row.revocation_reason or "unspecified")
    return CertStatus.good, None


def cert_id_hashes(ca_row: CertificateAuthority, alg: str) -> tuple[bytes, bytes]:
    if alg == "sha1":
        return bytes.fromhex(ca_row.name_sha1), bytes.fromhex(ca_row.key_sha1)
    return bytes.fromhex(ca_row.name_sha256), bytes.fromhex(ca_row.key_sha256)


def sign_for(
    ctx: Context,
    ca_row: CertificateAuthority,
    cert_row: CertificateRow | None,
    serial: int,
    alg: str,
    responder: Responder,
    now: dt.datetime,
    *,
    name_hash: bytes | None = None,
    key_hash: bytes | None = None,
    nonce: bytes | None = None,
) -> tuple[bytes, dt.datetime]:
    status, reason = _status_of(cert_row)
    if name_hash is None or key_hash is None:
        name_hash, key_hash = cert_id_hashes(ca_row, alg)
    next_update = now + dt.timedelta(hours=ctx.settings.ocsp.validity_hours)
    der = sign_response(
        responder,
        hash_alg=alg,
        issuer_name_hash=name_hash,
        issuer_key_hash=key_hash,
        serial=serial,
        status=status,
        this_update=now,
        next_update=next_update,
        revoked_at=cert_row.revoked_at if cert_row is not None else None,
        reason=reason,
        nonce=nonce,
    )
    return der, next_update


def upsert(session: Session, values: dict[str, object]) -> None:
    dialect = session.get_bind().dialect.name
    update = {k: values[k] for k in ("der", "this_update", "next_update")}
    if dialect == "postgresql":
        pg = postgresql.insert(OcspResponseRow).values(values)
        session.execute(
            pg.on_conflict_do_update(index_elements=["ca_id", "serial", "hash_alg"], set_=update)
        )
    else:
        lite = sqlite.insert(OcspResponseRow).values(values)
        session.execute(
            lite.on_conflict_do_update(index_elements=["ca_id", "serial", "hash_alg"], set_=update)
        )


def store_response(
    session: Session,
    ctx: Context,
    ca_row: CertificateAuthority,
    cert_row: CertificateRow,
    alg: str,
    responder: Responder,
    now: dt.datetime,
) -> bytes:
    der, next_update = sign_for(
        ctx, ca_row, cert_row, int(cert_row.serial, 16), alg, responder, now
    )
    upsert(
        session,
        {
            "ca_id": ca_row.id,
            "serial": cert_row.serial,
            "hash_alg": alg,
            "der": der,
            "this_update": now,
            "next_update": next_update,
        },
    )
    return der
