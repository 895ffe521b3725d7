"""What every ``govtrust`` command module shares: the Typer class that turns errors
into one line and exit 1, the context opener, and small I/O helpers."""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from govtrust.config import load_settings
from govtrust.errors import Error, InputError
from govtrust.services import Actor, Context

__all__ = [
    "App",
    "JsonOpt",
    "actor",
    "open_context",
    "out",
    "print_json",
    "read_file",
    "write_file",
]

_F = TypeVar("_F", bound=Callable[..., Any])


class App(typer.Typer):
    """Every command turns a govtrust error into one line on stderr and exit status 1."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[_F], _F]:
        register = super().command(*args, **kwargs)

        def decorator(fn: _F) -> _F:
            @functools.wraps(fn)
            def wrapper(*a: Any, **k: Any) -> Any:
                try:
                    return fn(*a, **k)
                except Error as exc:
                    typer.echo(f"error: {exc}", err=True)
                    raise typer.Exit(1) from None

            register(wrapper)
            return fn

        return decorator


out = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return Actor(f"cli:{user}", "admin")


@contextmanager
def open_context() -> Iterator[Context]:
    settings = load_settings(os.environ)
    if not (settings.home / "govtrust.toml").exists():
        raise Error(f"{settings.home} is not a govtrust data directory: run 'govtrust init'")
    ctx = Context.open(settings)
    try:
        yield ctx
    finally:
        ctx.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_file(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise Error(f"cannot write {path}: {exc.strerror}") from None


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
