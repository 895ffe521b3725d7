"""Signature formats and the ETSI baseline levels, and the choice of a default format.

The four baseline levels are common to EN 319 122-1 (CAdES, §6), EN 319 132-1 (XAdES,
§6) and EN 319 142-1 (PAdES, §6), each one adding to the one below:

``B-B``    the signature with its signed attributes/properties (signing certificate
           reference, content type...).
``B-T``    + a signature timestamp (a trusted time the signature existed at).
``B-LT``   + the certificates and revocation data (OCSP responses or CRLs) a verifier
           needs to validate it later without fetching anything.
``B-LTA``  + an archive timestamp (CAdES, XAdES) or a document timestamp (PAdES) over
           all of it, renewable before its algorithms or certificates weaken.
"""

from __future__ import annotations

import enum
from pathlib import PurePath

from govtrust.errors import InputError

__all__ = ["Level", "SignatureFormat", "default_format"]


class Level(enum.Enum):
    """A baseline level; levels compare by how much they add (``B_B < B_LTA``)."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def rank(self) -> int:
        return list(Level).index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank <= other.rank

    def at_least(self, other: Level) -> bool:
        return self.rank >= other.rank

    @classmethod
    def parse(cls, text: str) -> Level:
        wanted = text.strip().upper().replace("_", "-")
        if not wanted.startswith("B-"):
            wanted = "B-" + wanted
        for level in cls:
            if level.value == wanted:
                return level
        allowed = ", ".join(level.value for level in cls)
        raise InputError(f"unknown signature level {text!r} (use one of: {allowed})")


class SignatureFormat(enum.Enum):
    """``pades`` (EN 319 142-1), ``cades`` (EN 319 122-1, detached), ``xades``
    (EN 319 132-1, enveloped) and ``asic-e`` (EN 319 162-1 extended container)."""

    PADES = "pades"
    CADES = "cades"
    XADES = "xades"
    ASIC_E = "asic-e"

    @classmethod
    def parse(cls, text: str) -> SignatureFormat:
        wanted = text.strip().lower()
        for fmt in cls:
            if fmt.value == wanted or fmt.value.replace("-", "") == wanted:
                return fmt
        allowed = ", ".join(f.value for f in cls)
        raise InputError(f"unknown signature format {text!r} (use one of: {allowed})")


def default_format(filename: str) -> SignatureFormat:
    """By file type: ``.pdf`` → PAdES, ``.xml`` → XAdES, anything else → CAdES."""
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".pdf":
        return SignatureFormat.PADES
    if suffix == ".xml":
        return SignatureFormat.XADES
    return SignatureFormat.CADES
