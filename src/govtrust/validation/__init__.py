"""Validation of anyone's certificates and signatures, with ETSI EN 319 102-1 results.

The service-facing entry points are :func:`validate_certificate` (synchronous) and
:func:`async_validate_certificate` (for code already in an event loop, such as a FastAPI
route). The synchronous one runs on one long-lived background event loop rather than
``asyncio.run`` per call, so HTTP connection pools are kept between validations (see
``_loop``). This package never imports ``govtrust.ca``: it validates certificates from
any issuer, govtrust's own included, the same way.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from pyhanko_certvalidator.fetchers import FetcherBackend

from govtrust.clock import Clock
from govtrust.validation import _loop
from govtrust.validation.fetchers import (
    FetchLimits,
    HttpxFetcherBackend,
    OfflineFetcherBackend,
    ValidationData,
)
from govtrust.validation.indications import Indication, SubIndication, worst
from govtrust.validation.names import match_email_address, match_server_name
from govtrust.validation.path import async_validate_certificate
from govtrust.validation.policy import (
    AlgorithmPolicy,
    Purpose,
    RevocationMode,
    UsageRule,
    ValidationPolicy,
    ValidationPolicyBuilder,
)
from govtrust.validation.report import ProofOfExistence, Report, SignatureReport
from govtrust.validation.results import (
    CertificateStatus,
    CertificateValidationResult,
    ChainCertificate,
    RevocationData,
    RevocationStatus,
    Validity,
)

__all__ = [
    "AlgorithmPolicy",
    "CertificateStatus",
    "CertificateValidationResult",
    "ChainCertificate",
    "FetchLimits",
    "HttpxFetcherBackend",
    "Indication",
    "OfflineFetcherBackend",
    "ProofOfExistence",
    "Purpose",
    "Report",
    "RevocationData",
    "RevocationMode",
    "RevocationStatus",
    "SignatureReport",
    "SubIndication",
    "UsageRule",
    "ValidationData",
    "ValidationPolicy",
    "ValidationPolicyBuilder",
    "Validity",
    "async_validate_certificate",
    "match_email_address",
    "match_server_name",
    "validate_certificate",
    "worst",
]


def validate_certificate(
    certificate: x509.Certificate,
    policy: ValidationPolicy,
    fetchers: FetcherBackend | None = None,
    poe_time: dt.datetime | None = None,
    *,
    created_after: dt.datetime | None = None,
    validation_data: ValidationData | None = None,
    clock: Clock | None = None,
) -> CertificateValidationResult:
    """Synchronous :func:`async_validate_certificate` (same arguments), run on the
    shared validation event loop. Do not call it from inside that loop."""
    return _loop.run(
        async_validate_certificate(
            certificate,
            policy,
            fetchers,
            poe_time,
            created_after=created_after,
            validation_data=validation_data,
            clock=clock,
        )
    )
