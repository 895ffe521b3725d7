"""Attacks on signed PDFs (incremental saving, shadow attacks, DocMDP violations,
byte-range tricks) are never TOTAL-PASSED and the report names the change; the
changes a signed PDF legitimately gets later (another signature, a document
time-stamp, form filling a certification allows) keep it TOTAL-PASSED. pyHanko's own
validator is asked about the same files.

Two sources of signed PDFs: govtrust's signing service with the demo PKI (a real
PAdES B-LT, validated with the live instance's revocation data) and pyHanko with the
small unit-test PKI for certification signatures, which govtrust does not make
(validated with revocation checking off, a policy the report records).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from io import BytesIO

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from govtrust.clock import FixedClock
from govtrust.services import authorities
from govtrust.services.signing import SigningOptions, sign_document
from govtrust.signing.levels import Level
from govtrust.validation import HttpxFetcherBackend, Indication, Purpose, SubIndication
from govtrust.validation.documents import validate_document
from govtrust.validation.policy import RevocationMode, ValidationPolicy
from govtrust.validation.report import Report, SignatureKind, SignatureReport
from tests.integration.test_validation_demo import ToLiveServer
from tests.integration.test_verify_pades import ADMIN, PDF
from tests.unit.validation.pki_factory import NOW
from tests.unit.validation.test_pdf_structure import (
    _PKI,
    TWO_FIELDS,
    add_annotation,
    fill_text_field,
    overlay,
    replace_contents,
    rewrite_byte_range,
    sign,
    with_text_field,
)


def _small_pki_report(data: bytes) -> Report:
    policy = (
        ValidationPolicy.builder()
        .trust_anchors([_PKI.root.cert])
        .purpose(Purpose.SIGNATURE)
        .revocation(RevocationMode.OFF)
        .at(NOW)
        .build()
    )
    return validate_document(data, policy, name="attack.pdf", clock=FixedClock(NOW))


def _by_field(report: Report) -> dict[str, SignatureReport]:
    return {s.details.get("field", s.identifier): s for s in report.signatures}


def _pyhanko_bottom_lines(data: bytes, root: x509.Certificate) -> dict[str, bool]:
    from cryptography.hazmat.primitives.serialization import Encoding

    trust = asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))
    reader = PdfFileReader(BytesIO(data), strict=False)
    out = {}
    for sig in reader.embedded_regular_signatures:
        context = ValidationContext(
            trust_roots=[trust], allow_fetching=False, moment=NOW, revocation_mode="soft-fail"
        )
        status = validate_pdf_signature(sig, context)
        out[sig.field_name] = bool(status.bottom_line)
    return out


# -- pyHanko-signed (certification signatures) --------------------------------------


def test_baseline_pyhanko_signature_passes() -> None:
    report = _small_pki_report(sign(TWO_FIELDS))
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()


ATTACKS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "overlay": (overlay, "drawn over the signed content"),
    "replaced-contents": (replace_contents, "page content (/Contents) was replaced"),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_content_changed_after_signing(name: str) -> None:
    attack, named = ATTACKS[name]
    data = attack(sign(TWO_FIELDS))
    report = _small_pki_report(data)
    sig = _by_field(report)["Sig1"]
    assert sig.indication is Indication.TOTAL_FAILED, sig.message
    assert sig.sub_indication is SubIndication.FORMAT_FAILURE
    assert named in sig.message
    mods = sig.details["modifications"]
    assert mods["permitted"] is False and mods["laterRevisions"] == 1
    assert any(named in c for c in mods["changes"])
    assert report.document["changesAfterLastSignature"]
    assert _pyhanko_bottom_lines(data, _PKI.root.cert) == {"Sig1": False}


def test_annotation_on_a_certified_p1_document() -> None:
    certified = sign(TWO_FIELDS, certify=True, permission=MDPPerm.NO_CHANGES)
    assert _small_pki_report(certified).indication is Indication.TOTAL_PASSED
    data = add_annotation(certified)
    report = _small_pki_report(data)
    sig = _by_field(report)["Sig1"]
    assert sig.indication is Indication.TOTAL_FAILED
    assert "annotation was added" in sig.message or any(
        "annotation was added" in c for c in sig.details["modifications"]["changes"]
    )
    assert sig.details["modifications"]["docMdp"].startswith("P=1")
    assert report.document["certification"] == "no-changes"
    assert _pyhanko_bottom_lines(data, _PKI.root.cert) == {"Sig1": False}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("gap", "not just the /Contents"),
        ("overlap", "overlap"),
        ("past-eof", "past the end"),
        ("offset", "not at the start"),
    ],
)
def test_byte_range_tricks_are_hash_failures(change: str, named: str) -> None:
    data = rewrite_byte_range(sign(TWO_FIELDS), change)
    report = _small_pki_report(data)
    (sig,) = report.signatures
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.HASH_FAILURE
    assert named in sig.message
    assert sig.details["byteRangeProblems"]


def test_a_second_signature_keeps_both_passed() -> None:
    data = sign(sign(TWO_FIELDS), "Sig2")
    report = _small_pki_report(data)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    first = _by_field(report)["Sig1"]
    assert first.details["modifications"]["level"] == "form-filling"
    assert any("'Sig2' was signed" in c for c in first.details["modifications"]["changes"])
    assert report.document["signaturesPerRevision"] == {"3": ["Sig1"], "4": ["Sig2"]}
    assert _pyhanko_bottom_lines(data, _PKI.root.cert) == {"Sig1": True, "Sig2": True}


@pytest.mark.parametrize(
    ("permission", "passes"), [(MDPPerm.FILL_FORMS, True), (MDPPerm.NO_CHANGES, False)]
)
def test_form_filling_under_docmdp(permission: MDPPerm, passes: bool) -> None:
    base, field = with_text_field(TWO_FIELDS)
    data = fill_text_field(sign(base, certify=True, permission=permission), field)
    report = _small_pki_report(data)
    sig = _by_field(report)["Sig1"]
    assert sig.passed is passes, sig.message
    assert any(
        "form field 'Name' value changed" in c for c in sig.details["modifications"]["changes"]
    )
    assert _pyhanko_bottom_lines(data, _PKI.root.cert) == {"Sig1": passes}


def test_tampering_before_a_later_signature_fails_only_the_first() -> None:
    data = sign(overlay(sign(TWO_FIELDS)), "Sig2")
    by_field = _by_field(_small_pki_report(data))
    assert not by_field["Sig1"].passed
    assert by_field["Sig2"].passed


# -- govtrust-signed (demo PKI, live revocation data) ------------------------------


@pytest.fixture
def demo_validate(live_server) -> Iterator[Callable[[bytes], Report]]:  # type: ignore[no-untyped-def]
    ctx = live_server.ctx
    clock = FixedClock(ctx.clock.now() + dt.timedelta(hours=1))
    ctx.clock = clock
    roots = [
        x509.load_der_x509_certificate(ca.cert_der)
        for ca in authorities.list_cas(ctx)
        if ca.name == "root"
    ]
    fetchers = HttpxFetcherBackend(transport=ToLiveServer(live_server.url))

    def validate(data: bytes) -> Report:
        policy = ValidationPolicy.builder().trust_anchors(roots).at(clock.now()).build()
        return validate_document(data, policy, fetchers=fetchers, clock=clock)

    validate.sign = lambda level: (
        sign_document(  # type: ignore[attr-defined]
            ctx, PDF, "decree.pdf", "amina-haddad", ADMIN, SigningOptions(level=level)
        ).document.data
    )
    yield validate


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attacks_on_our_own_b_lta(demo_validate: Callable[[bytes], Report], name: str) -> None:
    signed = demo_validate.sign(Level.B_LTA)  # type: ignore[attr-defined]
    before = demo_validate(signed)
    assert before.indication is Indication.TOTAL_PASSED, before.to_json()
    attack, named = ATTACKS[name]
    report = demo_validate(attack(signed))
    assert report.indication is Indication.TOTAL_FAILED
    for entry in report.signatures:  # the signature and the document time-stamp
        assert not entry.passed
        assert any(named in c for c in entry.details["modifications"]["changes"])
    stamps = [s for s in report.signatures if s.kind is SignatureKind.TIMESTAMP]
    assert len(stamps) == 1
