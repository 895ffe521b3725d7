"""Public pages (no login): home, verify a document, check a certificate, the CAs,
trusted lists and the transparency ledger. The verify and certificate-check flows are
plain HTML forms and work without JavaScript. A verdict is answered without sealing
anything: its signed JSON report is sealed when the visitor asks for it
(``report_form``), a kept report at once."""

from __future__ import annotations

import logging
import re
from io import BytesIO
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from govtrust.ca.names import format_serial, parse_serial
from govtrust.errors import (
    DocumentTooLarge,
    Error,
    InputError,
    LedgerError,
    NotFound,
    SigningFailed,
    UnsupportedDocument,
)
from govtrust.ledger.note import split_note
from govtrust.portal.i18n import fmt_number
from govtrust.portal.pool import Verified, pool_for, verified
from govtrust.portal.report_form import ReportFormRefused, open_report_form, verdict_page
from govtrust.portal.reports import keep_report, load_report
from govtrust.portal.views import certificate_view, report_view
from govtrust.portal.web import (
    Page,
    error_page,
    file_bytes,
    html_response,
    page_values,
    render,
    route,
)
from govtrust.services import authorities, ledger, verify
from govtrust.services.certificates import CertificateInfo, get_certificate
from govtrust.services.context import Actor, Context
from govtrust.services.revocation import get_crl
from govtrust.validation.documents import DocumentKind, detect
from govtrust.validation.indications import SubIndication

__all__ = ["ca_chain", "ledger_entries"]

log = logging.getLogger("govtrust.portal")

_VISITOR = Actor("portal:visitor", "auditor")

# ---- home ------------------------------------------------------------------------------


def _cas(ctx: Context) -> list[dict[str, Any]]:
    out = []
    for ca in authorities.list_cas(ctx):
        crl = get_crl(ctx, ca.name)
        out.append({"ca": ca, "crl": crl})
    return out


@route("")
def home(page: Page) -> Response:
    return render(page, "home.html", cas=_cas(page.ctx))


@route("/cas")
def cas(page: Page) -> Response:
    return render(page, "cas.html", nav="cas", cas=_cas(page.ctx))


# ---- verify a document ----------------------------------------------------------------


@route("/verify")
def verify_form(page: Page) -> Response:
    return render(page, "verify.html", nav="verify")


def _filename(item: Any) -> str | None:
    if not isinstance(item, UploadFile) or not item.filename:
        return None
    # A browser may send a full path (old IE): keep the last component, printable only.
    name = PureWindowsPath(PurePosixPath(item.filename).name).name
    name = re.sub(r"[\x00-\x1f\x7f]", "", name)[:200]
    return name or None


#: The name /Encrypt, each letter possibly written as a #xx escape (ISO 32000-1
#: §7.3.5). The trailer or cross-reference stream dictionary holding it is never
#: compressed (§7.5.8.2), so a file without a match is not encrypted.
_ENCRYPT_NAME = re.compile(rb"/(?:E|#45)(?:n|#6[eE])(?:c|#63)(?:r|#72)(?:y|#79)(?:p|#70)(?:t|#74)")


def _encrypted_pdf(data: bytes) -> bool:
    """ISO 32000-1 §7.6: an encrypted PDF has /Encrypt in its trailer. Files without
    the name at all are answered without parsing them (the validation parses them)."""
    if detect(data) is not DocumentKind.PDF or not _ENCRYPT_NAME.search(data):
        return False
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        return bool(PdfFileReader(BytesIO(data), strict=False).encrypted)
    except (PdfError, ValueError, KeyError, TypeError, IndexError, OSError):
        return False


def _mb(value: int, lang: str) -> str:
    return f"{fmt_number(round(value / (1024 * 1024), 1), lang)} MB"


@route("/verify", methods=("POST",))
def verify_post(page: Page, form: FormData) -> Response:
    data = file_bytes(page, form, "document")
    if not data:
        return error_page(page, "no-file")
    detached = file_bytes(page, form, "signature")
    name = _filename(form.get("document"))
    if _encrypted_pdf(data):
        return error_page(page, "encrypted")
    keep = form.get("keep") == "1"
    try:
        result = _validate(page, data, name, detached or None, keep)
    except DocumentTooLarge as exc:
        return error_page(page, "too-large", limit=_mb(exc.limit, page.lang))
    except UnsupportedDocument as exc:
        return error_page(page, "unsupported", detail=str(exc))
    except InputError as exc:
        return error_page(page, "corrupt", detail=str(exc))
    except Error:
        raise
    except Exception:  # a document that breaks a parser must not break the page
        log.exception("validation of an uploaded document failed")
        return error_page(page, "corrupt")
    if result.sub_indication is SubIndication.FORMAT_FAILURE and not result.has_signer:
        # EN 319 102-1 FORMAT_FAILURE with nothing readable: a damaged file.
        return error_page(page, "corrupt", detail=result.message)
    if result.html is not None:  # rendered by the validation process
        return html_response(page, result.html)
    payload = result.payload
    if not keep:
        # No seal here: the page offers a form that seals the report when the visitor
        # asks for it (report_form: stateless, valid for an hour). Sealing costs a
        # time-stamp, a signature and an audit record, and most visitors never download.
        html = verdict_page(page.ctx, payload, page.lang, _verdict_values(page))
        return html_response(page, html)
    try:
        # A kept report is sealed now (CAdES/PAdES B-T, recorded in the audit trail):
        # the PDF (PAdES-signed, about 120 KB) carries the same sealed JSON (one CAdES
        # seal for both); both stay behind the link.
        sealed_report = verify.seal_payload(page.ctx, payload, actor=_VISITOR, pdf=True)
    except SigningFailed:
        log.exception("the validation report could not be sealed")
        return render(
            page,
            "verdict.html",
            nav="verify",
            view=report_view(payload),
            link=None,
            unsealed=True,
            switch_path="/verify",
        )
    view = report_view(sealed_report.payload)
    token, expires = keep_report(
        page.ctx, view, sealed_report.json, sealed_report.pdf, page.settings.report_days
    )
    return render(
        page,
        "verdict.html",
        nav="verify",
        view=view,
        link={"token": token, "expires": expires},
        switch_path="/verify",
    )


def _verdict_values(page: Page) -> dict[str, Any]:
    """The template values of a verdict page without a kept report (plain values: a
    validation process may render it)."""
    return page_values(page, nav="verify", switch_path="/verify", pdf_hint=True, link=None)


def _validate(
    page: Page, data: bytes, name: str | None, detached: bytes | None, keep: bool
) -> Verified:
    """The validation of an upload: in the web worker, or in its pool of processes
    when ``[portal] verify_processes`` asks for one (:mod:`govtrust.portal.pool`),
    which then also renders a visitor's verdict page (a kept report is sealed and
    stored here; an operator's page shows their menus)."""
    processes = page.settings.verify_processes
    if processes:
        pool = pool_for(page.ctx.settings, processes)
        if keep or page.user is not None:
            return pool.verify(data, name, detached)
        return pool.verify(data, name, detached, (page.lang, _verdict_values(page)))
    return verified(verify.verify_document(page.ctx, data, name=name, detached=detached))


@route("/verify/report.json", methods=("POST",))
def verify_report_json(page: Page, form: FormData) -> Response:
    """The signed JSON report of a verdict page's download form (report_form): the
    report the form carries, once its check code and age hold, sealed as
    ``seal_report`` seals it (the same canonical bytes, seal member and audit record)."""
    try:
        payload = open_report_form(page.ctx, form)
    except ReportFormRefused as exc:
        log.info("report download refused: %s", exc)
        return error_page(page, exc.kind)
    try:
        sealed = verify.seal_payload(page.ctx, payload, actor=_VISITOR)
    except SigningFailed:
        log.exception("the validation report could not be sealed")
        return error_page(page, "unsealed")
    return Response(
        sealed.json,
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="validation-report.json"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


@route("/reports/{token}")
def kept_report(page: Page) -> Response:
    token = page.request.path_params["token"]
    kept = load_report(page.ctx, token)
    return render(
        page,
        "verdict.html",
        nav="verify",
        view=kept.view,
        link={"token": token, "expires": kept.expires_at},
    )


@route("/reports/{token}/report.json")
def kept_report_json(page: Page) -> Response:
    kept = load_report(page.ctx, page.request.path_params["token"])
    return Response(
        kept.sealed_json,
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="validation-report.json"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


@route("/reports/{token}/report.pdf")
def kept_report_pdf(page: Page) -> Response:
    kept = load_report(page.ctx, page.request.path_params["token"])
    if kept.pdf is None:
        raise NotFound("PDF report", "this link")
    return Response(
        kept.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="validation-report.pdf"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


# ---- check a certificate -------------------------------------------------------------


def ca_chain(ctx: Context, ca_name: str) -> list[authorities.CAInfo]:
    """The issuing CA and its parents up to the root."""
    chain: list[authorities.CAInfo] = []
    name: str | None = ca_name
    while name is not None and len(chain) < 10:
        info = authorities.get_ca(ctx, name)
        chain.append(info)
        name = info.parent
    return chain


def ledger_entries(ctx: Context, serial: str) -> list[dict[str, Any]]:
    """The ledger entries about a certificate serial (issuance first); empty when the
    ledger has none yet."""
    try:
        return ledger.search(ctx, serial=serial, limit=20)
    except (NotFound, LedgerError):
        return []


def _status_page(page: Page, info: CertificateInfo, uploaded: dict[str, Any] | None) -> Response:
    return render(
        page,
        "certificate_status.html",
        nav="check",
        info=info,
        chain=ca_chain(page.ctx, info.ca),
        entries=ledger_entries(page.ctx, info.serial),
        uploaded=uploaded,
        switch_path="/certificates/check",
    )


@route("/certificates/check")
def check_certificate(page: Page) -> Response:
    serial = page.request.query_params.get("serial", "").strip()
    if not serial:
        return render(page, "certificate_check.html", nav="check")
    if len(serial) > 128:
        raise InputError("a serial number has at most 40 hexadecimal digits")
    info = get_certificate(page.ctx, format_serial(parse_serial(serial)))
    return _status_page(page, info, None)


def _load_certificate(data: bytes) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise InputError("the file is not an X.509 certificate (PEM or DER)") from None


@route("/certificates/check", methods=("POST",))
def check_certificate_upload(page: Page, form: FormData) -> Response:
    data = file_bytes(page, form, "certificate")
    if not data:
        return error_page(page, "no-file")
    cert = _load_certificate(data)
    uploaded = certificate_view(cert)
    try:
        info = get_certificate(page.ctx, format_serial(cert.serial_number))
    except NotFound:
        info = None
    der = cert.public_bytes(Encoding.DER)
    if info is None or info.der != der:
        return render(
            page,
            "certificate_unknown.html",
            nav="check",
            uploaded=uploaded,
            switch_path="/certificates/check",
        )
    return _status_page(page, info, uploaded)


# ---- the transparency ledger ----------------------------------------------------------


@route("/ledger")
def ledger_page(page: Page) -> Response:
    ctx = page.ctx
    checkpoint = None
    witnesses: list[str] = []
    vkey = None
    try:
        note = ledger.checkpoint_note(ctx)
        body, signatures = split_note(note)
        lines = body.split("\n")
        checkpoint = {"origin": lines[0], "size": int(lines[1]), "root": lines[2], "note": note}
        info = ledger.log_info(ctx)
        vkey = info.vkey
        witnesses = [s.name for s in signatures if s.name != info.origin]
    except (NotFound, LedgerError, IndexError, ValueError):
        checkpoint = None
    query = {k: page.request.query_params.get(k, "").strip() for k in ("serial", "sha256")}
    results: list[dict[str, Any]] | None = None
    searched = next(((k, v) for k, v in query.items() if v), None)
    if searched is not None:
        key, value = searched
        if len(value) > 200:
            raise InputError("the search value is too long")
        try:
            results = ledger.search(ctx, **{key: value}, limit=50)
        except NotFound:
            results = []
    return render(
        page,
        "ledger.html",
        nav="ledger",
        checkpoint=checkpoint,
        witnesses=witnesses,
        vkey=vkey,
        query=query,
        results=results,
    )
