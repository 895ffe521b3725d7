"""RFC 3161 / RFC 5816 time-stamping: the authority and the requester's checks.

Pure domain code: no storage and no HTTP. ``govtrust.services.tsa`` allocates serial
numbers, records the audit trail and serves ``POST /tsa``.
"""

from __future__ import annotations

from govtrust.tsa.authority import Accuracy, TimestampAuthority, granted, rejection
from govtrust.tsa.client import TimestampReply, build_query, check_reply
from govtrust.tsa.request import HASHES, FailInfo, TimestampQuery, parse_query

__all__ = [
    "HASHES",
    "Accuracy",
    "FailInfo",
    "TimestampAuthority",
    "TimestampQuery",
    "TimestampReply",
    "build_query",
    "check_reply",
    "granted",
    "parse_query",
    "rejection",
]
