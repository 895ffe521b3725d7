"""Signature validation per format, after ETSI EN 319 102-1 (basic signature, with
time, with long-term data and archival).

Each format module turns a document into :class:`FormatResult` (one
:class:`~govtrust.validation.report.SignatureReport` per signature, each with its
time-stamps) under one :class:`Environment`; :func:`govtrust.validation.documents.
validate_document` detects the format, calls it and builds the
:class:`~govtrust.validation.report.Report`.

- ``_cms``: what every CMS-based format shares (CAdES, PAdES, ASiC with CAdES,
  RFC 3161 time-stamp tokens): signer integrity, time-stamp tokens, POEs, the
  EN 319 102-1 process ladder;
- ``cades``: CMS/CAdES attached (.p7m) and detached (.p7s);
- ``pades``: PDF signatures and document time-stamps, with modification analysis;
- ``xades``: XML signatures (XAdES enveloped, enveloping, detached);
- ``asic``: ASiC-E and ASiC-S containers with CAdES or XAdES signatures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyhanko_certvalidator.fetchers import FetcherBackend

from govtrust.clock import Clock
from govtrust.validation.policy import ValidationPolicy
from govtrust.validation.report import SignatureReport

__all__ = ["Environment", "FormatResult"]


@dataclass(frozen=True)
class Environment:
    """What one document validation runs under: the policy (trust anchors, revocation
    mode, validation time ``policy.at`` or the clock's now), the fetchers for
    revocation data and missing certificates (``None``: offline, only what the
    document embeds), and the clock."""

    policy: ValidationPolicy
    clock: Clock
    fetchers: FetcherBackend | None = None

    @property
    def validation_time(self) -> dt.datetime:
        return self.policy.at if self.policy.at is not None else self.clock.now()


@dataclass(frozen=True)
class FormatResult:
    """The signatures found in one document, and document-level findings (for a PDF:
    its revisions and what changed after each signature; for a container: its files
    and which signature covers which)."""

    format: str  # "PDF", "CMS", "XML", "ASiC-E", "ASiC-S", "TIMESTAMP"
    signatures: tuple[SignatureReport, ...]
    details: Mapping[str, Any] = field(default_factory=dict)
