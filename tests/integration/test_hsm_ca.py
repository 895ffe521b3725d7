"""A CA whose keys live in SoftHSM2 (non-extractable) issues certificates, CRLs and
OCSP responses that openssl verifies."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from typer.testing import CliRunner

from govtrust.ca import CertificateRequest, RevocationReason, parse_subject
from govtrust.cli.main import app
from govtrust.config import load_settings
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.pkcs11 import Pkcs11Signer
from govtrust.services import Actor, Context, authorities, certificates, revocation

pytestmark = [pytest.mark.softhsm, pytest.mark.openssl]
ADMIN = Actor("test:admin", "admin")


@pytest.fixture
def hsm_ctx(hsm_env: dict[str, str]) -> Iterator[Context]:
    ctx = Context.open(load_settings(hsm_env))
    try:
        yield ctx
    finally:
        ctx.close()


def _pem(path: Path, der: bytes) -> Path:
    path.write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
    return path


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("spec", [KeySpec.EC_P256, KeySpec.RSA_3072])
def test_hsm_ca_issues_crls_and_ocsp_that_openssl_verifies(
    hsm_ctx: Context, tmp_path: Path, spec: KeySpec
) -> None:
    root = authorities.create_root(
        hsm_ctx, "hsm-root", "CN=HSM Root,O=Gov,C=AA", ADMIN, key=spec, backend="pkcs11"
    )
    issuing = authorities.create_intermediate(
        hsm_ctx,
        "hsm-issuing",
        "hsm-root",
        "CN=HSM Issuing,O=Gov,C=AA",
        ADMIN,
        key=KeySpec.EC_P256,
        backend="pkcs11",
    )
    assert root.backend == issuing.backend == "pkcs11"
    # The CA keys are in the token and cannot leave it.
    with hsm_ctx.db.read() as session:
        row = authorities.load_ca_row(session, "hsm-issuing")
    signer = authorities.signer_for(hsm_ctx, row)
    assert isinstance(signer, Pkcs11Signer)
    info = signer.key_info()
    assert info.sensitive and not info.extractable

    key = ec.generate_private_key(ec.SECP256R1())
    leaf = certificates.issue(
        hsm_ctx,
        "hsm-issuing",
        "device",
        CertificateRequest(parse_subject("CN=meter-1"), key.public_key()),
        ADMIN,
    )
    gone = certificates.issue(
        hsm_ctx,
        "hsm-issuing",
        "device",
        CertificateRequest(parse_subject("CN=meter-2"), key.public_key()),
        ADMIN,
    )
    revocation.revoke(hsm_ctx, gone.serial, RevocationReason.key_compromise, ADMIN)

    root_pem = _pem(tmp_path / "root.pem", root.cert_der)
    issuing_pem = _pem(tmp_path / "issuing.pem", issuing.cert_der)
    leaf_pem = _pem(tmp_path / "leaf.pem", leaf.der)
    gone_pem = _pem(tmp_path / "gone.pem", gone.der)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(root_pem.read_bytes() + issuing_pem.read_bytes())

    result = _openssl(
        "verify", "-CAfile", str(root_pem), "-untrusted", str(issuing_pem), str(leaf_pem)
    )
    assert result.returncode == 0, result.stderr

    crl = revocation.get_crl(hsm_ctx, "hsm-issuing")
    assert crl is not None
    crl_der = tmp_path / "crl.der"
    crl_der.write_bytes(crl.der)
    result = _openssl(
        "crl", "-inform", "DER", "-in", str(crl_der), "-CAfile", str(issuing_pem), "-noout"
    )
    assert "verify OK" in result.stdout + result.stderr, result.stderr
    crl_pem = tmp_path / "crl.pem"
    _openssl("crl", "-inform", "DER", "-in", str(crl_der), "-out", str(crl_pem))
    result = _openssl(
        "verify", "-crl_check", "-CAfile", str(chain), "-CRLfile", str(crl_pem), str(gone_pem)
    )
    assert result.returncode != 0 and "revoked" in result.stdout + result.stderr

    svc = revocation.OcspService(hsm_ctx)
    for cert_pem, expected in ((leaf_pem, "good"), (gone_pem, "revoked")):
        req = tmp_path / "req.der"
        result = _openssl(
            "ocsp",
            "-issuer",
            str(issuing_pem),
            "-cert",
            str(cert_pem),
            "-no_nonce",
            "-reqout",
            str(req),
        )
        assert result.returncode == 0, result.stderr
        answer = svc.respond(req.read_bytes())
        parsed = ocsp.load_der_ocsp_response(answer.der)
        assert parsed.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        resp = tmp_path / "resp.der"
        resp.write_bytes(answer.der)
        result = _openssl(
            "ocsp",
            "-respin",
            str(resp),
            "-CAfile",
            str(chain),
            "-issuer",
            str(issuing_pem),
            "-cert",
            str(cert_pem),
        )
        assert "Response verify OK" in result.stdout + result.stderr, result.stderr
        assert f": {expected}" in result.stdout


def test_cli_creates_hsm_root(hsm_env: dict[str, str]) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "ca",
            "create-root",
            "cli-hsm",
            "--subject",
            "CN=CLI HSM Root,C=AA",
            "--key",
            "ec-p384",
            "--backend",
            "pkcs11",
            "--json",
        ],
        env=hsm_env,
    )
    assert result.exit_code == 0, result.output
    assert '"backend": "pkcs11"' in result.stdout
    wrong = {**hsm_env, "GOVTRUST_PKCS11_PIN": "000000"}
    result = runner.invoke(
        app,
        ["ca", "create-root", "cli-hsm-2", "--subject", "CN=X,C=AA", "--backend", "pkcs11"],
        env=wrong,
    )
    assert result.exit_code == 1
    assert "000000" not in result.output and hsm_env["GOVTRUST_PKCS11_PIN"] not in result.output
