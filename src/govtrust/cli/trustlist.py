"""``govtrust trustlist``: publish this country's ETSI TS 119 612 trusted list and a list
of lists, import and refresh other countries' lists, and show their status."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509

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
from govtrust.errors import InputError
from govtrust.services import trustlists

__all__ = ["trustlist_app"]

trustlist_app = App(help="Trusted lists (ETSI TS 119 612).", no_args_is_help=True)
tsp_app = App(help="Trust service providers of this country's list.", no_args_is_help=True)
service_app = App(help="Trust services of this country's list.", no_args_is_help=True)
pointer_app = App(help="Member lists of a list of trusted lists.", no_args_is_help=True)
trustlist_app.add_typer(tsp_app, name="tsp")
trustlist_app.add_typer(service_app, name="service")
trustlist_app.add_typer(pointer_app, name="pointer")


def _certs(path: Path) -> list[x509.Certificate]:
    data = read_file(path)
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise InputError(f"{path} holds no PEM or DER certificate") from None


def _when(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not an ISO 8601 date-time") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


Provider = Annotated[str, typer.Argument(help="The provider's name (TSPName).")]
Name = Annotated[str, typer.Argument(help="The service's name (ServiceName).")]
Start = Annotated[
    str | None, typer.Option("--at", help="Status starting time (ISO 8601; default: now).")
]


@trustlist_app.command("scheme")
def scheme(
    territory: Annotated[str, typer.Option(help="SchemeTerritory (two letters).")],
    operator: Annotated[str, typer.Option(help="SchemeOperatorName.")],
    signer: Annotated[bool, typer.Option(help="Also issue a new list-signer certificate.")] = True,
    ca: Annotated[str, typer.Option(help="The CA that issues the signer certificate.")] = "people",
) -> None:
    """Set the scheme operator (and issue the trusted-list signer certificate)."""
    with open_context() as ctx:
        trustlists.configure_scheme(ctx, actor(), territory=territory, operator_name=operator)
        if signer:
            serial = trustlists.create_signer(ctx, actor(), ca=ca)
            out.print(f"scheme set; list signer certificate {serial}")
        else:
            out.print("scheme set")


@trustlist_app.command("signer-cert")
def signer_cert(
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the PEM here.")] = None,
    lotl: Annotated[
        bool, typer.Option("--lotl", help="The list of lists' current signer instead.")
    ] = False,
) -> None:
    """The list signer's certificate (PEM), for other countries to pin."""
    from cryptography.hazmat.primitives.serialization import Encoding

    with open_context() as ctx:
        cert = (
            trustlists.lotl_signer_certificate(ctx) if lotl else trustlists.signer_certificate(ctx)
        )
        pem = cert.public_bytes(Encoding.PEM)
    if out_file is None:
        typer.echo(pem.decode(), nl=False)
    else:
        write_file(out_file, pem)


@tsp_app.command("add")
def tsp_add(
    name: Provider,
    trade_name: Annotated[str | None, typer.Option(help="TSPTradeName.")] = None,
    info_uri: Annotated[str | None, typer.Option(help="TSPInformationURI.")] = None,
) -> None:
    """Add a trust service provider (TS 119 612 §5.4)."""
    with open_context() as ctx:
        trustlists.add_provider(ctx, name, actor(), trade_name=trade_name, info_uri=info_uri)
    out.print(f"provider {name!r} added")


@tsp_app.command("update")
def tsp_update(
    name: Provider,
    trade_name: Annotated[str | None, typer.Option(help="TSPTradeName.")] = None,
    info_uri: Annotated[str | None, typer.Option(help="TSPInformationURI.")] = None,
    rename: Annotated[str | None, typer.Option(help="A new TSPName.")] = None,
) -> None:
    """Change a provider's names or information URI."""
    with open_context() as ctx:
        trustlists.update_provider(
            ctx, name, actor(), trade_name=trade_name, info_uri=info_uri, new_name=rename
        )
    out.print(f"provider {rename or name!r} updated")


@service_app.command("add")
def service_add(
    provider: Provider,
    name: Name,
    service_type: Annotated[str, typer.Option("--type", help="URI or CA/QC, TSA/QTST...")],
    cert: Annotated[Path, typer.Option(help="The service's certificate (PEM or DER).")],
    status: Annotated[str, typer.Option(help="First status.")] = "granted",
    at: Start = None,
    info: Annotated[
        list[str] | None, typer.Option(help="AdditionalServiceInformation (ForeSignatures...).")
    ] = None,
    qualifier: Annotated[
        list[str] | None, typer.Option(help="Qualifications qualifier (QCWithQSCD...).")
    ] = None,
) -> None:
    """Add a service with its digital identity and first status (TS 119 612 §5.5)."""
    with open_context() as ctx:
        trustlists.add_service(
            ctx,
            provider,
            name,
            service_type,
            _certs(cert)[0],
            actor(),
            status=status,
            starting_time=_when(at),
            additional_info=info or (),
            qualifiers=qualifier or (),
        )
    out.print(f"service {name!r} of {provider!r} added ({status})")


def _set(provider: str, name: str, status: str, at: str | None) -> None:
    with open_context() as ctx:
        trustlists.set_status(ctx, provider, name, status, actor(), starting_time=_when(at))
    out.print(f"service {name!r} of {provider!r}: {status}")


@service_app.command("withdraw")
def service_withdraw(provider: Provider, name: Name, at: Start = None) -> None:
    """Withdraw a service from a time on (its earlier status stays in the history)."""
    _set(provider, name, "withdrawn", at)


@service_app.command("grant")
def service_grant(provider: Provider, name: Name, at: Start = None) -> None:
    """Grant (or re-grant) a service from a time on."""
    _set(provider, name, "granted", at)


@service_app.command("add-local")
def service_add_local(
    provider: Annotated[str | None, typer.Option(help="Provider name (created if new).")] = None,
) -> None:
    """List this instance's own CAs (CA/QC) and TSA (TSA/QTST) as granted services."""
    with open_context() as ctx:
        added = trustlists.add_local_services(ctx, actor(), provider=provider)
    out.print(f"{len(added)} service(s) added" + "".join(f"\n  {a}" for a in added))


@pointer_app.command("add")
def pointer_add(
    territory: Annotated[str, typer.Argument(help="The member's territory.")],
    location: Annotated[str, typer.Argument(help="URL of the member's list.")],
    signer_cert: Annotated[Path, typer.Option("--signer-cert", help="Its signer(s), PEM.")],
    operator: Annotated[str, typer.Option(help="Its scheme operator's name.")] = "",
) -> None:
    """Point the list of lists at a member's list (TS 119 612 §5.3.13)."""
    with open_context() as ctx:
        trustlists.add_pointer(
            ctx, territory, location, _certs(signer_cert), actor(), operator_name=operator
        )
    out.print(f"pointer to {territory.upper()} set")


def _publish(lotl: bool, out_file: Path | None, json_: bool) -> None:
    with open_context() as ctx:
        pub = (trustlists.publish_lotl if lotl else trustlists.publish)(ctx, actor())
    if out_file is not None:
        write_file(out_file, pub.xml)
    if json_:
        print_json(pub.to_dict())
        return
    where = f", written to {out_file}" if out_file else ""
    out.print(
        f"{'list of lists' if lotl else 'trusted list'} #{pub.sequence} published"
        f" (next update {pub.next_update.isoformat()}){where}"
    )


@trustlist_app.command("publish")
def publish(
    out_file: Annotated[Path | None, typer.Option("--out", help="Also write the XML here.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Sign and publish the next list (served at /trustlist.xml)."""
    _publish(False, out_file, json_)


@trustlist_app.command("publish-lotl")
def publish_lotl(
    out_file: Annotated[Path | None, typer.Option("--out", help="Also write the XML here.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Sign and publish the next list of trusted lists (served at /lotl.xml)."""
    _publish(True, out_file, json_)


@trustlist_app.command("rotate-lotl-signer")
def rotate_lotl_signer(
    ca: Annotated[str, typer.Option(help="The CA that issues the new signer certificate.")] = (
        "people"
    ),
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the new LOTL here.")
    ] = None,
    pivot_out: Annotated[
        Path | None, typer.Option("--pivot-out", help="Also write the pivot LOTL here.")
    ] = None,
    cert_out: Annotated[
        Path | None, typer.Option("--cert-out", help="Also write the new signer's PEM here.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Change the list of lists' signing key (pivot mechanism, TS 119 612 §5.3.13):
    issue a new signer certificate, publish a pivot LOTL signed with the old key that
    announces it (served at /lotl-pivot-N.xml), then the next LOTL signed with the new
    key, which lists the pivots."""
    from cryptography.hazmat.primitives.serialization import Encoding

    with open_context() as ctx:
        done = trustlists.rotate_lotl_signer(ctx, actor(), ca=ca)
        new_cert = trustlists.lotl_signer_certificate(ctx)
    if out_file is not None:
        write_file(out_file, done.lotl.xml)
    if pivot_out is not None:
        write_file(pivot_out, done.pivot.xml)
    if cert_out is not None:
        write_file(cert_out, new_cert.public_bytes(Encoding.PEM))
    if json_:
        print_json(done.to_dict())
        return
    out.print(
        f"LOTL signer {done.old_signer} -> {done.new_signer}: pivot #{done.pivot.sequence}"
        f" published at {done.pivot_url}, list of lists #{done.lotl.sequence} signed with"
        " the new key"
    )


@trustlist_app.command("import")
def import_(
    source: Annotated[str, typer.Argument(help="A file, or an http(s) URL.")],
    signer_cert: Annotated[
        Path, typer.Option("--signer-cert", help="Pinned signer certificate(s), PEM.")
    ],
    lotl: Annotated[bool, typer.Option("--lotl", help="A list of lists: follow it.")] = False,
    pivot: Annotated[
        list[Path] | None, typer.Option(help="Pivot LOTL files (a file import with --lotl).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name to follow it under.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Import a list after checking its schema and its signature by a pinned key."""
    pinned = _certs(signer_cert)
    is_url = source.startswith(("http://", "https://"))
    with open_context() as ctx:
        summary = trustlists.import_list(
            ctx,
            actor(),
            pinned=pinned,
            data=None if is_url else read_file(Path(source)),
            url=source if is_url else None,
            lotl=lotl,
            name=name,
            pivots=[read_file(p) for p in pivot or ()],
        )
    if json_:
        print_json(summary)
        return
    out.print(
        f"{summary['name']}: sequence {summary['sequenceNumber']}, {summary['providers']}"
        f" providers, {summary['services']} services, {summary['pointers']} pointers;"
        f" signed by {summary['signer']}"
    )
    for member in summary.get("members", []):
        state = f"{member['services']} services" if member["ok"] else f"refused: {member['error']}"
        out.print(f"  {member['name']}: {state}")


@trustlist_app.command("refresh")
def refresh(
    force: Annotated[bool, typer.Option(help="Fetch every list now.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Fetch the followed lists that are due (as the scheduler does)."""
    with open_context() as ctx:
        results = trustlists.refresh(ctx, actor(), force=force)
    if json_:
        print_json(results)
        return
    for r in results:
        out.print(f"{r['name']}: " + ("ok" if r["ok"] else f"failed: {r['error']}"))


@trustlist_app.command("status")
def status(json_: JsonOpt = False) -> None:
    """Each list: sequence number, freshness, verification result, last error."""
    with open_context() as ctx:
        lists = trustlists.status(ctx)
        own = trustlists.published_status(ctx)
    if json_:
        print_json({"published": own, "imported": lists})
        return
    if own.get("configured"):
        out.print(
            f"published: {own['territory']} #{own['sequenceNumber']} ({own['services']} services)"
        )
    for item in lists:
        fresh = "fresh" if item["fresh"] else "STALE"
        line = (
            f"{item['name']}: #{item['sequenceNumber']} {fresh}, next update {item['nextUpdate']}"
        )
        if item["lastError"]:
            line += f"; last attempt FAILED: {item['lastError']}"
        out.print(line)
