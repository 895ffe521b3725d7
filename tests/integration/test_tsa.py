"""``POST /tsa`` (RFC 3161 §3.4) checked by ``openssl ts``: tokens for openssl's own
queries verify against the query and the data; every refusal is a TimeStampResp with
its failInfo, never an HTTP error; the serial, genTime, policy and audit record are
what they should be."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govtrust.api import create_app
from govtrust.ca.crl import RevocationReason
from govtrust.clock import FixedClock
from govtrust.config import load_settings
from govtrust.services import Actor, Context, audit, credentials, revocation
from govtrust.services.tsa import TsaService
from govtrust.store.models import AuditEventRow
from govtrust.tsa import build_query
from govtrust.tsa.asn1 import TimeStampResp
from tests.conftest import Demo

pytestmark = pytest.mark.openssl

REPLY = "application/timestamp-reply"
QUERY = "application/timestamp-query"
ADMIN = Actor("test:admin", "admin")
DATA = b"Decree 2026/117 of the Ministry of Finance\n"


def openssl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=60
    )


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, scheduler=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def files(ctx: Context, tmp_path: Path) -> Path:
    """data.txt, chain.pem (the TSA's issuer chain: CA file) and tsa.pem in tmp_path."""
    cred = credentials.get_credential(ctx, "tsa")
    pem = serialization.Encoding.PEM
    (tmp_path / "data.txt").write_bytes(DATA)
    (tmp_path / "chain.pem").write_bytes(b"".join(c.public_bytes(pem) for c in cred.chain))
    (tmp_path / "tsa.pem").write_bytes(cred.certificate.public_bytes(pem))
    return tmp_path


def post(client: TestClient, body: bytes, content_type: str = QUERY) -> bytes:
    r = client.post("/tsa", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == REPLY
    assert r.headers["cache-control"] == "no-store"
    return r.content


def status_of(reply: bytes) -> tuple[str, set[str], list[str]]:
    """(status, failInfo bits, statusString) of a TimeStampResp.

    asn1crypto 1.5.1's own ``tsp.TimeStampResp`` cannot load a rejection (it declares
    the token mandatory); govtrust's RFC-shaped class is made of asn1crypto's tsp types.
    """
    status = TimeStampResp.load(reply)["status"]
    return (
        status["status"].native,
        set(status["fail_info"].native or ()),
        list(status["status_string"].native or ()),
    )


def tst_info(reply: bytes) -> dict[str, object]:
    response = TimeStampResp.load(reply)
    signed = response["time_stamp_token"]["content"]
    return dict(signed["encap_content_info"]["content"].parsed.native)


# ---- openssl interoperability ------------------------------------------------------------


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("nonce", [True, False])
@pytest.mark.parametrize("cert", [True, False])
def test_openssl_verifies_our_tokens(
    client: TestClient, files: Path, ctx: Context, hash_name: str, nonce: bool, cert: bool
) -> None:
    args = ["ts", "-query", "-data", "data.txt", f"-{hash_name}", "-out", "q.tsq"]
    args += [] if nonce else ["-no_nonce"]
    args += ["-cert"] if cert else []
    assert openssl(*args, cwd=files).returncode == 0
    reply = post(client, (files / "q.tsq").read_bytes())
    (files / "r.tsr").write_bytes(reply)
    untrusted = [] if cert else ["-untrusted", "tsa.pem"]
    for source in (["-queryfile", "q.tsq"], ["-data", "data.txt"]):
        result = openssl(
            "ts",
            "-verify",
            *source,
            "-in",
            "r.tsr",
            "-CAfile",
            "chain.pem",
            *untrusted,
            cwd=files,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Verification: OK" in result.stdout
    # A one-byte change of the data is caught.
    (files / "other.txt").write_bytes(DATA + b"!")
    result = openssl(
        "ts",
        "-verify",
        "-data",
        "other.txt",
        "-in",
        "r.tsr",
        "-CAfile",
        "chain.pem",
        *untrusted,
        cwd=files,
    )
    assert result.returncode != 0
    # certReq decides whether the TSA certificate travels in the token (RFC 3161 §2.4.1).
    token = TimeStampResp.load(reply)["time_stamp_token"]["content"]
    assert (token["certificates"].native is not None) == cert


def test_openssl_shows_policy_nonce_accuracy_serial(
    client: TestClient, files: Path, ctx: Context
) -> None:
    assert (
        openssl(
            "ts", "-query", "-data", "data.txt", "-sha256", "-cert", "-out", "q.tsq", cwd=files
        ).returncode
        == 0
    )
    reply = post(client, (files / "q.tsq").read_bytes())
    (files / "r.tsr").write_bytes(reply)
    text = openssl("ts", "-reply", "-in", "r.tsr", "-text", cwd=files).stdout
    query = openssl("ts", "-query", "-in", "q.tsq", "-text", cwd=files).stdout
    info = tst_info(reply)
    assert "Status: Granted." in text
    assert f"Policy OID: {ctx.settings.tsa.policy}" in text
    assert "Accuracy: 0x01 seconds" in text
    serial = f"{info['serial_number']:X}"
    assert f"Serial number: 0x{serial.zfill(len(serial) + len(serial) % 2)}" in text
    nonce_line = next(line for line in query.splitlines() if line.startswith("Nonce:"))
    assert nonce_line in text
    assert "TSA: DirName:" in text and "Time-Stamping Authority" in text


# ---- token contents ----------------------------------------------------------------------


@pytest.fixture
def frozen(demo: Demo) -> Iterator[tuple[Context, FixedClock]]:
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3))
    context = Context.open(load_settings(demo.env), clock=clock)
    try:
        yield context, clock
    finally:
        context.close()


def test_gen_time_is_the_injected_clock_and_serials_increase(
    frozen: tuple[Context, FixedClock],
) -> None:
    ctx, clock = frozen
    svc = TsaService(ctx)
    serials = []
    for step in range(5):
        der, _ = build_query(DATA)
        info = tst_info(svc.respond(der))
        assert info["gen_time"] == clock.now()
        serials.append(info["serial_number"])
        clock.advance(dt.timedelta(seconds=step + 1))
    assert serials == sorted(serials) and len(set(serials)) == 5


def test_token_signed_attributes_are_rfc5816(client: TestClient, ctx: Context) -> None:
    der, _ = build_query(DATA, "sha384")
    token = TimeStampResp.load(post(client, der))["time_stamp_token"]
    signed = token["content"]
    assert signed["version"].native == "v3"
    signer_info = signed["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    assert set(attrs) == {"content_type", "message_digest", "signing_certificate_v2"}
    assert attrs["content_type"].native == "tst_info"
    ess = attrs["signing_certificate_v2"]["certs"][0]
    cert = credentials.get_credential(ctx, "tsa").certificate
    assert (
        ess["cert_hash"].native
        == hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    )
    assert ess["issuer_serial"]["serial_number"].native == cert.serial_number
    # The imprint is repeated exactly as the request had it (RFC 3161 §2.4.2).
    tst = signed["encap_content_info"]["content"].parsed
    assert tst["message_imprint"].dump() == tsp.TimeStampReq.load(der)["message_imprint"].dump()
    assert isinstance(token, cms.ContentInfo)


def test_every_token_is_audited_without_request_content(client: TestClient, ctx: Context) -> None:
    der, query = build_query(DATA, "sha512", nonce=123456789)
    reply = post(client, der)
    info = tst_info(reply)
    token = TimeStampResp.load(reply)["time_stamp_token"].dump()
    events = audit.list_events(ctx, action="tsa.stamp", limit=5)
    assert events, "no tsa.stamp audit event"
    _, event = events[0]
    assert event.object_type == "timestamp" and event.object_id == str(info["serial_number"])
    assert event.object_sha256 == hashlib.sha256(token).hexdigest()
    assert dict(event.details) == {
        "policy": ctx.settings.tsa.policy,
        "hash_alg": "sha512",
        "gen_time": info["gen_time"].isoformat(),  # type: ignore[attr-defined]
        "tsa": "tsa",
    }
    record = event.canonical()
    assert query.imprint.hex().encode() not in record and b"123456789" not in record
    assert event.actor == "anonymous"


# ---- refusals ----------------------------------------------------------------------------


def _req(**fields: object) -> bytes:
    value: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": "sha256"},
            "hashed_message": hashlib.sha256(DATA).digest(),
        },
        "cert_req": True,
    }
    value.update(fields)
    return bytes(tsp.TimeStampReq(value).dump())


REFUSED = [
    pytest.param(b"", QUERY, "bad_data_format", id="empty"),
    pytest.param(b"\x00\x01garbage\xff" * 10, QUERY, "bad_data_format", id="garbage"),
    pytest.param(_req() + b"\x00", QUERY, "bad_data_format", id="trailing-byte"),
    pytest.param(_req(version=2), QUERY, "bad_request", id="version-2"),
    pytest.param(
        _req(
            message_imprint={
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": b"\x00" * 31,
            }
        ),
        QUERY,
        "bad_request",
        id="short-imprint",
    ),
    pytest.param(
        _req(
            message_imprint={
                "hash_algorithm": {"algorithm": "md5"},
                "hashed_message": hashlib.md5(DATA).digest(),
            }
        ),
        QUERY,
        "bad_alg",
        id="md5",
    ),
    pytest.param(
        _req(
            message_imprint={
                "hash_algorithm": {"algorithm": "sha1"},
                "hashed_message": hashlib.sha1(DATA).digest(),
            }
        ),
        QUERY,
        "bad_alg",
        id="sha1",
    ),
    pytest.param(_req(req_policy="1.2.3.4"), QUERY, "unaccepted_policy", id="other-policy"),
    pytest.param(
        _req(extensions=[{"extn_id": "1.2.3.4", "critical": True, "extn_value": b"\x05\x00"}]),
        QUERY,
        "unaccepted_extensions",
        id="extension",
    ),
    pytest.param(_req(), "application/octet-stream", "bad_request", id="wrong-content-type"),
    pytest.param(_req(), "application/json", "bad_request", id="json-content-type"),
    pytest.param(b"x" * 9000, QUERY, "bad_request", id="oversized"),
]


@pytest.mark.parametrize(("body", "content_type", "fail"), REFUSED)
def test_refusals_are_rejections_with_fail_info(
    client: TestClient, ctx: Context, body: bytes, content_type: str, fail: str
) -> None:
    with ctx.db.read() as session:
        before = session.scalar(select(func.count()).select_from(AuditEventRow))
    status, bits, text = status_of(post(client, body, content_type))
    assert status == "rejection"
    assert bits == {fail}
    assert text and text[0]
    with ctx.db.read() as session:  # a refusal issues nothing and records nothing
        assert session.scalar(select(func.count()).select_from(AuditEventRow)) == before


def test_the_accepted_policy_is_the_configured_one(client: TestClient, ctx: Context) -> None:
    status, _, _ = status_of(post(client, _req(req_policy=ctx.settings.tsa.policy)))
    assert status == "granted"


def test_oversized_stream_without_length_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"\x30" * 1000

    r = client.post("/tsa", content=chunks(), headers={"Content-Type": QUERY})
    assert r.status_code == 200
    assert status_of(r.content)[:2] == ("rejection", {"bad_request"})


def test_content_type_parameters_are_allowed(client: TestClient) -> None:
    status, _, _ = status_of(post(client, _req(), f"{QUERY}; charset=binary"))
    assert status == "granted"


def test_openssl_reads_our_rejections(client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "r.tsr").write_bytes(post(client, b"not a request"))
    text = openssl("ts", "-reply", "-in", "r.tsr", "-text", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Status: Rejected." in text.stdout
    assert "the data submitted has the wrong format" in text.stdout


def test_revoked_tsa_certificate_stops_the_tsa(client: TestClient, ctx: Context) -> None:
    der, _ = build_query(DATA)
    assert status_of(post(client, der))[0] == "granted"
    serial = credentials.describe_credential(ctx, "tsa").serial
    revocation.revoke(ctx, serial, RevocationReason.key_compromise, ADMIN)
    # A fresh service (a new process, or the next reload) refuses to sign.
    svc = TsaService(ctx)
    status, bits, text = status_of(svc.respond(der))
    assert (status, bits) == ("rejection", {"system_failure"})
    assert "revoked" in text[0]


def test_no_tsa_credential_is_a_system_failure(empty_home: Demo) -> None:
    context = empty_home.open()
    try:
        status, bits, text = status_of(TsaService(context).respond(build_query(DATA)[0]))
    finally:
        context.close()
    assert (status, bits) == ("rejection", {"system_failure"})
    assert "no TSA credential" in text[0]


def test_get_is_not_allowed(client: TestClient) -> None:
    r = client.get("/tsa")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/problem+json")
    assert json.loads(r.text)["status"] == 405


def test_expired_tsa_certificate_is_refused_at_once(frozen: tuple[Context, FixedClock]) -> None:
    ctx, clock = frozen
    svc = TsaService(ctx)
    der, _ = build_query(DATA)
    assert status_of(svc.respond(der))[0] == "granted"
    not_after = credentials.describe_credential(ctx, "tsa").not_after
    clock.advance(not_after - clock.now() + dt.timedelta(seconds=1))
    # Still loaded (no reload due), yet refused: genTime is past the certificate.
    status, bits, text = status_of(svc.respond(der))
    assert (status, bits) == ("rejection", {"system_failure"})
    assert "expired" in text[0]
