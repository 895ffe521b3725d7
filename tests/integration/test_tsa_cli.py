"""``govtrust tsa stamp``: the RFC 3161 client, against a real HTTP server (``--url``)
and in-process; the reply is written only when it checks out, and openssl verifies it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner, Result

from govtrust.ca.crl import RevocationReason
from govtrust.cli.main import app
from govtrust.services import Actor, Context, audit, credentials, revocation
from tests.conftest import Demo, LiveServer, free_port

pytestmark = pytest.mark.openssl

runner = CliRunner()
DATA = b"Minutes of the council meeting, 22 November 2026\n"


def run(demo: Demo, *args: str) -> Result:
    return runner.invoke(app, list(args), env=demo.env)


def _chain(ctx: Context, path: Path) -> Path:
    cred = credentials.get_credential(ctx, "tsa")
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in cred.chain))
    return path


def _verify(tmp_path: Path, tsr: Path, data: Path, chain: Path, *extra: str) -> None:
    result = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            str(data),
            "-in",
            str(tsr),
            "-CAfile",
            str(chain),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification: OK" in result.stdout


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "minutes.txt"
    path.write_bytes(DATA)
    return path


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_stamp_over_http(
    demo: Demo, live_server: LiveServer, tmp_path: Path, data: Path, hash_name: str
) -> None:
    out = tmp_path / "minutes.tsr"
    result = run(
        demo,
        "tsa",
        "stamp",
        str(data),
        "--out",
        str(out),
        "--url",
        f"{live_server.url}/tsa",
        "--hash",
        hash_name,
        "--json",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["policy"] == live_server.ctx.settings.tsa.policy
    assert summary["serial"] > 0 and "Time-Stamping Authority" in summary["tsa"]
    _verify(tmp_path, out, data, _chain(live_server.ctx, tmp_path / "chain.pem"))


def test_stamp_in_process_without_cert(
    demo: Demo, ctx: Context, tmp_path: Path, data: Path
) -> None:
    out = tmp_path / "minutes.tsr"
    result = run(demo, "tsa", "stamp", str(data), "--out", str(out), "--no-cert-req")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "written to" in result.stdout
    tsa_pem = tmp_path / "tsa.pem"
    tsa_pem.write_bytes(credentials.describe_credential(ctx, "tsa").pem.encode())
    _verify(tmp_path, out, data, _chain(ctx, tmp_path / "chain.pem"), "-untrusted", str(tsa_pem))
    # The in-process stamp went through the same path: it is in the audit trail.
    _, event = audit.list_events(ctx, action="tsa.stamp", limit=1)[0]
    assert event.actor.startswith("cli:")


def test_refused_stamp_writes_nothing(
    demo: Demo, live_server: LiveServer, tmp_path: Path, data: Path
) -> None:
    out = tmp_path / "minutes.tsr"
    serial = credentials.describe_credential(live_server.ctx, "tsa").serial
    revocation.revoke(
        live_server.ctx, serial, RevocationReason.key_compromise, Actor("test", "admin")
    )
    result = run(demo, "tsa", "stamp", str(data), "--out", str(out))  # in-process: fresh
    assert result.exit_code == 1
    assert "systemFailure" in result.stderr and "revoked" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("{url}/ocsp", "not application/timestamp-reply"),
        ("{url}/nothing-here", "HTTP 404"),
        ("http://127.0.0.1:{port}/tsa", "cannot reach the TSA"),
        ("ftp://127.0.0.1/tsa", "must be http(s)"),
    ],
)
def test_not_a_tsa(
    demo: Demo, live_server: LiveServer, tmp_path: Path, data: Path, url: str, message: str
) -> None:
    out = tmp_path / "minutes.tsr"
    target = url.format(url=live_server.url, port=free_port())
    result = run(demo, "tsa", "stamp", str(data), "--out", str(out), "--url", target)
    assert result.exit_code == 1, result.stdout
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert not out.exists()


def test_weak_hash_is_refused_before_asking(demo: Demo, tmp_path: Path, data: Path) -> None:
    result = run(
        demo, "tsa", "stamp", str(data), "--out", str(tmp_path / "x.tsr"), "--hash", "sha1"
    )
    assert result.exit_code == 1 and "--hash must be one of" in result.stderr


def test_missing_file(demo: Demo, tmp_path: Path) -> None:
    result = run(demo, "tsa", "stamp", str(tmp_path / "nope"), "--out", str(tmp_path / "x"))
    assert result.exit_code == 1 and "cannot read" in result.stderr
