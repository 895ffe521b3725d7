"""``govtrust sign`` and ``govtrust augment``: sign documents with a credential held by
govtrust (one file, several files in an ASiC-E container, or every file of a
directory), and bring existing signatures up to a higher level.

Registered as top-level commands by :func:`register` (called from ``cli/main.py``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from govtrust.cli._common import App, JsonOpt, actor, open_context, out, print_json, read_file
from govtrust.errors import Error, InputError
from govtrust.services.signing import (
    Level,
    SignatureFormat,
    SignatureResult,
    SigningOptions,
    SigningSession,
    augment_document,
    default_format,
)

__all__ = ["augment", "register", "sign"]

err = Console(stderr=True)

_SIGNED_SUFFIXES = (".p7s", ".asice")
_SIGNED_MARK = "-signed"


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file beside it, then rename):
    a failed write never leaves half a signed file, and augmenting in place never
    destroys the original."""
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise Error(f"cannot write {path}: {exc.strerror}") from None


_NAMES = {
    SignatureFormat.PADES: "PAdES",
    SignatureFormat.CADES: "CAdES",
    SignatureFormat.XADES: "XAdES",
    SignatureFormat.ASIC_E: "ASiC-E",
}


def _describe(result: SignatureResult) -> str:
    return f"{_NAMES[result.document.format]} {result.document.level.value}"


def _options(
    format_: str | None, level: str, visible_stamp: bool, asic_signature: str, tsa_url: str | None
) -> SigningOptions:
    return SigningOptions(
        format=SignatureFormat.parse(format_) if format_ else None,
        level=Level.parse(level),
        visible_stamp=visible_stamp,
        asic_signature=asic_signature,
        tsa_url=tsa_url,
    )


@dataclass
class _Failure:
    name: str
    reason: str


def _batch_files(directory: Path) -> tuple[list[Path], list[Path]]:
    """The files to sign in ``directory`` (regular, not hidden), and the ones skipped
    because they are signatures made earlier (``.p7s``, ``.asice``, ``*-signed.*``)."""
    try:
        entries = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise InputError(f"cannot read the directory {directory}: {exc.strerror}") from None
    todo, skipped = [], []
    for path in entries:
        if not path.is_file():
            continue
        if path.suffix.lower() in _SIGNED_SUFFIXES or path.stem.endswith(_SIGNED_MARK):
            skipped.append(path)
        else:
            todo.append(path)
    return todo, skipped


def _sign_batch(
    session: SigningSession, directory: Path, out_dir: Path | None, json_: bool
) -> list[_Failure]:
    todo, skipped = _batch_files(directory)
    target = out_dir or directory
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create {out_dir}: {exc.strerror}") from None
    failures: list[_Failure] = []
    done: list[dict[str, object]] = []
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=json_, disable=not todo) as progress:
        task = progress.add_task("Signing", total=len(todo))
        for path in todo:
            progress.update(task, description=f"Signing {path.name}")
            try:
                data = path.read_bytes()
                result = session.sign(data, path.name)
                destination = target / Path(result.filename).name
                _write(destination, result.document.data)
                done.append({"file": path.name, "output": str(destination), **result.to_dict()})
            except OSError as exc:
                failures.append(_Failure(path.name, f"cannot read it: {exc.strerror}"))
            except Error as exc:
                failures.append(_Failure(path.name, str(exc)))
            except Exception as exc:  # one bad file never stops the batch
                failures.append(_Failure(path.name, f"internal error ({type(exc).__name__})"))
            progress.advance(task)
    if json_:
        print_json(
            {
                "signed": done,
                "failed": [{"file": f.name, "error": f.reason} for f in failures],
                "skipped": [p.name for p in skipped],
            }
        )
    else:
        out.print(
            f"Signed {len(done)} of {len(todo)} files in {directory} with {session.name}"
            + (f" into {target}" if out_dir is not None else "")
            + (f"; skipped {len(skipped)} earlier signatures" if skipped else "")
            + (f"; [red]{len(failures)} failed[/red]" if failures else "")
        )
    for failure in failures:
        typer.echo(f"error: {failure.name}: {failure.reason}", err=True)
    return failures


def sign(
    as_: Annotated[str, typer.Option("--as", help="The credential to sign with.")],
    format_: Annotated[
        str | None,
        typer.Option("--format", help="pades|cades|xades|asic-e (default: by file type)."),
    ] = None,
    level: Annotated[str, typer.Option(help="B-B|B-T|B-LT|B-LTA")] = "B-B",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Output file (with --batch: output directory).")
    ] = None,
    visible_stamp: Annotated[
        bool,
        typer.Option(
            "--visible-stamp", help="PAdES: a visible stamp with the signer's name and time."
        ),
    ] = False,
    batch: Annotated[Path | None, typer.Option(help="Sign every file of this directory.")] = None,
    asic_signature: Annotated[
        str, typer.Option(help="ASiC-E: the signature inside, xades or cades.")
    ] = "xades",
    tsa_url: Annotated[
        str | None,
        typer.Option(help="A TSA's URL for B-T and above (default: this instance's TSA)."),
    ] = None,
    json_: JsonOpt = False,
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="File(s) to sign; several go into one ASiC-E container."),
    ] = None,
) -> None:
    """Sign FILE with a credential held by govtrust (PAdES for .pdf, XAdES for .xml,
    CAdES detached otherwise), or every file of --batch DIR."""
    options = _options(format_, level, visible_stamp, asic_signature, tsa_url)
    if batch is not None:
        if files:
            raise InputError("give either FILE... or --batch DIR, not both")
        if not batch.is_dir():
            raise InputError(f"--batch needs a directory: {batch}")
        with open_context() as ctx:
            session = SigningSession(ctx, as_, actor(), options)
            failures = _sign_batch(session, batch, out_file, json_)
        if failures:
            raise typer.Exit(1)
        return
    if not files:
        raise InputError("give a FILE to sign, or --batch DIR")
    if len(files) > 1 and options.format not in (None, SignatureFormat.ASIC_E):
        raise InputError(
            "several files are signed together in an ASiC-E container (--format asic-e)"
        )
    single_format = options.format or (
        default_format(files[0].name) if len(files) == 1 else SignatureFormat.ASIC_E
    )
    if options.visible_stamp and single_format is not SignatureFormat.PADES:
        raise InputError("--visible-stamp applies to PAdES signatures of PDFs only")
    inputs = [(path, read_file(path)) for path in files]
    with open_context() as ctx:
        session = SigningSession(ctx, as_, actor(), options)
        if len(inputs) > 1:
            name = out_file or Path(f"{files[0].stem}.asice")
            result = session.sign_files([(p.name, d) for p, d in inputs], str(name))
        else:
            path, data = inputs[0]
            result = session.sign(data, str(path))
    destination = out_file or Path(result.filename)
    if any(destination.resolve() == p.resolve() for p in files):
        raise InputError(f"refusing to overwrite the signed file {destination}: use --out")
    _write(destination, result.document.data)
    if json_:
        print_json({"output": str(destination), **result.to_dict()})
    else:
        out.print(f"Signed with {as_}: {_describe(result)} → {destination}")


def augment(
    file: Annotated[Path, typer.Argument(help="A signed PDF, .p7s, XML or .asice file.")],
    level: Annotated[str, typer.Option(help="B-T|B-LT|B-LTA")] = "B-LTA",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: FILE, updated in place).")
    ] = None,
    content: Annotated[
        Path | None,
        typer.Option(
            help="The signed content of a detached .p7s (default: FILE without .p7s, if present)."
        ),
    ] = None,
    tsa_url: Annotated[
        str | None, typer.Option(help="A TSA's URL (default: this instance's TSA).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Bring FILE's signatures up to --level: add the signature timestamp, the
    validation data and an archive/document timestamp; on a B-LTA file, add a new
    one (re-timestamping before algorithms or certificates weaken)."""
    target = Level.parse(level)
    data = read_file(file)
    content_data = None
    if content is not None:
        content_data = read_file(content)
    elif file.suffix.lower() == ".p7s" and file.with_suffix("").is_file():
        content_data = read_file(file.with_suffix(""))
    with open_context() as ctx:
        result = augment_document(
            ctx, data, file.name, target, actor(), content=content_data, tsa_url=tsa_url
        )
    destination = out_file or file
    _write(destination, result.document.data)
    if json_:
        print_json({"output": str(destination), **result.to_dict()})
    else:
        out.print(f"Augmented {file} to {target.value}: {_describe(result)} → {destination}")


def register(app: App) -> None:
    """Add ``sign`` and ``augment`` to the top-level ``govtrust`` command."""
    app.command("sign")(sign)
    app.command("augment")(augment)
