"""``govtrust tsa``: the RFC 3161 client. ``stamp`` asks a TSA (this instance's, in
process, or any TSA over HTTP with ``--url``) for a token, checks the reply and writes
the TimeStampResp (``.tsr``, as ``openssl ts -reply`` reads it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
from govtrust.services.tsa import stamp_local, stamp_remote
from govtrust.tsa import HASHES, TimestampReply

__all__ = ["tsa_app"]

tsa_app = App(help="Timestamps (RFC 3161): ask a TSA for a token.", no_args_is_help=True)


def _summary(reply: TimestampReply, out_file: Path) -> dict[str, object]:
    return {
        "file": str(out_file),
        "serial": reply.serial,
        "gen_time": reply.gen_time.isoformat(),
        "policy": reply.policy,
        "accuracy": reply.accuracy,
        "tsa": reply.tsa_certificate.subject.rfc4514_string() if reply.tsa_certificate else None,
    }


@tsa_app.command("stamp")
def tsa_stamp(
    file: Annotated[Path, typer.Argument(help="The file to timestamp.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the reply (.tsr).")],
    url: Annotated[
        str | None, typer.Option(help="A TSA's URL (ours or anyone's); default: this instance.")
    ] = None,
    hash_name: Annotated[str, typer.Option("--hash", help="sha256|sha384|sha512")] = "sha256",
    no_cert_req: Annotated[
        bool, typer.Option("--no-cert-req", help="Do not ask for the TSA certificate in the token.")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Timestamp FILE: the reply is written only once its status is granted and its
    imprint, nonce and signature check out."""
    if hash_name not in HASHES:
        raise InputError(f"--hash must be one of {', '.join(HASHES)}, not {hash_name!r}")
    data = read_file(file)
    if url is not None:
        reply = stamp_remote(url, data, hash_name=hash_name, cert_req=not no_cert_req)
    else:
        with open_context() as ctx:
            reply = stamp_local(ctx, data, actor(), hash_name=hash_name, cert_req=not no_cert_req)
    write_file(out_file, reply.response)
    summary = _summary(reply, out_file)
    if json_:
        print_json(summary)
        return
    out.print(
        f"Timestamp serial {reply.serial}, {reply.gen_time.isoformat()}, "
        f"policy {reply.policy}: written to {out_file}"
    )
