"""The reuse of passed certificate validations (govtrust.validation._reuse) cannot hide
a change: a revocation published after the first validation, a validation time past a
CRL's nextUpdate or the certificate's notAfter, other trust anchors, other embedded
data. And a reused result equals a fresh one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from govtrust.validation import (
    Indication,
    OfflineFetcherBackend,
    Purpose,
    RevocationStatus,
    SubIndication,
    ValidationData,
    ValidationPolicy,
    validate_certificate,
)
from govtrust.validation._reuse import Window, results
from tests.unit.validation.pki_factory import NOW, SmallPki, make_pki

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    results.clear()
    yield
    results.clear()


def _policy(pki: SmallPki, at: dt.datetime, anchors: list[Any] | None = None) -> ValidationPolicy:
    return (
        ValidationPolicy.builder()
        .trust_anchors(anchors or [pki.root.cert])
        .intermediates([i.cert for i in pki.intermediates])
        .purpose(Purpose.SIGNATURE)
        .at(at)
        .build()
    )


def _offline(pki: SmallPki, crl: bytes) -> OfflineFetcherBackend:
    return OfflineFetcherBackend(ValidationData(crls=(crl,)))


def _comparable(result: Any) -> dict[str, Any]:
    """The result without the fields that carry the validation time itself."""
    d = dict(result.to_dict())
    for name in ("validationTime", "policy"):
        d.pop(name, None)
    return d


def test_a_repeated_validation_is_reused_and_equals_a_fresh_one() -> None:
    pki = make_pki()
    fetchers = _offline(pki, pki.crl())
    first = validate_certificate(pki.leaf.cert, _policy(pki, NOW), fetchers)
    assert first.indication is Indication.TOTAL_PASSED, first.message
    hits = results.hits
    again = validate_certificate(pki.leaf.cert, _policy(pki, NOW + MINUTE), fetchers)
    assert results.hits == hits + 1
    assert again.validation_time == NOW + MINUTE
    results.clear()
    fresh = validate_certificate(pki.leaf.cert, _policy(pki, NOW + MINUTE), fetchers)
    assert results.hits == 0
    assert _comparable(again) == _comparable(fresh)
    assert again.validation_time == fresh.validation_time
    assert again.policy == fresh.policy


def test_a_revocation_published_after_the_first_validation_is_seen() -> None:
    pki = make_pki()
    before = validate_certificate(pki.leaf.cert, _policy(pki, NOW), _offline(pki, pki.crl()))
    assert before.indication is Indication.TOTAL_PASSED, before.message
    revoked_crl = pki.crl({pki.leaf.cert.serial_number: NOW - MINUTE}, number=2)
    after = validate_certificate(
        pki.leaf.cert, _policy(pki, NOW + MINUTE), _offline(pki, revoked_crl)
    )
    assert after.indication is Indication.TOTAL_FAILED, after.message
    assert after.sub_indication is SubIndication.REVOKED
    assert after.chain[0].revocation is RevocationStatus.REVOKED


def test_embedded_revocation_data_is_part_of_the_key() -> None:
    pki = make_pki()
    good = ValidationData(crls=(pki.crl(),))
    first = validate_certificate(pki.leaf.cert, _policy(pki, NOW), validation_data=good)
    assert first.indication is Indication.TOTAL_PASSED, first.message
    revoked = ValidationData(crls=(pki.crl({pki.leaf.cert.serial_number: NOW - MINUTE}),))
    second = validate_certificate(pki.leaf.cert, _policy(pki, NOW), validation_data=revoked)
    assert second.sub_indication is SubIndication.REVOKED, second.message


def test_a_time_after_the_crl_next_update_is_not_served() -> None:
    pki = make_pki()
    crl = pki.crl(next_update=NOW + dt.timedelta(hours=2))
    fetchers = _offline(pki, crl)
    first = validate_certificate(pki.leaf.cert, _policy(pki, NOW), fetchers)
    assert first.indication is Indication.TOTAL_PASSED, first.message
    hits = results.hits
    late = validate_certificate(pki.leaf.cert, _policy(pki, NOW + dt.timedelta(hours=3)), fetchers)
    assert results.hits == hits
    assert late.indication is Indication.INDETERMINATE, late.message
    assert late.sub_indication is SubIndication.TRY_LATER


def test_a_time_after_the_certificate_not_after_is_not_served() -> None:
    pki = make_pki(leaf_not_after=NOW + dt.timedelta(days=1))
    fetchers = _offline(pki, pki.crl(next_update=NOW + dt.timedelta(days=7)))
    first = validate_certificate(pki.leaf.cert, _policy(pki, NOW), fetchers)
    assert first.indication is Indication.TOTAL_PASSED, first.message
    late = validate_certificate(pki.leaf.cert, _policy(pki, NOW + dt.timedelta(days=2)), fetchers)
    assert not late.passed, late.message
    assert late.current_time_sub_indication in (
        SubIndication.OUT_OF_BOUNDS_NOT_REVOKED,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
    )


def test_other_trust_anchors_are_not_served() -> None:
    pki = make_pki()
    other = make_pki()
    fetchers = _offline(pki, pki.crl())
    first = validate_certificate(pki.leaf.cert, _policy(pki, NOW), fetchers)
    assert first.indication is Indication.TOTAL_PASSED, first.message
    foreign = validate_certificate(
        pki.leaf.cert, _policy(pki, NOW, anchors=[other.root.cert]), fetchers
    )
    assert foreign.indication is Indication.INDETERMINATE, foreign.message
    assert foreign.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_a_failed_validation_is_never_stored() -> None:
    pki = make_pki()
    revoked = _offline(pki, pki.crl({pki.leaf.cert.serial_number: NOW - MINUTE}))
    failed = validate_certificate(pki.leaf.cert, _policy(pki, NOW), revoked)
    assert failed.sub_indication is SubIndication.REVOKED
    assert not results._entries


def test_a_validation_without_fetchers_does_not_reuse_one_with() -> None:
    pki = make_pki()
    first = validate_certificate(pki.leaf.cert, _policy(pki, NOW), _offline(pki, pki.crl()))
    assert first.passed
    offline = validate_certificate(pki.leaf.cert, _policy(pki, NOW))
    assert not offline.passed, offline.message


@pytest.mark.parametrize(
    ("at", "holds"),
    [
        (NOW, True),
        (NOW + dt.timedelta(hours=1) - dt.timedelta(seconds=1), True),
        (NOW + dt.timedelta(hours=1), False),  # the instant itself: a comparison flips
        (NOW - dt.timedelta(hours=1), False),
        (NOW + dt.timedelta(days=1), False),
    ],
)
def test_window_is_the_open_interval_between_neighbouring_instants(
    at: dt.datetime, holds: bool
) -> None:
    window = Window.around(
        NOW - MINUTE,
        [NOW - dt.timedelta(hours=1), NOW + dt.timedelta(hours=1), NOW + dt.timedelta(days=2)],
    )
    assert window.holds(at) is holds


def test_a_time_equal_to_an_instant_holds_only_there() -> None:
    window = Window.around(NOW, [NOW, NOW + dt.timedelta(days=1)])
    assert window.holds(NOW)
    assert not window.holds(NOW + dt.timedelta(seconds=1))
