"""``govtrust serve --workers 2`` as deployed: migrations run once in the parent, the
workers start without them, and a revocation made by another process is answered by
every worker from the next request on (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from tests.conftest import Demo, free_port

CLI = Path(sys.executable).parent / "govtrust"


def _env(demo: Demo) -> dict[str, str]:
    return {**os.environ, **demo.env}


def _cli(demo: Demo, *args: str) -> str:
    done = subprocess.run(
        [str(CLI), *args], env=_env(demo), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def serving(demo: Demo, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CLI), "serve", "--port", str(port), "--workers", "2"],
            env=_env(demo),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while log.read_text().count("Application startup complete") < 2:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield url, log
    finally:
        proc.terminate()  # uvicorn's supervisor stops its workers on SIGTERM
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _request(demo: Demo, serial: str) -> bytes:
    leaf = x509.load_pem_x509_certificate(_cli(demo, "cert", "show", serial, "--pem").encode())
    issuer = x509.load_pem_x509_certificate(_cli(demo, "ca", "show", "tls", "--pem").encode())
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    return request.public_bytes(serialization.Encoding.DER)


def _statuses(url: str, der: bytes, n: int) -> set[ocsp.OCSPCertStatus]:
    """``n`` GETs and ``n`` POSTs, each on a new connection, so both workers answer."""
    seen = set()
    path = f"{url}/ocsp/{base64.b64encode(der).decode()}"
    for _ in range(n):
        for response in (
            httpx.get(path, timeout=30),
            httpx.post(
                f"{url}/ocsp",
                content=der,
                headers={"Content-Type": "application/ocsp-request"},
                timeout=30,
            ),
        ):
            assert response.status_code == 200
            seen.add(ocsp.load_der_ocsp_response(response.content).certificate_status)
    return seen


def test_serve_answers_a_revocation_from_every_worker_at_once(
    demo: Demo, serving: tuple[str, Path]
) -> None:
    url, log = serving
    serial = demo.report.certificates[5]  # the demo's device certificate
    der = _request(demo, serial)
    assert _statuses(url, der, 10) == {ocsp.OCSPCertStatus.GOOD}

    _cli(demo, "cert", "revoke", serial, "--reason", "key-compromise")
    assert _statuses(url, der, 10) == {ocsp.OCSPCertStatus.REVOKED}

    text = log.read_text()
    assert text.count("Started server process") == 2
    assert "died" not in text  # no worker was replaced while starting
