"""Subjects (RFC 4514 strings), subject alternative names and serial numbers as users
type them."""

from __future__ import annotations

import ipaddress
import re
import secrets

from cryptography import x509
from cryptography.x509.oid import NameOID

from govtrust.errors import InputError, InvalidSubject

__all__ = [
    "ATTRIBUTE_NAMES",
    "SAN_TYPES",
    "attribute_name",
    "format_serial",
    "name_to_string",
    "parse_san",
    "parse_serial",
    "parse_subject",
    "random_serial",
    "san_to_string",
    "san_type",
]

# Short names accepted in subjects and in profiles; RFC 4514 §3 plus the ETSI EN 319 412
# attributes (givenName, surname, serialNumber, organizationIdentifier, pseudonym).
ATTRIBUTE_NAMES: dict[str, x509.ObjectIdentifier] = {
    "CN": NameOID.COMMON_NAME,
    "C": NameOID.COUNTRY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "STREET": NameOID.STREET_ADDRESS,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "givenName": NameOID.GIVEN_NAME,
    "SN": NameOID.SURNAME,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
    "pseudonym": NameOID.PSEUDONYM,
    "title": NameOID.TITLE,
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT,
    "UID": NameOID.USER_ID,
}
_BY_OID = {oid: name for name, oid in ATTRIBUTE_NAMES.items()}
_CASEFOLD = {name.lower(): name for name in ATTRIBUTE_NAMES} | {"surname": "SN"}

SAN_TYPES = ("dns", "ip", "email", "uri")


def attribute_name(oid: x509.ObjectIdentifier) -> str:
    return _BY_OID.get(oid, oid.dotted_string)


def parse_subject(text: str) -> x509.Name:
    """Parse an RFC 4514 string such as ``CN=Ministry of Finance,O=Government,C=AA``.

    Attribute types are matched case-insensitively; RFC 4514 lists the most specific RDN
    first, so the resulting Name starts with the last one (C above).
    """
    if not text or not text.strip():
        raise InvalidSubject("empty subject")
    normalised = re.sub(
        r"(^|(?<!\\),)\s*([A-Za-z][A-Za-z0-9-]*)\s*=",
        lambda m: f"{m.group(1)}{_CASEFOLD.get(m.group(2).lower(), m.group(2))}=",
        text.strip(),
    )
    try:
        name = x509.Name.from_rfc4514_string(normalised, ATTRIBUTE_NAMES)
    except ValueError as exc:
        raise InvalidSubject(f"not an RFC 4514 subject: {text!r} ({exc})") from None
    for attr in name:
        if attr.oid == NameOID.COUNTRY_NAME and (
            len(str(attr.value)) != 2 or not str(attr.value).isalpha()
        ):
            raise InvalidSubject(f"country (C) must be a two-letter ISO 3166 code: {attr.value!r}")
        if not str(attr.value).strip():
            raise InvalidSubject(f"empty value for {attribute_name(attr.oid)}")
    return name


def name_to_string(name: x509.Name) -> str:
    return name.rfc4514_string({oid: n for oid, n in _BY_OID.items()})


def parse_san(text: str) -> x509.GeneralName:
    """``dns:gov.example``, ``ip:192.0.2.1``, ``email:a@b.example``, ``uri:https://...``.

    Without a prefix: an IP address, an e-mail address (has ``@``) or a DNS name.
    """
    kind, sep, value = text.partition(":")
    if sep and kind.lower() in (*SAN_TYPES, "rfc822"):
        kind = kind.lower()
    else:
        value = text
        try:
            ipaddress.ip_address(text)
            kind = "ip"
        except ValueError:
            kind = "email" if "@" in text else "dns"
    value = value.strip()
    if not value:
        raise InputError(f"empty subject alternative name: {text!r}")
    try:
        if kind == "dns":
            if not re.fullmatch(r"(\*\.)?([A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}", value):
                raise ValueError("not a DNS name")
            return x509.DNSName(value.lower())
        if kind == "ip":
            return x509.IPAddress(ipaddress.ip_address(value))
        if kind in ("email", "rfc822"):
            if value.count("@") != 1:
                raise ValueError("not an e-mail address")
            return x509.RFC822Name(value)
        return x509.UniformResourceIdentifier(value)
    except ValueError as exc:
        raise InputError(f"invalid subject alternative name {text!r}: {exc}") from None


def san_type(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DNSName):
        return "dns"
    if isinstance(name, x509.IPAddress):
        return "ip"
    if isinstance(name, x509.RFC822Name):
        return "email"
    if isinstance(name, x509.UniformResourceIdentifier):
        return "uri"
    return type(name).__name__


def san_to_string(name: x509.GeneralName) -> str:
    return f"{san_type(name)}:{name.value}"


def random_serial() -> int:
    """A positive serial of 159 random bits, at most 20 octets (RFC 5280 §4.1.2.2).

    CA/Browser Forum BR §7.1 asks at least 64 bits of CSPRNG output; the top bit is left
    clear so the DER INTEGER stays positive within 20 octets.
    """
    while True:
        n = secrets.randbits(159)
        if n >= 1 << 64:
            return n


def format_serial(serial: int) -> str:
    """Lower-case hexadecimal, no leading zeros: the stored and displayed form."""
    return format(serial, "x")


def parse_serial(text: str) -> int:
    """Accept hex as openssl prints it: ``3A:F1:...``, ``3af1...``, ``0x3AF1``."""
    cleaned = text.strip().replace(":", "").replace(" ", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned or not re.fullmatch(r"[0-9A-Fa-f]+", cleaned) or len(cleaned) > 42:
        raise InputError(f"not a hexadecimal serial number: {text!r}")
    return int(cleaned, 16)
