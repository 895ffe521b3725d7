"""ASN.1 types asn1crypto gets wrong for RFC 3161.

asn1crypto 1.5.1 declares ``tsp.TimeStampResp.timeStampToken`` as mandatory, but
RFC 3161 §2.4.2 has ``timeStampToken TimeStampToken OPTIONAL`` (a rejection carries
none): loading or encoding a rejection with asn1crypto's class fails. This is the
structure as the RFC defines it.
"""

from __future__ import annotations

from asn1crypto import cms, core, tsp

__all__ = ["TimeStampResp"]


class TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 §2.4.2: ``SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }``."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]
