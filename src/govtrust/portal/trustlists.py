"""Trusted-list pages (ETSI TS 119 612): the list this instance publishes (providers,
services, status history) and the lists it imports (countries, freshness, the services
its recognition policy accepts); for operators, managing what the list says.

Operator forms (server-rendered, no JavaScript needed, CSRF-protected by
:func:`govtrust.portal.web.route`), with the roles of ``/api/v1/trustlists``:

- add a trust service provider and update it (TS 119 612 §5.4: name §5.4.1, trade name
  §5.4.2, information URI §5.4.4): operator;
- add a service (§5.5: type §5.5.1 from :data:`govtrust.trustlist.SERVICE_TYPES`, name
  §5.5.2, digital identity §5.5.3 as an uploaded certificate, status §5.5.4 and its
  starting time §5.5.5), list this instance's own CAs and TSA in one click, withdraw
  or grant a service (§5.6 history): operator;
- sign and publish the next list: admin (as ``POST /api/v1/trustlists/publish``).

The services in :mod:`govtrust.services.trustlists` do the work and write the audit
trail; a form that cannot be accepted (a file that is no certificate, a name already
taken, a missing field) comes back filled in, with the reason (never a 500).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography import x509
from fastapi.responses import Response
from starlette.datastructures import FormData

from govtrust.errors import AlreadyExists, Conflict, Error, InputError, NotFound
from govtrust.portal.i18n import N_
from govtrust.portal.web import Page, file_bytes, redirect, render, route
from govtrust.services import trustlists
from govtrust.trustlist import SERVICE_TYPES, STATUS
from govtrust.trustlist.model import ADDITIONAL_INFO

__all__ = [
    "ADDITIONAL_INFO_NAMES",
    "NEW_STATUSES",
    "SERVICE_TYPE_NAMES",
    "ProviderView",
    "list_providers",
    "short_uri",
]

#: The TS 119 612 service types a service may be listed as (Annex D.4, §5.5.1.1): the
#: short names :func:`govtrust.services.trustlists.add_service` accepts, with a label.
SERVICE_TYPE_NAMES: Mapping[str, str] = {
    "CA/QC": N_("Certification authority issuing qualified certificates"),
    "CA/PKC": N_("Certification authority issuing other certificates"),
    "NationalRootCA-QC": N_("National root certification authority"),
    "TSA/QTST": N_("Qualified time-stamping authority"),
    "TSA": N_("Time-stamping authority"),
    "Certstatus/OCSP/QC": N_("OCSP responder for qualified certificates"),
    "Certstatus/CRL/QC": N_("CRL issuer for qualified certificates"),
    "EDS/Q": N_("Qualified electronic registered delivery service"),
    "QESValidation/Q": N_("Qualified validation service for signatures and seals"),
}

#: The statuses a new service may start with (TS 119 612 §5.5.4, V2 values).
NEW_STATUSES: Mapping[str, str] = {
    "granted": N_("Granted"),
    "withdrawn": N_("Withdrawn"),
    "recognisedatnationallevel": N_("Recognised at national level"),
    "deprecatedatnationallevel": N_("Deprecated at national level"),
}

#: AdditionalServiceInformation (TS 119 612 §5.5.9.4): what a qualified CA issues for.
ADDITIONAL_INFO_NAMES: Mapping[str, str] = {
    "ForeSignatures": N_("Electronic signatures"),
    "ForeSeals": N_("Electronic seals"),
    "ForWebSiteAuthentication": N_("Website authentication"),
}

#: TrustListProviderRow / TrustListServiceRow hold names and URIs in VARCHAR(255).
_MAX_TEXT = 255

assert set(SERVICE_TYPE_NAMES) <= set(SERVICE_TYPES)
assert set(NEW_STATUSES) <= set(STATUS)
assert set(ADDITIONAL_INFO_NAMES) <= set(ADDITIONAL_INFO)


def short_uri(uri: str | None) -> str:
    """The readable tail of a TS 119 612 URI (``.../Svctype/CA/QC`` -> ``CA/QC``,
    ``.../Svcstatus/granted`` -> ``granted``)."""
    if not uri:
        return "—"
    for marker in ("/Svctype/", "/Svcstatus/"):
        if marker in uri:
            return uri.split(marker, 1)[1]
    return uri.rstrip("/").rsplit("/", 1)[-1]


# ---- reading --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderView:
    """A provider as the management page shows it (with those that have no service
    yet, which the published model leaves out)."""

    name: str
    trade_name: str
    info_uri: str
    services: int


def list_providers(page: Page) -> list[ProviderView]:
    """Every trust service provider in storage, by name (with those that have no
    service yet)."""
    return [
        ProviderView(p.name, p.trade_name, p.info_uri, p.services)
        for p in trustlists.list_providers(page.ctx)
    ]


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


_DONE = {
    "publish": N_("The next trusted list is signed and published."),
    "add-local": N_("This instance's services are listed."),
    "withdrawn": N_("The service is withdrawn."),
    "granted": N_("The service is granted."),
    "provider-added": N_("The provider is added."),
    "provider-updated": N_("The provider is updated."),
    "service-added": N_("The service is added. Publish the next list to make it public."),
}


@route("/operator/trustlists", role="auditor")
def manage(page: Page) -> Response:
    done = page.request.query_params.get("done", "")
    try:
        added = max(0, int(page.request.query_params.get("added", "0")))
    except ValueError:
        added = 0
    return render(
        page,
        "op_trustlists.html",
        nav="op-trustlists",
        published=_published(page),
        imported=_imported(page),
        providers=list_providers(page),
        done=_DONE.get(done, ""),
        added=added if done == "add-local" else None,
    )


@route("/operator/trustlists", methods=("POST",), role="operator")
def act(page: Page, form: FormData) -> Response:
    assert page.user is not None
    action = str(form.get("action") or "")
    actor = page.user.actor
    suffix = ""
    if action == "add-local":
        provider = _text(form, "provider") or None
        if provider is not None:
            _known_provider(page, provider)
        added = trustlists.add_local_services(page.ctx, actor, provider=provider)
        suffix = f"&added={len(added)}"
    elif action in ("withdrawn", "granted"):
        provider = str(form.get("provider") or "")
        service = str(form.get("service") or "")
        trustlists.set_status(page.ctx, provider, service, action, actor)
    else:
        raise InputError("unknown trusted-list action")
    return redirect(page, f"{page.base}/operator/trustlists?done={action}{suffix}")


@route("/operator/trustlists/publish", methods=("POST",), role="admin")
def publish(page: Page, form: FormData) -> Response:
    assert page.user is not None
    trustlists.publish(page.ctx, page.user.actor)
    return redirect(page, f"{page.base}/operator/trustlists?done=publish")


# ---- form helpers ------------------------------------------------------------------------


class _Invalid(Exception):
    """A form value that cannot be accepted: ``message`` is a msgid, shown translated
    with ``params``; ``field`` is the input to point at."""

    def __init__(self, field: str, message: str, status: int = 400, **params: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status
        self.params = params


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _required(form: FormData, name: str, message: str) -> str:
    value = _text(form, name)
    if not value:
        raise _Invalid(name, message)
    return _bounded(name, value)


def _bounded(name: str, value: str) -> str:
    if len(value) > _MAX_TEXT:
        raise _Invalid(name, N_("At most %(count)s characters, please."), count=str(_MAX_TEXT))
    return value


def _uri(form: FormData, name: str) -> str:
    """An absolute http(s) URI (TS 119 612 §5.4.4: a URI where the provider says more),
    or empty."""
    value = _bounded(name, _text(form, name))
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
            raise _Invalid(name, N_("Give a web address that starts with https:// or http://."))
    return value


def _known_provider(page: Page, name: str) -> ProviderView:
    for provider in list_providers(page):
        if provider.name == name:
            return provider
    raise NotFound("trust service provider", name)


def _form_error(page: Page, exc: _Invalid) -> dict[str, Any]:
    return {
        "status": exc.status,
        "error": page.gettext(exc.message) % exc.params,
        "error_field": exc.field,
    }


def _service_error(page: Page, exc: Error) -> dict[str, Any]:
    """A refusal of the service layer, as the form shows it (its text is English)."""
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return {"status": status, "error": page.gettext("The change was refused."), "detail": str(exc)}


def _duplicate_provider(name: str) -> _Invalid:
    return _Invalid("name", N_("A provider named “%(name)s” is already listed."), 409, name=name)


# ---- providers ---------------------------------------------------------------------------


def _provider_form(
    page: Page,
    *,
    editing: str | None,
    values: Mapping[str, str],
    status: int = 200,
    **extra: Any,
) -> Response:
    extra.setdefault("error", "")
    extra.setdefault("error_field", "")
    extra.setdefault("detail", "")
    return render(
        page,
        "op_trustlist_provider.html",
        status,
        nav="op-trustlists",
        editing=editing,
        values=values,
        switch_path=(
            f"/operator/trustlists/providers/edit?name={quote(editing)}"
            if editing
            else "/operator/trustlists/providers/new"
        ),
        **extra,
    )


def _provider_values(form: FormData) -> dict[str, str]:
    return {k: _text(form, k) for k in ("name", "trade_name", "info_uri")}


@route("/operator/trustlists/providers/new", role="operator")
def provider_new(page: Page) -> Response:
    return _provider_form(page, editing=None, values={})


@route("/operator/trustlists/providers/new", methods=("POST",), role="operator")
def provider_add(page: Page, form: FormData) -> Response:
    assert page.user is not None
    values = _provider_values(form)
    try:
        name = _required(form, "name", N_("Give the provider's name."))
        trade_name = _bounded("trade_name", values["trade_name"])
        info_uri = _uri(form, "info_uri")
    except _Invalid as exc:
        return _provider_form(page, editing=None, values=values, **_form_error(page, exc))
    try:
        trustlists.add_provider(
            page.ctx,
            name,
            page.user.actor,
            trade_name=trade_name or None,
            info_uri=info_uri or None,
        )
    except AlreadyExists:
        return _provider_form(
            page, editing=None, values=values, **_form_error(page, _duplicate_provider(name))
        )
    except (InputError, Conflict) as err:
        return _provider_form(page, editing=None, values=values, **_service_error(page, err))
    return redirect(page, f"{page.base}/operator/trustlists?done=provider-added")


@route("/operator/trustlists/providers/edit", role="operator")
def provider_edit(page: Page) -> Response:
    name = page.request.query_params.get("name", "")
    if not name:
        return redirect(page, f"{page.base}/operator/trustlists")
    found = _known_provider(page, name)
    values = {"name": found.name, "trade_name": found.trade_name, "info_uri": found.info_uri}
    return _provider_form(page, editing=found.name, values=values)


@route("/operator/trustlists/providers/edit", methods=("POST",), role="operator")
def provider_update(page: Page, form: FormData) -> Response:
    assert page.user is not None
    original = _text(form, "original")
    current = _known_provider(page, original)
    values = _provider_values(form)
    try:
        name = _required(form, "name", N_("Give the provider's name."))
        trade_name = _bounded("trade_name", values["trade_name"])
        info_uri = _uri(form, "info_uri")
        if name != current.name and any(p.name == name for p in list_providers(page)):
            raise _duplicate_provider(name)
    except _Invalid as exc:
        return _provider_form(page, editing=current.name, values=values, **_form_error(page, exc))
    try:
        trustlists.update_provider(
            page.ctx,
            current.name,
            page.user.actor,
            trade_name=trade_name,
            info_uri=info_uri,
            new_name=name if name != current.name else None,
        )
    except (InputError, Conflict) as err:
        return _provider_form(
            page, editing=current.name, values=values, **_service_error(page, err)
        )
    return redirect(page, f"{page.base}/operator/trustlists?done=provider-updated")


# ---- services ----------------------------------------------------------------------------


def _service_form(
    page: Page, values: Mapping[str, Any], status: int = 200, **extra: Any
) -> Response:
    extra.setdefault("error", "")
    extra.setdefault("error_field", "")
    extra.setdefault("detail", "")
    return render(
        page,
        "op_trustlist_service.html",
        status,
        nav="op-trustlists",
        providers=list_providers(page),
        types=SERVICE_TYPE_NAMES,
        statuses=NEW_STATUSES,
        info_names=ADDITIONAL_INFO_NAMES,
        values=values,
        switch_path="/operator/trustlists/services/new",
        **extra,
    )


def _certificate(data: bytes | None) -> x509.Certificate:
    """The service's digital identity (TS 119 612 §5.5.3): one X.509 certificate, PEM
    (RFC 7468) or DER."""
    if not data:
        raise _Invalid("certificate", N_("Choose the service's certificate file."))
    try:
        if b"-----BEGIN" in data:
            found = x509.load_pem_x509_certificates(data)
            if len(found) != 1:
                raise _Invalid("certificate", N_("The file must hold exactly one certificate."))
            cert = found[0]
        else:
            cert = x509.load_der_x509_certificate(data)
        cert.public_key()  # an unsupported or broken key is refused here, not later
    except (ValueError, TypeError):
        raise _Invalid(
            "certificate", N_("The file is not a certificate in PEM (or DER) format.")
        ) from None
    return cert


def _starting_time(value: str) -> dt.datetime | None:
    """``datetime-local`` input (``YYYY-MM-DDTHH:MM``), read as UTC; empty: now."""
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(
            "starting_time", N_("Give the starting time as a date and a time (UTC).")
        ) from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


@route("/operator/trustlists/services/new", role="operator")
def service_new(page: Page) -> Response:
    values = {
        "provider": page.request.query_params.get("provider", ""),
        "type": "CA/QC",
        "status": "granted",
        "info": [],
    }
    return _service_form(page, values)


@route("/operator/trustlists/services/new", methods=("POST",), role="operator")
def service_add(page: Page, form: FormData) -> Response:
    assert page.user is not None
    values: dict[str, Any] = {
        k: _text(form, k) for k in ("provider", "type", "name", "status", "starting_time")
    }
    values["info"] = [v for v in form.getlist("info") if isinstance(v, str)]
    try:
        provider = _required(form, "provider", N_("Choose the provider of the service."))
        if not any(p.name == provider for p in list_providers(page)):
            raise _Invalid("provider", N_("Choose the provider of the service."))
        if values["type"] not in SERVICE_TYPE_NAMES:
            raise _Invalid("type", N_("Choose the type of the service."))
        name = _required(form, "name", N_("Give the service's name."))
        if values["status"] not in NEW_STATUSES:
            raise _Invalid("status", N_("Choose the status of the service."))
        info = [i for i in values["info"] if i in ADDITIONAL_INFO_NAMES]
        start = _starting_time(values["starting_time"])
        cert = _certificate(file_bytes(page, form, "certificate"))
    except _Invalid as exc:
        return _service_form(page, values, **_form_error(page, exc))
    try:
        trustlists.add_service(
            page.ctx,
            provider,
            name,
            values["type"],
            cert,
            page.user.actor,
            status=values["status"],
            starting_time=start,
            additional_info=info,
        )
    except AlreadyExists:
        duplicate = _Invalid(
            "name",
            N_("%(provider)s already has a service named “%(name)s”."),
            409,
            provider=provider,
            name=name,
        )
        return _service_form(page, values, **_form_error(page, duplicate))
    except (InputError, Conflict, NotFound) as err:
        return _service_form(page, values, **_service_error(page, err))
    return redirect(page, f"{page.base}/operator/trustlists?done=service-added")
