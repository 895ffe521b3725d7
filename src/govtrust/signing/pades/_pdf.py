"""Opening PDFs for signing, and turning whatever a hostile PDF makes pyHanko raise into
one clear :class:`~govtrust.errors.MalformedDocument`.

pyHanko reads lazily: a truncated cross-reference table can surface when the trailer is
read, a broken page tree only when a stamp is placed on page 1, a bad object stream
while the update is written. So the whole signing run is guarded, not only the open.
pyHanko's strict mode is kept (hybrid cross-reference files are refused, as they can
show different content to different readers), and encrypted PDFs are refused: signing
one would need its password, and the signature would cover ciphertext.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import TypeVar

from asn1crypto import cms
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.general import SigningError

from govtrust import _pdf_hex
from govtrust.errors import Error, MalformedDocument, SigningFailed

_pdf_hex.install()  # signed PDFs are re-read to be augmented: ~10 ms per /Contents

__all__ = ["MAX_PDF_BYTES", "cms_from_contents", "guarded", "open_pdf"]

T = TypeVar("T")

MAX_PDF_BYTES = 256 * 1024 * 1024
"""PDFs above this size are refused before parsing (pyHanko reads the file in memory)."""


def open_pdf(pdf: bytes) -> IncrementalPdfFileWriter:
    """An incremental writer on ``pdf``; MalformedDocument if it is not a usable PDF."""
    if len(pdf) > MAX_PDF_BYTES:
        raise MalformedDocument("pades", f"the PDF is larger than {MAX_PDF_BYTES} bytes")
    if not pdf.lstrip()[:5] == b"%PDF-":
        raise MalformedDocument("pades", "not a PDF file (no %PDF- header)")
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=True)
    if writer.prev.encrypted or writer.security_handler is not None:
        raise MalformedDocument("pades", "the PDF is encrypted: decrypt it before signing")
    return writer


def guarded(run: Callable[[], T]) -> T:
    """Run a pyHanko operation on an untrusted PDF; its failures become govtrust errors.

    pyHanko's ``SigningError`` is a refusal about the signature (a certificate that does
    not validate, a document whose DocMDP rules forbid another signature) and becomes
    SigningFailed; anything else raised while reading or writing the PDF means the file
    cannot be processed and becomes MalformedDocument, naming only the exception's type
    (its text may quote file content).
    """
    try:
        return run()
    except Error:
        raise
    except SigningError as exc:
        raise SigningFailed("sign", f"pyHanko refused to sign: {exc}") from None
    except PdfError as exc:
        raise MalformedDocument("pades", f"the PDF cannot be processed: {exc}") from None
    except (RecursionError, MemoryError):
        raise MalformedDocument("pades", "the PDF is too deeply nested or too large") from None
    except Exception as exc:  # hostile input makes parsers raise anything
        raise MalformedDocument(
            "pades", f"the PDF cannot be processed ({type(exc).__name__})"
        ) from None


def cms_from_contents(raw: bytes) -> bytes:
    """The DER CMS out of a signature's ``/Contents`` value (the DER followed by the
    zero padding of the reserved space)."""
    parsed = cms.ContentInfo.load(raw, strict=False)
    return raw[: len(parsed.dump())]
