"""Validation as a service: ``govtrust verify``, ``POST /verify`` and the portal.

INTERFACE FIXED BY THE LEAD; bodies by helper "verify-service".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509

from govtrust.services.context import Actor, Context
from govtrust.validation.policy import RevocationMode
from govtrust.validation.report import Report

__all__ = ["VerifyOptions", "render_html", "render_pdf", "sealed_json", "verify_document"]


@dataclass(frozen=True)
class VerifyOptions:
    """One validation's policy choices (the report records the policy that applied)."""

    at: dt.datetime | None = None
    trust_anchors: tuple[x509.Certificate, ...] = ()
    revocation: RevocationMode | None = None  # None: the instance default


def verify_document(
    ctx: Context,
    data: bytes,
    *,
    name: str | None = None,
    detached: bytes | None = None,
    options: VerifyOptions = VerifyOptions(),
    actor: Actor | None = None,
) -> Report:
    raise NotImplementedError  # verify-service replaces this


def sealed_json(ctx: Context, report: Report) -> bytes:
    raise NotImplementedError  # verify-service replaces this


def render_html(report: Report, *, lang: str = "en") -> str:
    raise NotImplementedError  # verify-service replaces this


def render_pdf(ctx: Context, report: Report) -> bytes:
    raise NotImplementedError  # verify-service replaces this
