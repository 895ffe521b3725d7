"""The portal area's part of the route authorization table (see
tests/integration/test_api_authorization.py): owned by the portal work."""

from __future__ import annotations

#: Paths anyone may call without a token.
PUBLIC: frozenset[str] = frozenset()

#: (method, path template) -> minimum role.
ROLES: dict[tuple[str, str], str] = {}

#: Path prefixes checked by the portal's own route-enumeration test (cookie sessions,
#: login redirects and CSRF instead of bearer tokens), not by the API one.
EXEMPT_PREFIXES: tuple[str, ...] = ()
