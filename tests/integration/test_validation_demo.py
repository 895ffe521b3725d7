"""Path validation against a real govtrust instance: the demo PKI, its CRLs and its OCSP
responder served over HTTP by ``live_server``.

The demo's certificates name ``http://pki.govtrust.org/...`` (the public URL of the test
configuration); :class:`ToLiveServer` is an httpx transport that takes those requests to
the loopback server and refuses every other host, so nothing reaches the network.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography import x509

from govtrust.ca.crl import RevocationReason
from govtrust.clock import FixedClock
from govtrust.services import authorities, certificates, revocation
from govtrust.services.context import Actor, Context
from govtrust.validation import (
    CertificateStatus,
    HttpxFetcherBackend,
    Indication,
    Purpose,
    Report,
    RevocationMode,
    RevocationStatus,
    SignatureReport,
    SubIndication,
    ValidationPolicy,
    validate_certificate,
)

ADMIN = Actor("test", "admin")
PUBLIC_HOST = "pki.govtrust.org"


class ToLiveServer(httpx.AsyncBaseTransport):
    """Send requests for the demo's public host to the live server; refuse the rest."""

    def __init__(self, live_url: str) -> None:
        self._target = httpx.URL(live_url)
        self._inner = httpx.AsyncHTTPTransport()
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if request.url.host != PUBLIC_HOST:
            raise httpx.ConnectError(f"tests never reach {request.url.host}")
        request.url = request.url.copy_with(
            scheme="http", host=self._target.host, port=self._target.port
        )
        return await self._inner.handle_async_request(request)


@dataclass
class DemoPki:
    ctx: Context
    roots: list[x509.Certificate]
    people: x509.Certificate
    official: certificates.CertificateInfo
    transport: ToLiveServer
    fetchers: HttpxFetcherBackend
    clock: FixedClock

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.official.der)

    def policy(self, **kw: object) -> ValidationPolicy:
        builder = ValidationPolicy.builder().trust_anchors(self.roots).purpose(Purpose.SIGNATURE)
        for name, value in kw.items():
            builder = getattr(builder, name)(value)
        return builder.build()


@pytest.fixture
def pki(live_server) -> Iterator[DemoPki]:  # type: ignore[no-untyped-def]
    ctx = live_server.ctx
    # Time is injected: from here on the instance (and its HTTP server) runs on a frozen
    # clock one hour ahead, so revocations happen strictly after issuance.
    clock = FixedClock(ctx.clock.now() + dt.timedelta(hours=1))
    ctx.clock = clock
    cas = {ca.name: ca for ca in authorities.list_cas(ctx)}
    official = next(
        c
        for c in certificates.list_certificates(ctx, profile="official")
        if "Amina Haddad" in c.subject
    )
    transport = ToLiveServer(live_server.url)
    yield DemoPki(
        ctx=ctx,
        roots=[x509.load_der_x509_certificate(cas["root"].cert_der)],
        people=x509.load_der_x509_certificate(cas["people"].cert_der),
        official=official,
        transport=transport,
        fetchers=HttpxFetcherBackend(transport=transport),
        clock=clock,
    )


def test_demo_chain_validates_with_fetched_revocation_data(pki: DemoPki) -> None:
    at = pki.clock.now() + dt.timedelta(minutes=1)
    result = validate_certificate(pki.cert, pki.policy(at=at), pki.fetchers)

    assert result.indication is Indication.TOTAL_PASSED, result.summary()
    assert result.sub_indication is None
    assert [c.role for c in result.chain] == ["end-entity", "intermediate", "trust-anchor"]
    assert result.chain[1].certificate == pki.people
    assert result.chain[2].certificate == pki.roots[0]
    ee = result.chain[0]
    assert ee.status is CertificateStatus.GOOD
    assert ee.revocation is RevocationStatus.GOOD
    assert {d.source for d in ee.revocation_data} == {"fetched"}
    assert any(d.kind == "ocsp" and d.produced_at is not None for d in ee.revocation_data)
    assert result.chain[1].status is CertificateStatus.GOOD
    assert result.chain[2].status is CertificateStatus.TRUST_ANCHOR
    # The requests went to the URLs the certificates name, and only there.
    assert pki.transport.requests
    assert all(u.startswith(f"http://{PUBLIC_HOST}/") for u in pki.transport.requests)


def test_revoked_official_fails_after_revocation(pki: DemoPki) -> None:
    revoked = revocation.revoke(
        pki.ctx, pki.official.serial, RevocationReason.key_compromise, ADMIN
    )
    assert revoked.status == "revoked"
    r_time = pki.clock.now()
    at = r_time + dt.timedelta(minutes=5)

    # Used now (no POE): a revocation before the use is TOTAL-FAILED/REVOKED.
    live = validate_certificate(pki.cert, pki.policy(at=at), pki.fetchers)
    assert live.indication is Indication.TOTAL_FAILED, live.summary()
    assert live.sub_indication is SubIndication.REVOKED
    ee = live.chain[0]
    assert ee.status is CertificateStatus.REVOKED
    assert ee.revocation_time == r_time
    assert ee.revocation_reason == "key-compromise"
    kinds = {d.kind for d in ee.revocation_data}
    assert "ocsp" in kinds or "crl" in kinds
    assert all(d.certificate_status is RevocationStatus.REVOKED for d in ee.revocation_data)

    # A signature proven to exist before the revocation passes (EN 319 102-1 §5.6.2.4).
    poe = r_time - dt.timedelta(minutes=30)
    past = validate_certificate(pki.cert, pki.policy(at=at), pki.fetchers, poe)
    assert past.indication is Indication.TOTAL_PASSED, past.summary()
    assert past.current_time_sub_indication is SubIndication.REVOKED_NO_POE
    assert past.control_time == poe
    assert past.chain[0].revocation is RevocationStatus.REVOKED  # still reported

    # A signature whose only POE is after the revocation: INDETERMINATE/REVOKED_NO_POE.
    late = validate_certificate(pki.cert, pki.policy(at=at), pki.fetchers, at)
    assert late.indication is Indication.INDETERMINATE
    assert late.sub_indication is SubIndication.REVOKED_NO_POE


def test_revocation_off_and_require_without_revocation_data(pki: DemoPki) -> None:
    at = pki.clock.now()
    off = validate_certificate(
        pki.cert, pki.policy(at=at, revocation=RevocationMode.OFF, intermediates=[pki.people])
    )
    assert off.indication is Indication.TOTAL_PASSED, off.summary()
    assert off.chain[0].status is CertificateStatus.REVOCATION_NOT_CHECKED
    assert "revocation" in off.policy.to_dict()["disabledChecks"]

    # No fetcher and nothing embedded: the status cannot be established now, and
    # might be later (EN 319 102-1 §5.2.6.4 step 4, Table 7): INDETERMINATE/TRY_LATER.
    require = validate_certificate(pki.cert, pki.policy(at=at, intermediates=[pki.people]))
    assert require.indication is Indication.INDETERMINATE
    assert require.sub_indication is SubIndication.TRY_LATER
    assert require.chain[0].status is CertificateStatus.REVOCATION_UNKNOWN

    # if-available: what can be had is checked; nothing to be had is not a failure.
    soft = validate_certificate(
        pki.cert,
        pki.policy(at=at, revocation=RevocationMode.IF_AVAILABLE, intermediates=[pki.people]),
    )
    assert soft.indication is Indication.TOTAL_PASSED, soft.summary()
    assert soft.chain[0].revocation is RevocationStatus.UNKNOWN


def test_unknown_root_gives_no_chain(pki: DemoPki) -> None:
    other = _self_signed("CN=Some Other Root")
    policy = ValidationPolicy.builder().trust_anchors([other]).at(pki.clock.now()).build()
    result = validate_certificate(pki.cert, policy, pki.fetchers)
    assert result.indication is Indication.INDETERMINATE
    assert result.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert [c.role for c in result.chain] == ["end-entity"]


def test_expired_certificate(pki: DemoPki) -> None:
    cert = pki.cert
    after = cert.not_valid_after_utc + dt.timedelta(days=1)
    policy = pki.policy(at=after, revocation=RevocationMode.OFF, intermediates=[pki.people])

    # Used after it expired: TOTAL-FAILED/EXPIRED (Table 6).
    live = validate_certificate(cert, policy)
    assert live.indication is Indication.TOTAL_FAILED, live.summary()
    assert live.sub_indication is SubIndication.EXPIRED
    assert live.chain[0].status is CertificateStatus.EXPIRED

    # A signature with no proof of existence before the expiry: OUT_OF_BOUNDS_NO_POE.
    unproven = validate_certificate(cert, policy, poe_time=after)
    assert unproven.indication is Indication.INDETERMINATE
    assert unproven.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE

    # With a POE inside the validity period: the past validation passes.
    poe = cert.not_valid_before_utc + dt.timedelta(hours=2)
    proven = validate_certificate(cert, policy, poe_time=poe)
    assert proven.indication is Indication.TOTAL_PASSED, proven.summary()
    assert proven.current_time_sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE

    # A POE before the certificate existed proves it was used before it was valid.
    early = validate_certificate(
        cert, policy, poe_time=cert.not_valid_before_utc - dt.timedelta(days=1)
    )
    assert early.indication is Indication.TOTAL_FAILED
    assert early.sub_indication is SubIndication.NOT_YET_VALID


def test_report_from_certificate_results(pki: DemoPki) -> None:
    at = pki.clock.now()
    good = validate_certificate(pki.cert, pki.policy(at=at), pki.fetchers)
    unknown = validate_certificate(pki.cert, pki.policy(at=at, intermediates=[pki.people]))
    report = Report(
        validation_time=at,
        policy=good.policy,
        signatures=(
            SignatureReport.for_certificate("cert-1", good),
            SignatureReport.for_certificate("cert-2", unknown),
        ),
    )
    doc = report.to_dict()
    assert doc["indication"] == "INDETERMINATE"  # the worst of the two
    assert doc["subIndication"] == "TRY_LATER"
    first = doc["signatures"][0]
    assert first["indication"] == "TOTAL-PASSED"
    assert [c["role"] for c in first["certificateChain"]] == [
        "end-entity",
        "intermediate",
        "trust-anchor",
    ]
    assert first["certificateChain"][0]["revocation"]["status"] == "good"
    assert first["revocationData"]
    assert doc["policy"]["revocation"] == "require"
    assert doc["validationTime"] == at.isoformat()
    assert '"TOTAL-PASSED"' in report.to_json()


def _self_signed(name: str) -> x509.Certificate:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name.from_rfc4514_string(name)
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
