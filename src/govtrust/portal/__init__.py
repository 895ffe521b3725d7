"""The web portal, in Arabic and English (docs/portal.md).

Server-rendered pages (Jinja2, autoescaped; gettext catalogs through Babel) under a
language prefix: ``/en/...`` and ``/ar/...`` (``dir="rtl"``). Public pages let anyone
verify a signed document, check a certificate, download the CAs and browse the
transparency ledger (with an inclusion proof checked in the browser); operator pages
(``/<lang>/operator/...``, cookie sessions, CSRF tokens, roles auditor < operator <
admin) run the PKI. ``/`` (api/landing.py) sends a visitor to their language.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from govtrust.portal import operator, public, trustlists  # noqa: F401  (registers pages)
from govtrust.portal.i18n import LANGUAGES
from govtrust.portal.web import STATIC, pages

__all__ = ["STATIC_PREFIX", "router"]

STATIC_PREFIX = "/portal-static"
_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
_FILES = {p.name: p for p in STATIC.iterdir() if p.suffix in _TYPES}

router = APIRouter(include_in_schema=False)
for _lang in LANGUAGES:
    router.include_router(pages, prefix=f"/{_lang}")


@router.get(STATIC_PREFIX + "/{name}", include_in_schema=False)
def static(name: str) -> Response:
    """The portal's stylesheet and scripts (a fixed list: no path is ever opened from
    the request)."""
    path = _FILES.get(name)
    if path is None:
        raise HTTPException(status_code=404)
    return Response(
        path.read_bytes(),
        media_type=_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
