"""Signing with credentials whose keys live in SoftHSM2 (PKCS#11, non-extractable): the
pyHanko bridge and signxml sign through the key handle, and the results verify."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    async_validate_detached_cms,
    validate_pdf_signature,
)
from pyhanko_certvalidator import ValidationContext

from govtrust.config import load_settings
from govtrust.crypto._pyhanko import to_asn1
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.pkcs11 import Pkcs11Signer
from govtrust.services import Context, authorities, credentials
from govtrust.services.setup import init_home
from govtrust.services.signing import SigningOptions, sign_document
from govtrust.signing.levels import Level
from tests.conftest import SHARED, make_env
from tests.integration.test_sign_support import ADMIN, run_tool
from tests.support.softhsm import SoftHSMToken, softhsm_token

pytestmark = [pytest.mark.softhsm, pytest.mark.openssl]

PDF = (SHARED / "vectors" / "pdf" / "minimal.pdf").read_bytes()


@pytest.fixture
def hsm_ctx(tmp_path: Path, db_url: str) -> Iterator[Context]:
    with softhsm_token(tmp_path) as token:
        yield from _context(tmp_path, db_url, token)


def _context(tmp_path: Path, db_url: str, token: SoftHSMToken) -> Iterator[Context]:
    home = tmp_path / "home"
    env = make_env(home, db_url)
    init_home(home, env)
    with (home / "govtrust.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[pkcs11]\nmodule = "{token.module}"\ntoken_label = "{token.token_label}"\n')
    ctx = Context.open(load_settings({**env, **token.env, "GOVTRUST_PKCS11_PIN": token.pin}))
    try:
        authorities.create_root(ctx, "root", "CN=HSM Root,O=Gov,C=AA", ADMIN, backend="pkcs11")
        credentials.create_credential(
            ctx, "tsa", "root", "tsa", "CN=HSM TSA,O=Gov,C=AA", ADMIN, backend="pkcs11"
        )
        yield ctx
    finally:
        ctx.close()


@pytest.mark.parametrize("spec", [KeySpec.EC_P256, KeySpec.RSA_3072])
def test_pades_and_cades_with_a_token_key(hsm_ctx: Context, tmp_path: Path, spec: KeySpec) -> None:
    credentials.create_credential(
        hsm_ctx, "hsm-seal", "root", "seal",
        "CN=HSM Seal,organizationIdentifier=NTRAA-7,O=Gov,C=AA", ADMIN, key=spec, backend="pkcs11",
    )  # fmt: skip
    cred = credentials.get_credential(hsm_ctx, "hsm-seal")
    assert isinstance(cred.signer, Pkcs11Signer) and not cred.signer.key_info().extractable
    root = to_asn1(cred.chain[-1])

    pdf = sign_document(hsm_ctx, PDF, "a.pdf", "hsm-seal", ADMIN, SigningOptions(level=Level.B_LT))
    reader = PdfFileReader(BytesIO(pdf.document.data))
    context = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "hard-fail"}
    )
    status = validate_pdf_signature(reader.embedded_signatures[0], context)
    assert status.intact and status.valid and status.trusted

    data = b"minutes\n" * 100
    p7s = sign_document(hsm_ctx, data, "m.txt", "hsm-seal", ADMIN, SigningOptions(level=Level.B_T))
    status = asyncio.run(
        async_validate_detached_cms(
            data,
            cms.ContentInfo.load(p7s.document.data)["content"],
            signer_validation_context=ValidationContext(trust_roots=[root], allow_fetching=False),
        )
    )
    assert status.intact and status.valid and status.trusted

    xml = sign_document(hsm_ctx, b"<a>1</a>", "a.xml", "hsm-seal", ADMIN)
    (tmp_path / "a.xml").write_bytes(xml.document.data)
    (tmp_path / "root.pem").write_bytes(cred.chain[-1].public_bytes(serialization.Encoding.PEM))
    result = run_tool(
        "xmlsec1", "--verify", "--trusted-pem", "root.pem",
        "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", "a.xml",
        cwd=tmp_path,
    )  # fmt: skip
    assert (result.stdout + result.stderr).startswith("OK"), result.stderr
