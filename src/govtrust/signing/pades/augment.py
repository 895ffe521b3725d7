"""Augmenting the signatures of a PDF (ETSI EN 319 142-1 §6.3, levels as in
:mod:`govtrust.signing.pades.sign`), each step an incremental update:

``B-T``   a document time-stamp, when a signature has no signature-time-stamp
          (EN 319 142-1 accepts either for B-T) and the file has no document time-stamp.
``B-LT``  a DSS with the certificates and revocation data of every signature's and
          every time-stamp's chain (signature time-stamps and document time-stamps).
``B-LTA`` + a new document time-stamp over the whole file (and its DSS). Applied to a
          B-LTA file, this renews the time-stamp chain: the DSS then also covers the
          previous document time-stamp's TSA (§5.4.3, "LTA augmentation").
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from io import BytesIO
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.validation import DocumentSecurityStore

from govtrust.crypto._pyhanko import to_asn1
from govtrust.errors import InputError, MalformedDocument
from govtrust.signing._ltv import build_chain, collect, embedded_certificates, signer_certificate
from govtrust.signing._tsp import TransportTimeStamper
from govtrust.signing.api import SignedDocument, SigningServices
from govtrust.signing.levels import Level, SignatureFormat
from govtrust.signing.pades._pdf import cms_from_contents, guarded, open_pdf
from govtrust.signing.pades.sign import MEDIA_TYPE, tsa_chain

__all__ = ["augment_pdf"]

_SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14"


def _timestamp_tokens(signed_data: Any) -> list[Any]:
    signer_info = signed_data["signer_infos"][0]
    out = []
    for attr in signer_info["unsigned_attrs"] or ():
        if attr["type"].dotted == _SIGNATURE_TIME_STAMP:
            out.extend(attr["values"])
    return out


def _chain_of(signed_data: Any, pool: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    cert = signer_certificate(signed_data, signed_data["signer_infos"][0])
    if cert is None:
        raise MalformedDocument("pades", "a signature in the PDF does not carry its certificate")
    return build_chain(cert, [*embedded_certificates(signed_data), *pool])


def _chains(reader: Any, pool: Sequence[x509.Certificate]) -> list[list[x509.Certificate]]:
    chains = []
    for embedded in reader.embedded_signatures:  # signatures and document time-stamps
        chains.append(_chain_of(embedded.signed_data, pool))
        for token in _timestamp_tokens(embedded.signed_data):
            chains.append(_chain_of(token["content"], pool))
    return chains


def _dss_certificates(reader: Any) -> list[x509.Certificate]:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:  # no DSS (pyHanko raises its own error), or an unreadable one
        return []
    return [x509.load_der_x509_certificate(c.dump()) for c in dss.load_certs()]


async def _augment(pdf: bytes, level: Level, services: SigningServices) -> bytes:
    writer = open_pdf(pdf)
    reader = writer.prev
    embedded = list(reader.embedded_signatures)
    if not embedded:
        raise MalformedDocument("pades", "the PDF has no signature to augment")
    timestamper = TransportTimeStamper(services.transport())
    has_doc_ts = bool(reader.embedded_timestamp_signatures)
    lacks_ts = any(
        not _timestamp_tokens(sig.signed_data) for sig in reader.embedded_regular_signatures
    )
    document_timestamp = level.at_least(Level.B_LTA) or (
        level.at_least(Level.B_T) and lacks_ts and not has_doc_ts
    )
    output = BytesIO(pdf)
    if level.at_least(Level.B_LT):
        pool = [*_dss_certificates(reader), *services.pool]
        chains = _chains(reader, pool)
        if document_timestamp:
            chains.append(await tsa_chain(timestamper, "sha256", pool))
        data = collect(chains, services.source())
        DocumentSecurityStore.supply_dss_in_writer(
            writer,
            None,  # no VRI entries: optional in EN 319 142-1 §5.4.2
            certs=[to_asn1(c) for c in data.certificates],
            ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in data.ocsps],
            crls=[asn1_crl.CertificateList.load(c) for c in data.crls],
        )
        output = BytesIO()
        writer.write(output)  # type: ignore[no-untyped-call]
    if document_timestamp:
        stamper = signers.PdfTimeStamper(timestamper)
        stamped = await stamper.async_timestamp_pdf(
            IncrementalPdfFileWriter(output, strict=True), "sha256", in_place=True
        )
        output = stamped
    return bytes(output.getvalue())


def augment_pdf(pdf: bytes, level: Level, services: SigningServices) -> SignedDocument:
    """The PDF with its signatures brought up to ``level``; ``produced`` is the CMS of
    the new document time-stamp, or the new revision's bytes when only a DSS is added."""
    before = len(pdf)
    augmented = guarded(lambda: asyncio.run(_augment(pdf, level, services)))
    if len(augmented) == before:
        raise InputError(f"nothing to add: the PDF is already at {level.value}")
    produced = _last_contents(augmented) or augmented[before:]
    return SignedDocument(
        data=augmented,
        produced=produced,
        format=SignatureFormat.PADES,
        level=level,
        media_type=MEDIA_TYPE,
        suffix=".pdf",
    )


def _last_contents(pdf: bytes) -> bytes | None:
    """The CMS of the document time-stamp just added, if the last revision holds one."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(BytesIO(pdf), strict=False)
    stamps = reader.embedded_timestamp_signatures
    if not stamps:
        return None
    last = stamps[-1]
    if last.signed_revision != reader.xrefs.total_revisions - 1:
        return None
    return cms_from_contents(bytes(last.pkcs7_content))
