"""Cross-country witnessing over HTTP (docs/ledger-witnessing.md).

- ``POST /ledger/witness/add-checkpoint``: C2SP tlog-witness, public: the request is
  authenticated by the log's signature on the checkpoint, as the protocol says. Answers
  in the protocol's own terms: 200 with the cosignature line (``text/plain``), 409 with
  the latest cosigned size (``text/x.tlog.size``), 400/403/404/422 with a one-line
  reason, 413 for a body above 64 KiB. Never a 500 for bad input.
- ``/api/v1/ledger/witnesses``: administration (role ``admin``): the witnesses of our
  log, the logs we witness, our witness key, and an immediate submission.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from govtrust.api.auth import Ctx, get_context, requires
from govtrust.errors import WitnessConflict, WitnessError
from govtrust.ledger.witness import MAX_REQUEST_SIZE, SIZE_CONTENT_TYPE, encode_size_response
from govtrust.services import Actor
from govtrust.services import ledger_witness as witness_svc

__all__ = ["router"]

router = APIRouter()

Admin = Annotated[Actor, Depends(requires("admin"))]

_TEXT = "text/plain; charset=utf-8"


def _refusal(status: int, message: str) -> Response:
    return Response((message.splitlines()[0][:500] + "\n").encode(), status, media_type=_TEXT)


async def _capped_body(request: Request) -> bytes | None:
    """The body, or None when it is larger than the protocol could need."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_SIZE:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_SIZE:
            return None
    return bytes(body)


@router.post(
    "/ledger/witness/add-checkpoint",
    tags=["Transparency ledger (public)"],
    summary="Cosign a checkpoint of a log we witness (C2SP tlog-witness)",
    response_class=Response,
    responses={
        200: {"content": {_TEXT: {}}, "description": "The cosignature line(s)."},
        409: {"content": {SIZE_CONTENT_TYPE: {}}, "description": "The latest cosigned size."},
    },
)
async def add_checkpoint(request: Request) -> Response:
    body = await _capped_body(request)
    if body is None:
        return _refusal(413, f"request body larger than {MAX_REQUEST_SIZE} bytes")
    ctx = get_context(request)
    try:
        line = await run_in_threadpool(witness_svc.add_checkpoint, ctx, body)
    except WitnessConflict as exc:
        return Response(encode_size_response(exc.latest_size), 409, media_type=SIZE_CONTENT_TYPE)
    except WitnessError as exc:
        return _refusal(exc.status, str(exc))
    return Response(line.encode(), 200, media_type=_TEXT)


# ---- administration --------------------------------------------------------------------


class AddWitness(BaseModel):
    url: str = Field(description="The witness's tlog-witness submission prefix.")
    key: str = Field(description="Its cosigner key (C2SP vkey, signature type 0x04).")
    name: str | None = Field(None, description="A local name (default: the key's name).")


class TrustLog(BaseModel):
    origin: str = Field(description="The log's checkpoint origin line.")
    key: str = Field(description="The log's verifier key (C2SP vkey, Ed25519 type 0x01).")


_ADMIN_TAGS: list[Any] = ["Transparency ledger witnessing"]


@router.get("/api/v1/ledger/witnesses", tags=_ADMIN_TAGS, summary="Witnesses of our log")
def list_witnesses(ctx: Ctx, actor: Admin) -> list[dict[str, Any]]:
    return [p.to_dict() for p in witness_svc.list_witnesses(ctx)]


@router.post(
    "/api/v1/ledger/witnesses",
    status_code=201,
    tags=_ADMIN_TAGS,
    summary="Ask a witness to cosign our checkpoints (govtrust ledger witness add)",
)
def add_witness(body: AddWitness, ctx: Ctx, actor: Admin) -> dict[str, Any]:
    return witness_svc.add_witness(ctx, body.url, body.key, actor, name=body.name).to_dict()


@router.get(
    "/api/v1/ledger/witnesses/key",
    tags=_ADMIN_TAGS,
    summary="Our witness's cosigner key (govtrust ledger witness key)",
)
def witness_key(ctx: Ctx, actor: Admin) -> dict[str, str]:
    identity = witness_svc.ensure_witness(ctx)
    return {"name": identity.name, "key": identity.vkey}


@router.get("/api/v1/ledger/witnesses/logs", tags=_ADMIN_TAGS, summary="Logs we witness")
def list_logs(ctx: Ctx, actor: Admin) -> list[dict[str, Any]]:
    return [t.to_dict() for t in witness_svc.list_trusted_logs(ctx)]


@router.post(
    "/api/v1/ledger/witnesses/logs",
    status_code=201,
    tags=_ADMIN_TAGS,
    summary="Witness another log (govtrust ledger witness trust-log)",
)
def trust_log(body: TrustLog, ctx: Ctx, actor: Admin) -> dict[str, Any]:
    return witness_svc.trust_log(ctx, body.origin, body.key, actor).to_dict()


@router.post(
    "/api/v1/ledger/witnesses/submit",
    tags=_ADMIN_TAGS,
    summary="Send our latest checkpoint to every witness now (govtrust ledger witness submit)",
)
def submit(ctx: Ctx, actor: Admin) -> dict[str, Any]:
    return witness_svc.submit(ctx).to_dict()
