"""The portal's verify path with reused certificate validations (govtrust.validation.
_reuse) against this instance's own CA, TSA and pre-signed OCSP responses: a
revocation after a first validation is seen by the next one, and reports with reuse
equal reports without."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from govtrust.ca.crl import RevocationReason
from govtrust.clock import FixedClock
from govtrust.services import Actor, Context, credentials, revocation, verify
from govtrust.signing.levels import Level
from govtrust.validation import Indication, RevocationStatus, SubIndication
from govtrust.validation._reuse import results
from govtrust.validation.report import SignatureKind
from tests.e2e.support import sign_pdf

ADMIN = Actor("test:admin", "admin")
SIGNER = "ministry-of-finance"


@pytest.fixture
def clocked(ctx: Context) -> Iterator[tuple[Context, FixedClock]]:
    clock = FixedClock(ctx.clock.now())
    ctx.clock = clock
    results.clear()
    yield ctx, clock
    results.clear()


def _signature(report: Any) -> Any:
    (sig,) = [s for s in report.signatures if s.kind is SignatureKind.SIGNATURE]
    return sig


def _without_times(value: Any) -> Any:
    """A report dict without the validation time and what is derived from it."""
    if isinstance(value, dict):
        return {
            k: _without_times(v)
            for k, v in value.items()
            if k not in ("validationTime", "generatedAt", "at")
        }
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def test_revoked_after_a_first_validation_is_revoked(
    clocked: tuple[Context, FixedClock],
) -> None:
    ctx, clock = clocked
    signed = sign_pdf(ctx, SIGNER, Level.B_B)
    clock.advance(dt.timedelta(minutes=1))
    first = verify.verify_document(ctx, signed, name="b.pdf")
    assert first.indication is Indication.TOTAL_PASSED, first.to_json()
    hits = results.hits
    for _ in range(2):  # a validation time equal to an instant only serves that instant
        clock.advance(dt.timedelta(minutes=1))
        again = verify.verify_document(ctx, signed, name="b.pdf")
        assert again.indication is Indication.TOTAL_PASSED
    assert results.hits > hits  # the signer's validation was reused
    serial = credentials.describe_credential(ctx, SIGNER).serial
    revocation.revoke(ctx, serial, RevocationReason.key_compromise, ADMIN)
    clock.advance(dt.timedelta(minutes=1))
    after = verify.verify_document(ctx, signed, name="b.pdf")
    sig = _signature(after)
    assert not sig.passed, after.to_json()
    assert sig.sub_indication in (SubIndication.REVOKED, SubIndication.REVOKED_NO_POE)
    assert sig.certificate.chain[0].revocation is RevocationStatus.REVOKED


def test_time_stamped_signature_revoked_later_reports_the_revocation(
    clocked: tuple[Context, FixedClock],
) -> None:
    ctx, clock = clocked
    signed = sign_pdf(ctx, SIGNER, Level.B_T)
    clock.advance(dt.timedelta(minutes=1))
    first = verify.verify_document(ctx, signed, name="t.pdf")
    assert first.indication is Indication.TOTAL_PASSED, first.to_json()
    assert _signature(first).certificate.chain[0].revocation is RevocationStatus.GOOD
    serial = credentials.describe_credential(ctx, SIGNER).serial
    revocation.revoke(ctx, serial, RevocationReason.key_compromise, ADMIN)
    clock.advance(dt.timedelta(minutes=1))
    after = _signature(verify.verify_document(ctx, signed, name="t.pdf"))
    # The time-stamp proves the signature came first (EN 319 102-1 §5.6.2.4), but the
    # certificate's status at the validation time is the new one, not a reused GOOD.
    assert after.passed, after.message
    assert after.certificate.current_time_sub_indication is SubIndication.REVOKED_NO_POE
    assert after.certificate.chain[0].revocation is RevocationStatus.REVOKED


def test_reports_with_reuse_equal_reports_without(
    clocked: tuple[Context, FixedClock],
) -> None:
    ctx, clock = clocked
    signed = sign_pdf(ctx, SIGNER, Level.B_T)
    clock.advance(dt.timedelta(minutes=1))
    verify.verify_document(ctx, signed, name="t.pdf")  # fills the cache
    hits = results.hits
    reused = verify.verify_document(ctx, signed, name="t.pdf").to_dict()
    assert results.hits >= hits + 2  # the signer's and the TSA's certificates
    results.clear()
    fresh = verify.verify_document(ctx, signed, name="t.pdf").to_dict()
    assert results.hits == 0
    assert reused["indication"] == "TOTAL-PASSED"
    assert _without_times(reused) == _without_times(fresh)
