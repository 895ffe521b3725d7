"""The portal's public pages, through the ASGI app: language routing, the verify flow
(verdicts, downloads, kept reports, error pages), the certificate check, the CAs and
the ledger; every page under 200 KB, in both languages."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govtrust.api import create_app
from govtrust.audit import AuditEvent
from govtrust.ca.crl import RevocationReason
from govtrust.clock import FixedClock
from govtrust.portal.report_form import FORM_SECONDS, report_mac
from govtrust.services import Context, audit, certificates, revocation, verify
from govtrust.store.portal_models import PortalReportRow
from govtrust.validation.render import canonical_json
from tests.conftest import Demo
from tests.e2e.support import ADMIN, csrf_of, make_accounts, sign_pdf, tamper, write_portal_config

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "pdf"
PAGE_LIMIT = 200 * 1024


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    make_accounts(ctx)
    with TestClient(
        create_app(ctx, scheduler=False), base_url="https://testserver", follow_redirects=False
    ) as c:
        yield c


def _verify(client: TestClient, data: bytes, name: str = "doc.pdf", **fields: str):  # type: ignore[no-untyped-def]
    form = client.get("/en/verify")
    return client.post(
        "/en/verify",
        data={"csrf": csrf_of(form), **fields},
        files={"document": (name, data, "application/octet-stream")},
    )


_FIELD = re.compile(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">')


def _report_form(html: str, lang: str = "en") -> dict[str, str]:
    """The hidden fields of the verdict page's "download the signed report" form."""
    form = re.search(
        rf'<form method="post" action="/{lang}/verify/report\.json".*?</form>', html, re.S
    )
    assert form, "no signed-report download form"
    return dict(_FIELD.findall(form.group(0)))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _seal_records(ctx: Context) -> list[AuditEvent]:
    return [event for _, event in audit.list_events(ctx, action="validation.report")]


# ---- languages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "cookies", "target"),
    [
        ({}, {}, "/en"),
        ({"Accept-Language": "ar-AE,ar;q=0.9,en;q=0.5"}, {}, "/ar"),
        ({"Accept-Language": "fr-FR, en;q=0.3, ar;q=0.7"}, {}, "/ar"),
        ({"Accept-Language": "ar;q=0, en"}, {}, "/en"),
        ({"Accept-Language": "ar"}, {"gt_lang": "en"}, "/en"),
        ({}, {"gt_lang": "ar"}, "/ar"),
        ({}, {"gt_lang": "xx"}, "/en"),
    ],
)
def test_root_chooses_the_language(
    client: TestClient, headers: dict[str, str], cookies: dict[str, str], target: str
) -> None:
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    r = client.get("/", headers=headers)
    assert r.status_code == 303
    assert r.headers["location"] == target
    assert 'href="/ca/root.crt"' in r.text  # the note keeps the CA downloads


def test_visiting_a_language_remembers_it(client: TestClient) -> None:
    r = client.get("/ar/cas")
    assert "gt_lang=ar" in r.headers["set-cookie"]
    assert client.get("/").headers["location"] == "/ar"


PUBLIC_PAGES = ["", "/verify", "/cas", "/certificates/check", "/ledger", "/operator/login"]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_public_pages_in_both_languages(client: TestClient, lang: str) -> None:
    for page in PUBLIC_PAGES:
        r = client.get(f"/{lang}{page}")
        assert r.status_code == 200, page
        assert len(r.content) < PAGE_LIMIT, page
        html = r.text
        assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in html
        assert 'class="skip" href="#main"' in html
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        other = "ar" if lang == "en" else "en"
        assert f'href="/{other}{page}"' in html  # the language switch keeps the page
    home = client.get(f"/{lang}").text
    assert ("التحقق من مستند" in home) == (lang == "ar")
    assert ("Verify a document" in home) == (lang == "en")


def test_home_lists_the_cas_with_downloads(client: TestClient) -> None:
    html = client.get("/en").text
    for name in ("root", "people", "tls"):
        for link in (f"/ca/{name}.crt", f"/ca/{name}.pem", f"/crl/{name}.crl"):
            assert f'href="{link}"' in html
    assert "AA Government Root CA" in html


def test_arabic_dates_and_numbers_are_localised(client: TestClient) -> None:
    html = client.get("/ar/cas").text
    # CLDR Arabic: the right-to-left mark in dates, Arabic month names or digits.
    assert "\u200f" in html or re.search("[\u0660-\u0669]", html)


# ---- verify a document -----------------------------------------------------------------


def test_verify_a_valid_pdf(client: TestClient, ctx: Context) -> None:
    r = _verify(client, sign_pdf(ctx))
    assert r.status_code == 200, r.text[:2000]
    html = r.text
    assert 'class="verdict valid"' in html
    assert "Ministry of Finance" in html
    assert "proved by a time-stamp" in html
    assert len(r.content) < PAGE_LIMIT
    # The verdict is answered without a seal: nothing signed, nothing audited, nothing
    # inlined; the page offers a form that asks for the signed report.
    assert "data:application/json" not in html and "CAdES-BASELINE-T" not in html
    assert _seal_records(ctx) == []
    fields = _report_form(html)
    assert set(fields) == {"csrf", "report", "issued", "mac"}
    assert "Download the signed report (JSON)" in html
    canonical = _unb64url(fields["report"])
    # RFC 8785: a JSON round trip of the canonical form gives back the same bytes.
    assert canonical_json(json.loads(canonical)) == canonical
    assert json.loads(canonical)["indication"] == "TOTAL-PASSED"

    download = client.post("/en/verify/report.json", data=fields)
    assert download.status_code == 200, download.text[:2000]
    assert download.headers["content-type"] == "application/json"
    assert download.headers["content-disposition"] == (
        'attachment; filename="validation-report.json"'
    )
    sealed = download.json()
    assert sealed["seal"]["format"] == verify.SEAL_FORMAT
    assert sealed["seal"]["credential"] == "validation-service"
    # The seal covers exactly the report the verdict page carried...
    assert canonical_json({k: v for k, v in sealed.items() if k != "seal"}) == canonical
    # ...and holds: what `govtrust verify report.json` runs.
    checked = verify.verify_document(ctx, download.content).to_dict()
    assert checked["indication"] == "TOTAL-PASSED", checked
    assert checked["document"]["kind"] == "govtrust sealed validation report"
    assert checked["document"]["sealedReport"]["indication"] == "TOTAL-PASSED"
    # One audit record, as seal_report makes it.
    (record,) = _seal_records(ctx)
    assert record.actor == "portal:visitor" and record.details["rendering"] == "json"
    assert record.object_sha256 == hashlib.sha256(download.content).hexdigest()
    with ctx.db.read() as session:  # nothing kept without asking
        assert session.scalar(select(func.count()).select_from(PortalReportRow)) == 0


def test_the_report_form_refuses_forged_and_old_reports(client: TestClient, ctx: Context) -> None:
    ctx.clock = clock = FixedClock(ctx.clock.now())
    fields = _report_form(_verify(client, sign_pdf(ctx)).text)
    canonical = _unb64url(fields["report"])
    issued = int(fields["issued"])
    assert issued == int(clock.now().timestamp())
    flipped = "0" if fields["mac"][-1] != "0" else "1"
    ahead = issued + 120

    def post(lang: str = "en", **changes: str):  # type: ignore[no-untyped-def]
        return client.post(f"/{lang}/verify/report.json", data={**fields, **changes})

    forged = [
        {"report": _b64url(canonical.replace(b"TOTAL-PASSED", b"TOTAL-FAILED", 1))},
        {"report": _b64url(canonical + b" ")},  # same value, not the tagged bytes
        {"mac": fields["mac"][:-1] + flipped},
        {"mac": ""},
        {"issued": str(issued - 1)},  # the time is under the tag too
        {"report": "not base64url!"},
        # Dated ahead, even with a right tag (the key is only the server's).
        {"issued": str(ahead), "mac": report_mac(ctx, ahead, canonical)},
    ]
    for changes in forged:
        r = post(**changes)
        assert r.status_code == 400, (changes, r.status_code)
        assert "This report cannot be accepted" in r.text and 'role="alert"' in r.text
    # Without its CSRF token it is refused like every other form.
    no_csrf = {k: v for k, v in fields.items() if k != "csrf"}
    r = client.post("/en/verify/report.json", data=no_csrf)
    assert r.status_code == 400 and "This form has expired" in r.text
    r = post(csrf="forged-" + "x" * 40)
    assert r.status_code == 400 and "This form has expired" in r.text
    assert _seal_records(ctx) == []  # nothing was sealed
    # Good for an hour after the verdict, not a second more.
    clock.advance(dt.timedelta(seconds=FORM_SECONDS))
    assert post().status_code == 200
    clock.advance(dt.timedelta(seconds=1))
    for lang, text in (("en", "This report has expired"), ("ar", "انتهت صلاحية هذا التقرير")):
        r = post(lang)
        assert r.status_code == 400 and text in r.text
    assert "Verify the document again" in post().text
    assert len(_seal_records(ctx)) == 1


def test_a_seal_failure_on_download_is_an_error_page(demo: Demo) -> None:
    context = demo.open()
    try:
        signed = sign_pdf(context)
    finally:
        context.close()
    with (demo.home / "govtrust.toml").open("a", encoding="utf-8") as f:
        f.write('\n[verify]\nseal_credential = "court-seal"\n')
    context = demo.open()
    try:
        with TestClient(create_app(context, scheduler=False), base_url="https://testserver") as c:
            verdict = _verify(c, signed)  # the verdict itself needs no seal
            assert verdict.status_code == 200 and 'class="verdict valid"' in verdict.text
            r = c.post("/en/verify/report.json", data=_report_form(verdict.text))
            assert r.status_code == 503, r.text[:1500]
            assert "The report cannot be sealed at the moment" in r.text
    finally:
        context.close()


def test_verify_a_tampered_pdf(client: TestClient, ctx: Context) -> None:
    html = _verify(client, tamper(sign_pdf(ctx))).text
    assert 'class="verdict invalid"' in html
    assert "The document was changed after it was signed." in html


def test_verify_in_arabic(client: TestClient, ctx: Context) -> None:
    form = client.get("/ar/verify")
    r = client.post(
        "/ar/verify",
        data={"csrf": csrf_of(form)},
        files={"document": ("doc.pdf", sign_pdf(ctx), "application/pdf")},
    )
    assert 'dir="rtl"' in r.text and "صالح" in r.text
    assert set(_report_form(r.text, "ar")) == {"csrf", "report", "issued", "mac"}
    assert "نزّل التقرير الموقّع (JSON)" in r.text


def test_a_kept_report_has_an_unguessable_link(client: TestClient, ctx: Context) -> None:
    html = _verify(client, sign_pdf(ctx), keep="1").text
    token = re.search(r'href="/en/reports/([A-Za-z0-9_-]{43})"', html)
    assert token, html[:3000]
    assert "data:application/json" not in html and "/verify/report.json" not in html
    page = client.get(f"/en/reports/{token.group(1)}")
    assert page.status_code == 200 and 'class="verdict valid"' in page.text
    pdf = client.get(f"/en/reports/{token.group(1)}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    js = client.get(f"/ar/reports/{token.group(1)}/report.json")
    assert js.json()["indication"] == "TOTAL-PASSED"
    with ctx.db.read() as session:
        rows = session.scalars(select(PortalReportRow)).all()
    assert len(rows) == 1 and token.group(1) not in rows[0].token_sha256
    wrong = token.group(1)[:-1] + ("A" if token.group(1)[-1] != "A" else "B")
    assert client.get(f"/en/reports/{wrong}").status_code == 404


@pytest.mark.parametrize(
    ("data", "status", "title"),
    [
        (b"just some text, no signature at all", 415, "This is not a document we can check"),
        ((VECTORS / "minimal-aes256.pdf").read_bytes(), 422, "The document is encrypted"),
        (b"%PDF-1.7\n1 0 obj <<>> garbage", 422, "The file is damaged"),
    ],
    ids=["unsupported", "encrypted", "corrupt"],
)
def test_bad_uploads_get_a_clear_page(
    client: TestClient, data: bytes, status: int, title: str
) -> None:
    r = _verify(client, data)
    assert r.status_code == status, r.text[:1500]
    assert title in r.text and 'role="alert"' in r.text


def test_no_file_chosen(client: TestClient) -> None:
    form = client.get("/en/verify")
    r = client.post("/en/verify", data={"csrf": csrf_of(form)})
    assert r.status_code == 400 and "No file was chosen" in r.text


def test_too_large_is_refused_before_validation(demo: Demo) -> None:
    write_portal_config(demo.home, "max_upload_bytes = 2048")
    context = demo.open()
    try:
        with TestClient(create_app(context, scheduler=False), base_url="https://testserver") as c:
            r = _verify(c, b"%PDF-1.7\n" + b"x" * 5000)
            assert r.status_code == 413 and "The file is too large" in r.text
    finally:
        context.close()


def test_a_form_without_its_token_is_refused(client: TestClient, ctx: Context) -> None:
    r = client.post("/en/verify", files={"document": ("a.pdf", sign_pdf(ctx), "application/pdf")})
    assert r.status_code == 400 and "This form has expired" in r.text


# ---- certificates, CAs, ledger ------------------------------------------------------------


def test_check_a_revoked_certificate_by_serial(client: TestClient, ctx: Context) -> None:
    cert = certificates.list_certificates(ctx, profile="device")[0]
    revocation.revoke(ctx, cert.serial, RevocationReason.key_compromise, ADMIN)
    colons = ":".join(re.findall("..", cert.serial.zfill(len(cert.serial) + len(cert.serial) % 2)))
    html = client.get("/en/certificates/check", params={"serial": colons.upper()}).text
    assert "Revoked" in html and "The private key was compromised" in html
    assert "AA Government TLS and Devices CA" in html  # the issuer chain
    assert "AA Government Root CA" in html


def test_check_a_certificate_by_upload(client: TestClient, ctx: Context) -> None:
    cert = certificates.list_certificates(ctx, profile="tls-server")[0]
    form = client.get("/en/certificates/check")
    r = client.post(
        "/en/certificates/check",
        data={"csrf": csrf_of(form)},
        files={"certificate": ("c.pem", cert.pem.encode(), "application/x-pem-file")},
    )
    assert r.status_code == 200 and "is good now" in r.text
    assert "Certificate issued" in r.text  # the ledger entry of its issuance


def test_unknown_or_bad_certificates(client: TestClient) -> None:
    assert client.get("/en/certificates/check", params={"serial": "abcdef"}).status_code == 404
    assert client.get("/en/certificates/check", params={"serial": "not hex"}).status_code == 400
    form = client.get("/en/certificates/check")
    r = client.post(
        "/en/certificates/check",
        data={"csrf": csrf_of(form)},
        files={"certificate": ("c.pem", b"not a certificate", "text/plain")},
    )
    assert r.status_code == 400 and 'role="alert"' in r.text


def test_ledger_page_searches_and_offers_a_proof(client: TestClient, ctx: Context) -> None:
    cert = certificates.list_certificates(ctx, profile="seal")[0]
    html = client.get("/en/ledger", params={"serial": cert.serial}).text
    assert "Latest checkpoint" in html and "Certificate issued" in html
    assert 'class="verify-proof js-only" data-index=' in html
    assert (
        client.get("/portal-static/ledger.js").headers["content-type"].startswith("text/javascript")
    )
    assert client.get("/portal-static/nothing.js").status_code == 404


def test_pages_name_an_icon_that_is_served(client: TestClient) -> None:
    # Without one, every browser asks for /favicon.ico and logs the 404.
    for path in ("/", "/en", "/ar/verify"):
        html = client.get(path, follow_redirects=True).text
        assert '<link rel="icon" href="/portal-static/favicon.svg"' in html, path
    icon = client.get("/portal-static/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg ") and b"</svg>" in icon.content


def test_trusted_list_pages(client: TestClient) -> None:
    for lang in ("en", "ar"):
        r = client.get(f"/{lang}/trustlists")
        assert r.status_code == 200 and len(r.content) < PAGE_LIMIT
    assert "Lists imported from other countries" in client.get("/en/trustlists").text
    assert client.get("/en/operator/trustlists").status_code == 303  # operators only
