"""The bridge from govtrust's Signer to pyHanko (crypto/_pyhanko.py): raw signatures
come from the key handle, verify with the certificate's key, and dry runs reserve
enough room for any real signature."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from govtrust.crypto._pyhanko import PyHankoSigner, digest_algorithm_for
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.software import SoftwareSigner


def _self_signed(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bridge")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize("spec", [KeySpec.EC_P256, KeySpec.EC_P384, KeySpec.RSA_3072])
def test_raw_signatures_verify_and_fit_the_dry_run(spec: KeySpec) -> None:
    key = spec.generate()
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    cert = _self_signed(key)
    signer = PyHankoSigner(SoftwareSigner("k", key, spec), cert)
    md = digest_algorithm_for(spec)
    data = b"signed attributes"
    placeholder = asyncio.run(signer.async_sign_raw(data, md, dry_run=True))
    for _ in range(20):  # ECDSA signatures vary in length; the placeholder is the maximum
        signature = asyncio.run(signer.async_sign_raw(data, md))
        assert len(signature) <= len(placeholder)
    algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[md]
    public = cert.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, data, ec.ECDSA(algorithm))
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, data, padding.PKCS1v15(), algorithm)


def test_digest_pairs() -> None:
    assert digest_algorithm_for(KeySpec.EC_P384) == "sha384"
    assert digest_algorithm_for(KeySpec.ED25519) == "sha512"
    assert digest_algorithm_for(KeySpec.RSA_4096) == "sha256"
