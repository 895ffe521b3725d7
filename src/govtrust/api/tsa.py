"""``POST /tsa``: the RFC 3161 timestamp authority over HTTP (RFC 3161 §3.4).

The request body is a DER ``TimeStampReq`` sent as ``application/timestamp-query``; the
answer is always a DER ``TimeStampResp`` as ``application/timestamp-reply`` with HTTP
200, whether the token was granted or refused: the protocol's own status (PKIStatusInfo
with its failInfo) says which, as the design asks of protocol endpoints.

A body sent with another Content-Type is also answered with a ``rejection``
(``badRequest``), not with 415 problem+json: RFC 3161 §3.4 defines one exchange, a
timestamp-query in and a timestamp-reply out, so the only answer a TSA client can parse
is a TimeStampResp; the statusString names the expected media type. Bodies are capped
(``[tsa] max_request_bytes``, from Content-Length or while streaming), so an oversized,
empty or garbage body gets a rejection too, never a 5xx.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from govtrust.api.auth import get_context
from govtrust.services.tsa import MEDIA_QUERY, MEDIA_REPLY, TsaService

__all__ = ["router"]

router = APIRouter(tags=["Protocol endpoints (public)"])

_LOCK = threading.Lock()


def _service(request: Request) -> TsaService:
    """One TsaService per application (it caches the loaded TSA credential)."""
    state = request.app.state
    svc = getattr(state, "tsa", None)
    if svc is None:
        with _LOCK:
            svc = getattr(state, "tsa", None)
            if svc is None:
                svc = state.tsa = TsaService(get_context(request))
    assert isinstance(svc, TsaService)
    return svc


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit``: refused from Content-Length,
    or as soon as the stream passes the limit, never buffered whole."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _is_query(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == MEDIA_QUERY


@router.post(
    "/tsa",
    response_class=Response,
    summary="Timestamp authority (RFC 3161 §3.4)",
    description="POST a DER TimeStampReq as application/timestamp-query; the answer is a "
    "DER TimeStampResp (application/timestamp-reply), granted or rejected with its failInfo.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {MEDIA_QUERY: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={200: {"content": {MEDIA_REPLY: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def timestamp(request: Request) -> Response:
    svc = _service(request)
    limit = get_context(request).settings.tsa.max_request_bytes
    body = await _read_body(request, limit)
    media_ok = _is_query(request.headers.get("content-type"))
    reply = await run_in_threadpool(svc.respond, body, media_type_ok=media_ok)
    return Response(reply, media_type=MEDIA_REPLY, headers={"Cache-Control": "no-store"})
