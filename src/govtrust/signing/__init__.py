"""Signatures and seals: PAdES, CAdES, XAdES and ASiC-E at the ETSI baseline levels.

Pure domain code: the caller (``govtrust.services.signing``) provides the key, the
timestamp authority and the revocation data through :mod:`govtrust.signing.api`.
"""

from __future__ import annotations

from govtrust.signing.api import (
    RevocationSource,
    SignedDocument,
    SigningIdentity,
    SigningServices,
    TimestampTransport,
)
from govtrust.signing.levels import Level, SignatureFormat, default_format

__all__ = [
    "Level",
    "RevocationSource",
    "SignatureFormat",
    "SignedDocument",
    "SigningIdentity",
    "SigningServices",
    "TimestampTransport",
    "default_format",
]
