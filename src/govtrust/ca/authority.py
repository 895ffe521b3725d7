"""Building CA certificates and signing end-entity certificates from a profile Draft."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import AuthorityInformationAccessOID

from govtrust.ca.profiles import Draft, IssuerInfo
from govtrust.crypto.signer import Signer, signature_hash

__all__ = [
    "CertIdHashes",
    "build_intermediate_ca",
    "build_root_ca",
    "cert_id_hash",
    "cert_id_hashes",
    "sign_draft",
]

ANY_POLICY = x509.ObjectIdentifier("2.5.29.32.0")


def _ca_key_usage() -> x509.KeyUsage:
    # RFC 5280 §4.2.1.3: keyCertSign and cRLSign for a CA; digitalSignature lets the CA
    # sign OCSP responses itself should an operator choose to (RFC 6960 §4.2.2.2).
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def build_root_ca(
    signer: Signer, subject: x509.Name, serial: int, now: dt.datetime, validity_days: int
) -> x509.Certificate:
    """A self-signed trust anchor (RFC 5280 §3.2, §4.2.1.9 basicConstraints critical)."""
    public = signer.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=validity_days) - dt.timedelta(seconds=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(ski, critical=False)
        # RFC 5280 §4.2.1.1 lets a self-signed certificate omit the AKI; the CA/Browser
        # Forum TLS BRs §7.1.2.1.3 recommend it, its keyIdentifier equal to the SKI.
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    return builder.sign(signer.as_private_key(), signature_hash(signer))


def build_intermediate_ca(
    signer_public: Signer,
    subject: x509.Name,
    parent: IssuerInfo,
    parent_signer: Signer,
    serial: int,
    now: dt.datetime,
    validity_days: int,
    path_length: int | None,
    *,
    extended_key_usage: Sequence[x509.ObjectIdentifier] = (),
) -> x509.Certificate:
    """A subordinate CA certificate, never outliving its parent (RFC 5280 §6.1.3).

    ``extended_key_usage`` restricts what the CA may issue for. The CA/Browser Forum TLS
    BRs §7.1.2.6.1 and §7.1.2.10.6 require it, not critical, in a TLS subordinate CA:
    id-kp-serverAuth, optionally id-kp-clientAuth, never anyExtendedKeyUsage, and in no
    CA certificate id-kp-OCSPSigning. Without it the certificate has no EKU extension.
    """
    public = signer_public.public_key()
    parent_ski = parent.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value
    not_after = min(
        now + dt.timedelta(days=validity_days) - dt.timedelta(seconds=1),
        parent.certificate.not_valid_after_utc,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(parent.certificate.subject)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(parent_ski),
            critical=False,
        )
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(ANY_POLICY, None)]), critical=False
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(parent.ca_issuers_url),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(parent.ocsp_url),
                    ),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(parent.crl_url)], None, None, None
                    )
                ]
            ),
            critical=False,
        )
    )
    if extended_key_usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(list(extended_key_usage)), critical=False
        )
    return builder.sign(parent_signer.as_private_key(), signature_hash(parent_signer))


def sign_draft(draft: Draft, serial: int, issuer_signer: Signer) -> x509.Certificate:
    """Turn a profile's Draft into a signed certificate (RFC 5280 §4.1)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(draft.request.subject)
        .issuer_name(draft.issuer.certificate.subject)
        .public_key(draft.request.public_key)
        .serial_number(serial)
        .not_valid_before(draft.not_before)
        .not_valid_after(draft.not_after)
    )
    for ext in draft.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    return builder.sign(issuer_signer.as_private_key(), signature_hash(issuer_signer))


@dataclass(frozen=True)
class CertIdHashes:
    """RFC 6960 §4.1.1 CertID issuerNameHash and issuerKeyHash, hex, per algorithm."""

    name_sha1: str
    key_sha1: str
    name_sha256: str
    key_sha256: str


def cert_id_hash(ca_cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """RFC 6960 §4.1.1: (issuerNameHash, issuerKeyHash) of a CA under ``algorithm`` — the
    hash of the DER subject, and of the subjectPublicKey BIT STRING's value."""
    spki = ca_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_bits = bytes(asn1_keys.PublicKeyInfo.load(spki)["public_key"])

    def digest(data: bytes) -> bytes:
        h = hashes.Hash(algorithm)
        h.update(data)
        return h.finalize()

    return digest(ca_cert.subject.public_bytes()), digest(key_bits)


def cert_id_hashes(ca_cert: x509.Certificate) -> CertIdHashes:
    name_sha1, key_sha1 = cert_id_hash(ca_cert, hashes.SHA1())  # noqa: S303 - RFC 6960
    name_sha256, key_sha256 = cert_id_hash(ca_cert, hashes.SHA256())
    return CertIdHashes(name_sha1.hex(), key_sha1.hex(), name_sha256.hex(), key_sha256.hex())
