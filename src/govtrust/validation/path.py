"""Certificate path building and validation at a given time, with revocation checking,
mapped to the ETSI EN 319 102-1 X.509 certificate validation building block.

pyhanko-certvalidator does the RFC 5280 §6.1 work: path building (with AIA caIssuers
fetching), signatures, validity, name chaining, basic and name constraints, policy
processing (RFC 9618 policy graphs), CRL and OCSP processing (RFC 5280 §6.3, RFC 6960).
This module runs it as EN 319 102-1 V1.4.1 §5.2.6.4 describes, adds the checks it
leaves out (RFC 5280 §4 certificate rules, trust-anchor name constraints and validity,
bounds on path building and name-constraint work, the purpose's key usages) and turns
the outcome into an indication:

1. the certificate is itself a trust anchor: PASSED;
2. build a prospective chain; none: INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND;
3. the trust anchor outside its validity: NO_CERTIFICATE_CHAIN_FOUND_NO_POE;
4. RFC 5280 path validation at the validation time, with revocation checking:
   a) revocation data not fresh or missing: TRY_LATER; b) the certificate is revoked:
   REVOKED_NO_POE; c) on hold: TRY_LATER; d) a CA is revoked: REVOKED_CA_NO_POE;
   e) any other failure: CERTIFICATE_CHAIN_GENERAL_FAILURE (policy-driven failures:
   CHAIN_CONSTRAINTS_FAILURE);
5. the X.509 validation constraints of the purpose (key usage, extended key usage):
   CHAIN_CONSTRAINTS_FAILURE;
6. cryptographic constraints: CRYPTO_CONSTRAINTS_FAILURE(_NO_POE);
7. the validation time outside the certificate's validity: OUT_OF_BOUNDS_NOT_REVOKED
   or OUT_OF_BOUNDS_NO_POE.

Then the time of use decides (§5.3.4, §5.5.4, §5.6.2.4 and Table 6). A certificate used
*at* the validation time (``poe_time`` not given: a TLS handshake, a credential about to
sign, a status lookup) that was revoked or had expired by then is TOTAL-FAILED/REVOKED
or /EXPIRED. A signature the caller proves existed at ``poe_time`` (a time-stamp) gets
the past signature validation: when the POE is before the revocation, the expiry or the
algorithm sunset and the chain is valid at the POE itself (which is what a §5.6.2.1
control time at or after the POE means), it passes. ``created_after`` (a content
time-stamp) proves the signature was made after a time: a revocation before it is
TOTAL-FAILED/REVOKED.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from asn1crypto import crl as a_crl
from asn1crypto import ocsp as a_ocsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import PKIXValidationParams
from pyhanko_certvalidator.authority import (
    AuthorityWithCert,
    CertTrustAnchor,
    TrustAnchor,
    TrustQualifiers,
)
from pyhanko_certvalidator.context import (
    CertValidationPolicySpec,
    ValidationContext,
    ValidationDataHandlers,
)
from pyhanko_certvalidator.errors import (
    CRLFetchError,
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientPOEError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    OCSPFetchError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    StaleRevinfoError,
    ValidationError,
)
from pyhanko_certvalidator.fetchers import FetcherBackend, Fetchers
from pyhanko_certvalidator.ltv.poe import POEManager
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.name_trees import process_general_subtrees
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    NO_REVOCATION,
    REQUIRE_REVINFO,
    AlgorithmUsageConstraint,
    AlgorithmUsagePolicy,
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import CertificateRegistry, SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer
from pyhanko_certvalidator.revinfo.manager import RevinfoManager
from pyhanko_certvalidator.revinfo.validate_crl import collect_relevant_crls_with_paths
from pyhanko_certvalidator.revinfo.validate_ocsp import collect_relevant_responses_with_paths
from pyhanko_certvalidator.validate import async_validate_path

from govtrust.clock import Clock, SystemClock
from govtrust.errors import InputError
from govtrust.validation import _reuse
from govtrust.validation._checks import (
    anchor_cert,
    crypto_problem,
    key_problem,
    logical_intermediates,
    name_constraint_problem,
    profile_problem,
    usage_problem,
    within,
)
from govtrust.validation.fetchers import ValidationData, crl_problem
from govtrust.validation.indications import Indication, SubIndication
from govtrust.validation.policy import AlgorithmPolicy, RevocationMode, ValidationPolicy
from govtrust.validation.results import (
    CertificateValidationResult,
    ChainCertificate,
    RevocationData,
    RevocationStatus,
    Validity,
)

__all__ = [
    "MAX_CANDIDATE_PATHS",
    "MAX_ISSUER_LOOKUPS",
    "async_validate_certificate",
]

logger = logging.getLogger(__name__)

#: Path building stops after this many candidate paths: a hostile set of
#: cross-certificates can make the number of paths grow exponentially.
MAX_CANDIDATE_PATHS = 16


# ---- the policy, compiled once for pyhanko-certvalidator -------------------------------


class _Algorithms(AlgorithmUsagePolicy):
    """:class:`AlgorithmPolicy` as pyhanko-certvalidator asks for it."""

    def __init__(self, policy: AlgorithmPolicy) -> None:
        self._policy = policy

    def _digest(self, name: str, moment: dt.datetime | None) -> AlgorithmUsageConstraint:
        sunset = self._policy.sunset_of(name)
        if sunset is None or (moment is not None and moment < sunset):
            return AlgorithmUsageConstraint(allowed=True)
        return AlgorithmUsageConstraint(
            allowed=False,
            not_allowed_after=sunset,
            failure_reason=f"{name} is not accepted after {sunset:%Y-%m-%d} (ETSI TS 119 312)",
        )

    def digest_algorithm_allowed(
        self, algo: Any, moment: dt.datetime | None
    ) -> AlgorithmUsageConstraint:
        return self._digest(str(algo["algorithm"].native), moment)

    def signature_algorithm_allowed(
        self, algo: Any, moment: dt.datetime | None, public_key: Any
    ) -> AlgorithmUsageConstraint:
        if public_key is not None:
            problem = key_problem(public_key, self._policy)
            if problem is not None:
                return AlgorithmUsageConstraint(allowed=False, failure_reason=problem)
        try:
            digest = algo.hash_algo
        except ValueError:  # EdDSA and other algorithms without a separate digest
            return AlgorithmUsageConstraint(allowed=True)
        return self._digest(str(digest), moment)


_RULES = {
    RevocationMode.REQUIRE: REQUIRE_REVINFO,
    RevocationMode.IF_AVAILABLE: RevocationCheckingPolicy(
        RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
        RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
    ),
    RevocationMode.OFF: NO_REVOCATION,
}


@dataclass(frozen=True)
class _Compiled:
    """The time-independent part of a policy in pyhanko-certvalidator's terms, built
    once per policy (parsing anchors and intermediates is the costly part)."""

    trust_manager: SimpleTrustManager
    anchors: tuple[Any, ...]
    intermediates: tuple[Any, ...]
    pkix: PKIXValidationParams
    algorithms: _Algorithms
    checking: RevocationCheckingPolicy


@functools.lru_cache(maxsize=4096)
def _parse_certificate(der: bytes) -> Any:
    """One asn1crypto parse per distinct certificate, shared by the validations of a
    process: a signature, its time-stamps and their embedded data name the same
    certificates many times, and asn1crypto's full parse is most of a validation's
    cost. The objects are only read after :func:`_usable` has parsed them."""
    cert = a_x509.Certificate.load(der)
    _usable(cert)
    return cert


def _to_asn1(cert: x509.Certificate) -> Any:
    return _parse_certificate(cert.public_bytes(Encoding.DER))


def _usable(cert: Any) -> bool:
    """asn1crypto parses lazily; parse the parts path building reads now, so that a
    malformed certificate is left out instead of failing deep inside the validation."""
    try:
        cert.native  # noqa: B018
        cert.public_key.sha1  # noqa: B018
        cert.issuer_serial  # noqa: B018
        cert.subject.human_friendly  # noqa: B018
        cert.issuer.human_friendly  # noqa: B018
        return True
    except Exception as exc:
        logger.info("ignoring a certificate that does not parse: %s", exc)
        return False


def _certs(certs: Iterable[x509.Certificate]) -> tuple[Any, ...]:
    return tuple(c for c in (_to_asn1(c) for c in certs) if _usable(c))


def _anchor(cert: Any) -> TrustAnchor:
    """A trust anchor whose name constraints, if it has any, constrain the paths below
    it (RFC 5280 §6.1.1 (b)-(c): initial-permitted/excluded-subtrees, and RFC 5937
    §2: constraints carried by the trust anchor's certificate)."""
    nc = cert.name_constraints_value
    if nc is None:
        return CertTrustAnchor(cert)
    permitted = excluded = None
    if isinstance(nc["permitted_subtrees"], a_x509.GeneralSubtrees):
        permitted = process_general_subtrees(nc["permitted_subtrees"])
    if isinstance(nc["excluded_subtrees"], a_x509.GeneralSubtrees):
        excluded = process_general_subtrees(nc["excluded_subtrees"])
    params = PKIXValidationParams(
        initial_permitted_subtrees=permitted, initial_excluded_subtrees=excluded
    )
    return CertTrustAnchor(cert, quals=TrustQualifiers(standard_parameters=params))


def _anchors(certs: tuple[Any, ...]) -> list[TrustAnchor]:
    found = []
    for cert in certs:
        try:
            found.append(_anchor(cert))
        except Exception as exc:
            logger.warning("ignoring a trust anchor whose name constraints do not parse: %s", exc)
    return found


@functools.lru_cache(maxsize=32)
def _compile(policy: ValidationPolicy) -> _Compiled:
    anchors = _certs(policy.trust_anchors)
    return _Compiled(
        trust_manager=SimpleTrustManager.build(trust_roots=_anchors(anchors)),
        anchors=anchors,
        intermediates=_certs(policy.intermediates),
        pkix=PKIXValidationParams(
            user_initial_policy_set=policy.certificate_policies or frozenset({"any_policy"}),
            initial_explicit_policy=policy.require_explicit_policy,
            initial_policy_mapping_inhibit=policy.inhibit_policy_mapping,
            initial_any_policy_inhibit=policy.inhibit_any_policy,
        ),
        algorithms=_Algorithms(policy.algorithms),
        checking=_RULES[policy.revocation],
    )


class _BoundedRegistry(CertificateRegistry):
    """A certificate registry that bounds path building.

    pyhanko-certvalidator's path builder walks every issuer candidate depth-first; a set
    of intermediates that share a subject or a key but never reach an anchor makes that
    walk factorial (x509-limbo ``pathological::pathological-chain-*``, after Go's
    ``TestPathologicalChains``). Each step of the walk asks the registry for the
    issuers of one certificate, so counting those questions bounds the work.
    """

    def __init__(self, *, cert_fetcher: Any = None, budget: int = 0) -> None:
        super().__init__(cert_fetcher=cert_fetcher)
        self._budget = budget

    def find_potential_issuers(self, cert: Any, trust_manager: Any) -> Any:
        self._budget -= 1
        if self._budget < 0:
            raise PathBuildingError("path building gave up: too many candidate issuers to explore")
        return super().find_potential_issuers(cert, trust_manager)


#: Issuer look-ups one validation may make while building paths (including the paths
#: of CRL issuers and OCSP responders).
MAX_ISSUER_LOOKUPS = 1024


# ---- one attempt at one candidate path ---------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """What §5.2.6.4 concluded for one prospective chain (``sub`` None: PASSED)."""

    path: ValidationPath | None
    sub: SubIndication | None
    message: str
    error_time: dt.datetime | None = None
    revoked_cert: Any = None  # asn1crypto certificate named by a RevokedError
    revocation_reason: str | None = None
    about_signature: bool = False

    @property
    def rank(self) -> int:
        """Which failure to report when every candidate chain failed: the most
        specific one (EN 319 102-1 §5.1.3 NOTE 2 leaves the choice to the SVA)."""
        if self.sub is SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE and self.about_signature:
            return len(_RANK)
        return _RANK.get(self.sub, len(_RANK) - 1) if self.sub else -1


_RANK = {
    s: i
    for i, s in enumerate(
        [
            SubIndication.REVOKED_NO_POE,
            SubIndication.REVOKED_CA_NO_POE,
            SubIndication.OUT_OF_BOUNDS_NOT_REVOKED,
            SubIndication.OUT_OF_BOUNDS_NO_POE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            SubIndication.TRY_LATER,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
            SubIndication.NO_POE,
            SubIndication.NO_CERTIFICATE_CHAIN_FOUND_NO_POE,
            SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
        ]
    )
}


def _reason_label(reason: Any) -> str | None:
    native = getattr(reason, "native", None)
    return str(native).replace("_", "-") if native else None


def _classify(path: ValidationPath, exc: Exception, policy: ValidationPolicy) -> _Outcome:
    """Map a pyhanko-certvalidator exception to a §5.2.6.4 step-4 outcome."""
    msg = getattr(exc, "failure_msg", None) or str(exc) or type(exc).__name__
    side = isinstance(exc, PathValidationError) and exc.is_side_validation
    if isinstance(exc, RevokedError) and not side:
        reason = _reason_label(exc.reason)
        if reason == "certificate-hold":  # step 4 c): suspended, not revoked
            return _Outcome(path, SubIndication.TRY_LATER, msg, exc.revocation_dt)
        sub = SubIndication.REVOKED_NO_POE if exc.is_ee_cert else SubIndication.REVOKED_CA_NO_POE
        cert = exc.current_path.leaf if exc.current_path else None
        return _Outcome(path, sub, msg, exc.revocation_dt, cert, reason)
    if isinstance(exc, StaleRevinfoError):  # step 4 a): not fresh
        return _Outcome(path, SubIndication.TRY_LATER, msg, exc.time_cutoff)
    if isinstance(exc, InsufficientRevinfoError):  # no revocation status at all
        return _Outcome(path, SubIndication.TRY_LATER, msg)
    if isinstance(exc, InsufficientPOEError):
        return _Outcome(path, SubIndication.NO_POE, msg)
    if isinstance(exc, DisallowedAlgorithmError):  # step 6
        if exc.banned_since is None:
            return _Outcome(path, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, msg)
        return _Outcome(
            path, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, msg, exc.banned_since
        )
    if isinstance(exc, ExpiredError | NotYetValidError) and exc.is_ee_cert and not side:
        # Step 7; whether it is "known not revoked" is decided with the evidence later.
        when = exc.expired_dt if isinstance(exc, ExpiredError) else exc.valid_from
        return _Outcome(path, SubIndication.OUT_OF_BOUNDS_NO_POE, msg, when)
    if isinstance(exc, PathValidationError) and _is_policy_failure(msg, policy):
        return _Outcome(path, SubIndication.CHAIN_CONSTRAINTS_FAILURE, msg)
    return _Outcome(
        path,
        SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
        msg,
        about_signature="signature" in msg,
    )


def _is_policy_failure(msg: str, policy: ValidationPolicy) -> bool:
    """RFC 5280 §6.1.5 (g) failed under the policy's own certificate-policy constraints
    (EN 319 102-1 §5.1.4.2: X.509 validation constraints) rather than the chain's."""
    constrained = bool(policy.certificate_policies) or policy.require_explicit_policy
    return constrained and "set of policies" in msg


# ---- the building block ----------------------------------------------------------------


@dataclass
class _Run:
    """Everything one validation call works with."""

    policy: ValidationPolicy
    compiled: _Compiled
    at: dt.datetime
    context: ValidationContext
    embedded: frozenset[bytes]


@functools.lru_cache(maxsize=1024)
def _parse_crl(der: bytes) -> Any:
    """A fully parsed embedded CRL, or None when it does not parse or cannot be used
    (cached per DER like :func:`_parse_certificate`)."""
    try:
        parsed = a_crl.CertificateList.load(der)
        parsed.native  # noqa: B018 - parse it all now
    except (ValueError, TypeError, KeyError) as exc:
        logger.info("ignoring an embedded CRL that does not parse: %s", exc)
        return None
    problem = crl_problem(parsed)
    if problem is not None:
        logger.info("ignoring an embedded CRL: %s", problem)
        return None
    return parsed


@functools.lru_cache(maxsize=4096)
def _parse_ocsp(der: bytes) -> Any:
    """A fully parsed embedded OCSP response, or None (cached per DER)."""
    try:
        parsed = a_ocsp.OCSPResponse.load(der)
        parsed.native  # noqa: B018
        OCSPContainer.load_multi(parsed)
    except (ValueError, TypeError, KeyError) as exc:
        logger.info("ignoring an embedded OCSP response that does not parse: %s", exc)
        return None
    return parsed


def _containers(data: ValidationData) -> tuple[list[CRLContainer], list[OCSPContainer], list[Any]]:
    """Parse embedded validation data, leaving out what does not parse (hostile input
    never crashes the validation; it only does not help it)."""
    crls: list[CRLContainer] = []
    ocsps: list[OCSPContainer] = []
    for der in data.crls:
        parsed = _parse_crl(der)
        if parsed is not None:
            crls.append(CRLContainer(parsed))
    for der in data.ocsp_responses:
        parsed_ocsp = _parse_ocsp(der)
        if parsed_ocsp is not None:
            ocsps.extend(OCSPContainer.load_multi(parsed_ocsp))
    certs = list(_certs(data.certificates))
    return crls, ocsps, certs


class _EmbeddedAlwaysRevinfo(RevinfoManager):
    """pyhanko-certvalidator's revocation data manager, except that a failed fetch
    does not hide the revocation data the signature embeds: its OCSP retrieval returns
    the embedded responses only when the fetch succeeds, so an offline validation (or
    an unreachable responder) would ignore a B-LT signature's own OCSP responses.
    EN 319 102-1 §5.6.2.2 validates with the long-term material the signature carries
    (pinned to pyhanko-certvalidator 0.33, whose ``_ocsps`` holds it)."""

    async def async_retrieve_ocsps(self, cert: Any, authority: Any) -> list[OCSPContainer]:
        try:
            return list(await super().async_retrieve_ocsps(cert, authority))
        except (OCSPFetchError, ValueError) as exc:
            embedded: list[OCSPContainer] = list(self._ocsps)
            if not embedded:
                raise
            logger.info("OCSP fetch failed (%s); using the embedded responses", exc)
            return embedded

    async def async_retrieve_crls(self, cert: Any) -> list[CRLContainer]:
        try:
            return list(await super().async_retrieve_crls(cert))
        except (CRLFetchError, ValueError) as exc:
            embedded = self.currently_available_crls()
            if not embedded:
                raise
            logger.info("CRL fetch failed (%s); using the embedded CRLs", exc)
            return list(embedded)


def _context(
    compiled: _Compiled,
    policy: ValidationPolicy,
    at: dt.datetime,
    fetchers: Fetchers | None,
    data: ValidationData,
) -> ValidationContext:
    crls, ocsps, certs = _containers(data)
    registry = _BoundedRegistry(
        cert_fetcher=fetchers.cert_fetcher if fetchers is not None else None,
        budget=MAX_ISSUER_LOOKUPS,
    )
    for cert in (*compiled.intermediates, *certs):
        registry.register(cert)
    # Objects without a registered POE exist at the validation time, not at the
    # machine's clock (EN 319 102-1 §5.6.2.1: the validation time is a POE of
    # everything at hand).
    poe = POEManager(current_dt_override=at)
    revinfo = _EmbeddedAlwaysRevinfo(
        certificate_registry=registry,
        poe_manager=poe,
        crls=crls,
        ocsps=ocsps,
        fetchers=fetchers,
    )
    return ValidationContext(
        trust_manager=compiled.trust_manager,
        # A validation at a time the caller chose (--at): revocation data issued after
        # that time counts, as in the past validation (_spec; EN 319 102-1 §5.2.5
        # freshness never rejects data as too recent).
        revinfo_policy=CertRevTrustPolicy(
            compiled.checking, retroactive_revinfo=policy.at is not None
        ),
        revinfo_manager=revinfo,
        certificate_registry=registry,
        poe_manager=poe,
        algorithm_usage_policy=compiled.algorithms,
        moment=at,
        best_signature_time=at,
        time_tolerance=dt.timedelta(0),
        allow_fetching=fetchers is not None,
    )


async def _building_block(leaf: Any, run: _Run) -> _Outcome:
    """EN 319 102-1 §5.2.6.4 steps 1–7 over the candidate chains; the first chain that
    passes wins, otherwise the most specific failure is returned."""
    outcomes: list[_Outcome] = []
    if not _usable(leaf):
        return _Outcome(
            None, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, "the certificate does not parse"
        )
    try:
        paths = run.context.path_builder.async_build_paths_lazy(leaf)
    except Exception as exc:
        return _Outcome(
            None, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, f"path building failed: {exc}"
        )
    try:
        async for path in paths:
            outcome = await _try_path(path, run)
            if outcome.sub is None:
                return outcome
            outcomes.append(outcome)
            if len(outcomes) >= MAX_CANDIDATE_PATHS:
                break
    except PathBuildingError as exc:
        if not outcomes:
            return _Outcome(None, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, str(exc))
    except Exception as exc:
        logger.info("path building failed", exc_info=exc)
        outcomes.append(
            _Outcome(
                None,
                SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                f"path building failed: {exc}",
            )
        )
    finally:
        await paths.cancel()  # type: ignore[no-untyped-call]
    if not outcomes:
        return _Outcome(
            None, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, "no certificate chain found"
        )
    return min(outcomes, key=lambda o: o.rank)


async def _try_path(path: ValidationPath, run: _Run) -> _Outcome:
    policy = run.policy
    interm = logical_intermediates(path)
    if policy.max_intermediates is not None and interm > policy.max_intermediates:
        return _Outcome(
            path,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
            f"the chain has {interm} intermediate certificates; the policy allows "
            f"{policy.max_intermediates}",
        )
    anchor = anchor_cert(path)
    if anchor is not None and not within(anchor, run.at):
        # Step 3: the trust anchor is not trusted at the validation time.
        return _Outcome(
            path,
            SubIndication.NO_CERTIFICATE_CHAIN_FOUND_NO_POE,
            f"the trust anchor {anchor.subject.human_friendly} is outside its validity "
            f"period ({anchor.not_valid_before} to {anchor.not_valid_after})",
            anchor.not_valid_after,
        )
    try:
        problem = profile_problem(path) or name_constraint_problem(path)
    except Exception as exc:
        problem = f"a certificate of the chain does not parse: {exc}"
    if problem is not None:
        return _Outcome(path, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, problem)
    try:
        # Step 4: RFC 5280 path validation, revocation included.
        await async_validate_path(run.context, path, run.compiled.pkix)
    except InvalidCertificateError as exc:
        return _Outcome(path, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, exc.failure_msg)
    except ValidationError as exc:
        return _classify(path, exc, policy)
    except Exception as exc:
        logger.info("path validation failed", exc_info=exc)
        return _Outcome(
            path, SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE, f"path validation failed: {exc}"
        )
    if path.pkix_len == 0:  # step 1: the certificate is a trust anchor
        return _Outcome(path, None, "the certificate is a trust anchor")
    assert path.leaf is not None
    leaf = x509.load_der_x509_certificate(path.leaf.dump())
    problem = usage_problem(leaf, policy.purpose.rule)  # step 5
    if problem is not None:
        return _Outcome(path, SubIndication.CHAIN_CONSTRAINTS_FAILURE, problem)
    problem = crypto_problem(path, policy.algorithms)  # step 6
    if problem is not None:
        return _Outcome(path, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, problem)
    return _Outcome(path, None, "the certificate chain is valid")


# ---- proofs of existence: EN 319 102-1 §5.6.2.4 past signature validation ----------------


def _spec(run: _Run) -> CertValidationPolicySpec:
    """The policy for a validation in the past. Revocation data issued after the
    control time counts (AdES freshness never rejects data as too recent, §5.2.5)."""
    return CertValidationPolicySpec(
        trust_manager=run.compiled.trust_manager,
        revinfo_policy=CertRevTrustPolicy(run.compiled.checking, retroactive_revinfo=True),
        time_tolerance=dt.timedelta(0),
        algorithm_usage_policy=run.compiled.algorithms,
        pkix_validation_params=run.compiled.pkix,
    )


def _handlers(run: _Run) -> ValidationDataHandlers:
    revinfo = run.context.revinfo_manager
    return ValidationDataHandlers(
        revinfo_manager=revinfo,
        poe_manager=revinfo.poe_manager,
        cert_registry=run.context.certificate_registry,
    )


async def _valid_at_poe(path: ValidationPath, run: _Run, poe: dt.datetime) -> None:
    """§5.6.2.1 past certificate validation, asked the one question §5.6.2.4 needs:
    is the control time at or after the POE? The time-slide algorithm moves the control
    time back from the validation time to the earliest revocation, algorithm sunset,
    expiry or end of revocation-data freshness in the chain; the chain is valid at the
    POE exactly when none of those is before it. So the chain is validated at the POE
    (validity, revocation status with the data at hand, algorithms, freshness), and a
    ``ValidationError`` says it was not.
    """
    anchor = anchor_cert(path)
    if anchor is not None and not within(anchor, poe):
        raise ValueError("the trust anchor was not valid at the proof of existence")
    timing = ValidationTimingInfo(
        validation_time=poe, best_signature_time=poe, point_in_time_validation=True
    )
    context = _spec(run).build_validation_context(timing_info=timing, handlers=_handlers(run))
    await async_validate_path(context, path, run.compiled.pkix)


_PAST_HELPS = frozenset(
    {
        SubIndication.REVOKED_NO_POE,
        SubIndication.REVOKED_CA_NO_POE,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
        SubIndication.OUT_OF_BOUNDS_NOT_REVOKED,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND_NO_POE,
        SubIndication.TRY_LATER,
    }
)


@dataclass(frozen=True)
class _Conclusion:
    indication: Indication
    sub: SubIndication | None
    message: str
    control_time: dt.datetime | None = None


async def _conclude(
    outcome: _Outcome,
    run: _Run,
    poe: dt.datetime,
    created_after: dt.datetime | None,
) -> _Conclusion:
    """The indication, given what is proven about when the certificate was used."""
    sub = outcome.sub
    if sub is None:
        return _Conclusion(Indication.TOTAL_PASSED, None, outcome.message)
    path = outcome.path
    when = outcome.error_time
    # Table 6 TOTAL-FAILED rows: a proof that the use came after the event.
    if sub is SubIndication.REVOKED_NO_POE and when and created_after and created_after >= when:
        return _Conclusion(
            Indication.TOTAL_FAILED,
            SubIndication.REVOKED,
            f"{outcome.message} The certificate was used after its revocation.",
        )
    if (
        sub in (SubIndication.OUT_OF_BOUNDS_NO_POE, SubIndication.OUT_OF_BOUNDS_NOT_REVOKED)
        and path
        and path.leaf is not None
    ):
        leaf = path.leaf
        if created_after is not None and created_after > leaf.not_valid_after:
            return _Conclusion(
                Indication.TOTAL_FAILED,
                SubIndication.EXPIRED,
                f"{outcome.message} The certificate was used after it expired.",
            )
        if poe < leaf.not_valid_before:  # §5.6.2.4: best-signature-time before notBefore
            return _Conclusion(
                Indication.TOTAL_FAILED,
                SubIndication.NOT_YET_VALID,
                f"{outcome.message} The certificate was used before it became valid.",
            )
    if sub not in _PAST_HELPS or path is None or path.pkix_len == 0:
        return _Conclusion(sub.indication, sub, outcome.message)
    if when is not None and sub is not SubIndication.TRY_LATER and poe >= when:
        return _Conclusion(
            sub.indication, sub, f"{outcome.message} No proof of existence before it."
        )
    if sub is SubIndication.TRY_LATER and poe >= run.at:
        return _Conclusion(sub.indication, sub, outcome.message)
    try:
        await _valid_at_poe(path, run, poe)
    except (ValidationError, ValueError) as exc:
        logger.info("past certificate validation failed", exc_info=exc)
        return _Conclusion(
            sub.indication,
            sub,
            f"{outcome.message} Past certificate validation at the proof of existence "
            f"({poe.isoformat()}) failed: {getattr(exc, 'failure_msg', exc)}",
        )
    return _Conclusion(
        Indication.TOTAL_PASSED,
        None,
        f"the chain was valid at the proof of existence {poe.isoformat()} "
        f"(EN 319 102-1 §5.6.2.4); at the validation time: {outcome.message}",
        poe,
    )


# ---- describing the chain: per-certificate status and revocation data ------------------


def _sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _name(name: Any) -> str:
    try:
        return x509.Name.from_rfc4514_string(name.human_friendly).rfc4514_string()
    except (ValueError, TypeError):
        return str(name.human_friendly)


def _covers(this: dt.datetime | None, nxt: dt.datetime | None, at: dt.datetime) -> bool:
    if this is None or this > at:
        return False
    return nxt is None or at <= nxt


async def _ocsp_evidence(cert: Any, path: ValidationPath, run: _Run) -> list[RevocationData]:
    found: list[RevocationData] = []
    try:
        result = await collect_relevant_responses_with_paths(
            cert, path, run.context.revinfo_manager, run.at
        )
    except (ValidationError, ValueError, LookupError) as exc:
        logger.debug("no OCSP evidence", exc_info=exc)
        return found
    except Exception as exc:
        logger.debug("no OCSP evidence", exc_info=exc)
        return found
    for item in result.responses:
        cont = item.ocsp_response
        single = cont.extract_single_response()
        basic = cont.extract_basic_ocsp_response()
        if single is None or basic is None:
            continue
        status_name = single["cert_status"].name
        status = {"good": RevocationStatus.GOOD, "revoked": RevocationStatus.REVOKED}.get(
            status_name, RevocationStatus.UNKNOWN
        )
        rev_time = reason = None
        if status is RevocationStatus.REVOKED:
            info = single["cert_status"].chosen
            rev_time = info["revocation_time"].native
            reason = _reason_label(info["revocation_reason"]) or "unspecified"
        der = cont.ocsp_response_data.dump()
        responder = item.prov_path.leaf
        found.append(
            RevocationData(
                kind="ocsp",
                source="embedded" if hashlib.sha256(der).digest() in run.embedded else "fetched",
                sha256=_sha256(der),
                issuer=_name(responder.subject) if responder is not None else "",
                this_update=single["this_update"].native,
                next_update=single["next_update"].native,
                certificate_status=status,
                produced_at=basic["tbs_response_data"]["produced_at"].native,
                revocation_time=rev_time,
                revocation_reason=reason,
            )
        )
    return found


async def _crl_evidence(cert: Any, path: ValidationPath, run: _Run) -> list[RevocationData]:
    found: list[RevocationData] = []
    try:
        result = await collect_relevant_crls_with_paths(
            cert, path, run.context.revinfo_manager, run.at
        )
    except Exception as exc:
        logger.debug("no CRL evidence", exc_info=exc)
        return found
    for item in result.crls:
        data = item.crl.crl_data
        tbs = data["tbs_cert_list"]
        status, rev_time, reason = RevocationStatus.GOOD, None, None
        for entry in tbs["revoked_certificates"]:
            if entry["user_certificate"].native == cert.serial_number:
                status = RevocationStatus.REVOKED
                rev_time = entry["revocation_date"].native
                reason = _reason_label(entry.crl_reason_value) or "unspecified"
                break
        number = data.crl_number_value
        der = data.dump()
        found.append(
            RevocationData(
                kind="crl",
                source="embedded" if hashlib.sha256(der).digest() in run.embedded else "fetched",
                sha256=_sha256(der),
                issuer=_name(data.issuer),
                this_update=tbs["this_update"].native,
                next_update=tbs["next_update"].native,
                certificate_status=status,
                crl_number=number.native if number is not None else None,
                revocation_time=rev_time,
                revocation_reason=reason,
            )
        )
    return found


def _validity(cert: x509.Certificate, at: dt.datetime) -> Validity:
    if at < cert.not_valid_before_utc:
        return Validity.NOT_YET_VALID
    if at > cert.not_valid_after_utc:
        return Validity.EXPIRED
    return Validity.VALID


async def _describe_cert(
    cert: Any, role: str, path: ValidationPath | None, run: _Run, outcome: _Outcome
) -> ChainCertificate:
    pyca = x509.load_der_x509_certificate(cert.dump())
    validity = _validity(pyca, run.at)
    if role == "trust-anchor":
        return ChainCertificate(pyca, role, validity, RevocationStatus.NOT_APPLICABLE)
    if run.policy.revocation is RevocationMode.OFF or path is None:
        status = (
            RevocationStatus.NOT_CHECKED
            if run.policy.revocation is RevocationMode.OFF
            else RevocationStatus.UNKNOWN
        )
        return ChainCertificate(pyca, role, validity, status)
    data = [*await _ocsp_evidence(cert, path, run), *await _crl_evidence(cert, path, run)]
    if outcome.revoked_cert is not None and outcome.revoked_cert.dump() == cert.dump():
        return ChainCertificate(
            pyca,
            role,
            validity,
            RevocationStatus.REVOKED,
            outcome.error_time,
            outcome.revocation_reason,
            tuple(data),
        )
    revoked = [
        d for d in data if d.certificate_status is RevocationStatus.REVOKED and d.revocation_time
    ]
    if revoked:
        first = min(revoked, key=lambda d: d.revocation_time or run.at)
        return ChainCertificate(
            pyca,
            role,
            validity,
            RevocationStatus.REVOKED,
            first.revocation_time,
            first.revocation_reason,
            tuple(data),
        )
    good = any(
        d.certificate_status is RevocationStatus.GOOD
        and _covers(d.this_update, d.next_update, run.at)
        for d in data
    )
    status = RevocationStatus.GOOD if good else RevocationStatus.UNKNOWN
    return ChainCertificate(pyca, role, validity, status, revocation_data=tuple(data))


async def _describe_chain(leaf: Any, run: _Run, outcome: _Outcome) -> tuple[ChainCertificate, ...]:
    path = outcome.path
    if path is None:
        return (await _describe_cert(leaf, "end-entity", None, run, outcome),)
    chain: list[ChainCertificate] = []
    certs = list(path.iter_certs(include_root=False))
    for index, cert in enumerate(reversed(certs)):
        role = "end-entity" if index == 0 else "intermediate"
        chain.append(await _describe_cert(cert, role, path, run, outcome))
    authority = path.trust_anchor.authority
    if isinstance(authority, AuthorityWithCert):
        chain.append(
            await _describe_cert(authority.certificate, "trust-anchor", path, run, outcome)
        )
    return tuple(chain)


def _refine_out_of_bounds(outcome: _Outcome, chain: Iterable[ChainCertificate]) -> _Outcome:
    """Step 7 and NOTE 8: OUT_OF_BOUNDS_NOT_REVOKED when revocation data says the
    certificate was not revoked."""
    if outcome.sub is not SubIndication.OUT_OF_BOUNDS_NO_POE:
        return outcome
    ee = next(iter(chain), None)
    if ee is not None and any(
        d.certificate_status is RevocationStatus.GOOD for d in ee.revocation_data
    ):
        return replace(outcome, sub=SubIndication.OUT_OF_BOUNDS_NOT_REVOKED)
    return outcome


# ---- entry point -----------------------------------------------------------------------


def _aware(t: dt.datetime | None, name: str) -> dt.datetime | None:
    if t is None:
        return None
    if t.tzinfo is None:
        raise InputError(f"{name} must carry a time zone")
    return t.astimezone(dt.UTC)


async def async_validate_certificate(
    certificate: x509.Certificate,
    policy: ValidationPolicy,
    fetchers: FetcherBackend | None = None,
    poe_time: dt.datetime | None = None,
    *,
    created_after: dt.datetime | None = None,
    validation_data: ValidationData | None = None,
    clock: Clock | None = None,
) -> CertificateValidationResult:
    """Validate ``certificate`` under ``policy`` (EN 319 102-1 §5.2.6, §5.6.2.4).

    ``fetchers``: where missing CRLs, OCSP responses and issuer certificates come from
    (None: nowhere; only ``validation_data`` and the policy's certificates are used).
    ``poe_time``: a proof that the certificate's use (a signature) existed then; a
    signature validator passes its best-signature-time, the validation time itself
    when it has nothing better. Without it the certificate is taken to be used at the
    validation time. ``created_after``: a proof that the use came after that time.
    The validation time is ``policy.at``, or ``clock.now()`` when the policy has none.
    """
    when = _aware(policy.at or (clock or SystemClock()).now(), "the validation time")
    assert when is not None
    # X.509 validity has whole seconds (RFC 5280 §4.1.2.5); so does the validation time.
    at = when.replace(microsecond=0)
    poe = _aware(poe_time, "poe_time")
    after = _aware(created_after, "created_after")
    if poe is None and after is None:  # used now, at the validation time
        poe = after = at
    elif poe is None:
        poe = at
    policy_at = policy if policy.at == at else replace(policy, at=at)
    data = validation_data or ValidationData()
    timeless = replace(policy, at=None)
    compiled = _compile(timeless)
    live = fetchers.get_fetchers() if fetchers is not None else None
    key = _reuse_key(certificate, timeless, policy.at is not None, live is not None, data)
    reused = await _reuse.results.lookup(key, at, live)
    if reused is not None:
        return replace(
            reused,
            validation_time=at,
            policy=policy_at,
            poe_time=poe if poe_time is not None else None,
        )
    recorder = _reuse.Recorder()
    run = _Run(
        policy=policy_at,
        compiled=compiled,
        at=at,
        context=_context(
            compiled, policy, at, recorder.wrap(live) if live is not None else None, data
        ),
        embedded=data.digests,
    )
    leaf = _to_asn1(certificate)
    outcome = await _building_block(leaf, run)
    chain = await _describe_chain(leaf, run, outcome)
    outcome = _refine_out_of_bounds(outcome, chain)
    conclusion = await _conclude(outcome, run, poe, after)
    result = CertificateValidationResult(
        indication=conclusion.indication,
        sub_indication=conclusion.sub,
        message=conclusion.message,
        validation_time=at,
        chain=chain,
        policy=policy_at,
        poe_time=poe if poe_time is not None else None,
        control_time=conclusion.control_time,
        current_time_sub_indication=outcome.sub,
        error_time=outcome.error_time,
    )
    if outcome.sub is None and conclusion.indication is Indication.TOTAL_PASSED:
        window = _reuse_window(leaf, run, data, recorder)
        if window is not None:
            _reuse.results.store(key, result, window, recorder)
    return result


def _reuse_key(
    certificate: x509.Certificate,
    timeless: ValidationPolicy,
    fixed_time: bool,
    fetching: bool,
    data: ValidationData,
) -> tuple[Any, ...]:
    """Every input of the validation but its time and fetched data (see
    :mod:`._reuse`): the certificate, the whole policy, whether the policy fixes the
    validation time (revocation data issued after it then counts), whether fetching
    is allowed, and the embedded validation data in order."""
    return (
        certificate.public_bytes(Encoding.DER),
        timeless,
        fixed_time,
        fetching,
        _reuse.data_digest(c.public_bytes(Encoding.DER) for c in data.certificates),
        _reuse.data_digest(data.crls),
        _reuse.data_digest(data.ocsp_responses),
    )


def _reuse_window(
    leaf: Any, run: _Run, data: ValidationData, recorder: _reuse.Recorder
) -> _reuse.Window | None:
    """The validation times this passed result holds for (:mod:`._reuse` point 2),
    from every certificate the context knows and all revocation data it had."""
    if not recorder.clean:
        return None
    ocsps = [r for r in (_parse_ocsp(d) for d in data.ocsp_responses) if r is not None]
    crls = [c for c in (_parse_crl(d) for d in data.crls) if c is not None]
    for fetch in recorder.fetches:
        if fetch.kind == "ocsp":
            ocsps += [a_ocsp.OCSPResponse.load(d) for d in fetch.answer]
        else:
            crls += [a_crl.CertificateList.load(d) for d in fetch.answer]
    try:
        points = _reuse.instants(
            [
                leaf,
                *run.compiled.anchors,
                *run.compiled.intermediates,
                *run.context.certificate_registry,
            ],
            ocsps,
            crls,
            [when for _, when in run.policy.algorithms.digest_sunsets],
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        logger.debug("not reusable: %s", exc)
        return None
    return _reuse.Window.around(run.at, points) if points is not None else None
