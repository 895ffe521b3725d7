"""``govtrust``: command-line interface.

Every command prints one clear line to stderr and exits non-zero on error: 1 for a
refused or failed action, 2 for a usage error (Click's convention).
"""

from __future__ import annotations

import datetime as dt
import difflib
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer
import typer.main
from cryptography.hazmat.primitives import serialization
from typer import _click as click
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup

from govtrust.ca.crl import RevocationReason
from govtrust.ca.names import parse_san, parse_subject
from govtrust.ca.profiles import CertificateRequest
from govtrust.cli._common import (
    App,
    JsonOpt,
    actor,
    open_context,
    out,
    print_json,
    read_file,
    write_file,
)
from govtrust.config import home_from_env, load_settings
from govtrust.crypto.keys import KeySpec
from govtrust.errors import Error, InputError
from govtrust.services import Context, authorities, certificates, revocation, tokens
from govtrust.services import audit as audit_svc

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["app", "main"]


class _Lazy(NamedTuple):
    """Where a sub-command lives: ``attribute`` of ``module`` is a Typer sub-application
    (``kind="app"``) or a ``register(app)`` function that adds top-level commands
    (``kind="register"``). ``help`` is the one line ``govtrust --help`` shows without
    importing the module; ``also`` are modules whose import registers more commands on
    the sub-application (``ledger_remote`` adds ``ledger audit`` and ``ledger witness``)."""

    module: str
    attribute: str
    kind: str
    help: str
    also: tuple[str, ...] = ()


# Every sub-command that lives in its own module, in the order ``--help`` lists them.
# Each module is imported only when its command runs (or for shell completion): the
# modules pull in pyHanko, aiohttp, httpx, lxml..., which cost ~1 s at every start of
# every command otherwise (bench/README.md).
_LAZY: dict[str, _Lazy] = {
    "sign": _Lazy(
        "govtrust.cli.sign",
        "register",
        "register",
        "Sign FILE with a credential held by govtrust, or every file of --batch DIR.",
    ),
    "augment": _Lazy(
        "govtrust.cli.sign",
        "register",
        "register",
        "Bring FILE's signatures up to --level (timestamps, validation data).",
    ),
    "verify": _Lazy("govtrust.cli.verify", "register", "register", "Validate signed documents."),
    "tsa": _Lazy(
        "govtrust.cli.tsa", "tsa_app", "app", "Timestamps (RFC 3161): ask a TSA for a token."
    ),
    "credential": _Lazy(
        "govtrust.cli.credential",
        "credential_app",
        "app",
        "Signing credentials: keys in govtrust's custody with their certificates.",
    ),
    "ledger": _Lazy(
        "govtrust.cli.ledger",
        "ledger_app",
        "app",
        "The transparency ledger: checkpoints, receipts, search, sequencing, checks.",
        also=("govtrust.cli.ledger_remote",),
    ),
    "trustlist": _Lazy(
        "govtrust.cli.trustlist", "trustlist_app", "app", "Trusted lists (ETSI TS 119 612)."
    ),
    "portal": _Lazy(
        "govtrust.cli.portal", "portal_app", "app", "The web portal: operator accounts."
    ),
}


class _LazyGroup(TyperGroup):
    """The top-level group: the commands in :data:`_LAZY` are built from their module
    on first use, after Click's "lazy loading subcommands" pattern
    (https://click.palletsprojects.com/en/stable/complex/#lazily-loading-subcommands).
    ``govtrust --help`` lists them with their one-line help, importing nothing."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = [n for n in self.commands if n not in _LAZY]
        first = [n for n in ("sign", "augment", "verify") if n in _LAZY]
        rest = [n for n in _LAZY if n not in first]
        return [*first, *eager, *rest]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = self.commands.get(cmd_name)
        if found is not None or cmd_name not in _LAZY:
            return found
        if self._listing:
            return TyperCommand(cmd_name, short_help=_LAZY[cmd_name].help)
        return self._load(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            # TyperGroup suggests among the commands built so far; add the lazy ones.
            if self.suggest_commands and args and "Did you mean" not in exc.message:
                matches = difflib.get_close_matches(args[0], list(_LAZY))
                if matches:
                    names = ", ".join(repr(m) for m in matches)
                    exc.message = f"{exc.message.rstrip('.')}. Did you mean {names}?"
            raise

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def _load(self, cmd_name: str) -> click.Command | None:
        spec = _LAZY[cmd_name]
        module = importlib.import_module(spec.module)
        for extra in spec.also:
            importlib.import_module(extra)
        target = getattr(module, spec.attribute)
        if spec.kind == "app":
            group = typer.main.get_group(target)
            group.name = cmd_name
            self.commands[cmd_name] = group
        else:
            holder = App()
            target(holder)
            if holder.registered_commands or holder.registered_groups:
                for name, command in typer.main.get_group(holder).commands.items():
                    self.commands.setdefault(name, command)
        return self.commands.get(cmd_name)


app = App(
    name="govtrust",
    help="Trust services for digital government: CA, OCSP, CRL and more.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_LazyGroup,
)
ca_app = App(help="Certification authorities.", no_args_is_help=True)
cert_app = App(help="Certificates: issue, show, list, revoke, renew.", no_args_is_help=True)
crl_app = App(help="Certificate revocation lists.", no_args_is_help=True)
ocsp_app = App(help="OCSP responders.", no_args_is_help=True)
token_app = App(help="API tokens and their roles.", no_args_is_help=True)
audit_app = App(help="The audit trail.", no_args_is_help=True)
profile_app = App(help="Certificate profiles.", no_args_is_help=True)
app.add_typer(ca_app, name="ca")
app.add_typer(cert_app, name="cert")
app.add_typer(crl_app, name="crl")
app.add_typer(ocsp_app, name="ocsp")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(profile_app, name="profile")

# ---- init and serve --------------------------------------------------------------------


@app.command()
def init(
    demo: Annotated[bool, typer.Option(help="Seed a demonstration country.")] = False,
    country: Annotated[str, typer.Option(help="ISO 3166 code of the country.")] = "AA",
    public_url: Annotated[
        str | None, typer.Option(help="Public base URL named in certificates.")
    ] = None,
) -> None:
    """Create the data directory (GOVTRUST_HOME, default ./govtrust-data)."""
    home = home_from_env(os.environ)
    from govtrust.services.setup import init_home

    report = init_home(home, dict(os.environ), demo=demo, country=country, base_url=public_url)
    out.print(f"Initialised [bold]{home}[/bold]")
    if report.cas:
        out.print(f"CAs: {', '.join(report.cas)}; sample certificates: {len(report.certificates)}")
    if report.admin_token_file:
        out.print(f"Admin API token saved in {report.admin_token_file} (mode 0600).")
    else:
        # Shown once, on the operator's own terminal, never logged or stored in clear.
        out.print("Admin API token (shown once, store it safely):")
        sys.stdout.write(report.admin_token + "\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the REST API, the protocol endpoints and the landing page."""
    import uvicorn

    from govtrust.services.context import SKIP_MIGRATIONS_ENV
    from govtrust.store.engine import Database, upgrade

    settings = load_settings(os.environ)
    if not (settings.home / "govtrust.toml").exists():
        raise Error(f"{settings.home} is not a govtrust data directory: run 'govtrust init'")
    # Migrate once, here: the workers then open their context without Alembic (which
    # they would otherwise import, ~11 MiB and ~0.3 s each) and answer sooner.
    db = Database(settings.database_url)
    try:
        upgrade(db)
    finally:
        db.dispose()
    os.environ["GOVTRUST_HOME"] = str(settings.home)
    os.environ[SKIP_MIGRATIONS_ENV] = "1"
    try:
        uvicorn.run(
            "govtrust.api.app:create_server",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=False,
            server_header=False,
            # A spawned worker imports the whole application before it answers the
            # supervisor's health check; uvicorn's 5 s default killed and respawned
            # workers on a loaded 2-core machine (bench/README.md). This also bounds how
            # long a hung worker goes unnoticed.
            timeout_worker_healthcheck=60,
        )
    finally:
        os.environ.pop(SKIP_MIGRATIONS_ENV, None)


# ---- CAs -------------------------------------------------------------------------------

KeyOpt = Annotated[
    str, typer.Option("--key", help="ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096|ed25519")
]
BackendOpt = Annotated[str, typer.Option("--backend", help="software|pkcs11")]


def _ca_table(cas: list[authorities.CAInfo]) -> Table:
    from rich.table import Table

    table = Table("name", "subject", "parent", "key", "backend", "not after", "CRL #")
    for ca in cas:
        table.add_row(
            ca.name,
            ca.subject,
            ca.parent or "-",
            ca.key_spec,
            ca.backend,
            ca.not_after.date().isoformat(),
            str(ca.crl_number),
        )
    return table


@ca_app.command("create-root")
def ca_create_root(
    name: str,
    subject: Annotated[str, typer.Option(help='RFC 4514, e.g. "CN=AA Root CA,O=Government,C=AA"')],
    key: KeyOpt = "ec-p384",
    backend: BackendOpt = "software",
    validity_days: Annotated[int, typer.Option(help="Validity in days.")] = 7300,
    json_: JsonOpt = False,
) -> None:
    """Create a self-signed root CA."""
    with open_context() as ctx:
        ca = authorities.create_root(
            ctx,
            name,
            subject,
            actor(),
            key=KeySpec.parse(key),
            backend=backend,
            validity_days=validity_days,
        )
        _show_ca(ctx, ca, json_)


@ca_app.command("create-intermediate")
def ca_create_intermediate(
    name: str,
    parent: Annotated[str, typer.Option(help="Name of the issuing (parent) CA.")],
    subject: Annotated[str, typer.Option(help="RFC 4514 subject.")],
    key: KeyOpt = "ec-p256",
    backend: BackendOpt = "software",
    validity_days: Annotated[int, typer.Option(help="Validity in days.")] = 3650,
    path_length: Annotated[int, typer.Option(help="pathLenConstraint (-1: none).")] = 0,
    eku: Annotated[
        list[str] | None,
        typer.Option(help="Limit the CA to an extended key usage, e.g. server_auth (repeatable)."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Create a subordinate CA signed by PARENT."""
    with open_context() as ctx:
        ca = authorities.create_intermediate(
            ctx,
            name,
            parent,
            subject,
            actor(),
            key=KeySpec.parse(key),
            backend=backend,
            validity_days=validity_days,
            path_length=None if path_length < 0 else path_length,
            extended_key_usage=eku or (),
        )
        _show_ca(ctx, ca, json_)


def _show_ca(ctx: Context, ca: authorities.CAInfo, json_: bool) -> None:
    if json_:
        print_json(ca.to_dict(ctx.settings.public_base_url))
        return
    data = ca.to_dict(ctx.settings.public_base_url)
    for key in (
        "name",
        "subject",
        "parent",
        "key",
        "backend",
        "serial",
        "not_before",
        "not_after",
        "sha256",
        "crl_number",
        "crl_next_update",
        "ocsp_signer_serial",
        "certificate_url",
        "crl_url",
        "ocsp_url",
    ):
        out.print(f"[bold]{key}[/bold]: {data[key]}")


@ca_app.command("list")
def ca_list(json_: JsonOpt = False) -> None:
    """List the CAs."""
    with open_context() as ctx:
        cas = authorities.list_cas(ctx)
        if json_:
            print_json([c.to_dict(ctx.settings.public_base_url) for c in cas])
        else:
            out.print(_ca_table(cas))


@ca_app.command("show")
def ca_show(
    name: str,
    json_: JsonOpt = False,
    pem: Annotated[bool, typer.Option("--pem", help="Print the certificate in PEM.")] = False,
) -> None:
    """Show one CA."""
    with open_context() as ctx:
        ca = authorities.get_ca(ctx, name)
        if pem:
            sys.stdout.write(ca.pem)
        else:
            _show_ca(ctx, ca, json_)


# ---- certificates ----------------------------------------------------------------------


def _cert_table(certs: list[certificates.CertificateInfo]) -> Table:
    from rich.table import Table

    table = Table("serial", "CA", "profile", "subject", "not after", "status")
    for c in certs:
        table.add_row(
            c.serial, c.ca, c.profile, c.subject, c.not_after.date().isoformat(), c.status
        )
    return table


def _show_cert(cert: certificates.CertificateInfo, json_: bool) -> None:
    if json_:
        print_json(cert.to_dict())
        return
    for key, value in cert.to_dict(with_pem=False).items():
        if value not in (None, []):
            out.print(f"[bold]{key}[/bold]: {value}")


def _p12_passphrase(path: Path | None) -> bytes:
    if path is not None:
        text = read_file(path).decode().strip()
        if not text:
            raise InputError(f"{path} is empty")
        return text.encode()
    env = os.environ.get("GOVTRUST_P12_PASSPHRASE")
    if env:
        return env.encode()
    if sys.stdin.isatty():
        value: str = typer.prompt(
            "Passphrase for the PKCS#12 file", hide_input=True, confirmation_prompt=True
        )
        return value.encode()
    raise InputError(
        "a PKCS#12 passphrase is needed: --p12-passphrase-file or GOVTRUST_P12_PASSPHRASE"
    )


@cert_app.command("issue")
def cert_issue(
    ca: Annotated[str, typer.Option(help="Issuing CA.")],
    profile: Annotated[str, typer.Option(help="Certificate profile.")],
    csr: Annotated[Path | None, typer.Option(help="PKCS#10 request, PEM or DER.")] = None,
    subject: Annotated[
        str | None, typer.Option(help="RFC 4514 subject (with --generate-key).")
    ] = None,
    san: Annotated[
        list[str] | None, typer.Option(help="dns:, ip:, email:, uri: (repeatable).")
    ] = None,
    generate_key: Annotated[bool, typer.Option(help="Make the key pair here.")] = False,
    key: KeyOpt = "ec-p256",
    p12_out: Annotated[Path | None, typer.Option(help="Write key + chain as PKCS#12.")] = None,
    p12_passphrase_file: Annotated[
        Path | None, typer.Option(help="Passphrase for --p12-out.")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the certificate (PEM).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Issue a certificate from a CSR, or for a key pair generated on this machine."""
    if (csr is None) == (not generate_key):
        raise InputError("give either --csr FILE or --subject ... --generate-key --p12-out FILE")
    private_key = None
    if csr is not None:
        if subject or san:
            raise InputError("--subject and --san come from the CSR; do not combine them")
        request = certificates.parse_csr(read_file(csr))
    else:
        if not subject:
            raise InputError("--generate-key needs --subject")
        if p12_out is None:
            raise InputError("--generate-key needs --p12-out FILE to receive the key")
        passphrase = _p12_passphrase(p12_passphrase_file)
        # The key is made here, in the CLI's process, and goes only into the
        # PKCS#12 file: the service sees a public key, as it would from a CSR.
        private_key = KeySpec.parse(key).generate()
        request = CertificateRequest(
            parse_subject(subject),
            private_key.public_key(),
            tuple(parse_san(s) for s in san or ()),
        )
    # The key must have somewhere to go before a certificate is issued for it.
    staged = _staging_file(p12_out) if private_key is not None and p12_out else None
    try:
        with open_context() as ctx:
            cert = certificates.issue(ctx, ca, profile, request, actor())
            if staged is not None and private_key is not None and p12_out is not None:
                from cryptography import x509

                leaf = x509.load_der_x509_certificate(cert.der)
                chain = _chain(ctx, ca)
                from cryptography.hazmat.primitives.serialization import pkcs12

                blob = pkcs12.serialize_key_and_certificates(
                    cert.subject.encode(),
                    private_key,
                    leaf,
                    chain,
                    serialization.BestAvailableEncryption(passphrase),
                )
                fd, tmp = staged
                staged = None
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(blob)
                    os.replace(tmp, p12_out)
                except OSError as exc:
                    tmp.unlink(missing_ok=True)
                    raise Error(f"cannot write {p12_out}: {exc.strerror}") from None
            if out_file is not None:
                write_file(out_file, cert.pem.encode())
            _show_cert(cert, json_)
    finally:
        if staged is not None:  # nothing was issued: leave no file behind
            os.close(staged[0])
            staged[1].unlink(missing_ok=True)


def _staging_file(target: Path) -> tuple[int, Path]:
    """A private (0600) temporary file beside ``target``, renamed onto it once written."""
    if target.is_dir():
        raise InputError(f"cannot write {target}: it is a directory")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise Error(f"cannot write {target}: {exc.strerror}") from None
    return fd, Path(name)


def _chain(ctx: Context, ca_name: str) -> list[Any]:
    from cryptography import x509

    chain = []
    name: str | None = ca_name
    while name:
        info = authorities.get_ca(ctx, name)
        chain.append(x509.load_der_x509_certificate(info.cert_der))
        name = info.parent
    return chain


@cert_app.command("show")
def cert_show(
    serial: str,
    json_: JsonOpt = False,
    pem: Annotated[bool, typer.Option("--pem", help="Print the certificate in PEM.")] = False,
) -> None:
    """Show a certificate by serial number (hex, colons allowed)."""
    with open_context() as ctx:
        cert = certificates.get_certificate(ctx, serial)
        if pem:
            sys.stdout.write(cert.pem)
        else:
            _show_cert(cert, json_)


@cert_app.command("list")
def cert_list(
    ca: Annotated[str | None, typer.Option(help="Only this CA.")] = None,
    profile: Annotated[str | None, typer.Option(help="Only this profile.")] = None,
    status: Annotated[str | None, typer.Option(help="valid|revoked|expired")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    json_: JsonOpt = False,
) -> None:
    """List certificates, newest first."""
    with open_context() as ctx:
        certs = certificates.list_certificates(
            ctx, ca=ca, profile=profile, status=status, limit=limit, offset=offset
        )
        if json_:
            print_json([c.to_dict(with_pem=False) for c in certs])
        else:
            out.print(_cert_table(certs))


def _parse_time(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@cert_app.command("revoke")
def cert_revoke(
    serial: str,
    reason: Annotated[str, typer.Option(help="key-compromise, superseded, ... (RFC 5280)")],
    invalidity_date: Annotated[str | None, typer.Option(help="ISO 8601 time.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Revoke a certificate; the CRL and OCSP answers change at once."""
    parsed_reason = RevocationReason.parse(reason)
    when = _parse_time(invalidity_date) if invalidity_date else None
    with open_context() as ctx:
        cert = revocation.revoke(ctx, serial, parsed_reason, actor(), invalidity_date=when)
        if json_:
            print_json(cert.to_dict(with_pem=False))
        else:
            out.print(f"Revoked {cert.serial} ({cert.revocation_reason}) at {cert.revoked_at}")


@cert_app.command("renew")
def cert_renew(
    serial: str,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the new certificate.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Issue a new certificate for the same subject, names, key and profile."""
    with open_context() as ctx:
        cert = certificates.renew(ctx, serial, actor())
        if out_file is not None:
            write_file(out_file, cert.pem.encode())
        _show_cert(cert, json_)


# ---- CRL and OCSP ----------------------------------------------------------------------


@crl_app.command("generate")
def crl_generate(
    ca: Annotated[str, typer.Option(help="The CA whose CRL to issue.")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the CRL (DER).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Issue the CA's next CRL now."""
    with open_context() as ctx:
        crl = revocation.generate_crl(ctx, ca, actor())
        if out_file is not None:
            write_file(out_file, crl.der)
        info = {
            "ca": crl.ca,
            "number": crl.number,
            "entries": crl.entries,
            "this_update": crl.this_update.isoformat(),
            "next_update": crl.next_update.isoformat(),
            "sha256": crl.sha256,
        }
        if json_:
            print_json(info)
        else:
            out.print(
                f"CRL #{crl.number} for {crl.ca}: {crl.entries} entries, "
                f"next update {crl.next_update.isoformat()}"
            )


@ocsp_app.command("refresh")
def ocsp_refresh(json_: JsonOpt = False) -> None:
    """Pre-sign OCSP responses that are missing or due, renew responder certificates."""
    with open_context() as ctx:
        report = revocation.refresh_ocsp(ctx, actor())
        if json_:
            print_json(report.to_dict())
        else:
            out.print(
                f"Signed {report.signed} OCSP responses; renewed responders: "
                f"{', '.join(report.responders_renewed) or 'none'}"
            )
        if report.failed:
            for name, why in report.failed.items():
                typer.echo(f"error: CA {name}: {why}", err=True)
            raise typer.Exit(1)


# ---- tokens, audit, profiles ------------------------------------------------------------


@token_app.command("create")
def token_create(
    name: str,
    role: Annotated[str, typer.Option(help="admin|operator|auditor")],
    profile: Annotated[
        list[str] | None, typer.Option(help="Limit an operator to profiles.")
    ] = None,
) -> None:
    """Create an API token; the secret is printed once."""
    with open_context() as ctx:
        info, secret = tokens.create_token(ctx, name, role, actor(), profile)
        out.print(f"Token {info.name} ({info.role}) created. Secret (shown once):", style="bold")
        sys.stdout.write(secret + "\n")


@token_app.command("list")
def token_list(json_: JsonOpt = False) -> None:
    """List API tokens (never their secrets)."""
    with open_context() as ctx:
        items = tokens.list_tokens(ctx)
        if json_:
            print_json([t.to_dict() for t in items])
            return
        from rich.table import Table

        table = Table("name", "role", "profiles", "created", "revoked")
        for t in items:
            table.add_row(
                t.name,
                t.role,
                ", ".join(t.profiles or ["all"]),
                t.created_at.isoformat(),
                t.revoked_at.isoformat() if t.revoked_at else "",
            )
        out.print(table)


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    """Revoke an API token."""
    with open_context() as ctx:
        tokens.revoke_token(ctx, name, actor())
        out.print(f"Token {name} revoked.")


@audit_app.command("list")
def audit_list(
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. cert.issue.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    json_: JsonOpt = False,
) -> None:
    """Show the newest audit events."""
    with open_context() as ctx:
        events = audit_svc.list_events(ctx, action=action, limit=limit)
        if json_:
            print_json([{"id": i, **json.loads(e.canonical())} for i, e in events])
            return
        from rich.table import Table

        table = Table("#", "time", "actor", "action", "object", "sha256")
        for i, e in events:
            table.add_row(
                str(i),
                e.time.isoformat(),
                e.actor,
                e.action,
                f"{e.object_type}:{e.object_id}",
                e.object_sha256[:16],
            )
        out.print(table)


@profile_app.command("list")
def profile_list(json_: JsonOpt = False) -> None:
    """List certificate profiles and what they allow."""
    with open_context() as ctx:
        specs = [p.spec.to_dict() for p in ctx.profiles]
        if json_:
            print_json(specs)
            return
        from rich.table import Table

        table = Table("name", "validity", "keys", "EKU", "SAN types", "description")
        for s in specs:
            table.add_row(
                s["name"],
                f"{s['validity_days']} d",
                ", ".join(s["key_algorithms"]),
                ", ".join(s["extended_key_usage"]),
                ", ".join(s["san_types"]),
                s["description"],
            )
        out.print(table)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
