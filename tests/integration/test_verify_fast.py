"""The per-Context trust store of ``services.truststore`` and the in-process OCSP path of
``services.verify``: cheap, but never stale (a new CA, a caller's anchors, a
revocation show at the next call)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from govtrust.ca.crl import RevocationReason
from govtrust.services import Actor, Context, authorities, credentials, revocation, verify
from govtrust.services.revocation import OcspService
from govtrust.services.truststore import trust_store
from govtrust.signing.levels import Level
from govtrust.validation import Indication, RevocationStatus
from govtrust.validation.report import Report, SignatureKind
from tests.e2e.support import sign_pdf

ADMIN = Actor("test:admin", "admin")

__all__: list[str] = []


def _self_signed(cn: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def test_the_store_is_kept_until_a_new_ca_is_added(ctx: Context) -> None:
    first = trust_store(ctx)
    assert trust_store(ctx) is first  # nothing changed: the same store
    info = authorities.create_root(ctx, "fresh-root", "CN=Fresh Root,O=Test,C=AE", ADMIN)
    second = trust_store(ctx)
    assert second is not first
    subjects = {c.subject.rfc4514_string() for c in second.anchors}
    assert "CN=Fresh Root,O=Test,C=AE" in subjects, info
    assert len(second.authorities) == len(first.authorities) + 1
    assert second.source_of(second.authorities[-1]) == "instance"


def test_a_callers_anchors_are_never_kept(ctx: Context) -> None:
    mine = _self_signed("Caller Anchor")
    with_mine = trust_store(ctx, extra=[mine])
    assert with_mine.source_of(mine) == "caller"
    assert mine in with_mine.anchors
    without = trust_store(ctx)
    assert mine not in without.anchors
    assert without.source_of(mine) is None
    assert trust_store(ctx, extra=[mine]) is not with_mine  # composed per call


def test_an_ocsp_service_registers_its_reader_on_first_use(ctx: Context) -> None:
    before = len(ctx.db._readers)
    service = OcspService(ctx)
    assert len(ctx.db._readers) == before  # nothing registered by the constructor
    service.respond(b"not a request")  # the slow path needs no reader either
    assert len(ctx.db._readers) == before


def _signature(report: Report) -> Any:
    (sig,) = [s for s in report.signatures if s.kind is SignatureKind.SIGNATURE]
    return sig


def test_repeated_verifications_read_the_status_each_time(ctx: Context) -> None:
    signed = sign_pdf(ctx, "ministry-of-finance", Level.B_B)
    for _ in range(3):  # after the first, the OCSP answers come from the stored path
        report = verify.verify_document(ctx, signed, name="b.pdf")
        assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    serial = credentials.describe_credential(ctx, "ministry-of-finance").serial
    revocation.revoke(ctx, serial, RevocationReason.key_compromise, ADMIN)
    after = verify.verify_document(ctx, signed, name="b.pdf")
    sig = _signature(after)
    assert not sig.passed
    assert sig.certificate.chain[0].revocation is RevocationStatus.REVOKED
