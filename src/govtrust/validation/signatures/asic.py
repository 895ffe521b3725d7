"""Associated Signature Containers (ETSI EN 319 162-1): ASiC-S and ASiC-E with CAdES
or XAdES signatures.

The ZIP is read with limits (:mod:`._asic_zip`: entry count, inflated size and ratio,
unsafe names, ``mimetype`` first); then every signature or time assertion in
``META-INF/`` is validated and the files each one covers are listed:

- ``META-INF/ASiCManifest*.xml`` (and ``ASiCArchiveManifest*.xml``), EN 319 162-1
  §4.4.3.3 and §A.4: the manifest's ``asic:SigReference`` names the CAdES signature
  (``*.p7s``, validated over the manifest's bytes by the CMS core) or the time-stamp
  token (``*.tst``, whose imprint is the manifest's hash) that signs it; each
  ``asic:DataObjectReference`` is then checked against the container's file (a
  changed file: TOTAL-FAILED/HASH_FAILURE; a missing one: SIGNED_DATA_NOT_FOUND);
- ``META-INF/*signatures*.xml`` (§4.3.3.2, §4.4.3.2): XAdES signatures whose
  ``ds:Reference`` URIs name container files, relative to its root;
- ASiC-S (§4.3): one data object and ``META-INF/signature.p7s`` (detached CAdES over
  it) or ``META-INF/timestamp.tst`` (a time-stamp token over it) not listed in a
  manifest.

``details`` lists the files, which signature covers which, and the files no signature
covers (an ASiC signature protects only what it references).
"""

from __future__ import annotations

import hashlib
import posixpath
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from signxml.algorithms import DigestAlgorithm
from signxml.exceptions import SignXMLException

from govtrust.validation.indications import SubIndication
from govtrust.validation.report import SignatureReport
from govtrust.validation.signatures import Environment, FormatResult
from govtrust.validation.signatures._asic_zip import ContainerRefused, Entries, read_entries
from govtrust.validation.signatures._xml import (
    ASIC,
    DS,
    XmlRefused,
    b64decode,
    parse_hardened,
    qname,
)
from govtrust.validation.signatures._xmldsig import Resolver
from govtrust.validation.signatures._xmlsig import format_failure, validate_signatures

__all__ = ["validate_asic"]

_ASIC_E = "application/vnd.etsi.asic-e+zip"
_ASIC_S = "application/vnd.etsi.asic-s+zip"


@dataclass
class _Found:
    """Signature reports of one META-INF file and the container files they cover."""

    source: str
    reports: list[SignatureReport] = field(default_factory=list)
    covers: list[str] = field(default_factory=list)


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _is_manifest(name: str) -> bool:
    base = _base(name)
    return base.startswith(("ASiCManifest", "ASiCArchiveManifest")) and base.endswith(".xml")


def _is_xades(name: str) -> bool:
    return "signatures" in _base(name).lower() and name.endswith(".xml")


def _is_cades(name: str) -> bool:
    return "signature" in _base(name).lower() and name.endswith(".p7s")


def _is_tst(name: str) -> bool:
    return "timestamp" in _base(name).lower() and name.endswith(".tst")


def _normalize(uri: str, relative_to: str = "") -> str:
    """A reference URI as a container entry name: percent-decoded, relative to the
    container root (``../x`` from META-INF/ means ``x``)."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(uri).path)
    return posixpath.normpath(posixpath.join(relative_to, path))


def _resolver(files: Mapping[str, bytes], signature_file: str) -> Resolver:
    def resolve(uri: str) -> bytes | None:
        for name in (_normalize(uri), _normalize(uri, posixpath.dirname(signature_file))):
            if name in files:
                return files[name]
        return None

    return resolve


def _prefixed(report: SignatureReport, source: str) -> SignatureReport:
    return replace(report, identifier=f"{source}#{report.identifier}")


def _worse(report: SignatureReport, sub: SubIndication, message: str) -> SignatureReport:
    """``report`` lowered to ``sub`` unless it already is at least that bad."""
    if report.indication.severity >= sub.indication.severity:
        return report
    return replace(report, indication=sub.indication, sub_indication=sub, message=message)


# ---- XAdES (§4.3.3.2, §4.4.3.2) ----------------------------------------------------


def _xades(name: str, entries: Entries, env: Environment) -> _Found:
    found = _Found(name)
    try:
        root = parse_hardened(entries.files[name])
    except XmlRefused as exc:
        found.reports.append(format_failure(f"{name}#document", env, str(exc)))
        return found
    for result in validate_signatures(root, env, _resolver(entries.files, name)):
        found.reports.append(_prefixed(result.report, name))
        for ref in result.references:
            if ref.external:
                target = _normalize(ref.uri)
                if target not in entries.files:
                    target = _normalize(ref.uri, "META-INF")
                found.covers.append(target)
    if not found.reports:
        found.reports.append(
            format_failure(f"{name}#document", env, "the signature file holds no ds:Signature")
        )
    return found


# ---- manifests (§4.4.3.3, §A.4) ----------------------------------------------------


@dataclass(frozen=True)
class _DataRef:
    name: str
    algorithm: str | None
    digest: bytes


def _manifest(root: Any) -> tuple[str, list[_DataRef]]:
    if root.tag not in (qname(ASIC, "ASiCManifest"), qname(ASIC, "ASiCArchiveManifest")):
        raise XmlRefused("not an asic:ASiCManifest")
    sig_ref = root.find(qname(ASIC, "SigReference"))
    if sig_ref is None or not sig_ref.get("URI"):
        raise XmlRefused("the manifest has no asic:SigReference")
    refs = []
    for ref in root.findall(qname(ASIC, "DataObjectReference")):
        uri, method = ref.get("URI"), ref.find(qname(DS, "DigestMethod"))
        value = ref.find(qname(DS, "DigestValue"))
        if not uri or method is None or value is None:
            raise XmlRefused("an asic:DataObjectReference lacks its URI, method or value")
        refs.append(
            _DataRef(_normalize(uri), method.get("Algorithm"), b64decode(value.text, "a digest"))
        )
    if not refs:
        raise XmlRefused("the manifest references no data object")
    return _normalize(sig_ref.get("URI")), refs


def _digest(algorithm: str | None, data: bytes) -> bytes:
    try:
        impl = DigestAlgorithm(algorithm).implementation()
    except (ValueError, SignXMLException):
        raise XmlRefused(f"unsupported digest algorithm {algorithm!r} in the manifest") from None
    h = hashlib.new(impl.name)
    h.update(data)
    return h.digest()


def _signed_by(
    sig_name: str, signed: bytes, entries: Entries, env: Environment
) -> list[SignatureReport]:
    """The reports of the CAdES signature or time-stamp token ``sig_name`` over
    ``signed`` (a manifest, or ASiC-S's data object)."""
    from govtrust.validation.signatures import cades

    token = entries.files[sig_name]
    if sig_name.endswith(".tst"):
        result = cades.validate_timestamp_reply(token, env, data=signed)
    else:
        result = cades.validate_cms(token, env, detached=signed)
    return [_prefixed(r, sig_name) for r in result.signatures]


def _check_refs(
    reports: list[SignatureReport], refs: list[_DataRef], entries: Entries, manifest: str
) -> list[SignatureReport]:
    for ref in refs:
        data = entries.files.get(ref.name)
        if data is None:
            sub, msg = (
                SubIndication.SIGNED_DATA_NOT_FOUND,
                f"{ref.name!r}, listed in {manifest}, is not in the container",
            )
        elif _digest(ref.algorithm, data) != ref.digest:
            sub, msg = (
                SubIndication.HASH_FAILURE,
                f"{ref.name!r} was changed after signing (its digest in {manifest} does not match)",
            )
        else:
            continue
        reports = [_worse(r, sub, msg) for r in reports]
    return reports


def _by_manifest(name: str, entries: Entries, env: Environment, used: set[str]) -> _Found:
    found = _Found(name)
    try:
        sig_name, refs = _manifest(parse_hardened(entries.files[name]))
    except XmlRefused as exc:
        found.reports.append(format_failure(f"{name}#manifest", env, str(exc)))
        return found
    found.covers = [r.name for r in refs]
    if sig_name not in entries.files or not sig_name.endswith((".p7s", ".tst")):
        found.reports.append(
            format_failure(
                f"{name}#manifest",
                env,
                f"the manifest's signature {sig_name!r} is not in the container",
            )
        )
        return found
    used.add(sig_name)
    found.source = sig_name
    reports = _signed_by(sig_name, entries.files[name], entries, env)
    try:
        found.reports = _check_refs(reports, refs, entries, name)
    except XmlRefused as exc:
        found.reports = [format_failure(f"{sig_name}#manifest", env, str(exc))]
    return found


# ---- the container ----------------------------------------------------------------


def _kind(entries: Entries, data_files: list[str]) -> str:
    if entries.mimetype == _ASIC_S:
        return "ASiC-S"
    if entries.mimetype == _ASIC_E:
        return "ASiC-E"
    meta = [n for n in entries.files if n.startswith("META-INF/")]
    if len(data_files) == 1 and not any(_is_manifest(n) for n in meta):
        return "ASiC-S"
    return "ASiC-E"


def _details(
    kind: str, entries: Entries, data_files: list[str], found: list[_Found]
) -> dict[str, Any]:
    covered_by: dict[str, list[str]] = {n: [] for n in data_files}
    for item in found:
        for name in item.covers:
            if name in covered_by:
                covered_by[name] += [r.identifier for r in item.reports]
    return {
        "containerType": kind,
        "mimetype": entries.mimetype,
        "files": [
            {
                "name": n,
                "size": len(entries.files[n]),
                "sha256": hashlib.sha256(entries.files[n]).hexdigest(),
                "coveredBy": covered_by[n],
            }
            for n in data_files
        ],
        "signatures": [
            {
                "file": item.source,
                "ids": [r.identifier for r in item.reports],
                "covers": item.covers,
            }
            for item in found
        ],
        "uncoveredFiles": [n for n, ids in covered_by.items() if not ids],
    }


def _simple(name: str, entries: Entries, env: Environment, data_files: list[str]) -> _Found:
    """ASiC-S (§4.3.3.1): a CAdES signature or a time-stamp token over the one data
    object."""
    if len(data_files) != 1:
        return _Found(
            name,
            [
                format_failure(
                    f"{name}#container",
                    env,
                    f"{name} is not listed in an ASiCManifest and the container has"
                    f" {len(data_files)} data objects (ASiC-S has exactly one)",
                )
            ],
        )
    target = data_files[0]
    return _Found(name, _signed_by(name, entries.files[target], entries, env), [target])


def validate_asic(data: bytes, env: Environment) -> FormatResult:
    """Every signature of a container; ``details`` lists its files and which signature
    covers which. A malformed container gives one FORMAT_FAILURE entry."""
    try:
        entries = read_entries(data)
    except ContainerRefused as exc:
        return FormatResult(
            format="ASiC-E",
            signatures=(format_failure("container", env, str(exc)),),
            details={"error": str(exc)},
        )
    data_files = [n for n in entries.files if not n.startswith("META-INF/")]
    kind = _kind(entries, data_files)
    meta = sorted(n for n in entries.files if n.startswith("META-INF/"))
    used: set[str] = set()
    found = [_by_manifest(n, entries, env, used) for n in meta if _is_manifest(n)]
    found += [_xades(n, entries, env) for n in meta if _is_xades(n)]
    found += [
        _simple(n, entries, env, data_files)
        for n in meta
        if (_is_cades(n) or _is_tst(n)) and n not in used
    ]
    reports = tuple(r for item in found for r in item.reports)
    return FormatResult(
        format=kind, signatures=reports, details=_details(kind, entries, data_files, found)
    )
