"""Timestamps for signatures: pyHanko's ``TimeStamper`` over an injected transport.

pyHanko asks a :class:`~pyhanko.sign.timestamps.TimeStamper` for tokens (the PAdES and
CAdES signature timestamp, the PAdES document timestamp). :class:`TransportTimeStamper`
sends pyHanko's own ``TimeStampReq`` through a :data:`TimestampTransport` (this
instance's TSA in-process, or any TSA over HTTP) and checks the reply as RFC 3161
§2.4.2 asks a requester to (``govtrust.tsa.check_reply``: status, imprint, nonce, the
token's signature) before pyHanko embeds it.

:func:`timestamp_token` does the same for the formats pyHanko does not build (the
XAdES time-stamps, the CAdES archive-time-stamp-v3), and :func:`imprint_token` for the
CAdES signature time-stamp, which govtrust's own CMS encoder asks for by hash.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import tsp
from pyhanko.sign.timestamps.api import TimeStamper

from govtrust.errors import SigningFailed, TimestampError
from govtrust.signing.api import TimestampTransport
from govtrust.tsa import HASHES, TimestampQuery, TimestampReply, build_query, check_reply
from govtrust.tsa.client import build_imprint_query

__all__ = ["TransportTimeStamper", "imprint_token", "timestamp_token"]


def _query_of(request: Any) -> TimestampQuery:
    imprint = request["message_imprint"]
    policy = request["req_policy"]
    return TimestampQuery(
        hash_name=imprint["hash_algorithm"]["algorithm"].native,
        imprint=bytes(imprint["hashed_message"].native),
        nonce=request["nonce"].native,
        cert_req=bool(request["cert_req"].native),
        policy=policy.dotted if policy.native is not None else None,
    )


def _exchange(
    transport: TimestampTransport, query_der: bytes, query: TimestampQuery
) -> TimestampReply:
    """The checked TimeStampResp, or SigningFailed saying why there is none."""
    try:
        return check_reply(transport(query_der), query)
    except TimestampError as exc:
        raise SigningFailed("timestamp", f"no signature timestamp: {exc}") from None


class TransportTimeStamper(TimeStamper):
    """pyHanko's TimeStamper, answered through ``transport`` and checked."""

    def __init__(self, transport: TimestampTransport) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self._transport = transport

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        query = _query_of(req)
        der = bytes(req.dump())
        # The transport blocks (a database transaction, an HTTP round trip): the event
        # loop is the private one of one signing operation, with nothing else to run.
        reply = _exchange(self._transport, der, query)
        return tsp.TimeStampResp.load(reply.response)


def timestamp_token(transport: TimestampTransport, data: bytes, hash_name: str = "sha256") -> bytes:
    """A checked RFC 3161 token (DER ContentInfo of a SignedData over a TSTInfo) whose
    message imprint is ``hash_name(data)``."""
    if hash_name not in HASHES:
        raise SigningFailed("timestamp", f"unsupported timestamp hash {hash_name}")
    query_der, query = build_query(data, hash_name, cert_req=True)
    return _exchange(transport, query_der, query).token


def imprint_token(transport: TimestampTransport, imprint: bytes, hash_name: str) -> bytes:
    """:func:`timestamp_token` for data known by its ``hash_name`` hash ``imprint``: what
    pyHanko's ``TimeStamper.async_timestamp`` gives, as DER, without building its
    request and parsing the reply a second time (the CAdES signature time-stamp)."""
    if hash_name not in HASHES:
        raise SigningFailed("timestamp", f"unsupported timestamp hash {hash_name}")
    query_der, query = build_imprint_query(imprint, hash_name, cert_req=True)
    return _exchange(transport, query_der, query).token
