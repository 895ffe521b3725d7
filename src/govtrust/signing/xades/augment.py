"""The XAdES unsigned signature properties of B-T, B-LT and B-LTA (ETSI EN 319 132-1).

signxml writes XAdES-B and verifies it; it has no unsigned properties, so they are
added here, in ``xades:QualifyingProperties/xades:UnsignedProperties/
xades:UnsignedSignatureProperties`` (XAdES schema, EN 319 132-1 §4.3):

``B-T``   ``xades:SignatureTimeStamp`` (§5.3): a time-stamp token over the canonicalized
          ``ds:SignatureValue`` element, in ``xades:EncapsulatedTimeStamp``, with the
          ``ds:CanonicalizationMethod`` used (exclusive c14n).
``B-LT``  ``xades:CertificateValues`` (§5.5.1) with the certificates of the signer's and
          the TSA's chains not already in ``ds:KeyInfo``, and ``xades:RevocationValues``
          (§5.5.2) with ``xades:CRLValues/EncapsulatedCRLValue`` (DER CRL) and
          ``xades:OCSPValues/EncapsulatedOCSPValue`` (DER OCSPResponse). Validation data
          added after an archive time-stamp goes into ``xadesv141:TimeStampValidationData``
          (§5.5.3) instead, as the earlier archive time-stamp does not cover it.
``B-LTA`` ``xadesv141:ArchiveTimeStamp`` (§5.5.2.2 input for the message imprint): the
          hash of the concatenation of (1) each ``ds:Reference``'s data after its
          transforms, in order (the enveloped document: the document without this
          ``ds:Signature``, exclusively canonicalized; an ASiC file: its bytes; an
          ``#id`` reference: the element, canonicalized); (2) ``ds:SignedInfo``,
          ``ds:SignatureValue`` and ``ds:KeyInfo``, canonicalized; (3) each child of
          ``xades:UnsignedSignatureProperties`` before the new time-stamp, canonicalized,
          in document order; (4) any ``ds:Object`` other than the one holding the
          ``xades:QualifyingProperties`` (none here). Written by hand: no maintained
          Python library computes it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from asn1crypto import cms
from cryptography import x509
from lxml import etree  # type: ignore[import-untyped]

from govtrust.errors import MalformedDocument, SigningFailed
from govtrust.signing._ltv import (
    build_chain,
    collect,
    der,
    embedded_certificates,
    signer_certificate,
)
from govtrust.signing._tsp import timestamp_token
from govtrust.signing.api import SigningServices
from govtrust.signing.levels import Level
from govtrust.signing.xades._xml import DS, EXC_C14N, XADES, XADES141, b64, c14n, qname

__all__ = [
    "ExternalData",
    "add_archive_timestamp",
    "add_signature_timestamp",
    "add_validation_data",
    "archive_imprint_input",
    "augment_signature",
    "find_signature",
]

ExternalData = Callable[[str], bytes]
"""The bytes a ``ds:Reference`` URI that is not a same-document reference points to
(an ASiC container's file, by its name)."""


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def find_signature(tree: Any) -> Any:
    """The last ds:Signature in a document (the one a signer just appended); a XAdES
    signature has a xades:QualifyingProperties targeting it."""
    signatures = tree.getroot().iter(qname(DS, "Signature"))
    found = [s for s in signatures if _qualifying(s) is not None]
    if not found:
        raise MalformedDocument(
            "xades", "no XAdES signature (ds:Signature with xades:QualifyingProperties)"
        )
    return found[-1]


def _qualifying(signature: Any) -> Any:
    for obj in signature.findall(qname(DS, "Object")):
        props = obj.find(qname(XADES, "QualifyingProperties"))
        if props is not None:
            return props
    return None


def _unsigned_signature_properties(signature: Any) -> Any:
    props = _qualifying(signature)
    unsigned = props.find(qname(XADES, "UnsignedProperties"))
    if unsigned is None:
        unsigned = etree.SubElement(props, qname(XADES, "UnsignedProperties"))
    usp = unsigned.find(qname(XADES, "UnsignedSignatureProperties"))
    if usp is None:
        usp = etree.SubElement(unsigned, qname(XADES, "UnsignedSignatureProperties"))
    return usp


def _timestamp_element(tag: str, token: bytes) -> Any:
    element = etree.Element(tag, Id=_new_id("ts"), nsmap={"xades": XADES, "ds": DS})
    etree.SubElement(element, qname(DS, "CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(element, qname(XADES, "EncapsulatedTimeStamp"), Id=_new_id("ets")).text = b64(
        token
    )
    return element


def add_signature_timestamp(signature: Any, services: SigningServices) -> None:
    """B-T: xades:SignatureTimeStamp over the canonicalized ds:SignatureValue (§5.3)."""
    value = signature.find(qname(DS, "SignatureValue"))
    token = timestamp_token(services.transport(), c14n(value), "sha256")
    _unsigned_signature_properties(signature).append(
        _timestamp_element(qname(XADES, "SignatureTimeStamp"), token)
    )


def _x509_in(element: Any) -> list[x509.Certificate]:
    out = []
    for node in element.iter(
        qname(DS, "X509Certificate"), qname(XADES, "EncapsulatedX509Certificate")
    ):
        try:
            out.append(x509.load_der_x509_certificate(_b64decode(node.text or "")))
        except ValueError:
            raise MalformedDocument(
                "xades", "a certificate in the signature is not valid DER"
            ) from None
    return out


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedDocument("xades", "invalid base64 in the signature") from None


def _tokens(signature: Any) -> list[bytes]:
    usp = _qualifying(signature).find(
        f"{qname(XADES, 'UnsignedProperties')}/{qname(XADES, 'UnsignedSignatureProperties')}"
    )
    if usp is None:
        return []
    out = []
    for tag in (qname(XADES, "SignatureTimeStamp"), qname(XADES141, "ArchiveTimeStamp")):
        for ts in usp.iter(tag):
            for enc in ts.findall(qname(XADES, "EncapsulatedTimeStamp")):
                out.append(_b64decode(enc.text or ""))
    return out


def _signer_certificate(signature: Any) -> x509.Certificate:
    key_info = signature.find(qname(DS, "KeyInfo"))
    certs = _x509_in(key_info) if key_info is not None else []
    if not certs:
        raise MalformedDocument("xades", "the signature's ds:KeyInfo has no certificate")
    return certs[0]


def _chains(signature: Any, known: Sequence[x509.Certificate]) -> list[list[x509.Certificate]]:
    pool = [*_x509_in(signature), *known]
    chains = [build_chain(_signer_certificate(signature), pool)]
    for token in _tokens(signature):
        try:
            signed_data: Any = cms.ContentInfo.load(token)["content"]
            tsa = signer_certificate(signed_data, signed_data["signer_infos"][0])
            token_certs = embedded_certificates(signed_data)
        except (ValueError, TypeError, KeyError):
            raise MalformedDocument(
                "xades", "a time-stamp token in the signature is malformed"
            ) from None
        if tsa is None:
            raise SigningFailed("validation-data", "a time-stamp token lacks the TSA certificate")
        chains.append(build_chain(tsa, [*token_certs, *pool]))
    return chains


def add_validation_data(signature: Any, services: SigningServices) -> None:
    """B-LT: xades:CertificateValues and xades:RevocationValues (§5.5.1, §5.5.2); in
    xadesv141:TimeStampValidationData when an archive time-stamp is already there."""
    data = collect(_chains(signature, services.pool), services.source())
    key_info = signature.find(qname(DS, "KeyInfo"))
    present = {der(c) for c in (_x509_in(key_info) if key_info is not None else [])}
    usp = _unsigned_signature_properties(signature)
    present |= {der(c) for c in _x509_in(usp)}
    present_revocation = {
        _b64decode(node.text or "")
        for node in usp.iter(
            qname(XADES, "EncapsulatedOCSPValue"), qname(XADES, "EncapsulatedCRLValue")
        )
    }
    certs = [c for c in data.certificates if der(c) not in present]
    ocsps = [o for o in data.ocsps if o not in present_revocation]
    crls = [c for c in data.crls if c not in present_revocation]
    after_archive = usp.find(qname(XADES141, "ArchiveTimeStamp")) is not None
    parent = usp
    if after_archive:
        parent = etree.SubElement(
            usp,
            qname(XADES141, "TimeStampValidationData"),
            Id=_new_id("tsvd"),
            nsmap={"xadesv141": XADES141},
        )
    if certs:
        values = etree.SubElement(parent, qname(XADES, "CertificateValues"), Id=_new_id("cv"))
        for cert in certs:
            etree.SubElement(values, qname(XADES, "EncapsulatedX509Certificate")).text = b64(
                der(cert)
            )
    if ocsps or crls:
        revocation = etree.SubElement(parent, qname(XADES, "RevocationValues"), Id=_new_id("rv"))
        if crls:
            crl_values = etree.SubElement(revocation, qname(XADES, "CRLValues"))
            for crl in crls:
                etree.SubElement(crl_values, qname(XADES, "EncapsulatedCRLValue")).text = b64(crl)
        if ocsps:
            ocsp_values = etree.SubElement(revocation, qname(XADES, "OCSPValues"))
            for response in ocsps:
                etree.SubElement(ocsp_values, qname(XADES, "EncapsulatedOCSPValue")).text = b64(
                    response
                )
    if after_archive and not len(parent):
        usp.remove(parent)


def _reference_data(signature: Any, reference: Any, external: ExternalData | None) -> bytes:
    """The octets a ds:Reference's digest is computed over (XML-DSig §4.4.3.2)."""
    uri = reference.get("URI")
    transforms = [
        t.get("Algorithm")
        for t in reference.iterfind(f"{qname(DS, 'Transforms')}/{qname(DS, 'Transform')}")
    ]
    if uri == "":
        # The whole document, without this signature (enveloped-signature transform),
        # then canonicalized (our references declare exclusive c14n).
        tree = signature.getroottree()
        doc = copy.deepcopy(tree)
        clone = _follow(doc.getroot(), _path_of(tree.getroot(), signature))
        clone.getparent().remove(clone)
        return c14n(doc)
    if uri is not None and uri.startswith("#"):
        (target,) = signature.getroottree().xpath("//*[@Id=$id]", id=uri[1:]) or (None,)
        if target is None:
            raise MalformedDocument("xades", f"the reference {uri} points to no element")
        return c14n(target)
    if external is None or uri is None:
        raise MalformedDocument("xades", f"the reference {uri!r} cannot be dereferenced here")
    if transforms:
        raise MalformedDocument("xades", "references to files with transforms are not supported")
    return external(urllib.parse.unquote(uri))


def _path_of(root: Any, element: Any) -> list[int]:
    """Child indexes from ``root`` down to ``element``."""
    path: list[int] = []
    node = element
    while node is not root:
        parent = node.getparent()
        if parent is None:
            raise MalformedDocument("xades", "the signature is not in the document")
        path.append(parent.index(node))
        node = parent
    return path[::-1]


def _follow(root: Any, path: list[int]) -> Any:
    node = root
    for index in path:
        node = node[index]
    return node


def archive_imprint_input(signature: Any, external: ExternalData | None = None) -> bytes:
    """The octets whose hash is a new xadesv141:ArchiveTimeStamp's imprint
    (EN 319 132-1 §5.5.2.2; see the module docstring)."""
    parts: list[bytes] = []
    signed_info = signature.find(qname(DS, "SignedInfo"))
    for reference in signed_info.findall(qname(DS, "Reference")):
        parts.append(_reference_data(signature, reference, external))
    for tag in ("SignedInfo", "SignatureValue", "KeyInfo"):
        node = signature.find(qname(DS, tag))
        if node is not None:
            parts.append(c14n(node))
    usp = _unsigned_signature_properties(signature)
    parts.extend(c14n(child) for child in usp if isinstance(child.tag, str))
    qualifying = _qualifying(signature)
    for obj in signature.findall(qname(DS, "Object")):
        if qualifying is None or qualifying.getparent() is not obj:
            parts.append(c14n(obj))
    return b"".join(parts)


def add_archive_timestamp(
    signature: Any, services: SigningServices, external: ExternalData | None = None
) -> None:
    """B-LTA: xadesv141:ArchiveTimeStamp (§5.5.2)."""
    token = timestamp_token(
        services.transport(), archive_imprint_input(signature, external), "sha256"
    )
    element = _timestamp_element(qname(XADES141, "ArchiveTimeStamp"), token)
    _unsigned_signature_properties(signature).append(element)


def _has(signature: Any, ns: str, local: str) -> bool:
    props = _qualifying(signature)
    return props is not None and next(props.iter(qname(ns, local)), None) is not None


def augment_signature(
    signature: Any, level: Level, services: SigningServices, external: ExternalData | None = None
) -> None:
    """Bring a XAdES signature (an lxml element in its document) up to ``level``, in
    place. Asked for B-LTA, a signature that is B-LTA already gets validation data for
    its last archive time-stamp and a new one (renewal, §5.5.2)."""
    if level.at_least(Level.B_T) and not _has(signature, XADES, "SignatureTimeStamp"):
        add_signature_timestamp(signature, services)
    if level.at_least(Level.B_LT) and (
        not _has(signature, XADES, "RevocationValues") or level is Level.B_LTA
    ):
        add_validation_data(signature, services)
    if level.at_least(Level.B_LTA):
        add_archive_timestamp(signature, services, external)
