"""CAdES (ETSI EN 319 122-1): detached CMS signatures at the baseline levels."""

from __future__ import annotations

from govtrust.signing.cades.augment import ContentDigest, augment_cms, parse_cms
from govtrust.signing.cades.sign import MEDIA_TYPE, CadesSigner, digest_of

__all__ = ["MEDIA_TYPE", "CadesSigner", "ContentDigest", "augment_cms", "digest_of", "parse_cms"]
