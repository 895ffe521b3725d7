"""The signer-level checks of one CMS SignerInfo that come before any certificate
validation (ETSI EN 319 102-1 V1.4.1 §5.2.3 identification of the signing
certificate, §5.2.7 cryptographic verification, §5.2.8 signature acceptance
validation: cryptographic constraints).

pyHanko does the cryptography and the attribute look-ups: its
``DefaultSignatureValidator`` (the signature value), ``validate_algorithm_protection``
(RFC 6211), ``find_unique_cms_attribute``, ``get_signing_cert_attr`` and, when names
are encoded differently, ``match_issuer_serial`` (RFC 4518 name comparison). This
module picks the signer's certificate among several candidates (pyHanko's own picker
assumes one SignerInfo), maps outcomes to EN 319 102-1 sub-indications, and keeps
three things off pyHanko's slow paths, each a measured cost of the portal's verify
page (issue 6):

- :func:`settle`: asn1crypto marks a parsed value "mutated" when it fills in an
  omitted DEFAULT field, after which every read of an ancestor re-encodes it;
- :func:`select_signer_certificate` compares an ESSCertID(v2)'s issuer by its DER
  bytes before falling back to RFC 4518 string preparation;
- :func:`check_integrity` does not repeat the signing-certificate check that
  ``validate_sig_integrity`` repeats (pyHanko's docstring: "performed twice ... for
  compatibility" with standalone use); its other steps are the same, in pyHanko's
  order, with pyHanko's functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asn1crypto import core, tsp
from asn1crypto import x509 as a_x509
from cryptography.exceptions import InvalidSignature
from pyhanko.sign.general import (
    CMSStructuralError,
    MultivaluedAttributeError,
    NonexistentAttributeError,
    find_unique_cms_attribute,
    match_issuer_serial,
)
from pyhanko.sign.validation.errors import CMSAlgorithmProtectionError, SignatureValidationError
from pyhanko.sign.validation.generic_cms import (
    get_signing_cert_attr,
    validate_algorithm_protection,
)
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.sig_validate import (
    DefaultSignatureValidator,
    SignatureValidationContext,
)

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
    "settle",
]

_SIGNATURES = DefaultSignatureValidator()


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


def _same_name(name: Any, cert_name: Any) -> bool:
    """Two asn1crypto Names are the same name when their RDNSequences have the same
    encoding (RFC 5280 §7.1 comparison is needed only when they differ). The
    RDNSequence, not the Name: a directoryName GeneralName's Name carries its
    ``[4] EXPLICIT`` tag in its own encoding."""
    return bool(name.chosen.contents == cert_name.chosen.contents)


def _certid_matches(cert: Any, certid: Any) -> bool:
    """RFC 2634 §5.4.1 (ESSCertID) and RFC 5035 §4 (ESSCertIDv2): the hash of the
    certificate's DER encoding (SHA-1 for v1, ``hashAlgorithm``, default SHA-256, for
    v2) and, when ``issuerSerial`` is present, its issuer and serial number. What
    pyHanko's ``check_ess_certid`` checks; this one compares the issuer's encoding
    before RFC 4518 string preparation."""
    name = (
        "sha1"
        if isinstance(certid, tsp.ESSCertID)
        else certid["hash_algorithm"]["algorithm"].native
    )
    if digest(str(name), cert.dump()) != bytes(certid["cert_hash"].native):
        return False
    issuer_serial = certid["issuer_serial"]
    if isinstance(issuer_serial, core.Void):
        return True
    tbs = cert["tbs_certificate"]
    general = issuer_serial["issuer"]
    if (
        issuer_serial["serial_number"].contents == tbs["serial_number"].contents
        and len(general) == 1
        and general[0].name == "directory_name"
        and _same_name(general[0].chosen, tbs["issuer"])
    ):
        return True
    return bool(match_issuer_serial(issuer_serial, cert))


def settle(value: Any) -> None:
    """Clear the "mutated" mark asn1crypto leaves on a value it has only parsed.

    DER omits a field equal to its DEFAULT (X.690 §11.5), e.g. ESSCertIDv2's
    ``hashAlgorithm`` SHA-256 (RFC 5035 §4) in every TSA token and CAdES signature.
    asn1crypto fills the omitted field in with a value built through ``__setitem__``,
    which marks it mutated; from then on every ``contents``, ``dump()`` or ``native``
    of every ancestor re-encodes its whole subtree, comparing each field with a
    freshly built default, every time (a third of a PAdES validation's CPU). The
    received encoding is already right, so this encodes each such default once and
    clears the mark. ``value`` (a SignerInfo's signed attributes) is parsed in full
    here: call it on a value just loaded from bytes, before anything reads it. A part
    that does not parse is left alone, for the checks that read it to report."""
    if value.children is not None:
        return  # parsed before: re-parsing would fill the defaults in again
    try:
        value._parse_children(recurse=True)
    except Exception:  # malformed: reported where it is read, as before
        return
    _settle(value)


def _settle(value: Any) -> None:
    children = value.children
    if children is None:
        return
    for child in children:
        if isinstance(child, core.Sequence | core.SequenceOf):
            _settle(child)
    if value._mutated:
        value.contents  # noqa: B018 - encodes the filled-in default once
        value._mutated = False


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
        if certid is None or _certid_matches(cert, certid):
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
    (SIG_CRYPTO_FAILURE), for a ``cert`` chosen by :func:`select_signer_certificate`
    (which checked the signing-certificate attribute, §5.2.3).

    With signed attributes (RFC 5652 §5.4) the signature covers their DER encoding
    with a SET OF tag, the message-digest attribute (§11.2) must equal
    ``content_digest`` and the content-type attribute (§11.1) ``content_type``; an
    RFC 6211 algorithm-protection attribute, when present, must name the SignerInfo's
    algorithms. Without them, the signature covers ``content_digest`` itself. The
    same steps as pyHanko's ``validate_sig_integrity``, which also re-checks the
    signing-certificate attribute. Structural faults (a missing or repeated
    attribute, a part that does not parse) are FORMAT_FAILURE."""
    try:
        return _check_integrity(signer_info, cert, content_type, content_digest)
    except CMSStructuralError as exc:  # a repeated algorithm-protection attribute
        return Problem(SubIndication.FORMAT_FAILURE, exc.failure_message)
    except Exception as exc:  # asn1crypto parses lazily: a malformed part shows here
        return Problem(SubIndication.FORMAT_FAILURE, f"the signature does not parse: {exc}")


def _unique(attrs: Any, name: str) -> Any | None:
    """The single value of the signed attribute ``name``; None when it is missing or
    repeated (RFC 5652 §11.1, §11.2: exactly one)."""
    try:
        return find_unique_cms_attribute(attrs, name)
    except (NonexistentAttributeError, MultivaluedAttributeError):
        return None


def _format(message: str) -> Problem:
    return Problem(SubIndication.FORMAT_FAILURE, f"{message} (RFC 5652 §5.3, §11)")


def _check_integrity(
    signer_info: Any, cert: Any, content_type: str, content_digest: bytes
) -> Problem | None:
    algorithm = signer_info["signature_algorithm"]
    digest_algorithm = signer_info["digest_algorithm"]
    attrs = signer_info["signed_attrs"]
    prehashed = not _has_attrs(attrs)
    if prehashed:
        signed = content_digest
    else:
        # RFC 5652 §5.4: the [0] IMPLICIT tag is replaced by SET OF's; the encoding
        # is otherwise the one received (pyHanko tolerates signers' small DER slips).
        # The tag byte swapped in place: untag() deep-copies the parsed tree.
        received = attrs.dump()
        signed = b"\x31" + received[1:] if received[:1] == b"\xa0" else attrs.untag().dump()
        try:
            validate_algorithm_protection(
                attrs,
                claimed_digest_algorithm_obj=digest_algorithm,
                claimed_signature_algorithm_obj=algorithm,
                claimed_mac_algorithm_obj=None,
            )
        except CMSAlgorithmProtectionError as exc:
            return Problem(SubIndication.SIG_CONSTRAINTS_FAILURE, exc.failure_message)
        declared = _unique(attrs, "content_type")
        if declared is None:
            return _format("the signed attributes need exactly one content-type attribute")
        if declared.native != content_type:
            return _format(
                f"the content-type attribute says {declared.native}, the content is {content_type}"
            )
        embedded = _unique(attrs, "message_digest")
        if embedded is None:
            return _format("the signed attributes need exactly one message-digest attribute")
        if bytes(embedded.native) != content_digest:
            return Problem(
                SubIndication.HASH_FAILURE,
                "the signed data does not match the message-digest the signature covers",
            )
    try:
        _SIGNATURES.validate_signature(
            signer_info["signature"].native,
            signed,
            cert.public_key,
            algorithm,
            context=SignatureValidationContext(
                contextual_md_algorithm=digest_algorithm["algorithm"].native,
                prehashed=prehashed,
            ),
        )
    except AlgorithmNotSupported as exc:
        return Problem(
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE, f"unsupported signature algorithm: {exc}"
        )
    except InvalidSignature:
        if prehashed:
            return Problem(
                SubIndication.HASH_FAILURE,
                "the signed data does not match the digest the signature covers",
            )
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
