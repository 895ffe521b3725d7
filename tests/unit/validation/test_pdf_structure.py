"""The PDF side of PAdES validation, without the CMS: opening hostile files, byte range
rules, signature enumeration. Signed PDFs are made here with pyHanko and the small
test PKI; the attack builders are shared with the integration tests."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from govtrust.clock import FixedClock
from govtrust.validation.indications import Indication, SubIndication
from govtrust.validation.policy import ValidationPolicy
from govtrust.validation.signatures import Environment
from govtrust.validation.signatures._pdf_structure import (
    OpenedPdf,
    PdfProblem,
    check_byte_range,
    find_signatures,
    open_pdf,
)
from govtrust.validation.signatures.pades import validate_pdf
from tests.unit.validation.pki_factory import NOW, make_pki

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "vectors" / "pdf"
TWO_FIELDS = (VECTORS / "minimal-two-fields.pdf").read_bytes()

_PKI = make_pki()


def test_signer() -> signers.SimpleSigner:
    """A pyHanko signer with the small test PKI's end entity (P-256)."""
    key = _PKI.leaf.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(_PKI.leaf.der),
        signing_key=asn1_keys.PrivateKeyInfo.load(key),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(_PKI.root.der)]
        ),
    )


test_signer.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def sign(
    pdf: bytes,
    field: str = "Sig1",
    *,
    certify: bool = False,
    permission: fields.MDPPerm = fields.MDPPerm.FILL_FORMS,
    signer: signers.Signer | None = None,
) -> bytes:
    """Sign (or certify with DocMDP ``permission``) the field ``field`` of ``pdf``."""
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=certify,
        docmdp_permissions=permission,
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    return signers.sign_pdf(writer, meta, signer=signer or test_signer()).getvalue()


def _write(writer: IncrementalPdfFileWriter) -> bytes:
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def overlay(signed: bytes, text: bytes = b"(FORGED) Tj") -> bytes:
    """Incremental-saving attack: a content stream drawn over page 1."""
    writer = IncrementalPdfFileWriter(BytesIO(signed))
    stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 10 10 Td " + text + b" ET")
    writer.add_stream_to_page(0, writer.add_object(stream))
    return _write(writer)


def replace_contents(signed: bytes) -> bytes:
    """Shadow attack (hide-and-replace): page 1's /Contents swapped after signing."""
    writer = IncrementalPdfFileWriter(BytesIO(signed))
    page_ref, _ = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=b"BT (NEW) Tj ET"))
    writer.update_container(page)
    return _write(writer)


def add_annotation(signed: bytes) -> bytes:
    """A /Text annotation added to page 1."""
    writer = IncrementalPdfFileWriter(BytesIO(signed))
    page_ref, _ = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    annot = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Text"),
            pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(x) for x in (1, 1, 9, 9)]),
            pdf_name("/Contents"): generic.TextStringObject("approved"),
        }
    )
    page["/Annots"] = generic.ArrayObject([*page.get("/Annots", []), writer.add_object(annot)])
    writer.update_container(page)
    return _write(writer)


def with_text_field(pdf: bytes) -> tuple[bytes, int]:
    """``pdf`` with a text field 'Name' on page 1 (before signing); its object number."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    page_ref, _ = writer.find_page_for_modification(0)
    widget = generic.DictionaryObject(
        {
            pdf_name("/FT"): pdf_name("/Tx"),
            pdf_name("/T"): generic.TextStringObject("Name"),
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Widget"),
            pdf_name("/Rect"): generic.ArrayObject(
                [generic.NumberObject(x) for x in (10, 200, 200, 220)]
            ),
            pdf_name("/P"): page_ref,
        }
    )
    ref = writer.add_object(widget)
    form = writer.root["/AcroForm"]
    form["/Fields"].append(ref)
    writer.update_container(form)
    page = page_ref.get_object()
    page["/Annots"] = generic.ArrayObject([*page.get("/Annots", []), ref])
    writer.update_container(page)
    return _write(writer), ref.idnum


def fill_text_field(signed: bytes, idnum: int, value: str = "Jane Doe") -> bytes:
    """Form filling: the text field gets a value and an appearance."""
    writer = IncrementalPdfFileWriter(BytesIO(signed))
    widget = writer.get_object(generic.Reference(idnum, 0, pdf=writer.prev))
    widget["/V"] = generic.TextStringObject(value)
    appearance = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject(
                [generic.NumberObject(x) for x in (0, 0, 190, 20)]
            ),
        },
        stream_data=b"BT (" + value.encode() + b") Tj ET",
    )
    widget["/AP"] = generic.DictionaryObject({pdf_name("/N"): writer.add_object(appearance)})
    writer.update_container(widget)
    return _write(writer)


def rewrite_byte_range(signed: bytes, change: str) -> bytes:
    """Rewrite the last signature's /ByteRange in place (same length): ``gap`` leaves
    16 bytes before /Contents unsigned, ``overlap`` makes the ranges overlap,
    ``past-eof`` extends the second range past the end, ``offset`` starts at 1."""
    at = signed.rindex(b"/ByteRange")
    start = signed.index(b"[", at)
    end = signed.index(b"]", start)
    a, b, c, d = (int(x) for x in signed[start + 1 : end].split())
    new = {
        "gap": (a, b - 16, c, d),
        "overlap": (a, b, b - 16, c + d - (b - 16)),
        "past-eof": (a, b, c, d + 100),
        "offset": (1, b - 1, c, d),
    }[change]
    text = ("[" + " ".join(str(x) for x in new)).encode()
    text = text.ljust(end - start, b" ")
    assert len(text) == end - start, "the new /ByteRange must fit in place"
    return signed[:start] + text + signed[end:]


def env() -> Environment:
    policy = ValidationPolicy.builder().trust_anchors([_PKI.root.cert]).at(NOW).build()
    return Environment(policy=policy, clock=FixedClock(NOW))


# -- opening --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("minimal-aes256.pdf", "encrypted"),
        ("minimal-illegal-header.pdf", "header"),
        ("minimal-startxref-hopeless.pdf", "xref"),
    ],
)
def test_unreadable_vectors_are_one_format_failure(name: str, expected: str) -> None:
    data = (VECTORS / name).read_bytes()
    opened = open_pdf(data)
    assert isinstance(opened, PdfProblem) and expected in opened.message.lower()
    result = validate_pdf(data, env())
    (entry,) = result.signatures
    assert result.format == "PDF"
    assert entry.indication is Indication.TOTAL_FAILED
    assert entry.sub_indication is SubIndication.FORMAT_FAILURE
    assert expected in entry.message.lower()


@pytest.mark.parametrize("name", ["minimal.pdf", "minimal-two-pages.pdf", "minimal-badxref.pdf"])
def test_unsigned_pdf_has_no_signature(name: str) -> None:
    result = validate_pdf((VECTORS / name).read_bytes(), env())
    assert result.signatures == ()
    assert result.details["revisions"] >= 1
    assert result.details["signatureCount"] == 0


def test_bad_xref_is_read_leniently_and_says_so() -> None:
    opened = open_pdf((VECTORS / "minimal-badxref.pdf").read_bytes())
    assert isinstance(opened, OpenedPdf)
    if not opened.strict:
        assert any("leniently" in f for f in opened.findings)


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + bytes(range(256)) * 8,
        b"%PDF-",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>",
        b"%PDF-1.4\nxref\n0 99999999\ntrailer<</Size 1/Root 1 0 R>>\nstartxref\n9\n%%EOF",
    ],
    ids=["garbage", "header-only", "no-xref", "huge-xref"],
)
def test_garbage_after_the_header_never_raises(data: bytes) -> None:
    result = validate_pdf(data, env())
    assert len(result.signatures) <= 1
    if result.signatures:
        assert result.signatures[0].sub_indication is SubIndication.FORMAT_FAILURE


def test_truncated_signed_pdf_never_raises() -> None:
    signed = sign(TWO_FIELDS)
    for cut in (len(signed) // 3, len(signed) // 2, len(signed) - 40):
        result = validate_pdf(signed[:cut], env())
        assert all(not s.passed for s in result.signatures)


# -- byte ranges ----------------------------------------------------------------------


def _byte_range_of(data: bytes) -> tuple[object, bytes]:
    opened = open_pdf(data)
    assert isinstance(opened, OpenedPdf)
    (found,) = [f for f in find_signatures(opened.reader)]
    assert found.embedded is not None
    return found.embedded.byte_range, bytes(found.embedded.pkcs7_content)


def test_a_fresh_signature_covers_the_whole_file_but_its_contents() -> None:
    signed = sign(TWO_FIELDS)
    raw, contents = _byte_range_of(signed)
    check = check_byte_range(signed, raw, contents)
    assert check.ok and check.entire_file, check.problems
    a, b, c, d = check.byte_range
    assert check.signed == signed[a : a + b] + signed[c : c + d]
    assert signed[b] == ord("<") and signed[c - 1] == ord(">")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("gap", "not just the /Contents"),
        ("overlap", "overlap"),
        ("past-eof", "past the end of the file"),
        ("offset", "not at the start"),
    ],
)
def test_byte_range_tricks_are_named(change: str, named: str) -> None:
    data = rewrite_byte_range(sign(TWO_FIELDS), change)
    raw, contents = _byte_range_of(data)
    check = check_byte_range(data, raw, contents)
    assert not check.ok
    assert any(named in p for p in check.problems), check.problems


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ([0, 10, 20], "3 numbers"),
        ([0, -1, 20, 5], "negative"),
        ([0, 10, "x", 5], "not an integer"),
        ("nope", "not an array"),
    ],
)
def test_malformed_byte_range_values(raw: object, named: str) -> None:
    check = check_byte_range(b"%PDF-" + b"0" * 100, raw, b"")
    assert not check.ok and named in check.problems[0]


def test_contents_gap_must_be_this_signatures_value() -> None:
    data = b"A" * 10 + b"<00ff>" + b"B" * 10
    assert check_byte_range(data, [0, 10, 16, 10], bytes.fromhex("00ff")).ok
    other = check_byte_range(data, [0, 10, 16, 10], bytes.fromhex("0011"))
    assert not other.ok and "not this signature's" in other.problems[0]


def test_a_signature_whose_contents_is_not_cms_is_its_own_failure() -> None:
    signed = bytearray(sign(TWO_FIELDS))
    _raw, contents = _byte_range_of(bytes(signed))
    at = signed.upper().index(contents.hex().upper().encode()[:64])
    signed[at : at + 8] = b"deadbeef"
    opened = open_pdf(bytes(signed))
    assert isinstance(opened, OpenedPdf)
    (found,) = list(find_signatures(opened.reader))
    assert found.embedded is None and found.problem is not None
    result = validate_pdf(bytes(signed), env())
    (entry,) = result.signatures
    assert entry.identifier == "Sig1"
    assert entry.sub_indication is SubIndication.FORMAT_FAILURE


def test_byte_mutations_anywhere_never_raise_and_never_pass() -> None:
    """One byte changed at 40 places spread over a signed PDF (header, objects, the
    signature dictionary, /Contents, the cross-reference table, the trailer): the
    validation never raises, and never passes unless the byte was inside /Contents'
    zero padding (which the signature does not cover, by design)."""
    signed = sign(TWO_FIELDS)
    raw, contents = _byte_range_of(signed)
    _, b, c, _ = check_byte_range(signed, raw, contents).byte_range
    for position in range(0, len(signed), max(1, len(signed) // 40)):
        mutated = bytearray(signed)
        mutated[position] = ord("7") if mutated[position] != ord("7") else ord("1")
        result = validate_pdf(bytes(mutated), env())
        assert isinstance(result.signatures, tuple)
        if any(s.passed for s in result.signatures):
            assert b < position < c - 1, f"a change at offset {position} passed"


def _tiny_pdf(*objects: bytes) -> bytes:
    """A PDF with these objects (1 is the catalog) and a correct xref table."""
    out = b"%PDF-1.7\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


_CATALOG_WITH_FIELD = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [3 0 R] >> >>"
_NO_PAGES = b"<< /Type /Pages /Kids [] /Count 0 >>"


@pytest.mark.parametrize(
    ("data", "where", "named"),
    [
        (
            _tiny_pdf(b"<< /Type /Catalog /X " + b"[" * 50_000 + b"]" * 50_000 + b" >>"),
            "document",
            "nested",
        ),
        (
            _tiny_pdf(_CATALOG_WITH_FIELD, _NO_PAGES, b"<< /T (a) /Kids [3 0 R] >>"),
            "document",
            "cannot be read",
        ),
        (
            _tiny_pdf(
                _CATALOG_WITH_FIELD,
                _NO_PAGES,
                b"<< /FT /Sig /T (s) /V << /Type /Sig /ByteRange [0 1 2 3] >> >>",
            ),
            "s",
            "/Contents",
        ),
        (
            _tiny_pdf(
                _CATALOG_WITH_FIELD,
                _NO_PAGES,
                b"<< /FT /Sig /T (s) /V << /Type /Sig /SubFilter /ETSI.CAdES.detached"
                b" /ByteRange [0 1 2 3] /Contents <3080> >> >>",
            ),
            "s",
            "cannot be read",
        ),
    ],
    ids=["nested-arrays", "cyclic-field-tree", "signature-without-contents", "junk-cms"],
)
def test_hostile_structures_are_format_failures(data: bytes, where: str, named: str) -> None:
    (entry,) = validate_pdf(data, env()).signatures
    assert entry.identifier == where
    assert entry.sub_indication is SubIndication.FORMAT_FAILURE
    assert named in entry.message


def test_a_cyclic_page_tree_is_no_signature_and_no_hang() -> None:
    result = validate_pdf(
        _tiny_pdf(
            b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"
        ),
        env(),
    )
    assert result.signatures == ()
