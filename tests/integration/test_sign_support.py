"""Helpers shared by the signing integration tests (no tests here): the independent
tools (openssl, pdfsig with an NSS database, xmlsec1), PEM files of the demo PKI, and a
demo instance whose public URL is a loopback server, so that pdfsig's OCSP checks reach
govtrust's own responder and never the network."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms
from cryptography.hazmat.primitives import serialization

from govtrust.services import Actor, Context, credentials
from tests.conftest import Demo, free_port, make_env

ADMIN = Actor("test:admin", "admin")


def run_tool(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, check=False, timeout=timeout, cwd=cwd
    )


@dataclass(frozen=True)
class PkiFiles:
    root: Path
    issuing: Path
    chain: Path


def pki_files(ctx: Context, directory: Path, credential: str = "amina-haddad") -> PkiFiles:
    """root.pem, issuing.pem (the credential's issuing CA), chain.pem (both)."""
    cred = credentials.describe_credential(ctx, credential)
    ders = list(cred.chain_der)
    from cryptography import x509

    certs = [x509.load_der_x509_certificate(d) for d in ders]
    pem = [c.public_bytes(serialization.Encoding.PEM) for c in certs]
    files = PkiFiles(directory / "root.pem", directory / "issuing.pem", directory / "chain.pem")
    files.root.write_bytes(pem[-1])
    files.issuing.write_bytes(b"".join(pem[:-1]))
    files.chain.write_bytes(b"".join(pem))
    return files


def nss_db(directory: Path, root_pem: Path) -> Path:
    """An NSS database trusting ``root_pem`` (certutil, as pdfsig reads it)."""
    directory.mkdir(parents=True, exist_ok=True)
    for args in (
        ("certutil", "-N", "--empty-password", "-d", f"sql:{directory}"),
        (
            "certutil",
            "-A",
            "-n",
            "root",
            "-t",
            "CT,C,C",
            "-i",
            str(root_pem),
            "-d",
            f"sql:{directory}",
        ),
    ):
        result = run_tool(*args)
        assert result.returncode == 0, result.stderr
    return directory


def pdfsig(pdf: Path, nss: Path, *extra: str) -> str:
    """pdfsig's report. pdfsig exits 0 even on a digest mismatch: callers read the text."""
    result = run_tool("pdfsig", *extra, "-nssdir", f"sql:{nss}", str(pdf))
    assert result.returncode == 0, result.stderr
    return result.stdout


def pdfsig_signatures(report: str) -> list[str]:
    """pdfsig's report split per signature ("Signature #n:" blocks)."""
    return [block for block in report.split("Signature #")[1:]]


def openssl_ts_verify(token_der: bytes, digest_hex: str, chain: Path, directory: Path) -> str:
    """``openssl ts -verify`` of a time-stamp token against a message imprint."""
    path = directory / f"token-{digest_hex[:12]}.der"
    path.write_bytes(token_der)
    result = run_tool(
        "openssl",
        "ts",
        "-verify",
        "-digest",
        digest_hex,
        "-token_in",
        "-in",
        str(path),
        "-CAfile",
        str(chain),
    )
    return result.stdout + result.stderr


def signature_timestamp(cms_der: bytes) -> bytes:
    """The signature-time-stamp token of a CMS signature (DER ContentInfo)."""
    info = cms.ContentInfo.load(cms_der)["content"]["signer_infos"][0]
    for attr in info["unsigned_attrs"] or ():
        if attr["type"].dotted == "1.2.840.113549.1.9.16.2.14":
            return bytes(attr["values"][0].dump())
    raise AssertionError("no signature-time-stamp")


def signature_value(cms_der: bytes) -> bytes:
    return bytes(cms.ContentInfo.load(cms_der)["content"]["signer_infos"][0]["signature"].native)


@dataclass
class Loopback:
    """A demo instance whose certificates point at a loopback server that serves it."""

    demo: Demo
    ctx: Context
    url: str


@contextmanager
def loopback_instance(tmp_path: Path, db_url: str) -> Iterator[Loopback]:
    import uvicorn

    from govtrust.api import create_app
    from govtrust.services.setup import init_home

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    home = tmp_path / "loopback-home"
    env = make_env(home, db_url)
    env["GOVTRUST_PUBLIC_URL"] = url
    report = init_home(home, env, demo=True)
    demo = Demo(home, env, report)
    ctx = demo.open()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ctx, scheduler=False), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Loopback(demo, ctx, url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        ctx.close()
