"""``govtrust portal``: being written."""

from __future__ import annotations

from govtrust.cli._common import App

__all__ = ["portal_app"]

portal_app = App(help="The web portal: operator accounts.", no_args_is_help=True)
