"""x509-limbo (C2SP), run as published through govtrust's own path validation.

Every testcase of ``shared/vectors/x509-limbo/limbo.json`` goes through
:func:`govtrust.validation.validate_certificate` (pyhanko-certvalidator underneath, not
pyca's verifier); SERVER cases also check the expected peer name against the
subjectAltName with :func:`govtrust.validation.match_server_name` (our own RFC 9525
matcher: pyca/cryptography has no public name matcher outside its verifier).

The run writes limbo's own result format (``LimboResult``: ``version``, ``harness``,
``results`` of ``id``/``actual_result``/``context``) to
``tests/vectors/results/limbo-govtrust.json`` and prints the pass count. Cases skipped
by feature or by id, and cases whose result is known to differ from the expectation,
are listed below with the reason; the test fails on any other mismatch, and on a listed
difference that no longer differs (so the list stays honest).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

import govtrust
from govtrust.validation import (
    AlgorithmPolicy,
    Purpose,
    RevocationMode,
    ValidationData,
    ValidationPolicy,
    match_email_address,
    match_server_name,
    validate_certificate,
)

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
LIMBO = VECTORS / "x509-limbo" / "limbo.json"
RESULTS = Path(__file__).resolve().parent / "results" / "limbo-govtrust.json"

#: Optional behaviour (limbo "features") that govtrust does not implement; limbo's
#: schema asks consumers to skip features they do not understand.
UNSUPPORTED_FEATURES = {
    # Wildcards on public suffixes are forbidden, but it needs the public suffix list;
    # the matcher only refuses ``*.tld`` (pyca skips these too).
    "pedantic-public-suffix-wildcard": "needs the public suffix list",
    # Strict readings of RFC 5280 that validators widely ignore.
    "pedantic-rfc5280": "strict RFC 5280 reading, widely ignored",
    # CA/B Forum rules that contradict RFC 5280; govtrust follows RFC 5280.
    "rfc5280-incompatible-with-webpki": "CA/B Forum relaxation of RFC 5280",
    # CA/B Forum subscriber-key and EKU-chaining rules are Web PKI policy, not RFC 5280.
    "pedantic-webpki-subscriber-key": "Web PKI subscriber key policy",
    "pedantic-webpki-eku": "Web PKI EKU chaining policy",
    # Serial number size and sign rules of the BRs, not path validation.
    "pedantic-serial-number": "Web PKI serial number policy",
}

#: Individual cases skipped, with the reason.
SKIPPED: dict[str, str] = {}

_CN = (
    "CA/B Forum BRs §7.1.4.3 (the subject CN must repeat a SAN) is Web PKI issuance "
    "policy; govtrust never reads the CN as an identity (RFC 9525 §6.3), and limbo's own "
    "rfc5280::nc::permitted-dns-match-more, rfc5280::ca-as-leaf and webpki::san::* "
    "expect certificates whose CN is not in the SAN to be accepted"
)
_ROOT_AKI = (
    "Web PKI rule on the trust anchor's own authorityKeyIdentifier; RFC 5280 §6.1 takes "
    "the trust anchor as given (pyca/cryptography skips root-with-aki-ski-mismatch too)"
)

#: Cases whose actual result differs from limbo's expectation, with the reason. Each
#: is checked to still differ.
KNOWN_DIFFERENCES: dict[str, str] = {
    # pyhanko-certvalidator 0.33 has no containment check for iPAddress name
    # constraints and refuses the chain (fail-safe): an upstream limitation.
    "rfc5280::nc::permitted-ipv4-match": "pyhanko-certvalidator: no iPAddress name constraints",
    "rfc5280::nc::permitted-ipv6-match": "pyhanko-certvalidator: no iPAddress name constraints",
    # pyhanko-certvalidator 0.33 raises "unhashable type: OrderedDict" on an otherName
    # excluded subtree; the chain is refused (fail-safe): an upstream bug.
    "rfc5280::nc::nc-forbids-othername-noop": "pyhanko-certvalidator bug on otherName subtrees",
    # RFC 5280 §4.2.1.11 wants policyConstraints critical, but NIST PKITS 4.8 and 4.10
    # accept paths with a non-critical one; govtrust passes PKITS.
    "rfc5280::pc::ica-noncritical-pc": "contradicts NIST PKITS 4.8/4.10 valid paths",
    "webpki::aki::root-with-aki-missing-keyidentifier": _ROOT_AKI,
    "webpki::aki::root-with-aki-authoritycertissuer": _ROOT_AKI,
    "webpki::aki::root-with-aki-authoritycertserialnumber": _ROOT_AKI,
    "webpki::aki::root-with-aki-all-fields": _ROOT_AKI,
    "webpki::aki::root-with-aki-ski-mismatch": _ROOT_AKI,
    "webpki::cn::ipv4-hex-mismatch": _CN,
    "webpki::cn::ipv4-leading-zeros-mismatch": _CN,
    "webpki::cn::ipv6-uppercase-mismatch": _CN,
    "webpki::cn::ipv6-uncompressed-mismatch": _CN,
    "webpki::cn::ipv6-non-rfc5952-mismatch": _CN,
    "webpki::cn::punycode-not-in-san": _CN,
    "webpki::cn::utf8-vs-punycode-mismatch": _CN,
    "webpki::cn::not-in-san": _CN,
    "webpki::cn::case-mismatch": _CN,
    # RFC 5280 §4.2.1.6 says a SAN with a non-empty subject SHOULD be non-critical; the
    # BRs make it a MUST. govtrust applies the RFC.
    "webpki::san::san-critical-with-nonempty-subject": "CA/B Forum MUST where RFC 5280 says SHOULD",
    # ETSI TS 119 312 still lists DSA (at 2048 bits and more); the BRs forbid it.
    "webpki::forbidden-dsa-root": "ETSI TS 119 312 allows DSA; the CA/B Forum does not",
    # A BR key-encoding rule, not a cryptographic weakness.
    "webpki::forbidden-rsa-not-divisible-by-8-in-root": "CA/B Forum key encoding rule",
    # Conflicts with rfc5280::ca-as-leaf (same chain shape, SUCCESS expected): RFC 5280
    # allows a CA certificate in leaf position; govtrust follows RFC 5280 here.
    "webpki::ca-as-leaf": "contradicts rfc5280::ca-as-leaf; govtrust follows RFC 5280",
}


def _load() -> list[dict[str, Any]]:
    if not LIMBO.exists():
        pytest.skip(f"x509-limbo vectors not found at {LIMBO}")
    return list(json.loads(LIMBO.read_text())["testcases"])


def _pem(text: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(text.encode())


def _crl_der(text: str) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_crl(text.encode()).public_bytes(Encoding.DER)


def _purpose(case: dict[str, Any]) -> Purpose:
    ekus = set(case["extended_key_usage"] or [])
    if "clientAuth" in ekus or case["validation_kind"] == "CLIENT":
        return Purpose.TLS_CLIENT
    return Purpose.TLS_SERVER


def evaluate(case: dict[str, Any]) -> tuple[str, str]:
    """(actual_result, context) for one testcase."""
    reason = next((why for f, why in UNSUPPORTED_FEATURES.items() if f in case["features"]), None)
    if reason is not None:
        return "SKIPPED", f"unsupported feature: {reason}"
    if case["id"] in SKIPPED:
        return "SKIPPED", SKIPPED[case["id"]]
    try:
        anchors = [_pem(c) for c in case["trusted_certs"]]
        intermediates = [_pem(c) for c in case["untrusted_intermediates"]]
        peer = _pem(case["peer_certificate"])
    except ValueError as exc:  # an unparsable certificate is a rejection
        return "FAILURE", f"certificate does not parse: {exc}"
    has_crls = bool(case["crls"])
    builder = (
        ValidationPolicy.builder()
        .trust_anchors(anchors)
        .intermediates(intermediates)
        .revocation(RevocationMode.REQUIRE if has_crls else RevocationMode.OFF)
        .at(
            dt.datetime.fromisoformat(case["validation_time"])
            if case["validation_time"]
            else dt.datetime.now(dt.UTC)
        )
        .purpose(_purpose(case))
        .algorithms(AlgorithmPolicy())
    )
    if case["max_chain_depth"] is not None:
        builder = builder.max_intermediates(case["max_chain_depth"])
    policy = builder.build()
    data = ValidationData(crls=tuple(_crl_der(c) for c in case["crls"]))
    result = validate_certificate(peer, policy, validation_data=data)
    if not result.passed:
        return "FAILURE", result.summary()
    expected = [case["expected_peer_name"], *(case["expected_peer_names"] or [])]
    for name in (n for n in expected if n is not None):
        if not _names(peer, name):
            return "FAILURE", f"the certificate does not name {name['value']!r}"
    return "SUCCESS", result.summary()


def _names(peer: x509.Certificate, name: dict[str, str]) -> bool:
    if name["kind"] == "RFC822":
        return match_email_address(peer, name["value"])
    return match_server_name(peer, name["value"])


def test_limbo() -> None:
    cases = _load()
    results = []
    mismatches = []
    stale = []
    for case in cases:
        actual, context = evaluate(case)
        results.append({"id": case["id"], "actual_result": actual, "context": context})
        if actual == "SKIPPED":
            continue
        differs = actual != case["expected_result"]
        if differs and case["id"] not in KNOWN_DIFFERENCES:
            mismatches.append(f"{case['id']}: expected {case['expected_result']}, got {context}")
        if not differs and case["id"] in KNOWN_DIFFERENCES:
            stale.append(case["id"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"version": 1, "harness": f"govtrust-{govtrust.__version__}", "results": results},
            indent=2,
        )
    )
    counts = Counter(r["actual_result"] for r in results)
    agree = sum(
        1 for r, c in zip(results, cases, strict=True) if r["actual_result"] == c["expected_result"]
    )
    print(
        f"\nx509-limbo: {len(cases)} cases, {agree} as expected, "
        f"{counts['SKIPPED']} skipped, {len(cases) - agree - counts['SKIPPED']} differ; "
        f"results in {RESULTS}"
    )
    assert len(cases) == 208
    assert not stale, f"listed as differing but now as expected: {stale}"
    assert not mismatches, "\n".join(mismatches)
