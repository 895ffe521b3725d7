"""What every CMS-based signature format shares: CAdES, PAdES, ASiC with CAdES, and
RFC 3161 time-stamp tokens (themselves CMS SignedData).

The ETSI EN 319 102-1 V1.4.1 processes, for one SignerInfo:

- §5.3 validation process for basic signatures: format checks (§5.2.2), the signer's
  certificate (§5.2.3, :mod:`._integrity`), cryptographic verification (§5.2.7),
  X.509 certificate validation (§5.2.6, :func:`govtrust.validation.path.
  async_validate_certificate`, which also applies the past-certificate rules of
  §5.6.2.4 given a proof of existence) and signature acceptance (§5.2.8);
- §5.5 validation process for signatures with time: each signature time-stamp
  (RFC 3161 token over the signature value, EN 319 122-1 §5.3) is validated as a
  signature of its own (TS 119 102-2 §4.3); the earliest that passes is the
  best-signature-time (§5.5.4 step 1), which is the POE the signer's certificate is
  judged at; a signature time-stamp before the signing certificate's notBefore fails
  (§5.5.4 step 2: TOTAL-FAILED/NOT_YET_VALID); content time-stamps (RFC 5126 §5.11.4)
  prove the signature came after them (Table 6: REVOKED, EXPIRED) and must precede
  the signature time-stamps (§5.5.4: TIMESTAMP_ORDER_FAILURE);
- §5.6 validation process for signatures providing long-term availability and
  integrity of validation material: archive time-stamps (CAdES archive-time-stamp-v3,
  EN 319 122-1 §5.5.3, and the ``later_timestamps`` a caller found outside the CMS,
  such as PAdES document time-stamps) are validated from the latest to the earliest,
  each later one a POE for the earlier ones (§5.6.2.3), and the earliest that passes
  is a POE for the signature, its time-stamps and its validation data (§5.6.3).

Validation data comes from the CMS (``certificates``; ``crls`` with
``RevocationInfoChoice`` ``other``/``id-ri-ocsp-response``, RFC 5940 §3), the CAdES
certificate-values and revocation-values attributes (RFC 5126 §6.3.3-4), the
``adbe-revocationInfoArchival`` signed attribute (ISO 32000-1 §12.8.3.3.2) and what
the caller adds (``material``: a PDF's DSS); the path validation treats it as
embedded and fetches the rest through the environment's fetchers.

The interface other format modules use is this module's ``__all__``:
:class:`EmbeddedMaterial` (defined in :mod:`._material`), :class:`TimestampCheck` and
the time-stamp validation (defined in :mod:`._tokens`) are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from asn1crypto import cms, core

from govtrust.validation import _loop
from govtrust.validation.indications import Indication, SubIndication
from govtrust.validation.path import async_validate_certificate
from govtrust.validation.policy import Purpose
from govtrust.validation.report import (
    ProofOfExistence,
    SignatureKind,
    SignatureReport,
    ValidationProcess,
)
from govtrust.validation.signatures import Environment
from govtrust.validation.signatures import _cades_asn1 as attrs
from govtrust.validation.signatures._integrity import (
    Problem,
    algorithm_problem,
    check_integrity,
    digest,
    ess_version,
    select_signer_certificate,
    settle,
)
from govtrust.validation.signatures._material import EmbeddedMaterial
from govtrust.validation.signatures._tokens import (
    TimestampCheck,
    Token,
    async_validate_timestamp_token,
    candidates,
    check_token,
    format_failure,
    hash_imprint,
    policy_for,
    to_pyca,
    validate_timestamp_token,
    validation_time,
)
from govtrust.validation.signatures._tokens import failed as failed_report

__all__ = [
    "EmbeddedMaterial",
    "TimestampCheck",
    "async_validate_signer",
    "async_validate_timestamp_token",
    "format_failure",
    "validate_signer",
    "validate_timestamp_token",
]

logger = logging.getLogger(__name__)


# ---- one SignerInfo ---------------------------------------------------------------------


@dataclass
class _Signer:
    """The parts of one SignerInfo the processes read, parsed up front."""

    signed_data: Any
    signer_info: Any
    digest_algorithm: str
    content_type: str
    signing_time: dt.datetime | None
    details: dict[str, Any] = field(default_factory=dict)


_SIGNING_TIME = "1.2.840.113549.1.9.5"  # RFC 5652 §11.3


def _parse_signer(signed_data: Any, index: int) -> _Signer:
    infos = signed_data["signer_infos"]
    if not 0 <= index < len(infos):
        raise ValueError(f"the SignedData has no SignerInfo number {index + 1}")
    si = infos[index]
    # asn1crypto parses lazily: open every part now (one level, not ``.native``, which
    # would decode every attribute), so that a malformed one fails here. Deeper faults
    # surface in the integrity check, which reports them as FORMAT_FAILURE.
    for name in ("version", "sid", "digest_algorithm", "signature_algorithm", "unsigned_attrs"):
        si[name]
    bytes(si["signature"].native)
    signing_time = None
    signed = si["signed_attrs"]
    if signed is not None and not isinstance(signed, core.Void):
        settle(signed)
        for attr in signed:
            if attr["type"].dotted == _SIGNING_TIME and len(attr["values"]) == 1:
                signing_time = attr["values"][0].native
    return _Signer(
        signed_data=signed_data,
        signer_info=si,
        digest_algorithm=str(si["digest_algorithm"]["algorithm"].native),
        content_type=str(signed_data["encap_content_info"]["content_type"].native),
        signing_time=signing_time,
        details={
            "signerIndex": index,
            "digestAlgorithm": si["digest_algorithm"]["algorithm"].native,
            "signatureAlgorithm": si["signature_algorithm"]["algorithm"].native,
            "contentType": signed_data["encap_content_info"]["content_type"].native,
            "signingCertificateAttribute": ess_version(si),
        },
    )


def _content_hasher(
    signer: _Signer, content: bytes | None, content_digest: bytes | None
) -> Callable[[str], bytes | None]:
    """The hash of the signed content with any algorithm, as far as it is known."""
    eci = signer.signed_data["encap_content_info"]
    if content is None and not isinstance(eci["content"], core.Void):
        content = bytes(eci["content"])
    if content is not None:
        known = content

        def of_content(name: str) -> bytes | None:
            return digest(name, known)

        return of_content

    def of_digest(name: str) -> bytes | None:
        return content_digest if name == signer.digest_algorithm else None

    return of_digest


@dataclass(frozen=True)
class _Times:
    """What the time-stamps of one signature prove (EN 319 102-1 §5.5.4, §5.6.3)."""

    signature: list[TimestampCheck]
    content: list[TimestampCheck]
    archive: list[TimestampCheck]
    later: Sequence[TimestampCheck]

    @property
    def archive_poe(self) -> dt.datetime | None:
        found = [c.proves for c in (*self.archive, *self.later) if c.proves is not None]
        return min(found) if found else None

    @property
    def signature_poe(self) -> dt.datetime | None:
        found = [c.proves for c in self.signature if c.proves is not None]
        return min(found) if found else None

    @property
    def created_after(self) -> dt.datetime | None:
        found = [c.proves for c in self.content if c.proves is not None]
        return max(found) if found else None

    def reports(self) -> tuple[SignatureReport, ...]:
        return tuple(c.report for c in (*self.content, *self.signature, *self.archive, *self.later))

    def order_problem(self) -> Problem | None:
        """§5.5.4 step 2 and §5.6.3.4: content time-stamps before signature
        time-stamps, signature time-stamps before archive time-stamps."""
        content = [c.proves for c in self.content if c.proves]
        sig = [c.proves for c in self.signature if c.proves]
        arch = [c.proves for c in (*self.archive, *self.later) if c.proves]
        if content and sig and max(content) > min(sig):
            return Problem(
                SubIndication.TIMESTAMP_ORDER_FAILURE,
                "a content time-stamp is later than the signature time-stamp",
            )
        if sig and arch and max(sig) > min(arch):
            return Problem(
                SubIndication.TIMESTAMP_ORDER_FAILURE,
                "a signature time-stamp is later than an archive time-stamp",
            )
        return None


async def _archive_checks(
    signer: _Signer,
    hasher: Callable[[str], bytes | None],
    env: Environment,
    identifier: str,
    material: EmbeddedMaterial,
    later: Sequence[TimestampCheck],
) -> list[TimestampCheck]:
    """archive-time-stamp-v3 tokens (EN 319 122-1 §5.5.3), from the latest to the
    earliest, each later one's genTime a POE for the earlier ones (§5.6.2.3)."""
    tokens = list(
        attrs.attribute_values(signer.signer_info["unsigned_attrs"], attrs.ARCHIVE_TIME_STAMP_V3)
    )
    later_poes = [c.proves for c in later if c.proves is not None]
    poe = min(later_poes) if later_poes else None
    checks: list[TimestampCheck] = []
    for number in range(len(tokens), 0, -1):
        der = tokens[number - 1]
        index_der = _ats_index(der)

        def imprint(name: str, index_der: bytes | None = index_der) -> bytes | None:
            content_hash = hasher(name)
            if content_hash is None or index_der is None:
                return None
            data = attrs.archive_imprint_input(
                signer.signed_data, signer.signer_info, content_hash, index_der
            )
            return digest(name, data)

        def index_check(_tok: Token, index_der: bytes | None = index_der) -> str | None:
            if index_der is None:
                return "the archive time-stamp has no ats-hash-index-v3 (EN 319 122-1 §5.5.3)"
            return attrs.index_problem(
                signer.signed_data, signer.signer_info, attrs.ATSHashIndexV3.load(index_der)
            )

        check = await check_token(
            der,
            imprint,
            env,
            f"{identifier}/archive-time-stamp-{number}",
            "archive-time-stamp",
            material,
            poe,
            index_check,
        )
        checks.append(check)
        if check.proves is not None:
            poe = check.proves if poe is None else min(poe, check.proves)
    checks.reverse()
    return checks


def _ats_index(token_der: bytes) -> bytes | None:
    try:
        token = attrs.content_info(token_der)
        si = token["content"]["signer_infos"][0]
        values = list(attrs.attribute_values(si["unsigned_attrs"], attrs.ATS_HASH_INDEX_V3))
        if len(values) != 1:
            return None
        attrs.ATSHashIndexV3.load(values[0]).native  # noqa: B018
        return values[0]
    except Exception:
        return None


async def _timestamps(
    signer: _Signer,
    hasher: Callable[[str], bytes | None],
    env: Environment,
    identifier: str,
    material: EmbeddedMaterial,
    later: Sequence[TimestampCheck],
) -> _Times:
    archive = await _archive_checks(signer, hasher, env, identifier, material, later)
    poes = [c.proves for c in (*archive, *later) if c.proves is not None]
    archive_poe = min(poes) if poes else None
    si = signer.signer_info
    signature_value = bytes(si["signature"].native)
    sig_checks = []
    for n, der in enumerate(
        attrs.attribute_values(si["unsigned_attrs"], attrs.SIGNATURE_TIME_STAMP), 1
    ):
        sig_checks.append(
            await check_token(
                der,
                hash_imprint(signature_value),
                env,
                f"{identifier}/signature-time-stamp-{n}",
                "signature-time-stamp",
                material,
                archive_poe,
            )
        )
    content_checks = []
    for n, der in enumerate(
        attrs.attribute_values(si["signed_attrs"], attrs.CONTENT_TIME_STAMP), 1
    ):
        content_checks.append(
            await check_token(
                der,
                hasher,
                env,
                f"{identifier}/content-time-stamp-{n}",
                "content-time-stamp",
                material,
                archive_poe,
            )
        )
    return _Times(sig_checks, content_checks, archive, later)


def _level(signer: _Signer, times: _Times, material: EmbeddedMaterial) -> str:
    """The baseline level found (EN 319 122-1 §6: B-B; B-T a signature time-stamp;
    B-LT plus validation data; B-LTA plus archive time-stamps)."""
    has_time = bool(times.signature) or bool(times.later)
    level = "B"
    if has_time:
        level = "T"
        if material.has_revocation_data:
            level = "LT"
            if times.archive or times.later:
                level = "LTA"
    return level


def _format(format_name: str, signer: _Signer, level: str) -> str:
    if signer.details.get("signingCertificateAttribute") is None:
        # Not an AdES signature: CAdES requires signing-certificate(-v2)
        # (EN 319 122-1 §5.2.2.3); a plain CMS signature is validated all the same.
        return "CMS" if format_name == "CAdES" else format_name
    return f"{format_name}-BASELINE-{level}"


def _process(times: _Times) -> ValidationProcess:
    if times.archive or times.later:
        return ValidationProcess.LTA
    if times.signature:
        return ValidationProcess.LTVM
    return ValidationProcess.BASIC


def _poes(times: _Times, best: dt.datetime, at: dt.datetime) -> tuple[ProofOfExistence, ...]:
    found: list[ProofOfExistence] = []
    for check in times.signature:
        if check.proves is not None:
            found.append(
                ProofOfExistence(check.proves, "signature", f"signature time-stamp {check.serial}")
            )
    for check in (*times.archive, *times.later):
        if check.proves is not None:
            found.append(
                ProofOfExistence(
                    check.proves,
                    "signature, its time-stamps and validation data",
                    f"{check.report.details.get('role', 'archive-time-stamp')} {check.serial}",
                )
            )
    if best >= at:
        found.append(ProofOfExistence(at, "signature", "validation time"))
    return tuple(found)


async def async_validate_signer(
    signed_data: cms.SignedData,
    *,
    env: Environment,
    identifier: str,
    format_name: str,
    content: bytes | None = None,
    content_digest: bytes | None = None,
    material: EmbeddedMaterial = EmbeddedMaterial(),
    later_timestamps: Sequence[TimestampCheck] = (),
    signer_index: int = 0,
) -> SignatureReport:
    """:func:`validate_signer` for callers already in an event loop."""
    try:
        return await _validate_signer(
            signed_data,
            env,
            identifier,
            format_name,
            content,
            content_digest,
            material,
            later_timestamps,
            signer_index,
        )
    except Exception as exc:
        # asn1crypto parses lazily, so a malformed part deep inside (an attribute
        # value, a certificate) can surface anywhere; bad input is a report, never an
        # exception (issue 3 item 5).
        logger.warning("a CMS signature could not be processed", exc_info=exc)
        return format_failure(
            identifier,
            f"the signature could not be processed: {type(exc).__name__}: {exc}",
            env,
            format_name=format_name,
        )


async def _validate_signer(
    signed_data: cms.SignedData,
    env: Environment,
    identifier: str,
    format_name: str,
    content: bytes | None,
    content_digest: bytes | None,
    material: EmbeddedMaterial,
    later_timestamps: Sequence[TimestampCheck],
    signer_index: int,
) -> SignatureReport:
    at = validation_time(env)
    try:
        signer = _parse_signer(signed_data, signer_index)
        embedded = EmbeddedMaterial.from_signed_data(signed_data, signer.signer_info)
    except Exception as exc:
        return format_failure(
            identifier, f"the SignerInfo does not parse: {exc}", env, format_name=format_name
        )
    details = dict(signer.details)
    data = embedded.merged(material)
    details["embeddedValidationData"] = {
        "certificates": len(embedded.certificates),
        "crls": len(embedded.crls),
        "ocspResponses": len(embedded.ocsp_responses),
    }
    counter = list(
        attrs.attribute_values(signer.signer_info["unsigned_attrs"], attrs.COUNTER_SIGNATURE)
    )
    if counter:
        details["counterSignatures"] = {
            "count": len(counter),
            "validated": False,
            "note": "countersignatures (RFC 5652 §11.4) are listed, not validated",
        }

    def failed(problem: Problem, **extra: Any) -> SignatureReport:
        report = failed_report(
            identifier,
            problem,
            at,
            kind=SignatureKind.SIGNATURE,
            format_name=_format(format_name, signer, "B"),
            details=details,
            signing_time=signer.signing_time,
        )
        return replace(report, **extra) if extra else report

    # §5.2.3: the signer's certificate.
    cert, problem = select_signer_certificate(
        signer.signer_info, candidates(signed_data, material, env)
    )
    if problem is not None or cert is None:
        return failed(problem or Problem(SubIndication.NO_SIGNING_CERTIFICATE_FOUND, "not found"))
    details["signer"] = to_pyca(cert).subject.rfc4514_string()
    # §5.2.7: cryptographic verification.
    hasher = _content_hasher(signer, content, content_digest)
    signed_digest = hasher(signer.digest_algorithm)
    if signed_digest is None:
        if content is None and content_digest is None:
            return failed(
                Problem(
                    SubIndication.SIGNED_DATA_NOT_FOUND,
                    "the signature is detached and the signed content was not given",
                )
            )
        return failed(
            Problem(
                SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                f"the digest algorithm {signer.digest_algorithm} is not supported",
            )
        )
    problem = check_integrity(signer.signer_info, cert, signer.content_type, signed_digest)
    if problem is not None:
        return failed(problem)
    # §5.5.4 and §5.6.3: what the time-stamps prove.
    times = await _timestamps(signer, hasher, env, identifier, data, later_timestamps)
    best = times.signature_poe or times.archive_poe or at
    best = min(best, at)
    level = _level(signer, times, data)
    details["level"] = f"B-{level}" if level != "B" else "B-B"
    common: dict[str, Any] = {
        "format": _format(format_name, signer, level),
        "process": _process(times),
        "timestamps": times.reports(),
        "best_signature_time": best,
    }
    problem = times.order_problem()
    if problem is not None:
        return failed(problem, **common)
    # §5.2.6 with §5.6.2.4: the signer's certificate at the best-signature-time.
    signer_cert = to_pyca(cert)
    policy = policy_for(env, Purpose.SIGNATURE, at)
    result = await async_validate_certificate(
        signer_cert,
        policy,
        env.fetchers,
        best,
        created_after=times.created_after,
        validation_data=data.for_path(signer_cert, policy),
        clock=env.clock,
    )
    common["certificate"] = result
    common["poes"] = _poes(times, best, at)
    if not result.passed:
        return replace(
            failed(Problem(result.sub_indication or SubIndication.CUSTOM, result.message)),
            indication=result.indication,
            sub_indication=result.sub_indication,
            **common,
        )
    # §5.5.4 step 2: a time-stamp cannot prove a signature older than its certificate.
    if best < at and best < cert.not_valid_before:
        return failed(
            Problem(
                SubIndication.NOT_YET_VALID,
                "the signature time-stamp is earlier than the signing certificate's "
                "notBefore (EN 319 102-1 §5.5.4)",
            ),
            **common,
        )
    # §5.2.8: cryptographic constraints on the signature itself.
    problem = algorithm_problem(signer.signer_info, cert, env.policy.algorithms, best)
    if problem is not None:
        return failed(problem, **common)
    proven = f"; it existed at {best.isoformat()} (time-stamp)" if best < at else ""
    return SignatureReport(
        identifier=identifier,
        kind=SignatureKind.SIGNATURE,
        indication=Indication.TOTAL_PASSED,
        sub_indication=None,
        message=f"the signature by {details['signer']} is valid{proven}",
        validation_time=at,
        signing_time=signer.signing_time,
        details=details,
        **common,
    )


def validate_signer(
    signed_data: cms.SignedData,
    *,
    env: Environment,
    identifier: str,
    format_name: str,
    content: bytes | None = None,
    content_digest: bytes | None = None,
    material: EmbeddedMaterial = EmbeddedMaterial(),
    later_timestamps: Sequence[TimestampCheck] = (),
    signer_index: int = 0,
) -> SignatureReport:
    """EN 319 102-1 validation of one SignerInfo of ``signed_data``.

    The signed content is ``content`` (detached, or the PDF byte ranges), or its digest
    ``content_digest`` computed by the caller with the SignerInfo's digest algorithm,
    or neither when the content is encapsulated. ``material`` adds validation data
    found outside the CMS (a PDF's DSS). ``later_timestamps`` are time-stamps over this
    signature taken outside its own unsigned attributes (PAdES document time-stamps in
    later revisions): POEs for the archival process. The report's ``format`` is
    ``format_name`` with the level found (e.g. "CAdES-BASELINE-LT").

    Never raises for bad input: a malformed SignerInfo gives FORMAT_FAILURE. Runs on
    the shared validation event loop (:mod:`govtrust.validation._loop`); callers in an
    event loop await :func:`async_validate_signer`."""
    return _loop.run(
        async_validate_signer(
            signed_data,
            env=env,
            identifier=identifier,
            format_name=format_name,
            content=content,
            content_digest=content_digest,
            material=material,
            later_timestamps=later_timestamps,
            signer_index=signer_index,
        )
    )
