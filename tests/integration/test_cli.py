"""The ``govtrust`` command line, driven through Typer's CliRunner against a demo home.

Errors are one line on stderr starting with ``error:`` and exit status 1; usage errors
exit 2 (Click's convention).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner, Result

from govtrust.cli.main import app
from govtrust.config import load_settings
from govtrust.errors import Unauthenticated
from govtrust.services import Context, authorities, certificates
from govtrust.services.tokens import authenticate
from tests.conftest import Demo, make_env

runner = CliRunner()


def run(demo: Demo | dict[str, str], *args: str, **extra_env: str) -> Result:
    # Duck-typed: pytest's conftest module and ``tests.conftest`` are distinct imports.
    env: dict[str, str] = demo if isinstance(demo, dict) else demo.env
    return runner.invoke(app, list(args), env={**env, **extra_env})


def ok(demo: Demo | dict[str, str], *args: str, **extra_env: str) -> Result:
    result = run(demo, *args, **extra_env)
    assert result.exit_code == 0, (
        f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\n"
        f"{result.exception!r}"
    )
    return result


def ok_json(demo: Demo | dict[str, str], *args: str, **extra_env: str) -> Any:
    return json.loads(ok(demo, *args, "--json", **extra_env).stdout)


def fails(demo: Demo | dict[str, str], *args: str, **extra_env: str) -> str:
    """Run a command that must be refused; return its one-line error message."""
    result = run(demo, *args, **extra_env)
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"uncaught {result.exception!r}"
    message = result.stderr
    assert message.startswith("error: "), message
    assert message.endswith("\n") and message.count("\n") == 1, f"not one line: {message!r}"
    assert "Traceback" not in result.output
    return message.strip()


def _csr_file(tmp_path: Path, cn: str, *dns: str) -> tuple[Path, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    if dns:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False
        )
    path = tmp_path / f"{cn}.csr"
    path.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return path, key


def _colon(serial: str) -> str:
    text = serial.upper()
    text = "0" * (len(text) % 2) + text
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def _issue_tls(demo: Demo, tmp_path: Path, host: str) -> dict[str, Any]:
    csr, _ = _csr_file(tmp_path, host, host)
    data: dict[str, Any] = ok_json(
        demo, "cert", "issue", "--ca", "tls", "--profile", "tls-server", "--csr", str(csr)
    )
    return data


# ---- CAs ---------------------------------------------------------------------------------


def test_ca_list_json(demo: Demo) -> None:
    cas = ok_json(demo, "ca", "list")
    assert [c["name"] for c in cas] == ["root", "people", "tls"]
    assert cas[1]["parent"] == "root" and cas[0]["parent"] is None
    assert all(c["pem"].startswith("-----BEGIN CERTIFICATE-----") for c in cas)


def test_ca_list_table(demo: Demo) -> None:
    out = ok(demo, "ca", "list").stdout
    for name in ("root", "people", "tls"):
        assert name in out


def test_ca_show_root(demo: Demo) -> None:
    out = ok(demo, "ca", "show", "root").stdout
    assert "name: root" in out
    assert "subject: CN=AA Government Root CA,O=Government of AA,C=AA" in out
    assert "certificate_url: http://pki.govtrust.org/ca/root.crt" in out
    pem = ok(demo, "ca", "show", "root", "--pem").stdout
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.subject == cert.issuer


def test_ca_create_root_and_intermediate(demo: Demo) -> None:
    root = ok_json(
        demo,
        "ca",
        "create-root",
        "national",
        "--subject",
        "CN=National Root CA,O=Government,C=AA",
        "--key",
        "ec-p256",
    )
    assert root["name"] == "national" and root["key"] == "ec-p256" and root["parent"] is None
    sub = ok_json(
        demo,
        "ca",
        "create-intermediate",
        "agencies",
        "--parent",
        "root",
        "--subject",
        "CN=Agencies CA,O=Government of AA,C=AA",
    )
    assert sub["parent"] == "root" and sub["key"] == "ec-p256"
    names = [c["name"] for c in ok_json(demo, "ca", "list")]
    assert names == ["root", "people", "tls", "national", "agencies"]
    sub_cert = x509.load_pem_x509_certificate(sub["pem"].encode())
    root_cert = x509.load_pem_x509_certificate(
        ok(demo, "ca", "show", "root", "--pem").stdout.encode()
    )
    sub_cert.verify_directly_issued_by(root_cert)
    # Table output (no --json) works too.
    assert (
        "name: other"
        in ok(
            demo, "ca", "create-root", "other", "--subject", "CN=Other,C=AA", "--key", "ec-p256"
        ).stdout
    )


# ---- certificates ------------------------------------------------------------------------


def test_cert_issue_from_csr(demo: Demo, tmp_path: Path) -> None:
    csr, key = _csr_file(tmp_path, "portal2.gov.aa", "portal2.gov.aa")
    out = tmp_path / "portal2.pem"
    result = ok(
        demo,
        "cert",
        "issue",
        "--ca",
        "tls",
        "--profile",
        "tls-server",
        "--csr",
        str(csr),
        "--out",
        str(out),
    )
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["portal2.gov.aa"]
    serial = format(cert.serial_number, "x")
    assert f"serial: {serial}" in result.stdout
    issuer = x509.load_pem_x509_certificate(ok(demo, "ca", "show", "tls", "--pem").stdout.encode())
    cert.verify_directly_issued_by(issuer)


def test_cert_issue_with_generated_key_into_pkcs12(demo: Demo, tmp_path: Path) -> None:
    p12 = tmp_path / "seal.p12"
    passphrase = "correct horse battery staple"
    info = ok_json(
        demo,
        "cert",
        "issue",
        "--ca",
        "people",
        "--profile",
        "seal",
        "--subject",
        "CN=Tax Agency,organizationIdentifier=NTRAA-100003,O=Tax Agency,C=AA",
        "--generate-key",
        "--p12-out",
        str(p12),
        GOVTRUST_P12_PASSPHRASE=passphrase,
    )
    assert stat.S_IMODE(p12.stat().st_mode) == 0o600
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(p12.read_bytes(), b"wrong")
    key, cert, extra = pkcs12.load_key_and_certificates(p12.read_bytes(), passphrase.encode())
    assert key is not None and cert is not None
    assert key.public_key() == cert.public_key()
    assert format(cert.serial_number, "x") == info["serial"]
    assert info["subject"] == "CN=Tax Agency,organizationIdentifier=NTRAA-100003,O=Tax Agency,C=AA"
    # The chain: the issuing CA, then the root.
    chain = [c.subject.rfc4514_string() for c in extra]
    assert chain == [
        "CN=AA Government People and Organisations CA,O=Government of AA,C=AA",
        "CN=AA Government Root CA,O=Government of AA,C=AA",
    ]
    # The private key never reaches stdout.
    assert "PRIVATE KEY" not in json.dumps(info)


def test_generate_key_needs_a_passphrase(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOVTRUST_P12_PASSPHRASE", raising=False)
    message = fails(
        demo,
        "cert",
        "issue",
        "--ca",
        "people",
        "--profile",
        "seal",
        "--subject",
        "CN=Tax Agency,organizationIdentifier=NTRAA-100003,O=Tax Agency,C=AA",
        "--generate-key",
        "--p12-out",
        str(tmp_path / "x.p12"),
    )
    assert "passphrase" in message
    assert not (tmp_path / "x.p12").exists()


def test_p12_destination_is_checked_before_issuing(demo: Demo, tmp_path: Path) -> None:
    seal = ("CN=Tax Agency,organizationIdentifier=NTRAA-100003,O=Tax Agency,C=AA",)
    args = ("cert", "issue", "--ca", "people", "--profile", "seal", "--subject", *seal)
    out = tmp_path / "out"
    out.mkdir()
    before = len(ok_json(demo, "cert", "list", "--profile", "seal"))
    for target in (out / "missing-dir" / "x.p12", out):
        message = fails(
            demo, *args, "--generate-key", "--p12-out", str(target), GOVTRUST_P12_PASSPHRASE="pw"
        )
        assert message.startswith(f"error: cannot write {target}")
    fails(
        demo,
        *args[:3],
        "nope",
        *args[4:],
        "--generate-key",
        "--p12-out",
        str(out / "y.p12"),
        GOVTRUST_P12_PASSPHRASE="pw",
    )
    # No certificate was issued for a key that had nowhere to go, and no file was left.
    assert len(ok_json(demo, "cert", "list", "--profile", "seal")) == before
    assert list(out.iterdir()) == []
    # An existing, readable file is replaced by a private one.
    existing = out / "existing.p12"
    existing.write_bytes(b"old")
    existing.chmod(0o644)
    ok(demo, *args, "--generate-key", "--p12-out", str(existing), GOVTRUST_P12_PASSPHRASE="pw")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    key, cert, _ = pkcs12.load_key_and_certificates(existing.read_bytes(), b"pw")
    assert key is not None and cert is not None and key.public_key() == cert.public_key()


def test_cert_show_by_colon_serial(demo: Demo) -> None:
    serial = demo.report.certificates[4]  # the portal's TLS certificate
    shown = ok_json(demo, "cert", "show", _colon(serial))
    assert shown["serial"] == serial and shown["profile"] == "tls-server"
    assert shown["pem"].startswith("-----BEGIN CERTIFICATE-----")
    text = ok(demo, "cert", "show", _colon(serial).lower()).stdout
    assert f"serial: {serial}" in text and "status: valid" in text
    pem = ok(demo, "cert", "show", serial, "--pem").stdout
    assert format(x509.load_pem_x509_certificate(pem.encode()).serial_number, "x") == serial


def test_cert_revoke_list_and_revoke_again(demo: Demo) -> None:
    serial = demo.report.certificates[5]  # the device
    assert ok_json(demo, "cert", "list", "--status", "revoked") == []
    revoked = ok_json(
        demo,
        "cert",
        "revoke",
        _colon(serial),
        "--reason",
        "key-compromise",
        "--invalidity-date",
        "2026-01-01T00:00:00Z",
    )
    assert revoked["status"] == "revoked"
    assert revoked["revocation_reason"] == "key-compromise"
    assert revoked["invalidity_date"] == "2026-01-01T00:00:00+00:00"
    listed = ok_json(demo, "cert", "list", "--status", "revoked")
    assert [c["serial"] for c in listed] == [serial]
    valid = ok_json(demo, "cert", "list", "--status", "valid", "--limit", "1000")
    assert serial not in {c["serial"] for c in valid}
    assert {c["ca"] for c in ok_json(demo, "cert", "list", "--ca", "people")} == {"people"}
    assert "revoked" in ok(demo, "cert", "list", "--status", "revoked").stdout

    message = fails(demo, "cert", "revoke", serial, "--reason", "superseded")
    assert "already revoked" in message and serial in message


def test_cert_revoke_table_output(demo: Demo) -> None:
    serial = demo.report.certificates[4]
    out = ok(demo, "cert", "revoke", serial, "--reason", "superseded").stdout
    assert f"Revoked {serial} (superseded)" in out


def test_cert_renew(demo: Demo, tmp_path: Path) -> None:
    old = _issue_tls(demo, tmp_path, "renew.gov.aa")
    out = tmp_path / "renewed.pem"
    new = ok_json(demo, "cert", "renew", _colon(old["serial"]), "--out", str(out))
    assert new["renewed_from"] == old["serial"] and new["serial"] != old["serial"]
    assert new["sans"] == old["sans"] == ["dns:renew.gov.aa"]
    renewed = x509.load_pem_x509_certificate(out.read_bytes())
    previous = x509.load_pem_x509_certificate(old["pem"].encode())
    assert renewed.public_key() == previous.public_key()
    assert format(renewed.serial_number, "x") == new["serial"]


# ---- CRL and OCSP ------------------------------------------------------------------------


def test_crl_generate(demo: Demo, tmp_path: Path) -> None:
    revoked = _issue_tls(demo, tmp_path, "old.gov.aa")
    ok(demo, "cert", "revoke", revoked["serial"], "--reason", "superseded")
    out = tmp_path / "tls.crl"
    info = ok_json(demo, "crl", "generate", "--ca", "tls", "--out", str(out))
    crl = x509.load_der_x509_crl(out.read_bytes())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == info["number"]
    assert info["ca"] == "tls" and info["entries"] == 1 and len(crl) == 1
    assert crl.get_revoked_certificate_by_serial_number(int(revoked["serial"], 16)) is not None
    issuer = x509.load_pem_x509_certificate(ok(demo, "ca", "show", "tls", "--pem").stdout.encode())
    assert crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    assert crl.issuer == issuer.subject
    text = ok(demo, "crl", "generate", "--ca", "tls").stdout
    assert f"CRL #{info['number'] + 1} for tls" in text


def test_ocsp_refresh(demo: Demo) -> None:
    report = ok_json(demo, "ocsp", "refresh")
    assert set(report) == {"signed", "responders_renewed", "crls_regenerated", "failed"}
    assert isinstance(report["signed"], int)
    assert ok_json(demo, "ocsp", "refresh")["signed"] == 0
    assert "Signed 0 OCSP responses" in ok(demo, "ocsp", "refresh").stdout


# ---- tokens, audit, profiles -------------------------------------------------------------


def test_tokens_create_list_revoke(demo: Demo, ctx: Context) -> None:
    created = ok(demo, "token", "create", "ci", "--role", "operator", "--profile", "tls-server")
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("gt_")
    actor = authenticate(ctx, secret)
    assert actor.role == "operator" and actor.profiles == frozenset({"tls-server"})

    listed = ok(demo, "token", "list", "--json")
    assert secret not in listed.stdout
    tokens = {t["name"]: t for t in json.loads(listed.stdout)}
    assert tokens["ci"]["role"] == "operator" and tokens["ci"]["profiles"] == ["tls-server"]
    assert tokens["ci"]["revoked_at"] is None
    assert secret not in ok(demo, "token", "list").stdout

    assert "Token ci revoked." in ok(demo, "token", "revoke", "ci").stdout
    assert json.loads(ok(demo, "token", "list", "--json").stdout)[-1]["revoked_at"] is not None
    with pytest.raises(Unauthenticated):
        authenticate(ctx, secret)

    assert "already exists" in fails(demo, "token", "create", "ci", "--role", "auditor")
    assert "unknown role" in fails(demo, "token", "create", "x", "--role", "root")
    assert "unknown token" in fails(demo, "token", "revoke", "nobody")


def test_audit_list_json(demo: Demo, tmp_path: Path) -> None:
    cert = _issue_tls(demo, tmp_path, "audited.gov.aa")
    events = ok_json(demo, "audit", "list", "--limit", "500")
    kinds = {e["type"] for e in events}
    assert {"ca.create", "cert.issue", "crl.generate", "token.create"} <= kinds
    newest = events[0]
    assert newest["type"] == "cert.issue" and newest["object"]["id"] == cert["serial"]
    assert newest["actor"].startswith("cli:")
    only = ok_json(demo, "audit", "list", "--action", "ca.create")
    assert len(only) == 3 and {e["type"] for e in only} == {"ca.create"}
    assert "ca.create" in ok(demo, "audit", "list", "--limit", "5", "--action", "ca.create").stdout


def test_profile_list_json(demo: Demo) -> None:
    profiles = {p["name"]: p for p in ok_json(demo, "profile", "list")}
    assert {"tls-server", "official", "seal", "device", "ocsp-signer"} <= set(profiles)
    assert "server_auth" in profiles["tls-server"]["extended_key_usage"]
    assert "tls-server" in ok(demo, "profile", "list").stdout


# ---- init --------------------------------------------------------------------------------


def test_init_refuses_an_initialised_home(demo: Demo) -> None:
    before = (demo.home / "govtrust.toml").read_bytes()
    message = fails(demo, "init")
    assert "already initialised" in message
    assert "already initialised" in fails(demo, "init", "--demo")
    assert (demo.home / "govtrust.toml").read_bytes() == before


def test_init_demo_in_a_fresh_home(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "fresh"
    env = make_env(home, db_url)
    passphrase = env["GOVTRUST_KEY_PASSPHRASE"]
    result = ok(env, "init", "--demo")
    assert "CAs: root, people, tls" in result.stdout
    assert passphrase not in result.output

    assert (home / "govtrust.toml").is_file()
    if db_url.startswith("sqlite"):
        assert (tmp_path / "govtrust.db").is_file()
    keys = sorted((home / "keys").iterdir())
    assert len(keys) >= 3 + 3 + 6  # CA keys, OCSP responders, demo credentials
    for path in keys:
        data = path.read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED " + b"PRIVATE KEY-----"), path
        assert passphrase.encode() not in data
    token_file = home / "secrets" / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # The passphrase came from the environment: it is not written anywhere.
    assert not (home / "secrets" / "key-passphrase").exists()
    for path in home.rglob("*"):
        if path.is_file() and path.suffix != ".db":
            assert passphrase.encode() not in path.read_bytes(), path

    # The database holds the demo PKI, usable by the next command.
    context = Context.open(load_settings(env))
    try:
        assert [c.name for c in authorities.list_cas(context)] == ["root", "people", "tls"]
        assert len(certificates.list_certificates(context, profile="device")) == 1
        authenticate(context, token_file.read_text().strip())
    finally:
        context.close()
    assert [c["name"] for c in ok_json(env, "ca", "list")] == ["root", "people", "tls"]


def test_init_without_demo_prints_the_token_once(tmp_path: Path, db_url: str) -> None:
    env = make_env(tmp_path / "plain", db_url)
    out = ok(env, "init").stdout
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("gt_")
    assert ok_json(env, "ca", "list") == []
    fresh = make_env(tmp_path / "other", db_url)
    assert "two-letter" in fails(fresh, "init", "--country", "bad")
    assert not (tmp_path / "other" / "govtrust.toml").exists()


def test_commands_need_an_initialised_home(tmp_path: Path) -> None:
    env = make_env(tmp_path / "nothing", f"sqlite:///{tmp_path / 'x.db'}")
    assert "govtrust init" in fails(env, "ca", "list")


# ---- errors --------------------------------------------------------------------------------


def test_bad_subject(demo: Demo) -> None:
    message = fails(demo, "ca", "create-root", "bad", "--subject", "not a subject")
    assert "subject" in message.lower()
    assert "bad" not in {c["name"] for c in ok_json(demo, "ca", "list")}
    fails(demo, "ca", "create-root", "bad", "--subject", "CN=X,C=AAA")


def test_unknown_ca(demo: Demo, tmp_path: Path) -> None:
    csr, _ = _csr_file(tmp_path, "x.gov.aa", "x.gov.aa")
    message = fails(
        demo, "cert", "issue", "--ca", "nope", "--profile", "tls-server", "--csr", str(csr)
    )
    assert message == "error: unknown CA: nope"
    assert fails(demo, "ca", "show", "nope") == "error: unknown CA: nope"
    assert fails(demo, "crl", "generate", "--ca", "nope") == "error: unknown CA: nope"
    fails(demo, "ca", "create-intermediate", "x", "--parent", "nope", "--subject", "CN=X,C=AA")


def test_garbage_csr(demo: Demo, tmp_path: Path) -> None:
    for name, data in (
        ("text.csr", b"hello, I am not a certificate request\n"),
        ("empty.csr", b""),
        (
            "pem.csr",
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        ),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        message = fails(
            demo, "cert", "issue", "--ca", "tls", "--profile", "tls-server", "--csr", str(path)
        )
        assert "request" in message, message
    missing = fails(
        demo,
        "cert",
        "issue",
        "--ca",
        "tls",
        "--profile",
        "tls-server",
        "--csr",
        str(tmp_path / "missing.csr"),
    )
    assert "cannot read" in missing


def test_other_refusals_are_one_line(demo: Demo, tmp_path: Path) -> None:
    fails(demo, "cert", "show", "not-hex")
    fails(demo, "cert", "show", "DE:AD:BE:EF")
    fails(demo, "cert", "revoke", "DE:AD", "--reason", "boredom")
    fails(
        demo,
        "cert",
        "revoke",
        demo.report.certificates[4],
        "--reason",
        "superseded",
        "--invalidity-date",
        "yesterday",
    )
    fails(demo, "cert", "list", "--status", "lost")
    fails(demo, "ca", "create-root", "root", "--subject", "CN=Again,C=AA")
    fails(demo, "ca", "create-root", "x", "--subject", "CN=X,C=AA", "--key", "dsa-1024")
    fails(demo, "cert", "issue", "--ca", "tls", "--profile", "tls-server")  # no CSR, no key
    csr, _ = _csr_file(tmp_path, "nosan.gov.aa")
    assert "tls-server" in fails(
        demo, "cert", "issue", "--ca", "tls", "--profile", "tls-server", "--csr", str(csr)
    )


def test_usage_errors_exit_2(demo: Demo) -> None:
    for args in (
        ("cert", "revoke", "01"),  # --reason is required
        ("cert", "list", "--bogus"),
        ("ca", "create-root", "x"),  # --subject is required
        ("no-such-command",),
        ("cert", "list", "--limit", "many"),
    ):
        result = run(demo, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "Usage" in result.stderr or "Usage" in result.output


def test_help(demo: Demo) -> None:
    out = ok(demo, "--help").stdout
    for command in ("init", "serve", "ca", "cert", "crl", "ocsp", "token", "audit", "profile"):
        assert command in out


def test_console_script_entry_point(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "govtrust"
    found = str(script) if script.exists() else shutil.which("govtrust")
    assert found, "the govtrust console script is not installed"
    env = {**os.environ, "GOVTRUST_HOME": str(tmp_path / "none")}
    help_run = subprocess.run(
        [found, "--help"], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert help_run.returncode == 0, help_run.stderr
    assert "Usage" in help_run.stdout and "cert" in help_run.stdout
    # Errors through the real entry point: one line on stderr, exit 1.
    refused = subprocess.run(
        [found, "ca", "list"], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1
