"""The XAdES signature of a trusted list (TS 119 612 §5.7 and Annex B).

Annex B.1: the list is signed with an enveloped XAdES baseline B-B signature (EN 319
132-1) whose one data reference covers the whole ``TrustServiceStatusList``
(``URI=""`` with the enveloped-signature and exclusive canonicalization transforms),
with ``SigningCertificateV2``; the ``ds:Signature`` is the last child of the root.
Signing reuses govtrust's XAdES signer (signxml, :mod:`govtrust.signing.xades.sign`).

Verification trusts nothing from the document: the signer's certificate must be one of
the certificates pinned for that list (by the importer, or by the pointer of a list of
lists, §5.3.13), matched by public key, and signxml's XAdES verifier then checks the
signature value, both references (the list and the signed properties) and the signed
certificate digest. The signer certificate's validity is checked at the list's issue
time (``ListIssueDateTime``): an archived list or a pivot LOTL stays verifiable after
its signer certificate expired, while freshness is a separate check (``NextUpdate``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration
from signxml.xades.xades import XAdESVerifier

from govtrust.clock import Clock
from govtrust.signing.api import SigningIdentity
from govtrust.signing.xades.sign import sign_enveloped
from govtrust.trustlist._xml import DS, TSL, q

__all__ = ["SignatureRefused", "sign_list", "verify_list_signature"]


class SignatureRefused(ValueError):
    """The list's signature is missing, malformed, by an unpinned key, or invalid."""


def sign_list(tree: Any, identity: SigningIdentity, clock: Clock) -> Any:
    """The list signed (a new tree), Annex B.1 XAdES-B-B enveloped."""
    signed, _signature = sign_enveloped(tree, identity, clock)
    return signed


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _key_info_certs(signature: Any) -> list[x509.Certificate]:
    found = []
    for node in signature.iterfind(f"{q(DS, 'KeyInfo')}//{q(DS, 'X509Certificate')}"):
        try:
            found.append(x509.load_der_x509_certificate(base64.b64decode(node.text or "")))
        except (ValueError, binascii.Error):
            continue
    return found


def _candidates(signature: Any, pinned: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The pinned certificates to try: the one whose key is in KeyInfo first."""
    in_doc = {_spki(c) for c in _key_info_certs(signature)}
    if in_doc:
        return [c for c in pinned if _spki(c) in in_doc]
    return list(pinned)


def verify_list_signature(
    data: bytes, tree: Any, pinned: Sequence[x509.Certificate], at: dt.datetime
) -> x509.Certificate:
    """The pinned certificate whose key signed the list (``data``, parsed as ``tree``),
    or SignatureRefused. ``at`` is the time the signer certificate must be valid at."""
    if not pinned:
        raise SignatureRefused("no certificate is pinned for this list")
    root = tree.getroot()
    signatures = root.findall(q(DS, "Signature"))
    if not signatures:
        raise SignatureRefused("the list is not signed (no ds:Signature, TS 119 612 §5.7)")
    if len(signatures) > 1 or root[-1] is not signatures[0]:
        raise SignatureRefused("the list's ds:Signature must be one, and the root's last child")
    if root.tag != q(TSL, "TrustServiceStatusList"):
        raise SignatureRefused("not a TrustServiceStatusList")
    candidates = _candidates(signatures[0], pinned)
    if not candidates:
        signer = _key_info_certs(signatures[0])[0]
        raise SignatureRefused(
            f"the list is signed by {signer.subject.rfc4514_string()!r}, which is not among"
            " the pinned signer certificates"
        )
    references = len(signatures[0].findall(f"{q(DS, 'SignedInfo')}/{q(DS, 'Reference')}"))
    if references not in (2, 3):  # the list, the signed properties, maybe the KeyInfo
        raise SignatureRefused(f"the signature has {references} references, expected 2 or 3")
    config = SignatureConfiguration(verification_time=at)
    last: str = "no pinned certificate verifies the signature"
    for cert in candidates:
        try:
            results = XAdESVerifier().verify(
                data, x509_cert=cert, expect_references=references, expect_config=config
            )
        except SignXMLException as exc:
            last = str(exc)
            continue
        except (ValueError, TypeError) as exc:
            last = f"malformed signature: {exc}"
            continue
        _check_covers_root(results, root)
        return cert
    raise SignatureRefused(f"the signature does not verify: {last}")


def _check_covers_root(results: Any, root: Any) -> None:
    """Annex B.1: the signed data object is the whole list, not a fragment of it."""
    signed = results[0].signed_xml if results else None
    if signed is None or signed.tag != root.tag:
        raise SignatureRefused(
            "the signature's data reference does not cover the whole TrustServiceStatusList"
        )
