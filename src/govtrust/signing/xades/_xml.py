"""Hardened XML parsing and the XML-DSig/XAdES names used by the XAdES code.

Every XML document from outside is parsed here: lxml (libxml2) with entity resolution,
DTD loading and network access off, and without ``huge_tree`` (libxml2's limits on
depth and text size stay on). A document type declaration is refused outright, with or
without entities: XAdES documents have no use for one, and refusing it closes XXE
(external entities: files, URLs) and entity expansion ("billion laughs", quadratic
blow-up) at the door, whatever the parser would have done with them.
"""

from __future__ import annotations

import base64
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from govtrust.errors import MalformedDocument

__all__ = [
    "ASIC",
    "DS",
    "EXC_C14N",
    "MAX_XML_BYTES",
    "XADES",
    "XADES141",
    "b64",
    "c14n",
    "docinfo_has_dtd",
    "parse_xml",
    "qname",
    "serialize",
]

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
XADES141 = "http://uri.etsi.org/01903/v1.4.1#"
ASIC = "http://uri.etsi.org/02918/v1.2.1#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
"""Exclusive XML Canonicalization 1.0: a signature's canonical form does not depend
on the namespaces of the element it sits in (needed for ASiC, where the signature is
wrapped in ``asic:XAdESSignatures`` after signing)."""

MAX_XML_BYTES = 64 * 1024 * 1024


def qname(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _parser() -> Any:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_blank_text=False,
    )


def parse_xml(data: bytes, *, what: str = "xades") -> Any:
    """The parsed document (an lxml ElementTree), or MalformedDocument: not XML, not
    well-formed, too large, or with a DTD."""
    if len(data) > MAX_XML_BYTES:
        raise MalformedDocument(what, f"the XML document is larger than {MAX_XML_BYTES} bytes")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if docinfo_has_dtd(data):
            raise MalformedDocument(
                what, "XML with a document type declaration (DTD, entities) is refused"
            ) from None
        raise MalformedDocument(what, f"not well-formed XML: {exc.msg}") from None
    except (ValueError, TypeError):
        raise MalformedDocument(what, "not an XML document") from None
    if root is None:
        raise MalformedDocument(what, "not an XML document")
    tree = root.getroottree()
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MalformedDocument(
            what, "XML with a document type declaration (DTD, entities) is refused"
        )
    try:  # XML-DSig needs a canonical form: c14n refuses relative namespace URIs
        etree.tostring(root, method="c14n", exclusive=True)
    except etree.C14NError:
        raise MalformedDocument(
            what, "the XML has no canonical form (a relative namespace URI?): it cannot be signed"
        ) from None
    return tree


def docinfo_has_dtd(data: bytes) -> bool:
    """Whether a document that failed to parse declared a DTD (libxml2 stops on entity
    loops and amplification before the document is complete): the refusal then names
    the DTD, not the symptom."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf")
    return b"<!DOCTYPE" in head or b"<!ENTITY" in head


def c14n(node: Any) -> bytes:
    """Exclusive canonical form of an element (or a whole tree), without comments."""
    return bytes(etree.tostring(node, method="c14n", exclusive=True, with_comments=False))


def serialize(tree: Any) -> bytes:
    """The document as UTF-8 bytes with an XML declaration."""
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))
