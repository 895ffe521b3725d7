"""PAdES (ETSI EN 319 142-1): PDF signatures at the baseline levels, with pyHanko."""

from __future__ import annotations

from govtrust.signing.pades.sign import MEDIA_TYPE, PadesSigner, VisibleStamp, sign_pdf

__all__ = ["MEDIA_TYPE", "PadesSigner", "VisibleStamp", "sign_pdf"]
