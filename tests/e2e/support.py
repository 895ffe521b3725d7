"""What the portal's tests share: demo accounts with known passwords, form helpers,
and the signed documents the verify page is tested with (generated at test time)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from httpx import Response

from govtrust.services import Actor, Context, ledger
from govtrust.services.portal_users import create_user
from govtrust.services.signing import SigningOptions, sign_document
from govtrust.signing.levels import Level

__all__ = [
    "ADMIN",
    "Accounts",
    "csrf_of",
    "make_accounts",
    "make_pdf",
    "sign_pdf",
    "tamper",
    "write_portal_config",
]

ADMIN = Actor("test:portal", "admin")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Accounts:
    """Portal accounts by role, with their passwords."""

    passwords: dict[str, str]


def make_accounts(ctx: Context) -> Accounts:
    passwords = {}
    for role in ("auditor", "operator", "admin"):
        password = secrets.token_urlsafe(16)
        create_user(ctx, f"test-{role}", role, password, ADMIN)
        passwords[role] = password
    ledger.sequence(ctx)
    return Accounts(passwords)


def csrf_of(response: Response) -> str:
    found = _CSRF.search(response.text)
    assert found, "no CSRF field in the page"
    return found.group(1)


def make_pdf(text: str = "Certificate of residence") -> bytes:
    """A one-page PDF, uncompressed so that a test can find and change its text."""
    pdf = FPDF()
    pdf.set_compression(False)
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text=text)
    return bytes(pdf.output())


def sign_pdf(
    ctx: Context, credential: str = "ministry-of-finance", level: Level = Level.B_T
) -> bytes:
    result = sign_document(
        ctx, make_pdf(), "residence.pdf", credential, ADMIN, SigningOptions(level=level)
    )
    return result.document.data


def tamper(signed: bytes) -> bytes:
    """Change one letter of the signed page text (inside the signed byte range)."""
    assert b"residence" in signed
    return signed.replace(b"residence", b"resIdence", 1)


def write_portal_config(home: Path, text: str) -> None:
    with (home / "govtrust.toml").open("a", encoding="utf-8") as f:
        f.write("\n[portal]\n" + text + "\n")
