"""Certificate profiles as ordered pipelines of small options.

As in step-ca's ``authority/provisioner/sign_options.go``, a profile is an ordered list
of options applied in four stages: request validators (is the request acceptable?),
modifiers (fill the template), validators (is the template consistent?), enforcers (clamp
what the issuer imposes). Options are small frozen objects; a profile declared in
configuration is compiled into them once, at start-up, so a typo fails loudly then.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import importlib.resources
import tomllib
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from govtrust.ca.names import ATTRIBUTE_NAMES, SAN_TYPES, attribute_name, san_type
from govtrust.crypto.keys import KeySpec, spec_of_public_key
from govtrust.errors import ConfigError, InputError, PolicyViolation, UnknownProfile

__all__ = [
    "CertificateRequest",
    "Draft",
    "IssuerInfo",
    "Option",
    "Profile",
    "ProfileRegistry",
    "ProfileSpec",
    "Stage",
    "distribution_base_url",
    "eku_oid",
    "load_profiles",
]


@dataclass(frozen=True)
class CertificateRequest:
    """What a requester asks for (from a CSR or from the CLI's generated key)."""

    subject: x509.Name
    public_key: CertificatePublicKeyTypes
    sans: tuple[x509.GeneralName, ...] = ()


def distribution_base_url(base_url: str) -> str:
    """``base_url`` over plain ``http``: the base of the URLs that certificates carry.

    CA certificates, CRLs and OCSP responses are signed objects fetched while a path
    is being validated, so relying parties fetch them over HTTP (RFC 5280 §4.2.2.1
    and §8, RFC 6960 Appendix A.1). The CA/Browser Forum TLS BRs §7.1.2.7.7,
    §7.1.2.10.3 and §7.1.2.11.2 require ``http://`` AIA and CRL distribution point
    URLs, and ETSI EN 319 412-2 GEN-4.3.11-4 an ``http`` or ``ldap`` CRL URL. An
    ``https`` public URL keeps its host and path; its port, which says nothing of
    the HTTP port, is dropped (port 80).
    """
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme.lower() != "https":
        return base_url
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return urllib.parse.urlunsplit(("http", host, parts.path, "", "")).rstrip("/")


@dataclass(frozen=True)
class IssuerInfo:
    """The issuing CA as profiles see it: where its certificate, CRL and OCSP live."""

    name: str
    certificate: x509.Certificate
    base_url: str

    @property
    def distribution_base_url(self) -> str:
        return distribution_base_url(self.base_url)

    @property
    def ca_issuers_url(self) -> str:
        return f"{self.distribution_base_url}/ca/{self.name}.crt"

    @property
    def crl_url(self) -> str:
        return f"{self.distribution_base_url}/crl/{self.name}.crl"

    @property
    def ocsp_url(self) -> str:
        return f"{self.distribution_base_url}/ocsp"


@dataclass(frozen=True)
class Draft:
    """The certificate being shaped: each option returns a new Draft."""

    profile: str
    request: CertificateRequest
    issuer: IssuerInfo
    now: dt.datetime
    not_before: dt.datetime
    not_after: dt.datetime
    extensions: tuple[x509.Extension[x509.ExtensionType], ...] = ()

    def with_extension(self, value: x509.ExtensionType, critical: bool) -> Draft:
        kept = tuple(e for e in self.extensions if e.oid != value.oid)
        return replace(self, extensions=(*kept, x509.Extension(value.oid, critical, value)))

    def extension(self, oid: x509.ObjectIdentifier) -> x509.ExtensionType | None:
        for ext in self.extensions:
            if ext.oid == oid:
                return ext.value
        return None

    def refuse(self, rule: str, message: str) -> PolicyViolation:
        return PolicyViolation(self.profile, rule, message)


class Stage(enum.IntEnum):
    REQUEST_VALIDATOR = 0
    MODIFIER = 1
    VALIDATOR = 2
    ENFORCER = 3


class Option(Protocol):
    @property
    def stage(self) -> Stage: ...

    def apply(self, draft: Draft) -> Draft: ...


def _describe_key(key: CertificatePublicKeyTypes) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}-bit"
    return type(key).__name__.removesuffix("PublicKey")


# ---- request validators ---------------------------------------------------------------


@dataclass(frozen=True)
class KeyAlgorithms:
    allowed: frozenset[KeySpec]
    stage: Stage = Stage.REQUEST_VALIDATOR

    def apply(self, draft: Draft) -> Draft:
        spec = spec_of_public_key(draft.request.public_key)
        if spec is None or spec not in self.allowed:
            got = spec.value if spec else _describe_key(draft.request.public_key)
            allowed = ", ".join(sorted(s.value for s in self.allowed))
            raise draft.refuse("key-algorithm", f"key {got} is not allowed (allowed: {allowed})")
        return draft


@dataclass(frozen=True)
class SubjectAttributes:
    required: frozenset[str]
    allowed: frozenset[str]
    stage: Stage = Stage.REQUEST_VALIDATOR

    def apply(self, draft: Draft) -> Draft:
        present = [attribute_name(a.oid) for a in draft.request.subject]
        for name in present:
            if name not in self.allowed:
                raise draft.refuse("subject-attribute", f"subject attribute {name} is not allowed")
        for name in sorted(self.required):
            if name not in present:
                raise draft.refuse("subject-attribute", f"subject attribute {name} is required")
        return draft


@dataclass(frozen=True)
class SanTypes:
    allowed: frozenset[str]
    required: bool
    stage: Stage = Stage.REQUEST_VALIDATOR

    def apply(self, draft: Draft) -> Draft:
        for name in draft.request.sans:
            kind = san_type(name)
            if kind not in self.allowed:
                raise draft.refuse(
                    "san-type", f"subject alternative name of type {kind} is not allowed"
                )
            if kind == "dns" and str(name.value).startswith("*."):
                raise draft.refuse("san-type", "wildcard DNS names are not issued")
        if self.required and not draft.request.sans:
            raise draft.refuse("san-required", "at least one subject alternative name is required")
        if len(set(draft.request.sans)) != len(draft.request.sans):
            raise draft.refuse("san-type", "duplicate subject alternative names")
        return draft


@dataclass(frozen=True)
class CommonNameInSans:
    """CA/B Forum BR §7.1.4.3: a subject CN must repeat one of the SAN entries."""

    stage: Stage = Stage.REQUEST_VALIDATOR

    def apply(self, draft: Draft) -> Draft:
        sans = {str(n.value).lower() for n in draft.request.sans}
        for attr in draft.request.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
            if str(attr.value).lower() not in sans:
                raise draft.refuse("cn-in-san", f"common name {attr.value!r} must also be a SAN")
        return draft


# ---- modifiers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Validity:
    days: int
    stage: Stage = Stage.MODIFIER

    def apply(self, draft: Draft) -> Draft:
        # RFC 5280 §4.1.2.5: notAfter is inclusive, hence the one second less.
        end = draft.now + dt.timedelta(days=self.days) - dt.timedelta(seconds=1)
        return replace(draft, not_before=draft.now, not_after=end)


@dataclass(frozen=True)
class EndEntityBasics:
    """RFC 5280 §4.2.1.9 basicConstraints cA=FALSE, §4.2.1.2 SKI, §4.2.1.1 AKI.

    RFC 5280 says an end-entity certificate SHOULD carry a subjectKeyIdentifier; the
    CA/Browser Forum TLS BRs §7.1.2.7.6 make it NOT RECOMMENDED for subscriber
    certificates, hence ``subject_key_identifier`` (a profile field).
    """

    subject_key_identifier: bool = True
    stage: Stage = Stage.MODIFIER

    def apply(self, draft: Draft) -> Draft:
        issuer_ski = draft.issuer.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
        draft = draft.with_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        if self.subject_key_identifier:
            draft = draft.with_extension(
                x509.SubjectKeyIdentifier.from_public_key(draft.request.public_key), False
            )
        return draft.with_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), False
        )


_KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
)


@dataclass(frozen=True)
class KeyUsage:
    usages: frozenset[str]
    stage: Stage = Stage.MODIFIER

    def apply(self, draft: Draft) -> Draft:
        flags = {u: (u in self.usages) for u in _KEY_USAGES}
        value = x509.KeyUsage(
            **flags, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False
        )
        return draft.with_extension(value, True)  # RFC 5280 §4.2.1.3: SHOULD be critical


@dataclass(frozen=True)
class ExtendedKeyUsage:
    oids: tuple[x509.ObjectIdentifier, ...]
    critical: bool = False
    stage: Stage = Stage.MODIFIER

    def apply(self, draft: Draft) -> Draft:
        if not self.oids:
            return draft
        return draft.with_extension(x509.ExtendedKeyUsage(list(self.oids)), self.critical)


@dataclass(frozen=True)
class SubjectAltNames:
    stage: Stage = Stage.MODIFIER

    def apply(self, draft: Draft) -> Draft:
        if not draft.request.sans:
            return draft
        # RFC 5280 §4.2.1.6: critical when the subject is empty.
        critical = len(draft.request.subject) == 0
        return draft.with_extension(x509.SubjectAlternativeName(list(draft.request.sans)), critical)


@dataclass(frozen=True)
class Policies:
    oids: tuple[str, ...]
    stage: Stage = Stage.MODIFIER

    def apply(self, draft: Draft) -> Draft:
        if not self.oids:
            return draft
        return draft.with_extension(_policies(self.oids), False)


# The extensions whose value depends only on the profile or the issuer's URLs are built
# once (immutable cryptography objects): building them was a tenth of the CPU of an
# issuance over HTTP (bench/README.md).


@functools.lru_cache(maxsize=256)
def _policies(oids: tuple[str, ...]) -> x509.CertificatePolicies:
    return x509.CertificatePolicies(
        [x509.PolicyInformation(x509.ObjectIdentifier(o), None) for o in oids]
    )


@functools.lru_cache(maxsize=256)
def _aia(ocsp_url: str, ca_issuers_url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
            ),
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(ca_issuers_url),
            ),
        ]
    )


@functools.lru_cache(maxsize=256)
def _crl_dp(crl_url: str) -> x509.CRLDistributionPoints:
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
    return x509.CRLDistributionPoints([point])


@dataclass(frozen=True)
class AuthorityInfoAccess:
    """RFC 5280 §4.2.2.1: where to fetch the issuer certificate and ask OCSP."""

    stage: Stage = Stage.MODIFIER

    def apply(self, draft: Draft) -> Draft:
        value = _aia(draft.issuer.ocsp_url, draft.issuer.ca_issuers_url)
        return draft.with_extension(value, False)


@dataclass(frozen=True)
class CrlDistributionPoint:
    """RFC 5280 §4.2.1.13: one distribution point, the issuer's full CRL."""

    stage: Stage = Stage.MODIFIER

    def apply(self, draft: Draft) -> Draft:
        return draft.with_extension(_crl_dp(draft.issuer.crl_url), False)


@dataclass(frozen=True)
class OcspNoCheck:
    """RFC 6960 §4.2.2.2.1: id-pkix-ocsp-nocheck, a NULL extension."""

    stage: Stage = Stage.MODIFIER

    def apply(self, draft: Draft) -> Draft:
        return draft.with_extension(x509.OCSPNoCheck(), False)


# ---- validators ------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyUsageFitsKey:
    """RFC 5480 §3 / RFC 8410 §5: EC and Ed25519 keys cannot encipher keys."""

    stage: Stage = Stage.VALIDATOR

    def apply(self, draft: Draft) -> Draft:
        ku = draft.extension(x509.KeyUsage.oid)
        if not isinstance(ku, x509.KeyUsage):
            return draft
        key = draft.request.public_key
        if isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) and (
            ku.key_encipherment or ku.data_encipherment
        ):
            raise draft.refuse("key-usage", "an EC or Ed25519 key cannot encipher")
        if isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey) and ku.key_agreement:
            raise draft.refuse("key-usage", "an RSA or Ed25519 key cannot do key agreement")
        return draft


# ---- enforcers -------------------------------------------------------------------------


@dataclass(frozen=True)
class WithinIssuerValidity:
    """RFC 5280 §6.1.3 checks validity along the path: never outlive the issuer."""

    stage: Stage = Stage.ENFORCER

    def apply(self, draft: Draft) -> Draft:
        issuer_end = draft.issuer.certificate.not_valid_after_utc
        if draft.now >= issuer_end:
            raise draft.refuse("issuer-expired", f"the issuing CA {draft.issuer.name} has expired")
        return replace(draft, not_after=min(draft.not_after, issuer_end))


# ---- profiles --------------------------------------------------------------------------

_EKU_NAMES: dict[str, x509.ObjectIdentifier] = {
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "time_stamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
}


def eku_oid(name: str) -> x509.ObjectIdentifier:
    """An extended key usage by its profile name (``server_auth``...) or dotted OID."""
    if name in _EKU_NAMES:
        return _EKU_NAMES[name]
    if name and all(part.isdigit() for part in name.split(".")):
        return x509.ObjectIdentifier(name)
    raise InputError(
        f"unknown extended key usage {name!r} (use one of: {', '.join(_EKU_NAMES)} or a dotted OID)"
    )


_FIELDS = {
    "description",
    "validity_days",
    "key_algorithms",
    "key_usage",
    "extended_key_usage",
    "extended_key_usage_critical",
    "subject_required",
    "subject_allowed",
    "san_types",
    "san_required",
    "cn_in_san",
    "policies",
    "aia",
    "crl_distribution_point",
    "ocsp_nocheck",
    "natural_person",
    "subject_key_identifier",
}


@dataclass(frozen=True)
class ProfileSpec:
    """A profile as declared in configuration (see ``profiles.toml``)."""

    name: str
    description: str
    validity_days: int
    key_algorithms: tuple[KeySpec, ...]
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...] = ()
    extended_key_usage_critical: bool = False
    subject_required: tuple[str, ...] = ()
    subject_allowed: tuple[str, ...] = ("CN",)
    san_types: tuple[str, ...] = ()
    san_required: bool = False
    cn_in_san: bool = False
    policies: tuple[str, ...] = ()
    aia: bool = True
    crl_distribution_point: bool = True
    ocsp_nocheck: bool = False
    natural_person: bool = False
    subject_key_identifier: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "validity_days": self.validity_days,
            "key_algorithms": [k.value for k in self.key_algorithms],
            "key_usage": list(self.key_usage),
            "extended_key_usage": list(self.extended_key_usage),
            "subject_required": list(self.subject_required),
            "subject_allowed": list(self.subject_allowed),
            "san_types": list(self.san_types),
            "san_required": self.san_required,
            "policies": list(self.policies),
            "natural_person": self.natural_person,
        }


@dataclass(frozen=True)
class Profile:
    spec: ProfileSpec
    options: tuple[Option, ...] = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def apply(self, request: CertificateRequest, issuer: IssuerInfo, now: dt.datetime) -> Draft:
        draft = Draft(self.name, request, issuer, now, now, now)
        for option in sorted(self.options, key=lambda o: o.stage):  # sorted() is stable
            draft = option.apply(draft)
        return draft

    @classmethod
    def compile(cls, spec: ProfileSpec) -> Profile:
        eku = tuple(_EKU_NAMES.get(e) or x509.ObjectIdentifier(e) for e in spec.extended_key_usage)
        options: list[Option] = [
            KeyAlgorithms(frozenset(spec.key_algorithms)),
            SubjectAttributes(frozenset(spec.subject_required), frozenset(spec.subject_allowed)),
            SanTypes(frozenset(spec.san_types), spec.san_required),
        ]
        if spec.cn_in_san:
            options.append(CommonNameInSans())
        options += [
            Validity(spec.validity_days),
            EndEntityBasics(spec.subject_key_identifier),
            KeyUsage(frozenset(spec.key_usage)),
            ExtendedKeyUsage(eku, spec.extended_key_usage_critical),
            SubjectAltNames(),
            Policies(spec.policies),
        ]
        if spec.aia:
            options.append(AuthorityInfoAccess())
        if spec.crl_distribution_point:
            options.append(CrlDistributionPoint())
        if spec.ocsp_nocheck:
            options.append(OcspNoCheck())
        options += [KeyUsageFitsKey(), WithinIssuerValidity()]
        return cls(spec, tuple(options))


def _strings(
    name: str, key: str, value: Any, allowed: Sequence[str] | None = None
) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"profile {name!r}: {key} must be a list of strings")
    if allowed is not None:
        for v in value:
            if v not in allowed:
                raise ConfigError(
                    f"profile {name!r}: {key} has unknown value {v!r} "
                    f"(allowed: {', '.join(allowed)})"
                )
    return tuple(value)


def _spec(name: str, raw: Mapping[str, Any]) -> ProfileSpec:
    unknown = set(raw) - _FIELDS
    if unknown:
        raise ConfigError(f"profile {name!r}: unknown field(s) {', '.join(sorted(unknown))}")
    validity = raw.get("validity_days")
    if not isinstance(validity, int) or validity <= 0:
        raise ConfigError(f"profile {name!r}: validity_days must be a positive integer")
    try:
        keys = tuple(
            KeySpec(k) for k in _strings(name, "key_algorithms", raw.get("key_algorithms", []))
        )
    except ValueError as exc:
        raise ConfigError(f"profile {name!r}: {exc}") from None
    if not keys:
        raise ConfigError(f"profile {name!r}: key_algorithms must not be empty")
    usage = _strings(name, "key_usage", raw.get("key_usage", []), _KEY_USAGES)
    if not usage:  # RFC 5280 §4.2.1.3: at least one bit set
        raise ConfigError(f"profile {name!r}: key_usage must name at least one usage")
    eku = _strings(name, "extended_key_usage", raw.get("extended_key_usage", []))
    for e in eku:
        if e not in _EKU_NAMES and not all(p.isdigit() for p in e.split(".")):
            raise ConfigError(f"profile {name!r}: unknown extended key usage {e!r}")
    attrs = list(ATTRIBUTE_NAMES)
    bools = {}
    for key in (
        "extended_key_usage_critical",
        "san_required",
        "cn_in_san",
        "aia",
        "crl_distribution_point",
        "ocsp_nocheck",
        "natural_person",
        "subject_key_identifier",
    ):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ConfigError(f"profile {name!r}: {key} must be true or false")
            bools[key] = raw[key]
    policies = _strings(name, "policies", raw.get("policies", []))
    for p in policies:
        if not all(part.isdigit() for part in p.split(".")):
            raise ConfigError(f"profile {name!r}: policy {p!r} is not a dotted OID")
    return ProfileSpec(
        name=name,
        description=str(raw.get("description", "")),
        validity_days=validity,
        key_algorithms=keys,
        key_usage=usage,
        extended_key_usage=eku,
        subject_required=_strings(name, "subject_required", raw.get("subject_required", []), attrs),
        subject_allowed=_strings(
            name, "subject_allowed", raw.get("subject_allowed", ["CN"]), attrs
        ),
        san_types=_strings(name, "san_types", raw.get("san_types", []), SAN_TYPES),
        policies=policies,
        **bools,
    )


class ProfileRegistry:
    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self._profiles = dict(profiles)

    def get(self, name: str) -> Profile:
        try:
            return self._profiles[name]
        except KeyError:
            raise UnknownProfile(name) from None

    def names(self) -> list[str]:
        return sorted(self._profiles)

    def __iter__(self) -> Any:
        return iter(self._profiles[n] for n in self.names())


def load_profiles(overrides: Mapping[str, Mapping[str, Any]]) -> ProfileRegistry:
    """Built-in profiles, then ``[profiles.NAME]`` tables from configuration, field by field."""
    text = importlib.resources.files("govtrust.ca").joinpath("profiles.toml").read_text()
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in tomllib.loads(text).items()}
    for name, table in overrides.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"[profiles.{name}] must be a table")
        merged.setdefault(name, {}).update(table)
    return ProfileRegistry(
        {name: Profile.compile(_spec(name, raw)) for name, raw in merged.items()}
    )
