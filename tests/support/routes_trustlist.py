"""The trustlist area's part of the route authorization table (see
tests/integration/test_api_authorization.py): owned by the trustlist work."""

from __future__ import annotations

#: Paths anyone may call without a token.
PUBLIC: frozenset[str] = frozenset()

#: (method, path template) -> minimum role.
ROLES: dict[tuple[str, str], str] = {}
