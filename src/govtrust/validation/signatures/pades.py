"""PDF signatures and document time-stamps (ETSI EN 319 142-1), with the analysis of
what changed after each signature.

ENTRY POINT FIXED BY THE LEAD; body by helper "pades".
"""

from __future__ import annotations

from govtrust.validation.signatures import Environment, FormatResult

__all__ = ["validate_pdf"]


def validate_pdf(data: bytes, env: Environment) -> FormatResult:
    """Every signature and document time-stamp of a PDF. A truncated, encrypted or
    malformed PDF gives one FORMAT_FAILURE entry, never an exception."""
    raise NotImplementedError  # pades replaces this
