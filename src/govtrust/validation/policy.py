"""The validation policy: the constraints one certificate validation runs under.

EN 319 102-1 §5.1.4 says a validation is controlled by a set of validation constraints:
X.509 validation constraints (§5.1.4.2: trust anchors, revocation checking, the
validation model, certificate policies), cryptographic constraints (§5.1.4.3) and
signature element constraints (§5.1.4.4, for the signature layer). A
:class:`ValidationPolicy` holds the first two; the report records it (``to_dict``) and,
as §5.1.4.1 requires, lists the checks it disables.

Built with :class:`ValidationPolicyBuilder`, an immutable builder in the style of
pyca/cryptography's ``x509.verification.PolicyBuilder``: every setter returns a new
builder, every field is set at most once, and ``build()`` checks what is required.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from govtrust.errors import InputError

__all__ = [
    "AlgorithmPolicy",
    "Purpose",
    "RevocationMode",
    "UsageRule",
    "ValidationPolicy",
    "ValidationPolicyBuilder",
]


def _utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None:
        raise InputError("validation times must carry a time zone")
    return t.astimezone(dt.UTC)


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


class RevocationMode(enum.Enum):
    """How revocation status is checked for every certificate of the path below the
    trust anchor (EN 319 102-1 §5.2.6.4 step 4; ETSI TS 119 172-1 Table A.2 m)."""

    #: Every certificate needs a CRL or OCSP response valid at the validation time
    #: (TS 119 172 ``eithercheck``); none gives INDETERMINATE/TRY_LATER.
    REQUIRE = "require"
    #: Check what can be had; a certificate whose status cannot be found is reported
    #: "revocation unknown" but does not fail the validation.
    IF_AVAILABLE = "if-available"
    #: Do not check revocation (a check disabled by the policy, §5.1.4.1).
    OFF = "off"

    @classmethod
    def parse(cls, text: str) -> RevocationMode:
        try:
            return cls(text.strip().lower())
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise InputError(f"unknown revocation mode {text!r} (use one of: {allowed})") from None


@dataclass(frozen=True)
class UsageRule:
    """What the end-entity certificate must allow for a purpose (EN 319 102-1 §5.2.6.4
    step 5: the X.509 validation constraints applied to the chain).

    ``key_usage_any_of`` names ``cryptography.x509.KeyUsage`` attributes, one of which
    must be asserted when the extension is present (RFC 5280 §4.2.1.3: an absent
    extension does not restrict). ``extended_key_usage_any_of``: one of these purposes,
    when the certificate has the extension (RFC 5280 §4.2.1.12); ``eku_required``: the
    extension must be present. ``eku_exclusive_critical``: RFC 3161 §2.3, the only
    purpose, in a critical extension. ``end_entity_only``: the certificate must not be
    a CA (CA/Browser Forum TLS BRs §7.1.2.7.8).
    """

    key_usage_any_of: frozenset[str] = frozenset()
    extended_key_usage_any_of: frozenset[x509.ObjectIdentifier] = frozenset()
    eku_required: bool = False
    eku_exclusive_critical: bool = False
    end_entity_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "keyUsageAnyOf": sorted(self.key_usage_any_of),
            "extendedKeyUsageAnyOf": sorted(
                o.dotted_string for o in self.extended_key_usage_any_of
            ),
            "extendedKeyUsageRequired": self.eku_required,
            "extendedKeyUsageExclusiveCritical": self.eku_exclusive_critical,
            "endEntityOnly": self.end_entity_only,
        }


class Purpose(enum.Enum):
    """What the certificate is being validated for; each has a :class:`UsageRule`."""

    ANY = "any"
    #: Electronic signatures and seals: EN 319 412-2 §4.3.2 (digitalSignature and/or
    #: nonRepudiation, called contentCommitment by RFC 5280 and cryptography).
    SIGNATURE = "signature"
    #: A time-stamping unit: RFC 3161 §2.3 (id-kp-timeStamping only, critical).
    TIMESTAMPING = "timestamping"
    #: A TLS server: RFC 5280 §4.2.1.12 id-kp-serverAuth. The key usage a TLS key needs
    #: depends on the key exchange (RFC 8446 §4.4.2.2, RFC 5246 §7.4.2): the TLS stack
    #: checks it, not the path validation. The subject CN is not an identity (RFC 9525
    #: §6.3); :func:`govtrust.validation.match_server_name` reads the SAN only.
    TLS_SERVER = "tls-server"
    #: A TLS client: id-kp-clientAuth.
    TLS_CLIENT = "tls-client"

    @property
    def rule(self) -> UsageRule:
        return _RULES[self]


_RULES: dict[Purpose, UsageRule] = {
    Purpose.ANY: UsageRule(),
    Purpose.SIGNATURE: UsageRule(
        key_usage_any_of=frozenset({"digital_signature", "content_commitment"}),
        end_entity_only=True,
    ),
    Purpose.TIMESTAMPING: UsageRule(
        key_usage_any_of=frozenset({"digital_signature", "content_commitment"}),
        extended_key_usage_any_of=frozenset({ExtendedKeyUsageOID.TIME_STAMPING}),
        eku_required=True,
        eku_exclusive_critical=True,
        end_entity_only=True,
    ),
    Purpose.TLS_SERVER: UsageRule(
        extended_key_usage_any_of=frozenset({ExtendedKeyUsageOID.SERVER_AUTH}),
    ),
    Purpose.TLS_CLIENT: UsageRule(
        extended_key_usage_any_of=frozenset({ExtendedKeyUsageOID.CLIENT_AUTH}),
    ),
}


#: Digest sunsets (the time after which a certificate signed with the digest is no
#: longer trusted without a proof of existence from before it). ETSI TS 119 312
#: §6.2.2 lists neither MD5 nor SHA-1 among the hash functions suitable for signatures;
#: the dates are govtrust's defaults: MD2 and MD5 after the 2008 rogue-CA collision
#: (Stevens et al.), SHA-1 at the end of 2015, when the CA/Browser Forum Baseline
#: Requirements §7.1.3 stopped SHA-1 certificate issuance.
_DEFAULT_SUNSETS: tuple[tuple[str, dt.datetime], ...] = (
    ("md2", dt.datetime(2009, 1, 1, tzinfo=dt.UTC)),
    ("md5", dt.datetime(2009, 1, 1, tzinfo=dt.UTC)),
    ("sha1", dt.datetime(2016, 1, 1, tzinfo=dt.UTC)),
)


@dataclass(frozen=True)
class AlgorithmPolicy:
    """Cryptographic constraints (EN 319 102-1 §5.1.4.3), after ETSI TS 119 312.

    ``digest_sunsets``: a certificate, CRL or OCSP response signed with one of these
    digests is acceptable only with a proof that it existed before the date (which
    gives INDETERMINATE/CRYPTO_CONSTRAINTS_FAILURE_NO_POE without one, §5.2.6.4 step 6).
    ``min_rsa_bits`` and ``min_dsa_bits``: smaller keys are refused at any time
    (TS 119 312 §6.2.2.1: RSA moduli of at least 1900 bits, recommended 3000; 2048 is
    what CAs issue).
    """

    digest_sunsets: tuple[tuple[str, dt.datetime], ...] = _DEFAULT_SUNSETS
    min_rsa_bits: int = 2048
    min_dsa_bits: int = 2048

    @classmethod
    def unsafe_legacy(cls) -> AlgorithmPolicy:
        """SHA-1 and 1024-bit RSA/DSA keys accepted at any time. Only for running old
        conformance suites (NIST PKITS dates from 2010); never for real validations."""
        return cls(
            digest_sunsets=(_DEFAULT_SUNSETS[0], _DEFAULT_SUNSETS[1]),
            min_rsa_bits=1024,
            min_dsa_bits=1024,
        )

    def sunset_of(self, digest: str) -> dt.datetime | None:
        for name, when in self.digest_sunsets:
            if name == digest:
                return when
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "digestSunsets": {name: when.isoformat() for name, when in self.digest_sunsets},
            "minRsaBits": self.min_rsa_bits,
            "minDsaBits": self.min_dsa_bits,
        }


def _describe(cert: x509.Certificate) -> dict[str, str]:
    subject, sha256 = _description(cert)
    return {"subject": subject, "sha256": sha256}


@functools.lru_cache(maxsize=4096)
def _description(cert: x509.Certificate) -> tuple[str, str]:
    """Once per anchor: every report describes its policy's anchors."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.subject.rfc4514_string(), hashlib.sha256(
        cert.public_bytes(Encoding.DER)
    ).hexdigest()


@dataclass(frozen=True)
class ValidationPolicy:
    """The constraints of one certificate validation. Build with :meth:`builder`.

    ``at`` is the validation time (EN 319 102-1 §5.2.6.2 input "validation time");
    ``None`` means the current time of the clock the validation is given.
    """

    trust_anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    revocation: RevocationMode = RevocationMode.REQUIRE
    at: dt.datetime | None = None
    purpose: Purpose = Purpose.ANY
    algorithms: AlgorithmPolicy = field(default_factory=AlgorithmPolicy)
    #: RFC 5280 §6.1.1 (c) user-initial-policy-set; empty means any-policy.
    certificate_policies: frozenset[str] = frozenset()
    #: RFC 5280 §6.1.1 (f) initial-explicit-policy.
    require_explicit_policy: bool = False
    #: RFC 5280 §6.1.1 (e) initial-policy-mapping-inhibit.
    inhibit_policy_mapping: bool = False
    #: RFC 5280 §6.1.1 (g) initial-any-policy-inhibit.
    inhibit_any_policy: bool = False
    #: The most intermediate CA certificates a path may hold, self-issued ones not
    #: counted as RFC 5280 §4.2.1.9 does for pathLenConstraint (None: no limit here;
    #: the path builder and basicConstraints still bound it).
    max_intermediates: int | None = None

    @staticmethod
    def builder() -> ValidationPolicyBuilder:
        return ValidationPolicyBuilder()

    def at_time(self, at: dt.datetime) -> ValidationPolicy:
        """The same policy at another validation time."""
        return replace(self, at=_utc(at))

    @property
    def disabled_checks(self) -> tuple[str, ...]:
        """EN 319 102-1 §5.1.4.1: checks the policy switches off, for the report."""
        disabled = []
        if self.revocation is RevocationMode.OFF:
            disabled.append("revocation")
        if self.revocation is RevocationMode.IF_AVAILABLE:
            disabled.append("revocation-when-unavailable")
        if self.purpose is Purpose.ANY:
            disabled.append("key-usage")
        return tuple(disabled)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trustAnchors": [_describe(c) for c in self.trust_anchors],
            "intermediates": [_describe(c) for c in self.intermediates],
            "revocation": self.revocation.value,
            "validationTime": _iso(self.at),
            "purpose": self.purpose.value,
            "usage": self.purpose.rule.to_dict(),
            "algorithms": self.algorithms.to_dict(),
            "certificatePolicies": sorted(self.certificate_policies) or ["anyPolicy"],
            "requireExplicitPolicy": self.require_explicit_policy,
            "inhibitPolicyMapping": self.inhibit_policy_mapping,
            "inhibitAnyPolicy": self.inhibit_any_policy,
            "maxIntermediates": self.max_intermediates,
            "disabledChecks": list(self.disabled_checks),
        }


@dataclass(frozen=True)
class ValidationPolicyBuilder:
    """Immutable builder for :class:`ValidationPolicy`: each setter returns a new
    builder and may be called once; :meth:`build` requires trust anchors."""

    _fields: tuple[tuple[str, Any], ...] = ()

    def _set(self, name: str, value: Any) -> ValidationPolicyBuilder:
        if any(n == name for n, _ in self._fields):
            raise ValueError(f"{name} may only be set once")
        return ValidationPolicyBuilder((*self._fields, (name, value)))

    def trust_anchors(
        self, certificates: tuple[x509.Certificate, ...] | list[x509.Certificate]
    ) -> ValidationPolicyBuilder:
        return self._set("trust_anchors", _dedupe(certificates))

    def intermediates(
        self, certificates: tuple[x509.Certificate, ...] | list[x509.Certificate]
    ) -> ValidationPolicyBuilder:
        """Extra CA certificates path building may use (not trusted by themselves)."""
        return self._set("intermediates", _dedupe(certificates))

    def revocation(self, mode: RevocationMode | str) -> ValidationPolicyBuilder:
        value = mode if isinstance(mode, RevocationMode) else RevocationMode.parse(mode)
        return self._set("revocation", value)

    def at(self, when: dt.datetime) -> ValidationPolicyBuilder:
        return self._set("at", _utc(when))

    def purpose(self, purpose: Purpose) -> ValidationPolicyBuilder:
        return self._set("purpose", purpose)

    def algorithms(self, algorithms: AlgorithmPolicy) -> ValidationPolicyBuilder:
        return self._set("algorithms", algorithms)

    def certificate_policies(
        self,
        policies: frozenset[str] | set[str] | tuple[str, ...],
        *,
        require_explicit: bool = False,
    ) -> ValidationPolicyBuilder:
        """RFC 5280 §6.1.1 (c) and (f): acceptable policy OIDs (dotted strings)."""
        for oid in policies:
            x509.ObjectIdentifier(oid)  # raises ValueError on a malformed OID
        return self._set("certificate_policies", frozenset(policies))._set(
            "require_explicit_policy", require_explicit
        )

    def require_explicit_policy(self) -> ValidationPolicyBuilder:
        return self._set("require_explicit_policy", True)

    def inhibit_policy_mapping(self) -> ValidationPolicyBuilder:
        return self._set("inhibit_policy_mapping", True)

    def inhibit_any_policy(self) -> ValidationPolicyBuilder:
        return self._set("inhibit_any_policy", True)

    def max_intermediates(self, count: int) -> ValidationPolicyBuilder:
        if count < 0:
            raise ValueError("max_intermediates cannot be negative")
        return self._set("max_intermediates", count)

    def build(self) -> ValidationPolicy:
        values = dict(self._fields)
        if not values.get("trust_anchors"):
            raise InputError("a validation policy needs at least one trust anchor")
        return ValidationPolicy(**values)


def _dedupe(
    certificates: tuple[x509.Certificate, ...] | list[x509.Certificate],
) -> tuple[x509.Certificate, ...]:
    # By DER, in one pass: a trust store fed by trusted lists holds thousands of anchors.
    seen: dict[bytes, x509.Certificate] = {}
    for cert in certificates:
        if not isinstance(cert, x509.Certificate):
            raise TypeError(f"expected a cryptography x509.Certificate, not {type(cert).__name__}")
        seen.setdefault(cert.public_bytes(Encoding.DER), cert)
    return tuple(seen.values())
