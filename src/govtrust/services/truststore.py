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
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import CompoundSelect, func, literal, select, union_all

from govtrust.errors import ConfigError
from govtrust.services.context import Context
from govtrust.store.models import CertificateAuthority
from govtrust.store.trustlist_models import TrustListSourceRow
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
    authorities: tuple[x509.Certificate, ...] = ()
    """Every CA certificate of this instance (roots and intermediates, by creation),
    read with the anchors: a validation's intermediates and the CAs whose revocation
    data it answers in-process."""

    def with_anchors(self, certs: Iterable[x509.Certificate], source: str) -> TrustStore:
        anchors = list(self.anchors)
        sources = dict(self.sources)
        for cert in certs:
            fp = fingerprint(cert)
            if fp not in sources:
                anchors.append(cert)
                sources[fp] = source
        return dataclasses.replace(self, anchors=tuple(anchors), sources=sources)

    def with_annotator(self, annotator: Callable[[Report], Report]) -> TrustStore:
        return dataclasses.replace(self, annotators=(*self.annotators, annotator))

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
    return dataclasses.replace(store, anchors=tuple(anchors), sources=sources)


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


# ---- the cached part, per Context ------------------------------------------------------

_CA_ROWS = select(CertificateAuthority.cert_der, CertificateAuthority.parent_id).order_by(
    CertificateAuthority.id
)
# One statement, one round trip: (0, CA count, highest CA id), then (1, source id,
# current import id) for each trusted list with a current import.
_STATE: CompoundSelect[tuple[int, int, int]] = union_all(
    select(literal(0), func.count(CertificateAuthority.id), func.max(CertificateAuthority.id)),
    select(literal(1), TrustListSourceRow.id, TrustListSourceRow.current_import_id).where(
        TrustListSourceRow.kind == "tl", TrustListSourceRow.current_import_id.is_not(None)
    ),
)


@dataclass(frozen=True)
class _Base:
    """What the store of a Context holds without a caller's anchors, and the change
    indicator it was read under."""

    version: tuple[object, ...]
    roots: tuple[x509.Certificate, ...]
    authorities: tuple[x509.Certificate, ...]
    configured: tuple[x509.Certificate, ...]
    index: ServiceIndex
    windows: Mapping[str, tuple[dt.datetime | None, dt.datetime | None]]
    store: TrustStore


_BASES: OrderedDict[int, tuple[Context, _Base]] = OrderedDict()
_BASES_LOCK = threading.Lock()
_BASES_SIZE = 8  # the most recently used contexts: a server has one, tests open many


def _configured_files(ctx: Context) -> tuple[object, ...] | None:
    """``(path, mtime, size, inode)`` of each ``[verify] trust_anchors`` file, or None
    when one cannot be stat'ed (then nothing is cached: the read reports the error)."""
    value = ctx.settings.section("verify").get("trust_anchors", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    out: list[object] = []
    for item in value:
        path = Path(item) if Path(item).is_absolute() else ctx.settings.home / item
        try:
            st = path.stat()
        except OSError:
            return None
        out.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(out)


def _version(ctx: Context) -> tuple[object, ...] | None:
    """The change indicator of the trust store: one short read-only connection with one
    small statement (CA count and highest id; each trusted-list source's current
    import), plus the identity of the settings and the stat of the configured anchor
    files. CA rows are only ever added (their certificate never changes) and a trusted
    list changes only by a new current import (imports are immutable rows), so an equal
    indicator means an equal store. None: do not cache."""
    files = _configured_files(ctx)
    if files is None:
        return None
    with ctx.db.read_engine.connect() as connection:
        state = tuple(sorted(tuple(r) for r in connection.execute(_STATE).all()))
    return (id(ctx.settings), state, files)


def _read_base(ctx: Context, version: tuple[object, ...] | None) -> _Base:
    from govtrust.services import trustlists

    with ctx.db.read() as session:
        rows = session.execute(_CA_ROWS).all()
    authorities = tuple(x509.load_der_x509_certificate(der) for der, _ in rows)
    roots = tuple(c for c, (_, parent) in zip(authorities, rows, strict=True) if parent is None)
    configured = tuple(configured_anchors(ctx))
    index = trusted_list_index(ctx)
    windows = trustlists.recognition_windows(ctx) if len(index) else {}
    store = _compose(roots, authorities, configured, (), index, windows)
    return _Base(version or (), roots, authorities, configured, index, windows, store)


def _compose(
    roots: Sequence[x509.Certificate],
    authorities: tuple[x509.Certificate, ...],
    configured: Sequence[x509.Certificate],
    extra: Sequence[x509.Certificate],
    index: ServiceIndex,
    windows: Mapping[str, tuple[dt.datetime | None, dt.datetime | None]],
) -> TrustStore:
    store = TrustStore((), authorities=authorities)
    store = store.with_anchors(roots, "instance")
    store = store.with_anchors(configured, "configured")
    store = store.with_anchors(extra, "caller")
    store = _with_list_anchors(store, index)
    if len(index):
        store = store.with_annotator(TrustedListAnnotator(index, store.sources, windows))
    return store


def _base(ctx: Context) -> _Base:
    version = _version(ctx)
    with _BASES_LOCK:
        entry = _BASES.get(id(ctx))
        fresh = entry is not None and entry[0] is ctx and entry[1].version == version
        if entry is not None and fresh and version is not None:
            _BASES.move_to_end(id(ctx))
            return entry[1]
    base = _read_base(ctx, version)
    if version is not None:
        with _BASES_LOCK:
            _BASES[id(ctx)] = (ctx, base)
            _BASES.move_to_end(id(ctx))
            while len(_BASES) > _BASES_SIZE:
                _BASES.popitem(last=False)
    return base


def trust_store(ctx: Context, *, extra: Sequence[x509.Certificate] = ()) -> TrustStore:
    """The trust store of this instance, plus ``extra`` anchors for one validation.

    The instance's part (its CAs, the configured anchors, the imported trusted lists) is
    kept per Context and re-read when its change indicator moves (:func:`_version`: a
    new CA, a new current import of a trusted list, a changed anchor file), so a change
    committed by any process shows at the next call. ``extra`` is never kept.
    """
    base = _base(ctx)
    if not extra:
        return base.store
    return _compose(base.roots, base.authorities, base.configured, extra, base.index, base.windows)
