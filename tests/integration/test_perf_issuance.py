"""Issuance through the group commit and the per-process issuer cache
(services/certificates.py), on SQLite and PostgreSQL: concurrent issuances are all
stored with their two 'good' OCSP answers and their audit record; a CA revoked after
its issuer was cached issues nothing more; answers signed by a responder that was
replaced after it was cached are signed again by the new one."""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from sqlalchemy import select

from govtrust.ca import CertificateRequest, RevocationReason, parse_san, parse_subject
from govtrust.errors import Conflict
from govtrust.services import Actor, Context, authorities, certificates, revocation
from govtrust.store import AuditEventRow, CertificateRow
from govtrust.store.models import OcspResponseRow

ADMIN = Actor("test:admin", "admin")


def _request(cn: str) -> CertificateRequest:
    key = ec.generate_private_key(ec.SECP256R1())
    return CertificateRequest(
        parse_subject(f"CN={cn}"), key.public_key(), (parse_san(f"dns:{cn}"),)
    )


def _responder_key_hash(der: bytes) -> bytes:
    response = ocsp.load_der_ocsp_response(der)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.responder_key_hash is not None
    return response.responder_key_hash


def test_concurrent_issuances_are_all_stored_with_answers_and_audit(ctx: Context) -> None:
    names = [f"host{i}.example.org" for i in range(32)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        issued = list(
            pool.map(
                lambda n: certificates.issue(ctx, "tls", "tls-server", _request(n), ADMIN),
                names,
            )
        )
    serials = [c.serial for c in issued]
    assert len(set(serials)) == len(names)
    with ctx.db.read() as session:
        rows = {
            r.serial: r
            for r in session.scalars(
                select(CertificateRow).where(CertificateRow.serial.in_(serials))
            )
        }
        answers = session.scalars(
            select(OcspResponseRow).where(OcspResponseRow.serial.in_(serials))
        ).all()
        audits = {
            e.object_id: e.object_sha256
            for e in session.scalars(
                select(AuditEventRow).where(AuditEventRow.action == "cert.issue")
            )
        }
    for info in issued:
        row = rows[info.serial]
        assert row.der == info.der and row.status == "valid"
        assert x509.load_der_x509_certificate(row.der).subject.rfc4514_string().startswith("CN=")
        assert audits[info.serial] == hashlib.sha256(info.der).hexdigest()
        pem = x509.load_der_x509_certificate(info.der).public_bytes(serialization.Encoding.PEM)
        assert info.pem == pem.decode()
    by_serial: dict[str, set[str]] = {}
    for answer in answers:
        _responder_key_hash(answer.der)  # every answer is a signed 'good'
        by_serial.setdefault(answer.serial, set()).add(answer.hash_alg)
    assert by_serial == {s: {"sha1", "sha256"} for s in serials}


def test_a_ca_revoked_after_caching_issues_nothing(ctx: Context) -> None:
    authorities.create_intermediate(ctx, "short", "root", "CN=Short CA,O=Gov,C=AA", ADMIN)
    revocation.ensure_ocsp_signer(ctx, "short", ADMIN)
    first = certificates.issue(ctx, "short", "tls-server", _request("a.example.org"), ADMIN)
    revocation.revoke(
        ctx, authorities.get_ca(ctx, "short").serial, RevocationReason.key_compromise, ADMIN
    )
    with pytest.raises(Conflict):
        certificates.issue(ctx, "short", "tls-server", _request("b.example.org"), ADMIN)
    with ctx.db.read() as session:
        stored = session.scalars(
            select(CertificateRow.serial).where(CertificateRow.subject == "CN=b.example.org")
        ).all()
    assert stored == [] and first.status == "valid"


def test_answers_follow_a_replaced_responder(ctx: Context) -> None:
    before = certificates.issue(ctx, "tls", "tls-server", _request("c.example.org"), ADMIN)
    assert revocation.ensure_ocsp_signer(ctx, "tls", ADMIN, force=True)
    after = certificates.issue(ctx, "tls", "tls-server", _request("d.example.org"), ADMIN)
    with ctx.db.read() as session:
        ca = authorities.load_ca_row(session, "tls")
        responder = session.get(CertificateRow, ca.ocsp_signer_id)
        assert responder is not None
        answers = {
            (a.serial, a.hash_alg): a.der
            for a in session.scalars(
                select(OcspResponseRow).where(
                    OcspResponseRow.serial.in_([before.serial, after.serial])
                )
            )
        }
    new_responder = _key_bits_sha1(responder.der)
    for alg in ("sha1", "sha256"):
        assert _responder_key_hash(answers[(after.serial, alg)]) == new_responder
        assert _responder_key_hash(answers[(before.serial, alg)]) != new_responder


def _key_bits_sha1(cert_der: bytes) -> bytes:
    """RFC 6960 §4.2.1 ResponderID byKey: SHA-1 of the subjectPublicKey bits (for an EC
    key, its X9.62 point)."""
    point = (
        x509.load_der_x509_certificate(cert_der)
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    digest = hashes.Hash(hashes.SHA1())
    digest.update(point)
    return digest.finalize()


def test_issue_async_from_many_tasks_and_after_a_responder_change(ctx: Context) -> None:
    async def many(prefix: str, n: int) -> list[certificates.CertificateInfo]:
        return list(
            await asyncio.gather(
                *(
                    certificates.issue_async(
                        ctx, "tls", "tls-server", _request(f"{prefix}{i}.example.org"), ADMIN
                    )
                    for i in range(n)
                )
            )
        )

    first = asyncio.run(many("e", 12))
    assert revocation.ensure_ocsp_signer(ctx, "tls", ADMIN, force=True)
    second = asyncio.run(many("f", 4))  # the cached issuer is stale: read again
    with ctx.db.read() as session:
        ca = authorities.load_ca_row(session, "tls")
        responder = session.get(CertificateRow, ca.ocsp_signer_id)
        assert responder is not None
        stored = {
            r.serial
            for r in session.scalars(
                select(CertificateRow).where(
                    CertificateRow.serial.in_([c.serial for c in first + second])
                )
            )
        }
        answers = session.scalars(
            select(OcspResponseRow).where(
                OcspResponseRow.serial.in_([c.serial for c in second]),
                OcspResponseRow.hash_alg == "sha256",
            )
        ).all()
    assert stored == {c.serial for c in first + second} and len(stored) == 16
    assert len(answers) == 4
    assert all(_responder_key_hash(a.der) == _key_bits_sha1(responder.der) for a in answers)
