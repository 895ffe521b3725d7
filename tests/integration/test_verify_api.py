"""``POST /verify`` over real HTTP (uvicorn on loopback): public, multipart and raw
bodies, the sealed JSON, PDF and HTML reports, and RFC 9457 refusals (413, 415, 400)
that never turn into a 500."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from govtrust.services.signing import Level, SigningOptions, sign_document
from tests.conftest import Demo, LiveServer, serve
from tests.integration.test_verify_cli import ADMIN, DATA, foreign_pki

pytestmark = pytest.mark.openssl


def _signature(server: LiveServer, level: Level = Level.B_T) -> bytes:
    result = sign_document(
        server.ctx, DATA, "decree.txt", "ministry-of-finance", ADMIN, SigningOptions(level=level)
    )
    return result.document.data


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return body  # type: ignore[no-any-return]


def test_multipart_answers_a_sealed_json_report(live_server: LiveServer) -> None:
    signature = _signature(live_server)
    response = httpx.post(
        f"{live_server.url}/verify",
        files={"file": ("decree.txt", DATA), "detached": ("decree.txt.p7s", signature)},
        data={"revocation": "if-available"},
        timeout=60,
    )  # no Authorization header: anyone may verify
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["govtrust-indication"] == "TOTAL-PASSED"
    report = response.json()
    assert report["indication"] == "TOTAL-PASSED" and report["seal"]["format"] == "CAdES-BASELINE-T"
    assert report["document"]["name"] == "decree.txt"
    assert report["policy"]["revocation"] == "if-available"
    # The answer is itself a document POST /verify validates: its seal holds.
    again = httpx.post(
        f"{live_server.url}/verify",
        content=response.content,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert again.status_code == 200, again.text
    assert again.json()["document"]["sealedReport"]["indication"] == "TOTAL-PASSED"


def test_multipart_trust_anchor_and_tampered_data(live_server: LiveServer, tmp_path: Path) -> None:
    foreign = foreign_pki(tmp_path / "foreign")
    files = {
        "file": ("data.txt", foreign.data.read_bytes()),
        "detached": ("data.txt.p7s", foreign.signature.read_bytes()),
    }
    unknown = httpx.post(f"{live_server.url}/verify", files=files, timeout=60)
    assert unknown.json()["subIndication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    trusted = httpx.post(
        f"{live_server.url}/verify",
        files=[*files.items(), ("trust_anchor", ("root.pem", foreign.root.read_bytes()))],
        data={"revocation": "if-available"},
        timeout=60,
    )
    assert trusted.json()["indication"] == "TOTAL-PASSED", trusted.text
    tampered = httpx.post(
        f"{live_server.url}/verify",
        files={"file": ("data.txt", DATA + b"!"), "detached": files["detached"]},
        timeout=60,
    )
    assert tampered.status_code == 200
    assert tampered.headers["govtrust-indication"] == "TOTAL-FAILED"


def test_raw_body_pdf_report_by_accept_and_html(live_server: LiveServer) -> None:
    pdf = sign_document(
        live_server.ctx,
        (Path(__file__).resolve().parents[3] / "shared/vectors/pdf/minimal.pdf").read_bytes(),
        "decree.pdf",
        "amina-haddad",
        ADMIN,
        SigningOptions(level=Level.B_T),
    ).document.data
    raw = {"Content-Type": "application/pdf"}
    response = httpx.post(f"{live_server.url}/verify", content=pdf, headers=raw, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["signatures"][0]["format"].startswith("PAdES")
    as_pdf = httpx.post(
        f"{live_server.url}/verify",
        content=pdf,
        headers={**raw, "Accept": "application/pdf"},
        timeout=60,
    )
    assert as_pdf.status_code == 200 and as_pdf.headers["content-type"] == "application/pdf"
    assert as_pdf.content.startswith(b"%PDF-") and b"/ByteRange" in as_pdf.content
    by_query = httpx.post(
        f"{live_server.url}/verify?report=pdf", content=pdf, headers=raw, timeout=60
    )
    assert by_query.content.startswith(b"%PDF-")
    html = httpx.post(
        f"{live_server.url}/verify?report=html&lang=ar", content=pdf, headers=raw, timeout=60
    )
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert '<html lang="ar" dir="rtl">' in html.text and 'id="govtrust-report"' in html.text


def test_raw_cms_with_query_options(live_server: LiveServer) -> None:
    """A raw CMS body with the policy in the query; a detached signature sent without
    its data is INDETERMINATE/SIGNED_DATA_NOT_FOUND (EN 319 102-1 §5.2.8)."""
    signature = _signature(live_server, Level.B_B)
    response = httpx.post(
        f"{live_server.url}/verify?revocation=off&at=2030-01-01T00:00:00Z",
        content=signature,
        headers={"Content-Type": "application/pkcs7-signature"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["indication"], report["subIndication"]) == (
        "INDETERMINATE",
        "SIGNED_DATA_NOT_FOUND",
    )
    assert report["policy"]["revocation"] == "off"
    assert report["policy"]["validationTime"] == "2030-01-01T00:00:00+00:00"


def test_unsupported_is_415(live_server: LiveServer) -> None:
    response = httpx.post(
        f"{live_server.url}/verify",
        content=b"hello, this is not a signed document",
        headers={"Content-Type": "text/plain"},
        timeout=30,
    )
    body = _problem(response, 415)
    assert body["type"] == "urn:govtrust:problem:unsupported-document"


@pytest.mark.parametrize(
    ("data", "params", "message"),
    [
        ({"at": "last tuesday"}, {}, "ISO 8601"),
        ({"revocation": "sometimes"}, {}, "revocation"),
        ({}, {"report": "docx"}, "report"),
    ],
)
def test_bad_options_are_400(
    live_server: LiveServer, data: dict[str, str], params: dict[str, str], message: str
) -> None:
    signature = _signature(live_server, Level.B_B)
    response = httpx.post(
        f"{live_server.url}/verify",
        params=params,
        files={"file": ("decree.txt", DATA), "detached": ("decree.txt.p7s", signature)},
        data=data,
        timeout=30,
    )
    assert message in str(_problem(response, 400)["detail"])


def test_bad_forms_are_400(live_server: LiveServer) -> None:
    url = f"{live_server.url}/verify"
    no_file = httpx.post(url, data={"at": "2026-01-01T00:00:00Z"}, files={"x": ("a", b"b")})
    assert "file" in str(_problem(no_file, 400)["detail"])
    bad_anchor = httpx.post(
        url, files=[("file", ("a.txt", DATA)), ("trust_anchor", ("a.pem", b"not pem"))]
    )
    assert "PEM" in str(_problem(bad_anchor, 400)["detail"])
    broken = httpx.post(
        url,
        content=b"--xyz\r\nContent-Disposition: form-data; name=\r\n\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status_code in (400, 422), broken.text


def test_large_documents_are_413(demo: Demo) -> None:
    with (demo.home / "govtrust.toml").open("a", encoding="utf-8") as f:
        f.write("\n[verify]\nmax_document_bytes = 2048\n")
    ctx = demo.open()
    try:
        with serve(ctx) as url:
            big = b"%PDF-1.7\n" + b"0" * 4096
            raw = httpx.post(
                f"{url}/verify", content=big, headers={"Content-Type": "application/pdf"}
            )
            assert "2048" in str(_problem(raw, 413)["detail"])
            form = httpx.post(f"{url}/verify", files={"file": ("big.pdf", big)})
            _problem(form, 413)

            def chunks() -> object:
                yield b"%PDF-1.7\n"
                for _ in range(8):
                    yield b"0" * 1024

            streamed = httpx.post(
                f"{url}/verify", content=chunks(), headers={"Content-Type": "application/pdf"}
            )  # chunked: no Content-Length, refused while reading
            _problem(streamed, 413)
    finally:
        ctx.close()


def test_validation_runs_off_the_event_loop(live_server: LiveServer) -> None:
    """While validations run, the server still answers other requests."""
    signature = _signature(live_server, Level.B_T)
    results: list[int] = []

    def validate() -> None:
        response = httpx.post(
            f"{live_server.url}/verify",
            files={"file": ("decree.txt", DATA), "detached": ("d.p7s", signature)},
            timeout=120,
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=validate) for _ in range(3)]
    for thread in threads:
        thread.start()
    pings = [httpx.get(f"{live_server.url}/openapi.json", timeout=10) for _ in range(3)]
    for thread in threads:
        thread.join()
    assert all(p.status_code == 200 for p in pings)
    assert "/verify" in json.loads(pings[0].content)["paths"]
    assert results == [200, 200, 200]
