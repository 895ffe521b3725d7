"""A small test PKI, declared here and generated at test time: a root, an optional
intermediate and an end entity, with the CRL and AIA URLs a test asks for, and CRLs
signed by the issuing CA."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID

__all__ = ["NOW", "Issued", "SmallPki", "make_pki"]

NOW = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)


@dataclass
class SmallPki:
    root: Issued
    leaf: Issued
    intermediates: list[Issued] = field(default_factory=list)

    @property
    def issuer(self) -> Issued:
        return self.intermediates[-1] if self.intermediates else self.root

    def crl(
        self,
        revoked: dict[int, dt.datetime] | None = None,
        *,
        this_update: dt.datetime = NOW - dt.timedelta(hours=1),
        next_update: dt.datetime = NOW + dt.timedelta(days=7),
        number: int | None = 1,
        issuer: Issued | None = None,
    ) -> bytes:
        ca = issuer or self.issuer
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.cert.subject)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                critical=False,
            )
        )
        if number is not None:
            builder = builder.add_extension(x509.CRLNumber(number), critical=False)
        for serial, when in (revoked or {}).items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(when)
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
        return builder.sign(ca.key, hashes.SHA256()).public_bytes(Encoding.DER)


def _issue(
    subject: str,
    issuer: Issued | None,
    *,
    ca: bool,
    not_before: dt.datetime,
    not_after: dt.datetime,
    crl_urls: tuple[str, ...] = (),
    ocsp_urls: tuple[str, ...] = (),
    ca_issuers: tuple[str, ...] = (),
    eku: tuple[x509.ObjectIdentifier, ...] = (),
    digest: hashes.HashAlgorithm | None = None,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string(subject)
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
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
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if crl_urls:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(u) for u in crl_urls],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
    access = [
        x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u)
        )
        for u in ocsp_urls
    ] + [
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u)
        )
        for u in ca_issuers
    ]
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    return Issued(builder.sign(signer_key, digest or hashes.SHA256()), key)


def make_pki(
    *,
    crl_urls: tuple[str, ...] = ("http://crl.test/issuing.crl",),
    ocsp_urls: tuple[str, ...] = (),
    ca_issuers: tuple[str, ...] = (),
    intermediate: bool = False,
    leaf_not_after: dt.datetime = NOW + dt.timedelta(days=365),
    eku: tuple[x509.ObjectIdentifier, ...] = (),
    not_before: dt.datetime | None = None,
    digest: hashes.HashAlgorithm | None = None,
) -> SmallPki:
    root = _issue(
        "CN=Test Root",
        None,
        ca=True,
        not_before=not_before or NOW - dt.timedelta(days=3650),
        not_after=NOW + dt.timedelta(days=3650),
    )
    intermediates = []
    issuer = root
    if intermediate:
        issuer = _issue(
            "CN=Test Issuing CA",
            root,
            ca=True,
            not_before=not_before or NOW - dt.timedelta(days=1000),
            not_after=NOW + dt.timedelta(days=1000),
        )
        intermediates.append(issuer)
    leaf = _issue(
        "CN=Test Signer",
        issuer,
        ca=False,
        not_before=not_before or NOW - dt.timedelta(days=30),
        not_after=leaf_not_after,
        crl_urls=crl_urls,
        ocsp_urls=ocsp_urls,
        ca_issuers=ca_issuers,
        eku=eku,
        digest=digest,
    )
    return SmallPki(root, leaf, intermediates)
