"""What changed in a PDF after a signature, and whether the document's rules permit it.

The judgement is pyHanko's difference analysis (``pyhanko.sign.diff_analysis``,
``DEFAULT_DIFF_POLICY``): it reviews each revision after the signed one and grades the
changes as a :class:`ModificationLevel` (NONE, LTA_UPDATES, FORM_FILLING, ANNOTATIONS,
OTHER), honouring the signature's FieldMDP locks (ISO 32000-1 §12.8.2.4) on the way.
That level is then held against the DocMDP permission in force (ISO 32000-1
§12.8.2.2, Table 254: P=1 no changes, P=2 form filling and signing, P=3 also
annotations), the strictest of the signature's own and the certification signature's
(``/Perms /DocMDP``, which binds every later change). Document time-stamps and DSS
updates (LTA_UPDATES) are allowed at every level (EN 319 142-1 §5.4, ISO 32000-2
§12.8.2.2.1), unexplained changes (OTHER) at none.

pyHanko answers "allowed or not"; a report must also say *what* changed
(issue 3: "the report names the change"), which pyHanko does not expose. So
:func:`describe_revision` walks the objects each later revision writes (its
cross-reference section) and names them in plain words: a page's content stream
replaced or overlaid, an annotation added, a field value changed, the page tree
rebuilt, the DSS updated.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    ModificationLevel,
    SuspiciousModification,
)
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, read_certification_data
from pyhanko.sign.validation.status import SignatureCoverageLevel

from govtrust.validation.signatures._pdf_structure import PARSE_ERRORS

__all__ = [
    "Coverage",
    "ModificationAnalysis",
    "analyse_modifications",
    "certification_permission",
    "describe_revision",
    "describe_revisions",
]

_MAX_CHANGES = 40


class Coverage(enum.Enum):
    """How much of the file a signature's byte ranges cover (after pyHanko's
    ``SignatureCoverageLevel``)."""

    ENTIRE_FILE = "entire-file"
    ENTIRE_REVISION = "entire-revision"  # later incremental updates exist
    CONTIGUOUS_BLOCK = "contiguous-block-from-start"  # does not end at a revision end
    UNCLEAR = "unclear"  # gapped, overlapping, or past the end of the file


_COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: Coverage.ENTIRE_FILE,
    SignatureCoverageLevel.ENTIRE_REVISION: Coverage.ENTIRE_REVISION,
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: Coverage.CONTIGUOUS_BLOCK,
    SignatureCoverageLevel.UNCLEAR: Coverage.UNCLEAR,
}

_LEVEL_NAMES = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "lta-updates",
    ModificationLevel.FORM_FILLING: "form-filling",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other",
}

_PERMISSION_NAMES = {
    MDPPerm.NO_CHANGES: "P=1 (no changes)",
    MDPPerm.FILL_FORMS: "P=2 (form filling and signing)",
    MDPPerm.ANNOTATE: "P=3 (form filling, signing and annotations)",
}


def certification_permission(reader: PdfFileReader) -> MDPPerm | None:
    """The DocMDP permission of the document's certification signature
    (ISO 32000-1 §12.8.2.2: the catalog's ``/Perms /DocMDP``), or None."""
    try:
        info = read_certification_data(reader)
    except PARSE_ERRORS:  # includes SignatureValidationError: an unreadable /P
        return MDPPerm.NO_CHANGES
    return info.permission if info is not None else None


@dataclass(frozen=True)
class ModificationAnalysis:
    """What happened after one signature (``SignatureReport.details["modifications"]``).

    ``permitted`` is False when a later change is one the rules in force do not allow,
    or when the changes cannot be analysed (pyHanko found them suspicious, or the
    coverage is not a whole revision)."""

    coverage: Coverage
    later_revisions: int
    level: str
    permitted: bool
    permission: str | None
    changes: tuple[str, ...]
    reason: str | None = None
    diagnostic: str | None = None  # pyHanko's own words, for experts
    refused_revision: int | None = None  # 1-based, the first one not permitted

    @property
    def refused_changes(self) -> tuple[str, ...]:
        """The named changes of the first refused revision."""
        if self.refused_revision is None:
            return ()
        prefix = f"revision {self.refused_revision}: "
        return tuple(c for c in self.changes if c.startswith(prefix))

    def to_dict(self) -> dict[str, Any]:
        return {
            "coverage": self.coverage.value,
            "laterRevisions": self.later_revisions,
            "level": self.level,
            "permitted": self.permitted,
            "docMdp": self.permission,
            "changes": list(self.changes),
            **({"reason": self.reason} if self.reason else {}),
            **({"diffAnalysis": self.diagnostic} if self.diagnostic else {}),
            **({"refusedRevision": self.refused_revision} if self.refused_revision else {}),
        }


def analyse_modifications(
    embedded: EmbeddedPdfSignature, certification: MDPPerm | None
) -> ModificationAnalysis:
    """Coverage, the graded changes after ``embedded``'s revision and whether they are
    permitted. Never raises for a hostile file: an analysis that fails is reported as
    not permitted, with the reason."""
    reader = embedded.reader
    revision = int(embedded.signed_revision)
    later = reader.xrefs.total_revisions - 1 - revision
    try:
        coverage = _COVERAGE[embedded.evaluate_signature_coverage()]
    except PARSE_ERRORS:
        coverage = Coverage.UNCLEAR
    changes = tuple(describe_revisions(reader, range(revision + 1, revision + 1 + later)))
    own = _safe_docmdp(embedded)
    strictest = [p for p in (own, certification) if p is not None]
    permission = min(strictest, key=lambda p: p.value) if strictest else None
    permission_name = _PERMISSION_NAMES.get(permission) if permission else None
    if coverage is Coverage.ENTIRE_FILE:
        return ModificationAnalysis(coverage, later, "none", True, permission_name, changes)
    if coverage is not Coverage.ENTIRE_REVISION:
        reason: str | None = (
            "the signed bytes do not end at the end of a revision of the document"
            if coverage is Coverage.CONTIGUOUS_BLOCK
            else "the signed byte ranges do not form a standard revision coverage"
        )
        return ModificationAnalysis(
            coverage, later, "other", False, permission_name, changes, reason
        )
    return _review(embedded, coverage, later, changes, permission)


def _review(
    embedded: EmbeddedPdfSignature,
    coverage: Coverage,
    later: int,
    changes: tuple[str, ...],
    permission: MDPPerm | None,
) -> ModificationAnalysis:
    """pyHanko's review of every later revision against the signed one (what
    ``StandardDiffPolicy.review_file`` does, one revision at a time here so that the
    first refused revision can be named)."""
    reader = embedded.reader
    base = int(embedded.signed_revision)
    permission_name = _PERMISSION_NAMES.get(permission) if permission else None
    worst = ModificationLevel.NONE
    try:
        fieldmdp, own = embedded.fieldmdp, embedded.docmdp_level
        old = reader.get_historical_resolver(base)
    except PARSE_ERRORS:  # SignatureValidationError is a ValueError
        old, fieldmdp, own = None, None, None
    for revision in range(base + 1, base + 1 + later):
        diagnostic = None
        try:
            if old is None:
                raise SuspiciousModification("the signature's lock dictionaries cannot be read")
            result = DEFAULT_DIFF_POLICY.apply(
                old=old,
                new=reader.get_historical_resolver(revision),
                field_mdp_spec=fieldmdp,
                doc_mdp=own,
            )
            level = result.modification_level
        except SuspiciousModification as exc:
            level, diagnostic = ModificationLevel.OTHER, _first_line(str(exc))
        except PARSE_ERRORS as exc:
            level = ModificationLevel.OTHER
            diagnostic = f"the revision cannot be analysed ({type(exc).__name__})"
        worst = max(worst, level)
        allowed = level is not ModificationLevel.OTHER and (
            permission is None or level.value <= permission.value
        )
        if not allowed:
            if level is ModificationLevel.OTHER:
                reason = (
                    f"revision {revision + 1} changed the document after signing in a way"
                    " the PDF rules do not allow (not form filling, signing or"
                    " long-term validation data)"
                )
            else:
                reason = (
                    f"revision {revision + 1} made changes ({_LEVEL_NAMES[level]}) that"
                    f" DocMDP {permission_name} does not allow"
                )
            return ModificationAnalysis(
                coverage,
                later,
                _LEVEL_NAMES[level],
                False,
                permission_name,
                changes,
                reason,
                diagnostic,
                refused_revision=revision + 1,
            )
    return ModificationAnalysis(
        coverage, later, _LEVEL_NAMES[worst], True, permission_name, changes
    )


def _first_line(text: str) -> str:
    return text.splitlines()[0][:300] if text else text


def _safe_docmdp(embedded: EmbeddedPdfSignature) -> MDPPerm | None:
    try:
        return embedded.docmdp_level
    except PARSE_ERRORS:  # SignatureValidationError: an unreadable /P is the strictest
        return MDPPerm.NO_CHANGES


# -- naming the changes ------------------------------------------------------------


def _deref(obj: Any) -> Any:
    return obj.get_object()


def _pages(root: Any) -> dict[int, int]:
    """Object number of each page -> its 1-based page number (page tree walk,
    ISO 32000-1 §7.7.3.2, with a cycle guard)."""
    numbers: dict[int, int] = {}
    seen: set[int] = set()
    stack: list[Any] = [root.raw_get("/Pages")]
    order: list[int] = []
    while stack and len(seen) < 100_000:
        ref = stack.pop()
        if not isinstance(ref, generic.IndirectObject) or ref.idnum in seen:
            continue
        seen.add(ref.idnum)
        node = _deref(ref)
        if not isinstance(node, generic.DictionaryObject):
            continue
        if node.get("/Type") == "/Pages" or "/Kids" in node:
            kids = node.raw_get("/Kids")
            kids = _deref(kids) if isinstance(kids, generic.IndirectObject) else kids
            if isinstance(kids, list):
                stack.extend(reversed(kids))
        else:
            order.append(ref.idnum)
    for index, idnum in enumerate(order):
        numbers[idnum] = index + 1
    return numbers


def _content_refs(pages_root: Any, pages: dict[int, int]) -> dict[int, int]:
    """Object number of each content stream -> the page that draws it."""
    streams: dict[int, int] = {}
    resolver = pages_root
    for idnum, number in pages.items():
        try:
            page = resolver.get_object(generic.Reference(idnum, 0))
            contents = page.raw_get("/Contents")
        except PARSE_ERRORS:
            continue
        if isinstance(contents, generic.IndirectObject):
            target = _deref(contents)
            refs = list(target) if isinstance(target, list) else [contents]
        elif isinstance(contents, list):
            refs = list(contents)
        else:
            refs = []
        for ref in refs:
            if isinstance(ref, generic.IndirectObject):
                streams[ref.idnum] = number
    return streams


def _text(value: Any) -> str:
    try:
        return str(value.get_object())[:80]
    except PARSE_ERRORS:
        return "?"


def _array_refs(value: Any) -> list[int]:
    """Object numbers of a reference or an array of references (direct or indirect)."""
    try:
        if isinstance(value, generic.IndirectObject):
            target = _deref(value)
            if not isinstance(target, list):
                return [value.idnum]
            value = target
        if isinstance(value, list):
            return [v.idnum if isinstance(v, generic.IndirectObject) else -1 for v in value]
        return []
    except PARSE_ERRORS:
        return []


def _diff_keys(old: Any, new: Any) -> list[str]:
    keys = set(old.keys()) | set(new.keys()) if old is not None else set(new.keys())
    changed = []
    for key in sorted(str(k) for k in keys):
        try:
            before = old.raw_get(key) if old is not None and key in old else None
            after = new.raw_get(key) if key in new else None
        except PARSE_ERRORS:
            changed.append(key)
            continue
        if before != after:
            changed.append(key)
    return changed


_CATALOG_KEYS = {
    "/DSS": "the document security store (DSS: long-term validation data) was added or updated",
    "/AcroForm": "the interactive form (/AcroForm) was changed",
    "/Pages": "the page tree was replaced (/Pages)",
    "/Perms": "the document permissions (/Perms) were changed",
    "/OpenAction": "an action run when the document opens (/OpenAction) was changed",
    "/AA": "document-level actions (/AA) were changed",
    "/Names": "the name dictionary (/Names: may hold JavaScript, attachments) was changed",
    "/Metadata": "the XMP metadata was changed",
    "/OCProperties": "optional content (layers, /OCProperties) was changed",
}


def _describe_page(number: int, old: Any, new: Any) -> list[str]:
    out = []
    for key in _diff_keys(old, new):
        if key == "/Contents":
            before = _array_refs(old.raw_get(key)) if old is not None and key in old else []
            after = _array_refs(new.raw_get(key)) if key in new else []
            if before and after[: len(before)] == before and len(after) > len(before):
                out.append(
                    f"page {number}: {len(after) - len(before)} content stream(s) drawn over"
                    " the signed content (overlay)"
                )
            elif before and after[-len(before) :] == before and len(after) > len(before):
                out.append(
                    f"page {number}: {len(after) - len(before)} content stream(s) drawn"
                    " under the signed content"
                )
            else:
                out.append(f"page {number}: the page content (/Contents) was replaced")
        elif key == "/Annots":
            before_refs = (
                set(_array_refs(old.raw_get(key))) if old is not None and key in old else set()
            )
            after_refs = set(_array_refs(new.raw_get(key))) if key in new else set()
            added, removed = after_refs - before_refs, len(before_refs - after_refs)
            kinds = sorted({_annotation_kind(new, idnum) for idnum in added})
            what = f" ({', '.join(kinds)})" if kinds else ""
            out.append(
                f"page {number}: annotations changed ({len(added)} added{what}, {removed} removed)"
            )
        elif key == "/Resources":
            out.append(f"page {number}: resources (fonts, images, forms) changed")
        elif key in ("/MediaBox", "/CropBox", "/Rotate", "/UserUnit"):
            out.append(f"page {number}: page geometry ({key}) changed")
        elif key == "/AA":
            out.append(f"page {number}: page actions (/AA) changed")
        else:
            out.append(f"page {number}: {key} changed")
    return out


def _annotation_kind(page: Any, idnum: int) -> str:
    """ "signature field" for a signature widget, else the annotation's /Subtype."""
    try:
        annots = page.raw_get("/Annots")
        if isinstance(annots, generic.IndirectObject):
            annots = _deref(annots)
        for raw in annots:
            if isinstance(raw, generic.IndirectObject) and raw.idnum == idnum:
                annot = _deref(raw)
                return (
                    "signature field"
                    if annot.get("/FT") == "/Sig"
                    else _text(annot.get("/Subtype"))
                )
    except PARSE_ERRORS:
        pass
    return "?"


def _describe_object(
    ref: generic.Reference,
    old: Any,
    new: Any,
    pages: dict[int, int],
    contents: dict[int, int],
) -> list[str]:
    number = pages.get(ref.idnum)
    if isinstance(new, generic.StreamObject):
        if ref.idnum in contents:
            return [f"page {contents[ref.idnum]}: a content stream was rewritten"]
        if old is None:
            return []  # new streams are named by whatever refers to them
        subtype = _text(new.get("/Subtype")) if "/Subtype" in new else "stream"
        if new.get("/Type") == "/XObject":
            return [f"a {subtype} XObject (image or form drawn on a page) was changed"]
        if new.get("/Type") == "/Metadata":
            return ["the XMP metadata was changed"]
        return [f"object {ref.idnum} ({subtype}) was changed"]
    if not isinstance(new, generic.DictionaryObject):
        return [] if old is None else [f"object {ref.idnum} was changed"]
    kind = new.get("/Type")
    if kind == "/Catalog":
        return [
            _CATALOG_KEYS.get(key, f"document catalog entry {key} changed")
            for key in _diff_keys(old, new)
        ]
    if number is not None or kind == "/Page":
        if old is None:
            return [f"page object added{f' (page {number})' if number else ''}"]
        return _describe_page(number or 0, old, new)
    if kind == "/Pages":
        if old is None:
            return ["a page tree node was added"]
        changed = _diff_keys(old, new)
        if "/Kids" in changed or "/Count" in changed:
            return ["the page tree changed: pages were added, removed or replaced"]
        return [f"a page tree node changed ({', '.join(changed)})"] if changed else []
    if kind in ("/Sig", "/DocTimeStamp") or "/ByteRange" in new:
        what = "a document time-stamp" if kind == "/DocTimeStamp" else "a signature"
        return [f"{what} was added"] if old is None else [f"{what} dictionary was changed"]
    if "/FT" in new or ("/T" in new and "/Parent" not in new and kind != "/Annot"):
        field_type = _text(new.get("/FT")) if "/FT" in new else "field"
        name = _text(new.get("/T")) if "/T" in new else "?"
        if old is None:
            return [f"form field '{name}' ({field_type}) added"]
        changed = _diff_keys(old, new)
        if field_type == "/Sig" and "/V" in changed:
            return [f"signature field '{name}' was signed"]
        if "/V" in changed:
            return [f"form field '{name}' value changed"]
        if "/AP" in changed:
            return [f"form field '{name}' appearance changed"]
        return [f"form field '{name}' changed ({', '.join(changed)})"] if changed else []
    if kind == "/Annot" or ("/Subtype" in new and "/Rect" in new):
        subtype = _text(new.get("/Subtype"))
        if old is None:
            return [f"a {subtype} annotation was added"]
        changed = _diff_keys(old, new)
        return [f"a {subtype} annotation was changed ({', '.join(changed)})"] if changed else []
    if "/Fields" in new and kind is None:
        changed = _diff_keys(old, new) if old is not None else ["/Fields"]
        return [f"the interactive form (/AcroForm) changed ({', '.join(changed)})"]
    if kind in ("/DSS", "/VRI") or any(k in new for k in ("/OCSPs", "/CRLs", "/Certs")):
        return ["the document security store (DSS) was added or updated"]
    if old is None:
        return []
    changed = _diff_keys(old, new)
    what = f"{_text(kind)} " if kind is not None else ""
    return [f"object {ref.idnum} {what}changed ({', '.join(changed[:5])})"] if changed else []


def describe_revision(reader: PdfFileReader, revision: int) -> list[str]:
    """Plain-English names for what ``revision`` (> 0) writes over the one before."""
    xrefs = reader.xrefs
    old_resolver = reader.get_historical_resolver(revision - 1)
    new_resolver = reader.get_historical_resolver(revision)
    try:
        old_pages = _pages(old_resolver.root)
        new_pages = _pages(new_resolver.root)
    except PARSE_ERRORS:
        old_pages, new_pages = {}, {}
    pages = {**old_pages, **new_pages}
    try:
        contents = _content_refs(old_resolver, old_pages)
    except PARSE_ERRORS:
        contents = {}
    out: list[str] = []
    refs = sorted(xrefs.explicit_refs_in_revision(revision), key=lambda r: r.idnum)
    for ref in refs:
        try:
            new = new_resolver.get_object(ref)
        except PARSE_ERRORS:
            out.append(f"object {ref.idnum} cannot be read")
            continue
        existed = xrefs.get_historical_ref(ref, revision - 1) is not None
        try:
            old = old_resolver.get_object(ref) if existed else None
        except PARSE_ERRORS:
            old = None
        if (
            old is not None
            and type(old) is not type(new)
            and not isinstance(new, generic.StreamObject)
        ):
            out.append(f"object {ref.idnum} was replaced by an object of another type")
            continue
        try:
            out.extend(_describe_object(ref, old, new, pages, contents))
        except PARSE_ERRORS:
            out.append(f"object {ref.idnum} was changed")
    freed = xrefs.refs_freed_in_revision(revision)
    if freed:
        out.append(f"{len(freed)} object(s) deleted")
    if len(new_pages) != len(old_pages):
        out.append(f"the page count changed from {len(old_pages)} to {len(new_pages)}")
    return list(dict.fromkeys(out))


def describe_revisions(reader: PdfFileReader, revisions: Iterable[int]) -> list[str]:
    """The changes of each revision, prefixed with its number (1-based, as readers
    show them), capped at a readable length."""
    out: list[str] = []
    for revision in revisions:
        try:
            found = describe_revision(reader, revision)
        except PARSE_ERRORS:
            found = ["the revision cannot be analysed"]
        if not found:
            found = ["no object changed (a new cross-reference section only)"]
        out.extend(f"revision {revision + 1}: {text}" for text in found)
    if len(out) > _MAX_CHANGES:
        out = [*out[:_MAX_CHANGES], f"... and {len(out) - _MAX_CHANGES} more changes"]
    return out
