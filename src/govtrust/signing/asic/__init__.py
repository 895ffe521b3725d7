"""ASiC-E (ETSI EN 319 162-1): ZIP containers of files under one CAdES or XAdES signature."""

from __future__ import annotations

from govtrust.signing.asic.container import (
    MEDIA_TYPE,
    SIGNATURE_KINDS,
    Container,
    augment_asic,
    read_container,
    sign_asic,
)

__all__ = [
    "MEDIA_TYPE",
    "SIGNATURE_KINDS",
    "Container",
    "augment_asic",
    "read_container",
    "sign_asic",
]
