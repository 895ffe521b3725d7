"""Validation data gathering: chains are built by signature, not by name; each
certificate gets revocation data once; revoked or missing data is an error."""

from __future__ import annotations

import pytest

from govtrust.errors import SigningFailed
from govtrust.signing._ltv import build_chain, collect
from tests.unit.signing.conftest import make_pki


def test_chain_is_built_through_the_pool() -> None:
    pki = make_pki()
    assert build_chain(pki.signer_cert, [pki.root, pki.ca]) == [pki.signer_cert, pki.ca, pki.root]


def test_a_name_alike_impostor_is_not_an_issuer() -> None:
    pki = make_pki()
    other = make_pki()  # same names, other keys
    assert build_chain(pki.signer_cert, [other.ca, other.root]) == [pki.signer_cert]


def test_collect_covers_each_certificate_once() -> None:
    pki = make_pki()
    chains = [[pki.signer_cert, pki.ca, pki.root], [pki.tsa_cert, pki.ca, pki.root]]
    data = collect(chains, pki)
    assert len(data.ocsps) == 3
    assert len(data.certificates) == 4


def test_incomplete_chain_is_an_error() -> None:
    pki = make_pki()
    with pytest.raises(SigningFailed, match="no complete certificate chain"):
        collect([[pki.signer_cert, pki.ca]], pki)


def test_revoked_ca_is_an_error() -> None:
    pki = make_pki()
    pki.revoked.add(pki.ca.serial_number)
    with pytest.raises(SigningFailed, match="revoked"):
        collect([[pki.signer_cert, pki.ca, pki.root]], pki)
