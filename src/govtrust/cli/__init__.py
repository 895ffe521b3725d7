"""The ``govtrust`` command line (Typer + Rich). Thin: parse, call a service, render."""

from __future__ import annotations

__all__: list[str] = []
