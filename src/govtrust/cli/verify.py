"""``govtrust verify``: validate a signed document (or a sealed govtrust report) and
say so in the exit status, so that scripts can rely on it.

    govtrust verify FILE [--detached SIG] [--at TIME] [--trust-anchor PEM]...
                         [--revocation require|if-available|off]
                         [--report report.json|report.html|report.pdf] [--json]

Exit status: 0 only for TOTAL-PASSED, 1 for TOTAL-FAILED, 2 for INDETERMINATE (the
ETSI EN 319 102-1 main indications), 3 for usage and input errors (an unknown option,
a missing or unreadable file, a bad time or PEM file, a document govtrust cannot
validate) and 4 when the validation could not be done or its report not written
(configuration, the report's seal credential, storage). Click exits 2 on usage
errors, which would read as INDETERMINATE: this command's usage errors exit 3.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from cryptography import x509
from rich.console import Console
from rich.markup import escape
from typer._click.core import Context as TyperContext
from typer._click.exceptions import UsageError as TyperUsageError
from typer.core import TyperCommand

from govtrust.cli._common import JsonOpt, actor, open_context, out, print_json, read_file
from govtrust.errors import Error, InputError
from govtrust.services.verify import (
    VerifyOptions,
    render_html,
    render_pdf,
    sealed_json,
    verify_document,
)
from govtrust.validation.indications import Indication
from govtrust.validation.policy import RevocationMode
from govtrust.validation.report import Report, SignatureReport

__all__ = ["EXIT_CODES", "EXIT_ERROR", "EXIT_USAGE", "register", "verify"]

EXIT_CODES = {Indication.TOTAL_PASSED: 0, Indication.TOTAL_FAILED: 1, Indication.INDETERMINATE: 2}
EXIT_USAGE = 3
EXIT_ERROR = 4

err = Console(stderr=True)

_REPORT_KINDS = {".json": "json", ".html": "html", ".htm": "html", ".pdf": "pdf"}
_STYLE = {
    Indication.TOTAL_PASSED: "bold green",
    Indication.TOTAL_FAILED: "bold red",
    Indication.INDETERMINATE: "bold yellow",
}


class _VerifyCommand(TyperCommand):
    """Usage errors (bad option, missing file, bad value) exit 3, not Click's 2.
    Typer 0.29 carries its own copy of Click (``typer._click``), as ``cli/main.py``
    knows: both UsageError classes are caught."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: TyperContext | None = None,
        **extra: Any,
    ) -> TyperContext:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except (TyperUsageError, click.UsageError) as exc:
            exc.exit_code = EXIT_USAGE  # type: ignore[misc]  # Click reads it per instance
            raise


def _parse_at(text: str) -> dt.datetime:
    """ISO 8601; a time without a zone is UTC."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--at {text!r} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _anchors(paths: list[Path]) -> tuple[x509.Certificate, ...]:
    certs: list[x509.Certificate] = []
    for path in paths:
        try:
            certs += x509.load_pem_x509_certificates(read_file(path))
        except ValueError:
            raise InputError(f"--trust-anchor {path} holds no PEM certificate") from None
    return tuple(certs)


def _report_kind(path: Path) -> str:
    kind = _REPORT_KINDS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"--report {path}: the name must end in .json, .html or .pdf")
    return kind


def _time(sig: SignatureReport) -> str:
    """The proven time (a time-stamp's), else the claimed signing time, else none."""
    if sig.best_signature_time is not None and sig.best_signature_time != sig.validation_time:
        return f"{sig.best_signature_time:%Y-%m-%d %H:%M:%SZ} (proven)"
    if sig.signing_time is not None:
        return f"{sig.signing_time:%Y-%m-%d %H:%M:%SZ} (claimed)"
    return "-"


def _signer(sig: SignatureReport) -> str:
    ee = sig.certificate.end_entity if sig.certificate else None
    if ee is None:
        return "-"
    names = ee.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else ee.subject


def _indication(sig: SignatureReport) -> str:
    sub = f" / {sig.sub_indication.value}" if sig.sub_indication else ""
    return f"[{_STYLE[sig.indication]}]{sig.indication.value}[/]{escape(sub)}"


def _summary(report: Report) -> None:
    indication = report.indication
    sub = report.sub_indication
    out.print(
        f"[{_STYLE[indication]}]{indication.value}[/]" + escape(f" / {sub.value}" if sub else ""),
        highlight=False,
    )
    if report.message:
        out.print(report.message, highlight=False, markup=False)
    for sig in report.signatures:
        out.print(
            f"- {sig.kind.value} {escape(sig.identifier)}: {_indication(sig)}", highlight=False
        )
        out.print(
            f"    signer: {escape(_signer(sig))}; time: {_time(sig)}; "
            f"level: {escape(sig.format or '-')}",
            highlight=False,
        )
        for stamp in sig.timestamps:
            out.print(
                f"    {stamp.kind.value} {escape(stamp.identifier)} by "
                f"{escape(_signer(stamp))}: {_indication(stamp)}",
                highlight=False,
            )


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise Error(f"cannot write {path}: {exc.strerror}") from None


def _run(
    file: Path,
    detached: Path | None,
    at: str | None,
    trust_anchor: list[Path],
    revocation: str | None,
    report_path: Path | None,
    json_: bool,
) -> int:
    options = VerifyOptions(
        at=_parse_at(at) if at is not None else None,
        trust_anchors=_anchors(trust_anchor),
        revocation=RevocationMode.parse(revocation) if revocation is not None else None,
    )
    kind = _report_kind(report_path) if report_path is not None else None
    data = read_file(file)
    signature = read_file(detached) if detached is not None else None
    who = actor()
    with open_context() as ctx:
        report = verify_document(
            ctx, data, name=file.name, detached=signature, options=options, actor=who
        )
        if report_path is not None:
            if kind == "pdf":
                _write(report_path, render_pdf(ctx, report, actor=who))
            else:
                sealed = sealed_json(ctx, report, actor=who)
                if kind == "html":
                    _write(report_path, render_html(report, sealed=sealed).encode("utf-8"))
                else:
                    _write(report_path, sealed)
    if json_:
        print_json(report.to_dict())
    else:
        _summary(report)
    if report_path is not None:
        err.print(f"Sealed report written to {report_path}", highlight=False)
    return EXIT_CODES[report.indication]


def verify(
    file: Annotated[
        Path,
        typer.Argument(
            help="The signed document (PDF, .p7s/.p7m, XML, .asice), the data of a detached "
            "signature, or a sealed govtrust report (.json).",
            exists=True,
            dir_okay=False,
        ),
    ],
    detached: Annotated[
        Path | None,
        typer.Option(
            help="The detached signature over FILE (.p7s, .tsr or XML).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="Validation time, ISO 8601 (default: now; no zone means UTC)."),
    ] = None,
    trust_anchor: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust-anchor",
            help="PEM file of certificates trusted for this validation only (repeatable).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    revocation: Annotated[
        str | None,
        typer.Option(help="require | if-available | off (default: \\[verify] revocation)."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write the sealed report: report.json, report.html or report.pdf (by the "
            "extension).",
            dir_okay=False,
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Validate the signatures and time-stamps of FILE (ETSI EN 319 102-1). Exit status:
    0 TOTAL-PASSED, 1 TOTAL-FAILED, 2 INDETERMINATE, 3 usage or input error, 4 other
    errors."""
    try:
        code = _run(file, detached, at, trust_anchor or [], revocation, report, json_)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except Error as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``govtrust verify`` to the main application."""
    app.command("verify", cls=_VerifyCommand)(verify)
