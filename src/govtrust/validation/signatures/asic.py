"""Associated Signature Containers (ETSI EN 319 162-1): ASiC-S and ASiC-E with CAdES
or XAdES signatures.

ENTRY POINT FIXED BY THE LEAD; body by helper "xades-asic".
"""

from __future__ import annotations

from govtrust.validation.signatures import Environment, FormatResult

__all__ = ["validate_asic"]


def validate_asic(data: bytes, env: Environment) -> FormatResult:
    """Every signature of a container; ``details`` lists its files and which signature
    covers which. A malformed container gives one FORMAT_FAILURE entry."""
    raise NotImplementedError  # xades-asic replaces this
