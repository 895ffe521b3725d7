"""Use cases shared by the CLI, the REST API and the portal: one function per action."""

from __future__ import annotations

from govtrust.services.context import ROLES, Actor, Context

__all__ = ["ROLES", "Actor", "Context"]
