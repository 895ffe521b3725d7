"""Trusted-list pages (ETSI TS 119 612): the list this instance publishes (providers,
services, status history) and the lists it imports (countries, freshness, the services
its recognition policy accepts); for operators, publishing and service status changes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi.responses import Response
from starlette.datastructures import FormData

from govtrust.errors import Error, InputError
from govtrust.portal.web import Page, redirect, render, route
from govtrust.services import trustlists

__all__ = ["short_uri"]


def short_uri(uri: str | None) -> str:
    """The readable tail of a TS 119 612 URI (``.../Svctype/CA/QC`` -> ``CA/QC``,
    ``.../Svcstatus/granted`` -> ``granted``)."""
    if not uri:
        return "—"
    for marker in ("/Svctype/", "/Svcstatus/"):
        if marker in uri:
            return uri.split(marker, 1)[1]
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _published(page: Page) -> dict[str, Any]:
    ctx = page.ctx
    info = trustlists.published_status(ctx)
    out: dict[str, Any] = {"info": info, "providers": [], "publication": None}
    if not info.get("configured"):
        return out
    out["publication"] = trustlists.latest_publication(ctx)
    try:
        model = trustlists.current_model(ctx)
    except Error:
        return out
    out["providers"] = [
        {
            "name": p.name,
            "services": [
                {
                    "name": s.name,
                    "type": short_uri(s.type_uri),
                    "status": short_uri(s.status.status),
                    "since": s.status.start,
                    "history": [(short_uri(h.status), h.start) for h in s.history],
                }
                for s in p.services
            ],
        }
        for p in model.providers
    ]
    return out


def _imported(page: Page) -> dict[str, Any]:
    lists = trustlists.status(page.ctx)
    by_country: dict[str, list[dict[str, str]]] = defaultdict(list)
    for item in trustlists.listed_services(page.ctx):
        by_country[item.territory].append(
            {
                "provider": item.provider,
                "service": item.service.name,
                "type": short_uri(item.service.type_uri),
                "status": short_uri(item.service.status.status),
            }
        )
    return {"lists": lists, "services": dict(sorted(by_country.items()))}


@route("/trustlists")
def trusted_lists(page: Page) -> Response:
    return render(
        page,
        "trustlists.html",
        nav="trustlists",
        published=_published(page),
        imported=_imported(page),
    )


@route("/operator/trustlists", role="auditor")
def manage(page: Page) -> Response:
    return render(
        page,
        "op_trustlists.html",
        nav="op-trustlists",
        published=_published(page),
        imported=_imported(page),
        done=page.request.query_params.get("done", ""),
    )


@route("/operator/trustlists", methods=("POST",), role="operator")
def act(page: Page, form: FormData) -> Response:
    assert page.user is not None
    action = str(form.get("action") or "")
    actor = page.user.actor
    if action == "publish":
        trustlists.publish(page.ctx, actor)
    elif action == "add-local":
        trustlists.add_local_services(page.ctx, actor)
    elif action in ("withdrawn", "granted"):
        provider = str(form.get("provider") or "")
        service = str(form.get("service") or "")
        trustlists.set_status(page.ctx, provider, service, action, actor)
    else:
        raise InputError("unknown trusted-list action")
    return redirect(page, f"{page.base}/operator/trustlists?done={action}")
