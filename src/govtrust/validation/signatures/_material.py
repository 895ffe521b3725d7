"""Validation material found in or beside a signature (ETSI EN 319 102-1 §5.6.2.2:
the certificates, CRLs and OCSP responses a long-term signature carries), gathered from
every place a CMS signature keeps it: ``SignedData.certificates``, ``SignedData.crls``
(CRLs, and OCSP responses as ``RevocationInfoChoice`` ``other`` with
``id-ri-ocsp-response``, RFC 5940 §3), the CAdES certificate-values and
revocation-values attributes (RFC 5126 §6.3.3-4) and ``adbe-revocationInfoArchival``
(ISO 32000-1 §12.8.3.3.2). Other formats (a PDF's DSS, XAdES CertificateValues /
RevocationValues) build :class:`EmbeddedMaterial` themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, core
from asn1crypto import crl as a_crl
from asn1crypto import ocsp as a_ocsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from govtrust.validation.fetchers import ValidationData
from govtrust.validation.policy import ValidationPolicy
from govtrust.validation.signatures import _cades_asn1 as attrs

__all__ = ["EmbeddedMaterial", "cert_der"]

logger = logging.getLogger(__name__)


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _load_cert(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        logger.info("ignoring an embedded certificate that does not parse")
        return None


@dataclass(frozen=True)
class EmbeddedMaterial:
    """Certificates, CRLs (DER) and OCSP responses (DER, OCSPResponse) found in or
    beside a signature: CMS ``certificates``/``crls``, CAdES certificate-values and
    revocation-values, a PAdES DSS, XAdES CertificateValues/RevocationValues."""

    certificates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsp_responses: tuple[bytes, ...] = ()

    def merged(self, other: EmbeddedMaterial) -> EmbeddedMaterial:
        """Both sets, without duplicates, self's first."""
        if not (other.certificates or other.crls or other.ocsp_responses):
            return self
        if not (self.certificates or self.crls or self.ocsp_responses):
            return other
        certs = {cert_der(c): c for c in (*self.certificates, *other.certificates)}
        return EmbeddedMaterial(
            certificates=tuple(certs.values()),
            crls=tuple(dict.fromkeys((*self.crls, *other.crls))),
            ocsp_responses=tuple(dict.fromkeys((*self.ocsp_responses, *other.ocsp_responses))),
        )

    def as_validation_data(self) -> ValidationData:
        return ValidationData(
            certificates=self.certificates, crls=self.crls, ocsp_responses=self.ocsp_responses
        )

    def for_path(self, certificate: x509.Certificate, policy: ValidationPolicy) -> ValidationData:
        """:meth:`as_validation_data` without the certificates path building has
        already: the one validated and the policy's own anchors and intermediates
        (every certificate given is parsed and registered again for each validation)."""
        known = {cert_der(c) for c in (certificate, *policy.trust_anchors, *policy.intermediates)}
        return ValidationData(
            certificates=tuple(c for c in self.certificates if cert_der(c) not in known),
            crls=self.crls,
            ocsp_responses=self.ocsp_responses,
        )

    @property
    def has_revocation_data(self) -> bool:
        return bool(self.crls or self.ocsp_responses)

    @classmethod
    def from_signed_data(
        cls, signed_data: cms.SignedData, signer_info: cms.SignerInfo | None = None
    ) -> EmbeddedMaterial:
        """What a SignedData carries (``certificates``; ``crls``: CRLs and RFC 5940
        OCSP responses) and, given one of its SignerInfos, what that signer's
        attributes carry: CAdES certificate-values and revocation-values (RFC 5126
        §6.3.3-4) and ``adbe-revocationInfoArchival`` (ISO 32000-1 §12.8.3.3.2).
        Objects that do not parse are left out (they cannot help a validation)."""
        certs: list[bytes] = []
        crls: list[bytes] = []
        ocsps: list[bytes] = []
        _from_fields(signed_data, certs, crls, ocsps)
        if signer_info is not None:
            _from_attributes(signer_info, certs, crls, ocsps)
        loaded = (_load_cert(d) for d in dict.fromkeys(certs))
        return cls(
            certificates=tuple(c for c in loaded if c is not None),
            crls=tuple(dict.fromkeys(crls)),
            ocsp_responses=tuple(dict.fromkeys(ocsps)),
        )


def _from_fields(
    signed_data: Any, certs: list[bytes], crls: list[bytes], ocsps: list[bytes]
) -> None:
    try:
        for choice in signed_data["certificates"] or ():
            if choice.name == "certificate":
                certs.append(bytes(choice.chosen.untag().dump()))
    except (ValueError, TypeError, KeyError) as exc:
        logger.info("ignoring SignedData.certificates: %s", exc)
    try:
        for choice in signed_data["crls"] or ():
            if choice.name == "crl":
                crls.append(bytes(choice.chosen.dump()))
            elif choice.chosen["other_rev_info_format"].native == "ocsp_response":
                ocsps.append(bytes(choice.chosen["other_rev_info"].dump()))
    except (ValueError, TypeError, KeyError) as exc:
        logger.info("ignoring SignedData.crls: %s", exc)


def _from_attributes(
    signer_info: Any, certs: list[bytes], crls: list[bytes], ocsps: list[bytes]
) -> None:
    unsigned = signer_info["unsigned_attrs"]
    try:
        for der in attrs.attribute_values(unsigned, attrs.CERTIFICATE_VALUES):
            certs.extend(bytes(c.dump()) for c in attrs.CertificateValues.load(der))
        for der in attrs.attribute_values(unsigned, attrs.REVOCATION_VALUES):
            values = attrs.RevocationValues.load(der)
            crls.extend(bytes(c.dump()) for c in values["crl_vals"] or ())
            ocsps.extend(attrs.ocsp_response_der(b) for b in values["ocsp_vals"] or ())
    except (ValueError, TypeError, KeyError) as exc:
        logger.info("ignoring CAdES certificate/revocation values: %s", exc)
    try:
        signed = signer_info["signed_attrs"]
        for der in attrs.attribute_values(signed, attrs.ADOBE_REVOCATION_INFO):
            info = _AdobeRevocation.load(der)
            crls.extend(bytes(c.dump()) for c in info["crl"] or ())
            ocsps.extend(bytes(o.dump()) for o in info["ocsp"] or ())
    except (ValueError, TypeError, KeyError) as exc:
        logger.info("ignoring adbe-revocationInfoArchival: %s", exc)


class _CRLs(core.SequenceOf):  # type: ignore[misc]
    _child_spec = a_crl.CertificateList


class _OCSPs(core.SequenceOf):  # type: ignore[misc]
    _child_spec = a_ocsp.OCSPResponse


class _AdobeRevocation(core.Sequence):  # type: ignore[misc]
    """ISO 32000-1 §12.8.3.3.2 RevocationInfoArchival (asn1crypto.pdf has it, but
    importing that module registers names globally; this is the same structure)."""

    _fields = [  # noqa: RUF012 - asn1crypto's class-level spec
        ("crl", _CRLs, {"explicit": 0, "optional": True}),
        ("ocsp", _OCSPs, {"explicit": 1, "optional": True}),
        ("other_rev_info", core.Any, {"explicit": 2, "optional": True}),
    ]
