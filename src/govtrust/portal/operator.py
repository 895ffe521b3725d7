"""Operator pages (login): dashboard, issue, search and view certificates, revoke with
a confirmation step, the audit trail, and signing with an agency seal.

Every page declares its minimum role (auditor < operator < admin, the PKI core's
roles); actions are audited under the account's name (``portal:<name>``) by the
services they call."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from typing import Any
from urllib.parse import quote

from cryptography import x509
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from govtrust.ca.crl import RevocationReason
from govtrust.ca.names import format_serial, parse_san, parse_serial, parse_subject
from govtrust.ca.profiles import CertificateRequest
from govtrust.crypto.keys import KeySpec
from govtrust.errors import InputError, NotFound, Unauthenticated
from govtrust.portal.public import ca_chain, ledger_entries
from govtrust.portal.views import REVOCATION_REASONS
from govtrust.portal.web import (
    SESSION_COOKIE,
    Page,
    error_page,
    file_bytes,
    login_session,
    redirect,
    render,
    route,
)
from govtrust.services import audit, authorities, certificates, ledger, revocation, signing
from govtrust.services.credentials import list_credentials
from govtrust.services.portal_users import LoginLocked, authenticate, bump_session_epoch

__all__ = ["REASONS", "dashboard_data"]

REASONS = REVOCATION_REASONS

_NEXT_OK = ("/en/operator", "/ar/operator")


# ---- login ------------------------------------------------------------------------------


def _next(page: Page, value: str | None) -> str:
    """Only a local operator path may follow a login (no open redirect)."""
    if value and value.startswith(_NEXT_OK) and "//" not in value and "\\" not in value:
        return value
    return f"{page.base}/operator"


@route("/operator/login")
def login_form(page: Page) -> Response:
    if page.user is not None:
        return redirect(page, f"{page.base}/operator")
    return render(
        page,
        "login.html",
        nav="op-login",
        next=page.request.query_params.get("next", ""),
        failed=False,
    )


@route("/operator/login", methods=("POST",))
def login(page: Page, form: FormData) -> Response:
    name = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:1024]
    target = _next(page, str(form.get("next") or ""))
    try:
        user = authenticate(page.ctx, name, password)
    except LoginLocked:
        return error_page(page, "locked")
    except Unauthenticated:
        response = render(
            page, "login.html", 401, nav="op-login", next=target, failed=True, username=name
        )
        return response
    login_session(page, user)
    return redirect(page, target)


@route("/operator/logout", methods=("POST",), role="auditor")
def logout(page: Page, form: FormData) -> Response:
    assert page.user is not None
    bump_session_epoch(page.ctx, page.user.id)
    response = redirect(page, f"{page.base}/operator/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---- dashboard ----------------------------------------------------------------------------


def dashboard_data(page: Page, days: int = 14) -> dict[str, Any]:
    ctx = page.ctx
    now = ctx.clock.now()
    since = now - dt.timedelta(days=days)
    issued: Counter[dt.date] = Counter()
    revoked: Counter[dt.date] = Counter()
    for action, counter in (("cert.issue", issued), ("cert.revoke", revoked)):
        for _, event in audit.list_events(ctx, action=action, limit=5000):
            if event.time >= since:
                counter[event.time.date()] += 1
    day_list = [(now - dt.timedelta(days=i)).date() for i in range(days - 1, -1, -1)]
    peak = max([1, *issued.values(), *revoked.values()])
    per_day = [
        {"day": d, "issued": issued[d], "revoked": revoked[d], "peak": peak} for d in day_list
    ]
    soon = now + dt.timedelta(days=30)
    expiring = [
        c
        for c in certificates.list_certificates(ctx, status="valid", limit=5000)
        if c.not_after <= soon
    ]
    expiring.sort(key=lambda c: c.not_after)
    cas = []
    for ca in authorities.list_cas(ctx):
        crl = revocation.get_crl(ctx, ca.name)
        signer = None
        if ca.ocsp_signer_serial:
            try:
                signer = certificates.get_certificate(ctx, ca.ocsp_signer_serial)
            except NotFound:
                signer = None
        cas.append(
            {
                "ca": ca,
                "crl": crl,
                "crl_fresh": crl is not None and crl.next_update > now,
                "ocsp_signer": signer,
            }
        )
    try:
        ledger_size: int | None = ledger.latest_checkpoint(ctx).size
    except NotFound:
        ledger_size = None
    return {
        "per_day": per_day,
        "expiring": expiring[:20],
        "cas": cas,
        "ledger_size": ledger_size,
        "ocsp_validity": ctx.settings.ocsp.validity_hours,
    }


@route("/operator", role="auditor")
def dashboard(page: Page) -> Response:
    return render(page, "op_dashboard.html", nav="op-dashboard", **dashboard_data(page))


# ---- certificates -------------------------------------------------------------------------


@route("/operator/certificates", role="auditor")
def certificate_list(page: Page) -> Response:
    params = page.request.query_params
    serial = params.get("serial", "").strip()
    if serial:
        return redirect(
            page, f"{page.base}/operator/certificates/{format_serial(parse_serial(serial))}"
        )
    status = params.get("status") or None
    ca = params.get("ca") or None
    profile = params.get("profile") or None
    try:
        offset = max(0, int(params.get("offset", "0")))
    except ValueError:
        offset = 0
    found = certificates.list_certificates(
        page.ctx, ca=ca, profile=profile, status=status, limit=50, offset=offset
    )
    return render(
        page,
        "op_certificates.html",
        nav="op-certificates",
        found=found,
        status_filter=status or "",
        ca=ca or "",
        profile=profile or "",
        offset=offset,
        cas=[c.name for c in authorities.list_cas(page.ctx)],
        profiles=page.ctx.profiles.names(),
    )


@route("/operator/certificates/{serial}", role="auditor")
def certificate_detail(page: Page) -> Response:
    info = certificates.get_certificate(page.ctx, page.request.path_params["serial"])
    cert = x509.load_der_x509_certificate(info.der)
    return render(
        page,
        "op_certificate.html",
        nav="op-certificates",
        info=info,
        issuer=cert.issuer.rfc4514_string(),
        chain=ca_chain(page.ctx, info.ca),
        entries=ledger_entries(page.ctx, info.serial),
        reasons=REASONS,
    )


@route("/operator/certificates/{serial}/revoke", role="operator")
def revoke_form(page: Page) -> Response:
    info = certificates.get_certificate(page.ctx, page.request.path_params["serial"])
    return render(
        page,
        "op_revoke.html",
        nav="op-certificates",
        info=info,
        reasons=REASONS,
        reason="",
        confirm=False,
    )


@route("/operator/certificates/{serial}/revoke", methods=("POST",), role="operator")
def revoke(page: Page, form: FormData) -> Response:
    assert page.user is not None
    info = certificates.get_certificate(page.ctx, page.request.path_params["serial"])
    reason = str(form.get("reason") or "")
    if reason not in REASONS:
        raise InputError("choose a revocation reason")
    if form.get("confirmed") != "yes":
        # The confirmation step: say exactly what will happen, ask again.
        return render(
            page,
            "op_revoke.html",
            nav="op-certificates",
            info=info,
            reasons=REASONS,
            reason=reason,
            confirm=True,
        )
    revocation.revoke(page.ctx, info.serial, RevocationReason.parse(reason), page.user.actor)
    return redirect(page, f"{page.base}/operator/certificates/{info.serial}?revoked=1")


# ---- issue --------------------------------------------------------------------------------


def _key_spec(value: str) -> KeySpec:
    try:
        return KeySpec(value)
    except ValueError:
        raise InputError(f"unknown key type {value!r}") from None


@route("/operator/issue", role="operator")
def issue_form(page: Page) -> Response:
    names = page.ctx.profiles.names()
    chosen = page.request.query_params.get("profile") or (names[0] if names else "")
    profile = page.ctx.profiles.get(chosen)
    return render(
        page,
        "op_issue.html",
        nav="op-issue",
        profiles=names,
        profile=profile.spec,
        cas=[c.name for c in authorities.list_cas(page.ctx) if c.parent is not None],
        values={},
    )


@route("/operator/issue", methods=("POST",), role="operator")
def issue(page: Page, form: FormData) -> Response:
    assert page.user is not None
    ctx = page.ctx
    profile = ctx.profiles.get(str(form.get("profile") or ""))
    ca = str(form.get("ca") or "")
    csr = file_bytes(page, form, "csr")
    subject_text = str(form.get("subject") or "").strip()
    sans = [s.strip() for s in str(form.get("sans") or "").splitlines() if s.strip()]
    key_ref = None
    if csr:
        request = certificates.parse_csr(csr)
        if subject_text or sans:
            request = CertificateRequest(
                parse_subject(subject_text) if subject_text else request.subject,
                request.public_key,
                tuple(parse_san(s) for s in sans) if sans else request.sans,
            )
    else:
        if not subject_text:
            raise InputError("give a subject, or upload a certificate request (CSR)")
        subject = parse_subject(subject_text)
        spec = _key_spec(str(form.get("key") or profile.spec.key_algorithms[0].value))
        if spec not in profile.spec.key_algorithms:
            raise InputError(f"the profile {profile.name!r} does not allow {spec.value} keys")
        label = f"{profile.name}-portal-{secrets.token_hex(6)}"
        signer = ctx.custody.generate("software", label, spec)
        key_ref = signer.ref
        request = CertificateRequest(
            subject, signer.public_key(), tuple(parse_san(s) for s in sans)
        )
    info = certificates.issue(ctx, ca, profile.name, request, page.user.actor, key_ref=key_ref)
    return redirect(page, f"{page.base}/operator/certificates/{info.serial}?issued=1")


# ---- audit trail ---------------------------------------------------------------------------


@route("/operator/audit", role="auditor")
def audit_trail(page: Page) -> Response:
    params = page.request.query_params
    action = params.get("action") or None
    try:
        offset = max(0, int(params.get("offset", "0")))
    except ValueError:
        offset = 0
    events = audit.list_events(page.ctx, action=action, limit=50, offset=offset)
    return render(
        page, "op_audit.html", nav="op-audit", events=events, action=action or "", offset=offset
    )


# ---- sign with a seal ----------------------------------------------------------------------


def _seals(page: Page) -> list[Any]:
    return [c for c in list_credentials(page.ctx) if c.profile == "seal" and c.status == "valid"]


@route("/operator/sign", role="operator")
def sign_form(page: Page) -> Response:
    return render(page, "op_sign.html", nav="op-sign", seals=_seals(page))


@route("/operator/sign", methods=("POST",), role="operator")
def sign(page: Page, form: FormData) -> Response:
    assert page.user is not None
    data = file_bytes(page, form, "document")
    item = form.get("document")
    if not data or not isinstance(item, UploadFile):
        return error_page(page, "no-file")
    credential = str(form.get("credential") or "")
    if credential not in {c.name for c in _seals(page)}:
        raise InputError("choose one of the agency seals listed")
    filename = (item.filename or "document").replace("/", "_").replace("\\", "_")[:200]
    result = signing.sign_document(page.ctx, data, filename, credential, page.user.actor)
    return Response(
        result.document.data,
        media_type=result.document.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(result.filename)}",
            "Cache-Control": "no-store",
        },
    )
