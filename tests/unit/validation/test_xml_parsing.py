"""The hardened XML parser of the validators: a DTD is refused before libxml2 reads it,
whatever precedes it in the prolog and whatever the encoding; well-formed XML without
one parses; canonicalization follows the method asked for."""

from __future__ import annotations

import time

import pytest

from govtrust.validation.signatures._xml import (
    EXC_C14N,
    MAX_XML_BYTES,
    XmlRefused,
    b64decode,
    canonicalize,
    parse_hardened,
)

BOMB = (
    b'<!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
    )
    + b"]><lolz>&j;</lolz>"
)


@pytest.mark.parametrize(
    "data",
    [
        BOMB,
        b'<?xml version="1.0"?>\n<!-- <a> in a comment -->\n<?pi x?>\n<!DOCTYPE r><r/>',
        b"<!-- " + b"x" * 100_000 + b" -->\n<!doctype r SYSTEM 'http://127.0.0.1:9/x.dtd'><r/>",
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'.encode(
            "utf-16"
        ),
        '<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'.encode("utf-16-le"),
        b"\xef\xbb\xbf<!DOCTYPE r [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><r>&e;</r>",
    ],
    ids=["billion-laughs", "after-comment-and-pi", "long-comment", "utf16-bom", "utf16le", "bom"],
)
def test_document_type_declarations_are_refused_at_once(data: bytes) -> None:
    start = time.monotonic()
    with pytest.raises(XmlRefused, match="document type declaration"):
        parse_hardened(data)
    assert time.monotonic() - start < 0.5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not well-formed|not an XML"),
        (b"<a><b></a>", "not well-formed"),
        (b"%PDF-1.7", "not well-formed"),
        (b"<a>&undeclared;</a>", "not well-formed"),
    ],
)
def test_malformed_xml_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(XmlRefused, match=message):
        parse_hardened(data)


def test_too_large_is_refused_before_parsing() -> None:
    with pytest.raises(XmlRefused, match="larger than"):
        parse_hardened(b"<a>" + b" " * MAX_XML_BYTES + b"</a>")


def test_plain_xml_parses_and_canonicalizes() -> None:
    root = parse_hardened(
        b'<?xml version="1.0"?><!-- c --><r xmlns="urn:r" xmlns:u="urn:unused"><e b="2" a="1"/>'
        b"<!-- inner --></r>"
    )
    child = root[0]
    assert canonicalize(child, None) == b'<e xmlns="urn:r" xmlns:u="urn:unused" a="1" b="2"></e>'
    assert canonicalize(child, EXC_C14N) == b'<e xmlns="urn:r" a="1" b="2"></e>'
    assert b"<!-- inner -->" in canonicalize(root, EXC_C14N + "WithComments")
    assert b"inner" not in canonicalize(root, EXC_C14N)
    with pytest.raises(XmlRefused, match="unsupported canonicalization"):
        canonicalize(root, "urn:unknown")


def test_base64_content() -> None:
    assert b64decode(" aGVs\n bG8= ", "x") == b"hello"
    with pytest.raises(XmlRefused, match="invalid base64"):
        b64decode("a*b", "x")
    with pytest.raises(XmlRefused, match="empty"):
        b64decode("", "x")
