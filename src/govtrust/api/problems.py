"""RFC 9457 problem details for every error the REST API returns."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from govtrust import errors

__all__ = ["install"]

_STATUS: list[tuple[type[errors.Error], int]] = [
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PolicyViolation, 422),
    (errors.UnsupportedDocument, 415),
    (errors.InputError, 400),
    (errors.ProtocolError, 400),
    # A proof or note that does not check out is the caller's data, not our fault.
    (errors.ProofError, 400),
    (errors.NoteError, 400),
    # A signature could not be completed for want of a service (TSA, revocation data).
    (errors.SigningFailed, 503),
]


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"urn:govtrust:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="govtrust"'} if status == 401 else None
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _status_of(exc: errors.Error) -> int:
    # Witness errors carry the status C2SP tlog-witness prescribes for their reason.
    status_attr = getattr(exc, "status", None)
    if isinstance(exc, errors.WitnessError) and isinstance(status_attr, int):
        return status_attr
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


async def _govtrust_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.Error)
    status = _status_of(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.PolicyViolation):
        extra = {"profile": exc.profile, "rule": exc.rule}
    if status == 500:
        # Key custody and configuration failures: say what failed, not how (no secrets).
        return problem(500, "Internal error", exc.message, exc.code)
    title = exc.title
    return problem(status, title, exc.message, exc.code, **extra)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
    return problem(
        422,
        "Invalid request",
        "the request does not match the API schema",
        "invalid-request",
        errors=details,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, str(exc.detail), str(exc.detail), "http-error")


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not a refusal: answer problem+json like every other error, and say nothing
    # of the exception (its text may carry internal detail). Starlette still logs it.
    return problem(
        500, "Internal error", "the server could not complete the request", "internal-error"
    )


def install(app: Any) -> None:
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_exception_handler(errors.Error, _govtrust_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
