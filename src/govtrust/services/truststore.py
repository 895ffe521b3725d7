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
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from govtrust.errors import ConfigError
from govtrust.services.context import Context
from govtrust.services.credentials import trusted_roots
from govtrust.validation.report import Report

__all__ = ["TrustStore", "configured_anchors", "fingerprint", "trust_store"]


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


def trust_store(ctx: Context, *, extra: Sequence[x509.Certificate] = ()) -> TrustStore:
    """The trust store of this instance, plus ``extra`` anchors for one validation."""
    store = TrustStore(())
    store = store.with_anchors(trusted_roots(ctx), "instance")
    store = store.with_anchors(configured_anchors(ctx), "configured")
    return store.with_anchors(extra, "caller")
