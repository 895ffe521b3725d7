"""``govtrust trustlist``: being written."""

from __future__ import annotations

from govtrust.cli._common import App

__all__ = ["trustlist_app"]

trustlist_app = App(help="Trusted lists (ETSI TS 119 612).", no_args_is_help=True)
