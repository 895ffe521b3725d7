"""Subjects, SANs and serial numbers as users type them."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from govtrust.ca.names import (
    format_serial,
    name_to_string,
    parse_san,
    parse_serial,
    parse_subject,
    random_serial,
)
from govtrust.errors import InputError, InvalidSubject


def test_rfc4514_order_and_etsi_attributes() -> None:
    name = parse_subject(
        "CN=Amina Haddad,SN=Haddad,givenName=Amina,serialNumber=PNOAA-1,"
        "organizationIdentifier=NTRAA-9,O=Ministry of Finance,C=AA"
    )
    assert next(iter(name)).oid == NameOID.COUNTRY_NAME  # most significant first in DER
    assert name.get_attributes_for_oid(NameOID.SURNAME)[0].value == "Haddad"
    assert name.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == "NTRAA-9"
    assert parse_subject(name_to_string(name)) == name


def test_attribute_names_are_case_insensitive_and_escapes_work() -> None:
    name = parse_subject(r"cn=Ministry of Finance\, Budget,o=Gov,c=AA")
    assert (
        name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Ministry of Finance, Budget"
    )


@pytest.mark.parametrize("bad", ["", "   ", "CN", "C=AAA,CN=x", "CN=x,C=1A", "CN="])
def test_bad_subjects(bad: str) -> None:
    with pytest.raises(InvalidSubject):
        parse_subject(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dns:WWW.Gov.example", x509.DNSName("www.gov.example")),
        ("gov.example", x509.DNSName("gov.example")),
        ("ip:192.0.2.1", x509.IPAddress(ipaddress.ip_address("192.0.2.1"))),
        ("2001:db8::1", x509.IPAddress(ipaddress.ip_address("2001:db8::1"))),
        ("email:a@gov.example", x509.RFC822Name("a@gov.example")),
        ("clerk@gov.example", x509.RFC822Name("clerk@gov.example")),
        ("uri:https://gov.example/x", x509.UniformResourceIdentifier("https://gov.example/x")),
    ],
)
def test_sans(text: str, expected: x509.GeneralName) -> None:
    assert parse_san(text) == expected


@pytest.mark.parametrize("bad", ["dns:", "dns:bad name", "ip:300.1.1.1", "email:a@b@c"])
def test_bad_sans(bad: str) -> None:
    with pytest.raises(InputError):
        parse_san(bad)


def test_serial_forms() -> None:
    assert parse_serial("3A:F1:00") == 0x3AF100
    assert parse_serial("0x3af100") == 0x3AF100
    assert parse_serial(" 3af100 ") == 0x3AF100
    assert format_serial(0x03AF100) == "3af100"
    for bad in ("", "xyz", "12:zz", "1" * 43):
        with pytest.raises(InputError):
            parse_serial(bad)


def test_random_serials_are_positive_20_octets_and_64_bits() -> None:
    serials = {random_serial() for _ in range(2000)}
    assert len(serials) == 2000
    assert all(1 << 64 <= s < 1 << 159 for s in serials)
