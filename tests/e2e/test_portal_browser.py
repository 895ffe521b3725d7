"""The portal in a real browser (issue 6, "Proved by"): verify a valid, a tampered and
an unknown-CA PDF; check a revoked certificate; switch to Arabic; issue and revoke as
an operator and see the public check and OCSP say revoked; an auditor cannot revoke;
the ledger proof is checked by the page's own JavaScript; an operator lists a provider
and a service by form and, once published, the public page shows it; axe-core finds no
serious or critical violation on any public page in either language."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from playwright.sync_api import Page, expect

from govtrust.ca.crl import RevocationReason
from govtrust.config import load_settings
from govtrust.services import Context, authorities, certificates, ledger, revocation
from govtrust.services.setup import init_home
from govtrust.services.verify import SEAL_FORMAT
from tests.conftest import make_env, serve
from tests.e2e.conftest import Portal, login
from tests.e2e.support import ADMIN, sign_pdf, tamper
from tests.integration.test_portal_trustlists import ca_certificate

# The browser flows run on SQLite: the portal on PostgreSQL is covered by
# tests/integration/test_portal*.py, and each browser test costs seconds.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

T = TypeVar("T")


def _upload(page: Page, portal: Portal, name: str, data: bytes) -> None:
    page.goto(portal.url + "/en/verify")
    page.get_by_label("Signed document").set_input_files(
        {"name": name, "mimeType": "application/pdf", "buffer": data}
    )
    page.get_by_role("button", name="Verify", exact=True).click()


def _foreign_pdf(tmp_path: Path) -> bytes:
    """A PDF signed by another country's demo PKI, unknown to this instance."""
    home = tmp_path / "foreign"
    env = make_env(home, f"sqlite:///{tmp_path / 'foreign.db'}")
    init_home(home, env, demo=True, country="BB")
    other = Context.open(load_settings(env))
    try:
        return sign_pdf(other)
    finally:
        other.close()


def _off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` in a thread of its own: pyHanko signs with asyncio.run, which cannot
    run inside the event loop Playwright's sync API keeps in this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def test_verify_three_documents(page: Page, portal: Portal, tmp_path: Path) -> None:
    signed = _off_loop(sign_pdf, portal.ctx)
    foreign = _off_loop(_foreign_pdf, tmp_path)
    _upload(page, portal, "residence.pdf", signed)
    expect(page.locator("h1")).to_have_text("Valid")
    expect(page.locator(".verdict")).to_have_class("verdict valid")
    expect(page.locator(".signer").first).to_have_text("Ministry of Finance")
    expect(page.get_by_text("proved by a time-stamp")).to_be_visible()
    # The signed JSON report is made when asked for: a form, a download.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the signed report (JSON)").click()
    download = download_info.value
    assert download.suggested_filename == "validation-report.json"
    sealed = json.loads(Path(download.path()).read_bytes())
    assert sealed["indication"] == "TOTAL-PASSED" and sealed["seal"]["format"] == SEAL_FORMAT

    _upload(page, portal, "residence.pdf", tamper(signed))
    expect(page.locator("h1")).to_have_text("Invalid")
    expect(page.get_by_text("The document was changed after it was signed.").first).to_be_visible()
    expect(page.locator(".changed").first).to_contain_text("Yes")

    _upload(page, portal, "foreign.pdf", foreign)
    expect(page.locator("h1")).to_have_text("Cannot be confirmed")
    expect(page.locator(".verdict")).to_have_class("verdict indeterminate")


def test_check_a_revoked_certificate(page: Page, portal: Portal) -> None:
    cert = certificates.list_certificates(portal.ctx, profile="device")[0]
    revocation.revoke(portal.ctx, cert.serial, RevocationReason.key_compromise, ADMIN)
    page.goto(portal.url + "/en/certificates/check")
    page.get_by_label("Serial number").fill(cert.serial.upper())
    page.get_by_role("button", name="Check").first.click()
    expect(page.locator(".status")).to_contain_text("Revoked")
    expect(page.get_by_text("The private key was compromised")).to_be_visible()


def test_switch_to_arabic(page: Page, portal: Portal) -> None:
    page.goto(portal.url + "/en/verify")
    page.get_by_role("link", name="العربية").click()
    page.wait_for_url("**/ar/verify")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("h1")).to_have_text("التحقق من مستند")
    # Remembered: "/" now opens the Arabic home page.
    page.goto(portal.url + "/")
    page.wait_for_url("**/ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    # Mirrored layout: the verdict border and the menu start on the right.
    box = page.locator("nav.nav li").first.bounding_box()
    assert box is not None and box["x"] > 600


def _ocsp_status(portal: Portal, serial: str, ca: str) -> ocsp.OCSPCertStatus:
    info = certificates.get_certificate(portal.ctx, serial)
    cert = x509.load_der_x509_certificate(info.der)
    issuer = x509.load_der_x509_certificate(authorities.get_ca(portal.ctx, ca).cert_der)
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    r = httpx.post(
        portal.url + "/ocsp",
        content=request.public_bytes(serialization.Encoding.DER),
        headers={"Content-Type": "application/ocsp-request"},
        timeout=10,
    )
    return ocsp.load_der_ocsp_response(r.content).certificate_status


def test_operator_issues_and_revokes(page: Page, portal: Portal) -> None:
    login(page, portal, "operator")
    page.goto(portal.url + "/en/operator/issue?profile=seal")
    expect(page.get_by_text("organizationIdentifier").first).to_be_visible()
    org = f"NTRAA-{secrets.randbelow(10**6):06d}"
    page.get_by_label("Issuing authority").select_option("people")
    page.get_by_label("Subject", exact=True).fill(
        f"CN=Ministry of Health,O=Ministry of Health,organizationIdentifier={org},C=AA"
    )
    page.get_by_role("button", name="Issue", exact=True).click()
    expect(page.get_by_text("The certificate was issued.")).to_be_visible()
    serial = page.locator(".serial").inner_text().strip()
    assert _ocsp_status(portal, serial, "people") == ocsp.OCSPCertStatus.GOOD

    page.get_by_role("link", name="Revoke this certificate").click()
    page.get_by_label("Replaced by a new certificate").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Confirm the revocation")).to_be_visible()
    page.get_by_role("button", name="Revoke it now").click()
    expect(page.get_by_text("The certificate was revoked.")).to_be_visible()

    page.goto(portal.url + f"/en/certificates/check?serial={serial}")
    expect(page.locator(".status")).to_contain_text("Revoked")
    assert _ocsp_status(portal, serial, "people") == ocsp.OCSPCertStatus.REVOKED


def test_an_auditor_cannot_revoke(page: Page, portal: Portal) -> None:
    serial = certificates.list_certificates(portal.ctx, profile="device")[0].serial
    login(page, portal, "auditor")
    page.goto(portal.url + f"/en/operator/certificates/{serial}")
    expect(page.get_by_role("link", name="Revoke this certificate")).to_have_count(0)
    response = page.goto(portal.url + f"/en/operator/certificates/{serial}/revoke")
    assert response is not None and response.status == 403
    expect(page.get_by_text("You are not allowed to do this")).to_be_visible()
    assert certificates.get_certificate(portal.ctx, serial).status == "valid"


def test_operator_lists_a_provider_and_a_service(page: Page, portal: Portal) -> None:
    """Trusted-list management by form: an operator adds a provider and a service (its
    certificate uploaded as PEM; a file that is no certificate gives the form back), an
    administrator publishes, and the public trusted-lists page shows the service."""
    login(page, portal, "operator")
    page.goto(portal.url + "/en/operator/trustlists")
    page.get_by_role("link", name="Add a provider").click()
    page.get_by_label("Name", exact=True).fill("Ministry of Digital Economy")
    page.get_by_label("Trade name").fill("VATAA-100042")
    page.get_by_label("Information address").fill("https://mde.example/tsp")
    page.get_by_role("button", name="Add the provider").click()
    expect(page.get_by_text("The provider is added.")).to_be_visible()

    page.get_by_role("link", name="Add a service to Ministry of Digital Economy").click()
    page.get_by_label("Type of service").select_option("CA/QC")
    page.get_by_label("Name of the service").fill("Digital Economy Qualified CA")
    field = page.get_by_label("The service's certificate (PEM)")
    field.set_input_files({"name": "ca.pem", "mimeType": "text/plain", "buffer": b"not a cert"})
    page.get_by_role("button", name="Add the service").click()
    expect(page.get_by_role("alert")).to_contain_text("not a certificate in PEM")
    expect(page.get_by_label("Name of the service")).to_have_value("Digital Economy Qualified CA")
    pem = ca_certificate().public_bytes(serialization.Encoding.PEM)
    field.set_input_files({"name": "ca.pem", "mimeType": "application/x-pem-file", "buffer": pem})
    page.get_by_role("button", name="Add the service").click()
    expect(page.get_by_text("The service is added.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign and publish the next list")).to_have_count(0)

    page.get_by_role("button", name="Log out").click()
    login(page, portal, "admin")
    page.goto(portal.url + "/en/operator/trustlists")
    page.get_by_role("button", name="Sign and publish the next list").click()
    expect(page.get_by_text("The next trusted list is signed and published.")).to_be_visible()
    page.goto(portal.url + "/en/trustlists")
    expect(page.get_by_role("heading", name="Ministry of Digital Economy")).to_be_visible()
    expect(page.get_by_role("cell", name="Digital Economy Qualified CA")).to_be_visible()


def test_ledger_proof_checked_in_the_browser(page: Page, portal: Portal) -> None:
    serial = certificates.list_certificates(portal.ctx, profile="seal")[0].serial
    # Everything the page says or suffers goes into the failure message.
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: seen.append(f"request failed: {r.url} {r.failure}"))
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    text = _first_proof_checked(page, portal.url, serial)
    assert failed == [], seen
    assert "Proof verified in your browser" in text, seen
    assert "The checkpoint signature verifies with the log key shown above." in text, seen
    expect(page.locator(".proof-result").first).to_have_class("proof-result ok")


def _first_proof_checked(page: Page, base: str, serial: str) -> str:
    """Search the ledger page for ``serial``, check the first entry's proof in the
    browser and return what the page then says."""
    page.goto(base + f"/en/ledger?serial={serial}")
    page.get_by_role("button", name="Check the proof in your browser").first.click()
    result = page.locator(".proof-result").first
    # A locator wait, not wait_for_function: the page's CSP (script-src 'self') forbids
    # the eval that Playwright's polling predicate needs.
    expect(result).to_have_class(re.compile(r"\bproof-result (ok|bad)\b"), timeout=15_000)
    return result.inner_text()


def _log_with_plus_in_key(tmp_path: Path) -> Context:
    """A fresh instance whose ledger key's base64 has a "+" in it (about one log in two):
    the case a vkey parser that splits at every "+" gets wrong."""
    for attempt in range(16):
        home = tmp_path / f"plus{attempt}"
        env = make_env(home, f"sqlite:///{tmp_path / f'plus{attempt}.db'}")
        init_home(home, env, demo=False, country="BB")
        ctx = Context.open(load_settings(env))
        authorities.create_root(ctx, "root", "CN=Ledger Test Root,O=Gov,C=BB", ADMIN)
        ledger.sequence(ctx)
        if "+" in ledger.log_info(ctx).vkey.split("+", 2)[2]:
            return ctx
        ctx.close()
    raise AssertionError("16 ledger keys without a '+' in their base64")


def test_checkpoint_signature_checked_when_key_base64_has_plus(
    page: Page, tmp_path: Path, db_url: str
) -> None:
    # db_url only carries the module's SQLite mark: the instances here are made fresh
    # until one has the key this test needs.
    assert db_url.startswith("sqlite")
    ctx = _log_with_plus_in_key(tmp_path)
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}"))
    try:
        serial = authorities.get_ca(ctx, "root").serial
        with serve(ctx) as url:
            text = _first_proof_checked(page, url, serial)
    finally:
        ctx.close()
    assert "Proof verified in your browser" in text, seen
    assert "The checkpoint signature verifies with the log key shown above." in text, seen


def test_api_documentation_renders_without_leaving_the_server(page: Page, portal: Portal) -> None:
    """/docs (Swagger UI) loads everything from govtrust itself: a browser that can
    reach nothing else still shows the operations."""
    elsewhere: list[str] = []

    def local_only(route: Any) -> None:
        if route.request.url.startswith(portal.url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(portal.url + "/docs")
    operation = page.get_by_text("Issue a certificate from a CSR (govtrust cert issue)")
    expect(operation).to_be_visible()
    assert elsewhere == []


PUBLIC = ["", "/verify", "/certificates/check", "/cas", "/ledger", "/trustlists", "/operator/login"]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_axe_finds_no_serious_violation(page: Page, portal: Portal, lang: str) -> None:
    axe = Axe()
    serial = certificates.list_certificates(portal.ctx, limit=1)[0].serial
    failures = []
    for path in [*PUBLIC, f"/certificates/check?serial={serial}", f"/ledger?serial={serial}"]:
        page.goto(f"{portal.url}/{lang}{path}")
        results = axe.run(page)
        for violation in results.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                failures.append(f"{lang}{path}: {violation['id']}: {violation['help']}")
    assert failures == []
