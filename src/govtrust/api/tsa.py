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

Throughput: requests arriving together share one transaction and one fsync
(``TsaService.respond_async``, group commit); each reply is sent only after its token's
row and audit record are committed. ``POST /tsa`` is answered by :func:`serve_post`, a
pure ASGI handler that ``api/ocsp_fast.py``'s middleware calls before FastAPI's routing
(which cost ~60 % of a worker's CPU per token under load: bench/README.md); the route
below documents the endpoint in the OpenAPI description, answers the other methods
(405) and behaves the same when called.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.types import Receive, Scope, Send

from govtrust.api.auth import get_context
from govtrust.services.tsa import MEDIA_QUERY, MEDIA_REPLY, TsaService

__all__ = ["router", "serve_post"]

router = APIRouter(tags=["Protocol endpoints (public)"])

_LOCK = threading.Lock()


def _service(request: Request) -> TsaService:
    """One TsaService per application (it caches the loaded TSA credential)."""
    return _service_of(request.app.state, lambda: get_context(request))


def _service_of(state: Any, context: Any) -> TsaService:
    svc = getattr(state, "tsa", None)
    if svc is None:
        with _LOCK:
            svc = getattr(state, "tsa", None)
            if svc is None:
                svc = state.tsa = TsaService(context())
    assert isinstance(svc, TsaService)
    return svc


async def serve_post(state: Any, scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /tsa`` as a pure ASGI application: the same answer as :func:`timestamp`
    (body cap from Content-Length or while reading, Content-Type check, a DER
    TimeStampResp with HTTP 200 and ``Cache-Control: no-store``). ``state`` is the
    application's ``app.state`` (its ``ctx``, and the TSA service once made)."""
    svc = _service_of(state, lambda: state.ctx)
    limit = state.ctx.settings.tsa.max_request_bytes
    declared: str | None = None
    content_type: str | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = value.decode("latin-1")
        elif name == b"content-type":
            content_type = value.decode("latin-1")
    body: bytes | None
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        body = None  # refused unread, as the route does
    else:
        data, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # nobody to answer
            data += message.get("body", b"")
            more = message.get("more_body", False)
            if len(data) > limit:
                break
        body = None if len(data) > limit else bytes(data)
    reply = await svc.respond_async(body, media_type_ok=_is_query(content_type))
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", str(len(reply)).encode()),
                (b"content-type", MEDIA_REPLY.encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": reply})


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
    # No thread-pool hop: the token is issued by the TSA's group-commit thread, and this
    # coroutine resumes once its records are committed (services/tsa.py).
    reply = await svc.respond_async(body, media_type_ok=media_ok)
    return Response(reply, media_type=MEDIA_REPLY, headers={"Cache-Control": "no-store"})
