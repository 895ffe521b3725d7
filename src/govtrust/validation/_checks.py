"""Checks on a candidate path that pyhanko-certvalidator's RFC 5280 §6.1 algorithm does
not make: certificate profile rules of RFC 5280 §4, guards around name constraints,
the key usages of a purpose, and cryptographic constraints on the keys of the chain
(EN 319 102-1 §5.2.6.4 steps 4 e), 5 and 6). Each returns a reason, or None.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko_certvalidator.authority import AuthorityWithCert
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.validate import SUPPORTED_EXTENSIONS

from govtrust.validation.policy import AlgorithmPolicy, UsageRule

__all__ = [
    "EC_CURVES",
    "MAX_CONSTRAINT_COMPARISONS",
    "anchor_cert",
    "crypto_problem",
    "key_problem",
    "logical_intermediates",
    "name_constraint_problem",
    "profile_problem",
    "usage_problem",
    "within",
]


#: Elliptic curves of ETSI TS 119 312 §6.2.2 (NIST P-256/384/521 and the Brainpool
#: curves of RFC 5639); explicit curve parameters are refused (RFC 5480 §2.1.1:
#: "specifiedCurve ... MUST NOT be used").
EC_CURVES = frozenset(
    {
        "secp256r1",
        "secp384r1",
        "secp521r1",
        "brainpoolp256r1",
        "brainpoolp384r1",
        "brainpoolp512r1",
    }
)


def key_problem(key: Any, policy: AlgorithmPolicy) -> str | None:
    """Cryptographic constraints on a public key (asn1crypto ``PublicKeyInfo``)."""
    algorithm = key.algorithm
    if algorithm == "ec":
        kind, name = key.curve
        if kind != "named" or name not in EC_CURVES:
            return f"the elliptic curve {name if kind == 'named' else '(explicit)'} is not accepted"
        return None
    bits = key.bit_size
    if algorithm in ("rsa", "rsassa_pss") and bits < policy.min_rsa_bits:
        return f"an RSA key of {bits} bits is below the {policy.min_rsa_bits}-bit minimum"
    if algorithm == "dsa" and bits < policy.min_dsa_bits:
        return f"a DSA key of {bits} bits is below the {policy.min_dsa_bits}-bit minimum"
    return None


#: Name-constraint comparisons one path may need (Go's crypto/x509 uses the same bound,
#: ``maxConstraintComparisons``): constraints times names, over the path.
MAX_CONSTRAINT_COMPARISONS = 250_000


def usage_problem(cert: x509.Certificate, rule: UsageRule) -> str | None:
    """§5.2.6.4 step 5 for the end-entity certificate: the purpose's usage rule."""
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if rule.end_entity_only and bc.ca:
            return "the end-entity certificate is a CA certificate (basicConstraints cA)"
    except x509.ExtensionNotFound:
        pass
    if rule.key_usage_any_of:
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            asserted = {n for n in rule.key_usage_any_of if _ku_bit(ku, n)}
            if not asserted:
                wanted = " or ".join(sorted(rule.key_usage_any_of))
                return f"the key usage does not allow {wanted}"
        except x509.ExtensionNotFound:
            pass
    try:
        eku_ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        if rule.eku_required:
            return "the certificate has no extended key usage extension"
        return None
    purposes = set(eku_ext.value)
    if rule.eku_exclusive_critical and (not eku_ext.critical or len(purposes) != 1):
        return "the extended key usage must be critical and hold only the required purpose"
    if rule.extended_key_usage_any_of and not purposes & rule.extended_key_usage_any_of:
        if (
            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in purposes
            and not rule.eku_exclusive_critical
        ):
            return None  # RFC 5280 §4.2.1.12: anyExtendedKeyUsage allows every purpose
        return "the extended key usage does not allow this purpose"
    return None


def _ku_bit(ku: x509.KeyUsage, name: str) -> bool:
    try:
        return bool(getattr(ku, name))
    except ValueError:  # encipher_only/decipher_only without key_agreement
        return False


def anchor_cert(path: ValidationPath) -> Any:
    authority = path.trust_anchor.authority
    return authority.certificate if isinstance(authority, AuthorityWithCert) else None


def within(cert: Any, at: dt.datetime) -> bool:
    return bool(cert.not_valid_before <= at <= cert.not_valid_after)


def _extensions(cert: Any) -> dict[str, Any]:
    exts = cert["tbs_certificate"]["extensions"]
    return {ext["extn_id"].native: ext for ext in exts} if exts.native else {}


def profile_problem(path: ValidationPath) -> str | None:
    """RFC 5280 §4 rules on the certificates of the chain that the §6.1 algorithm does
    not itself check, but that a conforming CA follows and a careful verifier enforces
    (pyca/cryptography's verifier, Go's crypto/x509 and x509-limbo do):

    - §4.2.1.1: authorityKeyIdentifier in every certificate below the trust anchor but
      a self-signed one, and not critical; §4.2.1.2: subjectKeyIdentifier in every CA
      certificate, not critical;
    - §4.2.1.9 and §4.2.1.3: a certificate that issues others has basicConstraints cA,
      and cA and keyCertSign go together; the trust anchor's basicConstraints is
      critical (intermediates are left to §6.1.4 (k), which accepts a non-critical one:
      NIST PKITS 4.6.4);
    - §4.1.2.6: a CA has a non-empty subject; §4.2.1.6: an empty subject needs a
      critical subjectAltName;
    - §4.2.2.1: authorityInformationAccess is not critical; §4.2.1.10: nameConstraints
      only in CA certificates, and not empty (policyConstraints, which §4.2.1.11 wants
      critical, is left alone: NIST PKITS 4.8 and 4.10 use it non-critical in valid
      paths);
    - the trust anchor carries no unknown critical extension (RFC 5280 §6.1.4 (o) is
      not applied to it by §6.1, RFC 5937 §3 asks it).
    """
    certs = list(path.iter_certs(include_root=True))
    anchor = anchor_cert(path)
    for index, cert in enumerate(certs):
        who = cert.subject.human_friendly or "a certificate with an empty subject"
        is_leaf = index == len(certs) - 1 and path.pkix_len > 0
        exts = _extensions(cert)
        bc = cert.basic_constraints_value
        is_ca = bool(bc is not None and bc["ca"].native)
        ku = cert.key_usage_value
        if "authority_key_identifier" in exts:
            if exts["authority_key_identifier"]["critical"].native:
                return f"{who}: the authority key identifier is critical (RFC 5280 §4.2.1.1)"
        elif cert is not anchor and cert.self_signed == "no":
            return f"{who}: no authority key identifier (RFC 5280 §4.2.1.1)"
        if "key_identifier" in exts and exts["key_identifier"]["critical"].native:
            return f"{who}: the subject key identifier is critical (RFC 5280 §4.2.1.2)"
        if is_ca and "key_identifier" not in exts:
            return f"{who}: a CA certificate without subject key identifier (RFC 5280 §4.2.1.2)"
        if not is_leaf and not is_ca:
            return f"{who}: issues certificates but is not a CA (RFC 5280 §4.2.1.9)"
        if cert is anchor and not exts["basic_constraints"]["critical"].native:
            return (
                f"{who}: the trust anchor's basic constraints are not critical (RFC 5280 §4.2.1.9)"
            )
        if ku is not None and ("key_cert_sign" in ku.native) != is_ca:
            return (
                f"{who}: keyCertSign and basicConstraints cA disagree (RFC 5280 §4.2.1.3, §4.2.1.9)"
            )
        if not cert.subject.chosen:
            if is_ca:
                return f"{who}: a CA with an empty subject (RFC 5280 §4.1.2.6)"
            san = exts.get("subject_alt_name")
            if san is None or not san["critical"].native:
                return (
                    f"{who}: an empty subject needs a critical subjectAltName (RFC 5280 §4.2.1.6)"
                )
        if (
            "authority_information_access" in exts
            and exts["authority_information_access"]["critical"].native
        ):
            return f"{who}: authorityInformationAccess is critical (RFC 5280 §4.2.2.1)"
        if "name_constraints" in exts:
            nc = cert.name_constraints_value
            if not is_ca:
                return f"{who}: name constraints outside a CA certificate (RFC 5280 §4.2.1.10)"
            if not nc["permitted_subtrees"].native and not nc["excluded_subtrees"].native:
                return f"{who}: empty name constraints (RFC 5280 §4.2.1.10)"
        if cert is anchor:
            unknown = cert.critical_extensions - SUPPORTED_EXTENSIONS
            if unknown:
                return f"{who}: unsupported critical extensions {sorted(unknown)}"
    return None


def logical_intermediates(path: ValidationPath) -> int:
    """Intermediates that count towards a length limit: RFC 5280 §4.2.1.9 leaves
    self-issued certificates (key rollover) out of pathLenConstraint; the same here."""
    certs = list(path.iter_certs(include_root=False))[:-1]
    return sum(1 for c in certs if not c.self_issued)


def _subtrees(cert: Any) -> tuple[list[str], list[str], int]:
    """(permitted dNSName, excluded dNSName, number of subtrees) of a CA's name
    constraints (RFC 5280 §4.2.1.10)."""
    nc = cert.name_constraints_value
    if nc is None:
        return [], [], 0
    permitted: list[str] = []
    excluded: list[str] = []
    total = 0
    for key, out in (("permitted_subtrees", permitted), ("excluded_subtrees", excluded)):
        trees = nc[key]
        if not trees or trees.native is None:
            continue
        for tree in trees:
            total += 1
            if tree["base"].name == "dns_name":
                out.append(str(tree["base"].native).lower())
    return permitted, excluded, total


def _names_of(cert: Any) -> tuple[list[str], int]:
    """(dNSName SANs, number of names) of a certificate, subject attributes included."""
    san = cert.subject_alt_name_value
    names = list(san) if san is not None else []
    dns = [str(n.native).lower() for n in names if n.name == "dns_name"]
    return dns, len(names) + len(cert.subject.chosen)


def _constrains(cert: Any, kind: str) -> bool:
    """Whether ``cert`` has name constraints on names of ``kind``."""
    nc = cert.name_constraints_value
    if nc is None:
        return False
    return any(
        tree["base"].name == kind
        for key in ("permitted_subtrees", "excluded_subtrees")
        if nc[key].native
        for tree in nc[key]
    )


_EMAIL_DOMAIN = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


#: A preferred-name-syntax host name (RFC 1034 §3.5, RFC 1123 §2.1), optionally with a
#: whole-label wildcard on the left (RFC 9525 §6.3).
_DNS_NAME = re.compile(
    r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def _malformed_emails(cert: Any) -> list[str]:
    """rfc822Name entries that are not ``local@domain`` (RFC 5280 §4.2.1.6 requires an
    RFC 5322 addr-spec); name-constraint matching is undefined on anything else."""
    san = cert.subject_alt_name_value
    bad = []
    for name in san if san is not None else []:
        if name.name != "rfc822_name":
            continue
        value = str(name.native)
        local, sep, domain = value.rpartition("@")
        if not sep or not local or "@" in local or not _EMAIL_DOMAIN.match(domain):
            bad.append(value)
    return bad


def name_constraint_problem(path: ValidationPath) -> str | None:
    """Three guards around RFC 5280 §6.1.3 (b)-(c) name-constraint processing.

    0. Syntax: under constraints on a kind of name, the end entity's names of that
       kind must be well formed, or containment is undefined (x509-limbo
       ``rfc5280::nc::nc-permits-invalid-*``).
    1. Work: the comparisons the constraints of the path need are bounded
       (x509-limbo ``pathological::nc-dos-*``).
    2. Wildcards (CVE-2025-61727): a ``*.example.com`` dNSName is not itself inside an
       excluded ``bar.example.com`` subtree, yet it would let the certificate be used for
       ``bar.example.com`` (RFC 9525 §6.3). A wildcard that could stand for a name in an
       excluded subtree is refused.
    """
    certs = list(path.iter_certs(include_root=True))
    leaf_dns, leaf_names = _names_of(certs[-1]) if certs else ([], 0)
    if any(_constrains(ca, "rfc822_name") for ca in certs[:-1]):
        bad = _malformed_emails(certs[-1])
        if bad:
            return f"the rfc822Name {bad[0]!r} is not an addr-spec (RFC 5280 §4.2.1.6)"
    if any(_constrains(ca, "dns_name") for ca in certs[:-1]):
        bad = [d for d in leaf_dns if not _DNS_NAME.match(d)]
        if bad:
            return f"the dNSName {bad[0]!r} is not a host name (RFC 5280 §4.2.1.6)"
    comparisons = 0
    for ca in certs[:-1]:
        _, excluded, total = _subtrees(ca)
        comparisons += total * leaf_names
        if comparisons > MAX_CONSTRAINT_COMPARISONS:
            return "the name constraints of the chain need too many comparisons"
        for wildcard in (d for d in leaf_dns if d.startswith("*.")):
            base = wildcard[2:]
            for tree in excluded:
                name = tree.lstrip(".")
                head, _, rest = name.partition(".")
                if head and rest == base:
                    return (
                        f"the wildcard name {wildcard} covers {name}, which the name "
                        "constraints exclude"
                    )
    return None


def crypto_problem(path: ValidationPath, policy: AlgorithmPolicy) -> str | None:
    """§5.2.6.4 step 6 for the keys of the chain itself (pyhanko checks the keys that
    verify signatures; the end-entity key verifies none here)."""
    for cert in path.iter_certs(include_root=False):
        try:
            problem = key_problem(cert.public_key, policy)
        except ValueError as exc:
            problem = f"the public key does not parse: {exc}"
        if problem is not None:
            return f"{cert.subject.human_friendly}: {problem}"
    return None
