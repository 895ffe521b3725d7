"""Reuse of a passed certificate validation while nothing it depends on has changed.

A verify portal validates the same few certificates again and again: the instance's
TSA certificate for every signature time-stamp, each official's certificate for every
document they sign, and below them the same CA and OCSP-responder certificates. Each
validation costs path building, RFC 5280 §6.1 processing, and RFC 6960 response
processing with the delegated responder's own path validation (§4.2.2.2). This module
lets :func:`govtrust.validation.path.async_validate_certificate` answer a repeated
question with the answer it computed before, only when that answer provably cannot
differ.

Why that is sound. RFC 5280 §6.1.1 lists the inputs of path validation: the path
(built here from the certificate, the policy's anchors and intermediates, and the
validation data), the current date/time, the user-initial-policy-set and the three
policy flags, and the trust anchor information; §6.3 (CRLs) and RFC 6960 §3.2 (OCSP)
add the revocation data; EN 319 102-1 V1.4.1 §5.2.6.2 names the same inputs for the
X.509 certificate validation building block (signing certificate, trust anchors,
validation time, X.509 validation constraints, cryptographic constraints) and §5.2.5
the revocation freshness checker. The validation is a deterministic function of them.
The key of an entry holds every input except time and fetched data: the certificate's
DER, the whole :class:`~govtrust.validation.policy.ValidationPolicy` (anchors,
intermediates, revocation mode, purpose, algorithm policy, RFC 5280 policy inputs,
chain length) and whether it fixes the validation time (retroactive revocation
data), whether fetching is allowed, and the SHA-256 of every embedded certificate,
CRL and OCSP response in order. The two remaining inputs are checked on each use:

1. *Fetched revocation data.* Every OCSP and CRL fetch the first validation made is
   recorded with the DER it received. A reuse first makes the same requests again
   through the caller's fetchers and requires byte-identical answers; a validation
   given identical answers to identical requests retraces the same computation (by
   induction over its fetches). A validation during which a fetch failed or which
   fetched an issuer certificate (AIA) is never stored. So a revocation cannot hide
   behind an entry: revoking a certificate makes its OCSP service answer with a new
   response (new producedAt, certStatus revoked) and its CA sign a new CRL, whose
   bytes differ, and the entry misses (RFC 6960 §2.2, RFC 5280 §5).
2. *Time.* The validation compares the validation time only with instants carried by
   its inputs: notBefore/notAfter of every certificate it could use (RFC 5280
   §4.1.2.5, §6.1.3 (a)(2)), thisUpdate/nextUpdate/producedAt/revocationTime of
   every OCSP response (RFC 6960 §4.2.2.1, §3.2 item 6) and thisUpdate/nextUpdate
   and entry dates of every CRL (RFC 5280 §5.1.2.4-5, §6.3.3), and the policy's
   algorithm sunsets (ETSI TS 119 312); the time tolerance is zero. Between two
   consecutive such instants every comparison has the same outcome, so an entry
   computed at time *t* serves exactly the open interval between the instants
   around *t* (only *t* itself when *t* is one of them). A validation time after a
   nextUpdate or a notAfter, or before a notBefore, is outside it. Data without a
   nextUpdate (whose freshness pyhanko-certvalidator judges against a fallback
   period) is never stored.

Only results whose validation at the validation time passed are stored: their
indication does not depend on the proof of existence or ``created_after`` (EN 319
102-1 §5.6.2.4 only acts on a failure), so the entry serves any of them. The
fields that carry the validation time are set from the current call. Entries are
immutable frozen dataclasses holding pyca certificates; nothing mutable is shared.
The cache is a bounded LRU (:data:`MAX_ENTRIES`) guarded by a lock, since FastAPI
handlers run validations on their own event loops.

No document verdict is cached: a signature's own checks (its integrity, its
signing-certificate attribute, its time-stamps' imprints) run on every validation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Any

from pyhanko_certvalidator.fetchers import (
    CertificateFetcher,
    CRLFetcher,
    Fetchers,
    OCSPFetcher,
)

from govtrust.validation.results import CertificateValidationResult

__all__ = [
    "MAX_ENTRIES",
    "Recorder",
    "ResultCache",
    "Window",
    "data_digest",
    "instants",
    "results",
]

#: Stored results at most; the least recently used goes first.
MAX_ENTRIES = 512


# ---- recording what a validation fetched -------------------------------------------------


@dataclass
class _Fetch:
    """One fetch and the DER it returned (a list for CRL fetches)."""

    kind: str  # "ocsp" | "crl"
    args: tuple[Any, ...]
    answer: tuple[bytes, ...]


class _RecordingOCSP(OCSPFetcher):
    def __init__(self, inner: OCSPFetcher, recorder: Recorder) -> None:
        self._inner, self._rec = inner, recorder

    async def fetch(self, cert: Any, authority: Any) -> Any:
        try:
            response = await self._inner.fetch(cert, authority)
        except BaseException:
            self._rec.spoil()
            raise
        self._rec.fetches.append(_Fetch("ocsp", (cert, authority), (bytes(response.dump()),)))
        return response

    def fetched_responses(self) -> Iterable[Any]:
        return self._inner.fetched_responses()

    def fetched_responses_for_cert(self, cert: Any) -> Iterable[Any]:
        return self._inner.fetched_responses_for_cert(cert)


class _RecordingCRL(CRLFetcher):
    def __init__(self, inner: CRLFetcher, recorder: Recorder) -> None:
        self._inner, self._rec = inner, recorder

    async def fetch(self, cert: Any, *, use_deltas: Any = None) -> Iterable[Any]:
        try:
            found = list(await self._inner.fetch(cert, use_deltas=use_deltas))
        except BaseException:
            self._rec.spoil()
            raise
        answer = tuple(bytes(c.dump()) for c in found)
        self._rec.fetches.append(_Fetch("crl", (cert, use_deltas), answer))
        return found

    def fetched_crls(self) -> Iterable[Any]:
        return self._inner.fetched_crls()

    def fetched_crls_for_cert(self, cert: Any) -> Iterable[Any]:
        return self._inner.fetched_crls_for_cert(cert)


class _RecordingCerts(CertificateFetcher):
    """Issuer certificates fetched by AIA make the result depend on remote files this
    module does not re-check: a validation that asks for one is not stored."""

    def __init__(self, inner: CertificateFetcher, recorder: Recorder) -> None:
        self._inner, self._rec = inner, recorder

    def fetch_cert_issuers(self, cert: Any) -> AsyncGenerator[Any, None]:
        self._rec.spoil()
        return self._inner.fetch_cert_issuers(cert)

    def fetch_crl_issuers(self, certificate_list: Any) -> AsyncGenerator[Any, None]:
        self._rec.spoil()
        return self._inner.fetch_crl_issuers(certificate_list)

    def fetched_certs(self) -> Iterable[Any]:
        return self._inner.fetched_certs()


@dataclass
class Recorder:
    """The fetches of one validation; ``clean`` while none failed or fetched a
    certificate."""

    fetches: list[_Fetch] = field(default_factory=list)
    clean: bool = True

    def spoil(self) -> None:
        self.clean = False

    def wrap(self, live: Fetchers) -> Fetchers:
        return Fetchers(
            ocsp_fetcher=_RecordingOCSP(live.ocsp_fetcher, self),
            crl_fetcher=_RecordingCRL(live.crl_fetcher, self),
            cert_fetcher=_RecordingCerts(live.cert_fetcher, self),
        )


async def _same_answers(fetches: tuple[_Fetch, ...], live: Fetchers | None) -> bool:
    """Ask again; True when every answer is byte-identical to the recorded one."""
    if fetches and live is None:
        return False
    for done in fetches:
        assert live is not None
        try:
            if done.kind == "ocsp":
                response = await live.ocsp_fetcher.fetch(*done.args)
                answer: tuple[bytes, ...] = (bytes(response.dump()),)
            else:
                cert, use_deltas = done.args
                crls = await live.crl_fetcher.fetch(cert, use_deltas=use_deltas)
                answer = tuple(bytes(c.dump()) for c in crls)
        except Exception:
            return False
        if answer != done.answer:
            return False
    return True


# ---- the instants a validation compares its time with ------------------------------------


def _cert_instants(cert: Any) -> list[dt.datetime]:
    validity = cert["tbs_certificate"]["validity"]
    return [validity["not_before"].native, validity["not_after"].native]


def _ocsp_instants(response: Any) -> list[dt.datetime] | None:
    """RFC 6960 §4.2.1 times of a response and of the certificates it carries; None
    for a response this module will not reason about (not successful, no
    nextUpdate)."""
    if response["response_status"].native != "successful":
        return None
    basic = response["response_bytes"]["response"].parsed
    tbs = basic["tbs_response_data"]
    found = [tbs["produced_at"].native]
    for single in tbs["responses"]:
        this, nxt = single["this_update"].native, single["next_update"].native
        if nxt is None:
            return None
        found += [this, nxt]
        status = single["cert_status"]
        if status.name == "revoked":
            found.append(status.chosen["revocation_time"].native)
        if single["single_extensions"]:
            return None  # archiveCutoff (§4.4.4) and others: not reasoned about here
    for cert in basic["certs"] or ():
        found += _cert_instants(cert)
    return found


def _crl_instants(crl: Any) -> list[dt.datetime] | None:
    """RFC 5280 §5.1.2.4-5 and §5.3.2: thisUpdate, nextUpdate, revocation and
    invalidity dates."""
    tbs = crl["tbs_cert_list"]
    this, nxt = tbs["this_update"].native, tbs["next_update"].native
    if nxt is None:
        return None
    found = [this, nxt]
    for entry in tbs["revoked_certificates"] or ():
        found.append(entry["revocation_date"].native)
        invalidity = entry.invalidity_date_value
        if invalidity is not None:
            found.append(invalidity.native)
    return found


def instants(
    certs: Iterable[Any],
    ocsp_responses: Iterable[Any],
    crls: Iterable[Any],
    sunsets: Iterable[dt.datetime],
) -> list[dt.datetime] | None:
    """Every instant the validation may compare its time with, or None when one of
    the inputs has no usable bound."""
    found: list[dt.datetime] = list(sunsets)
    for cert in certs:
        found += _cert_instants(cert)
    for response in ocsp_responses:
        got = _ocsp_instants(response)
        if got is None:
            return None
        found += got
    for crl in crls:
        got = _crl_instants(crl)
        if got is None:
            return None
        found += got
    return found


@dataclass(frozen=True)
class Window:
    """The validation times at which every comparison comes out as at ``at``: the open
    interval between the neighbouring instants, or ``at`` alone when it is one."""

    low: dt.datetime | None
    high: dt.datetime | None
    exact: dt.datetime | None

    @staticmethod
    def around(at: dt.datetime, points: Iterable[dt.datetime]) -> Window:
        low = high = None
        for p in points:
            if p == at:
                return Window(None, None, at)
            if p < at and (low is None or p > low):
                low = p
            if p > at and (high is None or p < high):
                high = p
        return Window(low, high, None)

    def holds(self, at: dt.datetime) -> bool:
        if self.exact is not None:
            return at == self.exact
        return (self.low is None or self.low < at) and (self.high is None or at < self.high)


# ---- the cache ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    result: CertificateValidationResult
    window: Window
    fetches: tuple[_Fetch, ...]


def data_digest(ders: Iterable[bytes]) -> tuple[bytes, ...]:
    return tuple(hashlib.sha256(d).digest() for d in ders)


class ResultCache:
    """Bounded LRU of passed certificate validations; see the module docstring for why
    a hit equals a fresh validation."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Any, list[_Entry]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def lookup(
        self, key: Any, at: dt.datetime, live: Fetchers | None
    ) -> CertificateValidationResult | None:
        with self._lock:
            candidates = [e for e in self._entries.get(key, ()) if e.window.holds(at)]
            if candidates:
                self._entries.move_to_end(key)
        for entry in candidates:
            if await _same_answers(entry.fetches, live):
                with self._lock:
                    self.hits += 1
                return entry.result
        with self._lock:
            self.misses += 1
        return None

    def store(
        self,
        key: Any,
        result: CertificateValidationResult,
        window: Window,
        recorder: Recorder,
    ) -> None:
        if not recorder.clean:
            return
        entry = _Entry(result, window, tuple(recorder.fetches))
        with self._lock:
            kept = [e for e in self._entries.get(key, ()) if e.window != window][-3:]
            self._entries[key] = [*kept, entry]
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


#: The process-wide cache :func:`govtrust.validation.path.async_validate_certificate`
#: uses.
results = ResultCache()
