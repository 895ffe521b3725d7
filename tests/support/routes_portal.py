"""The portal area's part of the route authorization table (see
tests/integration/test_api_authorization.py): owned by the portal work.

Public portal pages are listed in PUBLIC for both languages; the operator pages
(cookie sessions, login redirects, CSRF tokens) are exempt from the bearer-token test
and enumerated by tests/integration/test_portal_security.py instead."""

from __future__ import annotations

_LANGS = ("en", "ar")
_PUBLIC_PAGES = (
    "",
    "/verify",
    "/verify/report.json",
    "/cas",
    "/certificates/check",
    "/ledger",
    "/trustlists",
    "/reports/{token}",
    "/reports/{token}/report.json",
    "/reports/{token}/report.pdf",
)

#: Paths anyone may call without a token.
PUBLIC: frozenset[str] = frozenset(
    {f"/{lang}{page}" for lang in _LANGS for page in _PUBLIC_PAGES} | {"/portal-static/{name}"}
)

#: (method, path template) -> minimum role.
ROLES: dict[tuple[str, str], str] = {}

#: Path prefixes checked by the portal's own route-enumeration test (cookie sessions,
#: login redirects and CSRF instead of bearer tokens), not by the API one.
EXEMPT_PREFIXES: tuple[str, ...] = ("/en/operator", "/ar/operator")
