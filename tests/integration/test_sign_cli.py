"""``govtrust sign`` and ``govtrust augment`` from the command line: one file, several
files (ASiC-E), a batch directory with bad files in it, refusals as one ``error:``
line and exit status 1, and augmentation in place."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from asn1crypto import cms
from typer.testing import CliRunner, Result

from govtrust.ca.crl import RevocationReason
from govtrust.cli.main import app
from govtrust.services import Context, audit, credentials, revocation
from tests.conftest import SHARED, Demo, LiveServer
from tests.integration.test_sign_support import ADMIN, pki_files, run_tool

pytestmark = pytest.mark.openssl

runner = CliRunner()
PDF = (SHARED / "vectors" / "pdf" / "minimal.pdf").read_bytes()


@contextmanager
def opened(demo: Demo) -> Iterator[Context]:
    ctx = demo.open()
    try:
        yield ctx
    finally:
        ctx.close()


def run(demo: Demo, *args: str) -> Result:
    return runner.invoke(app, list(args), env=demo.env)


def test_sign_one_pdf(demo: Demo, tmp_path: Path) -> None:
    path = tmp_path / "decree.pdf"
    path.write_bytes(PDF)
    result = run(
        demo, "sign", str(path), "--as", "amina-haddad", "--level", "B-T", "--visible-stamp"
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "decree-signed.pdf"
    assert "PAdES B-T" in result.output and str(out) in "".join(result.output.split())
    assert out.read_bytes().startswith(PDF[:8]) and len(out.read_bytes()) > len(PDF)
    assert path.read_bytes() == PDF


def test_sign_cades_json_and_openssl(demo: Demo, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"id,amount\n1,100\n")
    result = run(
        demo, "sign", str(path), "--as", "ministry-of-finance", "--level", "B-LTA", "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["format"] == "cades" and summary["level"] == "B-LTA"
    assert summary["output"] == f"{path}.p7s"
    with opened(demo) as ctx:
        chain = pki_files(ctx, tmp_path).chain
    verified = run_tool(
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", f"{path}.p7s",
        "-content", str(path), "-CAfile", str(chain), "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip
    assert "Verification successful" in verified.stdout + verified.stderr


def test_several_files_make_one_container(demo: Demo, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.pdf"
    a.write_bytes(b"A\n")
    b.write_bytes(PDF)
    out = tmp_path / "bundle.asice"
    result = run(demo, "sign", str(a), str(b), "--as", "ministry-of-finance", "--out", str(out))
    assert result.exit_code == 0, result.output
    names = zipfile.ZipFile(out).namelist()
    assert names == ["mimetype", "a.txt", "b.pdf", "META-INF/signatures001.xml"]
    refused = run(demo, "sign", str(a), str(b), "--as", "ministry-of-finance", "--format", "cades")
    assert refused.exit_code == 1 and "ASiC-E" in refused.output


def test_batch_with_bad_files(demo: Demo, tmp_path: Path) -> None:
    batch = tmp_path / "inbox"
    batch.mkdir()
    for i in range(3):
        (batch / f"letter-{i}.pdf").write_bytes(PDF)
    (batch / "truncated.pdf").write_bytes(PDF[:300])
    (batch / "entities.xml").write_bytes(
        (SHARED / "vectors" / "bad-xml" / "xmlbomb.xml").read_bytes()
    )
    (batch / "notes.txt").write_bytes(b"notes\n")
    (batch / "old.txt.p7s").write_bytes(b"an earlier signature")
    unreadable = batch / "secret.bin"
    unreadable.write_bytes(b"x")
    unreadable.chmod(0)
    readable = os.access(unreadable, os.R_OK)  # root reads mode-0 files
    out_dir = tmp_path / "signed"
    result = run(
        demo, "sign", "--batch", str(batch), "--as", "civil-registry-agency", "--level", "B-T",
        "--out", str(out_dir),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "error: truncated.pdf:" in result.output
    assert "error: entities.xml: XML with a document type declaration" in result.output
    signed = sorted(p.name for p in out_dir.iterdir())
    expected = [
        "letter-0-signed.pdf",
        "letter-1-signed.pdf",
        "letter-2-signed.pdf",
        "notes.txt.p7s",
    ]
    if readable:
        expected.append("secret.bin.p7s")
    else:
        assert "error: secret.bin: cannot read it" in result.output
    assert signed == sorted(expected)
    text = " ".join(result.output.split())  # Rich wraps lines to the terminal width
    assert "skipped 1 earlier signatures" in text
    assert f"Signed {len(expected)} of 7 files" in text


def test_batch_json_summary(demo: Demo, tmp_path: Path) -> None:
    batch = tmp_path / "inbox"
    batch.mkdir()
    (batch / "ok.pdf").write_bytes(PDF)
    (batch / "bad.pdf").write_bytes(b"%PDF-1.7\ngarbage")
    result = run(demo, "sign", "--batch", str(batch), "--as", "civil-registry-agency", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert [d["file"] for d in summary["signed"]] == ["ok.pdf"]
    assert [f["file"] for f in summary["failed"]] == ["bad.pdf"]
    assert (batch / "ok-signed.pdf").exists()


def test_refusals_are_one_line_and_exit_1(demo: Demo, tmp_path: Path) -> None:
    path = tmp_path / "doc.xml"
    path.write_bytes((SHARED / "vectors" / "bad-xml" / "external_file.xml").read_bytes())
    result = run(demo, "sign", str(path), "--as", "civil-registry-agency")
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: XML with a document type declaration")
    with opened(demo) as ctx:
        serial = credentials.describe_credential(ctx, "omar-khalil").serial
        revocation.revoke(ctx, serial, RevocationReason.parse("superseded"), ADMIN)
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(PDF)
    result = run(demo, "sign", str(pdf), "--as", "omar-khalil")
    assert result.exit_code == 1 and "may not sign" in result.output and "revoked" in result.output
    result = run(demo, "sign", str(pdf), "--as", "nobody")
    assert result.exit_code == 1 and "unknown credential" in result.output
    assert run(demo, "sign", str(pdf)).exit_code == 2  # --as is required (usage error)
    result = run(demo, "sign", str(pdf), "--as", "amina-haddad", "--level", "B-Q")
    assert result.exit_code == 1 and "unknown signature level" in result.output


def test_augment_in_place_and_p7s_with_its_content(demo: Demo, tmp_path: Path) -> None:
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(PDF)
    assert run(demo, "sign", str(pdf), "--as", "amina-haddad").exit_code == 0
    signed = tmp_path / "a-signed.pdf"
    before = signed.read_bytes()
    result = run(demo, "augment", str(signed), "--level", "B-LTA")
    assert result.exit_code == 0, result.output
    after = signed.read_bytes()
    assert after.startswith(before) and len(after) > len(before)
    data = tmp_path / "report.txt"
    data.write_bytes(b"report\n")
    assert run(demo, "sign", str(data), "--as", "ministry-of-finance").exit_code == 0
    out = tmp_path / "report.lta.p7s"
    result = run(demo, "augment", f"{data}.p7s", "--out", str(out))  # content found beside it
    assert result.exit_code == 0, result.output
    attrs = cms.ContentInfo.load(out.read_bytes())["content"]["signer_infos"][0]["unsigned_attrs"]
    assert "0.4.0.1733.2.4" in {a["type"].dotted for a in attrs}
    with opened(demo) as ctx:
        events = audit.list_events(ctx, action="sign.augment")
    assert len(events) == 2
    result = run(demo, "augment", str(data), "--level", "B-LTA")
    assert result.exit_code == 1 and result.output.startswith("error:")


def test_timestamps_from_a_tsa_over_http(
    demo: Demo, live_server: LiveServer, tmp_path: Path
) -> None:
    """--tsa-url: the signature time-stamp comes over HTTP (here this instance's own
    POST /tsa on a loopback server) instead of in-process."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"payload\n")
    with opened(demo) as ctx:
        before = len(audit.list_events(ctx, action="tsa.stamp", limit=1000))
    result = run(
        demo, "sign", str(path), "--as", "ministry-of-finance", "--level", "B-T",
        "--tsa-url", f"{live_server.url}/tsa",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with opened(demo) as ctx:
        stamps = audit.list_events(ctx, action="tsa.stamp", limit=1000)
    assert len(stamps) == before + 1
    assert stamps[0][1].actor == "anonymous"  # it came through the public endpoint
    result = run(
        demo, "sign", str(path), "--as", "ministry-of-finance", "--level", "B-T",
        "--tsa-url", "http://127.0.0.1:9/tsa",
    )  # fmt: skip
    assert result.exit_code == 1 and "cannot reach the TSA" in result.output
