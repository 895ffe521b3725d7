"""A throwaway PKI for the TSA tests: a root and TSA certificates for each key
type, made with cryptography at test time (no key files committed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from govtrust.crypto.keys import KeySpec
from govtrust.crypto.software import SoftwareSigner

NOW = dt.datetime(2026, 11, 22, 10, 0, 0, tzinfo=dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "AA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Government"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass(frozen=True)
class Pki:
    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey

    def tsa(
        self,
        spec: KeySpec = KeySpec.EC_P256,
        *,
        eku: list[x509.ObjectIdentifier] | None = None,
        eku_critical: bool = True,
        serial: int = 0x1234,
    ) -> tuple[x509.Certificate, SoftwareSigner]:
        key = spec.generate()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name("Test TSA"))
            .issuer_name(self.root.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=365))
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
            )
        )
        ekus = [ExtendedKeyUsageOID.TIME_STAMPING] if eku is None else eku
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), eku_critical)
        cert = builder.sign(self.root_key, hashes.SHA256())
        return cert, SoftwareSigner("test", key, spec)  # type: ignore[arg-type]


def make_pki() -> Pki:
    key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Root"))
        .issuer_name(_name("Test Root"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=10))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return Pki(root, key)
