"""ASiC-E containers (EN 319 162-1): the ZIP layout, both signature forms, augmenting,
and containers that are refused."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile

import pytest
from asn1crypto import cms
from lxml import etree

from govtrust.errors import InputError, MalformedDocument
from govtrust.signing.asic import augment_asic, read_container, sign_asic
from govtrust.signing.levels import Level
from tests.unit.signing.conftest import Pki, make_pki

FILES = [("decree.pdf", b"%PDF-1.7 not really\n"), ("annex/table.csv", b"a,b\n1,2\n")]
NS = {
    "asic": "http://uri.etsi.org/02918/v1.2.1#",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xadesv141": "http://uri.etsi.org/01903/v1.4.1#",
}


def _first_local_header(data: bytes) -> tuple[str, int, int]:
    """(name, compression method, extra field length) of the first ZIP entry
    (PKWARE APPNOTE §4.3.7)."""
    signature, _, _, method, _, _, _, _, _, name_len, extra_len = struct.unpack(
        "<IHHHHHIIIHH", data[:30]
    )
    assert signature == 0x04034B50
    return data[30 : 30 + name_len].decode(), method, extra_len


@pytest.mark.parametrize("kind", ["xades", "cades"])
def test_layout(pki: Pki, kind: str) -> None:
    doc = sign_asic(FILES, pki.identity, Level.B_B, pki.services(), signature=kind)
    assert doc.media_type == "application/vnd.etsi.asic-e+zip"
    name, method, extra = _first_local_header(doc.data)
    assert (name, method, extra) == ("mimetype", 0, 0)  # §A.1: first, stored, no extra field
    assert doc.data[38:69] == b"application/vnd.etsi.asic-e+zip"
    names = zipfile.ZipFile(io.BytesIO(doc.data)).namelist()
    expected = {
        "xades": ["META-INF/signatures001.xml"],
        "cades": ["META-INF/ASiCManifest.xml", "META-INF/signature001.p7s"],
    }
    assert names == ["mimetype", "decree.pdf", "annex/table.csv", *expected[kind]]


def test_xades_form_references_every_file(pki: Pki) -> None:
    doc = sign_asic(FILES, pki.identity, Level.B_B, pki.services())
    xml = zipfile.ZipFile(io.BytesIO(doc.data)).read("META-INF/signatures001.xml")
    root = etree.fromstring(xml)
    assert root.tag == "{http://uri.etsi.org/02918/v1.2.1#}XAdESSignatures"
    refs = root.findall("ds:Signature/ds:SignedInfo/ds:Reference", namespaces=NS)
    by_uri = {r.get("URI"): r.findtext("ds:DigestValue", namespaces=NS) for r in refs}
    import base64

    for name, data in FILES:
        assert by_uri[name] == base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_cades_form_signs_the_manifest(pki: Pki) -> None:
    doc = sign_asic(FILES, pki.identity, Level.B_T, pki.services(), signature="cades")
    archive = zipfile.ZipFile(io.BytesIO(doc.data))
    manifest = archive.read("META-INF/ASiCManifest.xml")
    cms_der = archive.read("META-INF/signature001.p7s")
    info = cms.ContentInfo.load(cms_der)["content"]["signer_infos"][0]
    digests = [
        a["values"][0].native for a in info["signed_attrs"] if a["type"].native == "message_digest"
    ]
    assert digests == [hashlib.sha256(manifest).digest()]
    root = etree.fromstring(manifest)
    refs = root.findall("asic:DataObjectReference", namespaces=NS)
    assert [r.get("URI") for r in refs] == [n for n, _ in FILES]
    assert root.find("asic:SigReference", namespaces=NS).get("URI") == "META-INF/signature001.p7s"


@pytest.mark.parametrize("kind", ["xades", "cades"])
def test_augment_to_lta(kind: str) -> None:
    pki = make_pki()
    doc = sign_asic(FILES, pki.identity, Level.B_B, pki.services(), signature=kind)
    augmented = augment_asic(doc.data, Level.B_LTA, pki.services())
    container = read_container(augmented.data)
    assert [(f.name, f.data) for f in container.files] == FILES
    if kind == "xades":
        root = etree.fromstring(container.meta["META-INF/signatures001.xml"])
        assert root.find(".//xadesv141:ArchiveTimeStamp", namespaces=NS) is not None
    else:
        info = cms.ContentInfo.load(container.meta["META-INF/signature001.p7s"])["content"][
            "signer_infos"
        ][0]
        assert "0.4.0.1733.2.4" in {a["type"].dotted for a in info["unsigned_attrs"]}
        assert (
            container.meta["META-INF/ASiCManifest.xml"]
            == read_container(doc.data).meta["META-INF/ASiCManifest.xml"]
        )


@pytest.mark.parametrize(
    "files",
    [
        [],
        [("../escape.txt", b"x")],
        [("/abs.txt", b"x")],
        [("META-INF/evil.xml", b"x")],
        [("mimetype", b"x")],
        [("a.txt", b"1"), ("a.txt", b"2")],
    ],
)
def test_bad_file_names_are_refused(pki: Pki, files: list[tuple[str, bytes]]) -> None:
    with pytest.raises(InputError):
        sign_asic(files, pki.identity, Level.B_B, pki.services())


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"not a zip",
        b"PK\x03\x04" + b"\x00" * 40,
        _zip([("a.txt", b"x")]),
        _zip([("mimetype", b"application/zip")]),
        _zip([("mimetype", b"application/vnd.etsi.asic-e+zip"), ("../x", b"y")]),
    ],
)
def test_bad_containers_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedDocument):
        read_container(data)


def test_container_without_signature_cannot_be_augmented(pki: Pki) -> None:
    data = _zip([("mimetype", b"application/vnd.etsi.asic-e+zip"), ("a.txt", b"x")])
    with pytest.raises(MalformedDocument, match="no META-INF"):
        augment_asic(data, Level.B_LTA, pki.services())
