"""Validation against the TS 119 612 V2.4.1 XML schema, offline.

The schemas in ``xsd/`` are ETSI's (TS 119 612 V2.4.1 main, service information
extensions and additional types), XAdES 1.3.2, XML-DSig and ``xml.xsd``, as shipped in
esig/dss ``specs-*`` (licences in ``xsd/LICENSE-dss`` and each file's notice). Their
``schemaLocation``s point at etsi.org and w3.org: an lxml resolver maps every one to
the local copy by namespace, and the parser has network access off, so schema loading
never leaves the machine.

One driver schema imports the four namespaces, so that the lax ``tsl:Extension`` content
(service information extensions, additional types) is validated too.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from govtrust.trustlist._xml import DS, SIE, TSL, TSLX, XADES

__all__ = ["SCHEMA_DIR", "schema_errors"]

SCHEMA_DIR = Path(__file__).with_name("xsd")

_BY_NAMESPACE = {
    TSL: "ts_119612v020401_xsd.xsd",
    TSLX: "ts_119612v020401_additionaltypes_xsd.xsd",
    SIE: "ts_119612v020401_sie_xsd.xsd",
    XADES: "XAdES01903v132-202407.xsd",
    DS: "xmldsig-core-schema.xsd",
    "http://www.w3.org/XML/1998/namespace": "xml.xsd",
}
_BY_NAME = {
    "19612_xsd.xsd": TSL,
    "xmldsig-core-schema.xsd": DS,
    "xml.xsd": "http://www.w3.org/XML/1998/namespace",
}


class _LocalResolver(etree.Resolver):  # type: ignore[misc]
    """Every imported schema from ``xsd/``; anything else is refused (empty)."""

    def resolve(self, url: str, pubid: str | None, context: Any) -> Any:
        name = url.rsplit("/", 1)[-1]
        for filename in _BY_NAMESPACE.values():
            if name == filename:
                return self.resolve_filename(str(SCHEMA_DIR / filename), context)
        if name in _BY_NAME:
            return self.resolve_filename(str(SCHEMA_DIR / _BY_NAMESPACE[_BY_NAME[name]]), context)
        if name.startswith("XAdES01903v132"):
            return self.resolve_filename(str(SCHEMA_DIR / _BY_NAMESPACE[XADES]), context)
        return self.resolve_string("", context)


def _driver() -> bytes:
    imports = "".join(
        f'<xsd:import namespace="{ns}" schemaLocation="{SCHEMA_DIR / name}"/>'
        for ns, name in _BY_NAMESPACE.items()
        if ns in (TSL, TSLX, SIE)
    )
    return (
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        ' targetNamespace="urn:govtrust:tsl-driver">' + imports + "</xsd:schema>"
    ).encode()


@functools.cache
def _schema() -> Any:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(_LocalResolver())
    doc = etree.fromstring(_driver(), parser, base_url=str(SCHEMA_DIR / "driver.xsd"))
    return etree.XMLSchema(doc)


def schema_errors(tree: Any, limit: int = 5) -> list[str]:
    """The first ``limit`` schema violations of a parsed list (empty: valid)."""
    schema = _schema()
    if schema.validate(tree):
        return []
    return [f"line {e.line}: {e.message}" for e in list(schema.error_log)[:limit]]
