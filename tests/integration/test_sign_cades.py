"""Detached CAdES through the service with the demo data: ``openssl cms -verify``
accepts every level and rejects a one-byte change of the file; pyHanko's
``async_validate_detached_cms`` agrees, also offline for B-LT from the data in the
SignedData alone; ``openssl ts -verify`` accepts the signature time-stamp and the
archive time-stamp."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from asn1crypto import cms
from pyhanko.keys import load_cert_from_pemder
from pyhanko.sign.validation import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from govtrust.services import Context
from govtrust.services.signing import SigningOptions, augment_document, sign_digest, sign_document
from govtrust.signing.cades.augment import archive_imprint_input, parse_cms
from govtrust.signing.levels import Level, SignatureFormat
from tests.integration.test_sign_support import (
    ADMIN,
    openssl_ts_verify,
    pki_files,
    run_tool,
    signature_timestamp,
    signature_value,
)

pytestmark = pytest.mark.openssl

DATA = bytes(range(256)) * 4096  # 1 MiB of binary data


def _verify(sig: Path, content: Path, chain: Path) -> str:
    result = run_tool(
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig),
        "-content", str(content), "-CAfile", str(chain), "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip
    return result.stdout + result.stderr


@pytest.mark.parametrize("level", list(Level))
def test_openssl_accepts_and_rejects_a_one_byte_change(
    ctx: Context, tmp_path: Path, level: Level
) -> None:
    files = pki_files(ctx, tmp_path)
    content = tmp_path / "data.bin"
    content.write_bytes(DATA)
    result = sign_document(
        ctx, DATA, str(content), "ministry-of-finance", ADMIN, SigningOptions(level=level)
    )
    assert result.filename == f"{content}.p7s"
    sig = tmp_path / "data.bin.p7s"
    sig.write_bytes(result.document.data)
    assert "Verification successful" in _verify(sig, content, files.chain)
    changed = bytearray(DATA)
    changed[len(DATA) // 2] ^= 0x01
    content.write_bytes(bytes(changed))
    report = _verify(sig, content, files.chain)
    assert "CMS Verification failure" in report and "verification failure" in report, report


def _context(ctx: Context, tmp_path: Path, **extra: object) -> ValidationContext:
    root = load_cert_from_pemder(str(pki_files(ctx, tmp_path).root))
    return ValidationContext(trust_roots=[root], allow_fetching=False, **extra)  # type: ignore[arg-type]


def test_pyhanko_validates_b_b_and_the_hash_signature(ctx: Context, tmp_path: Path) -> None:
    der = sign_document(ctx, DATA, "data.bin", "ministry-of-finance", ADMIN).document.data
    status = asyncio.run(
        async_validate_detached_cms(
            DATA,
            cms.ContentInfo.load(der)["content"],
            signer_validation_context=_context(ctx, tmp_path),
        )
    )
    assert status.intact and status.valid and status.trusted
    remote = sign_digest(
        ctx,
        hashlib.sha512(DATA).digest(),
        "sha512",
        "ministry-of-finance",
        ADMIN,
        SignatureFormat.CADES,
    ).document.data
    status = asyncio.run(
        async_validate_detached_cms(
            DATA,
            cms.ContentInfo.load(remote)["content"],
            signer_validation_context=_context(ctx, tmp_path),
        )
    )
    assert status.intact and status.valid and status.trusted


def test_b_lt_validates_offline_from_the_signature_alone(ctx: Context, tmp_path: Path) -> None:
    der = sign_document(
        ctx, DATA, "data.bin", "ministry-of-finance", ADMIN, SigningOptions(level=Level.B_LT)
    ).document.data
    signed_data = cms.ContentInfo.load(der)["content"]
    ocsps = [c.chosen["other_rev_info"] for c in signed_data["crls"] if c.name == "other"]
    assert ocsps
    certs = [c.chosen for c in signed_data["certificates"]]
    context = _context(ctx, tmp_path, ocsps=ocsps, other_certs=certs, revocation_mode="hard-fail")
    status = asyncio.run(
        async_validate_detached_cms(DATA, signed_data, signer_validation_context=context)
    )
    assert status.intact and status.valid and status.trusted and not status.revoked
    # Without the embedded revocation data, hard-fail validation cannot trust it.
    bare = _context(ctx, tmp_path, other_certs=certs, crls=[], revocation_mode="hard-fail")
    status = asyncio.run(
        async_validate_detached_cms(DATA, signed_data, signer_validation_context=bare)
    )
    assert not status.trusted


def test_openssl_verifies_both_timestamps(ctx: Context, tmp_path: Path) -> None:
    files = pki_files(ctx, tmp_path)
    der = sign_document(
        ctx, DATA, "data.bin", "ministry-of-finance", ADMIN, SigningOptions(level=Level.B_LTA)
    ).document.data
    token = signature_timestamp(der)
    digest = hashlib.sha256(signature_value(der)).hexdigest()
    assert "Verification: OK" in openssl_ts_verify(token, digest, files.chain, tmp_path)
    sig = parse_cms(der)
    (archive,) = sig.unsigned("0.4.0.1733.2.4")
    index = archive["content"]["signer_infos"][0]["unsigned_attrs"][0]["values"][0]
    # The signature as it was before the archive time-stamp was added.
    before = sig.rebuild(
        unsigned_attrs=[
            a for a in sig.unsigned_attributes() if b"\x04\x00\x8d\x45\x02\x04" not in a[:12]
        ]
    )
    imprint = hashlib.sha256(
        archive_imprint_input(before, hashlib.sha256(DATA).digest(), index)
    ).hexdigest()
    assert "Verification: OK" in openssl_ts_verify(
        bytes(archive.dump()), imprint, files.chain, tmp_path
    )


def test_augment_a_p7s_to_b_lta(ctx: Context, tmp_path: Path) -> None:
    files = pki_files(ctx, tmp_path)
    der = sign_document(ctx, DATA, "data.bin", "civil-registry-agency", ADMIN).document.data
    augmented = augment_document(ctx, der, "data.bin.p7s", Level.B_LTA, ADMIN, content=DATA)
    assert augmented.document.level is Level.B_LTA
    sig = tmp_path / "a.p7s"
    sig.write_bytes(augmented.document.data)
    content = tmp_path / "data.bin"
    content.write_bytes(DATA)
    assert "Verification successful" in _verify(sig, content, files.chain)
    attrs = {
        a["type"].dotted
        for a in cms.ContentInfo.load(augmented.document.data)["content"]["signer_infos"][0][
            "unsigned_attrs"
        ]
    }
    assert attrs == {"1.2.840.113549.1.9.16.2.14", "0.4.0.1733.2.4"}
