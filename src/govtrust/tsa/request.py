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


def parse_query(der: bytes) -> TimestampQuery:
    """Parse a DER ``TimeStampReq`` (RFC 3161 §2.4.1) or raise TimestampRejected."""
    if not der:
        raise _reject(FailInfo.BAD_DATA_FORMAT, "empty request: expected a DER TimeStampReq")
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
