"""The TSA with its key in SoftHSM2 (non-extractable): tokens verify with openssl, and
credentials for officials and seals can live in the token too."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from govtrust.cli.main import app
from govtrust.config import load_settings
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.pkcs11 import Pkcs11Signer
from govtrust.services import Actor, Context, authorities, credentials
from govtrust.services.tsa import TsaService

pytestmark = [pytest.mark.softhsm, pytest.mark.openssl]
ADMIN = Actor("test:admin", "admin")
DATA = b"Gazette No. 41, 22 November 2026\n"


@pytest.fixture
def hsm_ctx(hsm_env: dict[str, str]) -> Iterator[Context]:
    ctx = Context.open(load_settings(hsm_env))
    try:
        authorities.create_root(ctx, "root", "CN=HSM Root,O=Gov,C=AA", ADMIN, backend="pkcs11")
        yield ctx
    finally:
        ctx.close()


def _pem_chain(cred: credentials.Credential) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in cred.chain)


@pytest.mark.parametrize("spec", [KeySpec.EC_P256, KeySpec.EC_P384, KeySpec.RSA_3072])
def test_hsm_tsa_tokens_verify_with_openssl(
    hsm_ctx: Context, tmp_path: Path, spec: KeySpec
) -> None:
    credentials.create_credential(
        hsm_ctx, "tsa", "root", "tsa", "CN=HSM TSA,O=Gov,C=AA", ADMIN, key=spec, backend="pkcs11"
    )
    cred = credentials.get_credential(hsm_ctx, "tsa")
    assert isinstance(cred.signer, Pkcs11Signer)
    info = cred.signer.key_info()
    assert info.sensitive and not info.extractable
    (tmp_path / "data.txt").write_bytes(DATA)
    (tmp_path / "chain.pem").write_bytes(_pem_chain(cred))

    def openssl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["openssl", *args], capture_output=True, text=True, check=False, cwd=tmp_path
        )

    assert (
        openssl("ts", "-query", "-data", "data.txt", "-sha384", "-cert", "-out", "q.tsq").returncode
        == 0
    )
    svc = TsaService(hsm_ctx)
    (tmp_path / "r.tsr").write_bytes(svc.respond((tmp_path / "q.tsq").read_bytes()))
    for source in (["-queryfile", "q.tsq"], ["-data", "data.txt"]):
        result = openssl("ts", "-verify", *source, "-in", "r.tsr", "-CAfile", "chain.pem")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Verification: OK" in result.stdout


def test_hsm_credential_for_a_seal_signs_in_the_token(hsm_env: dict[str, str]) -> None:
    ctx = Context.open(load_settings(hsm_env))
    try:
        authorities.create_root(ctx, "root", "CN=HSM Root,O=Gov,C=AA", ADMIN, backend="pkcs11")
    finally:
        ctx.close()
    result = CliRunner().invoke(
        app,
        [
            "credential",
            "create",
            "registry-seal",
            "--ca",
            "root",
            "--profile",
            "seal",
            "--subject",
            "CN=Registry,organizationIdentifier=NTRAA-1,O=Registry,C=AA",
            "--backend",
            "pkcs11",
            "--json",
        ],
        env=hsm_env,
    )
    assert result.exit_code == 0, result.output
    assert '"backend": "pkcs11"' in result.stdout
    ctx = Context.open(load_settings(hsm_env))
    try:
        cred = credentials.get_credential(ctx, "registry-seal")
        assert isinstance(cred.signer, Pkcs11Signer)
        key = cred.signer.as_private_key()
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        signature = key.sign(b"a seal", ec.ECDSA(hashes.SHA256()))
        public = cred.certificate.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, b"a seal", ec.ECDSA(hashes.SHA256()))
    finally:
        ctx.close()
