"""Sealing validation reports reuses what a process has already built (the CMS encoder of
the seal credential, this instance's TSA with its loaded credential), and that reuse
never outlives the credential it was built for: a revoked seal certificate, a revoked
issuing CA or a revoked TSA certificate stop the very next seal, as they did when
everything was built afresh for each seal; a seal or TSA credential moved to another
certificate (a new key, or the same key re-certified) is used from the very next seal.
Every seal made along the way verifies with ``openssl cms -verify``.

The credentials are "rotated" by pointing the credential's row at another certificate,
which is what re-keying a credential under the same name amounts to in storage.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from govtrust.ca.crl import RevocationReason
from govtrust.ca.names import parse_subject
from govtrust.ca.profiles import CertificateRequest
from govtrust.errors import ReportSealUnavailable, SigningFailed
from govtrust.services import Context, audit, authorities, certificates, credentials, revocation
from govtrust.services import signing as signing_service
from govtrust.services.signing import Level
from govtrust.services.truststore import trust_store
from govtrust.services.verify import seal_report, sealed_json, verify_document, verify_settings
from govtrust.signing._cms_out import CmsSigner, cms_signer
from govtrust.store.models import CertificateRow
from govtrust.store.signing_models import CredentialRow
from govtrust.validation.indications import Indication
from govtrust.validation.render import canonical_json
from govtrust.validation.report import Report
from tests.conftest import Demo
from tests.integration.test_sign_support import ADMIN, run_tool
from tests.integration.test_verify_cli import DATA, signed_files

pytestmark = pytest.mark.openssl

SEAL = "validation-service"
SEAL_SUBJECT = "CN=Rotated Validation Service,organizationIdentifier=NTRAA-100000,O=Gov,C=AA"
TSA_SUBJECT = "CN=Rotated Time-Stamping Authority,O=Gov,C=AA"


@pytest.fixture
def report(demo: Demo, ctx: Context, tmp_path: Path) -> Report:
    _, signature = signed_files(demo, tmp_path)
    return verify_document(ctx, DATA, name="decree.txt", detached=signature.read_bytes())


def _cms_of(sealed: bytes) -> bytes:
    return base64.b64decode(json.loads(sealed)["seal"]["signature"])


def _signer_certificate(signed_data: Any) -> bytes:
    """The DER of the certificate that the (one) SignerInfo's sid names."""
    sid = signed_data["signer_infos"][0]["sid"].chosen
    for choice in signed_data["certificates"]:
        cert = choice.chosen
        if cert.issuer == sid["issuer"] and cert.serial_number == sid["serial_number"].native:
            return bytes(cert.dump())
    raise AssertionError("the signer's certificate is not in the CMS")


def _seal_certificate(sealed: bytes) -> bytes:
    return _signer_certificate(cms.ContentInfo.load(_cms_of(sealed))["content"])


def _tsa_certificate(sealed: bytes) -> bytes:
    """The certificate of the TSA that signed the seal's signature-time-stamp."""
    signer_info = cms.ContentInfo.load(_cms_of(sealed))["content"]["signer_infos"][0]
    (token,) = [
        a["values"][0]
        for a in signer_info["unsigned_attrs"]
        if a["type"].native == "signature_time_stamp_token"
    ]
    return _signer_certificate(token["content"])


def _openssl_verifies(ctx: Context, sealed: bytes, directory: Path) -> bool:
    """``openssl cms -verify`` of the seal over the JCS bytes of the report, against this
    instance's roots (as tests/integration/test_verify_reports.py does)."""
    report = json.loads(sealed)
    content = directory / "report.jcs"
    content.write_bytes(canonical_json({k: v for k, v in report.items() if k != "seal"}))
    signature = directory / "seal.p7s"
    signature.write_bytes(_cms_of(sealed))
    roots = directory / "roots.pem"
    roots.write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in trust_store(ctx).anchors)
    )
    result = run_tool(
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
        "-content", str(content), "-CAfile", str(roots), "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip
    return "Verification successful" in result.stdout + result.stderr


def _certificate_der(ctx: Context, serial: str) -> bytes:
    with ctx.db.read() as session:
        return bytes(
            session.scalars(select(CertificateRow.der).where(CertificateRow.serial == serial)).one()
        )


def _point(ctx: Context, credential: str, serial: str) -> None:
    """Move ``credential`` to the certificate ``serial`` (a rotation, as storage sees it)."""
    with ctx.db.write() as session:
        row = session.scalars(select(CredentialRow).where(CredentialRow.name == credential)).one()
        row.certificate_id = session.scalars(
            select(CertificateRow.id).where(CertificateRow.serial == serial)
        ).one()


def _revoke(ctx: Context, serial: str, reason: str = "key-compromise") -> None:
    revocation.revoke(ctx, serial, RevocationReason.parse(reason), ADMIN)


# ---- what is reused ------------------------------------------------------------------------


def test_seals_reuse_one_encoder_and_one_tsa_and_verify(
    ctx: Context, report: Report, tmp_path: Path
) -> None:
    first, second = sealed_json(ctx, report), sealed_json(ctx, report)
    assert verify_settings(ctx).seal_credential == SEAL
    credential = credentials.get_credential(ctx, SEAL)
    cached = cms_signer(credential.signer, credential.certificate, credential.chain)
    again = credentials.get_credential(ctx, SEAL)
    assert cms_signer(again.signer, again.certificate, again.chain) is cached
    assert signing_service._local_tsa(ctx) is signing_service._local_tsa(ctx)
    assert signing_service._local_ocsp(ctx) is signing_service._local_ocsp(ctx)
    seal_der = credential.certificate.public_bytes(serialization.Encoding.DER)
    for sealed in (first, second):
        assert _seal_certificate(sealed) == seal_der
        assert _openssl_verifies(ctx, sealed, tmp_path)
    assert _cms_of(first) != _cms_of(second)  # two signatures, two time-stamps


def test_the_cached_encoder_encodes_what_a_new_one_does(ctx: Context) -> None:
    credential = credentials.get_credential(ctx, SEAL)
    cached = cms_signer(credential.signer, credential.certificate, credential.chain)
    fresh = CmsSigner(credential.signer, credential.certificate, credential.chain)
    assert fresh is not cached
    digest = hashlib.sha256(b"a report").digest()
    now = ctx.clock.now()
    assert cached.signed_attributes(digest, now) == fresh.signed_attributes(digest, now)
    assert cached.signed_attributes(digest, None) == fresh.signed_attributes(digest, None)
    # Another chain (here: none) is another encoder, never the cached one.
    assert cms_signer(credential.signer, credential.certificate, []) is not cached


# ---- what stops the next seal --------------------------------------------------------------


def test_a_revoked_seal_certificate_stops_the_next_seal(ctx: Context, report: Report) -> None:
    sealed_json(ctx, report)
    _revoke(ctx, credentials.describe_credential(ctx, SEAL).serial)
    with pytest.raises(ReportSealUnavailable, match="revoked"):
        sealed_json(ctx, report)


def test_a_revoked_issuing_ca_stops_the_next_seal(ctx: Context, report: Report) -> None:
    sealed_json(ctx, report)
    issuing = credentials.describe_credential(ctx, SEAL).ca
    _revoke(ctx, authorities.get_ca(ctx, issuing).serial, "ca-compromise")
    with pytest.raises(ReportSealUnavailable, match="revoked"):
        sealed_json(ctx, report)


def test_a_revoked_tsa_certificate_stops_the_next_seal(ctx: Context, report: Report) -> None:
    sealed_json(ctx, report)  # this instance's TSA is loaded and shared from here on
    _revoke(ctx, credentials.describe_credential(ctx, ctx.settings.tsa.credential).serial)
    with pytest.raises(SigningFailed, match="timestamp"):
        sealed_json(ctx, report)


def test_the_shared_ocsp_service_answers_a_revocation_at_once(
    demo: Demo, ctx: Context, tmp_path: Path
) -> None:
    # A B-B signature (no time-stamp: no proof that it was made before a revocation).
    _, signature = signed_files(demo, tmp_path, level=Level.B_B)
    detached = signature.read_bytes()
    before = verify_document(ctx, DATA, name="decree.txt", detached=detached)
    assert before.indication is Indication.TOTAL_PASSED
    _revoke(ctx, credentials.describe_credential(ctx, "ministry-of-finance").serial)
    after = verify_document(ctx, DATA, name="decree.txt", detached=detached)
    assert after.indication is not Indication.TOTAL_PASSED
    assert "REVOKED" in str(after.to_dict()).upper()


# ---- what is used from the next seal on --------------------------------------------------


def test_a_seal_credential_on_a_new_key_is_used_at_once(
    ctx: Context, report: Report, tmp_path: Path
) -> None:
    before = sealed_json(ctx, report)
    new = credentials.create_credential(
        ctx, "validation-service-2", "people", "seal", SEAL_SUBJECT, ADMIN
    )
    _point(ctx, SEAL, new.serial)
    after = sealed_json(ctx, report)
    assert _seal_certificate(after) == new.certificate_der != _seal_certificate(before)
    assert _openssl_verifies(ctx, after, tmp_path)
    # ... and a revocation of the new certificate stops the next one.
    _revoke(ctx, new.serial)
    with pytest.raises(ReportSealUnavailable, match="revoked"):
        sealed_json(ctx, report)


def test_a_seal_key_certified_again_is_used_with_its_new_certificate(
    ctx: Context, report: Report, tmp_path: Path
) -> None:
    before = sealed_json(ctx, report)
    old = credentials.get_credential(ctx, SEAL)
    request = CertificateRequest(parse_subject(SEAL_SUBJECT), old.signer.public_key())
    renewed = certificates.issue(ctx, "people", "seal", request, ADMIN, key_ref=old.key_ref)
    _point(ctx, SEAL, renewed.serial)
    after = sealed_json(ctx, report)
    new_der = _certificate_der(ctx, renewed.serial)
    assert _seal_certificate(after) == new_der != _seal_certificate(before)
    embedded = {
        bytes(c.chosen.dump())
        for c in cms.ContentInfo.load(_cms_of(after))["content"]["certificates"]
    }
    assert new_der in embedded
    assert old.certificate.public_bytes(serialization.Encoding.DER) not in embedded
    assert _openssl_verifies(ctx, after, tmp_path)


def test_a_tsa_credential_on_a_new_key_is_used_at_once(
    ctx: Context, report: Report, tmp_path: Path
) -> None:
    name = ctx.settings.tsa.credential
    before = sealed_json(ctx, report)
    assert _tsa_certificate(before) == credentials.describe_credential(ctx, name).certificate_der
    new = credentials.create_credential(ctx, "tsa-2", "people", "tsa", TSA_SUBJECT, ADMIN)
    _point(ctx, name, new.serial)
    after = sealed_json(ctx, report)
    assert _tsa_certificate(after) == new.certificate_der != _tsa_certificate(before)
    assert x509.load_der_x509_certificate(_tsa_certificate(after)).subject == parse_subject(
        TSA_SUBJECT
    )
    assert _openssl_verifies(ctx, after, tmp_path)


# ---- the JSON and the PDF of one report ----------------------------------------------------


def test_one_json_seal_serves_the_json_and_the_pdf(
    ctx: Context, report: Report, tmp_path: Path
) -> None:
    sealed = seal_report(ctx, report, pdf=True)
    assert sealed.pdf is not None and sealed.pdf.startswith(b"%PDF-")
    assert sealed.payload == report.to_dict()
    events = [e for _, e in audit.list_events(ctx, action="validation.report")]
    assert sorted(str(e.details["rendering"]) for e in events) == ["json", "pdf"]
    by_rendering = {e.details["rendering"]: e.object_sha256 for e in events}
    assert by_rendering["json"] == hashlib.sha256(sealed.json).hexdigest()
    assert by_rendering["pdf"] == hashlib.sha256(sealed.pdf).hexdigest()
    # The sealed JSON is embedded in the PDF as it was returned (poppler's pdfdetach).
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(sealed.pdf)
    attached = tmp_path / "attached.json"
    result = run_tool("pdfdetach", "-save", "1", "-o", str(attached), str(pdf))
    assert result.returncode == 0, result.stderr
    assert attached.read_bytes() == sealed.json
