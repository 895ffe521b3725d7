"""CMS and CAdES signatures (ETSI EN 319 122-1): attached (.p7m) and detached (.p7s).

ENTRY POINT FIXED BY THE LEAD; body by helper "cms-core".
"""

from __future__ import annotations

from govtrust.validation.signatures import Environment, FormatResult

__all__ = ["validate_cms", "validate_timestamp_reply"]


def validate_cms(
    signature: bytes, env: Environment, *, detached: bytes | None = None
) -> FormatResult:
    """Every SignerInfo of a CMS SignedData (DER or PEM), over ``detached`` content when
    the signature is detached. Malformed input gives one FORMAT_FAILURE signature."""
    raise NotImplementedError  # cms-core replaces this


def validate_timestamp_reply(token: bytes, env: Environment, *, data: bytes) -> FormatResult:
    """An RFC 3161 TimeStampResp or TimeStampToken (a .tsr) over ``data``."""
    raise NotImplementedError  # cms-core replaces this
