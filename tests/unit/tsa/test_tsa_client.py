"""The requester's checks (RFC 3161 §2.4.2): a reply that does not answer the query,
or does not verify, is refused with what is wrong; a rejection carries its failInfo."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import cms

from govtrust.errors import TimestampMismatch, TimestampRejected
from govtrust.tsa import (
    Accuracy,
    FailInfo,
    TimestampAuthority,
    build_query,
    check_reply,
    granted,
    parse_query,
    rejection,
)
from tests.unit.tsa._pki import NOW, Pki

POLICY = "1.2.3.4.5"


@pytest.fixture(scope="module")
def authority(pki: Pki) -> TimestampAuthority:
    cert, signer = pki.tsa()
    return TimestampAuthority(cert, signer, POLICY, Accuracy(1))


def test_a_good_reply_passes(authority: TimestampAuthority) -> None:
    der, query = build_query(b"doc", "sha512", policy=POLICY)
    reply = check_reply(granted(authority.issue(parse_query(der), 9, NOW)), query)
    assert (reply.serial, reply.policy, reply.nonce) == (9, POLICY, query.nonce)
    assert reply.accuracy == {"seconds": 1}
    assert reply.response.endswith(reply.token)


def test_build_query_options() -> None:
    _, q = build_query(b"d", nonce=False, cert_req=False)
    assert q.nonce is None and not q.cert_req
    _, q = build_query(b"d", nonce=5)
    assert q.nonce == 5
    _, a = build_query(b"d")
    _, b = build_query(b"d")
    assert a.nonce != b.nonce  # random 64-bit nonces
    with pytest.raises(ValueError):
        build_query(b"d", "md5")


def test_other_imprint_is_refused(authority: TimestampAuthority) -> None:
    der, _ = build_query(b"the document", nonce=1)
    _, other = build_query(b"another document", nonce=1)
    with pytest.raises(TimestampMismatch) as info:
        check_reply(granted(authority.issue(parse_query(der), 1, NOW)), other)
    assert info.value.field == "messageImprint"


def test_other_nonce_is_refused(authority: TimestampAuthority) -> None:
    der, _ = build_query(b"doc", nonce=1)
    _, query = build_query(b"doc", nonce=2)
    with pytest.raises(TimestampMismatch) as info:
        check_reply(granted(authority.issue(parse_query(der), 1, NOW)), query)
    assert info.value.field == "nonce"


def test_missing_certificate_is_refused_when_asked(authority: TimestampAuthority) -> None:
    der, _ = build_query(b"doc", nonce=1, cert_req=False)
    _, query = build_query(b"doc", nonce=1, cert_req=True)
    with pytest.raises(TimestampMismatch) as info:
        check_reply(granted(authority.issue(parse_query(der), 1, NOW)), query)
    assert info.value.field == "certificates"


def test_a_corrupt_signature_is_refused(authority: TimestampAuthority) -> None:
    der, query = build_query(b"doc")
    token = cms.ContentInfo.load(authority.issue(parse_query(der), 1, NOW))
    signer_info = token["content"]["signer_infos"][0]
    sig = bytearray(signer_info["signature"].native)
    sig[-1] ^= 1
    signer_info["signature"] = bytes(sig)
    with pytest.raises(TimestampMismatch) as info:
        check_reply(granted(token.dump(force=True)), query)
    assert info.value.field == "signature"


def test_a_changed_tst_info_is_refused(authority: TimestampAuthority) -> None:
    der, query = build_query(b"doc", nonce=1)
    token = bytearray(authority.issue(parse_query(der), 0x4242, NOW))
    at = token.find(bytes.fromhex("02024242"))  # the serial number
    token[at + 3] = 0x43
    with pytest.raises(TimestampMismatch) as info:
        check_reply(granted(bytes(token)), query)
    assert info.value.field == "messageDigest"


@pytest.mark.parametrize("fail", [FailInfo.BAD_ALG, FailInfo.UNACCEPTED_POLICY])
def test_a_rejection_raises_with_its_fail_info(fail: FailInfo) -> None:
    _, query = build_query(b"doc")
    with pytest.raises(TimestampRejected) as info:
        check_reply(rejection(fail, "no thanks"), query)
    assert info.value.fail_info == fail.value
    assert "no thanks" in info.value.message


@pytest.mark.parametrize("reply", [b"", b"garbage", hashlib.sha256(b"x").digest()])
def test_garbage_replies(reply: bytes) -> None:
    _, query = build_query(b"doc")
    with pytest.raises(TimestampMismatch) as info:
        check_reply(reply, query)
    assert info.value.field == "response"
