"""The verdict page's "Download the signed report (JSON)" form: the report is sealed
when the visitor asks for it, not on every verification, and nothing about the
visitor's document is kept in between.

The form carries the report itself (its RFC 8785 canonical JSON, base64url without
padding, RFC 4648 §5), the time the server issued the form (``issued``, POSIX seconds
from ``ctx.clock``) and ``mac``, an HMAC-SHA256 tag (RFC 2104, hex) over::

    b"govtrust portal report v1\\n" + issued + b"\\n" + canonical report

under a key derived from the portal's secret with its own label (``web.derive_key``,
HKDF-SHA256, RFC 5869: never the session key itself). Posted back to
``/<lang>/verify/report.json``, a form whose tag holds is a report this service made at
``issued``; it is sealed only then, with the very canonical bytes that were tagged. A
form is accepted for :data:`FORM_SECONDS` after ``issued``: later, the visitor verifies
the document again, so no seal is made on an old verdict. Being stateless, any worker
or node sharing the portal secret accepts it.

A MAC, not a signature, because only this service checks it; by hand, not with a
library, because it is two calls of the standard library (``hmac``) over a message
whose domain-separation prefix and field order are the format.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData

from govtrust.portal.views import report_view
from govtrust.portal.web import derive_key, render_html
from govtrust.services import Context
from govtrust.validation.render import canonical_json

__all__ = [
    "FORM_SECONDS",
    "ReportFormRefused",
    "open_report_form",
    "report_fields",
    "report_mac",
    "verdict_page",
]

#: How long after the verdict the signed report can be downloaded.
FORM_SECONDS = 3600
#: Nodes' clocks may differ a little: a form dated up to this far ahead is accepted.
_SKEW_SECONDS = 60
_KEY_LABEL = b"govtrust portal report form mac key v1"
_DOMAIN = b"govtrust portal report v1\n"
_MAX_REPORT_CHARS = 1 << 20  # the form parser's own limit for url-encoded bodies
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_DIGITS = re.compile(r"[0-9]{1,12}")
_HEX_TAG = re.compile(r"[0-9a-f]{64}")


class ReportFormRefused(Exception):
    """A report form that is not accepted; ``kind`` is the portal error page to show
    (``report-expired`` or ``report-invalid``)."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.kind = kind


def report_mac(ctx: Context, issued: int, canonical: bytes) -> str:
    """The form's tag (hex HMAC-SHA256) over ``issued`` and the canonical report."""
    message = _DOMAIN + str(issued).encode("ascii") + b"\n" + canonical
    key = derive_key(ctx, _KEY_LABEL)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def report_fields(ctx: Context, payload: Mapping[str, Any]) -> dict[str, str] | None:
    """The hidden fields (``report``, ``issued``, ``mac``) of the download form for a
    report's JSON form; None when the report cannot be written as RFC 8785 JSON (a lone
    surrogate, §3.2.2.2), which could not be sealed either."""
    try:
        canonical = canonical_json(payload)
    except ValueError:
        return None
    issued = int(ctx.clock.now().timestamp())
    return {
        "report": base64.urlsafe_b64encode(canonical).rstrip(b"=").decode("ascii"),
        "issued": str(issued),
        "mac": report_mac(ctx, issued, canonical),
    }


def _field(form: FormData, name: str, pattern: re.Pattern[str], limit: int) -> str:
    value = form.get(name)
    if not isinstance(value, str) or len(value) > limit or not pattern.fullmatch(value):
        raise ReportFormRefused(
            "report-invalid", f"the form's {name} field is missing or malformed"
        )
    return value


def open_report_form(ctx: Context, form: FormData) -> dict[str, Any]:
    """The report of a posted download form, as a JSON object whose canonical form is
    exactly the bytes the tag covers. ReportFormRefused: ``report-invalid`` when a
    field is missing or malformed, the tag does not hold, or the form is dated ahead;
    ``report-expired`` past :data:`FORM_SECONDS`."""
    encoded = _field(form, "report", _BASE64URL, _MAX_REPORT_CHARS)
    issued = int(_field(form, "issued", _DIGITS, 12))
    mac = _field(form, "mac", _HEX_TAG, 64)
    try:
        canonical = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise ReportFormRefused("report-invalid", "the report is not base64url") from None
    # 1. The tag first (constant-time compare): nothing else is trusted before it holds.
    if not hmac.compare_digest(mac, report_mac(ctx, issued, canonical)):
        raise ReportFormRefused("report-invalid", "the report's check code does not hold")
    # 2. Its age: at most FORM_SECONDS old, not dated ahead (beyond the clock skew).
    now = int(ctx.clock.now().timestamp())
    if issued > now + _SKEW_SECONDS:
        raise ReportFormRefused("report-invalid", "the report is dated in the future")
    if now - issued > FORM_SECONDS:
        raise ReportFormRefused("report-expired", "the report's download time has passed")
    # 3. The report: a JSON object whose canonical form is the tagged bytes (it is, as
    #    this service made it; checked so that the seal covers exactly those bytes).
    try:
        payload = json.loads(canonical)
        same = isinstance(payload, dict) and canonical_json(payload) == canonical
    except ValueError:
        same = False
    if not same:
        raise ReportFormRefused("report-invalid", "the report is not canonical JSON")
    assert isinstance(payload, dict)
    return payload


def verdict_page(
    ctx: Context, payload: Mapping[str, Any], lang: str, values: dict[str, Any]
) -> str:
    """The verdict page of a report no one asked to keep: the report's view and its
    download form, with the page's ``values`` (``web.page_values``). Made by the web
    worker or by a validation process (:mod:`govtrust.portal.pool`)."""
    fields = report_fields(ctx, payload)
    return render_html(
        lang,
        "verdict.html",
        {**values, "view": report_view(payload), "report_form": fields, "unsealed": fields is None},
    )
