"""Remote signing over HTTP: ``POST /sign`` (a document, or only its hash) and the batch
API, under an API token bound to the credential. The PAdES hash flow is run end to end
with pyHanko's interrupted signing on the client side: the PDF never leaves the client,
the server only sees the byte-range digest and answers with the CMS to embed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from govtrust.api import create_app
from govtrust.ca.crl import RevocationReason
from govtrust.services import Context, audit, credentials, revocation
from govtrust.services.tokens import create_token
from tests.conftest import SHARED
from tests.integration.test_sign_support import ADMIN, pki_files, run_tool

pytestmark = pytest.mark.openssl

PDF = (SHARED / "vectors" / "pdf" / "minimal.pdf").read_bytes()
DATA = b"Registered letter 2026/991\n"


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, scheduler=False), raise_server_exceptions=False) as c:
        yield c


def _token(
    ctx: Context, name: str, role: str = "operator", bind: str | None = None
) -> dict[str, str]:
    _, secret = create_token(ctx, name, role, ADMIN)
    if bind:
        credentials.bind_token(ctx, bind, name, ADMIN)
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def seal(ctx: Context) -> dict[str, str]:
    """An operator token bound to the Ministry of Finance's seal."""
    return _token(ctx, "finance-app", bind="ministry-of-finance")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _openssl_verifies(ctx: Context, tmp_path: Path, signature: bytes, content: bytes) -> bool:
    chain = pki_files(ctx, tmp_path, "ministry-of-finance").chain
    (tmp_path / "sig.p7s").write_bytes(signature)
    (tmp_path / "content").write_bytes(content)
    result = run_tool(
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.p7s", "-content",
        "content", "-CAfile", str(chain), "-purpose", "any", "-out", "/dev/null", cwd=tmp_path,
    )  # fmt: skip
    return "Verification successful" in result.stdout + result.stderr


def test_sign_json_document(
    client: TestClient, ctx: Context, seal: dict[str, str], tmp_path: Path
) -> None:
    r = client.post(
        "/sign",
        json={
            "credential": "ministry-of-finance",
            "document": _b64(DATA),
            "filename": "letter.txt",
            "level": "B-T",
        },
        headers=seal,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["format"] == "cades"
        and body["level"] == "B-T"
        and body["filename"] == "letter.txt.p7s"
    )
    assert _openssl_verifies(ctx, tmp_path, base64.b64decode(body["content"]), DATA)
    (_, event), *_ = audit.list_events(ctx, action="sign.create", limit=1)
    assert event.actor == "token:finance-app"
    assert event.details["document_sha256"] == hashlib.sha256(DATA).hexdigest()


def test_sign_multipart_pdf(
    client: TestClient, ctx: Context, seal: dict[str, str], tmp_path: Path
) -> None:
    r = client.post(
        "/sign",
        data={"credential": "ministry-of-finance", "level": "B-LT", "visible_stamp": "true"},
        files={"document": ("decree.pdf", PDF, "application/pdf")},
        headers=seal,
    )
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "pades"
    signed = base64.b64decode(r.json()["content"])
    root = load_cert_from_pemder(str(pki_files(ctx, tmp_path).root))
    reader = PdfFileReader(BytesIO(signed))
    status = validate_pdf_signature(
        reader.embedded_signatures[0], ValidationContext(trust_roots=[root], allow_fetching=False)
    )
    assert status.intact and status.valid and status.trusted


def test_sign_a_hash_cades(
    client: TestClient, ctx: Context, seal: dict[str, str], tmp_path: Path
) -> None:
    digest = hashlib.sha384(DATA).hexdigest()
    r = client.post(
        "/sign",
        json={
            "credential": "ministry-of-finance",
            "hash": digest,
            "hash_algorithm": "sha384",
            "level": "B-LTA",
        },
        headers=seal,
    )
    assert r.status_code == 200, r.text
    assert r.json()["document_hash"] == f"sha384:{digest}"
    assert _openssl_verifies(ctx, tmp_path, base64.b64decode(r.json()["content"]), DATA)
    assert not _openssl_verifies(ctx, tmp_path, base64.b64decode(r.json()["content"]), DATA + b" ")


def test_pades_two_step_remote_signing_with_pyhanko(
    client: TestClient, ctx: Context, seal: dict[str, str], tmp_path: Path
) -> None:
    """Step 1, at the agency: pyHanko prepares the PDF and computes the byte-range
    digest. Step 2: the digest goes to POST /sign, the CMS comes back and the agency's
    pyHanko embeds it. The PDF never leaves the agency."""

    async def flow() -> bytes:
        writer = IncrementalPdfFileWriter(BytesIO(PDF))
        meta = signers.PdfSignatureMetadata(
            field_name="Signature1", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
        )
        placeholder = signers.ExternalSigner(
            signing_cert=None, cert_registry=None, signature_value=256
        )
        pdf_signer = signers.PdfSigner(meta, signer=placeholder)
        prepared, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
            writer, bytes_reserved=32768
        )
        r = client.post(
            "/sign",
            json={
                "credential": "ministry-of-finance",
                "hash": prepared.document_digest.hex(),
                "hash_algorithm": "sha256",
                "format": "pades",
                "level": "B-T",
            },
            headers=seal,
        )
        assert r.status_code == 200, r.text
        cms_der = base64.b64decode(r.json()["content"])
        await PdfTBSDocument.async_finish_signing(output, prepared, cms_der)
        output.seek(0)
        return bytes(output.read())

    signed = asyncio.run(flow())
    files = pki_files(ctx, tmp_path)
    root = load_cert_from_pemder(str(files.root))
    issuing = load_cert_from_pemder(str(files.issuing))
    context = ValidationContext(trust_roots=[root], other_certs=[issuing], allow_fetching=False)
    reader = PdfFileReader(BytesIO(signed))
    (sig,) = reader.embedded_signatures
    status = validate_pdf_signature(sig, context, ts_validation_context=context)
    assert status.intact and status.valid and status.trusted, status.summary()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    event = audit.list_events(ctx, action="sign.create", limit=1)[0][1]
    assert event.details["hash_only"] is True and event.details["format"] == "pades"


def test_token_must_be_bound_to_the_credential(client: TestClient, ctx: Context) -> None:
    body = {"credential": "ministry-of-finance", "document": _b64(DATA)}
    unbound = _token(ctx, "unbound", role="admin")
    r = client.post("/sign", json=body, headers=unbound)
    assert r.status_code == 403 and "not bound" in r.json()["detail"]
    other = _token(ctx, "registry-app", bind="civil-registry-agency")
    r = client.post("/sign", json=body, headers=other)
    assert r.status_code == 403 and "'civil-registry-agency' only" in r.json()["detail"]
    auditor = _token(ctx, "auditor-app", role="auditor", bind="ministry-of-finance")
    assert client.post("/sign", json=body, headers=auditor).status_code == 403
    assert client.post("/sign", json=body).status_code == 401
    assert audit.list_events(ctx, action="sign.create") == []


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    return body


def test_hostile_requests_are_4xx(client: TestClient, ctx: Context, seal: dict[str, str]) -> None:
    dtd = (SHARED / "vectors" / "bad-xml" / "xmlbomb.xml").read_bytes()
    cases = [
        (
            {"credential": "ministry-of-finance", "document": _b64(dtd), "filename": "x.xml"},
            400,
            "malformed-document",
        ),
        (
            {"credential": "ministry-of-finance", "document": _b64(PDF[:500]), "filename": "x.pdf"},
            400,
            "malformed-document",
        ),
        ({"credential": "ministry-of-finance", "document": "***"}, 400, "invalid-input"),
        ({"credential": "ministry-of-finance", "hash": "abc"}, 400, "invalid-input"),
        (
            {"credential": "ministry-of-finance", "hash": "00" * 32, "format": "xades"},
            400,
            "invalid-input",
        ),
        (
            {"credential": "ministry-of-finance", "document": _b64(b"x"), "level": "B-Z"},
            400,
            "invalid-input",
        ),
        ({"document": _b64(b"x")}, 400, "invalid-input"),
        ([1, 2], 400, "invalid-input"),
    ]
    for body, status, code in cases:
        problem = _problem(client.post("/sign", json=body, headers=seal), status)
        assert problem["type"].endswith(code), (body, problem)
    problem = _problem(
        client.post(
            "/sign", content=b"{not json", headers={**seal, "content-type": "application/json"}
        ),
        400,
    )
    assert "JSON" in problem["detail"]
    big = {**seal, "content-type": "application/json", "content-length": str(1 << 40)}
    _problem(client.post("/sign", content=b"{}", headers=big), 413)
    multipart = client.post("/sign", data={"credential": "ministry-of-finance"}, headers=seal)
    assert multipart.status_code == 400
    serial = credentials.describe_credential(ctx, "ministry-of-finance").serial
    revocation.revoke(ctx, serial, RevocationReason.parse("key-compromise"), ADMIN)
    problem = _problem(
        client.post(
            "/sign",
            json={"credential": "ministry-of-finance", "document": _b64(DATA)},
            headers=seal,
        ),
        409,
    )
    assert problem["type"].endswith("credential-unusable")


def test_batch_json_with_a_bad_document(
    client: TestClient, ctx: Context, seal: dict[str, str], tmp_path: Path
) -> None:
    documents = [
        {"filename": "a.txt", "document": _b64(b"A\n")},
        {"filename": "broken.pdf", "document": _b64(b"%PDF-1.7\nnothing")},
        {"filename": "b.pdf", "document": _b64(PDF)},
    ]
    r = client.post(
        "/api/v1/sign/batch",
        json={"credential": "ministry-of-finance", "documents": documents, "level": "B-T"},
        headers=seal,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["signed"], body["failed"]) == (2, 1)
    ok = [x for x in body["results"] if x["ok"]]
    bad = [x for x in body["results"] if not x["ok"]]
    assert [x["filename"] for x in ok] == ["a.txt.p7s", "b-signed.pdf"]
    assert bad[0]["filename"] == "broken.pdf" and bad[0]["error"]["code"] == "malformed-document"
    assert _openssl_verifies(ctx, tmp_path, base64.b64decode(ok[0]["content"]), b"A\n")
    assert len(audit.list_events(ctx, action="sign.create")) == 2


def test_batch_multipart(client: TestClient, ctx: Context, seal: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/sign/batch",
        data={"credential": "ministry-of-finance"},
        files=[
            ("documents", ("one.pdf", PDF, "application/pdf")),
            ("documents", ("two.xml", b"<a>2</a>", "text/xml")),
        ],
        headers=seal,
    )
    assert r.status_code == 200, r.text
    assert [x["format"] for x in r.json()["results"]] == ["pades", "xades"]
    unbound = _token(ctx, "other", bind="civil-registry-agency")
    r = client.post(
        "/api/v1/sign/batch",
        json={"credential": "ministry-of-finance", "documents": [{"document": _b64(b"x")}]},
        headers=unbound,
    )
    assert r.status_code == 403
    _problem(
        client.post(
            "/api/v1/sign/batch",
            json={"credential": "ministry-of-finance", "documents": []},
            headers=seal,
        ),
        400,
    )
