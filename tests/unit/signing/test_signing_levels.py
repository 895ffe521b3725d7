"""Levels, formats and file names."""

from __future__ import annotations

import pytest

from govtrust.errors import InputError
from govtrust.services.signing import SigningOptions, output_name
from govtrust.signing.levels import Level, SignatureFormat, default_format


@pytest.mark.parametrize(
    ("text", "level"),
    [("B-B", Level.B_B), ("b-t", Level.B_T), ("LT", Level.B_LT), ("B_LTA", Level.B_LTA)],
)
def test_level_parse(text: str, level: Level) -> None:
    assert Level.parse(text) is level


@pytest.mark.parametrize("text", ["", "B-X", "LTV", "B-B-B"])
def test_level_parse_refuses_unknown(text: str) -> None:
    with pytest.raises(InputError, match="unknown signature level"):
        Level.parse(text)


def test_levels_are_ordered() -> None:
    assert Level.B_B < Level.B_T < Level.B_LT < Level.B_LTA
    assert Level.B_LTA.at_least(Level.B_LT)
    assert not Level.B_T.at_least(Level.B_LT)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("decree.pdf", SignatureFormat.PADES),
        ("DECREE.PDF", SignatureFormat.PADES),
        ("invoice.xml", SignatureFormat.XADES),
        ("photo.jpg", SignatureFormat.CADES),
        ("archive", SignatureFormat.CADES),
    ],
)
def test_default_format_by_file_type(name: str, fmt: SignatureFormat) -> None:
    assert default_format(name) is fmt


@pytest.mark.parametrize(
    ("name", "fmt", "out"),
    [
        ("dir/decree.pdf", SignatureFormat.PADES, "dir/decree-signed.pdf"),
        ("invoice.xml", SignatureFormat.XADES, "invoice-signed.xml"),
        ("photo.jpg", SignatureFormat.CADES, "photo.jpg.p7s"),
        ("photo.jpg", SignatureFormat.ASIC_E, "photo.jpg.asice"),
    ],
)
def test_output_names(name: str, fmt: SignatureFormat, out: str) -> None:
    assert output_name(name, fmt) == out


def test_format_parse() -> None:
    assert SignatureFormat.parse("ASiC-E") is SignatureFormat.ASIC_E
    assert SignatureFormat.parse("asice") is SignatureFormat.ASIC_E
    with pytest.raises(InputError):
        SignatureFormat.parse("pkcs7")


def test_options_are_checked() -> None:
    with pytest.raises(InputError, match="xades, cades"):
        SigningOptions(asic_signature="pgp")
    with pytest.raises(InputError, match="http"):
        SigningOptions(tsa_url="file:///etc/passwd")
