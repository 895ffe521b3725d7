"""Validate a signed document of any supported format and build its report.

:func:`validate_document` recognises the input by its content (never by its name
alone): a PDF (``%PDF-`` in the first 1,024 bytes, ISO 32000-1 §7.5.2 lets a header
follow leading bytes), a ZIP container (ASiC, EN 319 162-1), XML, a CMS SignedData in
DER or PEM (CAdES, EN 319 122-1), or an RFC 3161 time-stamp reply or token. With
``detached``, ``data`` is the signed content and ``detached`` the signature (a .p7s,
a .tsr or a detached XML signature).

Input that is none of these raises :class:`~govtrust.errors.UnsupportedDocument`; a
recognised format that is malformed is validated: its report is TOTAL-FAILED with
FORMAT_FAILURE (EN 319 102-1 §5.2.2.4), since the format module never raises for bad
data.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib

from asn1crypto import cms, tsp
from pyhanko_certvalidator.fetchers import FetcherBackend

from govtrust.clock import Clock, SystemClock
from govtrust.errors import UnsupportedDocument
from govtrust.validation.policy import ValidationPolicy
from govtrust.validation.report import Report
from govtrust.validation.signatures import Environment, FormatResult

__all__ = ["DocumentKind", "detect", "validate_document"]


class DocumentKind(enum.Enum):
    PDF = "application/pdf"
    ZIP = "application/zip"  # ASiC-E or ASiC-S (application/vnd.etsi.asic-*+zip)
    XML = "application/xml"
    CMS = "application/pkcs7-signature"
    TIMESTAMP = "application/timestamp-reply"


_PEM_CMS = (b"-----BEGIN PKCS7-----", b"-----BEGIN CMS-----")


def _unpem(data: bytes) -> bytes:
    import base64

    body = data.strip().splitlines()[1:-1]
    return base64.b64decode(b"".join(body), validate=False)


def _der_kind(data: bytes) -> DocumentKind | None:
    """CMS SignedData, or an RFC 3161 TimeStampResp / TimeStampToken, by parsing."""
    if not data.startswith(b"\x30"):
        return None
    try:
        info = cms.ContentInfo.load(data, strict=True)
        ctype = info["content_type"].native
        if ctype == "signed_data":
            econtent = info["content"]["encap_content_info"]["content_type"].native
            return DocumentKind.TIMESTAMP if econtent == "tst_info" else DocumentKind.CMS
    except (ValueError, TypeError, KeyError):
        pass
    try:
        resp = tsp.TimeStampResp.load(data, strict=True)
        resp["status"]["status"].native  # noqa: B018  (forces parsing)
        return DocumentKind.TIMESTAMP
    except (ValueError, TypeError, KeyError):
        return _damaged_kind(data)


#: DER of the OIDs that name a damaged CMS: id-signedData (RFC 5652 §5.1) and
#: id-ct-TSTInfo (RFC 3161 §2.4.2).
_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")
_TST_INFO_OID = bytes.fromhex("060b2a864886f70d0109100104")


def _damaged_kind(data: bytes) -> DocumentKind | None:
    """A ContentInfo that does not parse (truncated, corrupted) but opens as a
    SignedData does: ``SEQUENCE { id-signedData, ... }`` (RFC 5652 §3). It is a CMS
    signature (or a time-stamp token when the TSTInfo content type follows), and its
    validation reports FORMAT_FAILURE rather than an unsupported document. The same
    for a damaged TimeStampResp, recognised by its opening PKIStatusInfo."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    size = data[1]
    start = 2 + (size & 0x7F if size & 0x80 else 0)
    if data[start : start + len(_SIGNED_DATA_OID)] == _SIGNED_DATA_OID:
        return DocumentKind.TIMESTAMP if _TST_INFO_OID in data[:96] else DocumentKind.CMS
    # TimeStampResp ::= SEQUENCE { status PKIStatusInfo ::= SEQUENCE { status
    # PKIStatus (INTEGER 0..5) ... } ... } (RFC 3161 §2.4.2)
    status = data[start : start + 7]
    if len(status) >= 5 and status[0] == 0x30 and status[2:4] == b"\x02\x01" and status[4] < 6:
        return DocumentKind.TIMESTAMP
    if len(status) >= 7 and status[0] == 0x30 and status[1] == 0x81 and status[3:5] == b"\x02\x01":
        return DocumentKind.TIMESTAMP if status[5] < 6 else None
    return None


def detect(data: bytes) -> DocumentKind | None:
    """The kind of a document or signature by its content, or None."""
    head = data[:1024]
    if b"%PDF-" in head:
        return DocumentKind.PDF
    if data.startswith(b"PK\x03\x04"):
        return DocumentKind.ZIP
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(_PEM_CMS):
        return DocumentKind.CMS
    if stripped.startswith(b"<"):
        return DocumentKind.XML
    return _der_kind(data)


def _cms_bytes(data: bytes) -> bytes:
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    return _unpem(stripped) if stripped.startswith(_PEM_CMS) else data


def _run(data: bytes, detached: bytes | None, env: Environment, name: str | None) -> FormatResult:
    from govtrust.validation.signatures import asic, cades, pades, xades

    if detached is not None:
        kind = detect(detached)
        if kind is DocumentKind.CMS:
            return cades.validate_cms(_cms_bytes(detached), env, detached=data)
        if kind is DocumentKind.TIMESTAMP:
            return cades.validate_timestamp_reply(detached, env, data=data)
        if kind is DocumentKind.XML:
            return xades.validate_xml(detached, env, detached={name or "": data})
        raise UnsupportedDocument(
            "the detached signature is not a CMS (.p7s), an RFC 3161 token (.tsr) or an"
            " XML signature"
        )
    kind = detect(data)
    if kind is DocumentKind.PDF:
        return pades.validate_pdf(data, env)
    if kind is DocumentKind.ZIP:
        return asic.validate_asic(data, env)
    if kind is DocumentKind.XML:
        return xades.validate_xml(data, env)
    if kind is DocumentKind.CMS:
        return cades.validate_cms(_cms_bytes(data), env)
    if kind is DocumentKind.TIMESTAMP:
        raise UnsupportedDocument(
            "a time-stamp token is validated against the data it stamps: give that data"
            " as the file and the token as the detached signature"
        )
    raise UnsupportedDocument(
        "not a signed document govtrust can validate (PDF, CMS/CAdES .p7s/.p7m, XML/XAdES,"
        " ASiC container, or a file with its detached signature)"
    )


def validate_document(
    data: bytes,
    policy: ValidationPolicy,
    *,
    detached: bytes | None = None,
    name: str | None = None,
    fetchers: FetcherBackend | None = None,
    clock: Clock | None = None,
) -> Report:
    """Validate every signature and time-stamp of ``data`` (or of ``detached`` over
    ``data``) under ``policy``; the report's top-level indication is the worst of its
    signatures'. ``name`` is the file name, reported and used as the reference URI of a
    detached XML signature."""
    env = Environment(policy=policy, clock=clock or SystemClock(), fetchers=fetchers)
    at: dt.datetime = env.validation_time
    result = _run(data, detached, env, name)
    document: dict[str, object] = {
        "name": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "format": result.format,
        **dict(result.details),
    }
    if detached is not None:
        document["detachedSignatureSha256"] = hashlib.sha256(detached).hexdigest()
    return Report(
        validation_time=at, policy=policy, signatures=result.signatures, document=document
    )
