"""The signer-level checks of one CMS SignerInfo that come before any certificate
validation (ETSI EN 319 102-1 V1.4.1 §5.2.3 identification of the signing
certificate, §5.2.7 cryptographic verification, §5.2.8 signature acceptance
validation: cryptographic constraints).

pyHanko does the cryptography: :func:`pyhanko.sign.validation.generic_cms.
validate_sig_integrity` (message-digest attribute, content-type attribute, RFC 6211
algorithm protection, the signature value), :func:`~pyhanko.sign.validation.
generic_cms.get_signing_cert_attr` and :func:`pyhanko.sign.general.check_ess_certid`
(ESS signing-certificate and signing-certificate-v2, RFC 2634 §5.4 and RFC 5035 §3),
:func:`pyhanko.sign.general.match_issuer_serial`. This module only picks the signer's
certificate among several candidates (pyHanko's own picker assumes one SignerInfo)
and maps outcomes to EN 319 102-1 sub-indications.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asn1crypto import core
from asn1crypto import x509 as a_x509
from pyhanko.sign.general import CMSStructuralError, check_ess_certid, match_issuer_serial
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import get_signing_cert_attr, validate_sig_integrity

from govtrust.validation._checks import key_problem
from govtrust.validation.indications import SubIndication
from govtrust.validation.policy import AlgorithmPolicy

__all__ = [
    "Problem",
    "algorithm_problem",
    "check_integrity",
    "digest",
    "ess_version",
    "select_signer_certificate",
]


@dataclass(frozen=True)
class Problem:
    """Why a check did not pass: the sub-indication and a message for the report."""

    sub: SubIndication
    message: str


def _has_attrs(attrs: Any) -> bool:
    return attrs is not None and not isinstance(attrs, core.Void) and len(attrs) > 0


def _matches_sid(sid: Any, cert: Any) -> bool:
    """RFC 5652 §5.3: the SignerIdentifier names the certificate by issuer and serial
    number or by subject key identifier."""
    try:
        if sid.name == "issuer_and_serial_number":
            # The serial number first: comparing names means RFC 4518 string
            # preparation, which is costly, and serial numbers rarely collide.
            tbs = cert["tbs_certificate"]
            if sid.chosen["serial_number"].contents != tbs["serial_number"].contents:
                return False
            if sid.chosen["issuer"].dump() == tbs["issuer"].dump():
                return True  # the same encoding is the same name
            return bool(match_issuer_serial(sid.chosen, cert))
        if sid.name == "subject_key_identifier":
            return bool(cert.key_identifier == sid.chosen.native)
    except (ValueError, TypeError, KeyError):
        return False
    return False


def ess_version(signer_info: Any) -> str | None:
    """``"v2"``, ``"v1"`` or None: which ESS signing-certificate attribute is signed."""
    attrs = signer_info["signed_attrs"]
    if not _has_attrs(attrs):
        return None
    names = {a["type"].native for a in attrs}
    if "signing_certificate_v2" in names:
        return "v2"
    if "signing_certificate" in names:
        return "v1"
    return None


def select_signer_certificate(
    signer_info: Any, candidates: Iterable[Any]
) -> tuple[Any | None, Problem | None]:
    """EN 319 102-1 §5.2.3: the signer's certificate among ``candidates``
    (asn1crypto certificates: the CMS ``certificates`` first, then material found
    elsewhere). It must match the SignerIdentifier and, when a signing-certificate(-v2)
    attribute is signed, its first ESSCertID(v2) (RFC 5035 §3; the attribute binds the
    certificate to the signature, so a mismatch is a substitution)."""
    attrs = signer_info["signed_attrs"]
    certid = None
    if _has_attrs(attrs):
        try:
            attr = get_signing_cert_attr(attrs)
        except SignatureValidationError as exc:
            return None, Problem(SubIndication.NO_SIGNING_CERTIFICATE_FOUND, exc.failure_message)
        # The first ESSCertID(v2) names the signer's certificate (RFC 5035 §3); the
        # others, if any, only restrict the chain.
        certid = attr["certs"][0] if attr is not None else None
    found = False
    for cert in candidates:  # lazily: later candidates may cost a conversion each
        if not _matches_sid(signer_info["sid"], cert):
            continue
        found = True
        if certid is None or check_ess_certid(cert, certid):
            return cert, None
    if not found:
        return None, Problem(
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            "the signer's certificate is neither in the signature nor in the validation data",
        )
    return None, Problem(
        SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
        "the signing-certificate attribute does not match the certificate the "
        "SignerIdentifier names (EN 319 102-1 §5.2.3)",
    )


def digest(name: str, data: bytes) -> bytes | None:
    """``data`` hashed with the CMS digest algorithm ``name`` (asn1crypto's name), or
    None for an algorithm hashlib does not have."""
    try:
        return hashlib.new(name, data).digest()
    except (ValueError, TypeError):
        return None


def check_integrity(
    signer_info: Any, cert: Any, content_type: str, content_digest: bytes
) -> Problem | None:
    """EN 319 102-1 §5.2.7: the message digest (HASH_FAILURE), then the signature value
    (SIG_CRYPTO_FAILURE). Structural faults pyHanko reports (a missing or wrong
    content-type attribute, several message digests) are FORMAT_FAILURE."""
    try:
        intact, valid = validate_sig_integrity(
            signer_info,
            cert,
            expected_content_type=content_type,
            actual_digest=content_digest,
        )
    except SignatureValidationError as exc:
        sub = SubIndication.__members__.get(str(getattr(exc.ades_subindication, "name", "")))
        return Problem(sub or SubIndication.SIG_CONSTRAINTS_FAILURE, exc.failure_message)
    except CMSStructuralError as exc:
        return Problem(SubIndication.FORMAT_FAILURE, exc.failure_message)
    except NotImplementedError as exc:
        return Problem(
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
            f"unsupported signature algorithm: {exc}",
        )
    except Exception as exc:  # asn1crypto parses lazily: a malformed part shows here
        return Problem(SubIndication.FORMAT_FAILURE, f"the signature does not parse: {exc}")
    if not intact:
        return Problem(
            SubIndication.HASH_FAILURE,
            "the signed data does not match the message-digest the signature covers",
        )
    if not valid:
        return Problem(
            SubIndication.SIG_CRYPTO_FAILURE,
            "the signature value does not verify with the signer's public key",
        )
    return None


def algorithm_problem(
    signer_info: Any, cert: a_x509.Certificate, policy: AlgorithmPolicy, poe: Any
) -> Problem | None:
    """EN 319 102-1 §5.2.8 (cryptographic constraints of the signature itself, after
    ETSI TS 119 312): the signer's key, and the digest algorithm at the POE of the
    signature (a sunset digest needs a POE before its sunset)."""
    problem = key_problem(cert.public_key, policy)
    if problem is not None:
        return Problem(SubIndication.CRYPTO_CONSTRAINTS_FAILURE, problem)
    name = str(signer_info["digest_algorithm"]["algorithm"].native)
    sunset = policy.sunset_of(name)
    if sunset is not None and poe >= sunset:
        return Problem(
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
            f"{name} is not accepted after {sunset:%Y-%m-%d} (ETSI TS 119 312) and "
            "nothing proves the signature existed before",
        )
    return None
