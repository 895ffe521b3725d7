"""govtrust's hexadecimal-string reader gives what pyHanko's own gives, or fails alike.

The cases: the shapes a signature's ``/Contents`` takes, white space of every kind
(ISO 32000-1 §7.2.2), an odd number of digits (§7.3.4.3), text that pdf_string turns
into a TextStringObject, and what must fall back to pyHanko: comments, stray
characters, a missing ``>``, chunk boundaries. Each is read by both functions from the
same bytes; the value, its type and where the stream is left must agree.
"""

from __future__ import annotations

import os
import random
from io import BytesIO

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError

from govtrust import _pdf_hex
from govtrust._pdf_hex import pyhanko_read_hex_string, read_hex_string


def _both(data: bytes) -> tuple[object, int, object, int]:
    ours_stream, theirs_stream = BytesIO(data), BytesIO(data)
    ours = read_hex_string(ours_stream)
    theirs = pyhanko_read_hex_string(theirs_stream)
    return ours, ours_stream.tell(), theirs, theirs_stream.tell()


def _random_hex(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n).hex().encode()


CASES = [
    b"<>",
    b"<00>",
    b"<0>",
    b"<abc>",
    b"<ABCDEF0123456789>",
    b"<FEFF00480069>",  # UTF-16BE with a BOM: a TextStringObject
    b"< 48 65\n6c\r6c\t6f\x0c\x00 >",
    b"<4865 6c6c 6f> trailing /Name 12 0 R",
    b"<" + b"0" * 20000 + b">",
    b"<" + b"ab" * (64 * 1024) + b">>",  # the ">" after a chunk boundary
    b"<" + b"a" * (64 * 1024 - 1) + b">",  # the ">" as the last byte of a chunk
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_same_value_type_and_position(data: bytes) -> None:
    ours, ours_at, theirs, theirs_at = _both(data)
    assert type(ours) is type(theirs)
    assert ours == theirs
    assert ours_at == theirs_at


def test_random_signature_contents() -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    for _ in range(50):
        digits = _random_hex(rng, rng.randrange(0, 9000))
        if rng.random() < 0.5:
            digits = digits.upper()
        cut = rng.randrange(0, len(digits) + 1)
        data = b"<" + digits[:cut] + b"\n" + digits[cut:] + b">" + b" endobj"
        ours, ours_at, theirs, theirs_at = _both(data)
        assert (ours, ours_at) == (theirs, theirs_at)
        assert bytes(ours.original_bytes) == bytes.fromhex(digits.decode())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "data",
    [
        b"<48 % a comment\n65>",  # pyHanko skips a comment here; so do we, through it
    ],
)
def test_comments_fall_back_to_pyhanko(data: bytes) -> None:
    ours, ours_at, theirs, theirs_at = _both(data)
    assert (ours, ours_at) == (theirs, theirs_at)


@pytest.mark.parametrize("data", [b"<48zz>", b"<4865", b"<", b"<48 65 /Name>"])
def test_bad_strings_fail_as_in_pyhanko(data: bytes) -> None:
    with pytest.raises(PdfStreamError) as theirs:
        pyhanko_read_hex_string(BytesIO(data))
    with pytest.raises(PdfStreamError) as ours:
        read_hex_string(BytesIO(data))
    assert str(ours.value) == str(theirs.value)


def test_installed_where_pyhanko_reads_objects() -> None:
    _pdf_hex.install()
    _pdf_hex.install()  # idempotent: the fallback stays pyHanko's own function
    assert generic.read_hex_string_from_stream is read_hex_string
    assert pyhanko_read_hex_string is not read_hex_string
    stream = BytesIO(b"<3082 010> 0 R")
    obj = generic.read_object(stream, None)  # type: ignore[arg-type]
    assert bytes(obj) == b"\x30\x82\x01\x00" and stream.tell() == len(b"<3082 010>")
