"""Hardened XML parsing for trusted lists, and the namespaces of TS 119 612.

Every list from outside is parsed here: lxml (libxml2) with entity resolution, DTD
loading and network access off and ``huge_tree`` off (libxml2's depth and text limits
stay on). A document type declaration is refused outright, before parsing, with or
without entities: TS 119 612 lists have no use for one, and refusing it closes XXE
(external entities: files, URLs) and entity expansion (billion laughs, quadratic
blow-up) whatever the parser would have done.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

__all__ = [
    "DS",
    "MAX_LIST_BYTES",
    "SIE",
    "TSL",
    "TSLX",
    "XADES",
    "XmlRefused",
    "parse_hardened",
    "q",
]

TSL = "http://uri.etsi.org/02231/v2#"
TSLX = "http://uri.etsi.org/02231/v2/additionaltypes#"
SIE = "http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/#"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"

MAX_LIST_BYTES = 32 * 1024 * 1024
"""The largest list accepted (the EU LOTL is about 0.5 MB, national lists a few MB)."""

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)


class XmlRefused(ValueError):
    """Not parsed: ``reason`` says why (too large, DTD, not well-formed)."""


def q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def _parser() -> Any:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_hardened(data: bytes) -> Any:
    """The document's ElementTree, or :class:`XmlRefused`. A ``<!DOCTYPE``/``<!ENTITY``
    declaration anywhere is refused before libxml2 sees the document."""
    if len(data) > MAX_LIST_BYTES:
        raise XmlRefused(f"the document is larger than {MAX_LIST_BYTES} bytes")
    if _DTD.search(data):
        raise XmlRefused("XML with a document type declaration (DTD, entities) is refused")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"not well-formed XML: {exc.msg}") from None
    except (ValueError, TypeError):
        raise XmlRefused("not an XML document") from None
    if root is None:
        raise XmlRefused("not an XML document")
    tree = root.getroottree()
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise XmlRefused("XML with a document type declaration (DTD, entities) is refused")
    return tree
