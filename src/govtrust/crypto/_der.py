"""Minimal DER encoding (ITU-T X.690 §8, §10) for the CRL fast path and the hand-built
CMS of signatures and time-stamp tokens (``govtrust.signing._cms_out``,
``govtrust.tsa.authority``).

Why by hand: RFC 5280 CRLs with 100,000 entries must be generated in well under a
second. pyca's ``CertificateRevocationListBuilder.add_revoked_certificate`` copies its
list on every call (quadratic), and asn1crypto re-parses entries. govtrust encodes each
revoked entry once, at revocation, and a CRL is then a concatenation of stored entries
under a header encoded here. Everything here is checked by parsing the result back with
pyca/cryptography and ``openssl crl`` in the tests.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509

__all__ = [
    "boolean",
    "explicit",
    "generalized_time",
    "integer",
    "length",
    "octet_string",
    "oid",
    "sequence",
    "set_of",
    "signing_certificate_v2",
    "time",
    "tlv",
]


def length(n: int) -> bytes:
    """X.690 §8.1.3: short form below 128, else long form."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + length(len(content)) + content


def sequence(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def set_of(*elements: bytes) -> bytes:
    """A SET OF in DER: X.690 §11.6, the elements' encodings in ascending order, compared
    as octet strings (a shorter one padded with zero octets: only equal prefixes of
    different lengths differ from Python's ``bytes`` order, and the elements here are
    complete TLVs, whose tags and lengths keep one from being a prefix of another)."""
    return tlv(0x31, b"".join(sorted(elements)))


def integer(n: int) -> bytes:
    """X.690 §8.3: two's complement, minimal octets."""
    size = (n.bit_length() + 8) // 8 if n >= 0 else (n + 1).bit_length() // 8 + 1
    return tlv(0x02, n.to_bytes(max(size, 1), "big", signed=True))


def boolean(value: bool) -> bytes:
    return tlv(0x01, b"\xff" if value else b"\x00")


def octet_string(data: bytes) -> bytes:
    return tlv(0x04, data)


def oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


def explicit(number: int, content: bytes) -> bytes:
    """A constructed context-specific tag [number] EXPLICIT."""
    return tlv(0xA0 | number, content)


def _utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None:
        raise ValueError("naive datetime")
    return t.astimezone(dt.UTC)


def generalized_time(t: dt.datetime) -> bytes:
    """X.680 §46 / RFC 5280 §4.1.2.5.2: YYYYMMDDHHMMSSZ, no fractions."""
    return tlv(0x18, _utc(t).strftime("%Y%m%d%H%M%SZ").encode())


def time(t: dt.datetime) -> bytes:
    """RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050."""
    t = _utc(t)
    if t.year < 2050:
        return tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())
    return generalized_time(t)


def signing_certificate_v2(cert_der: bytes) -> bytes:
    """The signing-certificate-v2 attribute of a CMS SignerInfo naming ``cert_der``
    (RFC 5035 §3; RFC 5816 §2.2.1 for time-stamp tokens, EN 319 122-1 §5.2.2.3 for
    CAdES): one ESSCertIDv2 with the DEFAULT hash, SHA-256 (so no hashAlgorithm in the
    DER), and the certificate's issuerSerial. DER."""
    cert = asn1_x509.Certificate.load(cert_der)
    issuer = asn1_x509.GeneralName(name="directory_name", value=cert.issuer)
    ess_cert_id = {
        "cert_hash": hashlib.sha256(cert_der).digest(),
        "issuer_serial": {"issuer": [issuer], "serial_number": cert.serial_number},
    }
    attribute = cms.CMSAttribute(
        {"type": "signing_certificate_v2", "values": [{"certs": [ess_cert_id]}]}
    )
    return bytes(attribute.dump())
