"""Bad input at the service layer and over HTTP: each case gets a clear error and leaves
no trace in storage (the certificate and audit_event row counts do not change).

HTTP cases go through the real uvicorn server (``live_server``): the REST API answers
RFC 9457 ``application/problem+json``; the OCSP endpoints answer in OCSP
(HTTP 200, ``malformedRequest``), as RFC 6960 §2.3 asks.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp
from sqlalchemy import func, select

from govtrust.ca import CertificateRequest, RevocationReason, parse_san, parse_subject
from govtrust.errors import (
    AlreadyRevoked,
    InputError,
    MalformedCSR,
    PolicyViolation,
    UnknownCA,
    UnknownCertificate,
    UnknownProfile,
)
from govtrust.services import Actor, Context, certificates, revocation
from govtrust.services.revocation import OcspService
from govtrust.store import AuditEventRow, CertificateRow
from tests.conftest import Demo, LiveServer

ADMIN = Actor("test:admin", "admin")
HOST = "www.govtrust.org"


# ---- helpers ---------------------------------------------------------------------------


def counts(ctx: Context) -> tuple[int, int]:
    with ctx.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(CertificateRow)) or 0,
            s.scalar(select(func.count()).select_from(AuditEventRow)) or 0,
        )


def make_csr(
    subject: str = f"CN={HOST}",
    sans: tuple[str, ...] = (f"dns:{HOST}",),
    key: CertificateIssuerPrivateKeyTypes | None = None,
) -> bytes:
    """A DER PKCS#10 request."""
    signing_key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(parse_subject(subject))
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([parse_san(s) for s in sans]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def break_signature(der: bytes) -> bytes:
    """Flip one byte inside the signature BIT STRING (the last element) of a DER CSR."""
    data = bytearray(der)
    data[-3] ^= 0x01  # a low-order byte of ECDSA's s (or of the RSA signature)
    return bytes(data)


def pem_csr(der: bytes) -> str:
    return x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM).decode()


def good_request() -> CertificateRequest:
    return certificates.parse_csr(make_csr())


def p521_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP521R1())


def rsa1024_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (on purpose)


FORBIDDEN_KEYS: dict[str, Callable[[], ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]] = {
    "p521": p521_key,
    "rsa1024": rsa1024_key,
}


@pytest.fixture
def api(live_server: LiveServer, demo: Demo) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {demo.admin_token}"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=30) as client:
        yield client


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["type"] == f"urn:govtrust:problem:{code}", body
    return body


def issue_http(
    api: httpx.Client, csr: str, *, ca: str = "tls", profile: str = "tls-server"
) -> httpx.Response:
    return api.post("/api/v1/certificates", json={"ca": ca, "profile": profile, "csr": csr})


# ---- certificate requests: service level ------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"garbage",
        b"",
        b"\x30\x03\x02\x01\x01",
        b"-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgcmVxdWVzdA==\n"
        b"-----END CERTIFICATE REQUEST-----\n",
    ],
    ids=["text", "empty", "wrong-der", "pem-of-garbage"],
)
def test_garbage_csr(ctx: Context, data: bytes) -> None:
    before = counts(ctx)
    with pytest.raises(MalformedCSR, match="PKCS#10"):
        certificates.parse_csr(data)
    assert counts(ctx) == before


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_csr_with_broken_signature(ctx: Context, kind: str) -> None:
    key: CertificateIssuerPrivateKeyTypes = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    der = make_csr(key=key)
    broken = break_signature(der)
    assert broken != der
    x509.load_der_x509_csr(broken)  # still parses: only the signature is wrong
    before = counts(ctx)
    with pytest.raises(MalformedCSR, match="signature does not verify"):
        certificates.parse_csr(broken)
    with pytest.raises(MalformedCSR, match="signature does not verify"):
        certificates.parse_csr(pem_csr(broken).encode())
    assert counts(ctx) == before


@pytest.mark.parametrize("key_kind", sorted(FORBIDDEN_KEYS))
def test_forbidden_key_request(ctx: Context, key_kind: str) -> None:
    key = FORBIDDEN_KEYS[key_kind]()
    request = CertificateRequest(
        parse_subject(f"CN={HOST}"), key.public_key(), (parse_san(f"dns:{HOST}"),)
    )
    before = counts(ctx)
    with pytest.raises(PolicyViolation) as err:
        certificates.issue(ctx, "tls", "tls-server", request, ADMIN)
    assert err.value.rule == "key-algorithm"
    assert "not allowed" in err.value.message
    assert counts(ctx) == before


def test_key_of_a_known_type_the_profile_forbids(ctx: Context) -> None:
    """RSA-2048 exists in govtrust but the 'official' profile asks for 3072 or more."""
    der = make_csr(
        "CN=Layla Nasser,SN=Nasser,givenName=Layla,C=AA",
        (),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )
    before = counts(ctx)
    with pytest.raises(PolicyViolation) as err:
        certificates.issue(ctx, "people", "official", certificates.parse_csr(der), ADMIN)
    assert err.value.rule == "key-algorithm"
    assert "rsa-2048" in err.value.message
    assert counts(ctx) == before


@pytest.mark.parametrize("key_kind", sorted(FORBIDDEN_KEYS))
def test_forbidden_key_csr_is_a_policy_violation(ctx: Context, key_kind: str) -> None:
    der = make_csr(key=FORBIDDEN_KEYS[key_kind]())
    before = counts(ctx)
    with pytest.raises(PolicyViolation) as err:
        certificates.issue(ctx, "tls", "tls-server", certificates.parse_csr(der), ADMIN)
    assert err.value.rule == "key-algorithm"
    assert counts(ctx) == before


@pytest.mark.parametrize(
    ("sans", "rule"),
    [
        ((f"dns:{HOST}", "email:webmaster@govtrust.org"), "san-type"),
        ((f"dns:{HOST}", "uri:https://www.govtrust.org/"), "san-type"),
        ((f"dns:{HOST}", "dns:*.govtrust.org"), "san-type"),
        (("dns:other.govtrust.org",), "cn-in-san"),
        ((), "san-required"),
    ],
    ids=["email", "uri", "wildcard", "cn-not-in-san", "no-san"],
)
def test_forbidden_san(ctx: Context, sans: tuple[str, ...], rule: str) -> None:
    request = certificates.parse_csr(make_csr(sans=sans))
    before = counts(ctx)
    with pytest.raises(PolicyViolation) as err:
        certificates.issue(ctx, "tls", "tls-server", request, ADMIN)
    assert err.value.rule == rule
    assert counts(ctx) == before


def test_unknown_ca(ctx: Context) -> None:
    before = counts(ctx)
    with pytest.raises(UnknownCA, match="unknown CA: nope"):
        certificates.issue(ctx, "nope", "tls-server", good_request(), ADMIN)
    assert counts(ctx) == before


def test_unknown_profile(ctx: Context) -> None:
    before = counts(ctx)
    with pytest.raises(UnknownProfile, match="unknown profile: nope"):
        certificates.issue(ctx, "tls", "nope", good_request(), ADMIN)
    assert counts(ctx) == before


# ---- revocation: service level ---------------------------------------------------------


@pytest.mark.parametrize("serial", ["01:02:03", "7fffffffffffffffffff", "0xABCDEF"])
def test_revoke_unknown_serial(ctx: Context, serial: str) -> None:
    before = counts(ctx)
    with pytest.raises(UnknownCertificate, match="unknown certificate serial"):
        revocation.revoke(ctx, serial, RevocationReason.superseded, ADMIN)
    assert counts(ctx) == before


@pytest.mark.parametrize("serial", ["zz-not-hex", "", "1" * 60])
def test_revoke_malformed_serial(ctx: Context, serial: str) -> None:
    before = counts(ctx)
    with pytest.raises(InputError, match="serial"):
        revocation.revoke(ctx, serial, RevocationReason.superseded, ADMIN)
    assert counts(ctx) == before


def test_revoke_already_revoked(ctx: Context) -> None:
    info = certificates.issue(ctx, "tls", "tls-server", good_request(), ADMIN)
    revocation.revoke(ctx, info.serial, RevocationReason.key_compromise, ADMIN)
    crl = revocation.get_crl(ctx, "tls")
    before = counts(ctx)
    with pytest.raises(AlreadyRevoked, match="already revoked") as err:
        revocation.revoke(ctx, info.serial, RevocationReason.superseded, ADMIN)
    assert err.value.reason == "key-compromise"
    assert counts(ctx) == before
    assert revocation.get_crl(ctx, "tls") == crl  # no new CRL either
    assert certificates.get_certificate(ctx, info.serial).revocation_reason == "key-compromise"


def test_unknown_revocation_reason() -> None:
    with pytest.raises(InputError, match="unknown revocation reason"):
        RevocationReason.parse("certificateHold")


# ---- OCSP: service level ---------------------------------------------------------------


def _ocsp_status(der: bytes) -> ocsp.OCSPResponseStatus:
    return ocsp.load_der_ocsp_response(der).response_status


@pytest.mark.parametrize(
    "body",
    [b"garbage", b"", b"\x30\x00", b"\x30\x82\xff\xff" + b"\x00" * 8],
    ids=["text", "empty", "empty-sequence", "truncated"],
)
def test_ocsp_service_malformed(ctx: Context, body: bytes) -> None:
    before = counts(ctx)
    answer = OcspService(ctx).respond(body)
    assert _ocsp_status(answer.der) == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert not answer.cacheable
    assert counts(ctx) == before


# ---- HTTP: the REST API ----------------------------------------------------------------


@pytest.mark.parametrize(
    "csr",
    [
        "garbage!",  # neither PEM nor base64
        base64.b64encode(b"garbage").decode(),  # base64, but not DER
        "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgcmVxdWVzdA==\n"
        "-----END CERTIFICATE REQUEST-----\n",
        "",
    ],
    ids=["not-base64", "base64-garbage", "pem-garbage", "empty"],
)
def test_http_garbage_csr(api: httpx.Client, live_server: LiveServer, csr: str) -> None:
    before = counts(live_server.ctx)
    body = assert_problem(issue_http(api, csr), 400, "malformed-csr")
    assert "request" in body["detail"] or "csr" in body["detail"]
    assert counts(live_server.ctx) == before


def test_http_csr_with_broken_signature(api: httpx.Client, live_server: LiveServer) -> None:
    broken = break_signature(make_csr())
    before = counts(live_server.ctx)
    for csr in (pem_csr(broken), base64.b64encode(broken).decode()):
        body = assert_problem(issue_http(api, csr), 400, "malformed-csr")
        assert "signature does not verify" in body["detail"]
    assert counts(live_server.ctx) == before


def test_http_key_the_profile_forbids(api: httpx.Client, live_server: LiveServer) -> None:
    der = make_csr(
        "CN=Layla Nasser,SN=Nasser,givenName=Layla,C=AA",
        (),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )
    before = counts(live_server.ctx)
    response = issue_http(api, pem_csr(der), ca="people", profile="official")
    body = assert_problem(response, 422, "policy-violation")
    assert body["rule"] == "key-algorithm" and body["profile"] == "official"
    assert "rsa-2048" in body["detail"]
    assert counts(live_server.ctx) == before


@pytest.mark.parametrize("key_kind", sorted(FORBIDDEN_KEYS))
def test_http_forbidden_key_is_a_policy_violation(
    api: httpx.Client, live_server: LiveServer, key_kind: str
) -> None:
    der = make_csr(key=FORBIDDEN_KEYS[key_kind]())
    before = counts(live_server.ctx)
    body = assert_problem(issue_http(api, pem_csr(der)), 422, "policy-violation")
    assert body["rule"] == "key-algorithm"
    assert counts(live_server.ctx) == before


@pytest.mark.parametrize("key_kind", sorted(FORBIDDEN_KEYS))
def test_http_forbidden_key_is_refused(
    api: httpx.Client, live_server: LiveServer, key_kind: str
) -> None:
    """Whatever the status, a P-521 / RSA-1024 key is refused and nothing is stored."""
    der = make_csr(key=FORBIDDEN_KEYS[key_kind]())
    before = counts(live_server.ctx)
    response = issue_http(api, pem_csr(der))
    assert response.status_code in (400, 422), response.text
    assert_problem(response, response.status_code)
    assert counts(live_server.ctx) == before


def test_http_san_the_profile_forbids(api: httpx.Client, live_server: LiveServer) -> None:
    der = make_csr(sans=(f"dns:{HOST}", "email:webmaster@govtrust.org"))
    before = counts(live_server.ctx)
    body = assert_problem(issue_http(api, pem_csr(der)), 422, "policy-violation")
    assert body["rule"] == "san-type" and body["profile"] == "tls-server"
    assert "email" in body["detail"]
    assert counts(live_server.ctx) == before


def test_http_unknown_ca(api: httpx.Client, live_server: LiveServer) -> None:
    before = counts(live_server.ctx)
    body = assert_problem(issue_http(api, pem_csr(make_csr()), ca="nope"), 404, "unknown-ca")
    assert "nope" in body["detail"]
    assert counts(live_server.ctx) == before


def test_http_unknown_profile(api: httpx.Client, live_server: LiveServer) -> None:
    before = counts(live_server.ctx)
    response = issue_http(api, pem_csr(make_csr()), profile="nope")
    body = assert_problem(response, 404, "unknown-profile")
    assert "nope" in body["detail"]
    assert counts(live_server.ctx) == before


def test_http_issue_schema_errors(api: httpx.Client, live_server: LiveServer) -> None:
    before = counts(live_server.ctx)
    missing = api.post("/api/v1/certificates", json={"ca": "tls", "profile": "tls-server"})
    assert_problem(missing, 422, "invalid-request")
    not_json = api.post(
        "/api/v1/certificates", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(not_json, 422, "invalid-request")
    assert counts(live_server.ctx) == before


def test_http_issue_needs_a_token(live_server: LiveServer) -> None:
    before = counts(live_server.ctx)
    with httpx.Client(base_url=live_server.url, timeout=30) as anonymous:
        response = anonymous.post(
            "/api/v1/certificates",
            json={"ca": "tls", "profile": "tls-server", "csr": pem_csr(make_csr())},
        )
    assert_problem(response, 401, "unauthenticated")
    assert counts(live_server.ctx) == before


def test_http_revoke_unknown_serial(api: httpx.Client, live_server: LiveServer) -> None:
    before = counts(live_server.ctx)
    response = api.post("/api/v1/certificates/7fabcdef0123/revoke", json={"reason": "superseded"})
    body = assert_problem(response, 404, "unknown-certificate")
    assert "7fabcdef0123" in body["detail"]
    malformed = api.post("/api/v1/certificates/not-hex/revoke", json={"reason": "superseded"})
    assert_problem(malformed, 400, "invalid-input")
    assert counts(live_server.ctx) == before


def test_http_revoke_already_revoked(api: httpx.Client, live_server: LiveServer) -> None:
    created = issue_http(api, pem_csr(make_csr()))
    assert created.status_code == 201, created.text
    serial = created.json()["serial"]
    first = api.post(f"/api/v1/certificates/{serial}/revoke", json={"reason": "key-compromise"})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "revoked"
    before = counts(live_server.ctx)
    again = api.post(f"/api/v1/certificates/{serial}/revoke", json={"reason": "superseded"})
    body = assert_problem(again, 409, "already-revoked")
    assert serial in body["detail"] and "key-compromise" in body["detail"]
    assert counts(live_server.ctx) == before


def test_http_revoke_unknown_reason(api: httpx.Client, live_server: LiveServer) -> None:
    created = issue_http(api, pem_csr(make_csr()))
    assert created.status_code == 201, created.text
    serial = created.json()["serial"]
    before = counts(live_server.ctx)
    response = api.post(f"/api/v1/certificates/{serial}/revoke", json={"reason": "hold"})
    body = assert_problem(response, 400, "invalid-input")
    assert "unknown revocation reason" in body["detail"]
    assert counts(live_server.ctx) == before
    assert api.get(f"/api/v1/certificates/{serial}").json()["status"] == "valid"


# ---- HTTP: OCSP ------------------------------------------------------------------------


def assert_malformed(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ocsp-response"
    assert _ocsp_status(response.content) == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert "max-age" not in response.headers.get("cache-control", "")


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


OCSP_REQUEST = {"Content-Type": "application/ocsp-request"}


def test_ocsp_post_garbage(http: httpx.Client, live_server: LiveServer) -> None:
    before = counts(live_server.ctx)
    assert_malformed(http.post("/ocsp", content=b"garbage", headers=OCSP_REQUEST))
    assert_malformed(http.post("/ocsp", content=b"\x30\x03\x02\x01\x01", headers=OCSP_REQUEST))
    assert counts(live_server.ctx) == before


def test_ocsp_post_empty(http: httpx.Client, live_server: LiveServer) -> None:
    before = counts(live_server.ctx)
    assert_malformed(http.post("/ocsp", content=b"", headers=OCSP_REQUEST))
    assert counts(live_server.ctx) == before


def test_ocsp_post_oversized(http: httpx.Client, live_server: LiveServer) -> None:
    before = counts(live_server.ctx)
    big = b"\x30\x84\x00\x10\x00\x00" + b"\x00" * (1024 * 1024)
    assert_malformed(http.post("/ocsp", content=big, headers=OCSP_REQUEST))

    def chunks() -> Iterator[bytes]:  # no Content-Length: a streamed, chunked body
        for _ in range(64):
            yield b"\x00" * 16384

    assert_malformed(http.post("/ocsp", content=chunks(), headers=OCSP_REQUEST))
    # The connection is still usable afterwards.
    assert_malformed(http.post("/ocsp", content=b"garbage", headers=OCSP_REQUEST))
    assert counts(live_server.ctx) == before


@pytest.mark.parametrize(
    "path",
    [
        "/ocsp/@@@not-base64!!",
        "/ocsp/%25%25%25",
        "/ocsp/" + base64.b64encode(b"garbage").decode(),
        "/ocsp/" + "A" * 30000,
        "/ocsp/====",
    ],
    ids=["symbols", "percent", "base64-garbage", "oversized", "padding-only"],
)
def test_ocsp_get_garbage(http: httpx.Client, live_server: LiveServer, path: str) -> None:
    before = counts(live_server.ctx)
    assert_malformed(http.get(path))
    assert counts(live_server.ctx) == before
