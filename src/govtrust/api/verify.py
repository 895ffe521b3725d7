"""``POST /verify``: anyone may validate a signed document and get a sealed report.

The document comes either as ``multipart/form-data`` (a ``file`` part, an optional
``detached`` signature part, optional ``at`` and ``revocation`` fields and any number
of ``trust_anchor`` PEM parts), or as the raw request body with its media type
(``application/pdf``, ``application/pkcs7-signature``, ``application/pkcs7-mime``,
``application/xml``, ``application/vnd.etsi.asic-e+zip``...; the format is recognised
from the content, never from the declared type), with ``at`` and ``revocation`` as
query parameters.

The answer is the sealed JSON report (``application/json``), or the sealed PDF report
with ``Accept: application/pdf`` or ``?report=pdf``, or an HTML page with
``?report=html`` (``&lang=ar`` for Arabic). The ``Govtrust-Indication`` header carries
the main indication in every case. Refusals are RFC 9457 problem+json: 413 over
``[verify] max_document_bytes``, 415 for input that is no signed document govtrust
can validate, 400 for a bad ``at``, ``revocation``, trust anchor or form, 503 when the
report cannot be sealed. The validation runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any

from cryptography import x509
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from govtrust.api.auth import Ctx
from govtrust.errors import DocumentTooLarge, InputError
from govtrust.services import Context
from govtrust.services.verify import (
    DEFAULT_ACTOR,
    REPORT_MEDIA_TYPES,
    VerifyOptions,
    render_html,
    render_pdf,
    sealed_json,
    verify_document,
    verify_settings,
)
from govtrust.validation.policy import RevocationMode

__all__ = ["router"]

router = APIRouter(tags=["Validation (public)"])


_MAX_ANCHOR_BYTES = 1024 * 1024
_MAX_ANCHORS = 32
_FORM_SLACK = 4 * 1024 * 1024  # headers of the parts, the small fields, the anchors


@dataclass
class _Input:
    data: bytes
    name: str | None = None
    detached: bytes | None = None
    at: str | None = None
    revocation: str | None = None
    anchors: list[bytes] = field(default_factory=list)


def _too_large(limit: int) -> HTTPException:
    """413, answered as problem+json by the application's handler (api/problems.py)."""
    return HTTPException(413, f"the document is larger than {limit} bytes")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


async def _read_upload(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    return data


async def _parse_multipart(request: Request, limit: int) -> _Input:
    declared = request.headers.get("content-length")
    ceiling = 2 * limit + _FORM_SLACK
    if declared is not None and (not declared.isdigit() or int(declared) > ceiling):
        raise _too_large(limit)
    try:
        form = await request.form(max_files=_MAX_ANCHORS + 2, max_fields=20)
    except Exception:  # python-multipart raises its own errors on malformed bodies
        raise InputError("malformed multipart/form-data body") from None
    try:
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InputError("send the document as a file part named 'file'")
        parsed = _Input(await _read_upload(upload, limit), name=upload.filename or None)
        detached = form.get("detached")
        if isinstance(detached, UploadFile):
            parsed.detached = await _read_upload(detached, limit)
        parsed.at = fields.get("at") or None
        parsed.revocation = fields.get("revocation") or None
        anchors = form.getlist("trust_anchor")
        if len(anchors) > _MAX_ANCHORS:
            raise InputError(f"at most {_MAX_ANCHORS} trust_anchor parts")
        for anchor in anchors:
            if isinstance(anchor, UploadFile):
                text = await anchor.read(_MAX_ANCHOR_BYTES + 1)
            else:
                text = anchor.encode("utf-8")
            if len(text) > _MAX_ANCHOR_BYTES:
                raise InputError("a trust_anchor part is larger than 1 MiB")
            parsed.anchors.append(text)
    finally:
        await form.close()
    return parsed


def _parse_at(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"at={text!r} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _options(parsed: _Input) -> VerifyOptions:
    anchors: list[x509.Certificate] = []
    for pem in parsed.anchors:
        try:
            anchors += x509.load_pem_x509_certificates(pem)
        except ValueError:
            raise InputError("a trust_anchor part holds no PEM certificate") from None
    return VerifyOptions(
        at=_parse_at(parsed.at) if parsed.at else None,
        trust_anchors=tuple(anchors),
        revocation=RevocationMode.parse(parsed.revocation) if parsed.revocation else None,
    )


def _rendering(request: Request, report: str | None) -> str:
    if report is not None:
        kind = report.strip().lower()
        if kind not in REPORT_MEDIA_TYPES:
            raise InputError("report is one of: json, pdf, html")
        return kind
    accept = request.headers.get("accept", "").lower()
    return "pdf" if "application/pdf" in accept else "json"


def _verify(ctx: Context, parsed: _Input, kind: str, lang: str) -> tuple[bytes, str]:
    options = _options(parsed)
    if kind == "html" and lang not in ("en", "ar"):
        raise InputError("lang is en or ar")
    try:
        report = verify_document(
            ctx,
            parsed.data,
            name=parsed.name,
            detached=parsed.detached,
            options=options,
            actor=DEFAULT_ACTOR,
        )
    except DocumentTooLarge as exc:
        raise _too_large(exc.limit) from None
    if kind == "pdf":
        body = render_pdf(ctx, report, actor=DEFAULT_ACTOR)
    else:
        sealed = sealed_json(ctx, report, actor=DEFAULT_ACTOR)
        body = render_html(report, lang=lang, sealed=sealed).encode() if kind == "html" else sealed
    return body, report.indication.value


_RAW_TYPES = {
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
    "application/pkcs7-signature": {"schema": {"type": "string", "format": "binary"}},
    "application/pkcs7-mime": {"schema": {"type": "string", "format": "binary"}},
    "application/xml": {"schema": {"type": "string", "format": "binary"}},
    "application/vnd.etsi.asic-e+zip": {"schema": {"type": "string", "format": "binary"}},
    "application/vnd.etsi.asic-s+zip": {"schema": {"type": "string", "format": "binary"}},
    "application/json": {
        "schema": {"type": "object", "description": "A sealed govtrust validation report."}
    },
}

_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The signed document."},
        "detached": {
            "type": "string",
            "format": "binary",
            "description": "A detached signature over the file (.p7s, .tsr, XML).",
        },
        "at": {"type": "string", "description": "Validation time, ISO 8601 (default: now)."},
        "revocation": {"type": "string", "description": "require | if-available | off"},
        "trust_anchor": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "PEM files trusted for this validation only.",
        },
    },
}


@router.post(
    "/verify",
    response_class=Response,
    summary="Validate a signed document; answers a sealed validation report (public)",
    description=__doc__,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": _FORM_SCHEMA}, **_RAW_TYPES},
        }
    },
    responses={
        200: {
            "content": {
                "application/json": {},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "text/html": {},
            }
        }
    },
)
async def verify(
    request: Request,
    ctx: Ctx,
    report: Annotated[str | None, Query(description="json | pdf | html")] = None,
    at: Annotated[str | None, Query(description="Validation time (raw bodies).")] = None,
    revocation: Annotated[
        str | None, Query(description="require | if-available | off (raw bodies).")
    ] = None,
    lang: Annotated[str, Query(description="HTML report language: en | ar")] = "en",
) -> Response:
    limit = verify_settings(ctx).max_document_bytes
    kind = _rendering(request, report)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        parsed = await _parse_multipart(request, limit)
    else:
        parsed = _Input(await _read_body(request, limit))
    parsed.at = parsed.at or at
    parsed.revocation = parsed.revocation or revocation
    body, indication = await run_in_threadpool(_verify, ctx, parsed, kind, lang)
    headers = {"Govtrust-Indication": indication, "Cache-Control": "no-store"}
    if kind == "pdf":
        headers["Content-Disposition"] = 'inline; filename="validation-report.pdf"'
    return Response(body, media_type=REPORT_MEDIA_TYPES[kind], headers=headers)
