"""Fetchers for the data path validation needs: CRLs, OCSP responses and issuer
certificates (AIA caIssuers).

The interface is pyhanko-certvalidator's ``fetchers/api.py``: a
:class:`~pyhanko_certvalidator.fetchers.FetcherBackend` hands out one
:class:`~pyhanko_certvalidator.fetchers.Fetchers` (an OCSP, a CRL and a certificate
fetcher sharing a connection pool and a request budget) per validation. Two backends:

- :class:`HttpxFetcherBackend` fetches over HTTP with httpx: only ``http`` and
  ``https`` URLs (RFC 5280 §4.2.1.13 and §4.2.2.1 also allow ``ldap``; govtrust does not
  follow it), a timeout per request, a size cap per kind of object, a bounded number of
  requests per validation, and an injectable transport (tests use
  ``httpx.MockTransport`` or a transport that reaches a loopback server).
- :class:`OfflineFetcherBackend` never touches the network: it serves only the
  certificates, CRLs and OCSP responses it was given (the validation data embedded in a
  long-term signature, EN 319 102-1 §5.6), and reports anything else as unavailable.

Responses are parsed with asn1crypto and OCSP requests built with
pyhanko-certvalidator's own helpers; nothing here checks a signature: that is the path
validation's job.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from asn1crypto import crl as a_crl
from asn1crypto import ocsp as a_ocsp
from asn1crypto import pem as a_pem
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.errors import (
    CertificateFetchError,
    CRLFetchError,
    OCSPFetchError,
    OCSPValidationError,
)
from pyhanko_certvalidator.fetchers import (
    CertificateFetcher,
    CRLFetcher,
    FetcherBackend,
    Fetchers,
    OCSPFetcher,
)
from pyhanko_certvalidator.fetchers.common_utils import (
    enumerate_delivery_point_urls,
    format_ocsp_request,
    gather_aia_issuer_urls,
    process_ocsp_response_data,
    unpack_cert_content,
)
from pyhanko_certvalidator.util import get_ocsp_urls, get_relevant_crl_dps, issuer_serial

import govtrust

__all__ = [
    "DEFAULT_LIMITS",
    "FetchLimits",
    "HttpxFetcherBackend",
    "OfflineFetcherBackend",
    "ValidationData",
    "crl_problem",
]

logger = logging.getLogger(__name__)

ALLOWED_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on what one validation may fetch: a hostile certificate chooses the URLs.

    Sizes are in bytes; ``timeout`` in seconds per request (connect, read, write and
    pool wait each); ``max_requests`` counts every request one :class:`Fetchers` makes.
    """

    timeout: float = 10.0
    max_crl_bytes: int = 32 * 1024 * 1024
    max_ocsp_bytes: int = 256 * 1024
    max_certificate_bytes: int = 256 * 1024
    max_requests: int = 64
    max_redirects: int = 3


DEFAULT_LIMITS = FetchLimits()


@dataclass(frozen=True)
class ValidationData:
    """Validation data known without fetching: what a signature embeds (CAdES
    ``certificate-values``/``revocation-values``, a PAdES DSS) or what a caller holds.

    CRLs and OCSP responses are DER; the path validation treats them as *embedded*
    and reports them with that source.
    """

    certificates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsp_responses: tuple[bytes, ...] = ()

    @property
    def digests(self) -> frozenset[bytes]:
        """SHA-256 of every object, to tell embedded data from fetched data."""
        ders = [c.public_bytes(Encoding.DER) for c in self.certificates]
        ders += list(self.crls) + list(self.ocsp_responses)
        return frozenset(hashlib.sha256(d).digest() for d in ders)


def crl_problem(crl: Any) -> str | None:
    """Why a parsed CRL (asn1crypto) cannot be used, or None.

    RFC 5280 §5.2.3: a conforming CRL issuer MUST include the CRL number, and the
    extension MUST NOT be critical. A CRL without it cannot be ordered against others of
    its issuer, so govtrust does not rely on it. Unknown critical CRL extensions are left
    to the path validation (RFC 5280 §5.2 / §6.3.3).
    """
    tbs = crl["tbs_cert_list"]
    for ext in tbs["crl_extensions"]:
        if ext["extn_id"].native == "crl_number":
            if ext["critical"].native:
                return "the CRL number extension is critical (RFC 5280 §5.2.3)"
            return None
    return "the CRL has no CRL number (RFC 5280 §5.2.3)"


class _Budget:
    """Counts the requests of one :class:`Fetchers`; the error type is the caller's."""

    def __init__(self, limit: int) -> None:
        self._left = limit

    def charge(self, error: type[Exception]) -> None:
        if self._left <= 0:
            raise error("fetch limit reached for this validation")
        self._left -= 1


def _check_url(url: str, error: type[Exception]) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        raise error(f"refusing to fetch {url!r}: only http and https URLs are followed")


class _HttpClient:
    """One httpx.AsyncClient per event loop (an AsyncClient is bound to the loop that
    first uses it), with the scheme allow-list applied to every request, redirects
    included, and bodies read in chunks up to a cap."""

    def __init__(
        self,
        limits: FetchLimits,
        transport: httpx.AsyncBaseTransport | None,
        user_agent: str,
    ) -> None:
        self._limits = limits
        self._transport = transport
        self._user_agent = user_agent
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:

            async def check_scheme(request: httpx.Request) -> None:
                if request.url.scheme not in ALLOWED_SCHEMES:
                    raise httpx.UnsupportedProtocol(f"scheme {request.url.scheme!r} refused")

            client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self._limits.timeout),
                follow_redirects=True,
                max_redirects=self._limits.max_redirects,
                headers={"User-Agent": self._user_agent},
                event_hooks={"request": [check_scheme]},
                trust_env=False,
            )
            self._clients[loop] = client
        return client

    async def request(
        self,
        method: str,
        url: str,
        *,
        accept: str,
        max_bytes: int,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> tuple[bytes, str | None]:
        headers = {"Accept": accept}
        if content_type is not None:
            headers["Content-Type"] = content_type
        async with self._client().stream(method, url, content=body, headers=headers) as resp:
            resp.raise_for_status()
            declared = resp.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise ValueError(f"response from {url} is larger than {max_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError(f"response from {url} is larger than {max_bytes} bytes")
                chunks.append(chunk)
            ctype = resp.headers.get("content-type")
        media = ctype.split(";")[0].strip().lower() if ctype else None
        return b"".join(chunks), media

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for loop, client in clients.items():
            if loop is asyncio.get_running_loop():
                await client.aclose()


class _Cache:
    """Fetch each key once per Fetchers, even when two tasks ask at the same time."""

    def __init__(self) -> None:
        self._done: dict[Any, Any] = {}
        self._running: dict[Any, asyncio.Event] = {}

    async def get(self, key: Any, fetch: Callable[[], Any]) -> Any:
        while key not in self._done:
            event = self._running.get(key)
            if event is not None:
                await event.wait()
                continue
            event = self._running[key] = asyncio.Event()
            try:
                self._done[key] = await fetch()
            except Exception as exc:
                self._done[key] = exc
            finally:
                del self._running[key]
                event.set()
        result = self._done[key]
        if isinstance(result, Exception):
            raise result
        return result

    def results(self) -> list[Any]:
        return [v for v in self._done.values() if not isinstance(v, Exception)]

    def items(self) -> list[tuple[Any, Any]]:
        return [(k, v) for k, v in self._done.items() if not isinstance(v, Exception)]


class _HttpxCRLFetcher(CRLFetcher):
    """RFC 5280 §4.2.1.13: every http(s) URI of every distribution point."""

    def __init__(self, http: _HttpClient, limits: FetchLimits, budget: _Budget) -> None:
        self._http, self._limits, self._budget = http, limits, budget
        self._cache = _Cache()
        self._by_cert: dict[bytes, list[Any]] = {}

    async def fetch(self, cert: Any, *, use_deltas: Any = None) -> Iterable[Any]:
        key = issuer_serial(cert)
        if key in self._by_cert:
            return self._by_cert[key]
        urls = [
            url
            for dp in get_relevant_crl_dps(cert, use_deltas=bool(use_deltas))
            for url in enumerate_delivery_point_urls(dp)
        ]
        results: list[Any] = []
        last: Exception | None = None
        for url in dict.fromkeys(urls):
            try:
                results.append(await self._cache.get(url, functools.partial(self._grab, url)))
            except CRLFetchError as exc:
                last = exc
        if not results and last is not None:
            raise last
        self._by_cert[key] = results
        return results

    async def _grab(self, url: str) -> Any:
        _check_url(url, CRLFetchError)
        self._budget.charge(CRLFetchError)
        try:
            data, _ = await self._http.request(
                "GET", url, accept="application/pkix-crl", max_bytes=self._limits.max_crl_bytes
            )
            if a_pem.detect(data):
                _, _, data = a_pem.unarmor(data)
            parsed = a_crl.CertificateList.load(data)
            parsed.native  # noqa: B018 - parse it all now, not deep inside validation
            problem = crl_problem(parsed)
            if problem is not None:
                raise ValueError(problem)
            return parsed
        except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
            raise CRLFetchError(f"could not fetch a CRL from {url}: {exc}") from exc

    def fetched_crls(self) -> Iterable[Any]:
        return self._cache.results()

    def fetched_crls_for_cert(self, cert: Any) -> Iterable[Any]:
        return self._by_cert[issuer_serial(cert)]


class _HttpxOCSPFetcher(OCSPFetcher):
    """RFC 6960 Appendix A.1 (POST) to every http(s) OCSP URI of the AIA; the first
    successful response wins. No nonce by default: RFC 5019 responders pre-sign."""

    def __init__(
        self,
        http: _HttpClient,
        limits: FetchLimits,
        budget: _Budget,
        certid_hash: str,
        nonce: bool,
    ) -> None:
        self._http, self._limits, self._budget = http, limits, budget
        self._certid_hash, self._nonce = certid_hash, nonce
        self._cache = _Cache()

    async def fetch(self, cert: Any, authority: Authority) -> Any:
        key = (issuer_serial(cert), authority.hashable)
        return await self._cache.get(key, lambda: self._fetch(cert, authority))

    async def _fetch(self, cert: Any, authority: Authority) -> Any:
        urls = get_ocsp_urls(cert)
        if not urls:
            raise OCSPFetchError("the certificate names no OCSP responder")
        request = format_ocsp_request(
            cert, authority, certid_hash_algo=self._certid_hash, request_nonces=self._nonce
        )
        last: Exception = OCSPFetchError("no OCSP response")
        for url in urls:
            try:
                return await self._grab(url, request)
            except OCSPFetchError as exc:
                last = exc
        raise last

    async def _grab(self, url: str, request: Any) -> Any:
        _check_url(url, OCSPFetchError)
        self._budget.charge(OCSPFetchError)
        try:
            data, _ = await self._http.request(
                "POST",
                url,
                body=request.dump(),
                content_type="application/ocsp-request",
                accept="application/ocsp-response",
                max_bytes=self._limits.max_ocsp_bytes,
            )
            return process_ocsp_response_data(data, ocsp_request=request, ocsp_url=url)
        except (httpx.HTTPError, ValueError, TypeError, KeyError, OCSPValidationError) as exc:
            raise OCSPFetchError(f"could not fetch an OCSP response from {url}: {exc}") from exc

    def fetched_responses(self) -> Iterable[Any]:
        return self._cache.results()

    def fetched_responses_for_cert(self, cert: Any) -> Iterable[Any]:
        wanted = issuer_serial(cert)
        return [resp for (key, _), resp in self._cache.items() if key == wanted]


class _HttpxCertificateFetcher(CertificateFetcher):
    """RFC 5280 §4.2.2.1 caIssuers: a DER certificate or a certs-only CMS bundle."""

    def __init__(self, http: _HttpClient, limits: FetchLimits, budget: _Budget) -> None:
        self._http, self._limits, self._budget = http, limits, budget
        self._cache = _Cache()

    async def _fetch_url(self, url: str) -> list[Any]:
        result: list[Any] = await self._cache.get(url, lambda: self._grab(url))
        return result

    async def _grab(self, url: str) -> list[Any]:
        _check_url(url, CertificateFetchError)
        self._budget.charge(CertificateFetchError)
        try:
            data, ctype = await self._http.request(
                "GET",
                url,
                accept="application/pkix-cert, application/pkcs7-mime",
                max_bytes=self._limits.max_certificate_bytes,
            )
            certs = list(unpack_cert_content(data, ctype, url, permit_pem=True))
            for cert in certs:
                cert.native  # noqa: B018 - parse it all now
            return certs
        except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
            raise CertificateFetchError(f"could not fetch certificates from {url}: {exc}") from exc

    async def _from_urls(self, urls: Iterable[str]) -> AsyncGenerator[Any, None]:
        for url in list(dict.fromkeys(urls))[:8]:
            try:
                for cert in await self._fetch_url(url):
                    yield cert
            except CertificateFetchError as exc:
                logger.info("%s", exc)

    def fetch_cert_issuers(self, cert: Any) -> AsyncGenerator[Any, None]:
        return self._from_urls(gather_aia_issuer_urls(cert))

    def fetch_crl_issuers(self, certificate_list: Any) -> AsyncGenerator[Any, None]:
        return self._from_urls(certificate_list.issuer_cert_urls)

    def fetched_certs(self) -> Iterable[Any]:
        return [c for certs in self._cache.results() for c in certs]


class HttpxFetcherBackend(FetcherBackend):
    """Fetch over HTTP with httpx, within :class:`FetchLimits`.

    ``transport`` replaces httpx's network transport (``httpx.MockTransport`` in tests).
    ``certid_hash``: the CertID hash of OCSP requests, ``sha1`` as RFC 5019 §2.1.1
    requires of lightweight responders (a CertID hash is an identifier, not a
    signature). Close the backend with :meth:`close` from the loop that used it, or
    let it be garbage-collected with the process.
    """

    def __init__(
        self,
        *,
        limits: FetchLimits = DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
        certid_hash: str = "sha1",
        ocsp_nonce: bool = False,
        user_agent: str | None = None,
    ) -> None:
        if certid_hash not in ("sha1", "sha256"):
            raise ValueError("certid_hash must be 'sha1' or 'sha256'")
        self.limits = limits
        self._certid_hash = certid_hash
        self._nonce = ocsp_nonce
        self._http = _HttpClient(
            limits, transport, user_agent or f"govtrust/{govtrust.__version__}"
        )

    def get_fetchers(self) -> Fetchers:
        budget = _Budget(self.limits.max_requests)
        return Fetchers(
            ocsp_fetcher=_HttpxOCSPFetcher(
                self._http, self.limits, budget, self._certid_hash, self._nonce
            ),
            crl_fetcher=_HttpxCRLFetcher(self._http, self.limits, budget),
            cert_fetcher=_HttpxCertificateFetcher(self._http, self.limits, budget),
        )

    async def close(self) -> None:
        await self._http.close()


# ---- offline ---------------------------------------------------------------------------


def _load_crls(ders: Iterable[bytes]) -> list[Any]:
    return [a_crl.CertificateList.load(d) for d in ders]


def _load_ocsps(ders: Iterable[bytes]) -> list[Any]:
    return [a_ocsp.OCSPResponse.load(d) for d in ders]


def _load_certs(certs: Iterable[x509.Certificate]) -> list[Any]:
    return [a_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in certs]


def _certid_matches(single: Any, cert: Any, authority: Authority) -> bool:
    cert_id = single["cert_id"]
    algo = cert_id["hash_algorithm"]["algorithm"].native
    if algo not in ("sha1", "sha256"):
        return False
    return bool(
        cert_id["serial_number"].native == cert.serial_number
        and cert_id["issuer_name_hash"].native == getattr(authority.name, algo)
        and cert_id["issuer_key_hash"].native == getattr(authority.public_key, algo)
    )


class _OfflineCRLFetcher(CRLFetcher):
    def __init__(self, crls: list[Any]) -> None:
        self._crls = crls
        self._served: dict[bytes, list[Any]] = {}

    async def fetch(self, cert: Any, *, use_deltas: Any = None) -> Iterable[Any]:
        found = [c for c in self._crls if c.issuer == cert.issuer]
        if not found:
            raise CRLFetchError("no CRL for this certificate in the validation data")
        self._served[issuer_serial(cert)] = found
        return found

    def fetched_crls(self) -> Iterable[Any]:
        return [c for found in self._served.values() for c in found]

    def fetched_crls_for_cert(self, cert: Any) -> Iterable[Any]:
        return self._served[issuer_serial(cert)]


class _OfflineOCSPFetcher(OCSPFetcher):
    def __init__(self, responses: list[Any]) -> None:
        self._responses = responses
        self._served: dict[bytes, Any] = {}

    async def fetch(self, cert: Any, authority: Authority) -> Any:
        for resp in self._responses:
            try:
                basic = resp.basic_ocsp_response
                singles = basic["tbs_response_data"]["responses"]
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if any(_certid_matches(s, cert, authority) for s in singles):
                self._served[issuer_serial(cert)] = resp
                return resp
        raise OCSPFetchError("no OCSP response for this certificate in the validation data")

    def fetched_responses(self) -> Iterable[Any]:
        return list(self._served.values())

    def fetched_responses_for_cert(self, cert: Any) -> Iterable[Any]:
        found = self._served.get(issuer_serial(cert))
        return [found] if found is not None else []


class _OfflineCertificateFetcher(CertificateFetcher):
    def __init__(self, certs: list[Any]) -> None:
        self._certs = certs
        self._served: list[Any] = []

    async def _issued_by(self, name: Any) -> AsyncGenerator[Any, None]:
        for cert in self._certs:
            if cert.subject == name:
                self._served.append(cert)
                yield cert

    def fetch_cert_issuers(self, cert: Any) -> AsyncGenerator[Any, None]:
        return self._issued_by(cert.issuer)

    def fetch_crl_issuers(self, certificate_list: Any) -> AsyncGenerator[Any, None]:
        return self._issued_by(certificate_list.issuer)

    def fetched_certs(self) -> Iterable[Any]:
        return list(self._served)


class OfflineFetcherBackend(FetcherBackend):
    """Serves only ``data``: nothing is fetched from the network (EN 319 102-1 §5.6:
    validation of a signature with long-term validation material uses what it carries).
    """

    def __init__(self, data: ValidationData) -> None:
        self.data = data
        self._crls = _load_crls(data.crls)
        self._ocsps = _load_ocsps(data.ocsp_responses)
        self._certs = _load_certs(data.certificates)

    def get_fetchers(self) -> Fetchers:
        return Fetchers(
            ocsp_fetcher=_OfflineOCSPFetcher(self._ocsps),
            crl_fetcher=_OfflineCRLFetcher(self._crls),
            cert_fetcher=_OfflineCertificateFetcher(self._certs),
        )
