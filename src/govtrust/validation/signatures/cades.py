"""CMS and CAdES signatures (ETSI EN 319 122-1): attached (.p7m) and detached (.p7s),
and RFC 3161 time-stamp replies over a file (.tsr).

Each SignerInfo of a SignedData is one signature, validated by
:func:`govtrust.validation.signatures._cms.validate_signer` (EN 319 102-1 §5.3, §5.5,
§5.6). Countersignatures (RFC 5652 §11.4) are listed in the signature's details, not
validated. A time-stamp reply is validated as a signature of its own (ETSI TS 119
102-2 §4.3): the token's imprint against the file, its signature, and the TSA's
certificate for time-stamping (RFC 3161 §2.3).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from asn1crypto import cms, core, tsp

from govtrust.validation.report import SignatureKind
from govtrust.validation.signatures import Environment, FormatResult
from govtrust.validation.signatures._cms import (
    format_failure,
    validate_signer,
    validate_timestamp_token,
)

__all__ = ["validate_cms", "validate_timestamp_reply"]

_PEM_MARKERS = (b"-----BEGIN PKCS7-----", b"-----BEGIN CMS-----")


def _der(signature: bytes) -> bytes:
    """DER from DER or PEM (RFC 7468 §8/§9: PKCS7 and CMS labels)."""
    stripped = signature.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(_PEM_MARKERS):
        return signature
    lines = stripped.strip().splitlines()
    body = [line for line in lines[1:] if not line.startswith(b"-----")]
    return base64.b64decode(b"".join(body), validate=False)


def _signed_data(signature: bytes) -> Any:
    info = cms.ContentInfo.load(_der(signature), strict=True)
    if info["content_type"].native != "signed_data":
        raise ValueError(f"the CMS holds {info['content_type'].native}, not signed-data")
    signed_data = info["content"]
    # asn1crypto parses lazily: parse the structure now, so that a truncated or
    # malformed part fails here and not half-way through a validation.
    signed_data["version"].native  # noqa: B018
    signed_data["digest_algorithms"].native  # noqa: B018
    signed_data["encap_content_info"]["content_type"].native  # noqa: B018
    if len(signed_data["signer_infos"]) == 0:
        raise ValueError("the SignedData has no SignerInfo")
    return signed_data


def validate_cms(
    signature: bytes, env: Environment, *, detached: bytes | None = None
) -> FormatResult:
    """Every SignerInfo of a CMS SignedData (DER or PEM), over ``detached`` content when
    the signature is detached. Malformed input gives one FORMAT_FAILURE signature."""
    try:
        signed_data = _signed_data(signature)
    except Exception as exc:
        return FormatResult(
            "CMS",
            (format_failure("signature-1", f"not a CMS SignedData (RFC 5652 §5.1): {exc}", env),),
        )
    eci = signed_data["encap_content_info"]
    encapsulated = not isinstance(eci["content"], core.Void)
    details: dict[str, Any] = {
        "signedContent": "encapsulated" if encapsulated else "detached",
        "contentType": eci["content_type"].native,
        "signerCount": len(signed_data["signer_infos"]),
    }
    content = detached
    if encapsulated:
        inner = bytes(eci["content"])
        details["encapsulatedContentSha256"] = hashlib.sha256(inner).hexdigest()
        details["encapsulatedContentSize"] = len(inner)
        if detached is not None:
            # The signature covers what it encapsulates; a file given beside it is only
            # compared (RFC 5652 §5.2: eContent present means the content is inside).
            details["detachedContentMatches"] = detached == inner
        content = None
    reports = tuple(
        validate_signer(
            signed_data,
            env=env,
            identifier=f"signature-{index + 1}",
            format_name="CAdES",
            content=content,
            signer_index=index,
        )
        for index in range(len(signed_data["signer_infos"]))
    )
    return FormatResult("CMS", reports, details)


def _token(data: bytes) -> tuple[Any | None, dict[str, Any], str | None]:
    """The token of a TimeStampResp (RFC 3161 §2.4.2) or a bare TimeStampToken, the
    reply's status, and why there is no token."""
    info: dict[str, Any] = {}
    try:
        content_info = cms.ContentInfo.load(data, strict=True)
        if content_info["content_type"].native == "signed_data":
            return content_info, {"container": "TimeStampToken"}, None
    except (ValueError, TypeError, KeyError):
        pass
    resp = tsp.TimeStampResp.load(data, strict=True)
    status = resp["status"]
    info = {
        "container": "TimeStampResp",
        "status": status["status"].native,
        "statusString": list(status["status_string"].native or []),
        "failInfo": sorted(status["fail_info"].native or []) or None,
    }
    if status["status"].native not in ("granted", "granted_with_mods"):
        return None, info, f"the TSA refused the request ({status['status'].native})"
    token = resp["time_stamp_token"]
    if isinstance(token, core.Void) or token.native is None:
        return None, info, "the reply grants a time-stamp but holds no token"
    return token, info, None


def validate_timestamp_reply(token: bytes, env: Environment, *, data: bytes) -> FormatResult:
    """An RFC 3161 TimeStampResp or TimeStampToken (a .tsr) over ``data``."""
    try:
        found, details, refusal = _token(token)
    except Exception as exc:
        return FormatResult(
            "TIMESTAMP",
            (
                format_failure(
                    "timestamp-1",
                    f"not an RFC 3161 time-stamp reply or token: {exc}",
                    env,
                    kind=SignatureKind.TIMESTAMP,
                    format_name="RFC3161",
                ),
            ),
        )
    if found is None:
        return FormatResult(
            "TIMESTAMP",
            (
                format_failure(
                    "timestamp-1",
                    refusal or "no time-stamp token",
                    env,
                    kind=SignatureKind.TIMESTAMP,
                    format_name="RFC3161",
                    details=details,
                ),
            ),
            details,
        )
    check = validate_timestamp_token(
        found, imprinted=data, env=env, identifier="timestamp-1", role="time-stamp"
    )
    return FormatResult("TIMESTAMP", (check.report,), details)
