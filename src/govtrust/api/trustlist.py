"""Trusted lists over HTTP.

Public: ``GET /trustlist.xml`` and ``GET /lotl.xml`` serve the latest published list
and list of lists, ``GET /lotl-pivot-<sequence>.xml`` each pivot LOTL (the URLs the
LOTL's SchemeInformationURI names; kept for good) (``application/vnd.etsi.tsl+xml``,
IANA; TS 119 612 §6.1), with ``ETag`` (its SHA-256), ``Last-Modified`` (its issue
time), ``Expires`` and ``Cache-Control: max-age`` up to its NextUpdate, and 304 on
``If-None-Match``.

Protected, under ``/api/v1/trustlists`` (as ``govtrust trustlist ...``): status and
the published scheme (auditor); providers, services, statuses, pointers and a refresh
(operator); publishing, rotating the LOTL signer (pivot) and importing (admin). A list
refused on import answers 422 problem+json with its reason; nothing is replaced.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from email.utils import format_datetime
from typing import Annotated, Any

from cryptography import x509
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from govtrust.api.auth import Ctx, get_context, requires
from govtrust.errors import InputError, NotFound
from govtrust.services import Actor, Context, trustlists

__all__ = ["MEDIA_TYPE", "router"]

MEDIA_TYPE = "application/vnd.etsi.tsl+xml"

router = APIRouter(tags=["Trusted lists"])

Auditor = Annotated[Actor, Depends(requires("auditor"))]
Operator = Annotated[Actor, Depends(requires("operator"))]
Admin = Annotated[Actor, Depends(requires("admin"))]

_PREFIX = "/api/v1/trustlists"


def _http_date(t: dt.datetime) -> str:
    return format_datetime(t.astimezone(dt.UTC), usegmt=True)


def _serve(request: Request, kind: str) -> Response:
    ctx = get_context(request)
    pub = trustlists.latest_publication(ctx, kind)
    if pub is None:
        raise NotFound("published list", "/lotl.xml" if kind == "lotl" else "/trustlist.xml")
    return _respond(request, ctx, pub)


def _respond(request: Request, ctx: Context, pub: trustlists.Publication) -> Response:
    now = ctx.clock.now()
    max_age = max(0, int((pub.next_update - now).total_seconds()))
    etag = f'"{pub.sha256[:32]}"'
    headers = {
        "ETag": etag,
        "Last-Modified": _http_date(pub.issued),
        "Expires": _http_date(pub.next_update),
        "Cache-Control": f"public, max-age={max_age}, no-transform",
    }
    match = request.headers.get("if-none-match", "")
    if any(t.strip().removeprefix("W/") in (etag, "*") for t in match.split(",") if t.strip()):
        return Response(status_code=304, headers=headers)
    return Response(pub.xml, media_type=MEDIA_TYPE, headers=headers)


@router.get("/trustlist.xml", response_class=Response, summary="This country's trusted list")
def trustlist_xml(request: Request) -> Response:
    return _serve(request, "tl")


@router.get("/lotl.xml", response_class=Response, summary="The list of trusted lists")
def lotl_xml(request: Request) -> Response:
    return _serve(request, "lotl")


@router.get(
    "/lotl-pivot-{sequence}.xml",
    response_class=Response,
    summary="A pivot list of trusted lists (a change of the LOTL's signing key)",
)
def lotl_pivot_xml(sequence: str, request: Request) -> Response:
    ctx = get_context(request)
    pub = (
        trustlists.pivot_publication(ctx, int(sequence))
        if sequence.isascii() and sequence.isdigit() and len(sequence) < 10
        else None
    )
    if pub is None:
        raise NotFound("pivot list of trusted lists", f"/lotl-pivot-{sequence}.xml")
    return _respond(request, ctx, pub)


# ---- protected -----------------------------------------------------------------------


def _pems(text: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise InputError("signer_pem holds no PEM certificate") from None


class ProviderIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    trade_name: str | None = None
    info_uri: str | None = None


class ProviderPatch(BaseModel):
    trade_name: str | None = None
    info_uri: str | None = None
    new_name: str | None = None


class ServiceIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    type: str = Field(description="Service type URI, or CA/QC, TSA/QTST...")
    certificate_pem: str
    status: str = "granted"
    starting_time: dt.datetime | None = None
    additional_info: list[str] = Field(default_factory=list)
    qualifiers: list[str] = Field(default_factory=list)


class StatusIn(BaseModel):
    status: str = Field(description="granted, withdrawn, ...")
    starting_time: dt.datetime | None = None


class PointerIn(BaseModel):
    territory: str = Field(min_length=2, max_length=8)
    location: str
    signer_pem: str
    operator_name: str = ""


class ImportIn(BaseModel):
    url: str | None = None
    xml_base64: str | None = None
    signer_pem: str = Field(description="Pinned signer certificate(s), PEM.")
    lotl: bool = False
    name: str | None = None


@router.get(_PREFIX, summary="Imported lists and their status (govtrust trustlist status)")
def list_status(ctx: Ctx, actor: Auditor) -> dict[str, Any]:
    return {"published": trustlists.published_status(ctx), "imported": trustlists.status(ctx)}


@router.post(_PREFIX + "/tsps", status_code=201, summary="Add a trust service provider")
def add_tsp(body: ProviderIn, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    trustlists.add_provider(
        ctx, body.name, actor, trade_name=body.trade_name, info_uri=body.info_uri
    )
    return {"name": body.name}


@router.patch(_PREFIX + "/tsps/{name}", summary="Update a trust service provider")
def update_tsp(name: str, body: ProviderPatch, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    trustlists.update_provider(
        ctx, name, actor, trade_name=body.trade_name, info_uri=body.info_uri, new_name=body.new_name
    )
    return {"name": body.new_name or name}


@router.post(_PREFIX + "/tsps/{name}/services", status_code=201, summary="Add a trust service")
def add_service(name: str, body: ServiceIn, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    trustlists.add_service(
        ctx,
        name,
        body.name,
        body.type,
        _pems(body.certificate_pem)[0],
        actor,
        status=body.status,
        starting_time=body.starting_time,
        additional_info=body.additional_info,
        qualifiers=body.qualifiers,
    )
    return {"provider": name, "service": body.name, "status": body.status}


@router.post(
    _PREFIX + "/tsps/{name}/services/{service}/status",
    summary="Change a service's status (withdraw, grant)",
)
def set_status(
    name: str, service: str, body: StatusIn, ctx: Ctx, actor: Operator
) -> dict[str, Any]:
    trustlists.set_status(ctx, name, service, body.status, actor, starting_time=body.starting_time)
    return {"provider": name, "service": service, "status": body.status}


@router.post(_PREFIX + "/local-services", summary="List this instance's CAs and TSA")
def add_local(ctx: Ctx, actor: Operator) -> dict[str, Any]:
    return {"added": trustlists.add_local_services(ctx, actor)}


@router.put(_PREFIX + "/pointers", summary="Point the list of lists at a member list")
def put_pointer(body: PointerIn, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    trustlists.add_pointer(
        ctx,
        body.territory,
        body.location,
        _pems(body.signer_pem),
        actor,
        operator_name=body.operator_name,
    )
    return {"territory": body.territory.upper()}


@router.post(_PREFIX + "/publish", summary="Sign and publish the next trusted list")
def publish(ctx: Ctx, actor: Admin) -> dict[str, Any]:
    return trustlists.publish(ctx, actor).to_dict()


@router.post(_PREFIX + "/publish-lotl", summary="Sign and publish the next list of lists")
def publish_lotl(ctx: Ctx, actor: Admin) -> dict[str, Any]:
    return trustlists.publish_lotl(ctx, actor).to_dict()


class RotateIn(BaseModel):
    ca: str = Field("people", description="The CA that issues the new signer certificate.")


@router.post(
    _PREFIX + "/rotate-lotl-signer",
    summary="Change the LOTL's signing key: a pivot LOTL, then the next LOTL (new key)",
)
def rotate_lotl_signer(body: RotateIn, ctx: Ctx, actor: Admin) -> dict[str, Any]:
    return trustlists.rotate_lotl_signer(ctx, actor, ca=body.ca).to_dict()


@router.post(_PREFIX + "/imports", summary="Import a list (or a list of lists) by URL or XML")
def import_list(body: ImportIn, request: Request, ctx: Ctx, actor: Admin) -> dict[str, Any]:
    data = None
    if body.xml_base64 is not None:
        try:
            data = base64.b64decode(body.xml_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InputError("xml_base64 is not base64") from None
    if (data is None) == (body.url is None):
        raise InputError("give exactly one of url and xml_base64")
    return trustlists.import_list(
        ctx,
        actor,
        pinned=_pems(body.signer_pem),
        data=data,
        url=body.url,
        lotl=body.lotl,
        name=body.name,
        transport=getattr(request.app.state, "trustlist_transport", None),
    )


@router.post(_PREFIX + "/refresh", summary="Fetch the followed lists that are due")
def refresh(
    request: Request, ctx: Ctx, actor: Operator, force: bool = False
) -> list[dict[str, Any]]:
    return trustlists.refresh(
        ctx, actor, transport=getattr(request.app.state, "trustlist_transport", None), force=force
    )
