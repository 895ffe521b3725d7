"""The verify area's part of the route authorization table (see
tests/integration/test_api_authorization.py): owned by the verify work."""

from __future__ import annotations

#: Paths anyone may call without a token: anyone may validate a document.
PUBLIC: frozenset[str] = frozenset({"/verify"})

#: (method, path template) -> minimum role.
ROLES: dict[tuple[str, str], str] = {}
