"""``govtrust ledger``: the transparency ledger (docs/ledger.md).

``verify-receipt`` runs offline: it opens no data directory, database or network
connection; everything it needs is in the receipt (and the log key given with --key).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from govtrust.cli._common import App, JsonOpt, open_context, out, print_json, read_file, write_file
from govtrust.errors import Error, TamperError
from govtrust.ledger.note import NoteVerifier, parse_vkey
from govtrust.ledger.receipts import verify_receipt
from govtrust.services import ledger

__all__ = ["ledger_app"]

ledger_app = App(
    help="The transparency ledger: checkpoints, receipts, search, sequencing, checks.",
    no_args_is_help=True,
)


@ledger_app.command("checkpoint")
def checkpoint() -> None:
    """Print the latest signed checkpoint (C2SP tlog-checkpoint), with cosignatures."""
    with open_context() as ctx:
        typer.echo(ledger.checkpoint_note(ctx), nl=False)


@ledger_app.command("key")
def key() -> None:
    """Print the log's verifier key (C2SP signed-note vkey) for --key and witnesses."""
    with open_context() as ctx:
        typer.echo(ledger.log_info(ctx).vkey)


@ledger_app.command("sequence")
def sequence(json_: JsonOpt = False) -> None:
    """Append pending audit events to the log now, one signed checkpoint per batch."""
    with open_context() as ctx:
        report = ledger.sequence(ctx)
    if json_:
        print_json(
            {"appended": report.appended, "checkpoints": report.checkpoints, "size": report.size}
        )
    else:
        out.print(
            f"Appended {report.appended} entries in {len(report.checkpoints)} checkpoints; "
            f"tree size {report.size}"
        )


@ledger_app.command("receipt")
def receipt(
    serial: Annotated[str | None, typer.Option(help="A certificate serial number.")] = None,
    sha256: Annotated[
        str | None, typer.Option(help="An artifact's SHA-256 (hex or base64).")
    ] = None,
    entry_type: Annotated[
        str | None, typer.Option("--type", help="Only this entry type, e.g. cert.revoke.")
    ] = None,
    reveal_subject: Annotated[
        bool,
        typer.Option(
            "--reveal-subject",
            help="Add the opening of the subject commitment (salt and subject): personal "
            "data, for the holder only.",
        ),
    ] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the receipt.")] = None,
) -> None:
    """A self-contained receipt (entry, inclusion proof, signed checkpoint, log key)."""
    if (serial is None) == (sha256 is None):
        raise typer.BadParameter("give exactly one of --serial or --sha256")
    with open_context() as ctx:
        data = ledger.receipt(
            ctx,
            serial=serial,
            sha256=sha256,
            entry_type=entry_type,
            reveal_subject=reveal_subject,
        )
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if out_file is not None:
        write_file(out_file, text.encode())
        out.print(f"Receipt for entry {data['leaf_index']} written to {out_file}")
    else:
        typer.echo(text, nl=False)


@ledger_app.command("verify-receipt")
def verify_receipt_cmd(
    file: Annotated[Path, typer.Argument(help="The receipt (JSON).")],
    key: Annotated[
        list[str] | None,
        typer.Option("--key", help="The log's verifier key (repeatable); else the receipt's."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Verify a receipt offline (no data directory, database or network)."""
    trusted: list[NoteVerifier] = [parse_vkey(k) for k in key or []]
    result = verify_receipt(read_file(file), trusted)
    summary: dict[str, Any] = {
        "valid": True,
        "origin": result.checkpoint.origin,
        "tree_size": result.checkpoint.size,
        "leaf_index": result.index,
        "type": result.entry.type,
        "time": result.entry.time,
        "object": {"type": result.entry.object_type, "id": result.entry.object_id},
        "sha256": result.entry.sha256,
        "key": result.key_name,
        "key_from_receipt": result.key_from_receipt,
        "subject_opened": result.subject_opened,
    }
    if json_:
        print_json(summary)
        return
    out.print(
        f"OK: entry {result.index} ({result.entry.type} {result.entry.object_type} "
        f"{result.entry.object_id}, sha256 {result.entry.sha256}) is in log "
        f"{result.checkpoint.origin} at tree size {result.checkpoint.size}"
    )
    if result.subject_opened:
        out.print("The subject opening matches the entry's commitment.")
    if result.key_from_receipt:
        out.print(
            "[yellow]warning:[/yellow] verified with the key inside the receipt; pass "
            "--key with the log's published key to trust it"
        )


@ledger_app.command("search")
def search(
    serial: Annotated[str | None, typer.Option(help="A certificate serial number.")] = None,
    sha256: Annotated[str | None, typer.Option(help="An artifact's SHA-256.")] = None,
    subject: Annotated[
        str | None,
        typer.Option(help="A subject DN (organisations, CAs) or a subject commitment (persons)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    json_: JsonOpt = False,
) -> None:
    """Find entries by serial, artifact hash or subject."""
    with open_context() as ctx:
        found = ledger.search(ctx, serial=serial, sha256=sha256, subject=subject, limit=limit)
    if json_:
        print_json(found)
        return
    if not found:
        out.print("No entry found.")
        return
    table = Table("index", "time", "type", "object", "sha256")
    for e in found:
        obj = e.get("object", {})
        table.add_row(
            str(e["index"]),
            str(e.get("time", "")),
            str(e.get("type", "")),
            f"{obj.get('type', '')}:{obj.get('id', '')}",
            str(obj.get("sha256", ""))[:16],
        )
    out.print(table)


@ledger_app.command("check")
def check(json_: JsonOpt = False) -> None:
    """Full local tamper check: every entry against its tile and audit record, every
    tile, every checkpoint. Exits 1 naming the first bad index."""
    with open_context() as ctx:
        try:
            report = ledger.check(ctx)
        except TamperError as exc:
            raise Error(f"ledger check failed at index {exc.index} ({exc.what}): {exc}") from None
    if json_:
        print_json(
            {
                "ok": True,
                "size": report.size,
                "entries": report.entries_checked,
                "tiles": report.tiles_checked,
                "checkpoints": report.checkpoints_checked,
            }
        )
    else:
        out.print(
            f"OK: {report.entries_checked} entries, {report.tiles_checked} tiles and "
            f"{report.checkpoints_checked} checkpoints check out (tree size {report.size})"
        )
