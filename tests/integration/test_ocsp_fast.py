"""The OCSP hot path (``api/ocsp_fast.py``) over real HTTP, on SQLite and PostgreSQL.

The server is the real application on uvicorn. ``OcspService.respond`` (the slow path,
run in the thread pool) is wrapped in a spy that records each request it receives, so
each test can tell which path answered: a request answered before routing never
reaches it.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from govtrust.api import create_server
from govtrust.api.ocsp_fast import MAX_OCSP_REQUEST, OcspFastPath
from govtrust.ca import CertificateRequest, parse_subject
from govtrust.clock import FixedClock
from govtrust.config import load_settings
from govtrust.services import Actor, Context, authorities, certificates
from govtrust.services.certificates import CertificateInfo
from govtrust.services.revocation import OcspService
from govtrust.store import OcspResponseRow
from tests.conftest import Demo, free_port

ADMIN = Actor("test:admin", "admin")
OCSP_REQUEST = {"Content-Type": "application/ocsp-request"}


@dataclass
class Served:
    url: str
    ctx: Context
    slow: list[bytes]
    """Every request that reached ``OcspService.respond``."""


def _serve(ctx: Context) -> Iterator[Served]:
    import uvicorn

    app = create_server(ctx, scheduler=False)  # what `govtrust serve` runs
    assert isinstance(app, OcspFastPath)
    service: OcspService = app.service
    slow: list[bytes] = []
    respond = service.respond

    def spy(der: bytes) -> Any:
        slow.append(der)
        return respond(der)

    service.respond = spy  # type: ignore[method-assign]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", ctx, slow)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(ctx: Context) -> Iterator[Served]:
    yield from _serve(ctx)


def _device(ctx: Context, name: str) -> CertificateInfo:
    key = ec.generate_private_key(ec.SECP256R1())
    request = CertificateRequest(
        parse_subject(f"CN={name},O=National Water Authority,C=AA"), key.public_key()
    )
    return certificates.issue(ctx, "tls", "device", request, ADMIN)


def _request(
    ctx: Context, info: CertificateInfo, algorithm: hashes.HashAlgorithm, nonce: bytes | None
) -> bytes:
    cert = x509.load_der_x509_certificate(info.der)
    issuer = x509.load_der_x509_certificate(authorities.get_ca(ctx, "tls").cert_der)
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _stored(ctx: Context, serial: str, alg: str) -> bytes:
    with ctx.db.read() as session:
        der = session.scalars(
            select(OcspResponseRow.der).where(
                OcspResponseRow.serial == serial, OcspResponseRow.hash_alg == alg
            )
        ).one()
    return bytes(der)


def _get(url: str, der: bytes, method: str = "GET") -> httpx.Response:
    return httpx.request(method, f"{url}/ocsp/{base64.b64encode(der).decode()}", timeout=30)


def _post(url: str, der: bytes) -> httpx.Response:
    return httpx.post(f"{url}/ocsp", content=der, headers=OCSP_REQUEST, timeout=30)


def _http_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.UTC)


def _warm(served: Served, der: bytes) -> None:
    """The first request loads the responder's CA map, through the slow path."""
    assert _post(served.url, der).status_code == 200
    served.slow.clear()


# ---- answered before routing ------------------------------------------------------------


@pytest.mark.parametrize("alg", ["sha1", "sha256"])
def test_stored_answer_is_served_before_routing(served: Served, alg: str) -> None:
    ctx = served.ctx
    info = _device(ctx, f"meter-f{alg}")
    algorithm = hashes.SHA1() if alg == "sha1" else hashes.SHA256()
    der = _request(ctx, info, algorithm, None)
    stored = _stored(ctx, info.serial, alg)
    _warm(served, der)

    get = _get(served.url, der)
    head = _get(served.url, der, "HEAD")
    post = _post(served.url, der)
    assert served.slow == []  # none of the three reached the thread-pool path

    for response in (get, head, post):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/ocsp-response"
    assert get.content == stored and post.content == stored  # byte for byte
    parsed = ocsp.load_der_ocsp_response(get.content)
    assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert parsed.serial_number == int(info.serial, 16)
    assert parsed.next_update_utc is not None

    # RFC 5019 §6.2 on GET: max-age no later than nextUpdate, Last-Modified = thisUpdate.
    headers = get.headers
    directives = [d.strip() for d in headers["cache-control"].split(",")]
    assert "public" in directives and "no-transform" in directives
    max_age = int(next(d for d in directives if d.startswith("max-age="))[8:])
    left = (parsed.next_update_utc - ctx.clock.now()).total_seconds()
    assert 0 < max_age <= left + 1
    assert _http_time(headers["last-modified"]) == parsed.this_update_utc
    assert _http_time(headers["expires"]) == parsed.next_update_utc
    assert headers["etag"].startswith('"') and len(headers["etag"]) > 2
    # HEAD: the same headers, no body (RFC 9110 §9.3.2).
    assert head.content == b""
    for name in ("last-modified", "expires", "etag", "content-length"):
        assert head.headers[name] == get.headers[name], name
    head_directives = [d.strip() for d in head.headers["cache-control"].split(",")]
    head_max_age = int(next(d for d in head_directives if d.startswith("max-age="))[8:])
    assert 0 <= max_age - head_max_age <= 1  # a second may pass between the two
    assert [d for d in head_directives if not d.startswith("max-age=")] == [
        d for d in directives if not d.startswith("max-age=")
    ]
    # POST answers are not cacheable.
    assert post.headers["cache-control"] == "no-store"


def test_requests_that_need_signing_fall_through(served: Served, tmp_path: Path) -> None:
    ctx = served.ctx
    info = _device(ctx, "meter-f-fall")
    plain = _request(ctx, info, hashes.SHA1(), None)
    _warm(served, plain)

    # A nonce (RFC 8954) is echoed: the answer is signed now, by the slow path.
    nonced = _request(ctx, info, hashes.SHA256(), b"\x01" * 16)
    answer = ocsp.load_der_ocsp_response(_post(served.url, nonced).content)
    assert served.slow == [nonced]
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    nonce = answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert nonce == b"\x01" * 16

    # A SHA-512 CertID is not pre-signed.
    served.slow.clear()
    sha512 = _request(ctx, info, hashes.SHA512(), None)
    answer = ocsp.load_der_ocsp_response(_get(served.url, sha512).content)
    assert served.slow == [sha512]
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD

    # A serial this CA never issued: 'unknown', signed on demand.
    served.slow.clear()
    issuer = x509.load_der_x509_certificate(authorities.get_ca(ctx, "tls").cert_der)
    unknown = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            ocsp.load_der_ocsp_request(plain).issuer_name_hash,
            ocsp.load_der_ocsp_request(plain).issuer_key_hash,
            0x7FABCDEF01,
            hashes.SHA1(),
        )
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    answer = ocsp.load_der_ocsp_response(_post(served.url, unknown).content)
    assert served.slow == [unknown]
    assert answer.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert answer.issuer_key_hash == ocsp.load_der_ocsp_request(plain).issuer_key_hash
    assert issuer.subject  # the CA we asked about exists

    # A CA we do not answer for: 'unauthorized' (RFC 6960 §2.3).
    served.slow.clear()
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    foreign_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Foreign CA")])
    foreign = (
        x509.CertificateBuilder()
        .subject_name(foreign_name)
        .issuer_name(foreign_name)
        .public_key(foreign_key.public_key())
        .serial_number(7)
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2036, 1, 1, tzinfo=dt.UTC))
        .sign(foreign_key, hashes.SHA256())
    )
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(foreign, foreign, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    response = _get(served.url, request)
    assert served.slow == [request]
    assert ocsp.load_der_ocsp_response(response.content).response_status == (
        ocsp.OCSPResponseStatus.UNAUTHORIZED
    )
    assert "max-age" not in response.headers["cache-control"]

    # Not DER at all: malformedRequest, from the route.
    response = _post(served.url, b"garbage")
    assert ocsp.load_der_ocsp_response(response.content).response_status == (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


# ---- a revocation is answered at once ----------------------------------------------------


def _govtrust(demo: Demo, *args: str) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).parent / "govtrust"
    return subprocess.run(
        [str(cli), *args],
        env={**os.environ, **demo.env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _status(response: httpx.Response) -> tuple[ocsp.OCSPCertStatus, Any]:
    assert response.status_code == 200
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    return parsed.certificate_status, parsed.revocation_reason


def test_revocation_by_another_process_is_answered_by_the_next_request(
    demo: Demo, served: Served
) -> None:
    ctx = served.ctx
    info = _device(ctx, "meter-f-revoke")
    sha1 = _request(ctx, info, hashes.SHA1(), None)
    sha256 = _request(ctx, info, hashes.SHA256(), None)
    _warm(served, sha1)
    for _ in range(3):  # the answers are served, and served again, from storage
        assert _status(_get(served.url, sha1))[0] == ocsp.OCSPCertStatus.GOOD
        assert _status(_post(served.url, sha256))[0] == ocsp.OCSPCertStatus.GOOD
    assert served.slow == []

    revoked = _govtrust(demo, "cert", "revoke", info.serial, "--reason", "key-compromise")
    assert revoked.returncode == 0, revoked.stderr

    # The very next requests, GET and POST, SHA-1 and SHA-256: revoked, from storage.
    for response in (
        _get(served.url, sha1),
        _post(served.url, sha1),
        _get(served.url, sha256),
        _post(served.url, sha256),
    ):
        assert _status(response) == (
            ocsp.OCSPCertStatus.REVOKED,
            x509.ReasonFlags.key_compromise,
        )
    assert served.slow == []
    assert _get(served.url, sha1).content == _stored(ctx, info.serial, "sha1")


# ---- an expired stored answer is signed again ---------------------------------------------


@pytest.fixture
def clocked(demo: Demo) -> Iterator[tuple[Served, FixedClock]]:
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    context = Context.open(load_settings(demo.env), clock=clock)
    try:
        for server in _serve(context):
            yield server, clock
    finally:
        context.close()


def test_expired_answer_is_signed_again_then_served(
    clocked: tuple[Served, FixedClock],
) -> None:
    served, clock = clocked
    ctx = served.ctx
    info = _device(ctx, "meter-f-expiry")
    der = _request(ctx, info, hashes.SHA1(), None)
    _warm(served, der)
    first = _get(served.url, der)
    assert served.slow == []

    clock.advance(dt.timedelta(hours=ctx.settings.ocsp.validity_hours, minutes=1))
    renewed = _get(served.url, der)
    assert served.slow == [der]  # past its nextUpdate: signed again, and stored
    assert renewed.content != first.content
    parsed = ocsp.load_der_ocsp_response(renewed.content)
    assert parsed.this_update_utc == clock.now()
    assert renewed.content == _stored(ctx, info.serial, "sha1")

    served.slow.clear()
    assert _get(served.url, der).content == renewed.content
    assert served.slow == []


# ---- the POST body: capped while streaming, handed on as received -------------------------


@dataclass
class Passed:
    """What the route behind the middleware saw of one POST."""

    read_before: int
    """Chunks of the client's stream the middleware had read when it handed on."""
    body: bytes
    """The body the route received."""


def _post_through(service: OcspService, chunks: list[bytes], length: int | None) -> Passed:
    """One POST /ocsp through the middleware, with a route behind it that reads the
    whole body and answers 599."""
    import anyio

    fed: list[int] = []

    async def client() -> dict[str, Any]:
        fed.append(len(fed))
        n = len(fed)
        return {"type": "http.request", "body": chunks[n - 1], "more_body": n < len(chunks)}

    passed: list[Passed] = []

    async def route(scope: Any, receive: Callable[[], Any], send: Any) -> None:
        read_before = len(fed)
        body, more = bytearray(), True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        passed.append(Passed(read_before, bytes(body)))
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Any) -> None:
        pass

    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope = {"type": "http", "method": "POST", "path": "/ocsp", "headers": headers}
    anyio.run(OcspFastPath(route, service), scope, client, send)
    assert len(passed) == 1, "the middleware answered instead of handing on"
    return passed[0]


def test_post_body_is_capped_and_handed_on(ctx: Context) -> None:
    service = OcspService(ctx)
    chunk = b"\x00" * 16384
    stream = [chunk] * 64  # 1 MiB, streamed without a Content-Length
    passed = _post_through(service, stream, None)
    # The middleware stopped reading once the body passed the cap ...
    assert passed.read_before == MAX_OCSP_REQUEST // len(chunk) + 1 == 2
    # ... and the route (which answers malformedRequest) got the stream as it was sent.
    assert passed.body == b"".join(stream)

    # A declared Content-Length over the cap: the middleware reads nothing.
    passed = _post_through(service, stream, len(stream) * len(chunk))
    assert passed.read_before == 0 and passed.body == b"".join(stream)

    # A small body that is not an OCSP request: read, then handed on whole.
    passed = _post_through(service, [b"gar", b"bage"], None)
    assert passed.read_before == 2 and passed.body == b"garbage"
