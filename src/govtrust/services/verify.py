"""Validation as a service: ``govtrust verify``, ``POST /verify`` and the portal.

:func:`verify_document` validates any signed document (PDF, CMS/CAdES, XML/XAdES,
ASiC, a file with its detached signature, or a sealed govtrust report) under a
policy built from this instance's trust store (``services.truststore``) and the
caller's choices (:class:`VerifyOptions`), and returns the ETSI TS 119 102-2-shaped
:class:`~govtrust.validation.report.Report`.

Revocation data: for certificates issued by this instance's own CAs, OCSP answers come
from its OCSP service and CRLs from storage, in-process (as ``services.signing`` does
for B-LT), so an instance validates its own signatures without reaching itself over
the network; everything else is fetched over HTTP (``HttpxFetcherBackend``), unless
``[verify] fetch = false``, where nothing is fetched (only what the document embeds).

Reports are sealed by the service (an electronic seal, eIDAS Art. 3(25)):

- :func:`sealed_json`: the report's JSON plus a ``seal`` member, a detached
  CAdES-BASELINE-T signature (ETSI EN 319 122-1) by the ``[verify] seal_credential``
  over the RFC 8785 canonical form of the report without its ``seal`` member;
  :func:`verify_document` recognises such a report and validates its seal, so anyone
  can prove what govtrust said and when. :func:`seal_report` gives it with the PDF
  below; :func:`seal_payload` seals a report given as its JSON form (the portal seals
  a verdict's report only when the visitor asks for it).
- :func:`render_pdf`: a readable PDF carrying the sealed JSON as an embedded file,
  signed PAdES-BASELINE-T (ETSI EN 319 142-1) by the same credential.
- :func:`render_html`: a standalone page with the sealed JSON embedded.

Every sealed report is recorded in the audit trail (``validation.report``, object type
``validation-report``, object hash the SHA-256 of the sealed output), and so reaches
the transparency ledger. The record holds the indication and the rendering: never the
document, its name, nor the signer's name.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from asn1crypto import crl as a_crl
from asn1crypto import ocsp as a_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.errors import CRLFetchError, OCSPFetchError
from pyhanko_certvalidator.fetchers import CRLFetcher, FetcherBackend, Fetchers, OCSPFetcher
from pyhanko_certvalidator.util import issuer_serial

from govtrust.audit import AuditEvent
from govtrust.ca.authority import cert_id_hash
from govtrust.errors import (
    ConfigError,
    CredentialUnusable,
    DocumentTooLarge,
    InputError,
    ReportSealUnavailable,
    UnknownCredential,
    UnsupportedDocument,
)
from govtrust.services.context import Actor, Context
from govtrust.services.revocation import OcspService
from govtrust.services.signing import (
    InProcessRevocation,
    Level,
    SignatureFormat,
    SigningOptions,
    record_event,
    sign_document,
)
from govtrust.services.truststore import TrustStore, trust_store
from govtrust.validation import render as _render
from govtrust.validation.documents import validate_document
from govtrust.validation.fetchers import HttpxFetcherBackend, OfflineFetcherBackend, ValidationData
from govtrust.validation.policy import RevocationMode, ValidationPolicy
from govtrust.validation.report import Report

__all__ = [
    "CANONICALIZATION",
    "DEFAULT_ACTOR",
    "REPORT_MEDIA_TYPES",
    "SEAL_FORMAT",
    "InstanceFetcherBackend",
    "SealedReport",
    "VerifyOptions",
    "VerifySettings",
    "is_sealed_report",
    "render_html",
    "render_pdf",
    "seal_payload",
    "seal_report",
    "sealed_json",
    "verify_document",
    "verify_settings",
]

SEAL_FORMAT = "CAdES-BASELINE-T"
CANONICALIZATION = "RFC 8785 (JCS) of the report without its seal member"
REPORT_MEDIA_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
DEFAULT_ACTOR = Actor("service:validation", "auditor")
"""Who seals a report when the caller names no one (the public ``POST /verify``)."""

_MIB = 1024 * 1024
_AUDIT_ACTION = "validation.report"
_AUDIT_OBJECT = "validation-report"


@dataclass(frozen=True)
class VerifyOptions:
    """One validation's policy choices (the report records the policy that applied)."""

    at: dt.datetime | None = None
    trust_anchors: tuple[x509.Certificate, ...] = ()
    revocation: RevocationMode | None = None  # None: the instance default


# ---- [verify] ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifySettings:
    """The ``[verify]`` table of govtrust.toml.

    ``seal_credential``: the seal credential of reports; ``revocation``: the default
    revocation mode; ``fetch``: fetch revocation data and certificates over HTTP for
    certificates of other issuers; ``max_document_bytes``: the largest document (and
    detached signature) accepted; ``trust_anchors`` (PEM files) is read by
    ``services.truststore.configured_anchors``.
    """

    seal_credential: str = "validation-service"
    revocation: RevocationMode = RevocationMode.REQUIRE
    fetch: bool = True
    max_document_bytes: int = 50 * _MIB


_KEYS = frozenset({"seal_credential", "revocation", "fetch", "max_document_bytes", "trust_anchors"})


def verify_settings(ctx: Context) -> VerifySettings:
    """Parse ``[verify]``: ConfigError for an unknown key or a value of the wrong kind."""
    raw = ctx.settings.section("verify")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(
            f"unknown key(s) in [verify]: {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})"
        )
    out = VerifySettings()
    if "seal_credential" in raw:
        value = raw["seal_credential"]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError("[verify] seal_credential must be a credential name")
        out = dataclasses.replace(out, seal_credential=value.strip())
    if "revocation" in raw:
        value = raw["revocation"]
        try:
            mode = RevocationMode.parse(value) if isinstance(value, str) else None
        except InputError:
            mode = None
        if mode is None:
            allowed = ", ".join(m.value for m in RevocationMode)
            raise ConfigError(f"[verify] revocation must be one of: {allowed}")
        out = dataclasses.replace(out, revocation=mode)
    if "fetch" in raw:
        if not isinstance(raw["fetch"], bool):
            raise ConfigError("[verify] fetch must be true or false")
        out = dataclasses.replace(out, fetch=raw["fetch"])
    if "max_document_bytes" in raw:
        value = raw["max_document_bytes"]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError("[verify] max_document_bytes must be a positive integer")
        out = dataclasses.replace(out, max_document_bytes=value)
    return out


# ---- fetchers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _OwnCA:
    certificate: x509.Certificate
    subject_der: bytes
    spki_der: bytes
    key_id: bytes | None
    cert_id: tuple[bytes, bytes]
    """RFC 6960 §4.1.1 (issuerNameHash, issuerKeyHash) under SHA-256."""


_OWN_LOCK = threading.Lock()
_OWN_CAS: dict[int, tuple[tuple[x509.Certificate, ...], tuple[_OwnCA, ...]]] = {}


def _own_cas(authorities: tuple[x509.Certificate, ...]) -> tuple[_OwnCA, ...]:
    """The match keys of this instance's CA certificates (``TrustStore.authorities``),
    computed once per tuple: the trust store hands out the same tuple until a CA is
    added (see ``services.truststore.trust_store``)."""
    with _OWN_LOCK:
        cached = _OWN_CAS.get(id(authorities))
        if cached is not None and cached[0] is authorities:
            return cached[1]
    cas = []
    for cert in authorities:
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            ski = None
        cas.append(
            _OwnCA(
                cert,
                cert.subject.public_bytes(),
                cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
                ski,
                cert_id_hash(cert, hashes.SHA256()),
            )
        )
    with _OWN_LOCK:
        if len(_OWN_CAS) > 16:
            _OWN_CAS.clear()
        _OWN_CAS[id(authorities)] = (authorities, tuple(cas))
    return tuple(cas)


def _aki(cert: Any) -> bytes | None:
    value = cert.authority_key_identifier if hasattr(cert, "authority_key_identifier") else None
    return bytes(value) if value else None


class _InstanceOCSPFetcher(OCSPFetcher):
    """RFC 6960 answers from this instance's OCSP service for certificates its CAs
    issued; others go to ``inner``."""

    def __init__(self, own: _Own, inner: OCSPFetcher) -> None:
        self._own, self._inner = own, inner
        self._served: dict[Any, Any] = {}

    async def fetch(self, cert: Any, authority: Authority) -> Any:
        ca = self._own.by_authority(authority)
        if ca is None or not hasattr(cert, "dump"):
            return await self._inner.fetch(cert, authority)
        key = issuer_serial(cert)
        if key in self._served:
            return self._served[key]
        der = await self._own.ocsp(cert, ca)
        if der is None:
            raise OCSPFetchError("this instance's OCSP service has no answer for the certificate")
        response = a_ocsp.OCSPResponse.load(der)
        if response["response_status"].native != "successful":
            raise OCSPFetchError("this instance's OCSP service refused the request")
        self._served[key] = response
        return response

    def fetched_responses(self) -> Iterable[Any]:
        return [*self._served.values(), *self._inner.fetched_responses()]

    def fetched_responses_for_cert(self, cert: Any) -> Iterable[Any]:
        own = self._served.get(issuer_serial(cert))
        return [own] if own is not None else self._inner.fetched_responses_for_cert(cert)


class _InstanceCRLFetcher(CRLFetcher):
    """CRLs of this instance's CAs from storage; others from ``inner``."""

    def __init__(self, own: _Own, inner: CRLFetcher) -> None:
        self._own, self._inner = own, inner
        self._served: dict[Any, list[Any]] = {}

    async def fetch(self, cert: Any, *, use_deltas: Any = None) -> Iterable[Any]:
        ca = self._own.issuer_of(cert)
        if ca is None:
            return await self._inner.fetch(cert, use_deltas=use_deltas)
        der = await asyncio.to_thread(self._own.revocation.crl, ca.certificate)
        if der is None:
            raise CRLFetchError("this instance has no CRL for the certificate's CA")
        found = [a_crl.CertificateList.load(der)]
        self._served[issuer_serial(cert)] = found
        return found

    def fetched_crls(self) -> Iterable[Any]:
        own = [c for found in self._served.values() for c in found]
        return [*own, *self._inner.fetched_crls()]

    def fetched_crls_for_cert(self, cert: Any) -> Iterable[Any]:
        key = issuer_serial(cert)
        if key in self._served:
            return self._served[key]
        return self._inner.fetched_crls_for_cert(cert)


class _Own:
    """This instance's CAs, matched by name and key, with its in-process revocation."""

    def __init__(self, ctx: Context, authorities: tuple[x509.Certificate, ...]) -> None:
        self.cas = _own_cas(authorities)
        self.revocation = InProcessRevocation(ctx)
        self._ctx = ctx

    async def ocsp(self, cert: Any, ca: _OwnCA) -> bytes | None:
        """The OCSP answer (DER) of this instance's OCSP service for ``cert``, or None.

        The current pre-signed answer is read on the event loop
        (``OcspService.stored_answer_for``: one primary-key read, as ``POST /ocsp``'s
        fast path), without a request to build and parse or a thread to hand off to;
        otherwise (CA map not loaded yet, no answer stored, answer expired)
        ``OcspService.respond`` runs in a thread, signs what is missing and reloads the
        CA map. Nothing is cached: a revocation shows at the next lookup.
        """
        name_hash, key_hash = ca.cert_id
        serial = int(cert.serial_number)
        service = _ocsp_service(self._ctx)
        answer = await service.stored_answer_for("sha256", name_hash, key_hash, serial)
        if answer is None:
            subject = x509.load_der_x509_certificate(cert.dump())
            request = (
                ocsp.OCSPRequestBuilder()
                .add_certificate(subject, ca.certificate, hashes.SHA256())
                .build()
                .public_bytes(Encoding.DER)
            )
            answer = await asyncio.to_thread(service.respond, request)
            if not answer.cacheable:
                return None
        return answer.der

    def by_authority(self, authority: Authority) -> _OwnCA | None:
        name, key = authority.name.dump(), authority.public_key.dump()
        for ca in self.cas:
            if ca.subject_der == name and ca.spki_der == key:
                return ca
        return None

    def issuer_of(self, cert: Any) -> _OwnCA | None:
        try:
            issuer = cert.issuer.dump()
        except AttributeError:
            return None
        aki = _aki(cert)
        for ca in self.cas:
            if ca.subject_der == issuer and (aki is None or ca.key_id in (None, aki)):
                return ca
        return None


_OCSP_LOCK = threading.Lock()
_OCSP: OrderedDict[tuple[int, int], tuple[Context, asyncio.AbstractEventLoop, OcspService]] = (
    OrderedDict()
)


def _ocsp_service(ctx: Context) -> OcspService:
    """This instance's OCSP service for the validations of ``ctx`` on the running event
    loop (the one validation loop of the synchronous API; the 8 most recently used
    pairs): its CA map and its stored-answer reader, whose PostgreSQL connections belong
    to one loop, serve every validation there, where a service per validation would
    reload the map and register a reader each time."""
    loop = asyncio.get_running_loop()
    key = (id(ctx), id(loop))
    with _OCSP_LOCK:
        entry = _OCSP.get(key)
        if entry is not None and entry[0] is ctx and entry[1] is loop:
            _OCSP.move_to_end(key)
            return entry[2]
        service = OcspService(ctx)
        _OCSP[key] = (ctx, loop, service)
        while len(_OCSP) > 8:
            _OCSP.popitem(last=False)
        return service


class InstanceFetcherBackend(FetcherBackend):
    """Revocation data for certificates issued by this instance's CAs answered
    in-process (its OCSP service, its CRLs from storage); everything else, and every
    issuer certificate, from ``fallback``. ``authorities``: this instance's CA
    certificates (default: read through ``services.truststore.trust_store``)."""

    def __init__(
        self,
        ctx: Context,
        fallback: FetcherBackend,
        authorities: tuple[x509.Certificate, ...] | None = None,
    ) -> None:
        if authorities is None:
            authorities = trust_store(ctx).authorities
        self._own = _Own(ctx, authorities)
        self._fallback = fallback

    def get_fetchers(self) -> Fetchers:
        inner = self._fallback.get_fetchers()
        return Fetchers(
            ocsp_fetcher=_InstanceOCSPFetcher(self._own, inner.ocsp_fetcher),
            crl_fetcher=_InstanceCRLFetcher(self._own, inner.crl_fetcher),
            cert_fetcher=inner.cert_fetcher,
        )

    async def close(self) -> None:
        """The fallback is shared and outlives this backend: nothing to close here."""


_HTTP_LOCK = threading.Lock()
_HTTP: HttpxFetcherBackend | None = None


def _http_backend() -> HttpxFetcherBackend:
    """One HTTP backend per process: it pools connections between validations."""
    global _HTTP
    with _HTTP_LOCK:
        if _HTTP is None:
            _HTTP = HttpxFetcherBackend()
        return _HTTP


# ---- validating -----------------------------------------------------------------------------


def _policy(
    store: TrustStore, options: VerifyOptions, settings: VerifySettings
) -> ValidationPolicy:
    builder = (
        ValidationPolicy.builder()
        .trust_anchors(list(store.anchors))
        .intermediates(list(store.authorities))
        .revocation(options.revocation or settings.revocation)
    )
    if options.at is not None:
        builder = builder.at(options.at)
    return builder.build()


def is_sealed_report(data: bytes) -> bool:
    """Whether ``data`` is a JSON object with a govtrust report seal member."""
    return _sealed_report(data) is not None


def _sealed_report(data: bytes) -> dict[str, Any] | None:
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(b"{"):
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    seal = value.get("seal")
    if not isinstance(seal, dict) or seal.get("format") != SEAL_FORMAT:
        return None
    return value


def _seal_parts(report: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """The canonical bytes a sealed report's seal signs, and the seal's CMS."""
    seal = report["seal"]
    signature = seal.get("signature")
    if not isinstance(signature, str):
        raise UnsupportedDocument("the report's seal has no base64 signature")
    try:
        cms_der = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise UnsupportedDocument("the report's seal signature is not base64") from None
    try:
        canonical = _render.canonical_json({k: v for k, v in report.items() if k != "seal"})
    except (ValueError, RecursionError):
        raise UnsupportedDocument("the report cannot be canonicalised (RFC 8785)") from None
    return canonical, cms_der


def verify_document(
    ctx: Context,
    data: bytes,
    *,
    name: str | None = None,
    detached: bytes | None = None,
    options: VerifyOptions = VerifyOptions(),
    actor: Actor | None = None,
    fetchers: FetcherBackend | None = None,
) -> Report:
    """Validate every signature and time-stamp of ``data`` (or of ``detached`` over
    ``data``). A sealed govtrust report (JSON, see :func:`sealed_json`) is validated
    as its seal: the report says whether the seal holds over the report's canonical
    form, and what the sealed report said (``document.sealedReport``).

    ``fetchers`` replaces the fetcher for certificates of other issuers (HTTP, or
    nothing with ``[verify] fetch = false``). ``actor`` is who asks; a validation
    leaves no trace in the audit trail unless a sealed report is made.
    UnsupportedDocument for input that is no signed document; DocumentTooLarge over
    ``[verify] max_document_bytes``; InputError for a bad policy choice.
    """
    del actor  # validation is not an audited action; sealing a report is
    settings = verify_settings(ctx)
    for part in (data, detached):
        if part is not None and len(part) > settings.max_document_bytes:
            raise DocumentTooLarge(
                settings.max_document_bytes,
                f"the document is larger than {settings.max_document_bytes} bytes"
                " ([verify] max_document_bytes)",
            )
    store = trust_store(ctx, extra=options.trust_anchors)
    policy = _policy(store, options, settings)
    fallback = fetchers or (
        _http_backend() if settings.fetch else OfflineFetcherBackend(ValidationData())
    )
    backend = InstanceFetcherBackend(ctx, fallback, store.authorities)
    sealed = _sealed_report(data) if detached is None else None
    if sealed is not None:
        canonical, cms_der = _seal_parts(sealed)
        report = validate_document(
            canonical, policy, detached=cms_der, name=name, fetchers=backend, clock=ctx.clock
        )
        document = sealed.get("document")
        report = dataclasses.replace(
            report,
            document={
                **report.document,
                "kind": "govtrust sealed validation report",
                "sealedReport": {
                    "indication": sealed.get("indication"),
                    "subIndication": sealed.get("subIndication"),
                    "validationTime": sealed.get("validationTime"),
                    "documentSha256": (
                        document.get("sha256") if isinstance(document, dict) else None
                    ),
                    "generator": sealed.get("generator"),
                    "sealCredential": sealed["seal"].get("credential"),
                },
            },
        )
    else:
        report = validate_document(
            data, policy, detached=detached, name=name, fetchers=backend, clock=ctx.clock
        )
    return store.annotate(report)


# ---- sealing --------------------------------------------------------------------------------


def _unavailable(credential: str, why: str) -> ReportSealUnavailable:
    return ReportSealUnavailable(
        credential,
        f"cannot seal the validation report: {why}. Create a seal credential "
        f"(govtrust credential create {credential} --ca ISSUING-CA --profile seal "
        '--subject "CN=... Validation Service,O=...,C=..."), or name another one in '
        "govtrust.toml: [verify] seal_credential",
    )


def _seal(
    ctx: Context,
    credential: str,
    data: bytes,
    filename: str,
    fmt: SignatureFormat,
    actor: Actor,
) -> bytes:
    try:
        result = sign_document(
            ctx, data, filename, credential, actor, SigningOptions(format=fmt, level=Level.B_T)
        )
    except UnknownCredential:
        raise _unavailable(credential, f"there is no credential {credential!r}") from None
    except CredentialUnusable as exc:
        raise _unavailable(credential, str(exc)) from None
    return result.document.data


def _record(
    ctx: Context,
    actor: Actor,
    credential: str,
    report: Mapping[str, Any],
    produced: bytes,
    rendering: str,
) -> None:
    digest = hashlib.sha256(produced).hexdigest()
    details: dict[str, str | int | bool] = {
        "rendering": rendering,
        "indication": str(report.get("indication")),
        "signatures": len(report.get("signatures") or ()),
        "seal_credential": credential,
    }
    if report.get("subIndication"):
        details["sub_indication"] = str(report["subIndication"])
    # Through the signing records' group commit (concurrent reports share a transaction
    # and an fsync); returns once the record is committed.
    record_event(
        ctx,
        AuditEvent(
            action=_AUDIT_ACTION,
            actor=actor.name,
            time=ctx.clock.now(),
            object_type=_AUDIT_OBJECT,
            object_id=f"sha256:{digest}",
            object_sha256=digest,
            details=details,
        ),
    )


@dataclass(frozen=True)
class SealedReport:
    """A sealed validation report: ``payload`` is the report as a dict (without its
    seal; do not modify it), ``json`` the sealed JSON (:func:`sealed_json`), ``pdf``
    the PAdES-sealed PDF carrying that JSON (:func:`render_pdf`) when it was asked for."""

    payload: Mapping[str, Any]
    json: bytes
    pdf: bytes | None = None


def seal_payload(
    ctx: Context, payload: Mapping[str, Any], *, actor: Actor | None = None, pdf: bool = False
) -> SealedReport:
    """Seal a report given as its JSON form: :meth:`Report.to_dict`, or that form parsed
    back from its RFC 8785 canonical JSON (the portal's "download the signed report"
    form), which has the same canonical bytes (RFC 8785 §3.2: JCS is a function of the
    JSON value, not of its layout or member order) and so gets the same seal.

    The sealed JSON is ``payload`` plus a ``seal`` member, a detached CAdES-BASELINE-T
    signature (EN 319 122-1) over the RFC 8785 canonical form of ``payload``; with
    ``pdf``, also the PAdES-sealed PDF carrying that same JSON: one CAdES seal (and one
    PAdES seal) for both. Each output is recorded in the audit trail. InputError when
    ``payload`` already has a ``seal`` member or cannot be written as RFC 8785 JSON;
    ReportSealUnavailable when the seal credential is missing or unusable."""
    if "seal" in payload:
        raise InputError("the report to seal already has a seal member")
    try:
        canonical = _render.canonical_json(payload)
    except ValueError as exc:
        raise InputError(f"the report cannot be written as RFC 8785 JSON: {exc}") from None
    who = actor or DEFAULT_ACTOR
    credential = verify_settings(ctx).seal_credential
    cms_der = _seal(
        ctx, credential, canonical, "validation-report.json", SignatureFormat.CADES, who
    )
    sealed = {
        **payload,
        "seal": {
            "format": SEAL_FORMAT,
            "canonicalization": CANONICALIZATION,
            "credential": credential,
            "signature": base64.b64encode(cms_der).decode("ascii"),
        },
    }
    data = (json.dumps(sealed, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    _record(ctx, who, credential, payload, data, "json")
    if not pdf:
        return SealedReport(payload, data)
    unsigned = _render.render_pdf(
        sealed,
        attachments=[("validation-report.json", data, "The sealed validation report (JSON)")],
        created=ctx.clock.now(),
    )
    signed = _seal(ctx, credential, unsigned, "validation-report.pdf", SignatureFormat.PADES, who)
    _record(ctx, who, credential, sealed, signed, "pdf")
    return SealedReport(payload, data, signed)


def seal_report(
    ctx: Context, report: Report, *, actor: Actor | None = None, pdf: bool = False
) -> SealedReport:
    """The sealed JSON of ``report`` and, with ``pdf``, its sealed PDF carrying that same
    JSON (:func:`seal_payload` of ``report.to_dict()``): one CAdES seal (and one PAdES
    seal) for both, where :func:`sealed_json` then :func:`render_pdf` seal the JSON
    twice. ReportSealUnavailable when the seal credential is missing or unusable."""
    return seal_payload(ctx, report.to_dict(), actor=actor, pdf=pdf)


def sealed_json(ctx: Context, report: Report, *, actor: Actor | None = None) -> bytes:
    """The report as JSON (UTF-8) with its ``seal`` member; recorded in the audit
    trail. ReportSealUnavailable when the seal credential is missing or unusable."""
    return seal_report(ctx, report, actor=actor).json


def render_html(report: Report, *, lang: str = "en", sealed: bytes | None = None) -> str:
    """A standalone HTML page of the report in ``lang`` (``en`` or ``ar``), with
    ``sealed`` (the output of :func:`sealed_json`) embedded in
    ``<script type="application/json" id="govtrust-report">``; without it the page
    embeds the unsealed report and says so."""
    if lang not in _render.LANGUAGES:
        raise InputError(f"unsupported report language {lang!r} (use one of: en, ar)")
    embedded = json.loads(sealed) if sealed is not None else None
    return _render.render_html(report.to_dict(), lang=lang, embedded=embedded)


def render_pdf(ctx: Context, report: Report, *, actor: Actor | None = None) -> bytes:
    """A readable PDF of the report, with the sealed JSON report as an embedded file,
    signed PAdES-BASELINE-T with the seal credential; recorded in the audit trail."""
    pdf = seal_report(ctx, report, actor=actor, pdf=True).pdf
    assert pdf is not None
    return pdf
