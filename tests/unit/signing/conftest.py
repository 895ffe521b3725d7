"""An in-memory PKI for the signing package's unit tests, declared here and generated at
test time: a root, an issuing CA, a signer (non-repudiation), a TSA (critical
timeStamping EKU) whose tokens come from govtrust's own RFC 3161 authority, and OCSP
responses signed by the issuing CA with pyca/cryptography. No database, no network."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from govtrust.clock import FixedClock
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.software import SoftwareSigner
from govtrust.signing.api import SigningIdentity, SigningServices
from govtrust.tsa import Accuracy, TimestampAuthority, granted, parse_query

NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Government"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "AA"),
        ]
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    eku: list[x509.ObjectIdentifier] | None = None,
    non_repudiation: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=30))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca and not non_repudiation,
                content_commitment=non_repudiation,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Pki:
    """The test PKI and the services a signer needs, all in memory."""

    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    signer_cert: x509.Certificate
    signer: SoftwareSigner
    tsa_cert: x509.Certificate
    tsa: TimestampAuthority
    clock: FixedClock
    revoked: set[int] = field(default_factory=set)
    missing: set[int] = field(default_factory=set)
    stamps: int = 0
    _serials: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def identity(self) -> SigningIdentity:
        return SigningIdentity(self.signer_cert, [self.ca, self.root], self.signer)

    def timestamp(self, query: bytes) -> bytes:
        """The RFC 3161 exchange, answered by govtrust's TimestampAuthority."""
        self.stamps += 1
        return granted(self.tsa.issue(parse_query(query), next(self._serials), self.clock.now()))

    # RevocationSource
    def ocsp(self, cert: x509.Certificate, issuer: x509.Certificate) -> bytes | None:
        if cert.serial_number in self.missing:
            return None
        key = {self.ca: self.ca_key, self.root: self.root_key}.get(issuer)
        if key is None:
            return None
        revoked = cert.serial_number in self.revoked
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=cert,
            issuer=issuer,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=self.clock.now() - dt.timedelta(minutes=5),
            next_update=self.clock.now() + dt.timedelta(hours=12),
            revocation_time=self.clock.now() - dt.timedelta(days=1) if revoked else None,
            revocation_reason=None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
        response = builder.sign(key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    def crl(self, issuer: x509.Certificate) -> bytes | None:
        return None

    def services(self, **overrides: object) -> SigningServices:
        values: dict[str, object] = {
            "clock": self.clock,
            "timestamps": self.timestamp,
            "revocation": self,
            "trust_roots": (self.root,),
            "intermediates": (self.ca,),
        }
        values.update(overrides)
        return SigningServices(**values)  # type: ignore[arg-type]


def make_pki(now: dt.datetime = NOW) -> Pki:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("Test Root CA", root_key, None, root_key, ca=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Test Issuing CA", ca_key, root, root_key, ca=True)
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer_cert = _cert("Test Official", signer_key, ca, ca_key, ca=False, non_repudiation=True)
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_cert = _cert(
        "Test TSA", tsa_key, ca, ca_key, ca=False, eku=[ExtendedKeyUsageOID.TIME_STAMPING]
    )
    tsa_signer = SoftwareSigner("tsa", tsa_key, KeySpec.EC_P256)
    tsa = TimestampAuthority(
        tsa_cert, tsa_signer, "1.3.6.1.4.1.58995.1.1", Accuracy(1, 0), chain=[ca, root]
    )
    return Pki(
        root=root,
        root_key=root_key,
        ca=ca,
        ca_key=ca_key,
        signer_cert=signer_cert,
        signer=SoftwareSigner("signer", signer_key, KeySpec.EC_P256),
        tsa_cert=tsa_cert,
        tsa=tsa,
        clock=FixedClock(now),
    )


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


Maker = Callable[[], Pki]
