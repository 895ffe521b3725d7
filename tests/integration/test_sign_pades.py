"""PAdES signing through the service with the demo data, checked by independent tools.

* pdfsig (poppler + NSS, the demo root in its database) reports "Signature is Valid",
  "Certificate is Trusted" and "Total document signed". The demo instance here serves
  its own OCSP responder on a loopback port named in its certificates, so pdfsig's
  revocation check is real and stays on 127.0.0.1 (and after a revocation pdfsig says
  so).
* pyHanko's validator: intact, valid, trusted with the demo root; B-LT and B-LTA also
  offline, from the DSS alone, with hard-fail revocation checking.
* ``openssl ts -verify`` accepts the signature time-stamp against the signature value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko_certvalidator import ValidationContext

from govtrust.ca.crl import RevocationReason
from govtrust.clock import FixedClock
from govtrust.errors import CredentialUnusable, MalformedDocument
from govtrust.services import Context, audit, credentials, revocation
from govtrust.services.signing import SigningOptions, SigningSession, sign_document
from govtrust.signing.levels import Level
from govtrust.signing.pades._pdf import cms_from_contents
from tests.conftest import SHARED
from tests.integration.test_sign_support import (
    ADMIN,
    loopback_instance,
    nss_db,
    openssl_ts_verify,
    pdfsig,
    pdfsig_signatures,
    pki_files,
    signature_timestamp,
    signature_value,
)

pytestmark = pytest.mark.openssl

PDF = (SHARED / "vectors" / "pdf" / "minimal.pdf").read_bytes()


def _sign(ctx: Context, level: Level, credential: str = "amina-haddad", **options: object) -> bytes:
    result = sign_document(
        ctx,
        PDF,
        "decree.pdf",
        credential,
        ADMIN,
        SigningOptions(level=level, **options),  # type: ignore[arg-type]
    )
    assert result.filename == "decree-signed.pdf"
    return result.document.data


def test_pdfsig_valid_trusted_total(tmp_path: Path, db_url: str) -> None:
    with loopback_instance(tmp_path, db_url) as instance:
        files = pki_files(instance.ctx, tmp_path)
        nss = nss_db(tmp_path / "nss", files.root)
        for level in Level:
            path = tmp_path / f"{level.value}.pdf"
            path.write_bytes(_sign(instance.ctx, level, visible_stamp=level is Level.B_B))
            blocks = pdfsig_signatures(pdfsig(path, nss))
            signature = blocks[0]
            assert "Signature Validation: Signature is Valid." in signature, signature
            assert "Certificate Validation: Certificate is Trusted." in signature, signature
            assert "Signature Type: ETSI.CAdES.detached" in signature
            if level is Level.B_LTA:
                # The signature covers its revision; the document time-stamp after it
                # covers the whole file.
                assert len(blocks) == 2 and "Total document signed" in blocks[1]
                assert "ETSI.RFC3161" in blocks[1] or "Timestamp" in blocks[1]
            else:
                assert len(blocks) == 1 and "Total document signed" in signature, signature


def test_pdfsig_sees_a_digest_mismatch_and_a_revocation(tmp_path: Path, db_url: str) -> None:
    with loopback_instance(tmp_path, db_url) as instance:
        files = pki_files(instance.ctx, tmp_path)
        nss = nss_db(tmp_path / "nss", files.root)
        signed = bytearray(_sign(instance.ctx, Level.B_B))
        tampered = tmp_path / "tampered.pdf"
        index = signed.index(b"/MediaBox")
        signed[index + 1] = ord("N")  # one byte inside the signed range
        tampered.write_bytes(bytes(signed))
        report = pdfsig(tampered, nss)
        assert "Digest Mismatch" in report and "Signature is Valid" not in report
        good = tmp_path / "good.pdf"
        good.write_bytes(_sign(instance.ctx, Level.B_B))
        serial = credentials.describe_credential(instance.ctx, "amina-haddad").serial
        revocation.revoke(instance.ctx, serial, RevocationReason.parse("key-compromise"), ADMIN)
        report = pdfsig(good, nss)
        assert "Signature is Valid" in report
        assert "Certificate has been Revoked" in report, report


def _root(ctx: Context, tmp_path: Path) -> object:
    return load_cert_from_pemder(str(pki_files(ctx, tmp_path).root))


def _online(root: object, ctx: Context) -> ValidationContext:
    issuing = credentials.describe_credential(ctx, "amina-haddad").chain_der[0]
    from asn1crypto import x509 as asn1_x509

    return ValidationContext(
        trust_roots=[root], other_certs=[asn1_x509.Certificate.load(issuing)], allow_fetching=False
    )


@pytest.mark.parametrize("level", list(Level))
def test_pyhanko_agrees(ctx: Context, tmp_path: Path, level: Level) -> None:
    root = _root(ctx, tmp_path)
    data = _sign(ctx, level)
    reader = PdfFileReader(BytesIO(data))
    (sig,) = reader.embedded_regular_signatures
    status = validate_pdf_signature(
        sig, _online(root, ctx), ts_validation_context=_online(root, ctx)
    )
    assert status.intact and status.valid and status.trusted, status.summary()
    if level.at_least(Level.B_T):
        assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    if level.at_least(Level.B_LT):
        dss = DocumentSecurityStore.read_dss(reader)

        def offline() -> ValidationContext:
            return dss.as_validation_context(
                {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "hard-fail"}
            )

        status = validate_pdf_signature(sig, offline(), ts_validation_context=offline())
        assert status.intact and status.valid and status.trusted and not status.revoked
    if level is Level.B_LTA:
        (stamp,) = reader.embedded_timestamp_signatures
        stamp_status = validate_pdf_timestamp(
            stamp,
            DocumentSecurityStore.read_dss(reader).as_validation_context(
                {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "hard-fail"}
            ),
        )
        assert stamp_status.intact and stamp_status.valid and stamp_status.trusted


def test_openssl_verifies_the_signature_timestamp(ctx: Context, tmp_path: Path) -> None:
    files = pki_files(ctx, tmp_path)
    reader = PdfFileReader(BytesIO(_sign(ctx, Level.B_T)))
    cms_der = cms_from_contents(bytes(reader.embedded_signatures[0].pkcs7_content))
    token = signature_timestamp(cms_der)
    digest = hashlib.sha256(signature_value(cms_der)).hexdigest()
    assert "Verification: OK" in openssl_ts_verify(token, digest, files.chain, tmp_path)
    wrong = hashlib.sha256(b"another signature").hexdigest()
    assert "Verification: OK" not in openssl_ts_verify(token, wrong, files.chain, tmp_path)


def test_openssl_verifies_the_document_timestamp(ctx: Context, tmp_path: Path) -> None:
    """B-LTA's document time-stamp: its imprint is the hash of the file's /ByteRange,
    computed here from the raw bytes (ISO 32000-2 §12.8.5)."""
    files = pki_files(ctx, tmp_path)
    data = _sign(ctx, Level.B_LTA)
    (stamp,) = PdfFileReader(BytesIO(data)).embedded_timestamp_signatures
    start1, length1, start2, length2 = (int(x) for x in stamp.byte_range)
    assert start1 == 0 and start2 + length2 == len(data)  # the whole file but /Contents
    digest = hashlib.sha256(data[start1 : start1 + length1] + data[start2 : start2 + length2])
    token = cms_from_contents(bytes(stamp.pkcs7_content))
    assert "Verification: OK" in openssl_ts_verify(token, digest.hexdigest(), files.chain, tmp_path)


def test_every_signature_is_in_the_audit_trail(ctx: Context) -> None:
    _sign(ctx, Level.B_T, credential="ministry-of-finance")
    (_, event), *_ = audit.list_events(ctx, action="sign.create", limit=1)
    record = json.loads(event.canonical())
    details = record["details"]
    assert details["credential"] == "ministry-of-finance"
    assert details["format"] == "pades" and details["level"] == "B-T"
    assert details["document_sha256"] == hashlib.sha256(PDF).hexdigest()
    assert record["object"]["type"] == "signature"
    assert record["object"]["sha256"] == event.object_sha256
    text = event.canonical().decode()
    assert "Ministry of Finance" not in text and "Amina" not in text


def test_an_officials_signature_is_recorded_without_her_name(ctx: Context) -> None:
    """The audit trail feeds the public ledger: an official's credential appears there
    by its certificate's serial number, never by its name (usually the person's)."""
    _sign(ctx, Level.B_B, credential="amina-haddad")
    (_, event), *_ = audit.list_events(ctx, action="sign.create", limit=1)
    serial = credentials.describe_credential(ctx, "amina-haddad").serial
    assert event.details["credential_serial"] == serial
    assert "credential" not in event.details
    text = event.canonical().decode().lower()
    assert "amina" not in text and "haddad" not in text


def test_revoked_and_expired_credentials_are_refused(ctx: Context) -> None:
    serial = credentials.describe_credential(ctx, "omar-khalil").serial
    revocation.revoke(ctx, serial, RevocationReason.parse("superseded"), ADMIN)
    with pytest.raises(CredentialUnusable, match="revoked"):
        _sign(ctx, Level.B_B, credential="omar-khalil")
    ctx.clock = FixedClock(ctx.clock.now() + dt.timedelta(days=3 * 365 + 30))
    with pytest.raises(CredentialUnusable, match="expired"):
        _sign(ctx, Level.B_B, credential="amina-haddad")


def test_the_tsa_credential_does_not_sign_documents(ctx: Context) -> None:
    with pytest.raises(CredentialUnusable, match="profile 'tsa'"):
        _sign(ctx, Level.B_B, credential="tsa")


@pytest.mark.parametrize("name", ["minimal-aes256.pdf", "minimal-startxref-hopeless.pdf"])
def test_hostile_pdf_is_a_clear_error_and_nothing_is_recorded(ctx: Context, name: str) -> None:
    before = len(audit.list_events(ctx, action="sign.create"))
    session = SigningSession(ctx, "amina-haddad", ADMIN, SigningOptions(level=Level.B_B))
    data = (SHARED / "vectors" / "pdf" / name).read_bytes()
    with pytest.raises(MalformedDocument):
        session.sign(data, name)
    with pytest.raises(MalformedDocument):
        session.sign(PDF[:400], "truncated.pdf")
    assert len(audit.list_events(ctx, action="sign.create")) == before
