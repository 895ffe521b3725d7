"""XAdES (enveloped) and ASiC-E through the service with the demo data, checked by
xmlsec1 (XML-DSig core validation with the demo root trusted and the issuing CA
untrusted, SignedProperties' Id declared), openssl (CAdES over the ASiC manifest, and
the XAdES time-stamps), and refusals of hostile XML."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from govtrust.errors import MalformedDocument
from govtrust.services import Context, audit
from govtrust.services.signing import (
    SigningOptions,
    SigningSession,
    augment_document,
    sign_document,
    sign_files,
)
from govtrust.signing.levels import Level, SignatureFormat
from tests.conftest import SHARED
from tests.integration.test_sign_support import (
    ADMIN,
    PkiFiles,
    openssl_ts_verify,
    pki_files,
    run_tool,
)

pytestmark = pytest.mark.openssl

NS = {
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xades": "http://uri.etsi.org/01903/v1.3.2#",
    "xadesv141": "http://uri.etsi.org/01903/v1.4.1#",
    "asic": "http://uri.etsi.org/02918/v1.2.1#",
}
XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<permit xmlns="urn:example:permits" number="2026-0042">'
    b"<holder>Example Company Ltd</holder><valid-until>2027-12-31</valid-until></permit>\n"
)


def xmlsec1(path: Path, files: PkiFiles) -> str:
    result = run_tool(
        "xmlsec1", "--verify", "--trusted-pem", str(files.root),
        "--untrusted-pem", str(files.issuing),
        "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", str(path),
        cwd=path.parent,
    )  # fmt: skip
    return result.stdout + result.stderr


@pytest.mark.parametrize("level", list(Level))
def test_xmlsec1_accepts_each_level(ctx: Context, tmp_path: Path, level: Level) -> None:
    files = pki_files(ctx, tmp_path)
    result = sign_document(
        ctx, XML, "permit.xml", "civil-registry-agency", ADMIN, SigningOptions(level=level)
    )
    assert (
        result.filename == "permit-signed.xml" and result.document.format is SignatureFormat.XADES
    )
    signed = tmp_path / "permit-signed.xml"
    signed.write_bytes(result.document.data)
    report = xmlsec1(signed, files)
    assert report.startswith("OK") and "SignedInfo References (ok/all): 3/3" in report, report
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(result.document.data.replace(b"2027-12-31", b"2037-12-31"))
    assert "FAIL" in xmlsec1(tampered, files)


def test_openssl_verifies_the_xades_timestamps(ctx: Context, tmp_path: Path) -> None:
    files = pki_files(ctx, tmp_path)
    data = sign_document(
        ctx, XML, "permit.xml", "civil-registry-agency", ADMIN, SigningOptions(level=Level.B_LTA)
    ).document.data
    root = etree.fromstring(data)
    value = root.find(".//ds:SignatureValue", namespaces=NS)
    token = base64.b64decode(
        root.findtext(".//xades:SignatureTimeStamp/xades:EncapsulatedTimeStamp", namespaces=NS)
    )
    imprint = hashlib.sha256(etree.tostring(value, method="c14n", exclusive=True)).hexdigest()
    assert "Verification: OK" in openssl_ts_verify(token, imprint, files.chain, tmp_path)
    archive = base64.b64decode(
        root.findtext(".//xadesv141:ArchiveTimeStamp/xades:EncapsulatedTimeStamp", namespaces=NS)
    )
    assert "Verification: OK" not in openssl_ts_verify(archive, imprint, files.chain, tmp_path)
    lt = root.find(".//xades:RevocationValues", namespaces=NS)
    assert len(lt.findall(".//xades:EncapsulatedOCSPValue", namespaces=NS)) >= 2


def test_augment_xml_and_audit(ctx: Context, tmp_path: Path) -> None:
    files = pki_files(ctx, tmp_path)
    signed = sign_document(ctx, XML, "permit.xml", "civil-registry-agency", ADMIN).document.data
    augmented = augment_document(ctx, signed, "permit-signed.xml", Level.B_LTA, ADMIN)
    path = tmp_path / "augmented.xml"
    path.write_bytes(augmented.document.data)
    assert xmlsec1(path, files).startswith("OK")
    (_, event), *_ = audit.list_events(ctx, action="sign.augment", limit=1)
    assert event.details["level"] == "B-LTA" and event.object_type == "signature"


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (SHARED / "vectors" / "bad-xml").glob("*.xml"))
)
def test_bad_xml_vectors(ctx: Context, name: str) -> None:
    data = (SHARED / "vectors" / "bad-xml" / name).read_bytes()
    session = SigningSession(ctx, "civil-registry-agency", ADMIN)
    if name == "simple.xml":
        assert session.sign(data, name).document.format is SignatureFormat.XADES
    elif name == "simple-ns.xml":  # xmlns='namespace': relative, no canonical form
        with pytest.raises(MalformedDocument, match="canonical form"):
            session.sign(data, name)
    else:
        with pytest.raises(MalformedDocument, match="document type declaration"):
            session.sign(data, name)


def test_non_xml_as_xades_is_refused(ctx: Context) -> None:
    session = SigningSession(
        ctx, "civil-registry-agency", ADMIN, SigningOptions(format=SignatureFormat.XADES)
    )
    for data in (b"%PDF-1.7\n", b"hello", bytes(range(256))):
        with pytest.raises(MalformedDocument, match="XML"):
            session.sign(data, "file.bin")


# ---- ASiC-E ----------------------------------------------------------------------------

FILES = [
    ("decision.pdf", (SHARED / "vectors" / "pdf" / "minimal.pdf").read_bytes()),
    ("annex.txt", b"Annex 1\n"),
]


def _extract(data: bytes, directory: Path) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    directory.mkdir()
    archive.extractall(directory)
    return archive


@pytest.mark.parametrize("level", [Level.B_B, Level.B_LTA])
def test_asic_xades_verifies_with_xmlsec1(ctx: Context, tmp_path: Path, level: Level) -> None:
    files = pki_files(ctx, tmp_path)
    result = sign_files(
        ctx, FILES, "bundle.asice", "ministry-of-finance", ADMIN, SigningOptions(level=level)
    )
    archive = _extract(result.document.data, tmp_path / "x")
    assert archive.namelist()[0] == "mimetype"
    # References are relative to the container's root (EN 319 162-1 §4.4.3.2).
    signature = tmp_path / "x" / "signatures001.xml"
    signature.write_bytes(archive.read("META-INF/signatures001.xml"))
    report = xmlsec1(signature, files)
    assert report.startswith("OK") and "SignedInfo References (ok/all): 4/4" in report, report
    (tmp_path / "x" / "annex.txt").write_bytes(b"Annex 2\n")
    assert "FAIL" in xmlsec1(signature, files)


def test_asic_cades_verifies_with_openssl(ctx: Context, tmp_path: Path) -> None:
    files = pki_files(ctx, tmp_path)
    result = sign_files(
        ctx, FILES, "bundle.asice", "ministry-of-finance", ADMIN,
        SigningOptions(level=Level.B_LT, asic_signature="cades"),
    )  # fmt: skip
    archive = _extract(result.document.data, tmp_path / "c")
    report = run_tool(
        "openssl", "cms", "-verify", "-binary", "-inform", "DER",
        "-in", "META-INF/signature001.p7s",
        "-content", "META-INF/ASiCManifest.xml", "-CAfile", str(files.chain), "-purpose", "any",
        "-out", "/dev/null", cwd=tmp_path / "c",
    )  # fmt: skip
    assert "Verification successful" in report.stdout + report.stderr
    manifest = etree.fromstring(archive.read("META-INF/ASiCManifest.xml"))
    for ref in manifest.findall("asic:DataObjectReference", namespaces=NS):
        data = (tmp_path / "c" / ref.get("URI")).read_bytes()
        expected = base64.b64encode(hashlib.sha256(data).digest()).decode()
        assert ref.findtext("ds:DigestValue", namespaces=NS) == expected
    augmented = augment_document(ctx, result.document.data, "bundle.asice", Level.B_LTA, ADMIN)
    assert zipfile.ZipFile(io.BytesIO(augmented.document.data)).read(
        "META-INF/ASiCManifest.xml"
    ) == archive.read("META-INF/ASiCManifest.xml")


def test_single_file_asic_and_bad_container(ctx: Context) -> None:
    session = SigningSession(
        ctx, "ministry-of-finance", ADMIN, SigningOptions(format=SignatureFormat.ASIC_E)
    )
    result = session.sign(b"hello\n", "dir/hello.txt")
    assert result.filename == "dir/hello.txt.asice"
    assert zipfile.ZipFile(io.BytesIO(result.document.data)).namelist()[1] == "hello.txt"
    with pytest.raises(MalformedDocument):
        augment_document(ctx, b"PK\x03\x04garbage", "x.asice", Level.B_LTA, ADMIN)
