"""Public read API of the transparency ledger (docs/ledger.md).

- ``GET /ledger/checkpoint``: the latest C2SP tlog-checkpoint, a signed note, with
  witness cosignature lines (``text/plain; charset=utf-8``, cached a second at most:
  tlog-tiles says the checkpoint is mutable).
- ``GET /ledger/tile/<L>/<N>[.p/<W>]`` and ``GET /ledger/tile/entries/<N>[.p/<W>]``:
  C2SP tlog-tiles (``application/octet-stream``); full tiles are immutable and cached a
  year, partial tiles a minute; entry bundles are gzip-encoded when the client accepts.
- ``GET /ledger/proof/inclusion?index=&size=`` or ``?sha256=&size=`` and
  ``GET /ledger/proof/consistency?from=&to=``: RFC 9162 §2.1.3 / §2.1.4 proofs, JSON,
  hashes in base64; ``size``/``to`` default to the latest checkpoint.
- ``GET /ledger/search?serial=|sha256=|subject=``: entries (subject only matches
  organisations, CAs and services, or a natural person's subject commitment).

Every route is public and read-only. Query values are parsed here, so a malformed one is
a 400 problem+json and an index or size beyond the log a 404, never a crash.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from govtrust.api.auth import get_context
from govtrust.errors import InputError
from govtrust.ledger.tiles import parse_tile_path
from govtrust.services import ledger

__all__ = ["router"]

_F = TypeVar("_F", bound=Callable[..., Any])

router = APIRouter(prefix="/ledger", tags=["Transparency ledger (public)"])

IMMUTABLE = "public, max-age=31536000, immutable"
PARTIAL = "public, max-age=60"
MUTABLE = "public, max-age=1"
MAX_QUERY = 1024


def _get(path: str, summary: str) -> Callable[[_F], _F]:
    """GET, plus HEAD for caches and CDNs (RFC 9110 §9.3.2)."""

    def decorator(fn: _F) -> _F:
        router.add_api_route(
            path, fn, methods=["HEAD"], response_class=Response, include_in_schema=False
        )
        return router.get(path, summary=summary)(fn)

    return decorator


def _int(request: Request, name: str, *, required: bool = False) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        if required:
            raise InputError(f"query parameter {name!r} is required")
        return None
    if len(value) > 20 or not value.isascii() or not value.isdigit():
        raise InputError(f"query parameter {name!r} must be a non-negative decimal integer")
    return int(value)


def _str(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is not None and len(value) > MAX_QUERY:
        raise InputError(f"query parameter {name!r} is too long")
    return value


def _json(data: Any, cache: str = MUTABLE) -> JSONResponse:
    return JSONResponse(data, headers={"Cache-Control": cache})


@_get("/checkpoint", "Latest signed checkpoint (C2SP tlog-checkpoint)")
def checkpoint(request: Request) -> Response:
    note = ledger.checkpoint_note(get_context(request))
    return Response(
        note.encode(),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": MUTABLE},
    )


@_get("/tile/{path:path}", "Merkle tree tile or entry bundle (C2SP tlog-tiles)")
def tile(path: str, request: Request) -> Response:
    ref = parse_tile_path("tile/" + path)
    data = ledger.read_tile(get_context(request), ref)
    headers = {"Cache-Control": IMMUTABLE if data.immutable else PARTIAL}
    body = data.body
    if ref.entries:
        headers["Vary"] = "Accept-Encoding"
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/octet-stream", headers=headers)


@_get("/proof/inclusion", "RFC 9162 inclusion proof (by index or artifact SHA-256)")
def inclusion(request: Request) -> JSONResponse:
    index = _int(request, "index")
    sha256 = _str(request, "sha256")
    size = _int(request, "size")
    proof = ledger.inclusion(get_context(request), index=index, sha256=sha256, size=size)
    # A proof to an explicit size never changes; one to "the latest" does.
    return _json(proof, PARTIAL if size is not None else MUTABLE)


@_get("/proof/consistency", "RFC 9162 consistency proof")
def consistency(request: Request) -> JSONResponse:
    first = _int(request, "from", required=True)
    second = _int(request, "to")
    assert first is not None
    proof = ledger.consistency(get_context(request), first, second)
    return _json(proof, PARTIAL if second is not None else MUTABLE)


@_get("/search", "Find ledger entries by serial, artifact SHA-256 or subject")
def search(request: Request) -> JSONResponse:
    limit = _int(request, "limit")
    found = ledger.search(
        get_context(request),
        serial=_str(request, "serial"),
        sha256=_str(request, "sha256"),
        subject=_str(request, "subject"),
        limit=100 if limit is None else limit,
    )
    return _json({"entries": found})
