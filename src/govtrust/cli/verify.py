"""``govtrust verify``: being written."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``govtrust verify`` to the main application."""
