"""The fetchers: httpx over an injected transport (never the network), within limits,
and the offline backend that serves only what it was given."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest
from asn1crypto import x509 as a_x509
from pyhanko_certvalidator.errors import CRLFetchError

from govtrust.validation import (
    FetchLimits,
    HttpxFetcherBackend,
    Indication,
    OfflineFetcherBackend,
    RevocationStatus,
    SubIndication,
    ValidationData,
    ValidationPolicy,
    validate_certificate,
)
from tests.unit.validation.pki_factory import NOW, make_pki


def _policy(pki, **kw):  # type: ignore[no-untyped-def]
    builder = ValidationPolicy.builder().trust_anchors([pki.root.cert]).at(NOW)
    for name, value in kw.items():
        builder = getattr(builder, name)(value)
    return builder.build()


def _serve(routes: dict[str, bytes], seen: list[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        body = routes.get(str(request.url))
        if body is None:
            return httpx.Response(404)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/pkix-crl"})

    return httpx.MockTransport(handler)


def test_fetched_crl_says_good_then_revoked() -> None:
    pki = make_pki()
    seen: list[str] = []
    url = "http://crl.test/issuing.crl"
    good = HttpxFetcherBackend(transport=_serve({url: pki.crl()}, seen))
    result = validate_certificate(pki.leaf.cert, _policy(pki), good)
    assert result.indication is Indication.TOTAL_PASSED, result.summary()
    (data,) = result.chain[0].revocation_data
    assert (data.kind, data.source, data.crl_number) == ("crl", "fetched", 1)
    assert data.certificate_status is RevocationStatus.GOOD
    assert seen == [url]

    when = NOW - dt.timedelta(days=2)
    revoked_crl = pki.crl({pki.leaf.cert.serial_number: when}, number=2)
    bad = HttpxFetcherBackend(transport=_serve({url: revoked_crl}, []))
    result = validate_certificate(pki.leaf.cert, _policy(pki), bad)
    assert (result.indication, result.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.REVOKED,
    )
    assert result.chain[0].revocation_time == when
    assert result.chain[0].revocation_reason == "key-compromise"


@pytest.mark.parametrize(
    "url", ["ldap://crl.test/cn=issuing", "file:///etc/passwd", "ftp://crl.test/x.crl"]
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    pki = make_pki(crl_urls=(url,))
    seen: list[str] = []
    backend = HttpxFetcherBackend(transport=_serve({}, seen))
    result = validate_certificate(pki.leaf.cert, _policy(pki), backend)
    assert seen == []
    assert result.sub_indication is SubIndication.TRY_LATER


def test_redirect_to_another_scheme_is_refused() -> None:
    pki = make_pki()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "file:///etc/passwd"})

    backend = HttpxFetcherBackend(transport=httpx.MockTransport(handler))
    result = validate_certificate(pki.leaf.cert, _policy(pki), backend)
    assert seen == ["http://crl.test/issuing.crl"]
    assert result.sub_indication is SubIndication.TRY_LATER


def _fetch_crl(backend: HttpxFetcherBackend, cert_der: bytes) -> object:
    cert = a_x509.Certificate.load(cert_der)
    return asyncio.run(backend.get_fetchers().crl_fetcher.fetch(cert))


def test_size_cap() -> None:
    pki = make_pki()
    body = pki.crl()
    backend = HttpxFetcherBackend(
        transport=_serve({"http://crl.test/issuing.crl": body}, []),
        limits=FetchLimits(max_crl_bytes=len(body) - 1),
    )
    with pytest.raises(CRLFetchError, match="larger than"):
        _fetch_crl(backend, pki.leaf.der)


def test_request_budget() -> None:
    urls = ("http://a.test/1.crl", "http://b.test/2.crl")
    pki = make_pki(crl_urls=urls)
    seen: list[str] = []
    backend = HttpxFetcherBackend(transport=_serve({}, seen), limits=FetchLimits(max_requests=1))
    with pytest.raises(CRLFetchError):
        _fetch_crl(backend, pki.leaf.der)
    assert seen == ["http://a.test/1.crl"]


def test_a_crl_without_crl_number_is_not_used() -> None:
    pki = make_pki()
    backend = HttpxFetcherBackend(
        transport=_serve({"http://crl.test/issuing.crl": pki.crl(number=None)}, [])
    )
    with pytest.raises(CRLFetchError, match="CRL number"):
        _fetch_crl(backend, pki.leaf.der)


def test_offline_backend_serves_only_known_data() -> None:
    pki = make_pki()
    data = ValidationData(crls=(pki.crl(),))
    result = validate_certificate(pki.leaf.cert, _policy(pki), OfflineFetcherBackend(data))
    assert result.indication is Indication.TOTAL_PASSED, result.summary()

    empty = validate_certificate(
        pki.leaf.cert, _policy(pki), OfflineFetcherBackend(ValidationData())
    )
    assert empty.sub_indication is SubIndication.TRY_LATER


def test_embedded_data_is_reported_as_embedded() -> None:
    pki = make_pki()
    result = validate_certificate(
        pki.leaf.cert, _policy(pki), validation_data=ValidationData(crls=(pki.crl(),))
    )
    assert result.indication is Indication.TOTAL_PASSED, result.summary()
    assert [d.source for d in result.chain[0].revocation_data] == ["embedded"]


def test_intermediate_fetched_from_ca_issuers() -> None:
    pki = make_pki(intermediate=True, ca_issuers=("http://aia.test/issuing.crt",))
    crl_url = "http://crl.test/issuing.crl"
    routes = {"http://aia.test/issuing.crt": pki.intermediates[0].der, crl_url: pki.crl()}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        body = routes.get(str(request.url))
        ctype = (
            "application/pkix-cert" if request.url.path.endswith(".crt") else "application/pkix-crl"
        )
        return (
            httpx.Response(200, content=body, headers={"Content-Type": ctype})
            if body
            else httpx.Response(404)
        )

    policy = _policy(pki, revocation="if-available")
    result = validate_certificate(
        pki.leaf.cert, policy, HttpxFetcherBackend(transport=httpx.MockTransport(handler))
    )
    assert result.indication is Indication.TOTAL_PASSED, result.summary()
    assert [c.role for c in result.chain] == ["end-entity", "intermediate", "trust-anchor"]
    assert "http://aia.test/issuing.crt" in seen
