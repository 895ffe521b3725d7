"""The certification authority: profiles, issuance, revocation, CRL and OCSP.

Pure domain code: no storage and no HTTP. The use cases in ``govtrust.services`` drive it.
"""

from __future__ import annotations

from govtrust.ca.authority import (
    CertIdHashes,
    build_intermediate_ca,
    build_root_ca,
    cert_id_hashes,
    sign_draft,
)
from govtrust.ca.crl import RevocationReason, build_crl, encode_entry
from govtrust.ca.names import (
    format_serial,
    name_to_string,
    parse_san,
    parse_serial,
    parse_subject,
    random_serial,
)
from govtrust.ca.ocsp import (
    CertStatus,
    OcspQuery,
    Responder,
    parse_request,
    sign_response,
)
from govtrust.ca.profiles import (
    CertificateRequest,
    Draft,
    IssuerInfo,
    Profile,
    ProfileRegistry,
    load_profiles,
)

__all__ = [
    "CertIdHashes",
    "CertStatus",
    "CertificateRequest",
    "Draft",
    "IssuerInfo",
    "OcspQuery",
    "Profile",
    "ProfileRegistry",
    "Responder",
    "RevocationReason",
    "build_crl",
    "build_intermediate_ca",
    "build_root_ca",
    "cert_id_hashes",
    "encode_entry",
    "format_serial",
    "load_profiles",
    "name_to_string",
    "parse_request",
    "parse_san",
    "parse_serial",
    "parse_subject",
    "random_serial",
    "sign_draft",
    "sign_response",
]
