"""XAdES baseline signatures (ETSI EN 319 132-1) with signxml.

signxml's ``XAdESSigner`` builds the XML-DSig signature (W3C XML Signature 1.1) and the
XAdES-B signed properties (EN 319 132-1 §5.2): ``SigningTime`` (here from the injected
clock, not signxml's ``datetime.now()``), ``SigningCertificateV2`` and a
``DataObjectFormat`` per signed data object. Two shapes:

* **enveloped** (an XML document): one ``ds:Reference URI=""`` with the
  enveloped-signature and exclusive-c14n transforms; the ``ds:Signature`` goes at the
  end of the root element.
* **detached over files** (ASiC-E, EN 319 162-1 §4.4.3): one ``ds:Reference`` per file,
  ``URI`` = the file's name in the container, digest over the file's bytes, no
  transforms; signxml has no such mode, so :class:`_Signer` builds those references
  itself (``_unpack``/``_build_sig``) and signxml does the rest.

Exclusive canonicalization is used throughout, so the signature's canonical form is
independent of the element it ends up in. B-T, B-LT and B-LTA are added as unsigned
properties by :mod:`govtrust.signing.xades.augment`.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree  # type: ignore[import-untyped]
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.xades.xades import XAdESDataObjectFormat, XAdESSigner

from govtrust.clock import Clock
from govtrust.errors import InputError, SigningFailed
from govtrust.signing.api import SigningIdentity
from govtrust.signing.xades._xml import DS, XADES, b64, qname

__all__ = ["DetachedFile", "sign_detached", "sign_enveloped", "signature_method"]


@dataclass(frozen=True)
class DetachedFile:
    """A data object signed by reference: ``name`` is its URI (relative to the ASiC
    container's root), ``data`` its bytes."""

    name: str
    data: bytes
    media_type: str = "application/octet-stream"


def signature_method(identity: SigningIdentity) -> SignatureMethod:
    """ECDSA or RSA PKCS#1 v1.5 with the key's hash (RFC 6931 §2.3.6, §2.3.2). XML-DSig
    in signxml has no EdDSA, so Ed25519 credentials are refused here."""
    key = identity.signer.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return (
            SignatureMethod.ECDSA_SHA384
            if key.curve.key_size == 384
            else SignatureMethod.ECDSA_SHA256
        )
    if isinstance(key, rsa.RSAPublicKey):
        return SignatureMethod.RSA_SHA256
    raise InputError("XAdES signing needs an ECDSA or RSA credential (not Ed25519)")


class _Signer(XAdESSigner):
    """signxml's XAdESSigner with the clock injected and, for ASiC, file references."""

    def __init__(
        self,
        now: Clock,
        method: SignatureMethod,
        files: Sequence[DetachedFile] = (),
        media_type: str = "text/xml",
    ) -> None:
        super().__init__(
            method=(
                SignatureConstructionMethod.detached
                if files
                else SignatureConstructionMethod.enveloped
            ),
            signature_algorithm=method,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
            data_object_format=XAdESDataObjectFormat(
                Description="Signed document", MimeType=media_type
            ),
        )
        self._clock = now
        self._files = list(files)

    # -- EN 319 132-1 §5.2.1 SigningTime, from the injected clock --------------------
    def add_signing_time(
        self, signed_signature_properties: Any, sig_root: Any, signing_settings: Any
    ) -> None:
        node = etree.SubElement(
            signed_signature_properties, qname(XADES, "SigningTime"), nsmap=self.namespaces
        )
        node.text = self._clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- same-document references (SignedProperties, KeyInfo) --------------------------
    def _add_reference_to_signed_info(
        self, sig_root: Any, node_to_reference: Any, **attrs: str
    ) -> None:
        """signxml digests these with the signer's canonicalization but declares no
        transform, and a verifier then applies the XML-DSig default (inclusive C14N 1.0,
        XML-DSig 1.1 §4.4.3.2), so the exclusive c14n used is declared explicitly."""
        signed_info = sig_root.find(qname(DS, "SignedInfo"))
        reference = etree.SubElement(
            signed_info, qname(DS, "Reference"), URI=f"#{node_to_reference.get('Id')}", **attrs
        )
        transforms = etree.SubElement(reference, qname(DS, "Transforms"))
        etree.SubElement(transforms, qname(DS, "Transform"), Algorithm=self.c14n_alg.value)
        etree.SubElement(reference, qname(DS, "DigestMethod"), Algorithm=self.digest_alg.value)
        digest = self._get_digest(
            self._c14n(node_to_reference, algorithm=self.c14n_alg), algorithm=self.digest_alg
        )
        etree.SubElement(reference, qname(DS, "DigestValue")).text = b64(digest)

    # -- detached references to files (ASiC-E) ----------------------------------------
    def _unpack(self, data: Any, references: Any) -> Any:
        if not self._files:
            return super()._unpack(data, references)
        sig_root = etree.Element(qname(DS, "Signature"), nsmap=self.namespaces)
        return sig_root, sig_root, [], []

    def _build_sig(
        self,
        sig_root: Any,
        references: Any,
        c14n_inputs: Any,
        inclusive_ns_prefixes: Any,
        exclude_c14n_transform_element: bool = False,
    ) -> Any:
        if not self._files:
            return super()._build_sig(  # type: ignore[no-untyped-call]
                sig_root,
                references,
                c14n_inputs,
                inclusive_ns_prefixes,
                exclude_c14n_transform_element,
            )
        signed_info = etree.SubElement(sig_root, qname(DS, "SignedInfo"), nsmap=self.namespaces)
        etree.SubElement(
            signed_info, qname(DS, "CanonicalizationMethod"), Algorithm=self.c14n_alg.value
        )
        etree.SubElement(signed_info, qname(DS, "SignatureMethod"), Algorithm=self.sign_alg.value)
        for index, file in enumerate(self._files, start=1):
            reference = etree.SubElement(
                signed_info,
                qname(DS, "Reference"),
                Id=f"r-{index}",
                URI=urllib.parse.quote(file.name, safe="/"),
            )
            etree.SubElement(reference, qname(DS, "DigestMethod"), Algorithm=self.digest_alg.value)
            digest = etree.SubElement(reference, qname(DS, "DigestValue"))
            digest.text = b64(hashlib.sha256(file.data).digest())
        return signed_info, etree.SubElement(sig_root, qname(DS, "SignatureValue"))

    def add_data_object_format(
        self, signed_data_object_properties: Any, sig_root: Any, signing_settings: Any
    ) -> None:
        if not self._files:
            super().add_data_object_format(
                signed_data_object_properties, sig_root, signing_settings
            )
            return
        # EN 319 132-1 §5.2.4: one DataObjectFormat per signed data object.
        for index, file in enumerate(self._files, start=1):
            fmt = etree.SubElement(
                signed_data_object_properties,
                qname(XADES, "DataObjectFormat"),
                ObjectReference=f"#r-{index}",
            )
            etree.SubElement(fmt, qname(XADES, "MimeType")).text = file.media_type


def _sign(signer: _Signer, data: Any, identity: SigningIdentity) -> Any:
    try:
        return signer.sign(
            data,
            key=cast(Any, identity.signer.as_private_key()),
            cert=[identity.certificate, *identity.chain],
            always_add_key_value=False,
        )
    except (ValueError, TypeError) as exc:
        raise SigningFailed("sign", f"signxml could not sign: {exc}") from None


def sign_enveloped(tree: Any, identity: SigningIdentity, clock: Clock) -> tuple[Any, Any]:
    """Sign a parsed XML document (enveloped). Returns the signed document (a new tree:
    signxml re-parses the root element, so comments and processing instructions
    outside it are not kept) and its new ds:Signature."""
    signer = _Signer(clock, signature_method(identity))
    root = _sign(signer, tree.getroot(), identity)
    signatures = root.findall(qname(DS, "Signature"))
    return root.getroottree(), signatures[-1]


def sign_detached(files: Sequence[DetachedFile], identity: SigningIdentity, clock: Clock) -> Any:
    """A ds:Signature over ``files`` by reference (for ASiC-E)."""
    if not files:
        raise InputError("nothing to sign")
    signer = _Signer(clock, signature_method(identity), files)
    return _sign(signer, None, identity)
