"""Long-term validation data (the B-LT level of EN 319 122-1 §6.3, EN 319 132-1 §6.3,
EN 319 142-1 §6.3): the certificates of every chain a verifier must build (the
signer's, the TSA's) and, for each certificate that is not a trust anchor, revocation
data from its issuer: an OCSP response (RFC 6960) or, failing that, a CRL (RFC 5280).

The data comes from an injected :class:`~govtrust.signing.api.RevocationSource`, never
from the network. OCSP responses are checked here before they are embedded (RFC 6960
§4.2.1: successful, a BasicOCSPResponse naming the certificate, status good), so a
signature never carries revocation data saying its own certificate is revoked.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from govtrust.errors import SigningFailed
from govtrust.signing.api import RevocationSource

__all__ = [
    "ValidationData",
    "build_chain",
    "collect",
    "der",
    "embedded_certificates",
    "signer_certificate",
]


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class ValidationData:
    """DER-free view of what B-LT embeds: certificates (each once), OCSP responses and
    CRLs (DER)."""

    certificates: tuple[x509.Certificate, ...]
    ocsps: tuple[bytes, ...]
    crls: tuple[bytes, ...]


def _self_issued(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


def build_chain(leaf: x509.Certificate, pool: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """``leaf`` and its issuers found in ``pool``, up to a self-signed certificate or
    as far as the pool goes. An issuer is accepted only if its key verifies the
    certificate's signature (RFC 5280 §6.1.3 (a)(1)), not on a name match alone."""
    candidates = list(pool)
    chain = [leaf]
    while not _self_issued(chain[-1]) and len(chain) < 10:
        child = chain[-1]
        for cand in candidates:
            if cand.subject != child.issuer or any(der(cand) == der(c) for c in chain):
                continue
            try:
                child.verify_directly_issued_by(cand)
            except (InvalidSignature, ValueError, TypeError):
                continue
            chain.append(cand)
            break
        else:
            break
    return chain


def embedded_certificates(signed_data: Any) -> list[x509.Certificate]:
    """The X.509 certificates in a SignedData's ``certificates`` (RFC 5652 §5.1)."""
    return [
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in signed_data["certificates"] or ()
        if choice.name == "certificate"
    ]


def signer_certificate(signed_data: Any, signer_info: Any) -> x509.Certificate | None:
    """The certificate a SignerInfo's ``sid`` names (RFC 5652 §5.3), among the
    SignedData's certificates."""
    sid = signer_info["sid"]
    for cert in embedded_certificates(signed_data):
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                cert.serial_number == wanted["serial_number"].native
                and cert.issuer.public_bytes() == wanted["issuer"].dump()
            ):
                return cert
        else:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ski.value.digest == sid.chosen.native:
                return cert
    return None


def _good_ocsp(data: bytes, cert: x509.Certificate) -> list[x509.Certificate] | None:
    """The responder certificates of a usable OCSP answer about ``cert``, or None."""
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError:
        return None
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return None
    if response.serial_number != cert.serial_number:
        return None
    if response.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        raise SigningFailed(
            "validation-data",
            f"certificate {cert.serial_number:x} is revoked (OCSP): refusing to embed it",
        )
    if response.certificate_status is not ocsp.OCSPCertStatus.GOOD:
        return None
    return list(response.certificates)


class _Collector:
    def __init__(self) -> None:
        self.certs: dict[bytes, x509.Certificate] = {}
        self.ocsps: dict[bytes, None] = {}
        self.crls: dict[bytes, None] = {}
        self.covered: set[bytes] = set()

    def add_cert(self, cert: x509.Certificate) -> None:
        self.certs.setdefault(der(cert), cert)

    def result(self) -> ValidationData:
        return ValidationData(tuple(self.certs.values()), tuple(self.ocsps), tuple(self.crls))


def collect(
    chains: Iterable[Sequence[x509.Certificate]], source: RevocationSource
) -> ValidationData:
    """Validation data for every certificate of ``chains`` (each leaf first). A chain
    must end in a self-signed certificate (the anchor, for which no revocation data is
    asked); every other certificate needs an OCSP response or a CRL, or SigningFailed
    names the one without."""
    out = _Collector()
    for chain in chains:
        if not chain or not _self_issued(chain[-1]):
            subject = chain[0].subject.rfc4514_string() if chain else "?"
            raise SigningFailed("validation-data", f"no complete certificate chain for {subject}")
        for cert in chain:
            out.add_cert(cert)
        for cert, issuer in itertools.pairwise(chain):
            if der(cert) not in out.covered:  # chains share their upper certificates
                _revocation_for(cert, issuer, source, out)
                out.covered.add(der(cert))
    return out.result()


def _revocation_for(
    cert: x509.Certificate, issuer: x509.Certificate, source: RevocationSource, out: _Collector
) -> None:
    answer = source.ocsp(cert, issuer)
    if answer is not None:
        responders = _good_ocsp(answer, cert)
        if responders is not None:
            out.ocsps.setdefault(answer, None)
            for responder in responders:
                out.add_cert(responder)
            return
    crl = source.crl(issuer)
    if crl is not None:
        try:
            parsed = x509.load_der_x509_crl(crl)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                raise SigningFailed(
                    "validation-data",
                    f"certificate {cert.serial_number:x} is revoked (CRL): refusing to embed it",
                )
            out.crls.setdefault(crl, None)
            return
    raise SigningFailed(
        "validation-data",
        f"no revocation data (OCSP or CRL) for {cert.subject.rfc4514_string()}",
    )
