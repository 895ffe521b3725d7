"""The REST API, ``/api/v1``: every CLI action, for integrators."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from govtrust.api.auth import Ctx, requires
from govtrust.ca.crl import RevocationReason
from govtrust.ca.profiles import distribution_base_url
from govtrust.crypto.keys import KeySpec
from govtrust.services import Actor, authorities, certificates, revocation, tokens
from govtrust.services import audit as audit_svc

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")

Auditor = Annotated[Actor, Depends(requires("auditor"))]
Operator = Annotated[Actor, Depends(requires("operator"))]
Admin = Annotated[Actor, Depends(requires("admin"))]


class CreateCA(BaseModel):
    name: str = Field(description="Lower-case name, used in URLs (/ca/NAME.crt).")
    subject: str = Field(description="RFC 4514 subject, e.g. CN=AA Root CA,O=Government,C=AA")
    parent: str | None = Field(None, description="Parent CA; absent for a root.")
    key: str | None = Field(
        None,
        description="ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096|ed25519; "
        "default ec-p384 for a root, ec-p256 for an intermediate (as the CLI)",
    )
    backend: Literal["software", "pkcs11"] = "software"
    validity_days: int | None = Field(None, gt=0)
    path_length: int | None = Field(0, ge=0)
    extended_key_usage: list[str] = Field(
        default_factory=list, description="For an intermediate: server_auth, client_auth, ..."
    )


class IssueRequest(BaseModel):
    ca: str
    profile: str
    csr: str = Field(description="PKCS#10 request in PEM (or base64 DER).")


class RevokeRequest(BaseModel):
    reason: str = Field(
        description="unspecified, key-compromise, ca-compromise, "
        "affiliation-changed, superseded, cessation-of-operation, "
        "privilege-withdrawn"
    )
    invalidity_date: dt.datetime | None = None


class CreateToken(BaseModel):
    name: str
    role: Literal["admin", "operator", "auditor"]
    profiles: list[str] | None = None


def _csr_bytes(text: str) -> bytes:
    if "-----BEGIN" in text:
        return text.encode()
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        from govtrust.errors import MalformedCSR

        raise MalformedCSR("csr must be PEM or base64-encoded DER") from None


# ---- CAs -------------------------------------------------------------------------------


@router.get("/cas", tags=["CAs"], summary="List CAs (govtrust ca list)")
def list_cas(ctx: Ctx, actor: Auditor) -> list[dict[str, Any]]:
    return [c.to_dict(ctx.settings.public_base_url) for c in authorities.list_cas(ctx)]


@router.get("/cas/{name}", tags=["CAs"], summary="Show a CA (govtrust ca show)")
def get_ca(name: str, ctx: Ctx, actor: Auditor) -> dict[str, Any]:
    return authorities.get_ca(ctx, name).to_dict(ctx.settings.public_base_url)


@router.post(
    "/cas",
    tags=["CAs"],
    status_code=201,
    summary="Create a root or intermediate CA (govtrust ca create-root|create-intermediate)",
)
def create_ca(body: CreateCA, ctx: Ctx, actor: Admin) -> dict[str, Any]:
    if body.parent is None:
        key = KeySpec.parse(body.key or "ec-p384")
        ca = authorities.create_root(
            ctx,
            body.name,
            body.subject,
            actor,
            key=key,
            backend=body.backend,
            validity_days=body.validity_days or 7300,
        )
    else:
        key = KeySpec.parse(body.key or "ec-p256")
        ca = authorities.create_intermediate(
            ctx,
            body.name,
            body.parent,
            body.subject,
            actor,
            key=key,
            backend=body.backend,
            validity_days=body.validity_days or 3650,
            path_length=body.path_length,
            extended_key_usage=body.extended_key_usage,
        )
    return ca.to_dict(ctx.settings.public_base_url)


# ---- certificates ----------------------------------------------------------------------


@router.post(
    "/certificates",
    tags=["Certificates"],
    status_code=201,
    summary="Issue a certificate from a CSR (govtrust cert issue)",
)
async def issue(body: IssueRequest, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    # On the event loop, not in the thread pool: the CSR check and the signatures are
    # ~1 ms of CPU, and the commit is awaited (group commit, services/certificates.py).
    request = certificates.parse_csr(_csr_bytes(body.csr))
    info = await certificates.issue_async(ctx, body.ca, body.profile, request, actor)
    return info.to_dict()


@router.get(
    "/certificates", tags=["Certificates"], summary="List certificates (govtrust cert list)"
)
def list_certificates(
    ctx: Ctx,
    actor: Auditor,
    ca: str | None = None,
    profile: str | None = None,
    status: Literal["valid", "revoked", "expired"] | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    certs = certificates.list_certificates(
        ctx, ca=ca, profile=profile, status=status, limit=limit, offset=offset
    )
    return [c.to_dict(with_pem=False) for c in certs]


@router.get(
    "/certificates/{serial}",
    tags=["Certificates"],
    summary="Show a certificate (govtrust cert show)",
)
def get_certificate(serial: str, ctx: Ctx, actor: Auditor) -> dict[str, Any]:
    return certificates.get_certificate(ctx, serial).to_dict()


@router.post(
    "/certificates/{serial}/revoke",
    tags=["Certificates"],
    summary="Revoke a certificate (govtrust cert revoke)",
)
def revoke(serial: str, body: RevokeRequest, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    cert = revocation.revoke(
        ctx,
        serial,
        RevocationReason.parse(body.reason),
        actor,
        invalidity_date=body.invalidity_date,
    )
    return cert.to_dict(with_pem=False)


@router.post(
    "/certificates/{serial}/renew",
    tags=["Certificates"],
    status_code=201,
    summary="Renew a certificate (govtrust cert renew)",
)
def renew(serial: str, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    return certificates.renew(ctx, serial, actor).to_dict()


@router.get("/profiles", tags=["Certificates"], summary="Certificate profiles and their rules")
def list_profiles(ctx: Ctx, actor: Auditor) -> list[dict[str, Any]]:
    return [p.spec.to_dict() for p in ctx.profiles]


# ---- revocation services ---------------------------------------------------------------


@router.post(
    "/crls/{ca}",
    tags=["Revocation"],
    status_code=201,
    summary="Issue the CA's next CRL now (govtrust crl generate)",
)
def generate_crl(ca: str, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    crl = revocation.generate_crl(ctx, ca, actor)
    return {
        "ca": crl.ca,
        "number": crl.number,
        "entries": crl.entries,
        "this_update": crl.this_update.isoformat(),
        "next_update": crl.next_update.isoformat(),
        "sha256": crl.sha256,
        "url": f"{distribution_base_url(ctx.settings.public_base_url)}/crl/{crl.ca}.crl",
    }


@router.post(
    "/ocsp/refresh",
    tags=["Revocation"],
    summary="Pre-sign due OCSP responses (govtrust ocsp refresh)",
)
def refresh_ocsp(ctx: Ctx, actor: Operator) -> dict[str, Any]:
    return revocation.refresh_ocsp(ctx, actor).to_dict()


# ---- tokens and audit -------------------------------------------------------------------


@router.get("/tokens", tags=["Administration"], summary="List API tokens (govtrust token list)")
def list_tokens(ctx: Ctx, actor: Admin) -> list[dict[str, Any]]:
    return [t.to_dict() for t in tokens.list_tokens(ctx)]


@router.post(
    "/tokens",
    tags=["Administration"],
    status_code=201,
    summary="Create an API token (govtrust token create); the secret is returned once",
)
def create_token(body: CreateToken, ctx: Ctx, actor: Admin, response: Response) -> dict[str, Any]:
    info, secret = tokens.create_token(ctx, body.name, body.role, actor, body.profiles)
    response.headers["Cache-Control"] = "no-store"
    return {**info.to_dict(), "token": secret}


@router.delete(
    "/tokens/{name}", tags=["Administration"], summary="Revoke an API token (govtrust token revoke)"
)
def revoke_token(name: str, ctx: Ctx, actor: Admin) -> dict[str, Any]:
    return tokens.revoke_token(ctx, name, actor).to_dict()


@router.get("/audit", tags=["Administration"], summary="The audit trail (govtrust audit list)")
def list_audit(
    ctx: Ctx,
    actor: Auditor,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    events = audit_svc.list_events(ctx, action=action, limit=limit, offset=offset)
    return [{"id": i, **json.loads(e.canonical())} for i, e in events]
