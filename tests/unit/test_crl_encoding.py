"""The hand-written DER of the CRL fast path, checked against pyca/cryptography."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from govtrust.ca.authority import build_root_ca
from govtrust.ca.crl import RevocationReason, build_crl, encode_entry
from govtrust.crypto import _der as der
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.software import SoftwareSigner

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "020100"),
        (127, "02017f"),
        (128, "02020080"),
        (256, "02020100"),
        (-1, "0201ff"),
        (-129, "0202ff7f"),
    ],
)
def test_integer(value: int, encoded: str) -> None:
    assert der.integer(value).hex() == encoded


@pytest.mark.parametrize(
    ("n", "encoded"), [(0, "00"), (127, "7f"), (128, "8180"), (256, "820100"), (70000, "83011170")]
)
def test_length(n: int, encoded: str) -> None:
    assert der.length(n).hex() == encoded


def test_time_switches_to_generalized_in_2050() -> None:
    assert der.time(dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC))[0] == 0x17
    assert der.time(dt.datetime(2050, 1, 1, tzinfo=dt.UTC)) == der.tlv(0x18, b"20500101000000Z")
    with pytest.raises(ValueError):
        der.time(dt.datetime(2026, 1, 1))  # naive


@pytest.fixture(
    scope="module", params=[KeySpec.EC_P256, KeySpec.EC_P384, KeySpec.RSA_2048, KeySpec.ED25519]
)
def ca(request: pytest.FixtureRequest) -> tuple[x509.Certificate, SoftwareSigner]:
    spec: KeySpec = request.param
    signer = SoftwareSigner("t", spec.generate(), spec)
    cert = build_root_ca(signer, x509.Name.from_rfc4514_string("CN=Test CA,C=AA"), 1, NOW, 30)
    return cert, signer


def test_crl_round_trips_through_cryptography(
    ca: tuple[x509.Certificate, SoftwareSigner],
) -> None:
    cert, signer = ca
    invalid = NOW - dt.timedelta(days=2)
    entries = [
        encode_entry(1, NOW, RevocationReason.unspecified, None),
        encode_entry(2**158 + 5, NOW, RevocationReason.key_compromise, invalid),
        encode_entry(3, dt.datetime(2051, 1, 1, tzinfo=dt.UTC), RevocationReason.superseded, None),
    ]
    data = build_crl(cert, signer, 42, NOW, NOW + dt.timedelta(days=7), entries)
    crl = x509.load_der_x509_crl(data)
    assert crl.is_signature_valid(cert.public_key())  # type: ignore[arg-type]
    assert crl.issuer == cert.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    assert crl.next_update_utc == NOW + dt.timedelta(days=7)
    first = crl.get_revoked_certificate_by_serial_number(1)
    assert first is not None and len(first.extensions) == 0  # unspecified is omitted
    second = crl.get_revoked_certificate_by_serial_number(2**158 + 5)
    assert second is not None
    assert second.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    assert (
        second.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc
        == invalid
    )
    third = crl.get_revoked_certificate_by_serial_number(3)
    assert third is not None and third.revocation_date_utc.year == 2051


def test_empty_crl_has_no_revoked_sequence(ca: tuple[x509.Certificate, SoftwareSigner]) -> None:
    cert, signer = ca
    data = build_crl(cert, signer, 1, NOW, NOW + dt.timedelta(days=1), [])
    crl = x509.load_der_x509_crl(data)
    assert len(crl) == 0 and crl.is_signature_valid(cert.public_key())  # type: ignore[arg-type]


def test_entry_matches_cryptography_builder() -> None:
    """Our entry bytes equal those pyca encodes for the same revocation."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string("CN=X")
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(0x1234567890ABCDEF)
        .revocation_date(NOW)
        .add_extension(x509.CRLReason(x509.ReasonFlags.cessation_of_operation), False)
        .build()
    )
    reference = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(NOW)
        .next_update(NOW)
        .add_revoked_certificate(revoked)
        .sign(key, hashes.SHA256())
        .tbs_certlist_bytes
    )
    ours = encode_entry(0x1234567890ABCDEF, NOW, RevocationReason.cessation_of_operation, None)
    assert ours in reference
