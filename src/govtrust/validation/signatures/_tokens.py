"""RFC 3161 time-stamp tokens validated as signatures of their own (ETSI TS 119 102-2
§4.3, EN 319 102-1 §5.4 time-stamp validation building block), and the report
helpers every CMS-based process shares.

A token is a CMS SignedData over a TSTInfo (RFC 3161 §2.4.2). Its validation: format;
the TSA's certificate, named by the signed ESSCertID(v2) (RFC 3161 §2.4.1, RFC 5816
§2.2.1); the token's signature (pyHanko's ``validate_sig_integrity``, through
:mod:`._integrity`); the message imprint against the data the token must cover; and
the TSA's certificate validated for time-stamping (RFC 3161 §2.3) with
:func:`govtrust.validation.path.async_validate_certificate`, at a proof of existence
when a later time-stamp gives one (EN 319 102-1 §5.6.2.4).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as a_x509
from cryptography import x509

from govtrust.validation import _loop
from govtrust.validation.indications import Indication, SubIndication
from govtrust.validation.path import async_validate_certificate
from govtrust.validation.policy import Purpose, ValidationPolicy
from govtrust.validation.report import ProofOfExistence, SignatureKind, SignatureReport
from govtrust.validation.results import CertificateValidationResult
from govtrust.validation.signatures import Environment
from govtrust.validation.signatures._integrity import (
    Problem,
    algorithm_problem,
    check_integrity,
    digest,
    ess_version,
    select_signer_certificate,
    settle,
)
from govtrust.validation.signatures._material import EmbeddedMaterial, cert_der

__all__ = [
    "Imprint",
    "TimestampCheck",
    "Token",
    "async_validate_timestamp_token",
    "candidates",
    "check_token",
    "failed",
    "format_failure",
    "hash_imprint",
    "policy_for",
    "to_pyca",
    "validate_timestamp_token",
    "validation_time",
]

logger = logging.getLogger(__name__)


# ---- reports ----------------------------------------------------------------------------


def validation_time(env: Environment) -> dt.datetime:
    # X.509 times have whole seconds (RFC 5280 §4.1.2.5); so has the validation time.
    return env.validation_time.astimezone(dt.UTC).replace(microsecond=0)


def format_failure(
    identifier: str,
    message: str,
    env: Environment,
    *,
    kind: SignatureKind = SignatureKind.SIGNATURE,
    format_name: str | None = None,
    details: dict[str, Any] | None = None,
) -> SignatureReport:
    """A TOTAL-FAILED/FORMAT_FAILURE entry (EN 319 102-1 §5.2.2.4) for input that is
    not the structure it claims to be."""
    return SignatureReport(
        identifier=identifier,
        kind=kind,
        indication=Indication.TOTAL_FAILED,
        sub_indication=SubIndication.FORMAT_FAILURE,
        message=message,
        validation_time=validation_time(env),
        format=format_name,
        details=details or {},
    )


def failed(
    identifier: str,
    problem: Problem,
    at: dt.datetime,
    *,
    kind: SignatureKind,
    format_name: str | None,
    details: dict[str, Any],
    signing_time: dt.datetime | None = None,
) -> SignatureReport:
    return SignatureReport(
        identifier=identifier,
        kind=kind,
        indication=problem.sub.indication,
        sub_indication=problem.sub,
        message=problem.message,
        validation_time=at,
        best_signature_time=at,
        signing_time=signing_time,
        format=format_name,
        details=details,
    )


def _signer_name(cert: Any) -> str:
    """The subject as RFC 4514 text (as the report's certificate chain names it)."""
    try:
        return to_pyca(cert).subject.rfc4514_string()
    except ValueError:
        return str(cert.subject.human_friendly)


def policy_for(env: Environment, purpose: Purpose, at: dt.datetime) -> ValidationPolicy:
    return replace(env.policy, purpose=purpose, at=at)


def candidates(signed_data: Any, material: EmbeddedMaterial, env: Environment) -> Iterable[Any]:
    """The SignedData's certificates first, then material found elsewhere, then the
    certificates the caller's policy supplies (``openssl ts -verify -untrusted``'s
    role: a TSA certificate a token without ``certReq`` does not carry). asn1crypto
    objects, converted only when the earlier ones do not hold the signer's."""
    for choice in signed_data["certificates"] or ():
        if choice.name == "certificate":
            yield choice.chosen  # the "certificate" alternative is untagged
    for cert in (*material.certificates, *env.policy.intermediates):
        yield a_x509.Certificate.load(cert_der(cert))


def to_pyca(cert: Any) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(cert.dump()))


# ---- time-stamp tokens ------------------------------------------------------------------


@dataclass(frozen=True)
class TimestampCheck:
    """A validated time-stamp token: its report (kind TIMESTAMP, with its own
    indication, TSA certificate chain and POEs) and, when the token is usable as a POE
    (intact, imprint matches, TSA certificate valid), the time it proves.

    ``gen_time`` is the token's genTime once its signature and imprint verified (None
    for a token that is malformed, altered or over other data); :attr:`proves`
    further requires the whole validation to have passed. ``serial`` is the token's
    serial number (for naming it as a POE source)."""

    report: SignatureReport
    gen_time: dt.datetime | None
    serial: int | None = None

    @property
    def proves(self) -> dt.datetime | None:
        """The genTime when the token passed, else None."""
        return self.gen_time if self.report.passed else None


@dataclass(frozen=True)
class Token:
    info: Any  # ContentInfo
    signed_data: Any
    signer_info: Any
    tst_info: Any
    tst_der: bytes
    gen_time: dt.datetime
    serial: int


def _parse_all(value: Any) -> None:
    """Parse ``value``'s structure now (asn1crypto parses lazily), so that a malformed
    token fails here rather than half-way through its checks. Structure only: names
    are not converted to Python (``.native`` on a Name costs more than all the rest)."""
    if isinstance(value, core.Choice):
        _parse_all(value.chosen)
    elif isinstance(value, core.Sequence | core.SequenceOf) and value.children is None:
        value._parse_children(recurse=True)  # not again: that would undo settle()


def _parse_token(token: bytes | cms.ContentInfo) -> Token:
    info = token if isinstance(token, cms.ContentInfo) else cms.ContentInfo.load(token, strict=True)
    if info["content_type"].native != "signed_data":
        raise ValueError("a time-stamp token is a CMS SignedData (RFC 3161 §2.4.2)")
    signed_data = info["content"]
    eci = signed_data["encap_content_info"]
    if eci["content_type"].native != "tst_info":
        raise ValueError("the token does not encapsulate a TSTInfo (RFC 3161 §2.4.2)")
    tst_der = bytes(eci["content"])
    tst_info = tsp.TSTInfo.load(tst_der, strict=True)
    _parse_all(tst_info)
    if len(signed_data["signer_infos"]) != 1:
        raise ValueError("a time-stamp token has exactly one SignerInfo (RFC 3161 §2.4.2)")
    signer_info = signed_data["signer_infos"][0]
    settle(signer_info["signed_attrs"])  # parses them all
    for name in ("sid", "digest_algorithm", "signature_algorithm"):
        _parse_all(signer_info[name])
    gen_time = tst_info["gen_time"].native
    return Token(
        info,
        signed_data,
        signer_info,
        tst_info,
        tst_der,
        gen_time,
        tst_info["serial_number"].native,
    )


def _token_details(tok: Token, role: str) -> dict[str, Any]:
    tst = tok.tst_info
    accuracy = tst["accuracy"]
    tsa = tst["tsa"]
    return {
        "role": role,
        "genTime": tok.gen_time.isoformat(),
        "serialNumber": str(tok.serial),
        "policy": tst["policy"].dotted,
        "hashAlgorithm": tst["message_imprint"]["hash_algorithm"]["algorithm"].native,
        "messageImprint": bytes(tst["message_imprint"]["hashed_message"].native).hex(),
        "accuracy": accuracy.native,
        "nonce": str(tst["nonce"].native) if tst["nonce"].native is not None else None,
        "tsaName": None if isinstance(tsa, core.Void) else _general_name(tsa),
        "signingCertificateAttribute": ess_version(tok.signer_info),
    }


Imprint = Callable[[str], "bytes | None"]


async def check_token(
    token: bytes | cms.ContentInfo,
    imprint: Imprint,
    env: Environment,
    identifier: str,
    role: str,
    material: EmbeddedMaterial,
    poe: dt.datetime | None,
    extra_problem: Callable[[Token], str | None] | None = None,
) -> TimestampCheck:
    """RFC 3161 token validation as a signature (TS 119 102-2 §4.3): format, the TSA's
    certificate (ESSCertID(v2), RFC 3161 §2.4.1 and RFC 5816 §2.2.1), the token's
    signature over its TSTInfo, the message imprint against ``imprint(hash)``, and the
    TSA certificate validated for time-stamping (RFC 3161 §2.3) with ``poe`` (a later
    time-stamp over this one) as its proof of existence. Never raises for bad input."""
    try:
        return await _check_token(
            token, imprint, env, identifier, role, material, poe, extra_problem
        )
    except Exception as exc:  # a malformed part asn1crypto only parses when read
        logger.warning("a time-stamp token could not be processed", exc_info=exc)
        report = format_failure(
            identifier,
            f"the time-stamp token could not be processed: {type(exc).__name__}: {exc}",
            env,
            kind=SignatureKind.TIMESTAMP,
            format_name="RFC3161",
            details={"role": role},
        )
        return TimestampCheck(report, None)


async def _check_token(
    token: bytes | cms.ContentInfo,
    imprint: Imprint,
    env: Environment,
    identifier: str,
    role: str,
    material: EmbeddedMaterial,
    poe: dt.datetime | None,
    extra_problem: Callable[[Token], str | None] | None,
) -> TimestampCheck:
    at = validation_time(env)
    try:
        tok = _parse_token(token)
    except Exception as exc:
        return TimestampCheck(
            format_failure(
                identifier,
                f"the time-stamp token is malformed: {exc}",
                env,
                kind=SignatureKind.TIMESTAMP,
                format_name="RFC3161",
                details={"role": role},
            ),
            None,
        )
    details = _token_details(tok, role)

    def fail(
        problem: Problem, cert_result: CertificateValidationResult | None = None
    ) -> TimestampCheck:
        report = failed(
            identifier,
            problem,
            at,
            kind=SignatureKind.TIMESTAMP,
            format_name="RFC3161",
            details=details,
            signing_time=tok.gen_time,
        )
        return TimestampCheck(replace(report, certificate=cert_result), None, tok.serial)

    own = EmbeddedMaterial.from_signed_data(tok.signed_data)
    cert, problem = select_signer_certificate(
        tok.signer_info, candidates(tok.signed_data, material, env)
    )
    if problem is None and ess_version(tok.signer_info) is None:
        problem = Problem(
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            "the token has no signing-certificate attribute naming the TSA's certificate "
            "(RFC 3161 §2.4.1, RFC 5816 §2.2.1)",
        )
    if problem is not None or cert is None:
        return fail(
            problem or Problem(SubIndication.NO_SIGNING_CERTIFICATE_FOUND, "no TSA certificate")
        )
    content_digest = digest(
        str(tok.signer_info["digest_algorithm"]["algorithm"].native), tok.tst_der
    )
    if content_digest is None:
        return fail(
            Problem(SubIndication.CRYPTO_CONSTRAINTS_FAILURE, "unsupported digest algorithm")
        )
    problem = check_integrity(tok.signer_info, cert, "tst_info", content_digest)
    if problem is not None:
        return fail(problem)
    hash_name = str(details["hashAlgorithm"])
    expected = imprint(hash_name)
    if expected is None:
        return fail(
            Problem(
                SubIndication.SIGNED_DATA_NOT_FOUND,
                f"the data the time-stamp covers is not available hashed with {hash_name}",
            )
        )
    if expected != bytes(tok.tst_info["message_imprint"]["hashed_message"].native):
        return fail(
            Problem(
                SubIndication.HASH_FAILURE,
                "the time-stamp's message imprint is not the hash of the data it should "
                "cover (RFC 3161 §2.4.2)",
            )
        )
    message = extra_problem(tok) if extra_problem is not None else None
    if message is not None:
        return fail(Problem(SubIndication.HASH_FAILURE, message))
    policy = policy_for(env, Purpose.TIMESTAMPING, at)
    data = own.merged(material)
    use_time = poe if poe is not None and poe < at else at
    tsa_cert = to_pyca(cert)
    result = await async_validate_certificate(
        tsa_cert,
        policy,
        env.fetchers,
        use_time,
        validation_data=data.for_path(tsa_cert, policy),
        clock=env.clock,
    )
    problem = None
    if result.passed:
        problem = algorithm_problem(tok.signer_info, cert, env.policy.algorithms, use_time)
    if not result.passed or problem is not None:
        sub = problem.sub if problem else result.sub_indication
        indication = sub.indication if sub else result.indication
        message = problem.message if problem else result.message
    else:
        sub, indication = None, Indication.TOTAL_PASSED
        message = (
            f"time-stamp {tok.serial} by {_signer_name(cert)} proves the {role.replace('-', ' ')}"
            f"'s data existed at {tok.gen_time.isoformat()}"
        )
    report = SignatureReport(
        identifier=identifier,
        kind=SignatureKind.TIMESTAMP,
        indication=indication,
        sub_indication=sub,
        message=message,
        validation_time=at,
        best_signature_time=use_time,
        signing_time=tok.gen_time,
        format="RFC3161",
        certificate=result,
        poes=_poes_given(poe, identifier),
        details=details,
    )
    return TimestampCheck(report, tok.gen_time, tok.serial)


def _general_name(name: Any) -> str:
    """A GeneralName as a person reads it (a directory name as RFC 4514-like text, not
    asn1crypto's dict)."""
    chosen = name.chosen
    if name.name == "directory_name":
        return str(chosen.human_friendly)
    return str(chosen.native)


def _poes_given(poe: dt.datetime | None, identifier: str) -> tuple[ProofOfExistence, ...]:
    if poe is None:
        return ()
    return (ProofOfExistence(poe, identifier, "a later time-stamp"),)


def hash_imprint(imprinted: bytes) -> Imprint:
    return lambda name: digest(name, imprinted)


async def async_validate_timestamp_token(
    token: bytes | cms.ContentInfo,
    *,
    imprinted: bytes,
    env: Environment,
    identifier: str,
    role: str = "signature-time-stamp",
    material: EmbeddedMaterial = EmbeddedMaterial(),
    poe: dt.datetime | None = None,
) -> TimestampCheck:
    """:func:`validate_timestamp_token` for callers already in an event loop."""
    return await check_token(token, hash_imprint(imprinted), env, identifier, role, material, poe)


def validate_timestamp_token(
    token: bytes | cms.ContentInfo,
    *,
    imprinted: bytes,
    env: Environment,
    identifier: str,
    role: str = "signature-time-stamp",
    material: EmbeddedMaterial = EmbeddedMaterial(),
    poe: dt.datetime | None = None,
) -> TimestampCheck:
    """Validate an RFC 3161 token whose messageImprint must be the hash of
    ``imprinted`` (the signature value for a CAdES signature-time-stamp, the signed
    byte ranges for a PDF document time-stamp, the canonicalised ``ds:SignatureValue``
    for XAdES). ``role`` names the time-stamp in the report (TS 119 102-2 types:
    signature-time-stamp, archive-time-stamp, document-time-stamp, content-time-stamp).
    Never raises for a bad token: a malformed one gives FORMAT_FAILURE.

    ``material`` supplies the TSA's certificate and revocation data when the token
    does not carry them (RFC 3161 §2.4.1: certificates only on ``certReq``). ``poe``
    is a proof that the token existed at that time (the genTime of a later archive
    or document time-stamp over it, EN 319 102-1 §5.6.2.3): the TSA's certificate is
    then judged at that time (§5.6.2.4), so a TSA certificate revoked or expired since
    does not invalidate the token."""
    return _loop.run(
        async_validate_timestamp_token(
            token,
            imprinted=imprinted,
            env=env,
            identifier=identifier,
            role=role,
            material=material,
            poe=poe,
        )
    )
