"""Server identity checks: does a certificate name the host a client connected to?

pyhanko-certvalidator validates paths, not names, and pyca/cryptography exposes name
matching only inside its full ``x509.verification`` verifier (which would also redo
path validation), so this small matcher is written here, after RFC 9525 (which updates
RFC 6125):

- only the subjectAltName is consulted; the subject common name is never a fallback
  (RFC 9525 §6.3: "the CN-ID ... MUST NOT be used");
- DNS names compare ASCII case-insensitively, label by label (RFC 9525 §6.3, RFC 4343),
  and a trailing dot on the reference name is not significant;
- a wildcard is only the whole left-most label ``*`` and stands for exactly one
  non-empty label (RFC 9525 §6.3 rule 2; CA/Browser Forum BRs §7.1.2.7.12), and the
  labels after it must be at least two (no ``*.com``);
- an IP address reference matches only an iPAddress entry with the same octets
  (RFC 9525 §6.4), never a dNSName that spells it;
- an email address matches an rfc822Name whose local part is identical and whose
  domain is equal ignoring case (RFC 5280 §4.2.1.6, RFC 8398 §5).
"""

from __future__ import annotations

import ipaddress
import re

from cryptography import x509

__all__ = ["match_email_address", "match_server_name"]

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _labels(name: str) -> list[str] | None:
    """Lower-cased labels of a syntactically valid DNS name (LDH, RFC 1123), or None."""
    if not name or len(name) > 253 or not name.isascii():
        return None
    labels = name.lower().split(".")
    if not all(_LABEL.match(label) for label in labels):
        return None
    return labels


def _dns_matches(presented: str, reference: list[str]) -> bool:
    if not presented.isascii():
        return False
    parts = presented.lower().split(".")
    if parts and parts[0] == "*":
        rest = _labels(".".join(parts[1:]))
        if rest is None or len(rest) < 2 or len(reference) != len(rest) + 1:
            return False
        return reference[1:] == rest
    exact = _labels(presented)
    return exact is not None and exact == reference


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def match_server_name(certificate: x509.Certificate, name: str) -> bool:
    """True when ``certificate``'s subjectAltName names ``name`` (a DNS name or an IP
    address literal) under the rules in the module docstring."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    address = _ip(name)
    if address is not None:
        return any(ip == address for ip in san.get_values_for_type(x509.IPAddress))
    reference = _labels(name[:-1] if name.endswith(".") else name)
    if reference is None:
        return False
    return any(_dns_matches(dns, reference) for dns in san.get_values_for_type(x509.DNSName))


def match_email_address(certificate: x509.Certificate, address: str) -> bool:
    """True when ``certificate``'s subjectAltName holds ``address`` as an rfc822Name."""
    local, sep, domain = address.rpartition("@")
    if not sep or not local or not domain:
        return False
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    for presented in san.get_values_for_type(x509.RFC822Name):
        p_local, p_sep, p_domain = presented.rpartition("@")
        if p_sep and p_local == local and p_domain.lower() == domain.lower():
            return True
    return False
