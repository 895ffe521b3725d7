"""Reading a list from outside, every check in order (TS 119 612, TS 119 615 §4.2):

1. hardened XML parsing (no DTD, no entities, no network): ``xml``;
2. the TS 119 612 V2.4.1 XML schema: ``schema``;
3. the content the schema leaves open: a ``TSLVersionIdentifier`` of 5 or 6 (§5.3.1),
   the ``TSLTag`` (§5.2), a ``TrustServiceStatusList`` of the expected kind: ``content``;
4. the XAdES signature, against pinned certificates only: ``signature``.

The first failing step raises :class:`~govtrust.errors.TrustListRefused` naming it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from govtrust.errors import TrustListRefused
from govtrust.trustlist._xml import TSL, XmlRefused, parse_hardened, q
from govtrust.trustlist.model import TSL_TAG, TrustedList
from govtrust.trustlist.parse import ListContentError, parse_list
from govtrust.trustlist.schema import schema_errors
from govtrust.trustlist.signature import SignatureRefused, verify_list_signature

__all__ = ["SUPPORTED_VERSIONS", "VerifiedList", "is_fresh", "read_list"]

SUPPORTED_VERSIONS = frozenset({5, 6})
"""TSLVersionIdentifier values read: 5 (TS 119 612 V2.1.1) and 6 (V2.2.1 onwards)."""


@dataclass(frozen=True)
class VerifiedList:
    """A list that passed every check, with the pinned certificate that signed it."""

    trusted_list: TrustedList
    signer: x509.Certificate
    data: bytes
    sha256: str
    skipped_certificates: int


def read_list(
    data: bytes,
    pinned: Sequence[x509.Certificate],
    *,
    source: str,
    lotl: bool | None = None,
) -> VerifiedList:
    """Parse, schema-check and verify ``data``; ``lotl`` True/False requires a list of
    lists or a national list (None: either)."""
    try:
        tree = parse_hardened(data)
    except XmlRefused as exc:
        raise TrustListRefused("xml", source, f"{source}: {exc}") from None
    scheme = tree.getroot().find(q(TSL, "SchemeInformation"))
    if scheme is not None and scheme.find(q(TSL, "TSLVersionIdentifier")) is None:
        raise TrustListRefused(
            "content", source, f"{source}: the list has no TSLVersionIdentifier (TS 119 612 §5.3.1)"
        )
    errors = schema_errors(tree)
    if errors:
        raise TrustListRefused(
            "schema", source, f"{source}: not valid under the TS 119 612 schema: {errors[0]}"
        )
    try:
        parsed = parse_list(tree)
    except ListContentError as exc:
        raise TrustListRefused("content", source, f"{source}: {exc}") from None
    tl = parsed.trusted_list
    if tl.scheme.version not in SUPPORTED_VERSIONS:
        raise TrustListRefused(
            "content",
            source,
            f"{source}: TSLVersionIdentifier {tl.scheme.version} is not supported (5 or 6)",
        )
    if tree.getroot().get("TSLTag") != TSL_TAG:
        raise TrustListRefused("content", source, f"{source}: the TSLTag is not {TSL_TAG}")
    if lotl is not None and tl.is_lotl != lotl:
        want = "a list of trusted lists" if lotl else "a national trusted list"
        raise TrustListRefused("content", source, f"{source}: not {want} ({tl.scheme.tsl_type})")
    try:
        signer = verify_list_signature(data, tree, pinned, tl.scheme.issued)
    except SignatureRefused as exc:
        raise TrustListRefused("signature", source, f"{source}: {exc}") from None
    return VerifiedList(
        trusted_list=tl,
        signer=signer,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        skipped_certificates=parsed.skipped_certificates,
    )


def is_fresh(tl: TrustedList, now: dt.datetime) -> bool:
    """TS 119 615 §4.2.3: a list is fresh until its NextUpdate (none: closed scheme)."""
    return tl.scheme.next_update is not None and now < tl.scheme.next_update
