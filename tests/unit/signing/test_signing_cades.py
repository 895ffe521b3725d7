"""Detached CAdES at each level, with the in-memory PKI: the CAdES-B attributes, the
signature time-stamp, the B-LT data in SignedData, and the archive-time-stamp-v3 whose
message imprint is recomputed here independently, from the raw DER (a small TLV
reader, not asn1crypto), following EN 319 122-1 §5.5.3 item by item."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from asn1crypto import cms, tsp
from pyhanko.sign.validation import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from govtrust.crypto._pyhanko import to_asn1
from govtrust.errors import InputError, MalformedDocument, SigningFailed
from govtrust.signing.cades import CadesSigner, augment_cms, digest_of, parse_cms
from govtrust.signing.levels import Level
from tests.unit.signing.conftest import NOW, Pki, make_pki

DATA = b"Decree 2026/117 of the Ministry of Finance\n" * 50


# ---- a tiny DER reader, independent of asn1crypto ---------------------------------------


def tlv(data: bytes, pos: int = 0) -> tuple[int, int, int, int]:
    """(tag, header start, content start, end) of the TLV at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[start : start + n], "big")
        start += n
    return tag, pos, start, start + length


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    out = []
    pos = start
    while pos < end:
        item = tlv(data, pos)
        out.append(item)
        pos = item[3]
    return out


def raw(data: bytes, item: tuple[int, int, int, int]) -> bytes:
    return data[item[1] : item[3]]


def signer_info_fields(der: bytes) -> tuple[bytes, list[bytes], list[bytes]]:
    """(eContentType TLV, SignerInfo field TLVs, unsigned attribute TLVs)."""
    _, _, c, e = tlv(der)  # ContentInfo
    _, explicit = children(der, c, e)
    _, _, c, e = tlv(der, explicit[2])  # SignedData
    parts = children(der, c, e)
    encap = children(der, parts[2][2], parts[2][3])
    infos = parts[-1]
    (info,) = children(der, infos[2], infos[3])
    fields = children(der, info[2], info[3])
    unsigned = [f for f in fields if f[0] == 0xA1]
    unsigned_attrs = children(der, unsigned[0][2], unsigned[0][3]) if unsigned else []
    signed_part = [raw(der, f) for f in fields if f[0] != 0xA1]
    return raw(der, encap[0]), signed_part, [raw(der, a) for a in unsigned_attrs]


# ---- tests ------------------------------------------------------------------------------


def _signer(pki: Pki, level: Level) -> CadesSigner:
    return CadesSigner(pki.identity, level, pki.services())


def _attrs(der: bytes, which: str) -> dict[str, object]:
    info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    return {a["type"].native: a["values"] for a in info[which] or ()}


def test_b_b_has_the_cades_signed_attributes(pki: Pki) -> None:
    der = _signer(pki, Level.B_B).sign(DATA).data
    signed = _attrs(der, "signed_attrs")
    assert {"content_type", "message_digest", "signing_time", "signing_certificate_v2"} <= set(
        signed
    )
    assert signed["message_digest"][0].native == hashlib.sha256(DATA).digest()  # type: ignore[index]
    assert signed["signing_time"][0].native == NOW  # type: ignore[index]
    ess = signed["signing_certificate_v2"][0]["certs"][0]  # type: ignore[index]
    assert ess["cert_hash"].native == hashlib.sha256(to_asn1(pki.signer_cert).dump()).digest()
    content = cms.ContentInfo.load(der)["content"]["encap_content_info"]
    assert content["content"].native is None  # detached


def test_pyhanko_validates_b_b(pki: Pki) -> None:
    der = _signer(pki, Level.B_B).sign(DATA).data
    vc = ValidationContext(trust_roots=[to_asn1(pki.root)], moment=NOW, allow_fetching=False)
    status = asyncio.run(
        async_validate_detached_cms(
            DATA, cms.ContentInfo.load(der)["content"], signer_validation_context=vc
        )
    )
    assert status.intact and status.valid and status.trusted
    tampered = asyncio.run(
        async_validate_detached_cms(
            DATA + b"x", cms.ContentInfo.load(der)["content"], signer_validation_context=vc
        )
    )
    assert not tampered.intact


def test_b_t_timestamps_the_signature_value() -> None:
    pki = make_pki()
    der = _signer(pki, Level.B_T).sign(DATA).data
    token = _attrs(der, "unsigned_attrs")["signature_time_stamp_token"][0]  # type: ignore[index]
    tst = token["content"]["encap_content_info"]["content"].parsed
    signature = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native
    assert tst["message_imprint"]["hashed_message"].native == hashlib.sha256(signature).digest()
    assert tst["gen_time"].native == NOW
    assert pki.stamps >= 1


def test_b_lt_puts_certificates_and_ocsp_in_signed_data() -> None:
    pki = make_pki()
    der = _signer(pki, Level.B_LT).sign(DATA).data
    signed_data = cms.ContentInfo.load(der)["content"]
    assert signed_data["version"].native == "v5"  # RFC 5652 §5.1: other revocation info
    certs = {c.chosen.dump() for c in signed_data["certificates"]}
    for cert in (pki.signer_cert, pki.ca, pki.root, pki.tsa_cert):
        assert to_asn1(cert).dump() in certs
    crls = signed_data["crls"]
    assert {c.name for c in crls} == {"other"}
    formats = {c.chosen["other_rev_info_format"].native for c in crls}
    assert formats == {"ocsp_response"}
    serials = set()
    for choice in crls:
        response = choice.chosen["other_rev_info"]
        basic = response["response_bytes"]["response"].parsed
        for single in basic["tbs_response_data"]["responses"]:
            assert single["cert_status"].name == "good"
            serials.add(single["cert_id"]["serial_number"].native)
    assert serials == {
        pki.signer_cert.serial_number,
        pki.tsa_cert.serial_number,
        pki.ca.serial_number,
    }


def test_b_lt_signature_still_verifies(pki: Pki) -> None:
    b = _signer(pki, Level.B_B).sign(DATA).data
    lt = augment_cms(b, Level.B_LT, pki.services(), None)
    _, signed_b, _ = signer_info_fields(b)
    _, signed_lt, _ = signer_info_fields(lt)
    assert signed_b == signed_lt  # byte for byte: signed attributes and signature
    vc = ValidationContext(trust_roots=[to_asn1(pki.root)], moment=NOW, allow_fetching=False)
    status = asyncio.run(
        async_validate_detached_cms(
            DATA, cms.ContentInfo.load(lt)["content"], signer_validation_context=vc
        )
    )
    assert status.intact and status.valid


ATS_V3_OID = bytes.fromhex("060604008d450204")  # 0.4.0.1733.2.4, DER


def _archive_attributes(unsigned: list[bytes]) -> list[bytes]:
    out = []
    for attr in unsigned:
        _, _, c, e = tlv(attr)
        attr_type = children(attr, c, e)[0]
        if raw(attr, attr_type) == ATS_V3_OID:
            out.append(attr)
    return out


def _independent_ats_imprint(der: bytes, content: bytes, ats_attr: bytes) -> bytes:
    """EN 319 122-1 §5.5.3, from raw DER: eContentType || H(content) || version || sid
    || digestAlgorithm || [0] signedAttrs || signatureAlgorithm || signature ||
    ATSHashIndexV3 (read from the time-stamp token's unsigned attributes)."""
    econtent_type, signed_part, _ = signer_info_fields(der)
    _, _, c, e = tlv(ats_attr)
    _, values = children(ats_attr, c, e)
    token = ats_attr[values[2] : values[3]]
    (index_attr,) = signer_info_fields(token)[2]
    _, _, c, e = tlv(index_attr)
    _, index_values = children(index_attr, c, e)
    (index,) = children(index_attr, index_values[2], index_values[3])
    return b"".join(
        [econtent_type, hashlib.sha256(content).digest(), *signed_part, raw(index_attr, index)]
    )


def test_b_lta_archive_timestamp_imprint_is_the_standard_one() -> None:
    pki = make_pki()
    der = _signer(pki, Level.B_LTA).sign(DATA).data
    _, _, unsigned = signer_info_fields(der)
    ats = _archive_attributes(unsigned)
    assert len(ats) == 1, "one archive-time-stamp-v3 (0.4.0.1733.2.4)"
    expected = hashlib.sha256(_independent_ats_imprint(der, DATA, ats[0])).digest()
    token = _attrs(der, "unsigned_attrs")["archive_time_stamp_v3"][0]  # type: ignore[index]
    tst = token["content"]["encap_content_info"]["content"].parsed
    assert tst["message_imprint"]["hashed_message"].native == expected
    # The index lists every certificate and revocation value as they were when stamped.
    index = token["content"]["signer_infos"][0]["unsigned_attrs"][0]["values"][0]
    signed_data = cms.ContentInfo.load(der)["content"]
    assert len(index["certificates_hash_index"]) == len(signed_data["certificates"])
    assert len(index["crls_hash_index"]) == len(signed_data["crls"])
    assert len(index["unsigned_attrs_hash_index"]) == 1  # the signature time-stamp


def test_b_lta_changes_with_the_content() -> None:
    pki = make_pki()
    der = _signer(pki, Level.B_LTA).sign(DATA).data
    _, _, unsigned = signer_info_fields(der)
    (ats,) = _archive_attributes(unsigned)
    assert (
        hashlib.sha256(_independent_ats_imprint(der, DATA + b"!", ats)).digest()
        != hashlib.sha256(_independent_ats_imprint(der, DATA, ats)).digest()
    )


def test_renewal_adds_a_second_archive_timestamp() -> None:
    pki = make_pki()
    der = _signer(pki, Level.B_LTA).sign(DATA).data
    renewed = augment_cms(der, Level.B_LTA, pki.services(), digest_of(DATA))
    attrs = cms.ContentInfo.load(renewed)["content"]["signer_infos"][0]["unsigned_attrs"]
    assert [a["type"].dotted for a in attrs].count("0.4.0.1733.2.4") == 2
    _, signed_1, _ = signer_info_fields(der)
    _, signed_2, _ = signer_info_fields(renewed)
    assert signed_1 == signed_2


def test_lta_without_the_content_is_refused(pki: Pki) -> None:
    der = _signer(pki, Level.B_B).sign(DATA).data
    with pytest.raises(MalformedDocument, match="signed content"):
        augment_cms(der, Level.B_LTA, pki.services(), None)


def test_signing_a_hash_gives_the_same_attributes(pki: Pki) -> None:
    digest = hashlib.sha384(DATA).digest()
    doc = _signer(pki, Level.B_T).sign_digest(digest, "sha384")
    signed = _attrs(doc.data, "signed_attrs")
    assert signed["message_digest"][0].native == digest  # type: ignore[index]
    info = cms.ContentInfo.load(doc.data)["content"]["signer_infos"][0]
    assert info["digest_algorithm"]["algorithm"].native == "sha384"


@pytest.mark.parametrize(
    ("digest", "name", "message"),
    [
        (b"\x00" * 31, "sha256", "32 bytes"),
        (b"\x00" * 32, "md5", "one of"),
        (b"\x00" * 64, "sha384", "48 bytes"),
    ],
)
def test_bad_hashes_are_refused(pki: Pki, digest: bytes, name: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _signer(pki, Level.B_B).sign_digest(digest, name)


def test_pades_hash_signature_has_no_signing_time(pki: Pki) -> None:
    doc = _signer(pki, Level.B_B).sign_digest(hashlib.sha256(b"x").digest(), "sha256", pades=True)
    assert "signing_time" not in _attrs(doc.data, "signed_attrs")  # EN 319 142-1 §6.3
    with pytest.raises(InputError, match="B-B or B-T"):
        _signer(pki, Level.B_LT).sign_digest(hashlib.sha256(b"x").digest(), "sha256", pades=True)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30\x03\x02\x01",
        b"garbage",
        b"\x30\x82\xff\xff" + b"\x00" * 10,
        tsp.TimeStampReq(
            {
                "version": 1,
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": b"\x00" * 32,
                },
            }
        ).dump(),
    ],
)
def test_malformed_cms_is_refused(data: bytes) -> None:
    with pytest.raises(MalformedDocument):
        parse_cms(data)


def test_revoked_certificate_data_is_never_embedded() -> None:
    pki = make_pki()
    pki.revoked.add(pki.signer_cert.serial_number)
    with pytest.raises(SigningFailed, match="revoked"):
        _signer(pki, Level.B_LT).sign(DATA)


def test_missing_revocation_data_is_an_error() -> None:
    pki = make_pki()
    pki.missing.add(pki.tsa_cert.serial_number)
    with pytest.raises(SigningFailed, match="no revocation data"):
        _signer(pki, Level.B_LT).sign(DATA)
