"""``govtrust credential``: signing credentials (a key in govtrust's custody and its
certificate) for officials, agency seals and the timestamp authority."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rich.table import Table

from govtrust.cli._common import App, JsonOpt, actor, open_context, out, print_json, write_file
from govtrust.services import credentials
from govtrust.services.credentials import CredentialInfo

__all__ = ["credential_app"]

credential_app = App(
    help="Signing credentials: keys in govtrust's custody with their certificates.",
    no_args_is_help=True,
)


def _show(info: CredentialInfo, json_: bool) -> None:
    if json_:
        print_json(info.to_dict())
        return
    for key, value in info.to_dict(with_pem=False).items():
        if isinstance(value, list):
            value = "; ".join(value)
        out.print(f"[bold]{key}[/bold]: {value}")


@credential_app.command("create")
def credential_create(
    name: str,
    ca: Annotated[str, typer.Option(help="Issuing CA.")],
    profile: Annotated[str, typer.Option(help="official|seal|tsa")],
    subject: Annotated[str, typer.Option(help="RFC 4514 subject of the certificate.")],
    key: Annotated[str, typer.Option(help="ec-p256|ec-p384|rsa-3072|rsa-4096")] = "ec-p256",
    backend: Annotated[str, typer.Option(help="Where the key lives: software|pkcs11")] = (
        "software"
    ),
    san: Annotated[
        list[str] | None, typer.Option(help="email:, uri: (repeatable, per profile).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Generate a key in custody and issue its certificate: a credential named NAME."""
    with open_context() as ctx:
        info = credentials.create_credential(
            ctx, name, ca, profile, subject, actor(), key=key, backend=backend, sans=san or ()
        )
        _show(info, json_)


@credential_app.command("register")
def credential_register(
    name: str,
    serial: Annotated[str, typer.Option(help="Serial of a certificate whose key govtrust holds.")],
    json_: JsonOpt = False,
) -> None:
    """Name an existing certificate, whose key is in govtrust's custody, as a credential."""
    with open_context() as ctx:
        _show(credentials.register_credential(ctx, name, serial, actor()), json_)


@credential_app.command("list")
def credential_list(json_: JsonOpt = False) -> None:
    """List credentials."""
    with open_context() as ctx:
        items = credentials.list_credentials(ctx)
        if json_:
            print_json([c.to_dict(with_pem=False) for c in items])
            return
        table = Table()
        table.add_column("name", no_wrap=True)
        for column in ("profile", "CA", "key", "backend", "not after", "status"):
            table.add_column(column)
        for c in items:
            table.add_row(
                c.name,
                c.profile,
                c.ca,
                c.key_spec,
                c.backend,
                c.not_after.date().isoformat(),
                c.status,
            )
        out.print(table)


def _pem(ders: tuple[bytes, ...]) -> bytes:
    return b"".join(
        x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM) for d in ders
    )


@credential_app.command("show")
def credential_show(
    name: str,
    json_: JsonOpt = False,
    cert_out: Annotated[
        Path | None, typer.Option(help="Write the certificate (PEM) to this file.")
    ] = None,
    chain_out: Annotated[
        Path | None,
        typer.Option(help="Write the issuer chain up to the root (PEM), e.g. for openssl -CAfile."),
    ] = None,
) -> None:
    """Show a credential: its certificate, status and chain."""
    with open_context() as ctx:
        info = credentials.describe_credential(ctx, name)
    if cert_out is not None:
        write_file(cert_out, info.pem.encode())
    if chain_out is not None:
        write_file(chain_out, _pem(info.chain_der))
    _show(info, json_)


@credential_app.command("bind-token")
def credential_bind_token(name: str, token: str) -> None:
    """Bind the API token TOKEN to credential NAME (remote signing with NAME only)."""
    with open_context() as ctx:
        credentials.bind_token(ctx, name, token, actor())
    out.print(f"Token {token} is bound to credential {name}.")


@credential_app.command("unbind-token")
def credential_unbind_token(token: str) -> None:
    """Remove the credential binding of the API token TOKEN."""
    with open_context() as ctx:
        credentials.unbind_token(ctx, token, actor())
    out.print(f"Token {token} is bound to no credential.")
