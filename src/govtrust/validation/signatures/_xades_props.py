"""What a XAdES signature carries beyond XML-DSig (ETSI EN 319 132-1): its qualifying
properties, the validation data it embeds, its time-stamps and the octets they stamp.

- ``xades:SigningTime`` (§5.2.1): the claimed signing time, read from the *signed*
  properties only;
- validation data (§5.5.1, §5.5.2, §5.5.3): ``xades:CertificateValues``
  (``EncapsulatedX509Certificate``), ``xades:RevocationValues`` (``CRLValues/
  EncapsulatedCRLValue``: DER CRLs; ``OCSPValues/EncapsulatedOCSPValue``: DER
  OCSPResponses), also inside ``xadesv141:TimeStampValidationData``;
- ``xades:SignatureTimeStamp`` (§5.3): its message imprint is the hash of the
  ``ds:SignatureValue`` element canonicalized with the time-stamp's
  ``ds:CanonicalizationMethod`` (Canonical XML 1.0 when absent);
- ``xadesv141:ArchiveTimeStamp`` (§5.5.2.2, the input to its message imprint): the
  concatenation of (1) each ``ds:Reference``'s data after its transforms, in order
  (taken from the core validation, which computed exactly those octets); (2)
  ``ds:SignedInfo``, ``ds:SignatureValue`` and ``ds:KeyInfo``, canonicalized; (3)
  each child of ``xades:UnsignedSignatureProperties`` that precedes the time-stamp,
  canonicalized, in document order; (4) each ``ds:Object`` other than the one holding
  the ``xades:QualifyingProperties``, canonicalized. Written here: no maintained
  Python library computes it.

Level (EN 319 132-1 §6): B-B has signed properties with ``SigningCertificateV2``; B-T
adds a signature time-stamp; B-LT the revocation values (certificate values too, when
``ds:KeyInfo`` lacks some); B-LTA an archive time-stamp.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from govtrust.validation.signatures._xml import (
    DS,
    XADES,
    XADES141,
    XmlRefused,
    b64decode,
    canonicalize,
    certificates_in,
    qname,
)
from govtrust.validation.signatures._xmldsig import SignedReference

__all__ = [
    "MAX_TIMESTAMPS",
    "Material",
    "XadesTimestamp",
    "archive_imprint_input",
    "level_of",
    "material_of",
    "qualifying_properties",
    "signing_time",
    "timestamps_of",
    "unsigned_signature_properties",
]

logger = logging.getLogger(__name__)

MAX_TIMESTAMPS = 32
"""More time-stamps on one signature are refused (each costs a CMS validation)."""


@dataclass(frozen=True)
class Material:
    """Certificates, CRLs and OCSP responses a signature embeds."""

    certificates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsp_responses: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class XadesTimestamp:
    """One encapsulated RFC 3161 token: ``role`` is the TS 119 102-2 type
    (``signature-time-stamp`` or ``archive-time-stamp``), ``imprinted`` the octets its
    message imprint must be the hash of."""

    role: str
    token: bytes
    imprinted: bytes
    element_id: str | None


def qualifying_properties(signature: Any) -> Any:
    """The signature's xades:QualifyingProperties (EN 319 132-1 §4.3), or None."""
    for obj in signature.findall(qname(DS, "Object")):
        props = obj.find(qname(XADES, "QualifyingProperties"))
        if props is not None:
            return props
    return None


def unsigned_signature_properties(signature: Any) -> Any:
    props = qualifying_properties(signature)
    if props is None:
        return None
    return props.find(
        f"{qname(XADES, 'UnsignedProperties')}/{qname(XADES, 'UnsignedSignatureProperties')}"
    )


def signing_time(signed_properties: Any) -> dt.datetime | None:
    """The claimed xades:SigningTime (an xsd:dateTime), from the signed properties."""
    if signed_properties is None:
        return None
    text = signed_properties.findtext(
        f"{qname(XADES, 'SignedSignatureProperties')}/{qname(XADES, 'SigningTime')}"
    )
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _decoded(nodes: Any, what: str) -> list[bytes]:
    """Base64 contents, leaving out what does not decode: unsigned properties can be
    changed by anyone, and an object that does not parse cannot help a validation
    (as the CMS core treats CAdES validation data)."""
    out = []
    for node in nodes:
        try:
            out.append(b64decode(node.text, what))
        except XmlRefused:
            logger.info("ignoring %s that is not valid base64", what)
    return out


def _certificates(ders: list[bytes]) -> list[x509.Certificate]:
    out = []
    for der in ders:
        try:
            out.append(x509.load_der_x509_certificate(der))
        except ValueError:
            logger.info("ignoring an embedded certificate that does not parse")
    return out


def material_of(signature: Any) -> Material:
    """Validation data the signature embeds: ds:KeyInfo certificates (signed: a bad one
    is a format failure), then CertificateValues and RevocationValues, also inside
    TimeStampValidationData (unsigned: what does not parse is left out)."""
    key_info = signature.find(qname(DS, "KeyInfo"))
    certs = certificates_in(key_info, qname(DS, "X509Certificate")) if key_info is not None else []
    usp = unsigned_signature_properties(signature)
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    if usp is not None:
        certs += _certificates(
            _decoded(usp.iter(qname(XADES, "EncapsulatedX509Certificate")), "a certificate")
        )
        crls = _decoded(usp.iter(qname(XADES, "EncapsulatedCRLValue")), "a CRL")
        ocsps = _decoded(usp.iter(qname(XADES, "EncapsulatedOCSPValue")), "an OCSP response")
    return Material(tuple(_dedupe(certs)), tuple(dict.fromkeys(crls)), tuple(dict.fromkeys(ocsps)))


def _dedupe(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    seen: list[x509.Certificate] = []
    for cert in certs:
        if cert not in seen:
            seen.append(cert)
    return seen


def _c14n_method(element: Any) -> str | None:
    method = element.find(qname(DS, "CanonicalizationMethod"))
    return method.get("Algorithm") if method is not None else None


def _tokens(element: Any) -> list[bytes]:
    """The RFC 3161 tokens of a XAdES time-stamp; one that is not base64, or an XML
    time-stamp (``xades:XMLTimeStamp``, not supported), is given as empty bytes, which
    the time-stamp validation reports as a FORMAT_FAILURE of that time-stamp alone."""
    out = []
    for node in element.findall(qname(XADES, "EncapsulatedTimeStamp")):
        try:
            out.append(b64decode(node.text, "a time-stamp token"))
        except XmlRefused:
            out.append(b"")
    if not out:
        out.append(b"")
    return out


_ARCHIVE_TAGS = (qname(XADES141, "ArchiveTimeStamp"), qname(XADES, "ArchiveTimeStamp"))


def archive_imprint_input(
    signature: Any, references: Sequence[SignedReference], archive: Any
) -> bytes:
    """The octets an archive time-stamp's imprint covers (see the module docstring),
    canonicalized with the time-stamp's own canonicalization method."""
    method = _c14n_method(archive)
    parts: list[bytes] = []
    for ref in references:  # (1)
        if ref.data is None:
            raise XmlRefused("an archive time-stamp needs every reference's data")
        parts.append(ref.data)
    for tag in ("SignedInfo", "SignatureValue", "KeyInfo"):  # (2)
        node = signature.find(qname(DS, tag))
        if node is not None:
            parts.append(canonicalize(node, method))
    usp = archive.getparent()
    for child in usp:  # (3)
        if child is archive:
            break
        if isinstance(child.tag, str):
            parts.append(canonicalize(child, method))
    qualifying = qualifying_properties(signature)
    for obj in signature.findall(qname(DS, "Object")):  # (4)
        if qualifying is None or qualifying.getparent() is not obj:
            parts.append(canonicalize(obj, method))
    return b"".join(parts)


def timestamps_of(signature: Any, references: Sequence[SignedReference]) -> list[XadesTimestamp]:
    """The signature and archive time-stamps, in document order, with what each must
    stamp."""
    usp = unsigned_signature_properties(signature)
    if usp is None:
        return []
    out: list[XadesTimestamp] = []
    value = signature.find(qname(DS, "SignatureValue"))
    for child in usp:
        if child.tag == qname(XADES, "SignatureTimeStamp"):
            imprinted = canonicalize(value, _c14n_method(child))
            out += [
                XadesTimestamp("signature-time-stamp", t, imprinted, child.get("Id"))
                for t in _tokens(child)
            ]
        elif child.tag in _ARCHIVE_TAGS:
            imprinted = archive_imprint_input(signature, references, child)
            out += [
                XadesTimestamp("archive-time-stamp", t, imprinted, child.get("Id"))
                for t in _tokens(child)
            ]
        if len(out) > MAX_TIMESTAMPS:
            raise XmlRefused(f"more than {MAX_TIMESTAMPS} time-stamps on one signature")
    return out


def level_of(signature: Any, signed_properties: Any, has_signing_certificate: bool) -> str:
    """The XAdES baseline level the signature has (EN 319 132-1 §6), or "XMLDSig" for
    a plain XML signature."""
    if signed_properties is None or not has_signing_certificate:
        return "XMLDSig"
    usp = unsigned_signature_properties(signature)
    tags = {child.tag for child in usp} if usp is not None else set()
    level = "B"
    if qname(XADES, "SignatureTimeStamp") in tags:
        level = "T"
        if next(usp.iter(qname(XADES, "RevocationValues")), None) is not None:
            level = "LT"
            if tags & set(_ARCHIVE_TAGS):
                level = "LTA"
    return f"XAdES-BASELINE-{level}"
