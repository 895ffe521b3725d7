"""A faster reader of PDF hexadecimal strings for pyHanko's parser.

Why: pyHanko reads a hexadecimal string (ISO 32000-1 §7.3.4.3) one byte at a time,
through a generator and ``read_non_whitespace``. A signature's ``/Contents`` is such a
string, 16-32 KiB of hexadecimal digits, so reading it was ~10 ms: more than half of
validating a one-page PAdES document, and as much again whenever a signed PDF is
opened to be augmented (bench/README.md, "PAdES validation").

:func:`read_hex_string` finds the closing ``>`` with one ``find``, checks the run with
one regular expression, and decodes it with ``binascii``. It returns what pyHanko's
``read_hex_string_from_stream`` returns for the same input (a ``ByteStringObject`` or
``TextStringObject`` via ``pdf_string``; an odd number of digits is completed with
``0``, §7.3.4.3) and leaves the stream just after the ``>``. Anything but digits and
white space before the ``>`` (a comment, a stray character) or no ``>`` at all is
handed, from the same position, to pyHanko's own function, which then reads or
refuses it exactly as before. tests/unit/test_pdf_hex.py compares both readers.

:func:`install` puts it in ``pyhanko.pdf_utils.generic``, where ``read_object`` looks
the function up at every call; it is idempotent and done when govtrust's PDF
signature modules are imported.
"""

from __future__ import annotations

import binascii
import re
from typing import IO, Any

from pyhanko.pdf_utils import generic

__all__ = ["install", "pyhanko_read_hex_string", "read_hex_string"]

pyhanko_read_hex_string = getattr(
    generic.read_hex_string_from_stream, "pyhanko_original", generic.read_hex_string_from_stream
)
"""pyHanko's own reader (the fallback)."""

_CHUNK = 64 * 1024
_DIGITS_AND_SPACE = re.compile(rb"[0-9A-Fa-f\x00\t\n\x0c\r ]*")
_WHITESPACE = b"\x00\t\n\x0c\r "  # ISO 32000-1 §7.2.2, Table 1


def read_hex_string(stream: IO[bytes]) -> Any:
    """Read ``<...>`` from ``stream`` (positioned at the ``<``), as pyHanko does."""
    start = stream.tell()
    stream.read(1)  # the "<"
    parts: list[bytes] = []
    while True:
        chunk = stream.read(_CHUNK)
        end = chunk.find(b">")
        if end >= 0:
            parts.append(chunk[:end])
            break
        if not chunk:
            return _fallback(stream, start)
        parts.append(chunk)
    body = b"".join(parts)
    if _DIGITS_AND_SPACE.fullmatch(body) is None:
        return _fallback(stream, start)
    stream.seek(start + 1 + len(body) + 1)
    digits = body.translate(None, _WHITESPACE)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def _fallback(stream: IO[bytes], start: int) -> Any:
    stream.seek(start)
    return pyhanko_read_hex_string(stream)


def install() -> None:
    """Make pyHanko's object reader use :func:`read_hex_string`."""
    read_hex_string.pyhanko_original = pyhanko_read_hex_string  # type: ignore[attr-defined]
    generic.read_hex_string_from_stream = read_hex_string
