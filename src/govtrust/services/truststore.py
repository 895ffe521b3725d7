"""The trust store a validation runs with: which certificates are trust anchors, where
each comes from, and what the report should say about the anchor a chain ended at.

Sources, in order: this instance's own root CAs (an instance trusts itself by default),
the anchors configured in ``[verify] trust_anchors`` (PEM files, paths relative to the
data directory), the trust services of imported trusted lists (ETSI TS 119 612, added by
the trusted-list module) and the anchors a caller adds for one validation
(``govtrust verify --trust-anchor``).

:meth:`TrustStore.annotate` post-processes a report: for a chain that ends at a
trusted-list service it names the country, provider and service, and applies the
service's status at the signature's proven time (ETSI TS 119 615).

Trusted-list anchors are the digital identities of the services of the imported
national lists that the recognition policy (``[trustlist]``) accepts, whatever their
current status: a withdrawn CA's signatures made while it was granted stay valid
(TS 119 615 §4.3.3), and the annotator decides at the signature's best-signature-time.
The annotator finds the service of a chain by subject key identifier (one dictionary
lookup per certificate, :class:`govtrust.trustlist.ServiceIndex`), writes
``details["trustedList"]`` (country, provider, service, type, status, qualified or not:
ETSI TS 119 172-4) and downgrades a TOTAL-PASSED signature whose chain ends at a
trusted-list anchor of a service that was not granted at that time to INDETERMINATE /
NO_CERTIFICATE_CHAIN_FOUND (EN 319 102-1 §5.2.6.4: no chain to an anchor trusted at
that time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from govtrust.errors import ConfigError
from govtrust.services.context import Context
from govtrust.services.credentials import trusted_roots
from govtrust.trustlist import ServiceIndex
from govtrust.validation.indications import Indication, SubIndication
from govtrust.validation.report import Report, SignatureKind, SignatureReport

__all__ = [
    "TrustStore",
    "TrustedListAnnotator",
    "configured_anchors",
    "fingerprint",
    "trust_store",
    "trusted_list_index",
]


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, hex: the key of :attr:`TrustStore.sources`."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


@dataclass(frozen=True)
class TrustStore:
    """Trust anchors with the source of each (``instance``, ``configured``,
    ``caller``, or ``trusted-list:<territory>``), and the report annotators of the
    sources that have something to add."""

    anchors: tuple[x509.Certificate, ...]
    sources: Mapping[str, str] = field(default_factory=dict)
    annotators: tuple[Callable[[Report], Report], ...] = ()

    def with_anchors(self, certs: Iterable[x509.Certificate], source: str) -> TrustStore:
        anchors = list(self.anchors)
        sources = dict(self.sources)
        for cert in certs:
            fp = fingerprint(cert)
            if fp not in sources:
                anchors.append(cert)
                sources[fp] = source
        return TrustStore(tuple(anchors), sources, self.annotators)

    def with_annotator(self, annotator: Callable[[Report], Report]) -> TrustStore:
        return TrustStore(self.anchors, self.sources, (*self.annotators, annotator))

    def source_of(self, cert: x509.Certificate) -> str | None:
        return self.sources.get(fingerprint(cert))

    def annotate(self, report: Report) -> Report:
        for annotator in self.annotators:
            report = annotator(report)
        return report


def _load_pems(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read trust anchor file {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{path} holds no PEM certificate") from None


def configured_anchors(ctx: Context) -> list[x509.Certificate]:
    """The certificates of ``[verify] trust_anchors`` (a list of PEM file paths)."""
    value = ctx.settings.section("verify").get("trust_anchors", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("[verify] trust_anchors must be a list of PEM file paths")
    certs: list[x509.Certificate] = []
    for item in value:
        path = Path(item)
        certs += _load_pems(path if path.is_absolute() else ctx.settings.home / path)
    return certs


def _is_ca(cert: x509.Certificate) -> bool:
    """Only CA certificates become path-validation anchors (RFC 5280 §6.1: an anchor
    issues the path). A listed end-entity identity (a TSA's or an OCSP responder's own
    certificate) is matched by the annotator instead (TS 119 615 §4.3.2)."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


_LIST_ANCHORS: dict[int, tuple[ServiceIndex, dict[str, tuple[x509.Certificate, str]]]] = {}


def _list_anchors(index: ServiceIndex) -> dict[str, tuple[x509.Certificate, str]]:
    """The CA identities of an index by fingerprint, with their source, computed once
    per index (indexes are cached per set of imports: see services.trustlists)."""
    cached = _LIST_ANCHORS.get(id(index))
    if cached is not None and cached[0] is index:
        return cached[1]
    found: dict[str, tuple[x509.Certificate, str]] = {}
    for key_services in index.by_key.values():
        for listed in key_services:
            for cert in listed.service.certificates:
                if _is_ca(cert):
                    found.setdefault(fingerprint(cert), (cert, f"trusted-list:{listed.territory}"))
    if len(_LIST_ANCHORS) > 16:
        _LIST_ANCHORS.clear()
    _LIST_ANCHORS[id(index)] = (index, found)
    return found


def _with_list_anchors(store: TrustStore, index: ServiceIndex) -> TrustStore:
    """``store`` plus the list's CA anchors, without re-hashing any certificate."""
    found = _list_anchors(index)
    if not found:
        return store
    anchors = list(store.anchors)
    sources = dict(store.sources)
    for fp, (cert, source) in found.items():
        if fp not in sources:
            anchors.append(cert)
            sources[fp] = source
    return TrustStore(tuple(anchors), sources, store.annotators)


def trusted_list_index(ctx: Context) -> ServiceIndex:
    """The recognised services of the imported lists, indexed by key identifier."""
    from govtrust.services import trustlists

    return trustlists.service_index(ctx)


def _time_of(sig: SignatureReport) -> dt.datetime:
    """TS 119 615 §4.3.3: the signature's best-signature-time (its proven time); for a
    time-stamp its own time; without either, the validation time."""
    if sig.kind is SignatureKind.TIMESTAMP:
        return sig.best_signature_time or sig.signing_time or sig.validation_time
    return sig.best_signature_time or sig.validation_time


@dataclass(frozen=True)
class TrustedListAnnotator:
    """Names the trusted-list service of each chain and applies its status in time."""

    index: ServiceIndex
    sources: Mapping[str, str]
    windows: Mapping[str, tuple[dt.datetime | None, dt.datetime | None]] = field(
        default_factory=dict
    )

    def __call__(self, report: Report) -> Report:
        signatures = tuple(self._signature(s) for s in report.signatures)
        return dataclasses.replace(report, signatures=signatures)

    def _anchor_from_list(self, sig: SignatureReport) -> bool:
        chain = sig.certificate.chain if sig.certificate else ()
        for entry in chain:
            if entry.role == "trust-anchor":
                source = self.sources.get(fingerprint(entry.certificate), "")
                return source.startswith("trusted-list:")
        return False

    def _signature(self, sig: SignatureReport) -> SignatureReport:
        timestamps = tuple(self._signature(t) for t in sig.timestamps)
        if timestamps != sig.timestamps:
            sig = dataclasses.replace(sig, timestamps=timestamps)
        if sig.certificate is None or not sig.certificate.chain:
            return sig
        chain = [c.certificate for c in sig.certificate.chain]
        at = _time_of(sig)
        found = self.index.assess(
            chain, at, timestamp=sig.kind is SignatureKind.TIMESTAMP, windows=self.windows
        )
        if found is None:
            return sig
        details = {**dict(sig.details), "trustedList": found.to_dict()}
        sig = dataclasses.replace(sig, details=details)
        if not found.granted and sig.passed and self._anchor_from_list(sig):
            why = "; ".join(found.reasons) or "it was not granted then"
            sig = dataclasses.replace(
                sig,
                indication=Indication.INDETERMINATE,
                sub_indication=SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
                message=(
                    f"the chain ends at a trust service that was not trusted at"
                    f" {at.isoformat()}: {found.describe()} ({why})"
                ),
            )
        return sig


def trust_store(ctx: Context, *, extra: Sequence[x509.Certificate] = ()) -> TrustStore:
    """The trust store of this instance, plus ``extra`` anchors for one validation."""
    from govtrust.services import trustlists

    store = TrustStore(())
    store = store.with_anchors(trusted_roots(ctx), "instance")
    store = store.with_anchors(configured_anchors(ctx), "configured")
    store = store.with_anchors(extra, "caller")
    index = trusted_list_index(ctx)
    store = _with_list_anchors(store, index)
    if len(index):
        store = store.with_annotator(
            TrustedListAnnotator(index, store.sources, trustlists.recognition_windows(ctx))
        )
    return store
