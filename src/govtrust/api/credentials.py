"""``/api/v1/credentials``: signing credentials (keys in govtrust's custody and their
certificates), as ``govtrust credential create|list|show``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from govtrust.api.auth import Ctx, requires
from govtrust.services import Actor, credentials

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/credentials", tags=["Credentials"])

Auditor = Annotated[Actor, Depends(requires("auditor"))]
Operator = Annotated[Actor, Depends(requires("operator"))]


class CreateCredential(BaseModel):
    name: str = Field(description="Lower-case name signers use (govtrust sign --as NAME).")
    ca: str = Field(description="Issuing CA.")
    profile: Literal["official", "seal", "tsa"]
    subject: str = Field(description="RFC 4514 subject, e.g. CN=Ministry of Finance,...")
    key: str = Field("ec-p256", description="ec-p256|ec-p384|rsa-3072|rsa-4096")
    backend: Literal["software", "pkcs11"] = "software"
    sans: list[str] = Field(default_factory=list, description="email:, uri: (per profile).")


@router.get("", summary="List credentials (govtrust credential list)")
def list_credentials(ctx: Ctx, actor: Auditor) -> list[dict[str, Any]]:
    return [c.to_dict(with_pem=False) for c in credentials.list_credentials(ctx)]


@router.get("/{name}", summary="Show a credential (govtrust credential show)")
def get_credential(name: str, ctx: Ctx, actor: Auditor) -> dict[str, Any]:
    return credentials.describe_credential(ctx, name).to_dict()


@router.post(
    "",
    status_code=201,
    summary="Create a credential: a key in custody and its certificate "
    "(govtrust credential create)",
)
def create_credential(body: CreateCredential, ctx: Ctx, actor: Operator) -> dict[str, Any]:
    info = credentials.create_credential(
        ctx,
        body.name,
        body.ca,
        body.profile,
        body.subject,
        actor,
        key=body.key,
        backend=body.backend,
        sans=body.sans,
    )
    return info.to_dict()
