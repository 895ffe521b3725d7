"""NIST PKITS (Public Key Interoperability Test Suite), run as published through
govtrust's path validation.

``shared/vectors/pkits/pkits.json`` lists 246 cases (pyHanko's index of the NIST
certificates and CRLs): the end-entity certificate, the other certificates available
for path building, the CRLs, the expected path length, whether revocation is checked
(``revocation``, default true), RFC 5280 §6.1.1 policy inputs (``params``), and, for the
cases that must be rejected, an ``error``. Every case runs through
:func:`govtrust.validation.validate_certificate` with the trust anchor and its CRL added,
at 2022-05-01 (inside the validity of the 2010 test certificates), revocation
``require`` when the case checks revocation and ``if-available`` otherwise (pyHanko's
own run uses "hard-fail" there: check what the certificate declares), and the legacy
algorithm policy (the suite is signed with SHA-1 and 1024-bit DSA keys).

A case passes when a path is accepted exactly when no ``error`` is expected, and an
accepted path has the expected length. Skipped cases and known differences are listed
below with their reasons.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from govtrust.validation import (
    AlgorithmPolicy,
    RevocationMode,
    ValidationData,
    ValidationPolicy,
    validate_certificate,
)

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
PKITS = VECTORS / "pkits"
AT = dt.datetime(2022, 5, 1, tzinfo=dt.UTC)

#: Cases not run, with the reason.
SKIPPED: dict[str, str] = {}

#: Cases (by name) whose outcome differs from the expectation, with the reason.
KNOWN_DIFFERENCES: dict[str, str] = {
    # RFC 3279 §2.3.2 lets a DSA key inherit its domain parameters from the issuer;
    # pyca/cryptography (the type govtrust's API takes) refuses to parse such a
    # certificate, so the path is rejected. DSA parameter inheritance is obsolete
    # (RFC 5280 §6.1.4 (f) keeps it only for compatibility).
    "valid_dsa_parameter_inheritance_test5": "pyca/cryptography: no inherited DSA parameters",
}


def _cases() -> list[dict[str, Any]]:
    if not (PKITS / "pkits.json").exists():
        return []
    return list(json.loads((PKITS / "pkits.json").read_text()))


def _cert(name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate((PKITS / "certs" / name).read_bytes())


def _crl(name: str) -> bytes:
    return (PKITS / "crls" / name).read_bytes()


def _policy(case: dict[str, Any]) -> ValidationPolicy:
    params = case.get("params", {})
    others = [*case.get("other_certs", []), *case.get("path_intermediates", [])]
    builder = (
        ValidationPolicy.builder()
        .trust_anchors([_cert("TrustAnchorRootCertificate.crt")])
        .intermediates([_cert(n) for n in others])
        .revocation(
            RevocationMode.REQUIRE if case.get("revocation", True) else RevocationMode.IF_AVAILABLE
        )
        .at(AT)
        .algorithms(AlgorithmPolicy.unsafe_legacy())
    )
    if "user_initial_policy_set" in params or params.get("initial_explicit_policy"):
        builder = builder.certificate_policies(
            frozenset(params.get("user_initial_policy_set", [])),
            require_explicit=bool(params.get("initial_explicit_policy")),
        )
    if params.get("initial_policy_mapping_inhibit"):
        builder = builder.inhibit_policy_mapping()
    if params.get("initial_any_policy_inhibit"):
        builder = builder.inhibit_any_policy()
    return builder.build()


CASES = _cases()


@pytest.mark.skipif(not CASES, reason="NIST PKITS vectors not found")
def test_pkits_index_is_complete() -> None:
    assert len(CASES) == 246
    assert len({c["name"] for c in CASES}) == 246


@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['name']}" for c in CASES])
def test_pkits(case: dict[str, Any]) -> None:
    if case["name"] in SKIPPED:
        pytest.skip(SKIPPED[case["name"]])
    crls = ("TrustAnchorRootCRL.crl", *case.get("crls", []))
    data = ValidationData(crls=tuple(_crl(n) for n in crls))
    should_pass = "error" not in case
    try:
        leaf = _cert(case["cert"])
    except ValueError as exc:  # a certificate that does not parse is a rejection
        outcome, passed, chain = f"does not parse: {exc}", False, 0
    else:
        result = validate_certificate(leaf, _policy(case), validation_data=data)
        outcome, passed, chain = result.summary(), result.passed, len(result.chain)
    as_expected = passed == should_pass and (not should_pass or chain == case["path_len"])
    if case["name"] in KNOWN_DIFFERENCES:
        assert not as_expected, f"listed as differing but now as expected: {case['name']}"
        return
    assert as_expected, (
        f"expected {'acceptance' if should_pass else 'rejection'} "
        f"({case.get('error', {}).get('msg_regex', '')}), got {outcome} with a chain of {chain}"
    )
