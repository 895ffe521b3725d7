"""PDF signatures and document time-stamps (ETSI EN 319 142-1), with the analysis of
what changed after each signature.

For each filled signature field, oldest revision first:

1. Format checking (EN 319 102-1 §5.2.2): the signature dictionary and its CMS can be
   read, the ``/SubFilter`` is one we validate (``ETSI.CAdES.detached`` of
   EN 319 142-1 §5.1, ``adbe.pkcs7.detached`` and ``adbe.pkcs7.sha1`` of ISO 32000-1
   §12.8.3.3, ``ETSI.RFC3161`` document time-stamps of EN 319 142-1 §5.3); a file that
   cannot be read at all is one FORMAT_FAILURE entry.
2. The ``/ByteRange`` (ISO 32000-1 §12.8.1, :mod:`._pdf_structure`): a range that
   starts past 0, overlaps, runs past the end of the file or leaves anything but the
   ``/Contents`` string unsigned means the signature does not protect the document
   as shown: TOTAL-FAILED/HASH_FAILURE (the signed data object is not the document's,
   the cryptographic verification of §5.2.7 fails for it).
3. The CMS, through :func:`._cms.validate_signer` (document time-stamps through
   :func:`._cms.validate_timestamp_token` over their byte ranges, EN 319 142-1 §5.3),
   with the DSS (§5.4.2) as extra validation material and the document time-stamps of
   later revisions as proofs of existence (the LTA process, EN 319 102-1 §5.6).
4. What happened after the signature (:mod:`._pdf_changes`): changes the document's
   DocMDP/FieldMDP rules do not permit (ISO 32000-1 §12.8.2.2 and §12.8.2.4) make the
   signature TOTAL-FAILED/FORMAT_FAILURE: the signed PDF no longer conforms to the
   rules it was signed under, the format check of EN 319 102-1 §5.2.2 (the EU DSS
   validator's ``DocMDPCheck``/``FieldMDPCheck`` decide the same). A CMS result that is
   already TOTAL-FAILED keeps its own sub-indication; the change is named either way
   in ``details["modifications"]``.

The level (``PAdES-BASELINE-B/T/LT/LTA``, EN 319 142-1 §6.3; ``PKCS7-…`` for the
``adbe`` sub-filters) is read from the document: B-T with a signature time-stamp or a
later document time-stamp, B-LT with validation data in the DSS, B-LTA with a document
time-stamp after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from asn1crypto import cms

from govtrust.validation.indications import Indication, SubIndication
from govtrust.validation.report import SignatureKind, SignatureReport
from govtrust.validation.signatures import Environment, FormatResult, _cms
from govtrust.validation.signatures._pdf_changes import (
    ModificationAnalysis,
    analyse_modifications,
    certification_permission,
    describe_revisions,
)
from govtrust.validation.signatures._pdf_structure import (
    PARSE_ERRORS,
    ByteRangeCheck,
    DssMaterial,
    FoundSignature,
    OpenedPdf,
    check_byte_range,
    find_signatures,
    open_pdf,
    read_dss,
)

__all__ = ["validate_pdf"]

_SIGNATURE_TIMESTAMP = "1.2.840.113549.1.9.16.2.14"  # id-aa-signatureTimeStampToken
_SUB_FILTERS = {
    "/ETSI.CAdES.detached": "PAdES",
    "/adbe.pkcs7.detached": "PKCS7",
    "/adbe.pkcs7.sha1": "PKCS7",
}


def validate_pdf(data: bytes, env: Environment) -> FormatResult:
    """Every signature and document time-stamp of a PDF. A truncated, encrypted or
    malformed PDF gives one FORMAT_FAILURE entry, never an exception."""
    opened = open_pdf(data)
    if not isinstance(opened, OpenedPdf):
        return _unreadable(opened.message, env)
    try:
        return _validate(data, opened, env)
    except PARSE_ERRORS as exc:
        # A structure pyHanko reads lazily broke halfway (a truncated object stream,
        # a cyclic field tree): the document as a whole cannot be validated.
        return _unreadable(f"the PDF cannot be read ({type(exc).__name__})", env)


def _unreadable(message: str, env: Environment) -> FormatResult:
    return FormatResult(
        format="PDF",
        signatures=(_failure("document", message, env),),
        details={"error": message},
    )


def _failure(
    identifier: str,
    message: str,
    env: Environment,
    sub: SubIndication = SubIndication.FORMAT_FAILURE,
    kind: SignatureKind = SignatureKind.SIGNATURE,
    details: dict[str, Any] | None = None,
) -> SignatureReport:
    return SignatureReport(
        identifier=identifier,
        kind=kind,
        indication=sub.indication,
        sub_indication=sub,
        message=message,
        validation_time=env.validation_time,
        details=details or {},
    )


@dataclass(frozen=True)
class _Checked:
    """One signature field after the structure checks (steps 1, 2 and 4)."""

    found: FoundSignature
    byte_range: ByteRangeCheck | None
    modifications: ModificationAnalysis | None
    problem: str | None

    @property
    def revision(self) -> int:
        return self.found.revision if self.found.revision is not None else -1

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "field": self.found.field_name,
            "subFilter": self.found.sub_filter,
            "revision": self.revision + 1 if self.revision >= 0 else None,
        }
        if self.byte_range is not None:
            out["byteRange"] = list(self.byte_range.byte_range)
            if self.byte_range.problems:
                out["byteRangeProblems"] = list(self.byte_range.problems)
        if self.modifications is not None:
            out["modifications"] = self.modifications.to_dict()
        return out


def _check_structure(data: bytes, found: FoundSignature, certification: Any) -> _Checked:
    emb = found.embedded
    if emb is None:
        return _Checked(found, None, None, found.problem or "unreadable signature")
    if not found.is_timestamp and found.sub_filter not in _SUB_FILTERS:
        problem = f"the signature's /SubFilter {found.sub_filter or '(none)'} is not supported"
        return _Checked(found, None, None, problem)
    if found.is_timestamp and found.sub_filter not in (None, "/ETSI.RFC3161"):
        problem = f"a document time-stamp with /SubFilter {found.sub_filter} is not supported"
        return _Checked(found, None, None, problem)
    byte_range = check_byte_range(data, emb.byte_range, bytes(emb.pkcs7_content))
    modifications = analyse_modifications(emb, certification)
    return _Checked(found, byte_range, modifications, None)


def _validate(data: bytes, opened: OpenedPdf, env: Environment) -> FormatResult:
    reader = opened.reader
    certification = certification_permission(reader)
    dss = read_dss(reader)
    material = _cms.EmbeddedMaterial(
        certificates=dss.certificates, crls=dss.crls, ocsp_responses=dss.ocsp_responses
    )
    checked = [_check_structure(data, f, certification) for f in find_signatures(reader)]
    dss_revision = _dss_revision(reader)

    # Document time-stamps first: each is a POE for the signatures before it.
    stamp_checks: dict[int, tuple[_Checked, _cms.TimestampCheck]] = {}
    for index, item in enumerate(checked):
        if item.found.is_timestamp and item.problem is None:
            stamp_checks[index] = (item, _timestamp_check(item, material, env))

    reports: list[SignatureReport] = []
    for index, item in enumerate(checked):
        kind = SignatureKind.TIMESTAMP if item.found.is_timestamp else SignatureKind.SIGNATURE
        if item.problem is not None:
            reports.append(
                _failure(
                    item.found.field_name, item.problem, env, kind=kind, details=item.details()
                )
            )
            continue
        if index in stamp_checks:
            reports.append(_finish(stamp_checks[index][1].report, item, None))
            continue
        later = [
            tst
            for stamp, tst in stamp_checks.values()
            if stamp.revision > item.revision
            and stamp.byte_range is not None
            and stamp.byte_range.ok
        ]
        report = _signature_report(item, material, later, env)
        level = _level(item, dss, dss_revision, stamp_checks.values())
        reports.append(_finish(report, item, level))
    return FormatResult(
        format="PDF",
        signatures=tuple(reports),
        details=_document_details(reader, opened, checked, dss, certification),
    )


def _timestamp_check(
    item: _Checked, material: _cms.EmbeddedMaterial, env: Environment
) -> _cms.TimestampCheck:
    emb = item.found.embedded
    assert emb is not None and item.byte_range is not None
    return _cms.validate_timestamp_token(
        cms.ContentInfo.load(bytes(emb.pkcs7_content)),
        imprinted=item.byte_range.signed if item.byte_range.ok else _clipped(emb),
        env=env,
        identifier=item.found.field_name,
        role="document-time-stamp",
        material=material,
    )


def _clipped(emb: Any) -> bytes:
    """The bytes a broken /ByteRange names, clipped to the file (what a naive validator
    hashes): the CMS is still checked, so the report shows the signer."""
    stream = emb.reader.stream
    out = bytearray()
    values = list(emb.byte_range)
    for start, length in zip(values[::2], values[1::2], strict=False):
        if isinstance(start, int) and isinstance(length, int) and start >= 0 and length >= 0:
            stream.seek(start)
            out += stream.read(length)
    return bytes(out)


def _signature_report(
    item: _Checked,
    material: _cms.EmbeddedMaterial,
    later: Sequence[_cms.TimestampCheck],
    env: Environment,
) -> SignatureReport:
    emb = item.found.embedded
    assert emb is not None and item.byte_range is not None
    signed = item.byte_range.signed if item.byte_range.ok else _clipped(emb)
    base = _SUB_FILTERS[item.found.sub_filter or ""]
    common: dict[str, Any] = {
        "env": env,
        "identifier": item.found.field_name,
        "format_name": base,
        "material": material,
        "later_timestamps": tuple(later),
    }
    if item.found.sub_filter == "/adbe.pkcs7.sha1":
        # ISO 32000-1 §12.8.3.3.1: the SHA-1 digest of the byte range is the
        # encapsulated content; the CMS signs that.
        report = _cms.validate_signer(emb.signed_data, **common)
        econtent = emb.signed_data["encap_content_info"]["content"]
        value = econtent.native if econtent is not None else None
        if isinstance(value, bytes) and value == hashlib.sha1(signed).digest():  # noqa: S324
            return report
        return replace(
            report,
            indication=Indication.TOTAL_FAILED,
            sub_indication=SubIndication.HASH_FAILURE,
            message="the SHA-1 digest the signature holds is not that of the signed bytes",
        )
    digest = hashlib.new(str(emb.md_algorithm), signed).digest()
    return _cms.validate_signer(emb.signed_data, content_digest=digest, **common)


def _finish(report: SignatureReport, item: _Checked, level: str | None) -> SignatureReport:
    """Steps 2 and 4 applied over the CMS result; the PDF findings into details."""
    details = {**dict(report.details), **item.details()}
    report = replace(report, details=details, format=_format(report, item, level))
    br, mods = item.byte_range, item.modifications
    if br is not None and not br.ok:
        return replace(
            report,
            indication=Indication.TOTAL_FAILED,
            sub_indication=SubIndication.HASH_FAILURE,
            message="the signed byte range does not protect the document: " + br.problems[0],
        )
    if mods is not None and not mods.permitted:
        named = [c.split(": ", 1)[1] for c in mods.refused_changes[:3]]
        message = (mods.reason or "the document was changed after signing") + (
            ": " + "; ".join(named) if named else ""
        )
        if report.indication is Indication.TOTAL_FAILED:
            return replace(report, message=f"{report.message}; {message}")
        return replace(
            report,
            indication=Indication.TOTAL_FAILED,
            sub_indication=SubIndication.FORMAT_FAILURE,
            message=message,
        )
    return report


def _format(report: SignatureReport, item: _Checked, level: str | None) -> str | None:
    """``PAdES-BASELINE-<level>`` for an ETSI.CAdES.detached signature the CMS layer
    found to be AdES (it has a signing-certificate attribute, EN 319 142-1 §6.3 via
    EN 319 122-1 §5.2.2.3), ``PKCS7-<level>`` for the ISO 32000-1 sub-filters, as the
    EU DSS validator names them; the level is the document's (see :func:`_level`)."""
    if level is None:
        return report.format
    if item.found.sub_filter != "/ETSI.CAdES.detached":
        return f"PKCS7-{level}"
    if report.format is not None and "-BASELINE-" in report.format:
        return f"PAdES-BASELINE-{level}"
    return report.format


def _has_signature_timestamp(item: _Checked) -> bool:
    emb = item.found.embedded
    if emb is None:
        return False
    try:
        attrs = emb.signer_info["unsigned_attrs"]
        return any(a["type"].dotted == _SIGNATURE_TIMESTAMP for a in attrs) if attrs else False
    except PARSE_ERRORS:
        return False


def _dss_revision(reader: Any) -> int | None:
    """The last revision that writes the DSS dictionary (or the catalog entry)."""
    try:
        ref = reader.root.raw_get("/DSS")
        if hasattr(ref, "reference"):
            return int(reader.xrefs.get_last_change(ref.reference))
        return int(reader.xrefs.get_last_change(reader.root_ref))
    except PARSE_ERRORS:
        return None


def _level(
    item: _Checked,
    dss: DssMaterial,
    dss_revision: int | None,
    stamps: Any,
) -> str:
    """EN 319 142-1 §6.3: B-B, B-T (signature time-stamp or a later document
    time-stamp), B-LT (and validation data in a DSS written with the signature or
    after it), B-LTA (and a document time-stamp in or after the DSS's revision: a
    DSS update and the time-stamp over it may share one revision)."""
    later_stamps = [
        s.revision for s, _ in stamps if s.revision > item.revision and s.byte_range is not None
    ]
    if not (_has_signature_timestamp(item) or later_stamps):
        return "B"
    if dss.empty or dss_revision is None or dss_revision < item.revision:
        return "T"
    if any(rev >= dss_revision for rev in later_stamps):
        return "LTA"
    return "LT"


def _document_details(
    reader: Any,
    opened: OpenedPdf,
    checked: Sequence[_Checked],
    dss: DssMaterial,
    certification: Any,
) -> dict[str, Any]:
    total = int(reader.xrefs.total_revisions)
    per_revision: dict[str, list[str]] = {}
    for item in checked:
        if item.revision >= 0:
            per_revision.setdefault(str(item.revision + 1), []).append(item.found.field_name)
    last_signed = max((c.revision for c in checked if c.revision >= 0), default=-1)
    unsigned = describe_revisions(reader, range(last_signed + 1, total)) if last_signed >= 0 else []
    return {
        "revisions": total,
        "signaturesPerRevision": per_revision,
        "signatureCount": sum(1 for c in checked if not c.found.is_timestamp),
        "documentTimestampCount": sum(1 for c in checked if c.found.is_timestamp),
        "certification": certification.name.lower().replace("_", "-") if certification else None,
        "unsignedRevisionsAtEnd": (total - 1 - last_signed) if last_signed >= 0 else total,
        "changesAfterLastSignature": unsigned,
        "wholeFileSigned": any(
            c.byte_range is not None and c.byte_range.entire_file for c in checked
        ),
        "dss": {
            "certificates": len(dss.certificates),
            "crls": len(dss.crls),
            "ocspResponses": len(dss.ocsp_responses),
            "vriEntries": dss.vri_entries,
            **({"problems": list(dss.problems)} if dss.problems else {}),
        },
        "findings": list(opened.findings),
    }
