"""The published vectors in ``../shared/vectors/trustlists`` and ``bad-xml``, as published.

The real EU list of trusted lists (current, old, pivots 282/300/335/341), the Belgian
(old and v6) and Estonian lists import and verify; their provider and service counts
match an independent count of the XML elements; the broken DSS variants and the hostile
XML are refused with their reason.

Skipped or limited cases: ``eu-lotl.xml`` names pivot 378, which the vectors do not
hold, so its pivot chain is not walked: it is verified against the Official Journal
certificates directly (``pre-reanchor.cert.pem`` holds its signer); the full pivot walk
is run on ``eu-lotl-old.xml`` (pivots 282-341, all present). ``tsl-ee.xml`` is a
TSLVersionIdentifier 5 list (TS 119 612 V2.1.1), read as such.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from cryptography import x509

from govtrust.errors import TrustListRefused
from govtrust.trustlist import member_pointers, pivot_urls, read_list, walk_pivots

VECTORS = Path(__file__).resolve().parents[4] / "shared" / "vectors"
TL = VECTORS / "trustlists"
PINS = x509.load_pem_x509_certificates((TL / "pre-reanchor.cert.pem").read_bytes())
PIVOTS = [(TL / f"eu-lotl-pivot-{n}.xml").read_bytes() for n in (282, 300, 335, 341)]


def _count(data: bytes, tag: str) -> int:
    """Independent count: opening tags in the default namespace, by regex."""
    return len(re.findall(rb"<" + tag.encode() + rb"[\s>]", data))


def _lotl() -> object:
    return read_list((TL / "eu-lotl.xml").read_bytes(), PINS, source="EU", lotl=True)


def test_eu_lotl_verifies_against_the_official_journal_certificates() -> None:
    data = (TL / "eu-lotl.xml").read_bytes()
    lotl = read_list(data, PINS, source="EU", lotl=True)
    tl = lotl.trusted_list
    assert tl.scheme.territory == "EU"
    assert tl.scheme.sequence == 388
    assert len(tl.pointers) == _count(data, "OtherTSLPointer") == 43
    assert lotl.signer in PINS


def test_pivots_are_walked_oldest_first_to_the_old_lotl() -> None:
    trusted, verified = walk_pivots(PINS, list(reversed(PIVOTS)), source="EU")
    assert [v.trusted_list.scheme.sequence for v in verified] == [282, 300, 335, 341]
    old = read_list((TL / "eu-lotl-old.xml").read_bytes(), trusted, source="EU", lotl=True)
    assert old.trusted_list.scheme.sequence == 369
    assert len(pivot_urls(old.trusted_list)) == 4


def test_pivot_335_needs_the_keys_announced_by_pivot_300() -> None:
    with pytest.raises(TrustListRefused) as info:
        read_list(PIVOTS[2], PINS, source="pivot 335", lotl=True)
    assert info.value.reason == "signature"
    assert "not among the pinned" in info.value.message


@pytest.mark.parametrize(
    ("name", "territory", "lotl_file"),
    [
        ("tsl-be-v6.xml", "BE", "eu-lotl.xml"),
        ("tsl-ee.xml", "EE", "eu-lotl.xml"),
        ("tsl-be-old.xml", "BE", "eu-lotl-old.xml"),
    ],
)
def test_national_lists_verify_against_their_lotl_pointer(
    name: str, territory: str, lotl_file: str
) -> None:
    trusted = PINS
    if lotl_file == "eu-lotl-old.xml":
        trusted, _ = walk_pivots(PINS, PIVOTS, source="EU")
    lotl = read_list((TL / lotl_file).read_bytes(), trusted, source="EU", lotl=True)
    pointer = next(p for p in member_pointers(lotl.trusted_list) if p.territory == territory)
    data = (TL / name).read_bytes()
    national = read_list(data, pointer.certificates, source=territory, lotl=False)
    tl = national.trusted_list
    assert tl.scheme.territory == territory
    assert len(tl.providers) == _count(data, "TrustServiceProvider")
    assert tl.service_count == _count(data, "TSPService")
    assert tl.service_count > 50
    history = sum(len(s.history) for p in tl.providers for s in p.services)
    assert history == _count(data, "ServiceHistoryInstance")


def test_a_national_list_is_not_accepted_as_a_lotl_or_with_other_keys() -> None:
    data = (TL / "tsl-be-v6.xml").read_bytes()
    with pytest.raises(TrustListRefused) as info:
        read_list(data, PINS, source="BE", lotl=True)
    assert info.value.reason == "content"
    with pytest.raises(TrustListRefused) as info:
        read_list(data, PINS, source="BE", lotl=False)
    assert info.value.reason == "signature"


@pytest.mark.parametrize(
    ("name", "reason", "words"),
    [
        ("dss-eu-lotl-broken-sig.xml", "signature", "Digest mismatch"),
        ("dss-eu-lotl-no-sig.xml", "signature", "not signed"),
        ("dss-eu-lotl-not-parseable.xml", "xml", "not well-formed"),
        ("dss-eu-lotl-no-tl-version.xml", "content", "TSLVersionIdentifier"),
    ],
)
def test_broken_variants_are_refused_with_their_reason(name: str, reason: str, words: str) -> None:
    with pytest.raises(TrustListRefused) as info:
        read_list((TL / name).read_bytes(), PINS, source=name)
    assert info.value.reason == reason
    assert words in info.value.message


@pytest.mark.parametrize("name", sorted(p.name for p in (VECTORS / "bad-xml").glob("*.xml")))
def test_hostile_xml_is_refused_without_expansion(name: str) -> None:
    data = (VECTORS / "bad-xml" / name).read_bytes()
    started = dt.datetime.now()
    with pytest.raises(TrustListRefused) as info:
        read_list(data, PINS, source=name)
    assert (dt.datetime.now() - started).total_seconds() < 2
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        assert info.value.reason == "xml"
        assert "document type declaration" in info.value.message
    else:  # harmless XML, but not a trusted list
        assert info.value.reason in ("schema", "content")


def test_a_tampered_list_fails_its_signature() -> None:
    data = (TL / "tsl-ee.xml").read_bytes().replace(b"Tallinn", b"Tartu", 1)
    lotl = read_list((TL / "eu-lotl.xml").read_bytes(), PINS, source="EU", lotl=True)
    pointer = next(p for p in member_pointers(lotl.trusted_list) if p.territory == "EE")
    with pytest.raises(TrustListRefused) as info:
        read_list(data, pointer.certificates, source="EE")
    assert info.value.reason == "signature"
