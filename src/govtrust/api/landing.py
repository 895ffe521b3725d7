"""``/``: sends a visitor to the portal's home in their language.

The language is the one the visitor last used (the ``gt_lang`` cookie the portal sets),
else the best supported one of ``Accept-Language``, else English
(:func:`govtrust.portal.i18n.negotiate`). The answer is a 303 redirect to ``/en`` or
``/ar``; its body is the short hypertext note RFC 9110 §15.4 recommends, here with the
CA download links, so that a client that does not follow redirects still finds them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from govtrust.api.auth import get_context
from govtrust.portal.i18n import COOKIE, negotiate
from govtrust.portal.web import environment
from govtrust.services import authorities

__all__ = ["router"]

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def landing(request: Request) -> HTMLResponse:
    ctx = get_context(request)
    lang = negotiate(request.cookies.get(COOKIE), request.headers.get("accept-language"))
    html = (
        environment(lang)
        .get_template("landing.html")
        .render(
            target=f"/{lang}",
            instance=ctx.settings.instance_name,
            cas=authorities.list_cas(ctx),
        )
    )
    return HTMLResponse(
        html,
        status_code=303,
        headers={
            "Location": f"/{lang}",
            "Vary": "Cookie, Accept-Language",
            "Cache-Control": "private, no-cache",
        },
    )
