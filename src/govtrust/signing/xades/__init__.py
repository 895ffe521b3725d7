"""XAdES (ETSI EN 319 132-1): XML signatures at the baseline levels, with signxml."""

from __future__ import annotations

from govtrust.signing.xades.document import MEDIA_TYPE, augment_xml, sign_xml

__all__ = ["MEDIA_TYPE", "augment_xml", "sign_xml"]
