"""Remote signing: ``POST /sign`` (one document, or only its hash) and
``POST /api/v1/sign/batch`` (many documents, one credential).

Both need an ``operator`` API token that is bound to the credential it signs with
(``govtrust credential bind-token CREDENTIAL TOKEN``; see
``services.signing.authorize_remote``). Requests are JSON (documents in base64) or
``multipart/form-data`` (documents as file parts); answers are JSON with the output in
base64. Bad documents get RFC 9457 problem+json (400 for a document that cannot be
signed, 409 for a credential that may not sign now); in a batch, each document gets its
own result and one bad document does not stop the others.

Signing a hash (CAdES, or PAdES in two steps) keeps the document with the integrator;
docs/signing.md shows the PAdES flow with pyHanko's interrupted signing on the client.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from govtrust.api.auth import Ctx, requires
from govtrust.errors import Error, InputError
from govtrust.services import Actor, Context
from govtrust.services.signing import (
    Level,
    SignatureFormat,
    SignatureResult,
    SigningOptions,
    SigningSession,
    authorize_remote,
)

__all__ = ["MAX_BATCH_DOCUMENTS", "MAX_REQUEST_BYTES", "router"]

router = APIRouter(tags=["Signing"])

Operator = Annotated[Actor, Depends(requires("operator"))]

MAX_REQUEST_BYTES = 64 * 1024 * 1024
"""Largest request body (JSON or multipart): larger ones get 413 before parsing."""
MAX_BATCH_DOCUMENTS = 1000

_HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}

_COMMON_FIELDS = {
    "credential": "Name of the credential to sign with (the token must be bound to it).",
    "format": "pades | cades | xades | asic-e (default: by the file name; cades for a hash).",
    "level": "B-B | B-T | B-LT | B-LTA (default B-B).",
    "visible_stamp": "PAdES: a visible stamp with the signer's name and time (true/false).",
    "asic_signature": "ASiC-E: xades (default) or cades.",
}

_SIGN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["credential"],
    "properties": {
        **{k: {"type": "string", "description": v} for k, v in _COMMON_FIELDS.items()},
        "filename": {"type": "string", "description": "The document's name (picks the format)."},
        "document": {"type": "string", "format": "byte", "description": "The document, base64."},
        "hash": {"type": "string", "description": "Or only its hash, hex (CAdES, PAdES)."},
        "hash_algorithm": {"type": "string", "description": "sha256 | sha384 | sha512"},
    },
}

_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["credential", "documents"],
    "properties": {
        **{k: {"type": "string", "description": v} for k, v in _COMMON_FIELDS.items()},
        "documents": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "filename": {"type": "string"},
                    "document": {"type": "string", "format": "byte"},
                },
            },
        },
    },
}


@dataclass
class _Document:
    filename: str
    data: bytes


@dataclass
class _Request:
    credential: str
    options: SigningOptions
    documents: list[_Document]
    digest: bytes | None = None
    hash_algorithm: str = "sha256"
    format: SignatureFormat | None = None


def _too_large() -> HTTPException:
    """413, answered as problem+json by the application's handler (api/problems.py)."""
    return HTTPException(413, f"the request is larger than {MAX_REQUEST_BYTES} bytes")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_REQUEST_BYTES):
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            raise _too_large()
    return bytes(body)


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string")
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise InputError(f"{name} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{name} is not valid base64") from None


def _common(fields: dict[str, Any]) -> tuple[str, SigningOptions, SignatureFormat | None]:
    credential = _text(fields.get("credential"), "credential")
    if not credential:
        raise InputError("credential is required")
    fmt_text = _text(fields.get("format"), "format")
    fmt = SignatureFormat.parse(fmt_text) if fmt_text else None
    options = SigningOptions(
        format=fmt,
        level=Level.parse(_text(fields.get("level"), "level") or "B-B"),
        visible_stamp=_flag(fields.get("visible_stamp", False)),
        asic_signature=_text(fields.get("asic_signature"), "asic_signature") or "xades",
    )
    return credential, options, fmt


def _hash_part(fields: dict[str, Any]) -> tuple[bytes, str] | None:
    text = _text(fields.get("hash"), "hash")
    if text is None:
        return None
    algorithm = (_text(fields.get("hash_algorithm"), "hash_algorithm") or "sha256").lower()
    if algorithm not in _HASHES:
        raise InputError(f"hash_algorithm is one of {', '.join(_HASHES)}")
    try:
        digest = bytes.fromhex(text.strip())
    except ValueError:
        raise InputError("hash must be hexadecimal") from None
    if len(digest) != _HASHES[algorithm]:
        raise InputError(f"a {algorithm} hash is {_HASHES[algorithm] * 2} hex digits")
    return digest, algorithm


async def _parse(request: Request, *, batch: bool) -> _Request:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        return await _parse_multipart(request, batch=batch)
    if media not in ("application/json", ""):
        raise InputError("send application/json or multipart/form-data")
    body = await _read_body(request)
    try:
        fields = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InputError("the body is not JSON") from None
    if not isinstance(fields, dict):
        raise InputError("the body must be a JSON object")
    credential, options, fmt = _common(fields)
    parsed = _Request(credential, options, [], format=fmt)
    if batch:
        items = fields.get("documents")
        if not isinstance(items, list) or not items:
            raise InputError("documents must be a non-empty list")
        if len(items) > MAX_BATCH_DOCUMENTS:
            raise InputError(f"at most {MAX_BATCH_DOCUMENTS} documents per batch")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise InputError(f"documents[{index}] must be an object")
            name = _text(item.get("filename"), "filename") or f"document-{index + 1}"
            parsed.documents.append(
                _Document(name, _b64(item.get("document"), f"documents[{index}]"))
            )
        return parsed
    hashed = _hash_part(fields)
    if hashed is not None:
        parsed.digest, parsed.hash_algorithm = hashed
        return parsed
    if "document" not in fields:
        raise InputError("send the document (base64) or its hash")
    name = _text(fields.get("filename"), "filename") or "document"
    parsed.documents.append(_Document(name, _b64(fields["document"], "document")))
    return parsed


async def _parse_multipart(request: Request, *, batch: bool) -> _Request:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_REQUEST_BYTES):
        raise _too_large()
    try:
        form = await request.form(max_files=MAX_BATCH_DOCUMENTS, max_fields=100)
    except Exception:  # python-multipart raises its own errors on malformed bodies
        raise InputError("malformed multipart/form-data body") from None
    try:
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        credential, options, fmt = _common(fields)
        parsed = _Request(credential, options, [], format=fmt)
        uploads = [
            v
            for k, v in form.multi_items()
            if isinstance(v, UploadFile) and k in ("document", "documents")
        ]
        total = 0
        for upload in uploads:
            data = await upload.read()
            total += len(data)
            if total > MAX_REQUEST_BYTES:
                raise _too_large()
            parsed.documents.append(_Document(upload.filename or "document", data))
    finally:
        await form.close()
    if batch:
        if not parsed.documents:
            raise InputError("send the documents as file parts named 'documents'")
        return parsed
    hashed = _hash_part(fields)
    if hashed is not None:
        parsed.digest, parsed.hash_algorithm = hashed
        parsed.documents = []
        return parsed
    if len(parsed.documents) != 1:
        raise InputError("send one file part named 'document', or the 'hash' field")
    return parsed


def _output(result: SignatureResult) -> dict[str, Any]:
    return {**result.to_dict(), "content": base64.b64encode(result.document.data).decode("ascii")}


def _sign_one(ctx: Context, actor: Actor, req: _Request) -> dict[str, Any]:
    authorize_remote(ctx, actor, req.credential)
    session = SigningSession(ctx, req.credential, actor, req.options)
    if req.digest is not None:
        fmt = req.format or SignatureFormat.CADES
        return _output(session.sign_digest(req.digest, req.hash_algorithm, fmt))
    document = req.documents[0]
    return _output(session.sign(document.data, document.filename))


def _sign_batch(ctx: Context, actor: Actor, req: _Request) -> dict[str, Any]:
    authorize_remote(ctx, actor, req.credential)
    session = SigningSession(ctx, req.credential, actor, req.options)
    results: list[dict[str, Any]] = []
    for document in req.documents:
        try:
            results.append({"ok": True, **_output(session.sign(document.data, document.filename))})
        except Error as exc:
            results.append(
                {
                    "ok": False,
                    "filename": document.filename,
                    "error": {"code": exc.code, "title": exc.title, "detail": exc.message},
                }
            )
        except Exception as exc:  # one bad document never stops the batch
            results.append(
                {
                    "ok": False,
                    "filename": document.filename,
                    "error": {
                        "code": "internal-error",
                        "title": "Internal error",
                        "detail": type(exc).__name__,
                    },
                }
            )
    failed = sum(1 for r in results if not r["ok"])
    return {"signed": len(results) - failed, "failed": failed, "results": results}


@router.post(
    "/sign",
    summary="Sign a document, or only its hash, with a credential (remote signing)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _SIGN_SCHEMA},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            **_SIGN_SCHEMA["properties"],
                            "document": {"type": "string", "format": "binary"},
                        },
                    }
                },
            },
        }
    },
)
async def sign(request: Request, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    req = await _parse(request, batch=False)
    return await run_in_threadpool(_sign_one, ctx, actor, req)


@router.post(
    "/api/v1/sign/batch",
    summary="Sign many documents with one credential; one result per document",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _BATCH_SCHEMA},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            **{k: {"type": "string"} for k in _COMMON_FIELDS},
                            "documents": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                    }
                },
            },
        }
    },
)
async def sign_batch(request: Request, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    req = await _parse(request, batch=True)
    return await run_in_threadpool(_sign_batch, ctx, actor, req)
