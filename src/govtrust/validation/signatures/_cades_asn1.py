"""The CAdES attributes a verifier reads that asn1crypto and pyHanko do not define, and
the archive-time-stamp-v3 imprint.

Written by hand because no maintained Python library parses them (pyHanko has no
CAdES-LT/LTA validation; asn1crypto knows neither attribute):

- ETSI EN 319 122-1 §5.5.2 ats-hash-index-v3 and §5.5.3 archive-time-stamp-v3
  (``id-aa-ets-archiveTimestampV3`` 0.4.0.1733.2.4, ``id-aa-ATSHashIndex-v3``
  0.4.0.19122.1.5);
- RFC 5126 §6.3.3 certificate-values (1.2.840.113549.1.9.16.2.23) and §6.3.4
  revocation-values (1.2.840.113549.1.9.16.2.24), which EN 319 122-1 §A.1 keeps for
  signatures made before baseline signatures carried their validation data in
  ``SignedData.certificates``/``crls``.

Attributes are found by their dotted OID and their values re-read from DER with the
specs below, so nothing is registered in asn1crypto's global maps (the signing package
registers its own names for the same OIDs; either order works).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, ClassVar

from asn1crypto import algos, cms, core, ocsp
from asn1crypto import crl as a_crl
from asn1crypto import x509 as a_x509

__all__ = [
    "ADOBE_REVOCATION_INFO",
    "ARCHIVE_TIME_STAMP_V3",
    "ATS_HASH_INDEX_V3",
    "CERTIFICATE_VALUES",
    "CONTENT_TIME_STAMP",
    "COUNTER_SIGNATURE",
    "REVOCATION_VALUES",
    "SIGNATURE_TIME_STAMP",
    "ATSHashIndexV3",
    "CertificateValues",
    "RevocationValues",
    "archive_imprint_input",
    "attribute_values",
    "content_info",
    "index_problem",
    "ocsp_response_der",
]

SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14"  # RFC 3161 Appendix A
CONTENT_TIME_STAMP = "1.2.840.113549.1.9.16.2.20"  # RFC 5126 §5.11.4
CERTIFICATE_VALUES = "1.2.840.113549.1.9.16.2.23"  # RFC 5126 §6.3.3
REVOCATION_VALUES = "1.2.840.113549.1.9.16.2.24"  # RFC 5126 §6.3.4
ARCHIVE_TIME_STAMP_V3 = "0.4.0.1733.2.4"  # EN 319 122-1 §5.5.3
ATS_HASH_INDEX_V3 = "0.4.0.19122.1.5"  # EN 319 122-1 §5.5.2
COUNTER_SIGNATURE = "1.2.840.113549.1.9.6"  # RFC 5652 §11.4
ADOBE_REVOCATION_INFO = "1.2.840.113583.1.1.8"  # ISO 32000-1 §12.8.3.3.2


class _OctetStrings(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.OctetString


class ATSHashIndexV3(core.Sequence):  # type: ignore[misc]
    """EN 319 122-1 §5.5.2 ``ATSHashIndexV3``."""

    _fields: ClassVar[list[tuple[str, Any, dict[str, Any]] | tuple[str, Any]]] = [
        ("hash_ind_algorithm", algos.DigestAlgorithm, {"default": {"algorithm": "sha256"}}),
        ("certificates_hash_index", _OctetStrings),
        ("crls_hash_index", _OctetStrings),
        ("unsigned_attrs_hash_index", _OctetStrings),
    ]


class CertificateValues(core.SequenceOf):  # type: ignore[misc]
    """RFC 5126 §6.3.3 ``CertificateValues ::= SEQUENCE OF Certificate``."""

    _child_spec = a_x509.Certificate


class _CRLs(core.SequenceOf):  # type: ignore[misc]
    _child_spec = a_crl.CertificateList


class _BasicOCSPResponses(core.SequenceOf):  # type: ignore[misc]
    _child_spec = ocsp.BasicOCSPResponse


class RevocationValues(core.Sequence):  # type: ignore[misc]
    """RFC 5126 §6.3.4 ``RevocationValues`` (``otherRevVals`` kept opaque)."""

    _fields: ClassVar[list[tuple[str, Any, dict[str, Any]]]] = [
        ("crl_vals", _CRLs, {"explicit": 0, "optional": True}),
        ("ocsp_vals", _BasicOCSPResponses, {"explicit": 1, "optional": True}),
        ("other_rev_vals", core.Any, {"explicit": 2, "optional": True}),
    ]


def attribute_values(attrs: Any, oid: str) -> Iterator[bytes]:
    """The DER of every value of the attributes of type ``oid`` in a CMSAttributes
    (signed or unsigned; absent attributes give nothing)."""
    if attrs is None or attrs is core.VOID or isinstance(attrs, core.Void):
        return
    for attr in attrs:
        if attr["type"].dotted == oid:
            for value in attr["values"]:
                yield bytes(value.dump())


_SIGNED_PART = (
    "version",
    "sid",
    "digest_algorithm",
    "signed_attrs",
    "signature_algorithm",
    "signature",
)


def archive_imprint_input(
    signed_data: Any, signer_info: Any, content_hash: bytes, index_der: bytes
) -> bytes:
    """The octets whose hash is an archive-time-stamp-v3's message imprint
    (EN 319 122-1 §5.5.3): (1) ``eContentType`` (DER); (2) the hash of the signed
    content with the time-stamp's hash algorithm; (3) the SignerInfo's ``version``,
    ``sid``, ``digestAlgorithm``, ``signedAttrs`` (with its [0] tag),
    ``signatureAlgorithm`` and ``signature`` (DER, in that order); (4) the
    ATSHashIndexV3 the time-stamp carries in its own unsigned attributes (DER)."""
    return b"".join(
        (
            bytes(signed_data["encap_content_info"]["content_type"].dump()),
            content_hash,
            *(bytes(signer_info[name].dump()) for name in _SIGNED_PART),
            index_der,
        )
    )


def index_problem(signed_data: Any, signer_info: Any, index: ATSHashIndexV3) -> str | None:
    """Whether every object an ats-hash-index-v3 names is still in the signature
    (EN 319 122-1 §5.5.2: certificates, revocation data and unsigned attribute values
    may be added after an archive time-stamp, never removed or changed); a message
    naming what is missing, or None."""
    name = str(index["hash_ind_algorithm"]["algorithm"].native)

    def digest(data: bytes) -> bytes:
        return hashlib.new(name, data).digest()

    certs = {digest(bytes(c.dump())) for c in signed_data["certificates"] or ()}
    crls = {digest(bytes(r.dump())) for r in signed_data["crls"] or ()}
    attrs: set[bytes] = set()
    for attr in signer_info["unsigned_attrs"] or ():
        attr_type = bytes(attr["type"].dump())
        for value in attr["values"]:
            attrs.add(digest(attr_type + bytes(value.dump())))
    for field, present, what in (
        ("certificates_hash_index", certs, "certificate"),
        ("crls_hash_index", crls, "revocation data object"),
        ("unsigned_attrs_hash_index", attrs, "unsigned attribute"),
    ):
        missing = sum(1 for h in index[field] if bytes(h.native) not in present)
        if missing:
            return (
                f"{missing} {what}(s) covered by the archive time-stamp were removed or "
                "changed (EN 319 122-1 §5.5.2)"
            )
    return None


def ocsp_response_der(basic: Any) -> bytes:
    """An OCSPResponse (RFC 6960 §4.2.1) wrapping a BasicOCSPResponse, as revocation
    values carry the basic response only."""
    return bytes(
        ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {
                    "response_type": "basic_ocsp_response",
                    "response": basic,
                },
            }
        ).dump()
    )


def content_info(der: bytes) -> Any:
    """A ContentInfo from DER (a time-stamp token held as an attribute value)."""
    return cms.ContentInfo.load(der, strict=True)
