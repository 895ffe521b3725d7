"""Every certificate govtrust issues passes pkilint (DigiCert's X.509 linter) without an
ERROR or FATAL finding: the RFC 5280 linter for every profile and CA certificate, the
CA/Browser Forum TLS BR linter for ``tls-server``, the ETSI EN 319 412 linters for the
natural-person (``official``) and legal-person (``seal``) profiles.

Certificates are issued by the real CA services, to a fresh key of every algorithm the
profile allows, and linted in-process from their DER encoding. pkilint looks at the
certificate's bytes only, so these tests run on SQLite alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from pkilint import etsi, finding_filter, loader
from pkilint.cabf import serverauth
from pkilint.cabf.serverauth.serverauth_constants import CertificateType as CabfType
from pkilint.etsi.etsi_constants import CertificateType as EtsiType
from pkilint.pkix import certificate, extension, name
from pkilint.validation import ValidationFindingSeverity

from govtrust.ca import CertificateRequest, parse_san, parse_subject
from govtrust.services import Actor, Context, authorities, certificates

ADMIN = Actor("test:pkilint", "admin")

# One storage back end is enough: override the conftest's db_url parameters.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

# profile -> (issuing CA, subject, SANs). Host names are under a public suffix: pkilint
# reports names under non-public suffixes and private IP addresses as internal names.
REQUESTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "tls-server": (
        "tls",
        "CN=www.govtrust.org",
        ("dns:www.govtrust.org", "dns:portal.govtrust.org"),
    ),
    "tls-client": (
        "tls",
        "CN=Payroll System,O=Ministry of Finance,C=AA",
        ("dns:payroll.govtrust.org", "email:payroll@govtrust.org"),
    ),
    "official": (
        "people",
        "CN=Amina Haddad,SN=Haddad,givenName=Amina,serialNumber=PNOAA-1001,"
        "O=Ministry of Finance,C=AA",
        ("email:amina.haddad@govtrust.org",),
    ),
    "seal": (
        "people",
        "CN=Ministry of Finance,organizationIdentifier=NTRAA-100001,O=Ministry of Finance,C=AA",
        ("uri:https://finance.govtrust.org/",),
    ),
    "ocsp-signer": ("tls", "CN=Test OCSP Responder,O=Government of AA,C=AA", ()),
    "tsa": ("people", "CN=Time-Stamping Unit 1,O=Government of AA,C=AA", ()),
    "device": (
        "tls",
        "CN=meter-0001,O=National Water Authority,C=AA",
        ("dns:meter-0001.govtrust.org",),
    ),
    "code-signing": (
        "people",
        "CN=Ministry of Finance Release Signing,O=Ministry of Finance,C=AA",
        (),
    ),
    "trustlist-signer": (
        "people",
        "CN=AA Trusted List Signer,O=AA Trust Services Supervisory Body,C=AA",
        (),
    ),
}

# The ETSI certificate type each profile must be detected as (EN 319 412-2, -3, -4).
ETSI_TYPES = {
    "official": EtsiType.NCP_NATURAL_PERSON_CERTIFICATE,
    "seal": EtsiType.NCP_LEGAL_PERSON_CERTIFICATE,
    "tls-server": EtsiType.DVCP_FINAL_CERTIFICATE,
}

# CA/Browser Forum findings on the demo's BR-scoped CA certificates that are accepted:
# only the demo's user-assigned country code.
KNOWN_CABF_CA_ERRORS = {
    # The demo country is ISO 3166 user-assigned "AA" (govtrust init --country).
    "cabf.invalid_country_code": "demo data: country AA is not an assigned ISO 3166 code",
}
KNOWN_CABF_OCSP_ERRORS = {
    "cabf.invalid_country_code": KNOWN_CABF_CA_ERRORS["cabf.invalid_country_code"],
}

_BLOCKING = ValidationFindingSeverity.ERROR  # ERROR and FATAL (FATAL = 0 < ERROR = 1)


# ---- pkilint, in-process ---------------------------------------------------------------


def _load(der: bytes) -> Any:
    return loader.RFC5280CertificateDocumentLoader().load_der_document(der, "certificate")


def _findings(results: Iterable[Any]) -> list[tuple[ValidationFindingSeverity, str, str]]:
    """(severity, code, 'SEVERITY code @ path: message') of every finding."""
    out = []
    for result in results:
        for description in result.finding_descriptions:
            finding = description.finding
            text = f"{finding.severity.name} {finding.code} @ {result.node.path}"
            if description.message:
                text += f": {description.message}"
            out.append((finding.severity, finding.code, text))
    return out


def _blocking(findings: Sequence[tuple[ValidationFindingSeverity, str, str]]) -> list[str]:
    return [text for severity, _, text in findings if severity <= _BLOCKING]


def lint_rfc5280(der: bytes) -> list[tuple[ValidationFindingSeverity, str, str]]:
    """pkilint's RFC 5280 certificate linter (as ``lint_pkix_cert``)."""
    validator = certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(
            name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS
        ),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )
    return _findings(validator.validate(_load(der).root))


def lint_cabf_serverauth(
    der: bytes,
) -> tuple[CabfType, list[tuple[ValidationFindingSeverity, str, str]]]:
    """The CA/B Forum TLS BR linter (as ``lint_cabf_serverauth_cert lint --detect``)."""
    doc = _load(der)
    cert_type = serverauth.determine_certificate_type(doc)
    validator = certificate.create_pkix_certificate_validator_container(
        serverauth.create_decoding_validators(), serverauth.create_validators(cert_type)
    )
    results, _ = finding_filter.filter_results(
        serverauth.create_serverauth_finding_filters(cert_type), validator.validate(doc.root)
    )
    return cert_type, _findings(results)


def lint_etsi(der: bytes) -> tuple[EtsiType, list[tuple[ValidationFindingSeverity, str, str]]]:
    """The ETSI EN 319 412 linter (as ``lint_etsi_cert lint --detect``)."""
    doc = _load(der)
    cert_type = etsi.determine_certificate_type(doc)
    validator = certificate.create_pkix_certificate_validator_container(
        etsi.create_decoding_validators(cert_type), etsi.create_validators(cert_type)
    )
    results, _ = finding_filter.filter_results(
        etsi.create_etsi_finding_filters(cert_type), validator.validate(doc.root)
    )
    return cert_type, _findings(results)


# ---- issuing ---------------------------------------------------------------------------


def _issue_all_keys(ctx: Context, profile: str) -> list[tuple[str, bytes]]:
    """One certificate per key algorithm the profile allows: (algorithm, DER)."""
    ca, subject, sans = REQUESTS[profile]
    issued = []
    for spec in ctx.profiles.get(profile).spec.key_algorithms:
        key = spec.generate()
        request = CertificateRequest(
            parse_subject(subject), key.public_key(), tuple(parse_san(s) for s in sans)
        )
        issued.append((spec.value, certificates.issue(ctx, ca, profile, request, ADMIN).der))
    return issued


def _report(label: str, errors: dict[str, list[str]]) -> str:
    lines = [f"{label}:"]
    for key, texts in errors.items():
        lines += [f"  {key}:", *(f"    {t}" for t in texts)]
    return "\n".join(lines)


# ---- tests -----------------------------------------------------------------------------


def test_every_profile_is_linted(ctx: Context) -> None:
    assert set(ctx.profiles.names()) == set(REQUESTS)


@pytest.mark.parametrize("profile", sorted(REQUESTS))
def test_profile_passes_rfc5280_lint(ctx: Context, profile: str) -> None:
    errors = {}
    for algorithm, der in _issue_all_keys(ctx, profile):
        if found := _blocking(lint_rfc5280(der)):
            errors[algorithm] = found
    assert not errors, _report(f"pkilint RFC 5280 findings for profile {profile}", errors)


def test_tls_server_passes_cabf_serverauth_lint(ctx: Context) -> None:
    errors = {}
    for algorithm, der in _issue_all_keys(ctx, "tls-server"):
        cert_type, findings = lint_cabf_serverauth(der)
        assert cert_type == CabfType.DV_FINAL_CERTIFICATE
        if found := _blocking(findings):
            errors[algorithm] = found
    assert not errors, _report("pkilint CA/B Forum TLS BR findings for tls-server", errors)


@pytest.mark.parametrize("profile", sorted(ETSI_TYPES))
def test_profile_passes_etsi_lint(ctx: Context, profile: str) -> None:
    errors = {}
    for algorithm, der in _issue_all_keys(ctx, profile):
        cert_type, findings = lint_etsi(der)
        assert cert_type == ETSI_TYPES[profile]
        if found := _blocking(findings):
            errors[algorithm] = found
    assert not errors, _report(f"pkilint ETSI findings for profile {profile}", errors)


def test_every_demo_certificate_passes_rfc5280_lint(ctx: Context) -> None:
    """The three CA certificates, and everything the demo issued (including each CA's
    delegated OCSP responder and the subordinate CA rows)."""
    errors = {}
    for ca in authorities.list_cas(ctx):
        if found := _blocking(lint_rfc5280(ca.cert_der)):
            errors[f"CA {ca.name}"] = found
    issued = certificates.list_certificates(ctx, limit=10_000)
    assert len(issued) >= 9  # 3 responders, 2 sub-CAs, 2 officials, 2 seals, ...
    for info in issued:
        if found := _blocking(lint_rfc5280(info.der)):
            errors[f"{info.profile} {info.serial}"] = found
    assert not errors, _report("pkilint RFC 5280 findings for demo certificates", errors)


def test_br_scoped_ca_certificates_have_only_known_cabf_findings(ctx: Context) -> None:
    """The root and the TLS intermediate, and the TLS CA's delegated OCSP responder,
    under the CA/Browser Forum linter: no ERROR beyond the documented ones."""
    cas = {ca.name: ca for ca in authorities.list_cas(ctx)}
    unexpected = {}
    for ca_name, expected_type in (
        ("root", CabfType.ROOT_CA),
        ("tls", CabfType.INTERNAL_UNCONSTRAINED_TLS_CA),
    ):
        cert_type, findings = lint_cabf_serverauth(cas[ca_name].cert_der)
        assert cert_type == expected_type
        found = [
            text
            for severity, code, text in findings
            if severity <= _BLOCKING and code not in KNOWN_CABF_CA_ERRORS
        ]
        if found:
            unexpected[f"CA {ca_name}"] = found
    responder_serial = cas["tls"].ocsp_signer_serial
    assert responder_serial is not None
    responder = certificates.get_certificate(ctx, responder_serial)
    cert_type, findings = lint_cabf_serverauth(responder.der)
    assert cert_type == CabfType.OCSP_RESPONDER
    found = [
        text
        for severity, code, text in findings
        if severity <= _BLOCKING and code not in KNOWN_CABF_OCSP_ERRORS
    ]
    if found:
        unexpected["tls OCSP responder"] = found
    assert not unexpected, _report("unexpected pkilint CA/B Forum findings", unexpected)
