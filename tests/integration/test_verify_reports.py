"""Sealed validation reports: ``govtrust verify --report`` writes JSON, HTML and PDF;
the JSON seal verifies with ``openssl cms -verify`` over the RFC 8785 bytes and with
``govtrust verify report.json``; a tampered report fails; the PDF report passes
``pdfsig``; every sealed report is in the audit trail; a missing seal credential is a
clear error."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from govtrust.errors import ConfigError, InputError, ReportSealUnavailable
from govtrust.services import audit
from govtrust.services.signing import Level
from govtrust.services.truststore import trust_store
from govtrust.services.verify import (
    CANONICALIZATION,
    SEAL_FORMAT,
    VerifyOptions,
    render_html,
    seal_payload,
    seal_report,
    sealed_json,
    verify_document,
    verify_settings,
)
from govtrust.validation.policy import RevocationMode
from govtrust.validation.render import canonical_json
from tests.conftest import Demo
from tests.integration.test_sign_support import (
    loopback_instance,
    nss_db,
    pdfsig,
    pdfsig_signatures,
    pki_files,
    run_tool,
)
from tests.integration.test_verify_cli import DATA, opened, run, signed_files

pytestmark = pytest.mark.openssl


def _roots(demo: Demo, directory: Path) -> Path:
    with opened(demo) as ctx:
        anchors = trust_store(ctx).anchors
    path = directory / "roots.pem"
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in anchors))
    return path


def _sealed_report(demo: Demo, tmp_path: Path) -> Path:
    data, signature = signed_files(demo, tmp_path)
    path = tmp_path / "report.json"
    result = run(demo, str(data), "--detached", str(signature), "--report", str(path))
    assert result.exit_code == 0, result.output
    return path


def test_json_report_seal_verifies_with_openssl_and_govtrust(demo: Demo, tmp_path: Path) -> None:
    path = _sealed_report(demo, tmp_path)
    report = json.loads(path.read_bytes())
    seal = report["seal"]
    assert seal["format"] == SEAL_FORMAT == "CAdES-BASELINE-T"
    assert seal["canonicalization"] == CANONICALIZATION
    assert seal["credential"] == "validation-service"
    assert report["indication"] == "TOTAL-PASSED"
    assert report["document"]["sha256"] == hashlib.sha256(DATA).hexdigest()
    # openssl: the seal is a detached CMS over the JCS bytes of the report without "seal".
    content = tmp_path / "report.jcs"
    content.write_bytes(canonical_json({k: v for k, v in report.items() if k != "seal"}))
    cms = tmp_path / "seal.p7s"
    cms.write_bytes(base64.b64decode(seal["signature"]))
    roots = _roots(demo, tmp_path)
    args = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(cms),
            "-CAfile", str(roots), "-purpose", "any", "-out", "/dev/null"]  # fmt: skip
    verified = run_tool(*args, "-content", str(content))
    assert "Verification successful" in verified.stdout + verified.stderr, verified.stderr
    content.write_bytes(content.read_bytes().replace(b"TOTAL-PASSED", b"TOTAL-FAILED", 1))
    refused = run_tool(*args, "-content", str(content))
    assert "Verification successful" not in refused.stdout + refused.stderr
    # govtrust recognises a sealed report and validates its seal.
    result = run(demo, str(path), "--json")
    assert result.exit_code == 0, result.output
    checked = json.loads(result.stdout)
    assert checked["indication"] == "TOTAL-PASSED"
    assert checked["document"]["kind"] == "govtrust sealed validation report"
    assert checked["document"]["sealedReport"]["indication"] == "TOTAL-PASSED"
    assert "Validation Service" in checked["signatures"][0]["signer"]


def test_a_tampered_report_fails(demo: Demo, tmp_path: Path) -> None:
    path = _sealed_report(demo, tmp_path)
    report = json.loads(path.read_bytes())
    report["document"]["sha256"] = hashlib.sha256(b"another document").hexdigest()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(report, indent=1))
    result = run(demo, str(tampered), "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["subIndication"] == "HASH_FAILURE"
    # Re-serialising without changing anything keeps the seal valid (that is what JCS
    # is for): only the content counts, not its layout.
    same = tmp_path / "same.json"
    same.write_text(json.dumps(json.loads(path.read_bytes()), separators=(",", ":")))
    assert run(demo, str(same)).exit_code == 0


def test_html_report_embeds_the_sealed_json(demo: Demo, tmp_path: Path) -> None:
    data, signature = signed_files(demo, tmp_path)
    path = tmp_path / "report.html"
    result = run(demo, str(data), "--detached", str(signature), "--report", str(path))
    assert result.exit_code == 0, result.output
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en" dir="ltr">' in html
    assert "Valid: every signature passed validation" in html
    match = re.search(r'id="govtrust-report">(.*?)</script>', html, re.S)
    assert match is not None
    embedded = json.loads(match.group(1))
    assert embedded["seal"]["format"] == SEAL_FORMAT
    extracted = tmp_path / "extracted.json"
    extracted.write_text(match.group(1))
    assert run(demo, str(extracted)).exit_code == 0  # the embedded report's seal holds


def test_pdf_report_passes_pdfsig(tmp_path: Path, db_url: str) -> None:
    # An instance whose certificates name a loopback server that serves it, so that
    # pdfsig's OCSP check is real and never leaves 127.0.0.1 (as in test_sign_pades).
    with loopback_instance(tmp_path, db_url) as instance:
        demo = instance.demo
        data, signature = signed_files(demo, tmp_path)
        path = tmp_path / "report.pdf"
        result = run(demo, str(data), "--detached", str(signature), "--report", str(path))
        assert result.exit_code == 0, result.output
        files = pki_files(instance.ctx, tmp_path, "validation-service")
        (block,) = pdfsig_signatures(pdfsig(path, nss_db(tmp_path / "nss", files.root)))
        assert "Signature Validation: Signature is Valid." in block, block
        assert "Certificate Validation: Certificate is Trusted." in block, block
        assert "Total document signed" in block and "ETSI.CAdES.detached" in block
        assert "Validation Service" in block
        text = run_tool("pdftotext", str(path), "-").stdout
        assert "Valid: every signature passed validation" in " ".join(text.split())
        listing = run_tool("pdfdetach", "-list", str(path)).stdout
        assert "validation-report.json" in listing
        # The PDF itself validates through govtrust (PAdES B-T by the validation service).
        assert run(demo, str(path)).exit_code == 0


def test_sealed_reports_are_audited_without_names(demo: Demo, tmp_path: Path) -> None:
    _, signature = signed_files(demo, tmp_path)
    with opened(demo) as ctx:
        report = verify_document(
            ctx, DATA, name="secret-decree.txt", detached=signature.read_bytes()
        )
        sealed = sealed_json(ctx, report)
        events = audit.list_events(ctx, action="validation.report")
    assert len(events) == 1
    _, event = events[0]
    assert event.object_type == "validation-report"
    assert event.object_sha256 == hashlib.sha256(sealed).hexdigest()
    assert event.object_id == f"sha256:{event.object_sha256}"
    assert event.details["indication"] == "TOTAL-PASSED"
    record = event.canonical()
    for secret in (b"secret-decree", b"Ministry of Finance", DATA):
        assert secret not in record


def test_sealing_the_canonical_round_trip_is_sealing_the_report(demo: Demo, tmp_path: Path) -> None:
    """The portal seals a report parsed back from its RFC 8785 form (the download form
    carries that form): the same bytes are signed, with seal_report's seal member and
    audit record, and the seal verifies with openssl and govtrust."""
    _, signature = signed_files(demo, tmp_path)
    with opened(demo) as ctx:
        report = verify_document(ctx, DATA, name="decree.txt", detached=signature.read_bytes())
        canonical = canonical_json(report.to_dict())
        parsed = json.loads(canonical)
        assert canonical_json(parsed) == canonical  # the round trip keeps the bytes
        direct = json.loads(seal_report(ctx, report).json)
        produced = seal_payload(ctx, parsed).json
        with pytest.raises(InputError, match="already has a seal"):
            seal_payload(ctx, direct)
        events = [e for _, e in audit.list_events(ctx, action="validation.report")]
    portal = json.loads(produced)
    assert canonical_json({k: v for k, v in portal.items() if k != "seal"}) == canonical
    signatures = [direct["seal"].pop("signature"), portal["seal"].pop("signature")]
    assert portal == direct and signatures[0] != signatures[1]  # a new time-stamp each
    assert len(events) == 2
    (later, earlier) = events
    assert later.object_sha256 == hashlib.sha256(produced).hexdigest()
    assert (later.actor, later.object_type, later.details) == (
        earlier.actor,
        earlier.object_type,
        earlier.details,
    )
    content, cms = tmp_path / "report.jcs", tmp_path / "seal.p7s"
    content.write_bytes(canonical)
    cms.write_bytes(base64.b64decode(signatures[1]))
    verified = run_tool(
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(cms),
        "-content", str(content), "-CAfile", str(_roots(demo, tmp_path)),
        "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip
    assert "Verification successful" in verified.stdout + verified.stderr, verified.stderr
    path = tmp_path / "portal-report.json"
    path.write_bytes(produced)
    result = run(demo, str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["document"]["kind"] == "govtrust sealed validation report"


def test_html_in_arabic_from_the_service(demo: Demo, tmp_path: Path) -> None:
    _, signature = signed_files(demo, tmp_path, level=Level.B_B)
    with opened(demo) as c:
        report = verify_document(c, DATA, detached=signature.read_bytes())
    html = render_html(report, lang="ar")
    assert '<html lang="ar" dir="rtl">' in html and "صالح" in html


def _configure(demo: Demo, text: str) -> None:
    with (demo.home / "govtrust.toml").open("a", encoding="utf-8") as f:
        f.write(f"\n[verify]\n{text}\n")


def test_missing_seal_credential_is_a_clear_error(demo: Demo, tmp_path: Path) -> None:
    data, signature = signed_files(demo, tmp_path)
    _configure(demo, 'seal_credential = "court-seal"')
    with opened(demo) as ctx:
        report = verify_document(ctx, DATA, detached=signature.read_bytes())
        with pytest.raises(ReportSealUnavailable) as caught:
            sealed_json(ctx, report)
    message = str(caught.value)
    assert "govtrust credential create court-seal" in message and "--profile seal" in message
    assert "[verify] seal_credential" in message
    result = run(demo, str(data), "--detached", str(signature), "--report", str(tmp_path / "r.pdf"))
    assert result.exit_code == 4 and "govtrust credential create court-seal" in result.output
    # Validating without a report needs no seal.
    assert run(demo, str(data), "--detached", str(signature)).exit_code == 0


def test_a_non_seal_credential_is_refused(demo: Demo, tmp_path: Path) -> None:
    _configure(demo, 'seal_credential = "tsa"')
    _, signature = signed_files(demo, tmp_path)
    with opened(demo) as ctx:
        report = verify_document(ctx, DATA, detached=signature.read_bytes())
        with pytest.raises(ReportSealUnavailable, match="govtrust credential create tsa"):
            sealed_json(ctx, report)


def test_verify_settings_are_strict(demo: Demo) -> None:
    _configure(demo, 'revocation = "off"\nmax_document_bytes = 1000\nfetch = false\nsurprise = 1')
    with opened(demo) as ctx, pytest.raises(ConfigError, match="surprise"):
        verify_settings(ctx)


def test_verify_settings_apply(demo: Demo, tmp_path: Path) -> None:
    _configure(demo, 'revocation = "if-available"\nfetch = false\nmax_document_bytes = 100000')
    _, signature = signed_files(demo, tmp_path, level=Level.B_B)
    with opened(demo) as ctx:
        settings = verify_settings(ctx)
        assert settings.fetch is False and settings.max_document_bytes == 100000
        report = verify_document(ctx, DATA, detached=signature.read_bytes())
        assert report.to_dict()["policy"]["revocation"] == "if-available"
        # Offline, this instance's own revocation data still answers in-process.
        assert report.indication.value == "TOTAL-PASSED"
        chain = report.signatures[0].to_dict()["certificateChain"]
        assert chain[0]["revocation"]["status"] == "good"
        strict = verify_document(
            ctx,
            DATA,
            detached=signature.read_bytes(),
            options=VerifyOptions(revocation=RevocationMode.REQUIRE),
        )
        assert strict.indication.value == "TOTAL-PASSED"  # in-process OCSP, no network
