"""Time-stamp requests (RFC 3161 §2.4.1): parsing, with the RFC's own refusals.

A request the authority cannot honour raises :class:`~govtrust.errors.TimestampRejected`
with the PKIFailureInfo that RFC 3161 §2.4.2 defines for the case:

``badDataFormat``  the body is not the DER encoding of one ``TimeStampReq``
                   (empty, garbage, BER instead of DER, trailing bytes).
``badRequest``     a well-formed request the authority does not support: a version
                   other than 1, a message imprint whose length is not its hash's.
``badAlg``         the imprint's hash algorithm is not SHA-256, SHA-384 or SHA-512.
                   MD5 and SHA-1 are refused on purpose: a timestamp proves that *the
                   imprinted data* existed, and with a hash that admits practical
                   collisions (MD5: Wang et al. 2004; SHA-1: SHAttered 2017, chosen
                   prefix 2020) a requester could have one document stamped and later
                   show another with the same hash. ETSI TS 119 312 (cryptographic
                   suites) no longer allows either for new signatures or timestamps.
``unacceptedPolicy`` the request names a TSA policy other than the one configured.
``unacceptedExtension`` the request carries extensions: RFC 3161 §2.4.1 says a server
                   that does not recognise an extension (critical or not) "SHALL not
                   issue a token and SHALL return a failure (unacceptedExtension)", and
                   govtrust recognises none.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from asn1crypto import tsp

from govtrust.errors import TimestampRejected

__all__ = ["HASHES", "FailInfo", "TimestampQuery", "parse_query"]


class FailInfo(enum.StrEnum):
    """RFC 3161 §2.4.2 PKIFailureInfo bits, by their RFC names."""

    BAD_ALG = "badAlg"
    BAD_REQUEST = "badRequest"
    BAD_DATA_FORMAT = "badDataFormat"
    TIME_NOT_AVAILABLE = "timeNotAvailable"
    UNACCEPTED_POLICY = "unacceptedPolicy"
    UNACCEPTED_EXTENSION = "unacceptedExtension"
    ADD_INFO_NOT_AVAILABLE = "addInfoNotAvailable"
    SYSTEM_FAILURE = "systemFailure"

    @property
    def asn1_name(self) -> str:
        """The name asn1crypto's ``tsp.PKIFailureInfo`` gives the bit."""
        return _ASN1_NAMES[self]

    @classmethod
    def from_asn1_name(cls, name: str) -> FailInfo:
        for member, asn1 in _ASN1_NAMES.items():
            if asn1 == name:
                return member
        raise ValueError(f"unknown PKIFailureInfo bit {name!r}")


_ASN1_NAMES = {
    FailInfo.BAD_ALG: "bad_alg",
    FailInfo.BAD_REQUEST: "bad_request",
    FailInfo.BAD_DATA_FORMAT: "bad_data_format",
    FailInfo.TIME_NOT_AVAILABLE: "time_not_available",
    FailInfo.UNACCEPTED_POLICY: "unaccepted_policy",
    FailInfo.UNACCEPTED_EXTENSION: "unaccepted_extensions",
    FailInfo.ADD_INFO_NOT_AVAILABLE: "add_info_not_available",
    FailInfo.SYSTEM_FAILURE: "system_failure",
}

HASHES: dict[str, tuple[str, int]] = {
    "sha256": ("2.16.840.1.101.3.4.2.1", 32),
    "sha384": ("2.16.840.1.101.3.4.2.2", 48),
    "sha512": ("2.16.840.1.101.3.4.2.3", 64),
}
"""Imprint hashes accepted: name -> (OID, digest length). RFC 5754 §2."""

_BY_OID = {oid: (name, size) for name, (oid, size) in HASHES.items()}
_WEAK = {
    "1.2.840.113549.2.5": "MD5",
    "1.3.14.3.2.26": "SHA-1",
}


@dataclass(frozen=True)
class TimestampQuery:
    """What a TimeStampReq asks for. ``hash_name`` is a key of :data:`HASHES`;
    ``message_imprint_der`` is the request's MessageImprint as received, which the token
    repeats (RFC 3161 §2.4.2)."""

    hash_name: str
    imprint: bytes
    nonce: int | None = None
    cert_req: bool = False
    policy: str | None = None
    message_imprint_der: bytes | None = None


def _reject(fail: FailInfo, message: str) -> TimestampRejected:
    return TimestampRejected(fail.value, message)


@dataclass(frozen=True)
class _Fields:
    version: object
    oid: str
    imprint: bytes
    nonce: int | None
    cert_req: bool
    policy: str | None
    has_extensions: bool
    imprint_der: bytes


def _decode(der: bytes) -> _Fields:
    """Parse every field (asn1crypto parses lazily) and re-encode to check DER.

    asn1crypto raises ValueError, TypeError and, on some truncated or hostile inputs,
    other exceptions; none of them says more than "this is not a TimeStampReq", so the
    caller turns any of them into badDataFormat. asn1crypto types the parameters of the
    SHA-2 identifiers as NULL (RFC 5754 §2: NULL or absent), so other parameters for them
    fail here too.
    """
    req: Any = tsp.TimeStampReq.load(der, strict=True)
    imprint = req["message_imprint"]
    algorithm = imprint["hash_algorithm"]
    policy = req["req_policy"]
    fields = _Fields(
        version=req["version"].native,
        oid=algorithm["algorithm"].dotted,
        imprint=bytes(imprint["hashed_message"].native),
        nonce=req["nonce"].native,
        cert_req=bool(req["cert_req"].native),
        policy=policy.dotted if policy.native is not None else None,
        has_extensions=req["extensions"].native is not None,
        imprint_der=bytes(imprint.dump()),
    )
    # X.690 §10: one encoding only. Re-encoding from the parsed values gives it.
    if req.dump(force=True) != der:
        raise ValueError("not DER")
    return fields


class _NotFast(Exception):
    """The request is not in the shape :func:`_parse_fast` reads: use asn1crypto."""


_FAST_HASHES = {
    # The DER of each accepted AlgorithmIdentifier's OID (tag, length, value).
    bytes.fromhex("0609608648016503040201"): "sha256",
    bytes.fromhex("0609608648016503040202"): "sha384",
    bytes.fromhex("0609608648016503040203"): "sha512",
}


def _header(der: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the TLV at ``pos``, DER lengths only
    (X.690 §10.1: the shortest form), ending no later than ``end``."""
    if pos + 2 > end:
        raise _NotFast
    tag, first = der[pos], der[pos + 1]
    if first < 0x80:
        start, length = pos + 2, first
    elif first == 0x81 and pos + 3 <= end and der[pos + 2] >= 0x80:
        start, length = pos + 3, der[pos + 2]
    elif first == 0x82 and pos + 4 <= end and der[pos + 2] != 0:
        start, length = pos + 4, (der[pos + 2] << 8) | der[pos + 3]
        if length < 0x100:
            raise _NotFast
    else:
        raise _NotFast
    if start + length > end:
        raise _NotFast
    return tag, start, start + length


def _oid_text(body: bytes) -> str:
    """Dotted text of an OBJECT IDENTIFIER's contents, DER-checked (X.690 §8.19: each
    subidentifier in the fewest base-128 digits)."""
    arcs: list[int] = []
    value = 0
    fresh = True
    for byte in body:
        if fresh and byte == 0x80:
            raise _NotFast
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    if not arcs or not fresh:
        raise _NotFast
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in (first, arcs[0] - 40 * first, *arcs[1:]))


def _parse_fast(der: bytes) -> TimestampQuery:
    """The usual TimeStampReq, read straight from its DER: version 1, a SHA-2 imprint of
    the right length, optional reqPolicy, nonce and certReq TRUE, no extensions, every
    length and INTEGER in DER form and nothing after it. Anything else raises
    :class:`_NotFast` and goes to asn1crypto, which also gives every refusal.

    Why by hand: asn1crypto's parse and DER re-encoding check cost ~0.15 ms per request,
    as much as signing the token. ``tests/integration/test_perf_tsa.py`` checks that this
    reader and asn1crypto agree on valid requests and on thousands of mutated ones.
    """
    end = len(der)
    tag, pos, stop = _header(der, 0, end)
    if tag != 0x30 or stop != end or der[pos : pos + 3] != b"\x02\x01\x01":
        raise _NotFast
    pos += 3
    imprint_at = pos
    tag, inner, imprint_stop = _header(der, pos, end)  # messageImprint
    if tag != 0x30:
        raise _NotFast
    tag, alg, alg_stop = _header(der, inner, imprint_stop)  # AlgorithmIdentifier
    if tag != 0x30:
        raise _NotFast
    name = _FAST_HASHES.get(der[alg : alg + 11])
    if name is None or alg_stop not in (alg + 11, alg + 13):
        raise _NotFast
    if alg_stop == alg + 13 and der[alg + 11 : alg + 13] != b"\x05\x00":
        raise _NotFast  # parameters: absent or NULL (RFC 5754 §2)
    tag, digest_at, digest_stop = _header(der, alg_stop, imprint_stop)
    if tag != 0x04 or digest_stop != imprint_stop:
        raise _NotFast
    if digest_stop - digest_at != HASHES[name][1]:
        raise _NotFast
    pos = imprint_stop
    policy: str | None = None
    nonce: int | None = None
    cert_req = False
    if pos < end and der[pos] == 0x06:
        _, body, pos = _header(der, pos, end)
        policy = _oid_text(der[body:pos])
    if pos < end and der[pos] == 0x02:
        _, body, pos = _header(der, pos, end)
        value = der[body:pos]
        if not value or (
            len(value) > 1
            and ((value[0] == 0 and value[1] < 0x80) or (value[0] == 0xFF and value[1] >= 0x80))
        ):
            raise _NotFast  # X.690 §8.3.2: the shortest two's complement
        nonce = int.from_bytes(value, "big", signed=True)
    if der[pos : pos + 3] == b"\x01\x01\xff":
        cert_req, pos = True, pos + 3  # DER TRUE; FALSE is the DEFAULT, so left out
    if pos != end:
        raise _NotFast
    return TimestampQuery(
        name,
        bytes(der[digest_at:digest_stop]),
        nonce,
        cert_req,
        policy,
        bytes(der[imprint_at:imprint_stop]),
    )


def parse_query(der: bytes) -> TimestampQuery:
    """Parse a DER ``TimeStampReq`` (RFC 3161 §2.4.1) or raise TimestampRejected."""
    if not der:
        raise _reject(FailInfo.BAD_DATA_FORMAT, "empty request: expected a DER TimeStampReq")
    try:
        return _parse_fast(der)
    except _NotFast:
        pass
    return _parse_asn1crypto(der)


def _parse_asn1crypto(der: bytes) -> TimestampQuery:
    """:func:`parse_query` by asn1crypto: every request the fast reader passes on."""
    try:
        raw = _decode(der)
    except Exception:  # see _decode: any parse failure is badDataFormat
        raise _reject(
            FailInfo.BAD_DATA_FORMAT, "the request is not a DER-encoded TimeStampReq"
        ) from None
    if raw.version != "v1":
        raise _reject(FailInfo.BAD_REQUEST, f"unsupported TimeStampReq version {raw.version}")
    if raw.oid in _WEAK:
        raise _reject(
            FailInfo.BAD_ALG,
            f"{_WEAK[raw.oid]} is not accepted for message imprints (collisions); "
            "use SHA-256, SHA-384 or SHA-512",
        )
    if raw.oid not in _BY_OID:
        raise _reject(
            FailInfo.BAD_ALG,
            f"hash algorithm {raw.oid} is not accepted; use SHA-256, SHA-384 or SHA-512",
        )
    name, size = _BY_OID[raw.oid]
    if len(raw.imprint) != size:
        raise _reject(
            FailInfo.BAD_REQUEST,
            f"the message imprint has {len(raw.imprint)} bytes; {name} digests have {size}",
        )
    if raw.has_extensions:
        raise _reject(FailInfo.UNACCEPTED_EXTENSION, "this TSA supports no TimeStampReq extensions")
    return TimestampQuery(name, raw.imprint, raw.nonce, raw.cert_req, raw.policy, raw.imprint_der)
