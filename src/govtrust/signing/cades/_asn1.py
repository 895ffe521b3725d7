"""ASN.1 for the CAdES attributes that asn1crypto and pyHanko do not define.

ETSI EN 319 122-1 §5.5.3 archive-time-stamp-v3 and §5.5.2 ats-hash-index-v3:

    id-aa-ets-archiveTimestampV3 OBJECT IDENTIFIER ::= { itu-t(0) identified-organization(4)
        etsi(0) electronic-signature-standard(1733) attributes(2) 4 }
    id-aa-ATSHashIndex-v3 OBJECT IDENTIFIER ::= { itu-t(0) identified-organization(4)
        etsi(0) cades(19122) attributes(1) 5 }
    ATSHashIndexV3 ::= SEQUENCE {
        hashIndAlgorithm         AlgorithmIdentifier DEFAULT {algorithm id-sha256},
        certificatesHashIndex    SEQUENCE OF OCTET STRING,
        crlsHashIndex            SEQUENCE OF OCTET STRING,
        unsignedAttrsHashIndex   SEQUENCE OF OCTET STRING }

Registered with asn1crypto the way pyHanko registers its own CAdES attributes
(``pyhanko.sign.ades.asn1_util.register_cms_attribute``), so parsed signatures show
them by name. RFC 5940 §3 names the OCSP response form of ``RevocationInfoChoice``
(``id-ri-ocsp-response``), which asn1crypto already knows as ``ocsp_response``.
"""

from __future__ import annotations

from typing import ClassVar

from asn1crypto import algos, cms, core
from pyhanko.sign.ades.asn1_util import register_cms_attribute

__all__ = [
    "ARCHIVE_TIME_STAMP_V3",
    "ATS_HASH_INDEX_V3",
    "SIGNATURE_TIME_STAMP",
    "ATSHashIndexV3",
]

ARCHIVE_TIME_STAMP_V3 = "0.4.0.1733.2.4"
ATS_HASH_INDEX_V3 = "0.4.0.19122.1.5"
SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14"  # RFC 3161 Appendix A, EN 319 122-1 §5.3


class _OctetStrings(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.OctetString


class ATSHashIndexV3(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[str, type]]] = [
        ("hash_ind_algorithm", algos.DigestAlgorithm),
        ("certificates_hash_index", _OctetStrings),
        ("crls_hash_index", _OctetStrings),
        ("unsigned_attrs_hash_index", _OctetStrings),
    ]


def _register() -> None:
    names = cms.CMSAttributeType._map
    if ARCHIVE_TIME_STAMP_V3 not in names:
        register_cms_attribute(ARCHIVE_TIME_STAMP_V3, "archive_time_stamp_v3", cms.ContentInfo)
    if ATS_HASH_INDEX_V3 not in names:
        register_cms_attribute(ATS_HASH_INDEX_V3, "ats_hash_index_v3", ATSHashIndexV3)


_register()
