"""PAdES validation of govtrust's own output at every level, against a live demo
instance (its CRLs and OCSP responder served over loopback HTTP), with pyHanko's
validator as the independent opinion.

Issue 3, "Proved by": for every PAdES level, sign and validate TOTAL-PASSED; revoke the
signer afterwards: a B-LT/B-LTA signature made before the revocation still passes, a
B-B one validated after the revocation does not; tamper one byte: TOTAL-FAILED with
HASH_FAILURE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from govtrust.ca.crl import RevocationReason
from govtrust.clock import FixedClock
from govtrust.services import Actor, Context, authorities, credentials, revocation
from govtrust.services.signing import SigningOptions, sign_document
from govtrust.signing.levels import Level
from govtrust.validation import HttpxFetcherBackend, Indication, Purpose, SubIndication
from govtrust.validation.documents import validate_document
from govtrust.validation.policy import ValidationPolicy
from govtrust.validation.report import Report, SignatureKind
from tests.integration.test_validation_demo import ToLiveServer

ADMIN = Actor("test:admin", "admin")
VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "pdf"
PDF = (VECTORS / "minimal.pdf").read_bytes()


@dataclass
class Instance:
    ctx: Context
    clock: FixedClock
    roots: list[x509.Certificate]
    fetchers: HttpxFetcherBackend

    def sign(self, level: Level, credential: str = "amina-haddad") -> bytes:
        result = sign_document(
            self.ctx, PDF, "decree.pdf", credential, ADMIN, SigningOptions(level=level)
        )
        return result.document.data

    def validate(self, data: bytes, *, after: dt.timedelta = dt.timedelta(minutes=1)) -> Report:
        at = self.clock.now() + after
        policy = (
            ValidationPolicy.builder()
            .trust_anchors(self.roots)
            .purpose(Purpose.SIGNATURE)
            .at(at)
            .build()
        )
        return validate_document(
            data, policy, name="decree-signed.pdf", fetchers=self.fetchers, clock=self.clock
        )


@pytest.fixture
def instance(live_server) -> Iterator[Instance]:  # type: ignore[no-untyped-def]
    ctx = live_server.ctx
    clock = FixedClock(ctx.clock.now() + dt.timedelta(hours=1))
    ctx.clock = clock
    roots = [
        x509.load_der_x509_certificate(ca.cert_der)
        for ca in authorities.list_cas(ctx)
        if ca.name == "root"
    ]
    transport = ToLiveServer(live_server.url)
    yield Instance(ctx, clock, roots, HttpxFetcherBackend(transport=transport))


_SUFFIX = {Level.B_B: "B", Level.B_T: "T", Level.B_LT: "LT", Level.B_LTA: "LTA"}


def _signature(report: Report):  # type: ignore[no-untyped-def]
    (sig,) = [s for s in report.signatures if s.kind is SignatureKind.SIGNATURE]
    return sig


@pytest.mark.parametrize("level", list(Level), ids=lambda lv: lv.value)
def test_every_level_passes(instance: Instance, level: Level) -> None:
    report = instance.validate(instance.sign(level))
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    sig = _signature(report)
    assert sig.format == f"PAdES-BASELINE-{_SUFFIX[level]}", sig.format
    assert sig.signer is not None and "Amina Haddad" in sig.signer
    mods = sig.details["modifications"]
    assert mods["permitted"] is True
    assert report.document["format"] == "PDF"
    assert report.document["signatureCount"] == 1
    if level is Level.B_LTA:
        (stamp,) = [s for s in report.signatures if s.kind is SignatureKind.TIMESTAMP]
        assert stamp.passed, stamp.message
        assert stamp.details["modifications"]["coverage"] == "entire-file"
        assert mods["coverage"] == "entire-revision" and mods["level"] == "lta-updates"
        assert report.document["documentTimestampCount"] == 1
    else:
        assert mods["coverage"] == "entire-file" and mods["laterRevisions"] == 0
        assert report.document["wholeFileSigned"] is True
    if level.at_least(Level.B_LT):
        # govtrust writes the DSS in the signature's own revision (or updates it
        # with the document time-stamp): the validation data is there.
        assert report.document["dss"]["ocspResponses"] + report.document["dss"]["crls"] > 0


@pytest.mark.parametrize("level", list(Level), ids=lambda lv: lv.value)
def test_revocation_after_signing(instance: Instance, level: Level) -> None:
    signed = instance.sign(level)
    instance.clock.advance(dt.timedelta(minutes=10))
    serial = credentials.describe_credential(instance.ctx, "amina-haddad").serial
    revocation.revoke(instance.ctx, serial, RevocationReason.key_compromise, ADMIN)
    instance.clock.advance(dt.timedelta(minutes=10))
    report = instance.validate(signed)
    sig = _signature(report)
    if level is Level.B_B:
        # No proof the signature existed before the revocation (EN 319 102-1 §5.5).
        assert not sig.passed, report.to_json()
        assert sig.sub_indication in (SubIndication.REVOKED, SubIndication.REVOKED_NO_POE)
    else:
        # The signature time-stamp proves it existed before (§5.6.2.4).
        assert sig.passed, report.to_json()
        assert sig.best_signature_time is not None
        assert sig.best_signature_time < instance.clock.now() - dt.timedelta(minutes=10)


def _tamper(signed: bytes) -> bytes:
    data = bytearray(signed)
    index = data.index(b"/MediaBox")
    data[index + 1] = ord("N")  # one byte inside the first signed range
    return bytes(data)


@pytest.mark.parametrize("level", list(Level), ids=lambda lv: lv.value)
def test_one_byte_changed_is_a_hash_failure(instance: Instance, level: Level) -> None:
    report = instance.validate(_tamper(instance.sign(level)))
    assert report.indication is Indication.TOTAL_FAILED
    sig = _signature(report)
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.HASH_FAILURE, sig.message
    if level is Level.B_LTA:
        (stamp,) = [s for s in report.signatures if s.kind is SignatureKind.TIMESTAMP]
        assert stamp.sub_indication is SubIndication.HASH_FAILURE


def _pyhanko_verdicts(data: bytes, roots: list[x509.Certificate], ctx: Context) -> list[bool]:
    from cryptography.hazmat.primitives.serialization import Encoding

    issuing = credentials.describe_credential(ctx, "amina-haddad").chain_der[0]
    trust = [asn1_x509.Certificate.load(r.public_bytes(Encoding.DER)) for r in roots]

    def context() -> ValidationContext:
        return ValidationContext(
            trust_roots=trust,
            other_certs=[asn1_x509.Certificate.load(issuing)],
            allow_fetching=False,
            revocation_mode="soft-fail",
        )

    reader = PdfFileReader(BytesIO(data), strict=False)
    verdicts = []
    for sig in reader.embedded_regular_signatures:
        status = validate_pdf_signature(sig, context(), ts_validation_context=context())
        verdicts.append(status.bottom_line)
    return verdicts


@pytest.mark.parametrize("level", [Level.B_B, Level.B_LT], ids=lambda lv: lv.value)
def test_pyhanko_agrees_on_good_and_tampered(instance: Instance, level: Level) -> None:
    good = instance.sign(level)
    for data in (good, _tamper(good)):
        ours = _signature(instance.validate(data)).passed
        assert _pyhanko_verdicts(data, instance.roots, instance.ctx) == [ours]


def test_unsigned_pdf_is_indeterminate_with_no_signature(instance: Instance) -> None:
    report = instance.validate(PDF)
    assert report.signatures == ()
    assert report.indication is Indication.INDETERMINATE
    assert report.message == "no signature was found"
    assert report.document["revisions"] == 1


@pytest.mark.parametrize(
    "name",
    ["minimal-aes256.pdf", "minimal-illegal-header.pdf", "minimal-startxref-hopeless.pdf"],
)
def test_hostile_vectors_are_format_failures(instance: Instance, name: str) -> None:
    report = instance.validate((VECTORS / name).read_bytes())
    (entry,) = report.signatures
    assert report.indication is Indication.TOTAL_FAILED
    assert entry.sub_indication is SubIndication.FORMAT_FAILURE
    assert report.document["format"] == "PDF"


@pytest.mark.parametrize("name", ["minimal-badxref.pdf", "minimal-two-fields.pdf"])
def test_unsigned_vectors_have_no_signature(instance: Instance, name: str) -> None:
    report = instance.validate((VECTORS / name).read_bytes())
    assert report.signatures == () and report.indication is Indication.INDETERMINATE
