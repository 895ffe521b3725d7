"""``govtrust ledger audit`` and ``govtrust ledger witness ...``: the remote side of the
transparency ledger (docs/ledger-witnessing.md). Importing this module registers the
commands on ``govtrust.cli.ledger.ledger_app``.

``ledger audit`` needs no data directory: anyone can audit any log over HTTP. It keeps
what it saw in a small JSON state file (default ``$GOVTRUST_HOME/audit-state/``).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from govtrust.cli._common import App, JsonOpt, actor, open_context, out, print_json
from govtrust.cli.ledger import ledger_app
from govtrust.config import home_from_env
from govtrust.errors import InputError, NoteError
from govtrust.ledger.client import AuditState, LogClient, audit_log, default_state_path
from govtrust.ledger.witness import CosignatureVerifier, parse_cosignature_vkey
from govtrust.services import ledger_witness as witness_svc

__all__ = ["witness_app"]

AUDIT_TIMEOUT = 30.0

witness_app = App(
    help="Cross-country witnessing (C2SP tlog-witness): our witnesses, the logs we witness.",
    no_args_is_help=True,
)
ledger_app.add_typer(witness_app, name="witness")


def _witness_keys(keys: list[str] | None) -> list[CosignatureVerifier]:
    try:
        return [parse_cosignature_vkey(k) for k in keys or []]
    except NoteError as exc:
        raise InputError(f"--witness: {exc}") from None


@ledger_app.command("audit")
def audit(
    url: Annotated[
        str, typer.Option(help="The log: its tlog-tiles prefix, or a govtrust server URL.")
    ],
    key: Annotated[
        str | None,
        typer.Option(help="The log's verifier key; default: the state's, else trust on first use."),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(help="State file (default $GOVTRUST_HOME/audit-state/<log>.json)."),
    ] = None,
    from_scratch: Annotated[
        bool,
        typer.Option("--from-scratch", help="Recompute the whole tree, not only what is new."),
    ] = False,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="A witness cosigner key to check cosignatures with (repeatable)."),
    ] = None,
    parallel: Annotated[int, typer.Option(help="Tiles fetched in parallel.", min=1)] = 4,
    json_: JsonOpt = False,
) -> None:
    """Audit a transparency log over HTTP: verify its checkpoint, recompute every leaf
    and the tree from the entries, check consistency with the last checkpoint seen.
    Exits 0 when all is well, 1 with one line per finding otherwise."""
    path = state or default_state_path(home_from_env(os.environ), url)
    previous = AuditState.load(path)
    witnesses = _witness_keys(witness)
    with httpx.Client(timeout=AUDIT_TIMEOUT, follow_redirects=True) as http:
        client = LogClient(http, url)
        report = audit_log(
            client, key, previous, from_scratch=from_scratch, witnesses=witnesses, parallel=parallel
        )
    if report.state is not None:
        report.state.save(path)
    if json_:
        print_json({**report.to_json(), "state_file": str(path)})
    else:
        for notice in report.notices:
            typer.echo(notice, err=True)
        for finding in report.findings:
            typer.echo(str(finding))
        if report.ok:
            since = (
                f", {report.size - report.previous_size} new since the last audit"
                if report.previous_size is not None and report.incremental
                else ""
            )
            cosigned = "".join(f", cosigned by {c.name}" for c in report.cosignatures)
            typer.echo(
                f"OK: {report.origin} tree size {report.size}, root "
                f"{base64.b64encode(report.root).decode()} verified "
                f"({report.entries_checked} entries recomputed{since}{cosigned})"
            )
    if not report.ok:
        raise typer.Exit(1)


@witness_app.command("add")
def witness_add(
    url: Annotated[str, typer.Argument(help="The witness's submission prefix URL.")],
    key: Annotated[str, typer.Option(help="Its cosigner key (vkey of type 0x04).")],
    name: Annotated[str | None, typer.Option(help="A local name (default: the key's).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Ask a witness (another country's govtrust, or any C2SP witness) to cosign our log."""
    with open_context() as ctx:
        peer = witness_svc.add_witness(ctx, url, key, actor(), name=name)
    if json_:
        print_json(peer.to_dict())
    else:
        out.print(f"Witness {escape(peer.name)} added ({escape(peer.url)}).")


@witness_app.command("list")
def witness_list(json_: JsonOpt = False) -> None:
    """The witnesses of our log, and the logs we witness."""
    with open_context() as ctx:
        peers = witness_svc.list_witnesses(ctx)
        logs = witness_svc.list_trusted_logs(ctx)
    if json_:
        print_json({"witnesses": [p.to_dict() for p in peers], "logs": [t.to_dict() for t in logs]})
        return
    table = Table("witness", "url", "cosigned size", "last error", title="Witnesses of our log")
    for p in peers:
        table.add_row(p.name, p.url, str(p.size), p.last_error or "")
    out.print(table)
    logs_table = Table("origin", "cosigned size", "updated", title="Logs we witness")
    for t in logs:
        logs_table.add_row(t.origin, str(t.size), t.updated_at.isoformat() if t.updated_at else "")
    out.print(logs_table)


@witness_app.command("key")
def witness_key() -> None:
    """Print our witness's cosigner key (give it to the logs we witness)."""
    with open_context() as ctx:
        typer.echo(witness_svc.ensure_witness(ctx).vkey)


@witness_app.command("trust-log")
def witness_trust_log(
    origin: Annotated[str, typer.Argument(help="The log's checkpoint origin line.")],
    key: Annotated[str, typer.Option(help="The log's verifier key (govtrust ledger key).")],
    json_: JsonOpt = False,
) -> None:
    """Accept to witness another country's log."""
    with open_context() as ctx:
        trusted = witness_svc.trust_log(ctx, origin, key, actor())
    if json_:
        print_json(trusted.to_dict())
    else:
        out.print(f"Witnessing {escape(trusted.origin)} (cosigned size {trusted.size}).")


@witness_app.command("submit")
def witness_submit(json_: JsonOpt = False) -> None:
    """Send our latest checkpoint to every witness now; exit 1 if one did not cosign."""
    with open_context() as ctx:
        report = witness_svc.submit(ctx)
    if json_:
        print_json(report.to_dict())
    else:
        for r in report.results:
            status = "cosigned" if r.ok else f"FAILED: {r.message}"
            typer.echo(f"{r.witness}: checkpoint {r.size} {status}")
        if not report.results:
            typer.echo("No witness configured (govtrust ledger witness add).")
    if any(not r.ok for r in report.results):
        raise typer.Exit(1)
