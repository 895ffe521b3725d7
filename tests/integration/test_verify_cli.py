"""``govtrust verify`` from the command line, run as the real command against a demo
instance: the exit status is 0 only for TOTAL-PASSED, 1 for TOTAL-FAILED, 2 for
INDETERMINATE, 3 for usage and input errors (Click's own 2 would read as
INDETERMINATE), and the policy options reach the report."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner, Result

from govtrust.ca.crl import RevocationReason
from govtrust.cli.main import app
from govtrust.services import Actor, Context, credentials, revocation
from govtrust.services.signing import Level, SigningOptions, sign_document
from tests.conftest import Demo

pytestmark = pytest.mark.openssl

runner = CliRunner()
ADMIN = Actor("test:admin", "admin")
DATA = b"Decree 2026/17: the budget is adopted.\n"


def run(demo: Demo, *args: str) -> Result:
    return runner.invoke(app, ["verify", *args], env=demo.env)


@contextmanager
def opened(demo: Demo) -> Iterator[Context]:
    ctx = demo.open()
    try:
        yield ctx
    finally:
        ctx.close()


def signed_files(
    demo: Demo,
    directory: Path,
    *,
    level: Level = Level.B_T,
    credential: str = "ministry-of-finance",
) -> tuple[Path, Path]:
    """``decree.txt`` and its detached CAdES signature, made by govtrust's signing service."""
    data = directory / "decree.txt"
    data.write_bytes(DATA)
    with opened(demo) as ctx:
        result = sign_document(
            ctx, DATA, "decree.txt", credential, ADMIN, SigningOptions(level=level)
        )
    signature = directory / "decree.txt.p7s"
    signature.write_bytes(result.document.data)
    return data, signature


@dataclass(frozen=True)
class ForeignPki:
    root: Path
    signature: Path
    data: Path


def foreign_pki(directory: Path) -> ForeignPki:
    """A CA govtrust does not know, and a CAdES signature (``openssl cms -sign -cades``)
    of DATA by a certificate it issued (no CRL or OCSP URL in either)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    root_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Foreign Root CA")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Foreign Signer")]))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    paths = {name: directory / name for name in ("root.pem", "leaf.pem", "leaf.key", "data.txt")}
    paths["root.pem"].write_bytes(root.public_bytes(serialization.Encoding.PEM))
    paths["leaf.pem"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths["leaf.key"].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths["data.txt"].write_bytes(DATA)
    signature = directory / "data.txt.p7s"
    subprocess.run(
        ["openssl", "cms", "-sign", "-cades", "-binary", "-md", "sha256", "-outform", "DER",
         "-in", str(paths["data.txt"]), "-signer", str(paths["leaf.pem"]),
         "-inkey", str(paths["leaf.key"]), "-out", str(signature)],
        check=True, capture_output=True,
    )  # fmt: skip
    return ForeignPki(paths["root.pem"], signature, paths["data.txt"])


# ---- exit codes ---------------------------------------------------------------------------


def test_exit_0_for_total_passed(demo: Demo, tmp_path: Path) -> None:
    data, signature = signed_files(demo, tmp_path)
    result = run(demo, str(data), "--detached", str(signature))
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())  # Rich wraps lines at the terminal's width
    assert text.startswith("TOTAL-PASSED") and "signer: Ministry of Finance" in text
    assert "level: CAdES-BASELINE-T" in text
    assert "by AA Government Time-Stamping Authority: TOTAL-PASSED" in text  # the time-stamp


def test_exit_1_for_total_failed(demo: Demo, tmp_path: Path) -> None:
    data, signature = signed_files(demo, tmp_path)
    data.write_bytes(DATA.replace(b"adopted", b"rejected"))
    result = run(demo, str(data), "--detached", str(signature), "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["indication"], report["subIndication"]) == ("TOTAL-FAILED", "HASH_FAILURE")


def test_exit_2_for_an_unknown_ca_and_0_with_its_trust_anchor(demo: Demo, tmp_path: Path) -> None:
    foreign = foreign_pki(tmp_path / "foreign")
    result = run(demo, str(foreign.data), "--detached", str(foreign.signature), "--json")
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert report["indication"] == "INDETERMINATE"
    assert report["subIndication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    result = run(
        demo, str(foreign.data), "--detached", str(foreign.signature),
        "--trust-anchor", str(foreign.root), "--revocation", "if-available", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["indication"] == "TOTAL-PASSED"
    anchors = [a["subject"] for a in report["policy"]["trustAnchors"]]
    assert "CN=Foreign Root CA" in anchors
    assert report["signatures"][0]["signer"] == "CN=Foreign Signer"


def test_exit_3_for_usage_and_input_errors(demo: Demo, tmp_path: Path) -> None:
    data, signature = signed_files(demo, tmp_path, level=Level.B_B)
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    garbage = tmp_path / "notes.txt"
    garbage.write_text("just some text, no signature\n")
    cases = [
        ([str(tmp_path / "missing.pdf")], "does not exist"),
        ([str(data), "--no-such-option"], "No such option"),
        ([], "Missing argument"),
        ([str(data), "--detached", str(tmp_path / "missing.p7s")], "does not exist"),
        ([str(data), "--detached", str(signature), "--trust-anchor", str(not_pem)], "PEM"),
        ([str(data), "--detached", str(signature), "--at", "yesterday"], "ISO 8601"),
        ([str(data), "--detached", str(signature), "--revocation", "maybe"], "revocation"),
        ([str(data), "--detached", str(signature), "--report", "r.txt"], ".json, .html or .pdf"),
        ([str(garbage)], "not a signed document"),
    ]
    for args, message in cases:
        result = run(demo, *args)
        assert result.exit_code == 3, (args, result.output)
        assert message in result.output, (args, result.output)


def test_usage_errors_exit_3_from_the_installed_command(demo: Demo, tmp_path: Path) -> None:
    """The same through the console script, as a shell script would run it."""
    import os
    import sys

    script = Path(sys.executable).with_name("govtrust")
    env = {**os.environ, **demo.env}
    for args in (["--bogus"], [str(tmp_path / "missing.pdf")]):
        proc = subprocess.run(
            [str(script), "verify", *args], env=env, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 3, proc.stderr


# ---- policy options -----------------------------------------------------------------------


def test_revocation_off_is_recorded_in_the_policy(demo: Demo, tmp_path: Path) -> None:
    data, signature = signed_files(demo, tmp_path, level=Level.B_B)
    result = run(demo, str(data), "--detached", str(signature), "--revocation", "off", "--json")
    assert result.exit_code == 0, result.output
    policy = json.loads(result.stdout)["policy"]
    assert policy["revocation"] == "off" and "revocation" in policy["disabledChecks"]
    result = run(demo, str(data), "--detached", str(signature), "--json")
    assert json.loads(result.stdout)["policy"]["revocation"] == "require"


def test_at_a_past_time(demo: Demo, tmp_path: Path) -> None:
    """A B-B signature (no proof of existence) whose signer is revoked afterwards: now it
    does not pass; validated at a time before the revocation, it does."""
    data, signature = signed_files(demo, tmp_path, level=Level.B_B, credential="omar-khalil")
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(1.2)  # X.509 times are whole seconds: revoke strictly after `before`
    with opened(demo) as ctx:
        serial = credentials.describe_credential(ctx, "omar-khalil").serial
        revocation.revoke(ctx, serial, RevocationReason.parse("key-compromise"), ADMIN)
    now = run(demo, str(data), "--detached", str(signature), "--json")
    assert now.exit_code == 2, now.output
    assert json.loads(now.stdout)["subIndication"] == "REVOKED_NO_POE"
    at = before.isoformat().replace("+00:00", "Z")
    past = run(
        demo, str(data), "--detached", str(signature), "--at", at, "--revocation", "off", "--json"
    )
    assert past.exit_code == 0, past.output
    report = json.loads(past.stdout)
    assert dt.datetime.fromisoformat(report["validationTime"]) == before
    assert dt.datetime.fromisoformat(report["policy"]["validationTime"]) == before
    # With revocation required: today's OCSP answer (issued after --at) counts, and it
    # dates the revocation after --at, so the signer was not revoked then.
    required = run(demo, str(data), "--detached", str(signature), "--at", at, "--json")
    assert required.exit_code == 0, required.output
    assert json.loads(required.stdout)["policy"]["revocation"] == "require"
