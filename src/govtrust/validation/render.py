"""Renderings of a validation report: canonical JSON, a human HTML page and a PDF.

Every function here takes the report as its JSON form (:meth:`Report.to_dict`, or a
sealed report read back from a file), so that what a person reads is built from exactly
what the machine-readable report says. Sealing (the electronic seal over the JSON and
the PAdES signature on the PDF) is done by ``govtrust.services.verify``; this module
does no cryptography and no I/O beyond reading its template and fonts.

- :func:`canonical_json`: RFC 8785 JSON Canonicalization Scheme (JCS), the bytes a
  report's seal signs.
- :func:`render_html`: a standalone, accessible page (Jinja2 with autoescaping), in
  English or Arabic (``dir="rtl"``), with the machine-readable report embedded in
  ``<script type="application/json" id="govtrust-report">``.
- :func:`render_pdf`: an unsigned PDF (fpdf2) for the record, optionally carrying the
  sealed JSON as an embedded file (ISO 32000-1 §7.11.4).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

__all__ = [
    "LABELS",
    "LANGUAGES",
    "canonical_json",
    "embeddable_json",
    "render_html",
    "render_pdf",
]

# ---- RFC 8785 (JCS) -------------------------------------------------------------------
#
# Written here rather than taken from a library: none of govtrust's dependencies
# implements RFC 8785, and the PyPI packages that do are small single-author projects
# without releases for years. A report holds only objects, arrays, strings, integers,
# booleans and null (floats are handled too, for completeness); the whole scheme for
# those is the forty lines below, tested against the RFC's own examples (§3.2.2-3.2.4
# and Appendix B).

_MAX_SAFE = 2**53  # I-JSON (RFC 7493 §2.2): integers beyond ±2^53 are not interoperable


def _number(value: float) -> str:
    """ECMAScript Number::toString (ECMA-262 §6.1.6.1.20), as RFC 8785 §3.2.2.3 asks."""
    if not math.isfinite(value):
        raise ValueError("RFC 8785 §3.2.2.3: NaN and Infinity cannot be serialised")
    if value == 0:
        return "0"  # also -0
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMA-262 requires.
    mantissa, _, exp = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + (int(exp) if exp else 0)  # decimal point position in whole+frac
    point -= len(whole + frac) - len((whole + frac).lstrip("0"))
    digits = digits.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + f"e{'+' if e > 0 else '-'}{abs(e)}"
    return sign + text


_escape = json.encoder.encode_basestring
"""``json.dumps(s, ensure_ascii=False)`` for one string, without the encoder object
(the C ``c_encode_basestring`` when available): RFC 8785 §3.2.2.2's escaping."""


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _sorted_keys(value: Mapping[str, Any]) -> list[str]:
    """§3.2.3: member names sorted as arrays of UTF-16 code units. For ASCII names (every
    name of a report) that is the order of Python's own string comparison."""
    keys = list(value)
    for k in keys:
        if type(k) is not str:
            if not isinstance(k, str):
                raise ValueError("RFC 8785: object member names are strings")
            return sorted(keys, key=_utf16)
        if not k.isascii():
            return sorted(keys, key=_utf16)
    keys.sort()
    return keys


def _jcs_into(value: Any, out: list[str]) -> None:
    """Append the canonical form of ``value`` to ``out``: one pass, one join at the end,
    the types of a parsed report tested first (``type() is``), strings escaped by the C
    encoder; lone surrogates are refused once, on the whole output
    (:func:`canonical_json`)."""
    kind = type(value)
    if kind is str:
        out.append(_escape(value))
    elif kind is dict or (kind is not str and isinstance(value, Mapping)):
        if not value:
            out.append("{}")
            return
        sep = "{"
        for k in _sorted_keys(value):
            out.append(sep)
            out.append(_escape(k))
            out.append(":")
            _jcs_into(value[k], out)
            sep = ","
        out.append("}")
    elif kind is list or kind is tuple or isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        sep = "["
        for item in value:
            out.append(sep)
            _jcs_into(item, out)
            sep = ","
        out.append("]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE:
            raise ValueError(f"RFC 8785 §3.2.2.3: integer {value} is beyond ±2^53")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, str):
        out.append(_escape(value))
    else:
        raise ValueError(f"RFC 8785: {type(value).__name__} is not a JSON value")


def _jcs(value: Any) -> str:
    out: list[str] = []
    _jcs_into(value, out)
    return "".join(out)


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical form of a JSON value (parsed: dicts, lists, str, int,
    float, bool, None), UTF-8 encoded (§3.2.4). ValueError for what JCS cannot carry
    (a lone surrogate anywhere, §3.2.2.2, is found by the one UTF-8 encoding)."""
    try:
        return _jcs(value).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("RFC 8785 §3.2.2.2: lone surrogates cannot be serialised") from None


def embeddable_json(data: Mapping[str, Any]) -> str:
    """JSON safe inside an HTML ``<script>`` element (HTML §4.12.1.3: no ``</script``
    nor ``<!--``): ``<``, ``>`` and ``&`` are written as \\u escapes, which parse back
    to the same value, so the seal (over the canonical form) still verifies."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ---- labels ---------------------------------------------------------------------------

LANGUAGES = ("en", "ar")

#: The fixed labels of a report in each language; values from the report itself
#: (names, hashes, indications) are shown as they are.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Signature validation report",
        "verdict": "Verdict",
        "TOTAL-PASSED": "Valid: every signature passed validation",
        "TOTAL-FAILED": "Not valid: the validation failed",
        "INDETERMINATE": "Indeterminate: validity could not be established",
        "indication": "Indication",
        "subIndication": "Sub-indication",
        "message": "Message",
        "document": "Document",
        "name": "Name",
        "sha256": "SHA-256",
        "size": "Size (bytes)",
        "format": "Format",
        "validationTime": "Validation time",
        "policy": "Validation policy",
        "trustAnchors": "Trust anchors",
        "revocation": "Revocation checking",
        "disabledChecks": "Checks disabled by the policy",
        "signatures": "Signatures and time-stamps",
        "signature": "Signature",
        "timestamp": "Time-stamp",
        "certificate": "Certificate",
        "signer": "Signer",
        "signingTime": "Claimed signing time",
        "bestSignatureTime": "Proven signature time",
        "process": "Validation process",
        "chain": "Certificate chain",
        "role": "Role",
        "subject": "Subject",
        "issuer": "Issuer",
        "serialNumber": "Serial number",
        "validity": "Validity",
        "status": "Status",
        "revocationData": "Revocation data used",
        "source": "Source",
        "thisUpdate": "This update",
        "nextUpdate": "Next update",
        "certificateStatus": "Certificate status",
        "poes": "Proofs of existence",
        "object": "Object",
        "time": "Time",
        "details": "Format details",
        "none": "none",
        "seal": "Electronic seal of this report",
        "sealFormat": "Seal format",
        "canonicalization": "Canonicalization",
        "credential": "Sealed with",
        "notSealed": "This rendering carries no seal; the sealed JSON report is authoritative.",
        "machine": "Machine-readable report",
        "generator": "Generated by",
        "checkSeal": "Check this report's seal with: govtrust verify report.json",
    },
    "ar": {
        "title": "تقرير التحقق من التوقيعات",
        "verdict": "النتيجة",
        "TOTAL-PASSED": "صالح: اجتازت جميع التوقيعات التحقق",
        "TOTAL-FAILED": "غير صالح: فشل التحقق",
        "INDETERMINATE": "غير حاسم: تعذّر إثبات الصلاحية",
        "indication": "المؤشر",
        "subIndication": "المؤشر الفرعي",
        "message": "الرسالة",
        "document": "المستند",
        "name": "الاسم",
        "sha256": "بصمة SHA-256",
        "size": "الحجم (بايت)",
        "format": "الصيغة",
        "validationTime": "وقت التحقق",
        "policy": "سياسة التحقق",
        "trustAnchors": "مراسي الثقة",
        "revocation": "التحقق من الإلغاء",
        "disabledChecks": "فحوص عطّلتها السياسة",
        "signatures": "التوقيعات والأختام الزمنية",
        "signature": "توقيع",
        "timestamp": "ختم زمني",
        "certificate": "شهادة",
        "signer": "الموقّع",
        "signingTime": "وقت التوقيع المُعلَن",
        "bestSignatureTime": "وقت التوقيع المُثبَت",
        "process": "عملية التحقق",
        "chain": "سلسلة الشهادات",
        "role": "الدور",
        "subject": "صاحب الشهادة",
        "issuer": "المُصدِر",
        "serialNumber": "الرقم التسلسلي",
        "validity": "الصلاحية",
        "status": "الحالة",
        "revocationData": "بيانات الإلغاء المستخدمة",
        "source": "المصدر",
        "thisUpdate": "هذا التحديث",
        "nextUpdate": "التحديث التالي",
        "certificateStatus": "حالة الشهادة",
        "poes": "إثباتات الوجود",
        "object": "الكائن",
        "time": "الوقت",
        "details": "تفاصيل الصيغة",
        "none": "لا يوجد",
        "seal": "الختم الإلكتروني لهذا التقرير",
        "sealFormat": "صيغة الختم",
        "canonicalization": "التوحيد القياسي",
        "credential": "خُتم باستخدام",
        "notSealed": "هذا العرض غير مختوم؛ المرجع هو تقرير JSON المختوم.",
        "machine": "التقرير المقروء آليًا",
        "generator": "أُنشئ بواسطة",
        "checkSeal": "تحقق من ختم هذا التقرير بالأمر: govtrust verify report.json",
    },
}


def _labels(lang: str) -> dict[str, str]:
    if lang not in LABELS:
        raise ValueError(
            f"unsupported report language {lang!r} (use one of: {', '.join(LANGUAGES)})"
        )
    return LABELS[lang]


# ---- HTML -------------------------------------------------------------------------------


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("govtrust.validation", "templates"),
        autoescape=True,  # every value is escaped: subject names come from anyone
        undefined=jinja2.ChainableUndefined,  # optional members render as empty
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _entries(signatures: Sequence[Mapping[str, Any]], depth: int = 0) -> list[dict[str, Any]]:
    """Signatures then their time-stamps, flattened with their nesting depth."""
    out: list[dict[str, Any]] = []
    for sig in signatures:
        out.append({"depth": depth, "entry": sig})
        out += _entries(sig.get("timestamps") or (), depth + 1)
    return out


def render_html(
    report: Mapping[str, Any], *, lang: str = "en", embedded: Mapping[str, Any] | None = None
) -> str:
    """A standalone HTML page of ``report`` (its JSON form) in ``lang`` (``en`` or
    ``ar``). ``embedded`` is the JSON placed in ``<script id="govtrust-report">``
    (the sealed report); by default the report itself."""
    labels = _labels(lang)
    template = _environment().get_template("report.html")
    return template.render(
        r=report,
        lang=lang,
        dir="rtl" if lang == "ar" else "ltr",
        t=labels,
        entries=_entries(report.get("signatures") or ()),
        seal=(embedded or {}).get("seal") or report.get("seal"),
        machine=embeddable_json(embedded if embedded is not None else report),
        verdict_class={
            "TOTAL-PASSED": "passed",
            "TOTAL-FAILED": "failed",
        }.get(str(report.get("indication")), "indeterminate"),
    )


# ---- PDF --------------------------------------------------------------------------------

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/noto"))
#: Debian fonts-dejavu-core (Latin, Greek, Cyrillic, and more) first, then
#: fonts-noto-core faces for scripts DejaVu lacks, used glyph by glyph as fallbacks.
_FONTS = (
    ("dejavu", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("noto-arabic", "NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf"),
    ("noto-hebrew", "NotoSansHebrew-Regular.ttf", "NotoSansHebrew-Bold.ttf"),
    ("noto-devanagari", "NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf"),
    ("noto-ethiopic", "NotoSansEthiopic-Regular.ttf", "NotoSansEthiopic-Bold.ttf"),
    ("noto-thai", "NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf"),
)


def _find_font(name: str) -> Path | None:
    for directory in _FONT_DIRS:
        if (directory / name).is_file():
            return directory / name
    return None


def _setup_fonts(pdf: Any) -> str:
    """Register the fonts found; the main family's name, or ``helvetica`` (a PDF core
    font, Latin-1 only) when DejaVu is not installed."""
    families: list[str] = []
    for family, regular, bold in _FONTS:
        regular_path, bold_path = _find_font(regular), _find_font(bold)
        if regular_path is None:
            continue
        pdf.add_font(family, "", str(regular_path))
        pdf.add_font(family, "B", str(bold_path or regular_path))
        families.append(family)
    if not families or families[0] != "dejavu":
        return "helvetica"
    if len(families) > 1:
        pdf.set_fallback_fonts(families[1:], exact_match=False)
    # Contextual shaping and bidi for Arabic names: fpdf2 does it with uharfbuzz (a
    # dependency; checked so that a bare install still renders, unjoined).
    if importlib.util.find_spec("uharfbuzz") is not None:
        pdf.set_text_shaping(True)
    return "dejavu"


class _Writer:
    """Sections of label/value lines on an fpdf2 document."""

    def __init__(self, pdf: Any, family: str, labels: Mapping[str, str]) -> None:
        self.pdf, self.family, self.t = pdf, family, labels
        self.latin1 = family == "helvetica"

    def text(self, value: Any) -> str:
        text = "—" if value is None or value == "" else str(value)
        if self.latin1:
            text = text.replace("—", "-").encode("latin-1", "replace").decode("latin-1")
        return text

    def heading(self, text: str, size: float = 13) -> None:
        pdf = self.pdf
        pdf.ln(2)
        pdf.set_font(self.family, "B", size)
        pdf.multi_cell(0, size * 0.55, self.text(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(self.family, "", 9)

    def field(self, label: str, value: Any, indent: float = 0) -> None:
        pdf = self.pdf
        pdf.set_x(pdf.l_margin + indent)
        pdf.set_font(self.family, "B", 9)
        width = 48
        pdf.cell(width, 5, self.text(self.t.get(label, label)))
        pdf.set_font(self.family, "", 9)
        pdf.multi_cell(
            0, 5, self.text(value), new_x="LMARGIN", new_y="NEXT", wrapmode="CHAR", align="L"
        )


def _pdf_signature(w: _Writer, sig: Mapping[str, Any], depth: int) -> None:
    kind = str(sig.get("type") or "signature")
    indent = 6.0 * depth
    w.heading(f"{w.t.get(kind, kind)} {sig.get('id', '')}", 11)
    w.field("indication", sig.get("indication"), indent)
    w.field("subIndication", sig.get("subIndication"), indent)
    w.field("message", sig.get("message"), indent)
    w.field("format", sig.get("format"), indent)
    w.field("signer", sig.get("signer"), indent)
    w.field("signingTime", sig.get("signingTime"), indent)
    times = sig.get("validationTimeInfo") or {}
    w.field("bestSignatureTime", times.get("bestSignatureTime"), indent)
    w.field("validationTime", times.get("validationTime"), indent)
    w.field("process", sig.get("validationProcess"), indent)
    for number, cert in enumerate(sig.get("certificateChain") or (), 1):
        w.field("chain", f"{number}. {cert.get('role')}: {cert.get('subject')}", indent)
        w.field("issuer", cert.get("issuer"), indent + 6)
        w.field("serialNumber", cert.get("serialNumber"), indent + 6)
        w.field("validity", f"{cert.get('notBefore')} – {cert.get('notAfter')}", indent + 6)
        revocation = cert.get("revocation") or {}
        w.field(
            "status",
            f"{cert.get('status')} ({w.t['revocation']}: {revocation.get('status')})",
            indent + 6,
        )
        w.field("sha256", cert.get("sha256"), indent + 6)
    for data in sig.get("revocationData") or ():
        w.field(
            "revocationData",
            f"{str(data.get('type', '')).upper()} {w.t['source']}: {data.get('source')}; "
            f"{data.get('issuer')}; {w.t['thisUpdate']}: {data.get('thisUpdate')}; "
            f"{w.t['certificateStatus']}: {data.get('certificateStatus')}",
            indent,
        )
    for poe in sig.get("proofsOfExistence") or ():
        w.field("poes", f"{poe.get('time')}: {poe.get('object')} ({poe.get('source')})", indent)
    details = sig.get("details") or {}
    if details:
        w.field("details", json.dumps(details, ensure_ascii=False, sort_keys=True), indent)
    for stamp in sig.get("timestamps") or ():
        _pdf_signature(w, stamp, depth + 1)


def render_pdf(
    report: Mapping[str, Any],
    *,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    created: dt.datetime | None = None,
) -> bytes:
    """An unsigned PDF of ``report`` (its JSON form). ``attachments`` (name, bytes,
    description) are embedded files: the sealed JSON report travels with its
    rendering. The PDF is in English; names are drawn with DejaVu and Noto fonts when
    installed (Debian fonts-dejavu-core, fonts-noto-core), otherwise in Helvetica with
    characters outside Latin-1 replaced by '?'."""
    from fpdf import FPDF

    labels = LABELS["en"]
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_margins(15, 15, 15)
    pdf.set_title(labels["title"])
    pdf.set_creator(str(report.get("generator") or "govtrust"))
    pdf.set_lang("en")
    if created is not None:
        pdf.set_creation_date(created)
    family = _setup_fonts(pdf)
    pdf.add_page()
    w = _Writer(pdf, family, labels)
    indication = str(report.get("indication"))
    w.heading(labels["title"], 16)
    w.heading(f"{labels['verdict']}: {labels.get(indication, indication)}", 13)
    w.field("indication", indication)
    w.field("subIndication", report.get("subIndication"))
    w.field("message", report.get("message"))
    w.field("validationTime", report.get("validationTime"))
    document = report.get("document") or {}
    w.heading(labels["document"])
    for key in ("name", "format", "size", "sha256"):
        w.field(key, document.get(key))
    policy = report.get("policy") or {}
    w.heading(labels["policy"])
    w.field("revocation", policy.get("revocation"))
    w.field("validationTime", policy.get("validationTime"))
    w.field("disabledChecks", ", ".join(policy.get("disabledChecks") or ()) or labels["none"])
    for anchor in policy.get("trustAnchors") or ():
        w.field("trustAnchors", f"{anchor.get('subject')} (SHA-256 {anchor.get('sha256')})")
    w.heading(labels["signatures"])
    signatures = report.get("signatures") or ()
    if not signatures:
        w.field("signatures", labels["none"])
    for sig in signatures:
        _pdf_signature(w, sig, 0)
    seal = report.get("seal")
    w.heading(labels["seal"])
    if isinstance(seal, Mapping):
        w.field("sealFormat", seal.get("format"))
        w.field("credential", seal.get("credential"))
    w.field("generator", report.get("generator"))
    pdf.set_font(family, "", 8)
    pdf.multi_cell(0, 4, w.text(labels["checkSeal"]), new_x="LMARGIN", new_y="NEXT", align="L")
    for name, data, description in attachments:
        pdf.embed_file(bytes=data, basename=name, desc=description, mime_type="application/json")
    return bytes(pdf.output())
