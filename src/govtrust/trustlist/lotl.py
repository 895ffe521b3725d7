"""Lists of trusted lists (TS 119 612 §5.3.13) and the pivot mechanism.

A list of lists points at each member's list (``TSLLocation``) and names the
certificates that may sign it; a member list is verified against its pointer's
certificates only. The LOTL's own signing certificates are announced out of band (for
the EU: in the Official Journal). When the LOTL operator changes its keys it publishes
*pivot* LOTLs: each pivot is signed with the keys trusted before it, and its pointer to
itself (the pointer whose TSLType is a list of lists, in its own territory) announces
the keys trusted after it. Starting from the announced certificates, the pivots are
walked in sequence-number order (oldest first), each verified with the keys the previous
one announced; the current LOTL is then verified with the last announced keys. The
pivots' URLs are listed in the LOTL's ``SchemeInformationURI`` (§5.3.7), newest first,
as the EU's LOTL does (``eu-lotl-pivot-<sequence>.xml``).

A relying party that pinned keys announced *later* than the oldest pivot (it took the
operator's certificate after a rotation) cannot verify the older pivots, and need not:
the walk starts at the first pivot that its pinned keys verify (leading pivots signed
by earlier keys are history it already trusts past). Once the walk has started, every
later pivot must verify with the keys the previous one announced, or the list is
refused; nothing is ever trusted that a trusted key did not sign. (TS 119 612 does not
describe the walk; this follows the EU's published practice, "pivot LOTL", and DSS.)
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from govtrust.errors import TrustListRefused
from govtrust.trustlist._xml import TSL, XmlRefused, parse_hardened, q
from govtrust.trustlist.model import Pointer, TrustedList
from govtrust.trustlist.read import VerifiedList, read_list

__all__ = ["member_pointers", "pivot_urls", "self_pointer", "walk_pivots"]


def pivot_urls(tl: TrustedList) -> list[str]:
    """The pivot LOTL URLs a LOTL names in its SchemeInformationURI."""
    return [
        u
        for u in tl.scheme.information_uris
        if u.lower().endswith(".xml") and "pivot" in u.rsplit("/", 1)[-1].lower()
    ]


def self_pointer(tl: TrustedList) -> Pointer | None:
    """The LOTL's pointer to itself: a list-of-lists pointer in its own territory."""
    for pointer in tl.pointers:
        if pointer.tsl_type.endswith("listofthelists") and (
            not pointer.territory or pointer.territory == tl.scheme.territory
        ):
            return pointer
    return None


def member_pointers(tl: TrustedList) -> list[Pointer]:
    """The pointers to member (national) lists, XML lists only (not PDF twins)."""
    return [
        p
        for p in tl.pointers
        if not p.tsl_type.endswith("listofthelists") and (not p.mime_type or "xml" in p.mime_type)
    ]


def walk_pivots(
    announced: Sequence[x509.Certificate], pivots: Sequence[bytes], *, source: str
) -> tuple[list[x509.Certificate], list[VerifiedList]]:
    """The LOTL signing certificates trusted after the ``pivots`` (documents, any
    order), starting from the ``announced`` ones; each pivot verified on the way.

    Leading pivots whose signature the ``announced`` keys do not verify are skipped
    (see the module docstring); from the first one they verify on, each pivot must
    verify with the keys its predecessor announced."""
    trusted = list(announced)
    verified: list[VerifiedList] = []
    ordered: list[tuple[int, bytes]] = []
    for data in pivots:
        try:
            seq = (
                parse_hardened(data)
                .getroot()
                .findtext(f"{q(TSL, 'SchemeInformation')}/{q(TSL, 'TSLSequenceNumber')}")
            )
        except XmlRefused as exc:
            raise TrustListRefused("xml", source, f"{source}: a pivot LOTL: {exc}") from None
        ordered.append((int(seq) if seq and seq.strip().isdigit() else 0, data))
    for seq, data in sorted(ordered, key=lambda t: t[0]):
        try:
            pivot = read_list(data, trusted, source=f"{source} pivot {seq}", lotl=True)
        except TrustListRefused as exc:
            if exc.reason == "signature" and not verified:
                continue  # signed by keys older than the pinned ones
            raise
        pointer = self_pointer(pivot.trusted_list)
        if pointer is None or not pointer.certificates:
            raise TrustListRefused(
                "content", source, f"{source}: pivot {seq} announces no signing certificate"
            )
        trusted = list(pointer.certificates)
        verified.append(pivot)
    return trusted, verified
