"""XML signatures: XAdES (ETSI EN 319 132-1) enveloped, enveloping and detached, and
plain XML-DSig (W3C XML Signature 1.1) signatures.

The document is parsed by :func:`._xml.parse_hardened` (no DTD, no entity, no network:
hostile XML is one FORMAT_FAILURE entry), then every top-level ``ds:Signature`` is
validated by :func:`._xmlsig.validate_signatures` (EN 319 102-1 processes; XML-DSig
core validation with signxml; XAdES time-stamps through the CMS core). References to
data outside the document are resolved only from ``detached``; nothing is fetched.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from govtrust.validation.signatures import Environment, FormatResult
from govtrust.validation.signatures._xml import XmlRefused, parse_hardened
from govtrust.validation.signatures._xmldsig import Resolver
from govtrust.validation.signatures._xmlsig import format_failure, validate_signatures

__all__ = ["validate_xml"]


def _resolver(detached: Mapping[str, bytes] | None) -> Resolver:
    """A reference URI's bytes from ``detached``: by the exact URI, by its decoded
    form, by its last path segment, or, when the caller gave one unnamed file (key
    ``""``), that file. Never from the network or the file system."""
    files = dict(detached or {})

    def resolve(uri: str) -> bytes | None:
        for key in (uri, urllib.parse.unquote(uri)):
            if key in files:
                return files[key]
        base = urllib.parse.unquote(urllib.parse.urlsplit(uri).path).rsplit("/", 1)[-1]
        if base and base in files:
            return files[base]
        if set(files) == {""}:
            return files[""]
        return None

    return resolve


def validate_xml(
    data: bytes, env: Environment, *, detached: dict[str, bytes] | None = None
) -> FormatResult:
    """Every ``ds:Signature`` of an XML document. ``detached`` maps a reference URI to
    the bytes it names (for detached signatures and ASiC). Hostile or malformed XML
    gives one FORMAT_FAILURE entry, never entity expansion or network access."""
    try:
        root = parse_hardened(data)
    except XmlRefused as exc:
        return FormatResult(
            format="XML",
            signatures=(format_failure("document", env, str(exc)),),
            details={"error": str(exc)},
        )
    results = validate_signatures(root, env, _resolver(detached))
    return FormatResult(
        format="XML",
        signatures=tuple(r.report for r in results),
        details={"signatureCount": len(results)},
    )
