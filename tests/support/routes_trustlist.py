"""The trustlist area's part of the route authorization table (see
tests/integration/test_api_authorization.py): owned by the trustlist work."""

from __future__ import annotations

#: Paths anyone may call without a token.
PUBLIC: frozenset[str] = frozenset({"/trustlist.xml", "/lotl.xml", "/lotl-pivot-{sequence}.xml"})

_P = "/api/v1/trustlists"

#: (method, path template) -> minimum role.
ROLES: dict[tuple[str, str], str] = {
    ("GET", _P): "auditor",
    ("POST", _P + "/tsps"): "operator",
    ("PATCH", _P + "/tsps/{name}"): "operator",
    ("POST", _P + "/tsps/{name}/services"): "operator",
    ("POST", _P + "/tsps/{name}/services/{service}/status"): "operator",
    ("POST", _P + "/local-services"): "operator",
    ("PUT", _P + "/pointers"): "operator",
    ("POST", _P + "/publish"): "admin",
    ("POST", _P + "/publish-lotl"): "admin",
    ("POST", _P + "/rotate-lotl-signer"): "admin",
    ("POST", _P + "/imports"): "admin",
    ("POST", _P + "/refresh"): "operator",
}
