"""XML-DSig core validation of one ``ds:Signature`` (W3C XML Signature 1.1 §3.2), with
signxml, and the identification of the signing certificate (EN 319 102-1 §5.2.3).

signxml's :class:`~signxml.XMLVerifier` does reference validation (dereference,
transforms, digest: §3.2.1) and signature validation (canonicalize ``ds:SignedInfo``,
verify ``ds:SignatureValue``: §3.2.2). It is run with the signing certificate chosen
here (``x509_cert``), so it judges neither trust nor validity: the EN 319 102-1 process
does that, with proofs of existence. Two small overrides: the signature to verify is
picked by its position in the document (signxml otherwise takes the first one), and
signxml's own certificate-validity check at "now" is left to the path validation.

Before signxml runs, the ``ds:SignedInfo`` is checked here for what must never be
processed: references that would be fetched (only same-document references and the
caller's ``resolve`` are used), ambiguous ``Id``s (signature wrapping), and transforms
other than enveloped-signature, canonicalization and base64 (XPath and XSLT transforms
are refused rather than silently skipped, as signxml would).

The signing certificate (§5.2.3): with XAdES, the first ``xades:Cert`` of
``xades:SigningCertificateV2`` (EN 319 132-1 §5.2.2.2; ``SigningCertificate`` of XAdES
1.3.2 is accepted too) names it by digest among the certificates of ``ds:KeyInfo`` and
``xades:CertificateValues``; without XAdES, it is the ``ds:X509Data`` certificate whose
key verifies the signature.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cryptography.exceptions
from cryptography import x509
from lxml import etree  # type: ignore[import-untyped]
from signxml import SignatureConfiguration, XMLVerifier  # type: ignore[attr-defined]
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidDigest, InvalidInput, InvalidSignature, SignXMLException

from govtrust.validation.indications import SubIndication
from govtrust.validation.signatures._xml import (
    DS,
    XADES,
    XmlRefused,
    b64decode,
    certificates_in,
    hardened_parser,
    qname,
)

__all__ = [
    "MAX_REFERENCES",
    "CoreResult",
    "Resolver",
    "SignedReference",
    "digest_names",
    "has_signing_certificate_reference",
    "signer_named_by",
    "verify_core",
]

Resolver = Callable[[str], bytes | None]
"""The bytes a reference URI that is not a same-document reference names (a detached
file, an ASiC container's entry), or None: never fetched."""

MAX_REFERENCES = 200
"""signxml re-serializes the document for each reference: more are refused."""

_SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_BASE64 = "http://www.w3.org/2000/09/xmldsig#base64"
_C14N = {
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
}
_TRANSFORMS = _C14N | {_ENVELOPED, _BASE64}
_ID_ATTRIBUTES = ("Id", "ID", "id")
_MAX_KEYINFO_TRIES = 8


@dataclass(frozen=True)
class SignedReference:
    """One ``ds:Reference`` of the signature: its URI (as written), whether it
    names data outside the document, and after verification the octets its digest
    covers (EN 319 132-1 §5.5.2.2 needs them for archive time-stamps)."""

    uri: str
    type: str | None
    external: bool
    data: bytes | None = None


@dataclass(frozen=True)
class CoreResult:
    """The outcome of the core validation: ``failure`` None when every reference
    digest and the signature value verified with ``signer``."""

    failure: SubIndication | None
    message: str
    references: tuple[SignedReference, ...]
    signer: x509.Certificate | None = None
    #: The verified xades:SignedProperties (re-parsed from what was signed), if any.
    signed_properties: Any = None
    signature_method: str | None = None
    digest_methods: tuple[str, ...] = ()


class _Unresolved(Exception):
    pass


class _Verifier(XMLVerifier):
    """signxml's verifier for the ``index``-th ``ds:Signature`` in document order."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self._index = index

    def _get_signature(self, root: Any) -> Any:
        if root.tag == qname(DS, "Signature") and self._index == 0:
            return root
        found = list(root.iter(qname(DS, "Signature")))
        if self._index >= len(found):
            raise InvalidInput("the signature is not in the document")
        return found[self._index]

    def _check_cert_validity(self, cert: Any, cert_source: Any) -> None:
        """Validity at the validation time, or at a proof of existence, is for the
        EN 319 102-1 process (path validation), not for signxml at "now"."""
        return None


def _config() -> SignatureConfiguration:
    return SignatureConfiguration(
        require_x509=True,
        location=".//",
        expect_references=True,  # any number (a bool, not an int, for signxml)
        signature_methods=frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC")),
        digest_algorithms=frozenset(DigestAlgorithm),
    )


def _by_id(root: Any, ident: str) -> list[Any]:
    found: list[Any] = []
    for attr in _ID_ATTRIBUTES:
        found += root.xpath(f"//*[@*[local-name() = '{attr}'] = $v]", v=ident)
    return list({id(e): e for e in found}.values())


def _failed(sub: SubIndication, message: str, refs: Sequence[SignedReference] = ()) -> CoreResult:
    return CoreResult(sub, message, tuple(refs))


def _check_references(
    root: Any, signature: Any, resolve: Resolver
) -> tuple[list[SignedReference], CoreResult | None]:
    """EN 319 102-1 §5.2.2 format checks and §5.2.8 (signed data object) before any
    digest is computed."""
    signed_info = signature.find(qname(DS, "SignedInfo"))
    if signed_info is None:
        return [], _failed(SubIndication.FORMAT_FAILURE, "the signature has no ds:SignedInfo")
    references = signed_info.findall(qname(DS, "Reference"))
    if not references:
        return [], _failed(SubIndication.FORMAT_FAILURE, "the signature has no ds:Reference")
    if len(references) > MAX_REFERENCES:
        return [], _failed(
            SubIndication.FORMAT_FAILURE, f"more than {MAX_REFERENCES} references are refused"
        )
    out: list[SignedReference] = []
    for ref in references:
        uri = ref.get("URI")
        for transform in ref.iterfind(f"{qname(DS, 'Transforms')}/{qname(DS, 'Transform')}"):
            if transform.get("Algorithm") not in _TRANSFORMS:
                return out, _failed(
                    SubIndication.FORMAT_FAILURE,
                    f"unsupported transform {transform.get('Algorithm')!r} (only"
                    " enveloped-signature, canonicalization and base64 are processed)",
                    out,
                )
        if uri is None or uri.startswith("#xpointer("):
            return out, _failed(
                SubIndication.FORMAT_FAILURE, f"unsupported reference URI {uri!r}", out
            )
        if uri == "":
            out.append(SignedReference("", ref.get("Type"), external=False))
            continue
        if uri.startswith("#"):
            targets = _by_id(root, uri[1:])
            if len(targets) > 1:
                return out, _failed(
                    SubIndication.FORMAT_FAILURE,
                    f"the reference {uri} is ambiguous: {len(targets)} elements have that Id",
                    out,
                )
            if not targets:
                return out, _failed(
                    SubIndication.SIGNED_DATA_NOT_FOUND,
                    f"the reference {uri} names no element",
                    out,
                )
            out.append(SignedReference(uri, ref.get("Type"), external=False))
            continue
        name = urllib.parse.unquote(uri)
        if resolve(uri) is None and resolve(name) is None:
            return out, _failed(
                SubIndication.SIGNED_DATA_NOT_FOUND,
                f"the signed data {name!r} was not given (references are never fetched)",
                [*out, SignedReference(uri, ref.get("Type"), external=True)],
            )
        out.append(SignedReference(uri, ref.get("Type"), external=True))
    return out, None


def _digest_of(cert: x509.Certificate, algorithm: str | None) -> bytes | None:
    try:
        impl = DigestAlgorithm(algorithm).implementation()
    except (ValueError, SignXMLException):
        return None
    return cert.fingerprint(impl)


def _cert_refs(signed_properties: Any) -> list[tuple[str | None, bytes]]:
    """(digest algorithm URI, digest) of each xades:Cert of SigningCertificate(V2)."""
    out: list[tuple[str | None, bytes]] = []
    ssp = signed_properties.find(qname(XADES, "SignedSignatureProperties"))
    if ssp is None:
        return out
    holders = [
        h
        for h in (
            ssp.find(qname(XADES, "SigningCertificateV2")),
            ssp.find(qname(XADES, "SigningCertificate")),
        )
        if h is not None
    ]
    for holder in holders[:1]:
        for cert in holder.findall(qname(XADES, "Cert")):
            digest = cert.find(qname(XADES, "CertDigest"))
            if digest is None:
                raise XmlRefused("a xades:Cert has no xades:CertDigest")
            method = digest.find(qname(DS, "DigestMethod"))
            value = digest.find(qname(DS, "DigestValue"))
            if method is None or value is None:
                raise XmlRefused("a xades:CertDigest lacks its method or value")
            out.append((method.get("Algorithm"), b64decode(value.text, "a xades:CertDigest")))
    return out


def has_signing_certificate_reference(signed_properties: Any) -> bool:
    """Whether XAdES SigningCertificateV2 (or SigningCertificate) names certificates."""
    return bool(_cert_refs(signed_properties)) if signed_properties is not None else False


def signer_named_by(signed_properties: Any, cert: x509.Certificate) -> bool:
    """Whether the first xades:Cert of the (verified) signed properties is ``cert``."""
    refs = _cert_refs(signed_properties)
    return bool(refs) and _named_signer(refs, [cert]) is cert


def _named_signer(
    cert_refs: list[tuple[str | None, bytes]], pool: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    algorithm, digest = cert_refs[0]
    for cert in pool:
        if _digest_of(cert, algorithm) == digest:
            return cert
    return None


def _leaf_first(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Certificates that issued none of the others first: the likely signer."""
    issuers = {c.issuer for c in certs if c.issuer != c.subject}
    return sorted(certs, key=lambda c: c.subject in issuers)


def _run(
    root: Any,
    index: int,
    cert: x509.Certificate,
    resolve: Resolver,
) -> Any:
    def resolver(uri: str) -> bytes:
        data = resolve(uri)
        if data is None:
            data = resolve(urllib.parse.unquote(uri))
        if data is None:
            raise _Unresolved(uri)
        return data

    return _Verifier(index).verify(
        root,
        x509_cert=cert,
        parser=hardened_parser(),
        uri_resolver=resolver,
        expect_config=_config(),
        validate_schema=True,
    )


_SHA1 = re.compile(r"SHA1(?![0-9])")


def _methods(signature: Any) -> tuple[str | None, tuple[str, ...]]:
    signed_info = signature.find(qname(DS, "SignedInfo"))
    method = signed_info.find(qname(DS, "SignatureMethod"))
    digests = tuple(
        str(d.get("Algorithm"))
        for d in signed_info.iterfind(f"{qname(DS, 'Reference')}/{qname(DS, 'DigestMethod')}")
    )
    return (method.get("Algorithm") if method is not None else None), digests


def digest_names(signature_method: str | None, digest_methods: Sequence[str]) -> set[str]:
    """Lower-case hash names (``sha1``, ``sha256``...) the signature relies on, for the
    cryptographic constraints (EN 319 102-1 §5.2.8)."""
    names: set[str] = set()
    for uri, enum in [(signature_method, SignatureMethod)] + [
        (d, DigestAlgorithm) for d in digest_methods
    ]:
        try:
            member = enum(uri)
        except (ValueError, SignXMLException):
            continue
        found = _SHA1.search(member.name)
        if found:
            names.add("sha1")
        else:
            match = re.search(r"SHA3?_?\d+", member.name)
            if match:
                names.add(match.group(0).lower().replace("_", "-"))
    return names


def verify_core(
    root: Any,
    signature: Any,
    index: int,
    resolve: Resolver,
    *,
    extra_certificates: Sequence[x509.Certificate] = (),
    signed_properties: Any = None,
) -> CoreResult:
    """Identify the signing certificate and verify the ``index``-th ``ds:Signature``
    of ``root`` (``signature``). ``signed_properties`` is the signature's
    xades:SignedProperties as found in the document (unverified: it only names the
    certificate to try; the one that was signed is checked afterwards)."""
    references, problem = _check_references(root, signature, resolve)
    if problem is not None:
        return problem
    key_info = signature.find(qname(DS, "KeyInfo"))
    key_certs = (
        certificates_in(key_info, qname(DS, "X509Certificate")) if key_info is not None else []
    )
    # EN 319 102-1 §5.2.3: identification of the signing certificate.
    cert_refs = _cert_refs(signed_properties) if signed_properties is not None else []
    if cert_refs:
        named = _named_signer(cert_refs, [*key_certs, *extra_certificates])
        if named is None:
            return _failed(
                SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                "no certificate in the signature matches the digest of xades:SigningCertificateV2",
                references,
            )
        candidates = [named]
    else:
        candidates = _leaf_first(key_certs)[:_MAX_KEYINFO_TRIES]
    if not candidates:
        return _failed(
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            "the signature carries no certificate (ds:KeyInfo/ds:X509Data)",
            references,
        )
    method, digests = _methods(signature)
    last: CoreResult | None = None
    for cert in candidates:
        result = _attempt(root, signature, index, cert, resolve, references)
        if result.failure is not SubIndication.SIG_CRYPTO_FAILURE:
            return CoreResult(
                result.failure,
                result.message,
                result.references,
                result.signer,
                result.signed_properties,
                method,
                digests,
            )
        last = result
    assert last is not None
    return CoreResult(last.failure, last.message, tuple(references), None, None, method, digests)


def _attempt(
    root: Any,
    signature: Any,
    index: int,
    cert: x509.Certificate,
    resolve: Resolver,
    references: list[SignedReference],
) -> CoreResult:
    try:
        results = _run(root, index, cert, resolve)
    except _Unresolved as exc:
        return _failed(
            SubIndication.SIGNED_DATA_NOT_FOUND, f"the signed data {exc} was not given", references
        )
    except InvalidDigest as exc:
        return _failed(
            SubIndication.HASH_FAILURE,
            f"a signed data object was changed after signing ({exc})",
            references,
        )
    except (InvalidSignature, cryptography.exceptions.InvalidSignature) as exc:
        return _failed(
            SubIndication.SIG_CRYPTO_FAILURE,
            f"the signature value does not verify with the signing certificate's key ({exc})",
            references,
        )
    except etree.DocumentInvalid as exc:
        return _failed(
            SubIndication.FORMAT_FAILURE,
            f"the signature is not valid against the XML-DSig schema: {exc}",
            references,
        )
    except (InvalidInput, SignXMLException, ValueError, TypeError, KeyError) as exc:
        return _failed(SubIndication.FORMAT_FAILURE, f"malformed XML signature: {exc}", references)
    except (etree.LxmlError, cryptography.exceptions.UnsupportedAlgorithm) as exc:
        return _failed(SubIndication.FORMAT_FAILURE, f"malformed XML signature: {exc}", references)
    results = results if isinstance(results, list) else [results]
    if len(results) != len(references):
        return _failed(
            SubIndication.FORMAT_FAILURE, "the references changed during validation", references
        )
    verified = [
        SignedReference(r.uri, r.type, r.external, bytes(v.signed_data))
        for r, v in zip(references, results, strict=True)
    ]
    props = _verified_properties(signature, references, results)
    return CoreResult(
        None, "the signature value and every reference verify", tuple(verified), cert, props
    )


def _verified_properties(
    signature: Any, references: list[SignedReference], results: list[Any]
) -> Any:
    """The xades:SignedProperties of this signature as signed: the verified result of
    the reference whose URI names the SignedProperties inside this ds:Signature."""
    own = signature.find(
        f"{qname(DS, 'Object')}/{qname(XADES, 'QualifyingProperties')}/"
        f"{qname(XADES, 'SignedProperties')}"
    )
    if own is None:
        return None
    ident = next((own.get(a) for a in _ID_ATTRIBUTES if own.get(a)), None)
    for ref, result in zip(references, results, strict=True):
        if ident is not None and ref.uri == f"#{ident}":
            xml = result.signed_xml
            if xml is not None and xml.tag == qname(XADES, "SignedProperties"):
                return xml
    return None
