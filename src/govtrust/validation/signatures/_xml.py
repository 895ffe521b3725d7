"""Hardened XML parsing and the XML names the XML signature validators share.

Every XML document given for validation is untrusted (anyone's signature, and the
bad-xml set of issue 3 item 5: billion laughs, quadratic blow-up, external entities,
external DTDs). The defence has two layers:

1. before libxml2 sees the document, its prolog (XML 1.0 §2.8: the XML declaration,
   comments, processing instructions, then an optional ``<!DOCTYPE``) is scanned and a
   document type declaration is refused outright, so no entity declaration is ever
   parsed, let alone expanded, and no DTD is ever loaded;
2. lxml (libxml2) then parses with entity resolution, DTD loading and network access
   off and without ``huge_tree`` (libxml2's depth and text-size limits stay on); a
   DOCTYPE, entity declaration or entity node that slipped past the scan (an encoding
   the scan does not read) is refused afterwards, still without expansion.

XML signatures (W3C XML Signature 1.1) and XAdES (ETSI EN 319 132-1) need no DTD: the
XML-DSig schema declares ``Id`` attributes, which a verifier finds by name instead.
Written here rather than taken from defusedxml: that package wraps the standard
library's parsers, not lxml, whose trees signxml needs.
"""

from __future__ import annotations

import base64
import binascii
import codecs
from typing import Any

from cryptography import x509
from lxml import etree  # type: ignore[import-untyped]

__all__ = [
    "ASIC",
    "C14N_10",
    "DS",
    "EXC_C14N",
    "MAX_XML_BYTES",
    "XADES",
    "XADES141",
    "XmlRefused",
    "b64decode",
    "canonicalize",
    "certificates_in",
    "hardened_parser",
    "parse_hardened",
    "qname",
]

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
XADES141 = "http://uri.etsi.org/01903/v1.4.1#"
ASIC = "http://uri.etsi.org/02918/v1.2.1#"
C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

MAX_XML_BYTES = 64 * 1024 * 1024
"""Larger documents are refused before parsing (the report says so)."""

_C14N_METHODS = {
    C14N_10: (False, False),
    C14N_10 + "#WithComments": (False, True),
    "http://www.w3.org/2006/12/xml-c14n11": (False, False),
    "http://www.w3.org/2006/12/xml-c14n11#WithComments": (False, True),
    EXC_C14N: (True, False),
    EXC_C14N + "WithComments": (True, True),
}


class XmlRefused(Exception):
    """The XML is not acceptable (malformed, too large, a DTD): FORMAT_FAILURE."""


def qname(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def hardened_parser() -> Any:
    """A new lxml parser with entities, DTDs and the network off (not shared: lxml
    parsers are not thread-safe)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def _prolog_text(data: bytes) -> str:
    """The document's first bytes as text, in the encoding its byte order mark names
    (XML 1.0 Appendix F), for the prolog scan."""
    head = data[: 1 << 20]
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF8, "utf-8"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="replace")
    if head.startswith(b"\x00<") or head.startswith(b"<\x00"):  # UTF-16 without BOM
        return head.decode("utf-16-be" if head[0] == 0 else "utf-16-le", errors="replace")
    return head.decode("latin-1")


def _declares_doctype(data: bytes) -> bool:
    """Whether the prolog (XML 1.0 §2.8 ``prolog ::= XMLDecl? Misc* (doctypedecl
    Misc*)?``) holds a document type declaration, skipping comments and processing
    instructions, up to the root element's start tag."""
    text = _prolog_text(data)
    i, n = 0, len(text)
    while i < n:
        if text[i] in " \t\r\n":
            i += 1
        elif text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end < 0:
                return False
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                return False
            i = end + 3
        else:
            return text.startswith("<!", i) and text[i + 2 : i + 9].upper() == "DOCTYPE"
    return False


def parse_hardened(data: bytes) -> Any:
    """The root element of ``data``; :class:`XmlRefused` for anything but a
    well-formed XML document without a DTD, of at most :data:`MAX_XML_BYTES`."""
    if len(data) > MAX_XML_BYTES:
        raise XmlRefused(f"the XML document is larger than {MAX_XML_BYTES} bytes")
    if _declares_doctype(data):
        raise XmlRefused("XML with a document type declaration (DTD, entities) is refused")
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"not well-formed XML: {exc.msg}") from None
    except (ValueError, TypeError):
        raise XmlRefused("not an XML document") from None
    if root is None:
        raise XmlRefused("not an XML document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlRefused("XML with a document type declaration (DTD, entities) is refused")
    if next(root.iter(etree.Entity), None) is not None:
        raise XmlRefused("XML with entity references is refused")
    return root


def canonicalize(node: Any, algorithm: str | None) -> bytes:
    """``node`` in its document, canonicalized with ``algorithm`` (a W3C c14n URI;
    None: Canonical XML 1.0, the XML-DSig and XAdES default). C14N 1.1 is given as
    1.0: they differ only for ``xml:id``/``xml:base`` inheritance, which libxml2's
    serializer has no switch for. Unknown algorithms: :class:`XmlRefused`."""
    try:
        exclusive, comments = _C14N_METHODS[algorithm or C14N_10]
    except KeyError:
        raise XmlRefused(f"unsupported canonicalization algorithm {algorithm!r}") from None
    try:
        return bytes(
            etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=comments)
        )
    except (etree.C14NError, ValueError) as exc:
        raise XmlRefused(f"the XML has no canonical form: {exc}") from None


def b64decode(text: str | None, what: str) -> bytes:
    """Base64 element content (XML Schema base64Binary: whitespace allowed)."""
    try:
        value = base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise XmlRefused(f"invalid base64 in {what}") from None
    if not value:
        raise XmlRefused(f"{what} is empty")
    return value


def certificates_in(element: Any, *tags: str) -> list[x509.Certificate]:
    """The DER certificates held by descendants of ``element`` with one of ``tags``."""
    out: list[x509.Certificate] = []
    for node in element.iter(*tags):
        try:
            out.append(x509.load_der_x509_certificate(b64decode(node.text, "a certificate")))
        except ValueError:
            raise XmlRefused("a certificate in the signature is not valid DER") from None
    return out
