"""The ETSI EN 319 102-1 validation of XML signatures (XMLDSig and XAdES), shared by
XML documents and ASiC containers.

For each top-level ``ds:Signature`` (countersignatures inside another signature's
properties are not validated on their own), in the order the standard's processes run
their building blocks:

1. format checking (§5.2.2): the signature's structure, its references and transforms
   (:mod:`._xmldsig`); failures are TOTAL-FAILED/FORMAT_FAILURE;
2. identification of the signing certificate (§5.2.3): INDETERMINATE/
   NO_SIGNING_CERTIFICATE_FOUND when XAdES ``SigningCertificateV2`` names none of the
   certificates carried;
3. cryptographic verification (§5.2.7): every reference digest (HASH_FAILURE), the
   signature value (SIG_CRYPTO_FAILURE); data never given: SIGNED_DATA_NOT_FOUND;
4. time-stamps (§5.4): each XAdES ``SignatureTimeStamp`` and ``ArchiveTimeStamp`` is
   validated as a time-stamp token of its own (``_cms.validate_timestamp_token``); those
   that pass are proofs of existence of the signature, the earliest being the
   best-signature-time (§5.5.4, §5.6.3.4);
5. X.509 certificate validation (§5.2.6) of the signer at the validation time, and the
   past certificate validation at the best-signature-time (§5.6.2.1, §5.6.2.4) with the
   validation data the signature embeds plus what the fetchers find
   (:func:`govtrust.validation.validate_certificate` with ``poe_time``);
6. cryptographic constraints (§5.2.8): digests past their sunset need a POE before it.

The process reported is Basic (no time-stamp), LTVM (signature time-stamps) or LTA
(archive time-stamps), TS 119 102-2 §5.2.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any

from govtrust.validation import validate_certificate
from govtrust.validation.fetchers import ValidationData
from govtrust.validation.indications import Indication, SubIndication
from govtrust.validation.policy import Purpose
from govtrust.validation.report import (
    ProofOfExistence,
    SignatureKind,
    SignatureReport,
    ValidationProcess,
)
from govtrust.validation.signatures import Environment, _cms
from govtrust.validation.signatures._cms import (
    EmbeddedMaterial,
    TimestampCheck,
    validate_timestamp_token,
)
from govtrust.validation.signatures._xades_props import (
    Material,
    level_of,
    material_of,
    qualifying_properties,
    signing_time,
    timestamps_of,
)
from govtrust.validation.signatures._xml import DS, XADES, XmlRefused, qname
from govtrust.validation.signatures._xmldsig import (
    CoreResult,
    Resolver,
    SignedReference,
    digest_names,
    has_signing_certificate_reference,
    signer_named_by,
    verify_core,
)

__all__ = ["MAX_SIGNATURES", "XmlSignatureResult", "format_failure", "validate_signatures"]

logger = logging.getLogger(__name__)

MAX_SIGNATURES = 50
"""More signatures in one document are refused (FORMAT_FAILURE)."""


@dataclass(frozen=True)
class XmlSignatureResult:
    """One signature's report and the data objects it references (for ASiC: which
    files it covers)."""

    report: SignatureReport
    references: tuple[SignedReference, ...] = ()


def format_failure(identifier: str, env: Environment, message: str) -> SignatureReport:
    """TOTAL-FAILED/FORMAT_FAILURE (EN 319 102-1 §5.2.2.4) for ``identifier``, as the
    CMS core writes it."""
    return _cms.format_failure(identifier, message, env)


def _top_level(root: Any) -> list[tuple[int, Any]]:
    """(document-order index among all ds:Signature, element) of each signature not
    nested in another one."""
    tag = qname(DS, "Signature")
    every = [root] if root.tag == tag else []
    every += [e for e in root.iter(tag) if e is not root]
    return [(i, s) for i, s in enumerate(every) if not any(a.tag == tag for a in s.iterancestors())]


def validate_signatures(root: Any, env: Environment, resolve: Resolver) -> list[XmlSignatureResult]:
    """Every top-level ``ds:Signature`` of the parsed document ``root``; external
    references are read only through ``resolve``. Never raises for bad input."""
    found = _top_level(root)
    if len(found) > MAX_SIGNATURES:
        return [
            XmlSignatureResult(
                format_failure(
                    "document", env, f"more than {MAX_SIGNATURES} signatures are refused"
                )
            )
        ]
    out = []
    for number, (index, signature) in enumerate(found, start=1):
        ident = (signature.get("Id") or "")[:128] or f"signature-{number}"
        try:
            out.append(_validate_one(root, signature, index, env, resolve, ident))
        except XmlRefused as exc:
            out.append(XmlSignatureResult(format_failure(ident, env, str(exc))))
        except Exception:  # hostile input must not crash a server (issue 3, item 5)
            logger.warning("XML signature %s could not be processed", ident, exc_info=True)
            out.append(
                XmlSignatureResult(
                    format_failure(ident, env, "the XML signature could not be processed")
                )
            )
    return out


def _report(
    ident: str,
    env: Environment,
    sub: SubIndication | None,
    message: str,
    **fields: Any,
) -> SignatureReport:
    indication = sub.indication if sub is not None else Indication.TOTAL_PASSED
    fields.setdefault("best_signature_time", _at(env))
    return SignatureReport(
        identifier=ident,
        kind=SignatureKind.SIGNATURE,
        indication=indication,
        sub_indication=sub,
        message=message,
        validation_time=_at(env),
        **fields,
    )


def _at(env: Environment) -> dt.datetime:
    """The validation time in whole seconds (X.509 times have whole seconds, RFC 5280
    §4.1.2.5), as the CMS core reports it."""
    return env.validation_time.astimezone(dt.UTC).replace(microsecond=0)


def _details(core: CoreResult, level: str) -> dict[str, Any]:
    return {
        "level": "B-" + level.rsplit("-", 1)[-1] if level.startswith("XAdES") else None,
        "signatureMethod": core.signature_method,
        # "See what is signed" (XML-DSig best practices §2.1): does a reference cover
        # the whole document (URI=""), or only the elements and files listed?
        "wholeDocument": any(r.uri == "" for r in core.references),
        "references": [
            {"uri": r.uri, "type": r.type, "external": r.external} for r in core.references
        ],
    }


def _validate_one(
    root: Any, signature: Any, index: int, env: Environment, resolve: Resolver, ident: str
) -> XmlSignatureResult:
    qualifying = qualifying_properties(signature)
    signed_props = (
        qualifying.find(qname(XADES, "SignedProperties")) if qualifying is not None else None
    )
    material = material_of(signature)
    # Steps 1-3: format, signing certificate, cryptographic verification.
    core = verify_core(
        root,
        signature,
        index,
        resolve,
        extra_certificates=material.certificates,
        signed_properties=signed_props,
    )
    named = has_signing_certificate_reference(signed_props)
    level = level_of(signature, signed_props, named)
    details = _details(core, level)
    if core.failure is not None:
        return XmlSignatureResult(
            _report(ident, env, core.failure, core.message, format=level, details=details),
            core.references,
        )
    if signed_props is not None and core.signed_properties is None:
        return XmlSignatureResult(
            _report(
                ident,
                env,
                SubIndication.FORMAT_FAILURE,
                "the xades:SignedProperties are not covered by the signature",
                format=level,
                details=details,
            ),
            core.references,
        )
    assert core.signer is not None
    if named and not signer_named_by(core.signed_properties, core.signer):
        return XmlSignatureResult(
            _report(
                ident,
                env,
                SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                "the signed xades:SigningCertificateV2 does not name the signing certificate",
                format=level,
                details=details,
            ),
            core.references,
        )
    return XmlSignatureResult(
        _with_time(ident, env, signature, core, material, level, details), core.references
    )


def _embedded(material: Material) -> EmbeddedMaterial:
    return EmbeddedMaterial(
        certificates=material.certificates,
        crls=material.crls,
        ocsp_responses=material.ocsp_responses,
    )


@dataclass(frozen=True)
class _Times:
    """What the time-stamps of one signature prove (EN 319 102-1 §5.5.4, §5.6.3)."""

    signature: list[TimestampCheck]
    archive: list[TimestampCheck]

    @property
    def signature_poe(self) -> dt.datetime | None:
        return min((c.proves for c in self.signature if c.proves is not None), default=None)

    @property
    def archive_poe(self) -> dt.datetime | None:
        return min((c.proves for c in self.archive if c.proves is not None), default=None)

    def reports(self) -> tuple[SignatureReport, ...]:
        return tuple(c.report for c in (*self.signature, *self.archive))

    def order_problem(self) -> tuple[SubIndication, str] | None:
        """§5.6.3.4: signature time-stamps precede the archive time-stamps."""
        sig = [c.proves for c in self.signature if c.proves is not None]
        arch = [c.proves for c in self.archive if c.proves is not None]
        if sig and arch and max(sig) > min(arch):
            return (
                SubIndication.TIMESTAMP_ORDER_FAILURE,
                "a signature time-stamp is later than an archive time-stamp",
            )
        return None


def _timestamps(
    ident: str, env: Environment, signature: Any, core: CoreResult, material: Material
) -> _Times:
    """Archive time-stamps from the latest to the earliest, each later one's genTime a
    POE for the earlier ones (§5.6.2.3); then the signature time-stamps, with the
    earliest archive time-stamp as their POE (as the CMS core does for CAdES)."""
    stamps = timestamps_of(signature, core.references)
    embedded = _embedded(material)
    archive_stamps = [s for s in stamps if s.role == "archive-time-stamp"]
    archive: list[TimestampCheck] = []
    poe: dt.datetime | None = None
    for number in range(len(archive_stamps), 0, -1):
        stamp = archive_stamps[number - 1]
        check = validate_timestamp_token(
            stamp.token,
            imprinted=stamp.imprinted,
            env=env,
            identifier=f"{ident}/archive-time-stamp-{number}",
            role=stamp.role,
            material=embedded,
            poe=poe,
        )
        archive.append(check)
        if check.proves is not None:
            poe = check.proves if poe is None else min(poe, check.proves)
    archive.reverse()
    signature_stamps = [s for s in stamps if s.role == "signature-time-stamp"]
    checks = [
        validate_timestamp_token(
            stamp.token,
            imprinted=stamp.imprinted,
            env=env,
            identifier=f"{ident}/signature-time-stamp-{number}",
            role=stamp.role,
            material=embedded,
            poe=poe,
        )
        for number, stamp in enumerate(signature_stamps, start=1)
    ]
    return _Times(checks, archive)


def _serial(check: TimestampCheck) -> str:
    return f"{check.report.identifier} (serial {check.serial})"


def _poes(times: _Times, best: dt.datetime, at: dt.datetime) -> tuple[ProofOfExistence, ...]:
    found = [
        ProofOfExistence(c.proves, "signature", f"signature time-stamp {_serial(c)}")
        for c in times.signature
        if c.proves is not None
    ]
    found += [
        ProofOfExistence(
            c.proves,
            "signature, its time-stamps and validation data",
            f"archive time-stamp {_serial(c)}",
        )
        for c in times.archive
        if c.proves is not None
    ]
    if best >= at:
        found.append(ProofOfExistence(at, "signature", "validation time"))
    return tuple(found)


def _process(times: _Times) -> ValidationProcess:
    if times.archive:
        return ValidationProcess.LTA
    if times.signature:
        return ValidationProcess.LTVM
    return ValidationProcess.BASIC


def _crypto_problem(
    env: Environment, core: CoreResult, poe: dt.datetime
) -> tuple[SubIndication, str] | None:
    """EN 319 102-1 §5.2.8: a digest past its sunset needs a POE before the sunset."""
    for name in sorted(digest_names(core.signature_method, core.digest_methods)):
        sunset = env.policy.algorithms.sunset_of(name)
        if sunset is not None and poe >= sunset:
            return (
                SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
                f"the signature relies on {name}, not acceptable after"
                f" {sunset.date().isoformat()}, and has no proof of existence before that",
            )
    return None


def _with_time(
    ident: str,
    env: Environment,
    signature: Any,
    core: CoreResult,
    material: Material,
    level: str,
    details: dict[str, Any],
) -> SignatureReport:
    """Steps 4-6: time-stamps, certificate validation with POEs, crypto constraints."""
    assert core.signer is not None
    at = _at(env)
    times = _timestamps(ident, env, signature, core, material)
    best = min(times.signature_poe or times.archive_poe or at, at)
    unused = [c.report.identifier for c in (*times.signature, *times.archive) if not c.proves]
    if unused:
        details = {**details, "timestampsNotUsed": unused}
    signer = core.signer.subject.rfc4514_string()
    details = {**details, "signer": signer}
    fields: dict[str, Any] = {
        "process": _process(times),
        "best_signature_time": best,
        "signing_time": signing_time(core.signed_properties),
        "format": level,
        "timestamps": times.reports(),
        "details": details,
    }
    problem = times.order_problem()
    if problem is not None:
        return _report(ident, env, problem[0], problem[1], **fields)
    # §5.2.6 with §5.6.2.4: the signer's certificate at the best-signature-time.
    cert = validate_certificate(
        core.signer,
        replace(env.policy, purpose=Purpose.SIGNATURE, at=at),
        env.fetchers,
        best,
        validation_data=ValidationData(
            certificates=material.certificates,
            crls=material.crls,
            ocsp_responses=material.ocsp_responses,
        ),
        clock=env.clock,
    )
    fields["certificate"] = cert
    fields["poes"] = _poes(times, best, at)
    if not cert.passed:
        sub = cert.sub_indication or SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
        return _report(ident, env, sub, cert.message, **fields)
    # §5.5.4 step 2: a time-stamp cannot prove a signature older than its certificate.
    if best < at and best < core.signer.not_valid_before_utc:
        return _report(
            ident,
            env,
            SubIndication.NOT_YET_VALID,
            "the signature time-stamp is earlier than the signing certificate's notBefore"
            " (EN 319 102-1 §5.5.4)",
            **fields,
        )
    crypto = _crypto_problem(env, core, best)
    if crypto is not None:
        return _report(ident, env, crypto[0], crypto[1], **fields)
    proven = f"; it existed at {best.isoformat()} (time-stamp)" if best < at else ""
    return _report(ident, env, None, f"the signature by {signer} is valid{proven}", **fields)
