"""Renderings of a validation report: RFC 8785 canonical JSON against the RFC's own
examples, the HTML page (escaping, the embedded machine-readable report, Arabic) and
the PDF (read back with poppler's pdftotext and pdfdetach)."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from govtrust.validation.render import canonical_json, render_html, render_pdf

# ---- RFC 8785 -----------------------------------------------------------------------------

# RFC 8785 §3.2.2: the sample input, and §3.2.4: its canonical form as UTF-8 bytes.
RFC_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC_OUTPUT_HEX = """
7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d
"""

# RFC 8785 Appendix B: IEEE 754 doubles (hex) and their ECMAScript serialisation.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def test_jcs_rfc_8785_sample_bytes() -> None:
    expected = bytes.fromhex("".join(RFC_OUTPUT_HEX.split()))
    assert canonical_json(json.loads(RFC_INPUT)) == expected


@pytest.mark.parametrize(("ieee", "text"), APPENDIX_B)
def test_jcs_rfc_8785_appendix_b_numbers(ieee: str, text: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(ieee))[0]
    assert canonical_json(value) == text.encode()


def test_jcs_sorts_members_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: the sample object and the order its members must take.
    sample = json.loads(
        r'{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet'
        r' With Dagesh", "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080":'
        r' "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}'
    )
    ordered = list(json.loads(canonical_json(sample)).values())
    assert ordered == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


def test_jcs_nesting_and_integers() -> None:
    value = {"b": [1, {"z": None, "a": -7}], "a": "x", "c": 2**53}
    assert canonical_json(value) == b'{"a":"x","b":[1,{"a":-7,"z":null}],"c":9007199254740992}'


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), 2**53 + 1, "\ud800", {1: "x"}, b"bytes", {1, 2}]
)
def test_jcs_refuses_what_it_cannot_carry(bad: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(bad)


# ---- HTML and PDF -------------------------------------------------------------------------

HOSTILE = 'CN=<script>alert("x")</script>&co'
ARABIC = "CN=أمينة حداد,O=وزارة المالية,C=AA"


def _report() -> dict[str, Any]:
    chain = {
        "role": "end-entity",
        "subject": ARABIC,
        "issuer": "CN=AA Issuing CA",
        "serialNumber": "1A2B",
        "sha256": "ee" * 32,
        "notBefore": "2026-01-01T00:00:00+00:00",
        "notAfter": "2028-01-01T00:00:00+00:00",
        "status": "valid",
        "validity": "valid",
        "revocation": {"status": "good", "time": None, "reason": None, "data": []},
    }
    stamp = {
        "id": "signature-1/ts-1",
        "type": "timestamp",
        "indication": "TOTAL-PASSED",
        "subIndication": None,
        "message": "the time-stamp is valid",
        "validationTimeInfo": {"validationTime": "2026-11-22T10:00:00+00:00"},
        "signer": "CN=AA Government Time-Stamping Authority",
        "certificateChain": [],
        "revocationData": [],
        "proofsOfExistence": [],
        "timestamps": [],
        "details": {},
    }
    return {
        "indication": "TOTAL-FAILED",
        "subIndication": "HASH_FAILURE",
        "message": HOSTILE,
        "validationTime": "2026-11-22T10:00:00+00:00",
        "document": {"name": "decree.pdf", "sha256": "ab" * 32, "size": 1234, "format": "PDF"},
        "policy": {
            "revocation": "off",
            "validationTime": None,
            "disabledChecks": ["revocation"],
            "trustAnchors": [{"subject": "CN=AA Root CA", "sha256": "cd" * 32}],
        },
        "signatures": [
            {
                "id": "signature-1",
                "type": "signature",
                "format": "PAdES-BASELINE-T",
                "indication": "TOTAL-FAILED",
                "subIndication": "HASH_FAILURE",
                "message": "the document was changed after signing",
                "validationProcess": "urn:etsi:019102:validationprocess:Basic",
                "validationTimeInfo": {
                    "validationTime": "2026-11-22T10:00:00+00:00",
                    "bestSignatureTime": "2026-11-20T09:00:00+00:00",
                },
                "signingTime": None,
                "signer": ARABIC,
                "certificateChain": [chain],
                "revocationData": [
                    {
                        "type": "ocsp",
                        "source": "embedded",
                        "issuer": "CN=AA OCSP",
                        "thisUpdate": "2026-11-20T09:00:00+00:00",
                        "nextUpdate": None,
                        "certificateStatus": "good",
                    }
                ],
                "proofsOfExistence": [
                    {
                        "time": "2026-11-20T09:00:00+00:00",
                        "object": "signature value",
                        "source": "time-stamp 42",
                        "poeType": "urn:etsi:019102:poetype:validation",
                    }
                ],
                "timestamps": [stamp],
                "details": {"coverage": "entire file"},
            }
        ],
        "generator": "govtrust 0.1.0",
    }


def _embedded(html: str) -> Any:
    match = re.search(
        r'<script type="application/json" id="govtrust-report">(.*?)</script>', html, re.S
    )
    assert match is not None
    return json.loads(match.group(1))


def test_html_escapes_and_embeds_the_report() -> None:
    report = _report()
    sealed = {**report, "seal": {"format": "CAdES-BASELINE-T", "credential": "vs", "x": "</"}}
    html = render_html(report, embedded=sealed)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert html.count("</script>") == 1  # only the JSON element's own end tag
    assert _embedded(html) == sealed  # the same value: its seal still verifies
    assert '<html lang="en" dir="ltr">' in html
    assert "Not valid: the validation failed" in html and "HASH_FAILURE" in html
    assert "signature-1/ts-1" in html and "time-stamp 42" in html  # nested stamp, POE
    assert "CN=AA Root CA" in html and "Electronic seal of this report" in html
    assert 'role="status"' in html and "<caption>" in html and 'scope="col"' in html


def test_html_without_seal_says_so() -> None:
    html = render_html(_report())
    assert "carries no seal" in html
    assert _embedded(html) == _report()


def test_html_in_arabic_is_right_to_left() -> None:
    html = render_html(_report(), lang="ar")
    assert '<html lang="ar" dir="rtl">' in html
    assert "تقرير التحقق من التوقيعات" in html and "غير صالح" in html
    assert "أمينة حداد" in html  # names shown as they are
    with pytest.raises(ValueError, match="unsupported report language"):
        render_html(_report(), lang="fr")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_shows_the_report_and_carries_the_json(tmp_path: Path) -> None:
    attachment = json.dumps(_report()).encode()
    pdf = render_pdf(_report(), attachments=[("validation-report.json", attachment, "sealed")])
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert "Not valid: the validation failed" in flat
    for needle in ("HASH_FAILURE", "PAdES-BASELINE-T", "decree.pdf", "ab" * 32, "time-stamp 42"):
        assert needle in flat.replace(" ", "") or needle in flat, needle
    assert "AA Government Time-Stamping Authority" in flat
    assert "CN=AA Root CA" in flat and "revocation" in flat
    if Path("/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf").is_file():
        # Arabic glyphs are embedded (their shaping needs uharfbuzz, see docs).
        assert any("\u0600" <= ch <= "\u06ff" or "\ufe70" <= ch <= "\ufeff" for ch in text)
    listing = subprocess.run(
        ["pdfdetach", "-list", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "validation-report.json" in listing
    saved = tmp_path / "out.json"
    subprocess.run(
        ["pdfdetach", "-save", "1", "-o", str(saved), str(path)], check=True, capture_output=True
    )
    assert saved.read_bytes() == attachment
