"""Public protocol endpoints, answered exactly as their RFCs say, with HTTP caching
headers so that a reverse proxy or CDN can carry the read load.

- ``GET /ca/{name}.crt`` (DER, RFC 2585 §4.1 ``application/pkix-cert``) and ``.pem``
- ``GET /crl/{name}.crl`` (DER, RFC 2585 §4.2 ``application/pkix-crl``)
- ``POST /ocsp`` and ``GET /ocsp/{base64}`` (RFC 6960 Appendix A, RFC 5019 §5–6)

Current pre-signed OCSP answers are sent before routing by ``api/ocsp_fast.py``; the
OCSP routes here answer the rest (see that module).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Request, Response

from govtrust.api.auth import get_context
from govtrust.api.ocsp_fast import MAX_OCSP_REQUEST, decode_get_request, ocsp_headers
from govtrust.errors import NotFound
from govtrust.services import authorities
from govtrust.services.revocation import OcspAnswer, OcspService, get_crl

__all__ = ["router"]

_F = TypeVar("_F", bound=Callable[..., Any])

router = APIRouter(tags=["Protocol endpoints (public)"])


def _get(path: str, summary: str) -> Callable[[_F], _F]:
    """GET, plus HEAD for caches and CDNs that revalidate with it (RFC 9110 §9.3.2)."""

    def decorator(fn: _F) -> _F:
        router.add_api_route(
            path, fn, methods=["HEAD"], response_class=Response, include_in_schema=False
        )
        return router.get(path, response_class=Response, summary=summary)(fn)

    return decorator


def _http_date(t: dt.datetime) -> str:
    return format_datetime(t.astimezone(dt.UTC), usegmt=True)


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: ``*`` or a comma-separated list, compared weakly (``W/`` ignored)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def _conditional(
    request: Request, etag: str, body: bytes, media: str, headers: dict[str, str]
) -> Response:
    headers = {**headers, "ETag": etag}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)


def _ca_der(request: Request, name: str) -> bytes:
    return authorities.get_ca(get_context(request), name).cert_der


@_get("/ca/{name}.crt", "CA certificate (DER)")
def ca_der(name: str, request: Request) -> Response:
    der = _ca_der(request, name)
    etag = '"' + hashlib.sha256(der).hexdigest()[:32] + '"'
    return _conditional(
        request, etag, der, "application/pkix-cert", {"Cache-Control": "public, max-age=86400"}
    )


@_get("/ca/{name}.pem", "CA certificate (PEM)")
def ca_pem(name: str, request: Request) -> Response:
    der = _ca_der(request, name)
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    etag = '"' + hashlib.sha256(pem).hexdigest()[:32] + '"'
    return _conditional(
        request, etag, pem, "application/x-pem-file", {"Cache-Control": "public, max-age=86400"}
    )


@_get("/crl/{name}.crl", "Current CRL (DER)")
def crl(name: str, request: Request) -> Response:
    ctx = get_context(request)
    info = get_crl(ctx, name)
    if info is None:
        raise NotFound("CRL", name)
    now = ctx.clock.now()
    # Cache until the CRL is due to be replaced, never past its nextUpdate.
    refresh_at = min(
        info.next_update,
        info.this_update + dt.timedelta(hours=ctx.settings.crl.refresh_hours),
    )
    max_age = max(0, int((refresh_at - now).total_seconds()))
    headers = {
        "Cache-Control": f"public, max-age={max_age}, no-transform",
        "Last-Modified": _http_date(info.this_update),
        "Expires": _http_date(info.next_update),
    }
    return _conditional(request, f'"{info.sha256[:32]}"', info.der, "application/pkix-crl", headers)


def _service(request: Request) -> OcspService:
    svc = request.app.state.ocsp
    assert isinstance(svc, OcspService)
    return svc


def _ocsp_response(answer: OcspAnswer, now: dt.datetime, cache: bool) -> Response:
    headers = ocsp_headers(answer, now, cache)
    return Response(answer.der, media_type="application/ocsp-response", headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, or b"" when it is larger than ``limit``: an oversized request is
    refused from its Content-Length, or as soon as the stream passes the limit, never
    buffered whole."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return b""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return b""
    return bytes(body)


@router.post("/ocsp", response_class=Response, summary="OCSP (RFC 6960), POST")
async def ocsp_post(request: Request) -> Response:
    body = await _read_body(request, MAX_OCSP_REQUEST)
    svc = _service(request)
    if not body:
        return _ocsp_response(OcspAnswer(svc.MALFORMED), svc_now(request), cache=False)
    answer = await _respond(request, body)
    return _ocsp_response(answer, svc_now(request), cache=False)


@_get("/ocsp/{encoded:path}", "OCSP (RFC 5019), GET")
async def ocsp_get(encoded: str, request: Request) -> Response:
    svc = _service(request)
    der = decode_get_request(encoded)
    if der is None:
        return _ocsp_response(OcspAnswer(svc.MALFORMED), svc_now(request), cache=False)
    answer = await _respond(request, der)
    return _ocsp_response(answer, svc_now(request), cache=True)


async def _respond(request: Request, der: bytes) -> OcspAnswer:
    from starlette.concurrency import run_in_threadpool

    svc = _service(request)
    try:
        return await run_in_threadpool(svc.respond, der)
    except Exception:
        import logging

        logging.getLogger("govtrust.ocsp").exception("OCSP responder failure")
        return OcspAnswer(svc.INTERNAL_ERROR)


def svc_now(request: Request) -> dt.datetime:
    return get_context(request).clock.now()
