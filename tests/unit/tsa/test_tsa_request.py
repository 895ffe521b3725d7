"""RFC 3161 §2.4.1 requests: what is accepted, and the failInfo of every refusal."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from asn1crypto import tsp

from govtrust.errors import TimestampRejected
from govtrust.tsa import FailInfo, build_query, parse_query
from govtrust.tsa.request import HASHES


def _req(**overrides: Any) -> bytes:
    value: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": "sha256"},
            "hashed_message": hashlib.sha256(b"data").digest(),
        },
        "nonce": 42,
        "cert_req": True,
    }
    value.update(overrides)
    return bytes(tsp.TimeStampReq(value).dump())


def _imprint(oid: str, digest: bytes) -> dict[str, Any]:
    return {"hash_algorithm": {"algorithm": oid}, "hashed_message": digest}


@pytest.mark.parametrize("hash_name", sorted(HASHES))
@pytest.mark.parametrize("nonce", [None, 1, 2**64 + 7])
@pytest.mark.parametrize("cert_req", [True, False])
def test_accepted_requests(hash_name: str, nonce: int | None, cert_req: bool) -> None:
    der, expected = build_query(b"document", hash_name, cert_req=cert_req, nonce=nonce)
    query = parse_query(der)
    assert (query.hash_name, query.imprint, query.nonce, query.cert_req) == (
        hash_name,
        hashlib.new(hash_name, b"document").digest(),
        nonce,
        cert_req,
    )
    assert query.policy is None
    # The MessageImprint is kept as received, for the token to repeat (§2.4.2).
    parsed = tsp.TimeStampReq.load(der)
    assert query.message_imprint_der == parsed["message_imprint"].dump()
    assert expected.imprint == query.imprint


def test_requested_policy_is_returned() -> None:
    assert parse_query(_req(req_policy="1.2.3.4.5")).policy == "1.2.3.4.5"


def test_absent_hash_parameters_are_accepted() -> None:
    # RFC 5754 §2: SHA-2 AlgorithmIdentifiers with absent or NULL parameters.
    der = bytearray(_req())
    null = bytes.fromhex("0500")
    at = der.find(bytes.fromhex("0609608648016503040201") + null)
    assert at > 0
    del der[at + 11 : at + 13]
    # Fix the three enclosing lengths (TimeStampReq, MessageImprint, AlgorithmIdentifier).
    der[1] -= 2
    der[at - 1] -= 2  # AlgorithmIdentifier length
    der[at - 3] -= 2  # MessageImprint length
    query = parse_query(bytes(der))
    assert query.hash_name == "sha256"
    assert query.message_imprint_der is not None and null not in query.message_imprint_der


GARBAGE = [
    pytest.param(b"", id="empty"),
    pytest.param(b"\x00", id="one-zero-byte"),
    pytest.param(b"hello, TSA", id="text"),
    pytest.param(b"\x30\x80\x00\x00", id="indefinite-length"),
    pytest.param(b"\x30\x84\xff\xff\xff\xff", id="huge-length"),
    pytest.param(_req()[:-5], id="truncated"),
    pytest.param(_req() + b"\x00", id="trailing-byte"),
    pytest.param(b"\x31" + _req()[1:], id="set-not-sequence"),
    pytest.param(bytes.fromhex("3003020101"), id="only-version"),
    pytest.param(
        # The same request with a long-form length where DER needs the short form.
        b"\x30\x81" + _req()[1:],
        id="ber-long-form-length",
    ),
    pytest.param(
        # certReq FALSE written out: DER leaves DEFAULT values out (X.690 §11.5).
        _req(cert_req=False, nonce=None)[:1]
        + bytes([_req(cert_req=False, nonce=None)[1] + 3])
        + _req(cert_req=False, nonce=None)[2:]
        + b"\x01\x01\x00",
        id="default-encoded",
    ),
]


@pytest.mark.parametrize("der", GARBAGE)
def test_not_a_der_request_is_bad_data_format(der: bytes) -> None:
    with pytest.raises(TimestampRejected) as info:
        parse_query(der)
    assert info.value.fail_info == FailInfo.BAD_DATA_FORMAT == "badDataFormat"


REFUSALS = [
    pytest.param(_req(version=2), FailInfo.BAD_REQUEST, "version", id="version-2"),
    pytest.param(
        _req(message_imprint=_imprint("sha256", b"\x01" * 20)),
        FailInfo.BAD_REQUEST,
        "20 bytes",
        id="short-imprint",
    ),
    pytest.param(
        _req(message_imprint=_imprint("sha512", b"\x01" * 32)),
        FailInfo.BAD_REQUEST,
        "64",
        id="sha512-with-32-bytes",
    ),
    pytest.param(
        _req(message_imprint=_imprint("md5", hashlib.md5(b"x").digest())),
        FailInfo.BAD_ALG,
        "MD5",
        id="md5",
    ),
    pytest.param(
        _req(message_imprint=_imprint("sha1", hashlib.sha1(b"x").digest())),
        FailInfo.BAD_ALG,
        "SHA-1",
        id="sha1",
    ),
    pytest.param(
        _req(message_imprint=_imprint("sha224", hashlib.sha224(b"x").digest())),
        FailInfo.BAD_ALG,
        "2.16.840.1.101.3.4.2.4",
        id="sha224",
    ),
    pytest.param(
        _req(message_imprint=_imprint("1.2.3.4", b"\x01" * 32)),
        FailInfo.BAD_ALG,
        "1.2.3.4",
        id="unknown-oid",
    ),
    pytest.param(
        _req(
            extensions=[
                {"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"},
            ]
        ),
        FailInfo.UNACCEPTED_EXTENSION,
        "extensions",
        id="extension",
    ),
]


@pytest.mark.parametrize(("der", "fail", "text"), REFUSALS)
def test_refusals_carry_the_rfc_fail_info(der: bytes, fail: FailInfo, text: str) -> None:
    with pytest.raises(TimestampRejected) as info:
        parse_query(der)
    assert info.value.fail_info == fail
    assert text in info.value.message


def test_sha2_parameters_other_than_null_do_not_parse() -> None:
    # RFC 5754 §2: the parameters of a SHA-2 AlgorithmIdentifier are NULL or absent; the
    # ASN.1 type allows nothing else, so anything else is not a TimeStampReq at all.
    der = bytearray(_req())
    null_at = der.find(bytes.fromhex("0609608648016503040201") + b"\x05\x00") + 11
    der[null_at : null_at + 2] = b"\x04\x00"  # an empty OCTET STRING, same length
    with pytest.raises(TimestampRejected) as info:
        parse_query(bytes(der))
    assert info.value.fail_info == FailInfo.BAD_DATA_FORMAT


def test_fail_info_names_round_trip() -> None:
    for fail in FailInfo:
        assert FailInfo.from_asn1_name(fail.asn1_name) is fail
    with pytest.raises(ValueError):
        FailInfo.from_asn1_name("no_such_bit")
