"""PAdES at each level with the in-memory PKI, checked by pyHanko's validator (B-LT and
B-LTA offline, from the DSS alone), plus augmentation and hostile PDFs."""

from __future__ import annotations

import datetime as dt
import re
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from govtrust.crypto._pyhanko import to_asn1
from govtrust.errors import InputError, MalformedDocument
from govtrust.signing.levels import Level
from govtrust.signing.pades import PadesSigner, VisibleStamp
from govtrust.signing.pades.augment import augment_pdf
from tests.conftest import SHARED
from tests.unit.signing.conftest import NOW, Pki, make_pki

PDFS = SHARED / "vectors" / "pdf"
MINIMAL = (PDFS / "minimal.pdf").read_bytes()


def offline_context(reader: PdfFileReader, pki: Pki) -> ValidationContext:
    """Only what the file carries (its DSS), hard-fail revocation, no fetching."""
    dss = DocumentSecurityStore.read_dss(reader)
    return dss.as_validation_context(
        {
            "trust_roots": [to_asn1(pki.root)],
            "allow_fetching": False,
            "revocation_mode": "hard-fail",
            "moment": NOW + dt.timedelta(minutes=1),
        }
    )


def basic_context(pki: Pki) -> ValidationContext:
    return ValidationContext(
        trust_roots=[to_asn1(pki.root)],
        other_certs=[to_asn1(pki.ca)],
        allow_fetching=False,
        moment=NOW + dt.timedelta(minutes=1),
    )


@pytest.mark.parametrize("level", list(Level))
def test_each_level_validates_with_pyhanko(level: Level) -> None:
    pki = make_pki()
    signed = PadesSigner(pki.identity, level, pki.services()).sign(MINIMAL)
    reader = PdfFileReader(BytesIO(signed.data))
    (sig,) = reader.embedded_regular_signatures
    status = validate_pdf_signature(
        sig, basic_context(pki), ts_validation_context=basic_context(pki)
    )
    assert status.intact and status.valid and status.trusted
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.sig_object["/M"].startswith("D:20260301120000")  # the injected clock
    assert cms.ContentInfo.load(signed.produced)["content_type"].native == "signed_data"
    has_ts = level.at_least(Level.B_T)
    assert (status.timestamp_validity is not None) == has_ts
    if has_ts:
        assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    if level.at_least(Level.B_LT):
        offline = validate_pdf_signature(
            sig, offline_context(reader, pki), ts_validation_context=offline_context(reader, pki)
        )
        assert offline.intact and offline.valid and offline.trusted and not offline.revoked
        dss = DocumentSecurityStore.read_dss(reader)
        assert len(dss.ocsps) >= 3  # signer, TSA, issuing CA
    if level is Level.B_LTA:
        (doc_ts,) = reader.embedded_timestamp_signatures
        ts_status = validate_pdf_timestamp(doc_ts, offline_context(reader, pki))
        assert ts_status.intact and ts_status.valid and ts_status.trusted
        assert ts_status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    else:
        assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        assert not reader.embedded_timestamp_signatures


def test_tampering_is_detected(pki: Pki) -> None:
    signed = bytearray(PadesSigner(pki.identity, Level.B_B, pki.services()).sign(MINIMAL).data)
    index = signed.index(b"/Type /Page")  # a byte inside the signed range
    signed[index + 1] = ord("X")
    reader = PdfFileReader(BytesIO(bytes(signed)), strict=False)
    status = validate_pdf_signature(reader.embedded_signatures[0], basic_context(pki))
    assert not status.intact


def test_visible_stamp(pki: Pki) -> None:
    signed = PadesSigner(pki.identity, Level.B_B, pki.services()).sign(
        MINIMAL, stamp=VisibleStamp("Test Official")
    )
    reader = PdfFileReader(BytesIO(signed.data))
    (sig,) = reader.embedded_signatures
    field = sig.sig_field
    rect = [float(x) for x in field["/Rect"]]
    assert rect[2] - rect[0] > 100 and rect[3] - rect[1] > 20  # a visible widget
    appearance = field["/AP"]["/N"].get_object().data
    # PDF string escapes (ISO 32000-1 §7.3.4.2): \ddd is an octal character code.
    appearance = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), appearance)
    assert b"Test Official" in appearance
    assert b"2026-03-01 12:00:00" in appearance


def test_a_second_signature_gets_its_own_field(pki: Pki) -> None:
    signer = PadesSigner(pki.identity, Level.B_B, pki.services())
    twice = signer.sign(signer.sign(MINIMAL).data).data
    reader = PdfFileReader(BytesIO(twice))
    names = [s.field_name for s in reader.embedded_signatures]
    assert names == ["Signature1", "Signature2"]
    for sig in reader.embedded_signatures:
        assert validate_pdf_signature(sig, basic_context(pki)).intact


def test_batch_reuses_the_validation_data() -> None:
    pki = make_pki()
    signer = PadesSigner(pki.identity, Level.B_LT, pki.services())
    signer.sign(MINIMAL)
    first = pki.stamps
    signer.sign(MINIMAL)
    assert pki.stamps == first + 1  # one signature timestamp, no second dummy token


@pytest.mark.parametrize(
    ("start", "target"),
    [(Level.B_B, Level.B_LTA), (Level.B_T, Level.B_LT), (Level.B_LTA, Level.B_LTA)],
)
def test_augment(start: Level, target: Level) -> None:
    pki = make_pki()
    signed = PadesSigner(pki.identity, start, pki.services()).sign(MINIMAL).data
    augmented = augment_pdf(signed, target, pki.services()).data
    assert augmented.startswith(signed)  # incremental updates only
    reader = PdfFileReader(BytesIO(augmented))
    (sig,) = reader.embedded_regular_signatures
    status = validate_pdf_signature(
        sig, offline_context(reader, pki), ts_validation_context=offline_context(reader, pki)
    )
    assert status.intact and status.valid and status.trusted
    stamps = reader.embedded_timestamp_signatures
    assert len(stamps) == (
        2 if start is Level.B_LTA else 1 if target is Level.B_LTA or start is Level.B_B else 0
    )
    for stamp in stamps:
        assert validate_pdf_timestamp(stamp, offline_context(reader, pki)).valid


def test_augmenting_to_b_t_twice_is_refused(pki: Pki) -> None:
    signed = PadesSigner(pki.identity, Level.B_T, pki.services()).sign(MINIMAL).data
    with pytest.raises(InputError, match="already at B-T"):
        augment_pdf(signed, Level.B_T, pki.services())


def test_augmenting_an_unsigned_pdf_is_refused(pki: Pki) -> None:
    with pytest.raises(MalformedDocument, match="no signature"):
        augment_pdf(MINIMAL, Level.B_LTA, pki.services())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("minimal-aes256.pdf", "encrypted"),
        ("minimal-badxref.pdf", "cannot be processed"),
        ("minimal-illegal-header.pdf", ""),
        ("minimal-startxref-hopeless.pdf", "cannot be processed"),
    ],
)
def test_hostile_pdfs_are_refused_clearly(pki: Pki, name: str, message: str) -> None:
    data = (PDFS / name).read_bytes()
    signer = PadesSigner(pki.identity, Level.B_B, pki.services())
    try:
        signed = signer.sign(data)
    except MalformedDocument as exc:
        assert exc.format == "pades"
        assert message in str(exc)
    else:  # a damaged but recoverable file: then the signature must be sound
        reader = PdfFileReader(BytesIO(signed.data), strict=False)
        assert validate_pdf_signature(reader.embedded_signatures[-1], basic_context(pki)).intact


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7\n",
        MINIMAL[: len(MINIMAL) // 2],
        b"not a pdf",
        b"%PDF-1.4\n" + b"\x00" * 4096,
    ],
)
def test_truncated_and_garbage_pdfs(pki: Pki, data: bytes) -> None:
    with pytest.raises(MalformedDocument):
        PadesSigner(pki.identity, Level.B_B, pki.services()).sign(data)


def test_every_pdf_vector_is_covered() -> None:
    known = {
        "minimal.pdf",
        "minimal-two-fields.pdf",
        "minimal-two-pages.pdf",
        "minimal-aes256.pdf",
        "minimal-badxref.pdf",
        "minimal-illegal-header.pdf",
        "minimal-startxref-hopeless.pdf",
    }
    assert {p.name for p in Path(PDFS).glob("*.pdf")} == known


@pytest.mark.parametrize("name", ["minimal-two-fields.pdf", "minimal-two-pages.pdf"])
def test_ordinary_pdfs_sign(pki: Pki, name: str) -> None:
    signed = PadesSigner(pki.identity, Level.B_T, pki.services()).sign((PDFS / name).read_bytes())
    reader = PdfFileReader(BytesIO(signed.data))
    status = validate_pdf_signature(reader.embedded_signatures[-1], basic_context(pki))
    assert status.intact and status.valid
