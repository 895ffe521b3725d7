"""Reading an untrusted PDF for validation: opening it, finding its signatures and
document time-stamps, checking each ``/ByteRange``, and collecting its DSS.

pyHanko (``PdfFileReader``, ``EmbeddedPdfSignature``) parses the file; what is written
here is what pyHanko leaves to its caller or does too leniently for a validator:

- ``/ByteRange`` rules (:func:`check_byte_range`). pyHanko hashes whatever ranges the
  dictionary names (``byte_range_digest``, "potentially dangerous") and only grades
  coverage afterwards. ISO 32000-1 §12.8.1 and ISO 32000-2 §12.8.1 require the range to
  cover the whole revision except the ``/Contents`` value; ETSI EN 319 142-1 §5.1 (the
  PAdES signature dictionary, after ISO 32000-1 §12.8.3.3) adds that the excluded
  part is exactly the ``/Contents`` hexadecimal string. Each rule broken is named.
- Enumerating signature fields one by one (pyHanko's ``embedded_signatures`` drops a
  field with an unknown ``/SubFilter`` silently and lets one malformed signature
  dictionary abort the whole list): here a malformed one becomes a finding of its own.
- DSS material (EN 319 142-1 §5.4.2: ``/Certs``, ``/OCSPs``, ``/CRLs`` and the per
  signature ``/VRI`` dictionaries) read leniently, one stream at a time.

Nothing here raises for bad input: the ``PdfProblem`` a caller gets names the problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from asn1crypto import cms
from cryptography import x509
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from govtrust import _pdf_hex

__all__ = [
    "PARSE_ERRORS",
    "ByteRangeCheck",
    "DssMaterial",
    "FoundSignature",
    "OpenedPdf",
    "PdfProblem",
    "check_byte_range",
    "find_signatures",
    "open_pdf",
    "read_dss",
]

_pdf_hex.install()  # pyHanko's hex-string reader took most of a validation's time

#: What pyHanko and asn1crypto raise on hostile input (pyHanko's own ``PdfError`` tree,
#: and the builtins its parsers let through: a truncated object, a missing key, a
#: cyclic reference chain, a bad integer, a short read).
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    misc.PdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,
    OverflowError,
    EOFError,
    UnicodeError,
    RuntimeError,  # pyHanko raises NotImplementedError (a RuntimeError) for unsupported filters
    OSError,
)


@dataclass(frozen=True)
class PdfProblem:
    """Why a PDF (or one signature of it) cannot be processed, in plain words."""

    message: str


@dataclass(frozen=True)
class OpenedPdf:
    reader: PdfFileReader
    strict: bool
    encrypted: bool
    findings: tuple[str, ...] = ()


def _describe_error(exc: BaseException) -> str:
    """A short reason naming pyHanko's message only for its own read errors (their text
    is about structure, never quotes content)."""
    if isinstance(exc, misc.PdfReadError) and str(exc):
        return str(exc).splitlines()[0][:200]
    if isinstance(exc, RecursionError):
        return "the object structure is too deeply nested or cyclic"
    return f"unreadable structure ({type(exc).__name__})"


def open_pdf(data: bytes) -> OpenedPdf | PdfProblem:
    """Open ``data`` with pyHanko, strictly first (ISO 32000 syntax; hybrid
    cross-reference files refused), then leniently; decrypt with the empty user
    password when encrypted. The whole trailer, catalog and revision list are read here
    so that a broken file shows now, not halfway through the validation."""
    if b"%PDF-" not in data[:1024]:
        return PdfProblem("not a PDF file (no %PDF- header)")
    findings: list[str] = []
    reader: PdfFileReader | None = None
    strict_error: BaseException | None = None
    for strict in (True, False):
        try:
            reader = PdfFileReader(BytesIO(data), strict=strict)
            if reader.encrypted:
                if not reader.decrypt(b"").status.value:
                    return PdfProblem(
                        "the PDF is encrypted and cannot be read without its password"
                    )
                findings.append("the PDF is encrypted (opened with the empty user password)")
            reader.root.get("/AcroForm")
            _ = reader.xrefs.total_revisions
            if strict and reader.xrefs.hybrid_xrefs_present:
                raise misc.PdfStrictReadError("hybrid cross-reference sections")
            break
        except PARSE_ERRORS as exc:
            reader = None
            if strict:
                strict_error = exc
                continue
            return PdfProblem(f"the PDF cannot be read: {_describe_error(exc)}")
    assert reader is not None
    if strict_error is not None:
        findings.append(
            "the PDF does not follow ISO 32000 syntax strictly"
            f" ({_describe_error(strict_error)}); it was read leniently"
        )
    return OpenedPdf(
        reader=reader, strict=reader.strict, encrypted=reader.encrypted, findings=tuple(findings)
    )


@dataclass(frozen=True)
class ByteRangeCheck:
    """The ``/ByteRange`` of one signature against ISO 32000-1 §12.8.1 and
    EN 319 142-1 §5.1. ``problems`` empty: two ranges from offset 0, separated by
    exactly this signature's ``/Contents`` hex string, inside the file; ``signed`` is
    then the signed bytes (the two ranges, concatenated)."""

    byte_range: tuple[int, ...]
    problems: tuple[str, ...]
    covered_end: int
    file_size: int
    signed: bytes = b""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def entire_file(self) -> bool:
        return self.ok and self.covered_end == self.file_size


_HEX_STRING = re.compile(rb"<[0-9A-Fa-f\s]*>")


def check_byte_range(data: bytes, raw_range: object, contents: bytes) -> ByteRangeCheck:
    """Check a ``/ByteRange`` (``raw_range``: the PDF array) of a signature whose
    ``/Contents`` string holds ``contents``.

    Rules, each failure named: four non-negative integers (two ranges; ISO 32000-1
    §12.8.1 allows more pairs in general, PAdES and every PDF signature handler in use
    write two); the first range starts at 0; the ranges neither overlap nor run past
    the end of the file; the bytes between them are exactly one hexadecimal string
    whose value is this signature's ``/Contents`` (nothing else left unsigned).
    """
    size = len(data)
    values: list[int] = []
    problems: list[str] = []
    try:
        items = list(raw_range) if isinstance(raw_range, list | tuple) else None
    except PARSE_ERRORS:
        items = None
    if items is None:
        return ByteRangeCheck((), ("the /ByteRange is not an array",), 0, size)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            return ByteRangeCheck(
                (), ("the /ByteRange holds a value that is not an integer",), 0, size
            )
        values.append(int(item))
    br = tuple(values)
    if len(values) != 4:
        return ByteRangeCheck(br, (f"the /ByteRange has {len(values)} numbers, not 4",), 0, size)
    start1, len1, start2, len2 = values
    if min(values) < 0:
        return ByteRangeCheck(br, ("the /ByteRange holds a negative number",), 0, size)
    end1, end2 = start1 + len1, start2 + len2
    if start1 != 0:
        problems.append(f"the signed bytes start at offset {start1}, not at the start of the file")
    if start2 < end1:
        problems.append(
            f"the two signed ranges overlap (the second starts at {start2}, inside the"
            f" first, which ends at {end1})"
        )
    if end2 > size or end1 > size:
        problems.append(
            f"the signed ranges end at offset {max(end1, end2)}, past the end of the"
            f" file ({size} bytes)"
        )
    if not problems:
        gap = data[end1:start2]
        if not _HEX_STRING.fullmatch(gap):
            problems.append(
                f"the {len(gap)} unsigned bytes between the ranges (offsets {end1} to"
                f" {start2}) are not just the /Contents hexadecimal string"
            )
        else:
            try:
                value = bytes.fromhex(re.sub(rb"\s", b"", gap[1:-1]).decode("ascii"))
            except ValueError:
                value = None
            if value != contents:
                problems.append(
                    "the unsigned bytes between the ranges are not this signature's /Contents value"
                )
    if problems:
        return ByteRangeCheck(br, tuple(problems), max(end1, end2), size)
    return ByteRangeCheck(br, (), end2, size, signed=data[start1:end1] + data[start2:end2])


@dataclass(frozen=True)
class FoundSignature:
    """One filled signature field: pyHanko's view of it, or why it cannot be read."""

    field_name: str
    embedded: EmbeddedPdfSignature | None
    problem: str | None = None
    sig_type: str = "/Sig"  # or "/DocTimeStamp"
    sub_filter: str | None = None
    revision: int | None = None

    @property
    def is_timestamp(self) -> bool:
        return self.sig_type == "/DocTimeStamp" or self.sub_filter == "/ETSI.RFC3161"


def _name(obj: Any) -> str | None:
    return str(obj) if isinstance(obj, generic.NameObject) else None


def find_signatures(reader: PdfFileReader) -> Iterator[FoundSignature]:
    """Every filled signature field (ISO 32000-1 §12.7.4.5), oldest revision first as
    far as each can be placed, malformed ones included as problems."""
    found: list[FoundSignature] = []
    for index, (fq_name, sig_obj, sig_field) in enumerate(
        enumerate_sig_fields(reader, filled_status=True)
    ):
        name = str(fq_name) if fq_name else f"signature-{index + 1}"
        sig_type, sub_filter = "/Sig", None
        try:
            value = sig_obj.get_object()
            if not isinstance(value, generic.DictionaryObject):
                raise misc.PdfReadError("the signature value is not a dictionary")
            sig_type = _name(value.get("/Type")) or "/Sig"
            sub_filter = _name(value.get("/SubFilter"))
            embedded = EmbeddedPdfSignature(reader, sig_field, name)
            if not isinstance(embedded.signed_data, cms.SignedData):
                raise misc.PdfReadError("/Contents is not a CMS SignedData")
            embedded.signer_info  # noqa: B018  (parsed now, not later)
            found.append(
                FoundSignature(
                    name, embedded, None, sig_type, sub_filter, int(embedded.signed_revision)
                )
            )
        except PARSE_ERRORS as exc:
            found.append(
                FoundSignature(
                    name,
                    None,
                    f"the signature dictionary cannot be read: {_describe_error(exc)}",
                    sig_type,
                    sub_filter,
                )
            )
    found.sort(key=lambda f: (f.revision is None, f.revision or 0))
    yield from found


@dataclass(frozen=True)
class DssMaterial:
    """What the Document Security Store holds (EN 319 142-1 §5.4.2), DER, deduplicated,
    and how many ``/VRI`` entries it has."""

    certificates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsp_responses: tuple[bytes, ...] = ()
    vri_entries: int = 0
    problems: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.certificates or self.crls or self.ocsp_responses)


def _streams(array: Any, problems: list[str], what: str) -> Iterator[bytes]:
    try:
        items = list(array.get_object())
    except PARSE_ERRORS:
        problems.append(f"the DSS {what} entry is not an array")
        return
    for item in items:
        try:
            stream = item.get_object()
            if not isinstance(stream, generic.StreamObject):
                raise misc.PdfReadError("not a stream")
            yield bytes(stream.data)
        except PARSE_ERRORS:
            problems.append(f"an entry of the DSS {what} array cannot be read")


def read_dss(reader: PdfFileReader) -> DssMaterial:
    """The DSS of the latest revision (its ``/Certs``, ``/OCSPs`` and ``/CRLs`` arrays
    and every ``/VRI`` dictionary's ``/Cert``, ``/OCSP`` and ``/CRL``)."""
    problems: list[str] = []
    try:
        dss = reader.root.get("/DSS")
        dss = dss.get_object() if dss is not None else None
    except PARSE_ERRORS:
        return DssMaterial(problems=("the DSS cannot be read",))
    if not isinstance(dss, generic.DictionaryObject):
        return DssMaterial()
    sources: list[tuple[Any, str]] = []
    for key, kind in (("/Certs", "cert"), ("/OCSPs", "ocsp"), ("/CRLs", "crl")):
        if key in dss:
            sources.append((dss.raw_get(key), kind))
    vri_count = 0
    try:
        vri = dss.get("/VRI")
        vri = vri.get_object() if vri is not None else None
        if isinstance(vri, generic.DictionaryObject):
            for key in list(vri.keys()):
                entry = vri[key]
                if not isinstance(entry, generic.DictionaryObject):
                    continue
                vri_count += 1
                for vkey, kind in (("/Cert", "cert"), ("/OCSP", "ocsp"), ("/CRL", "crl")):
                    if vkey in entry:
                        sources.append((entry.raw_get(vkey), kind))
    except PARSE_ERRORS:
        problems.append("the DSS /VRI dictionary cannot be read")
    certs: dict[bytes, x509.Certificate] = {}
    crls: dict[bytes, None] = {}
    ocsps: dict[bytes, None] = {}
    for array, kind in sources:
        for der in _streams(array, problems, kind):
            if kind == "cert":
                if der not in certs:
                    try:
                        certs[der] = x509.load_der_x509_certificate(der)
                    except ValueError:
                        problems.append("a DSS certificate is not DER X.509")
            elif kind == "crl":
                crls[der] = None
            else:
                ocsps[der] = None
    return DssMaterial(
        certificates=tuple(certs.values()),
        crls=tuple(crls),
        ocsp_responses=tuple(ocsps),
        vri_entries=vri_count,
        problems=tuple(dict.fromkeys(problems)),
    )
