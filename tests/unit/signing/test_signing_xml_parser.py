"""Every XML document from outside goes through one hardened parser: the bad-xml set
(defusedxml's test data) is refused when it has a DTD, and harmless XML passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from govtrust.errors import MalformedDocument
from govtrust.signing.xades._xml import MAX_XML_BYTES, parse_xml
from tests.conftest import SHARED

BAD_XML = SHARED / "vectors" / "bad-xml"

WITH_DTD = [
    "cyclic.xml",
    "dtd.xml",
    "external.xml",
    "external_file.xml",
    "quadratic.xml",
    "xmlbomb.xml",
    "xmlbomb2.xml",
    "xmp-with-harmless-entity.xml",
]


@pytest.mark.parametrize("name", WITH_DTD)
def test_documents_with_a_dtd_are_refused(name: str) -> None:
    data = (BAD_XML / name).read_bytes()
    with pytest.raises(MalformedDocument, match="document type declaration") as info:
        parse_xml(data)
    assert info.value.format == "xades"
    # Never the content of a file an external entity points to.
    assert "root:" not in str(info.value)


def test_plain_xml_is_parsed() -> None:
    tree = parse_xml((BAD_XML / "simple.xml").read_bytes())
    assert tree.getroot() is not None


def test_relative_namespace_has_no_canonical_form() -> None:
    """simple-ns.xml declares xmlns='namespace' (a relative URI): C14N, hence XML-DSig,
    cannot process it, and that is said instead of failing inside the signer."""
    with pytest.raises(MalformedDocument, match="canonical form"):
        parse_xml((BAD_XML / "simple-ns.xml").read_bytes())


def test_every_vector_is_classified() -> None:
    names = {p.name for p in BAD_XML.glob("*.xml")}
    assert names == set(WITH_DTD) | {"simple.xml", "simple-ns.xml"}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml at all",
        b"%PDF-1.7\n",
        b"<a><b></a>",
        b"\x00\x01\x02",
        b"<?xml version='1.0'?>",
    ],
)
def test_not_xml_is_refused(data: bytes) -> None:
    with pytest.raises(MalformedDocument):
        parse_xml(data)


def test_oversized_document_is_refused_before_parsing(tmp_path: Path) -> None:
    with pytest.raises(MalformedDocument, match="larger than"):
        parse_xml(b"<a>" + b"x" * MAX_XML_BYTES + b"</a>")
