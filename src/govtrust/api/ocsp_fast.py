"""The OCSP hot path: ``POST /ocsp`` and ``GET``/``HEAD /ocsp/{base64}`` answered from
the pre-signed store before FastAPI's routing, on the event loop, without the ORM.

:class:`OcspFastPath` is a pure ASGI middleware. For a request to the OCSP endpoints it
reads the request (POST: streamed, capped at :data:`MAX_OCSP_REQUEST`), asks
``OcspService.stored_answer`` and, when a current pre-signed answer exists, sends it with
the RFC 5019 §6 caching headers (GET, HEAD) or ``no-store`` (POST). Everything else
falls through, unchanged, to the documented routes in ``api/protocol.py``, which run
``OcspService.respond`` in the thread pool: malformed and oversized requests
(``malformedRequest``), foreign CAs (``unauthorized``), nonces (RFC 9654), SHA-384/512
CertIDs, unknown serials, and missing or expired answers, which are signed there. A
POST body read here is handed on to the route as it was received.

Why: the FastAPI route plus ``run_in_threadpool`` plus an ORM session cost ~2 ms of CPU
per answer; the thread hand-off alone was half of the GIL-holding samples under load
(bench/README.md, "Bottlenecks").

Where the stored answer is read (measured on the 2-core benchmark machine):

- **SQLite: inline, on the event loop.** One primary-key SELECT on a dedicated
  autocommit connection costs ~12–25 µs (the ORM session it replaces: ~700 µs), less
  than handing it to a thread would.
- **PostgreSQL: psycopg's async driver, on the event loop** (a few connections per
  worker). A statement waits for a server round trip, which must not block the loop.
  Of the two ways not to, measured with ``govtrust serve --workers 2`` and wrk (32
  connections, alternating runs, PostgreSQL on the same machine):
  ``psycopg.AsyncConnection`` served ~2,000–2,200 answers/s at ~0.50 ms of server CPU
  each; a sync psycopg connection per thread, called through the thread pool,
  ~1,500–1,600/s at ~0.78–0.82 ms.

There is no answer cache: every request reads the database, so a revocation committed
by any process or node is served from the next request on (issue 2: "invalidated at
once on revocation").
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
from collections.abc import Mapping
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govtrust.api.tsa import serve_post as tsa_post
from govtrust.services.revocation import OcspAnswer, OcspService

__all__ = [
    "MAX_OCSP_REQUEST",
    "OcspFastPath",
    "decode_get_request",
    "ocsp_headers",
]

MAX_OCSP_REQUEST = 16 * 1024
"""Largest OCSP request accepted, in bytes (a one-CertID request is ~100)."""

MEDIA_TYPE = "application/ocsp-response"  # RFC 6960 Appendix C.2


@functools.lru_cache(maxsize=1024)
def _http_date(t: dt.datetime) -> str:
    """RFC 9110 §5.6.7 IMF-fixdate. Cached: every answer of a pre-signing run shares its
    thisUpdate and nextUpdate, and formatting them was ~5 % of a worker's CPU."""
    return format_datetime(t.astimezone(dt.UTC), usegmt=True)


def ocsp_headers(answer: OcspAnswer, now: dt.datetime, cache: bool) -> dict[str, str]:
    """The HTTP caching headers of an OCSP answer. GET answers that have a nextUpdate
    are cacheable (RFC 5019 §6.2: max-age no later than nextUpdate, Last-Modified is
    thisUpdate); POST answers and error answers are not."""
    if cache and answer.next_update is not None and answer.this_update is not None:
        max_age = max(0, int((answer.next_update - now).total_seconds()))
        return {
            "Cache-Control": f"max-age={max_age}, public, no-transform, must-revalidate",
            "Last-Modified": _http_date(answer.this_update),
            "Expires": _http_date(answer.next_update),
            "ETag": '"' + hashlib.sha1(answer.der, usedforsecurity=False).hexdigest() + '"',
        }
    return {"Cache-Control": "no-store"}


def decode_get_request(encoded: str) -> bytes | None:
    """The DER request of a GET path segment (RFC 6960 Appendix A.1: the url-encoding of
    the base64 encoding), or None. Accepts unencoded ``+/=`` and, failing standard
    base64, the URL-safe alphabet."""
    text = unquote(encoded)
    padded = text + "=" * (-len(text) % 4)
    try:
        der = base64.b64decode(padded, altchars=None, validate=True)
    except (binascii.Error, ValueError):
        try:
            der = base64.urlsafe_b64decode(padded)
        except (binascii.Error, ValueError):
            return None
    if not der or len(der) > MAX_OCSP_REQUEST:
        return None
    return der


def _declared_too_large(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-length":
            return not value.isdigit() or int(value) > MAX_OCSP_REQUEST
    return False


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """``receive`` for the route behind: the body read so far, then the rest."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


class OcspFastPath:
    """Pure ASGI middleware: current pre-signed OCSP answers, or fall through; and
    ``POST /tsa``, handed to ``api/tsa.py::serve_post`` (every TSA request is answered
    there, so nothing falls through)."""

    def __init__(self, app: ASGIApp, service: OcspService, state: Any = None) -> None:
        """``state``: the application's ``app.state`` for the TSA; without it, the
        ``app`` that Starlette puts in the scope (when this runs inside FastAPI)."""
        self.app = app
        self.service = service
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            method = scope["method"]
            if method == "POST" and path == "/ocsp":
                return await self._post(scope, receive, send)
            if method in ("GET", "HEAD") and path.startswith("/ocsp/"):
                return await self._get(path[len("/ocsp/") :], scope, receive, send)
            if method == "POST" and path == "/tsa":
                # The RFC 3161 TSA's hot path lives here too (api/tsa.py::serve_post):
                # this is the one middleware before FastAPI's routing.
                state = self.state if self.state is not None else scope["app"].state
                return await tsa_post(state, scope, receive, send)
        await self.app(scope, receive, send)

    async def _get(self, encoded: str, scope: Scope, receive: Receive, send: Send) -> None:
        der = decode_get_request(encoded)
        answer = await self.service.stored_answer(der) if der is not None else None
        if answer is None:
            return await self.app(scope, receive, send)
        await self._send(send, answer, cache=True, head=scope["method"] == "HEAD")

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _declared_too_large(scope["headers"]):
            return await self.app(scope, receive, send)  # the route refuses it unread
        body, more = b"", True
        while more and len(body) <= MAX_OCSP_REQUEST:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # nobody to answer
            body += message.get("body", b"")
            more = message.get("more_body", False)
        answer = None
        if body and not more and len(body) <= MAX_OCSP_REQUEST:
            answer = await self.service.stored_answer(body)
        if answer is None:
            return await self.app(scope, _replay(body, more, receive), send)
        await self._send(send, answer, cache=False, head=False)

    async def _send(self, send: Send, answer: OcspAnswer, *, cache: bool, head: bool) -> None:
        now = self.service.now()
        headers: Mapping[str, str] = {
            "content-type": MEDIA_TYPE,
            "content-length": str(len(answer.der)),
            **ocsp_headers(answer, now, cache),
        }
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": b"" if head else answer.der})
