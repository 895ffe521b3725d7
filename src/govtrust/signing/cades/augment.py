"""Adding the CAdES baseline levels to a detached CMS signature (ETSI EN 319 122-1).

pyHanko builds CAdES-B and the signature timestamp (B-T) when it signs; it has no
CAdES-LT or archive-time-stamp-v3 support (its long-term validation is PAdES's DSS), so
this module adds those levels, and also B-T to a signature made without one. Each step
rebuilds the SignedData around the parsed parts it keeps, so the signed attributes and
the signature value stay byte for byte what was signed.

``B-T``   signature-time-stamp unsigned attribute (EN 319 122-1 §5.3, RFC 3161
          Appendix A): a token whose imprint is the hash of the ``signature`` field's
          value.
``B-LT``  EN 319 122-1 §6.3 (requirement for B-LT): the certificates needed to
          validate the signature and its time-stamps are put into
          ``SignedData.certificates``, and their revocation data into
          ``SignedData.crls``: CRLs as ``CertificateList``, OCSP responses as
          ``RevocationInfoChoice.other`` with ``id-ri-ocsp-response`` (RFC 5940 §3).
          The ``certificate-values``/``revocation-values`` attributes of the older
          CAdES-X-L are not used: EN 319 122-1 baseline signatures carry the data in
          these two SignedData fields, where archive-time-stamp-v3 protects it through
          the ats-hash-index-v3. A SignedData with ``other`` revocation info is
          version 5 (RFC 5652 §5.1).
``B-LTA`` archive-time-stamp-v3 (EN 319 122-1 §5.5.3) with its ats-hash-index-v3
          (§5.5.2) in the token's own unsigned attributes; written by hand because no
          maintained Python library implements it. The message imprint is the hash of
          the concatenation of: (1) ``encapContentInfo.eContentType`` (DER); (2) the
          hash of the signed content, with the time-stamp's hash algorithm; (3) the
          SignerInfo's ``version``, ``sid``, ``digestAlgorithm``, ``signedAttrs`` (with
          its ``[0]`` tag), ``signatureAlgorithm`` and ``signature`` (DER, in that order);
          (4) the DER of the ATSHashIndexV3 value, whose lists hold the hashes of each
          ``CertificateChoices``, each ``RevocationInfoChoice`` and, for each unsigned
          attribute value, of ``attrType || AttributeValue`` (the v3 rule of §5.5.2).
          This is the computation ETSI's reference implementation (DSS) performs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from asn1crypto import algos, cms
from cryptography import x509

from govtrust.crypto import _der
from govtrust.errors import Error, MalformedDocument, SigningFailed
from govtrust.signing._ltv import (
    ValidationData,
    build_chain,
    collect,
    der,
    embedded_certificates,
    signer_certificate,
)
from govtrust.signing._tsp import timestamp_token
from govtrust.signing.api import SigningServices
from govtrust.signing.cades._asn1 import (
    ARCHIVE_TIME_STAMP_V3,
    ATS_HASH_INDEX_V3,
    SIGNATURE_TIME_STAMP,
    ATSHashIndexV3,
)
from govtrust.signing.levels import Level

__all__ = [
    "ContentDigest",
    "ParsedSignature",
    "add_archive_timestamp",
    "add_signature_timestamp",
    "add_validation_data",
    "archive_imprint_input",
    "ats_hash_index_v3",
    "augment_cms",
    "parse_cms",
    "timestamp_tokens",
]


class ContentDigest(Protocol):
    """The hash of the signed content with the named algorithm (``sha256``...): a
    detached signature's content lives outside it, so the caller hashes it."""

    def __call__(self, hash_name: str, /) -> bytes: ...


_HASHES = ("sha256", "sha384", "sha512")
_ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_ID_RI_OCSP_RESPONSE = "1.3.6.1.5.5.7.16.2"
_SIGNER_INFO_SIGNED_PART = (
    "version",
    "sid",
    "digest_algorithm",
    "signed_attrs",
    "signature_algorithm",
    "signature",
)


def _set(items: list[bytes], *, tag: int = 0x31) -> bytes:
    """A DER SET OF (X.690 §11.6: elements in ascending order of their encodings),
    under its universal tag or an IMPLICIT context tag."""
    return _der.tlv(tag, b"".join(sorted(items)))


class ParsedSignature:
    """A CMS SignedData with one SignerInfo, parsed (lazily, by asn1crypto) from DER.

    Changes re-assemble the DER around the parsed fields' original encodings
    (:meth:`rebuild`) rather than re-encoding asn1crypto objects: the signed attributes
    and the signature value stay byte for byte what was signed, and nothing large is
    re-serialised.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.content_info: Any = cms.ContentInfo.load(data, strict=True)
        self.signed_data: Any = self.content_info["content"]
        self.signer_info: Any = self.signed_data["signer_infos"][0]

    @property
    def digest_algorithm(self) -> str:
        return str(self.signer_info["digest_algorithm"]["algorithm"].native)

    def unsigned(self, oid: str) -> list[Any]:
        """The values of every unsigned attribute of type ``oid``."""
        out: list[Any] = []
        for attr in self.signer_info["unsigned_attrs"] or ():
            if attr["type"].dotted == oid:
                out.extend(attr["values"])
        return out

    def unsigned_attributes(self) -> list[bytes]:
        """The DER of each unsigned Attribute."""
        return [bytes(a.dump()) for a in self.signer_info["unsigned_attrs"] or ()]

    def certificates(self) -> list[bytes]:
        """The DER of each CertificateChoices of ``SignedData.certificates``."""
        return [bytes(c.dump()) for c in self.signed_data["certificates"] or ()]

    def revocation(self) -> list[bytes]:
        """The DER of each RevocationInfoChoice of ``SignedData.crls``."""
        return [bytes(r.dump()) for r in self.signed_data["crls"] or ()]

    def rebuild(
        self,
        *,
        unsigned_attrs: list[bytes] | None = None,
        certificates: list[bytes] | None = None,
        revocation: list[bytes] | None = None,
    ) -> ParsedSignature:
        """The DER ContentInfo with some lists replaced (RFC 5652 §5.1, §5.3)."""
        si = self.signer_info
        attrs = self.unsigned_attributes() if unsigned_attrs is None else unsigned_attrs
        signer_info = _der.sequence(
            *(bytes(si[name].dump()) for name in _SIGNER_INFO_SIGNED_PART),
            _set(attrs, tag=0xA1) if attrs else b"",
        )
        sd = self.signed_data
        certs = self.certificates() if certificates is None else certificates
        crls = self.revocation() if revocation is None else revocation
        version = int(str(sd["version"].native)[1:])
        if any(c[0] == 0xA1 for c in crls):  # RevocationInfoChoice "other": [1] IMPLICIT
            version = 5  # RFC 5652 §5.1: "other" revocation info formats mean version 5
        signed_data = _der.sequence(
            _der.integer(version),
            bytes(sd["digest_algorithms"].dump()),
            bytes(sd["encap_content_info"].dump()),
            _set(certs, tag=0xA0) if certs else b"",
            _set(crls, tag=0xA1) if crls else b"",
            _set([signer_info]),
        )
        return ParsedSignature(
            _der.sequence(_der.oid(_ID_SIGNED_DATA), _der.explicit(0, signed_data))
        )

    def with_unsigned(self, oid: str, value_der: bytes) -> ParsedSignature:
        """This signature with one more unsigned attribute (type ``oid``, one value)."""
        attr = _der.sequence(_der.oid(oid), _set([value_der]))
        return self.rebuild(unsigned_attrs=[*self.unsigned_attributes(), attr])

    def dump(self) -> bytes:
        return self.data


def parse_cms(data: bytes) -> ParsedSignature:
    """Parse a DER CMS ContentInfo that must be a SignedData with exactly one SignerInfo
    with signed attributes; MalformedDocument otherwise."""
    try:
        sig = ParsedSignature(data)
        if sig.content_info["content_type"].native != "signed_data":
            raise MalformedDocument("cades", "not a CMS SignedData")
        if len(sig.signed_data["signer_infos"]) != 1:
            raise MalformedDocument("cades", "only signatures with one SignerInfo are augmented")
        if not len(sig.signer_info["signed_attrs"]):
            raise MalformedDocument("cades", "a CAdES signature has signed attributes")
        # asn1crypto parses lazily: touch what augmentation reads, so that a malformed
        # part fails here rather than half-way through.
        for name in _SIGNER_INFO_SIGNED_PART:
            sig.signer_info[name].dump()
        sig.digest_algorithm  # noqa: B018
        sig.unsigned_attributes()
        sig.certificates()
        sig.revocation()
    except Error:
        raise
    except Exception:
        raise MalformedDocument("cades", "not a DER CMS signature (RFC 5652)") from None
    return sig


def _hash_name(sig: ParsedSignature) -> str:
    return sig.digest_algorithm if sig.digest_algorithm in _HASHES else "sha256"


def add_signature_timestamp(sig: ParsedSignature, services: SigningServices) -> ParsedSignature:
    """B-T: a signature-time-stamp over the signature value (EN 319 122-1 §5.3)."""
    signature = bytes(sig.signer_info["signature"].native)
    token = timestamp_token(services.transport(), signature, _hash_name(sig))
    return sig.with_unsigned(SIGNATURE_TIME_STAMP, token)


def timestamp_tokens(sig: ParsedSignature) -> list[Any]:
    """The signature-time-stamp and archive-time-stamp-v3 tokens (ContentInfo)."""
    return [*sig.unsigned(SIGNATURE_TIME_STAMP), *sig.unsigned(ARCHIVE_TIME_STAMP_V3)]


def _chains(
    sig: ParsedSignature, known: Sequence[x509.Certificate]
) -> list[list[x509.Certificate]]:
    pool = [*embedded_certificates(sig.signed_data), *known]
    signer = signer_certificate(sig.signed_data, sig.signer_info)
    if signer is None:
        raise MalformedDocument("cades", "the signer's certificate is not in the signature")
    chains = [build_chain(signer, pool)]
    for token in timestamp_tokens(sig):
        token_data = token["content"]
        tsa = signer_certificate(token_data, token_data["signer_infos"][0])
        if tsa is None:
            raise SigningFailed("validation-data", "a time-stamp token lacks the TSA certificate")
        chains.append(build_chain(tsa, [*embedded_certificates(token_data), *pool]))
    return chains


def add_validation_data(sig: ParsedSignature, services: SigningServices) -> ParsedSignature:
    """B-LT: certificates and revocation data of the signer's and the TSAs' chains into
    ``SignedData.certificates`` / ``crls`` (EN 319 122-1 §6.3; RFC 5940 §3)."""
    data: ValidationData = collect(_chains(sig, services.pool), services.source())
    certs = sig.certificates()
    certs.extend(der(cert) for cert in data.certificates)  # CertificateChoices "certificate"
    revocation = sig.revocation()
    revocation.extend(data.crls)  # RevocationInfoChoice "crl": the CertificateList itself
    for response in data.ocsps:
        # RevocationInfoChoice "other" [1] IMPLICIT OtherRevocationInfoFormat {
        #   otherRevInfoFormat id-ri-ocsp-response, otherRevInfo OCSPResponse }
        revocation.append(_der.tlv(0xA1, _der.oid(_ID_RI_OCSP_RESPONSE) + response))
    return sig.rebuild(
        certificates=list(dict.fromkeys(certs)), revocation=list(dict.fromkeys(revocation))
    )


def _hash(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()


def ats_hash_index_v3(sig: ParsedSignature, hash_name: str) -> Any:
    """The ATSHashIndexV3 of the signature as it is now (EN 319 122-1 §5.5.2)."""
    attrs: list[bytes] = []
    for attr in sig.signer_info["unsigned_attrs"] or ():
        attr_type = bytes(attr["type"].dump())
        for value in attr["values"]:
            attrs.append(_hash(hash_name, attr_type + bytes(value.dump())))
    return ATSHashIndexV3(
        {
            "hash_ind_algorithm": algos.DigestAlgorithm({"algorithm": hash_name}),
            "certificates_hash_index": [_hash(hash_name, c) for c in sig.certificates()],
            "crls_hash_index": [_hash(hash_name, r) for r in sig.revocation()],
            "unsigned_attrs_hash_index": attrs,
        }
    )


def archive_imprint_input(sig: ParsedSignature, content_hash: bytes, index: Any) -> bytes:
    """The octets whose hash is the archive-time-stamp-v3's message imprint
    (EN 319 122-1 §5.5.3, items 1 to 4; see the module docstring)."""
    si = sig.signer_info
    return b"".join(
        (
            bytes(sig.signed_data["encap_content_info"]["content_type"].dump()),
            content_hash,
            *(bytes(si[name].dump()) for name in _SIGNER_INFO_SIGNED_PART),
            bytes(index.dump()),
        )
    )


def add_archive_timestamp(
    sig: ParsedSignature, content_digest: ContentDigest, services: SigningServices
) -> ParsedSignature:
    """B-LTA: an archive-time-stamp-v3 over the signature, its validation data and its
    earlier time-stamps (EN 319 122-1 §5.5.3)."""
    hash_name = _hash_name(sig)
    index = ats_hash_index_v3(sig, hash_name)
    data = archive_imprint_input(sig, content_digest(hash_name), index)
    token = ParsedSignature(timestamp_token(services.transport(), data, hash_name))
    # The index goes into the token's own unsigned attributes (§5.5.3): the TSA's
    # signature covers its signed attributes only (RFC 5652 §5.4).
    token = token.with_unsigned(ATS_HASH_INDEX_V3, bytes(index.dump()))
    return sig.with_unsigned(ARCHIVE_TIME_STAMP_V3, token.dump())


def augment_cms(
    data: bytes,
    level: Level,
    services: SigningServices,
    content_digest: ContentDigest | None,
) -> bytes:
    """Bring a detached CAdES signature up to ``level``: the missing signature
    time-stamp, validation data and archive time-stamp are added in that order.

    Asked for B-LTA, a signature gets fresh validation data (which covers the TSA of its
    latest archive time-stamp, if it has one) and a new archive-time-stamp-v3 even when
    it is B-LTA already: that is how archive time-stamps are renewed before their
    algorithms or certificates weaken (EN 319 122-1 §5.5.3).
    """
    sig = parse_cms(data)
    if level.at_least(Level.B_LTA) and content_digest is None:
        raise MalformedDocument(
            "cades", "B-LTA needs the signed content: the archive time-stamp covers its hash"
        )
    try:
        if level.at_least(Level.B_T) and not sig.unsigned(SIGNATURE_TIME_STAMP):
            sig = add_signature_timestamp(sig, services)
        if level.at_least(Level.B_LT) and (not sig.revocation() or level is Level.B_LTA):
            sig = add_validation_data(sig, services)
        if level.at_least(Level.B_LTA):
            assert content_digest is not None
            sig = add_archive_timestamp(sig, content_digest, services)
    except Error:
        raise
    except Exception:  # a part of a hostile CMS asn1crypto could not parse after all
        raise MalformedDocument("cades", "the CMS signature cannot be augmented") from None
    return sig.dump()
