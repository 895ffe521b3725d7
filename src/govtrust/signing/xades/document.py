"""Signing and augmenting XML documents with an enveloped XAdES signature."""

from __future__ import annotations

from typing import Any

from govtrust.signing.api import SignedDocument, SigningIdentity, SigningServices
from govtrust.signing.levels import Level, SignatureFormat
from govtrust.signing.xades._xml import c14n, parse_xml, serialize
from govtrust.signing.xades.augment import augment_signature, find_signature
from govtrust.signing.xades.sign import sign_enveloped

__all__ = ["MEDIA_TYPE", "augment_xml", "sign_xml"]

MEDIA_TYPE = "application/xml"


def _result(tree: Any, signature: Any, level: Level) -> SignedDocument:
    return SignedDocument(
        data=serialize(tree),
        produced=c14n(signature),
        format=SignatureFormat.XADES,
        level=level,
        media_type=MEDIA_TYPE,
        suffix=".xml",
    )


def sign_xml(
    data: bytes, identity: SigningIdentity, level: Level, services: SigningServices
) -> SignedDocument:
    """An enveloped XAdES signature of the XML document ``data`` at ``level``;
    ``produced`` is the canonical ds:Signature element."""
    tree, signature = sign_enveloped(parse_xml(data), identity, services.clock)
    if level.at_least(Level.B_T):
        augment_signature(signature, level, services)
    return _result(tree, signature, level)


def augment_xml(data: bytes, level: Level, services: SigningServices) -> SignedDocument:
    """The document with its last XAdES signature brought up to ``level``."""
    tree = parse_xml(data)
    signature = find_signature(tree)
    augment_signature(signature, level, services)
    return _result(tree, signature, level)
