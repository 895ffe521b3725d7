"""What a trusted list says about a certificate chain at a time (ETSI TS 119 615 §4.3,
ETSI TS 119 172-4 §4 / Annex).

:class:`ServiceIndex` holds the services of imported lists keyed by the subject key
identifier of each service digital identity (the certificate's SKI extension or its
RFC 5280 §4.2.1.2 method-1 hash, and the ``X509SKI`` a list gives), so that finding the
service of a certificate is one dictionary lookup per certificate of the chain, never a
scan of the list (TS 119 615 §4.3.2 matches on the public key/SKI).

:func:`ServiceIndex.assess` applies TS 119 615 §4.3.3: the chain's service is the one
whose identity is the end-entity certificate itself (a TSA, a validation service) or the
nearest certificate above it; its status at the relevant time (the signature's
best-signature-time, the time-stamp's time) is the latest status that started no later;
the service is trusted then if that status is *granted* (or a pre-2016 equivalent).
For a signature, TS 119 172-4 decides whether it is *qualified*:

1. the service is a ``CA/QC`` service granted at that time;
2. the certificate is qualified: an EN 319 412-5 ``QcCompliance`` statement, or a
   Qualifications extension (TS 119 612 §5.5.9.2) whose criteria it meets adds
   ``QCStatement``; ``NotQualified`` removes it;
3. its private key is in a QSCD: ``QcSSCD`` in the certificate, or ``QCWithSSCD``/
   ``QCWithQSCD`` (``QCNoSSCD``/``QCNoQSCD`` override);
4. its type: ``QcType`` esign/eseal (EN 319 412-5 §4.2.3), overridden by
   ``QCForESig``/``QCForESeal``; absent, the service's ``ForeSignatures``/``ForeSeals``
   additional information if it names only one; absent both, e-signature (EN 319 412-5:
   a certificate without QcType is for electronic signatures).

Qualified (``QES``/``QESeal``) needs all four; 1-2 without 3 is ``AdES/QC``;
otherwise the signature is an ``AdES`` whose trust still comes from the list. The QC
statements are read with asn1crypto (cryptography leaves them undecoded).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import core
from cryptography import x509

from govtrust.trustlist.model import (
    ADDITIONAL_INFO,
    QUALIFIERS,
    SERVICE_TYPES,
    Qualification,
    Service,
    StatusPeriod,
    short_status,
    short_type,
    subject_key_id,
)

__all__ = ["Assessment", "ListedService", "QcInfo", "ServiceIndex", "qc_info"]

_QC_STATEMENTS = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3")
QC_COMPLIANCE = "0.4.0.1862.1.1"
QC_SSCD = "0.4.0.1862.1.4"
QC_TYPE = "0.4.0.1862.1.6"
QC_TYPES = {"0.4.0.1862.1.6.1": "esign", "0.4.0.1862.1.6.2": "eseal", "0.4.0.1862.1.6.3": "web"}


class _QcStatement(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012  (asn1crypto's declaration style)
        ("statement_id", core.ObjectIdentifier),
        ("statement_info", core.Any, {"optional": True}),
    ]


class _QcStatements(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _QcStatement


class _Oids(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.ObjectIdentifier


@dataclass(frozen=True)
class QcInfo:
    """The EN 319 412-5 QC statements of a certificate."""

    compliance: bool = False
    sscd: bool = False
    types: tuple[str, ...] = ()


def qc_info(cert: x509.Certificate) -> QcInfo:
    try:
        raw = cert.extensions.get_extension_for_oid(_QC_STATEMENTS).value
    except x509.ExtensionNotFound:
        return QcInfo()
    data = getattr(raw, "value", None)
    if not isinstance(data, bytes):
        return QcInfo()
    try:
        statements = _QcStatements.load(data)
        compliance = sscd = False
        types: list[str] = []
        for st in statements:
            oid = st["statement_id"].dotted
            if oid == QC_COMPLIANCE:
                compliance = True
            elif oid == QC_SSCD:
                sscd = True
            elif oid == QC_TYPE and st["statement_info"].native is not None:
                info = _Oids.load(st["statement_info"].dump())
                types += [QC_TYPES.get(o.dotted, o.dotted) for o in info]
        return QcInfo(compliance, sscd, tuple(types))
    except (ValueError, TypeError):
        return QcInfo()


@dataclass(frozen=True)
class ListedService:
    """A service of an imported list, with where it comes from."""

    territory: str
    provider: str
    service: Service
    list_sequence: int = 0


@dataclass(frozen=True)
class Assessment:
    """What the list says about one chain at one time."""

    listed: ListedService
    time: dt.datetime
    status: StatusPeriod | None
    granted: bool
    qualified: bool
    level: str  # "QES", "QESeal", "AdES/QC", "AdES", "QTST", "TST"
    reasons: tuple[str, ...] = ()
    certificate_index: int = 0

    def to_dict(self) -> dict[str, Any]:
        svc = self.listed.service
        return {
            "country": self.listed.territory,
            "provider": self.listed.provider,
            "service": svc.name,
            "serviceType": svc.type_uri,
            "status": self.status.status if self.status else None,
            "statusStartingTime": self.status.start.isoformat() if self.status else None,
            "time": self.time.isoformat(),
            "granted": self.granted,
            "qualified": self.qualified,
            "level": self.level,
            "reasons": list(self.reasons),
            "listSequenceNumber": self.listed.list_sequence,
        }

    def describe(self) -> str:
        svc = self.listed.service
        status = short_status(self.status.status) if self.status else "not yet listed"
        return (
            f"{self.listed.territory} trusted list: {self.listed.provider} / {svc.name}"
            f" ({short_type(svc.type_uri)}) was {status} at {self.time.isoformat()}"
        )


def _key_usage_matches(cert: x509.Certificate, bits: Sequence[tuple[str, bool]]) -> bool:
    names = {
        "digitalSignature": "digital_signature",
        "nonRepudiation": "content_commitment",
        "keyEncipherment": "key_encipherment",
        "dataEncipherment": "data_encipherment",
        "keyAgreement": "key_agreement",
        "keyCertSign": "key_cert_sign",
        "crlSign": "crl_sign",
    }
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return all(name in names and bool(getattr(ku, names[name])) == value for name, value in bits)


def _policies(cert: x509.Certificate) -> set[str]:
    try:
        value = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return set()
    return {p.policy_identifier.dotted_string for p in value}


def _criteria_met(cert: x509.Certificate, qual: Qualification) -> bool:
    """TS 119 612 §5.5.9.2.2: each KeyUsage and PolicySet is one criterion, combined
    by the list's ``assert`` (all, atLeastOne, none)."""
    policies = _policies(cert)
    results = [_key_usage_matches(cert, bits) for bits in qual.key_usage]
    results += [set(ps) <= policies for ps in qual.policy_sets]
    if not results:
        return qual.assert_ != "none"
    if qual.assert_ == "atLeastOne":
        return any(results)
    if qual.assert_ == "none":
        return not any(results)
    return all(results)


def _qualifiers(cert: x509.Certificate, service: Service) -> set[str]:
    found: set[str] = set()
    for qual in service.qualifications:
        if _criteria_met(cert, qual):
            found.update(qual.qualifiers)
    return found


def _signature_level(
    cert: x509.Certificate, service: Service, granted: bool
) -> tuple[bool, str, list[str]]:
    reasons: list[str] = []
    if service.type_uri != SERVICE_TYPES["CA/QC"]:
        reasons.append(f"the service is {short_type(service.type_uri)}, not CA/QC")
        return False, "AdES", reasons
    if not granted:
        reasons.append("the service was not granted at that time")
        return False, "AdES", reasons
    qc = qc_info(cert)
    quals = _qualifiers(cert, service)
    qualified = (qc.compliance or QUALIFIERS["QCStatement"] in quals) and QUALIFIERS[
        "NotQualified"
    ] not in quals
    if not qualified:
        reasons.append(
            "the certificate is not qualified (no QcCompliance statement, and no"
            " Qualifications extension of the service makes it one)"
        )
        return False, "AdES", reasons
    no_qscd = {QUALIFIERS["QCNoSSCD"], QUALIFIERS["QCNoQSCD"]} & quals
    with_qscd = {QUALIFIERS["QCWithSSCD"], QUALIFIERS["QCWithQSCD"]} & quals
    qscd = bool(with_qscd) or (qc.sscd and not no_qscd)
    kind = _kind(qc, quals, service)
    if kind is None:
        reasons.append("the certificate's type (e-signature or e-seal) cannot be determined")
        return False, "AdES/QC", reasons
    if not qscd:
        reasons.append("the private key is not declared to be in a QSCD")
        return False, "AdES/QC", reasons
    return True, "QES" if kind == "esign" else "QESeal", reasons


def _kind(qc: QcInfo, quals: set[str], service: Service) -> str | None:
    if QUALIFIERS["QCForESig"] in quals:
        return "esign"
    if QUALIFIERS["QCForESeal"] in quals:
        return "eseal"
    types = [t for t in qc.types if t in ("esign", "eseal")]
    if len(set(types)) == 1:
        return types[0]
    if types:
        return None
    asi = set(service.additional_info)
    sig, seal = ADDITIONAL_INFO["ForeSignatures"] in asi, ADDITIONAL_INFO["ForeSeals"] in asi
    if sig != seal:
        return "esign" if sig else "eseal"
    return "esign"


@dataclass
class ServiceIndex:
    """Listed services by subject key identifier (see the module docstring)."""

    by_key: dict[bytes, list[ListedService]] = field(default_factory=dict)
    anchors: list[x509.Certificate] = field(default_factory=list)

    def add(self, listed: ListedService) -> None:
        for key in listed.service.key_ids():
            self.by_key.setdefault(key, []).append(listed)
        self.anchors.extend(listed.service.certificates)

    def extend(self, items: Iterable[ListedService]) -> None:
        for item in items:
            self.add(item)

    def services_of(self, cert: x509.Certificate) -> list[ListedService]:
        return self.by_key.get(subject_key_id(cert), [])

    def __len__(self) -> int:
        return len(self.by_key)

    def assess(
        self,
        chain: Sequence[x509.Certificate],
        at: dt.datetime,
        *,
        timestamp: bool = False,
        windows: Mapping[str, tuple[dt.datetime | None, dt.datetime | None]] | None = None,
    ) -> Assessment | None:
        """The assessment of ``chain`` (end entity first) at ``at``; None if no
        certificate of it is a listed service's identity. ``windows`` limits, per
        territory, the times at which that territory's statuses are recognised."""
        for index, cert in enumerate(chain):
            candidates = self.services_of(cert)
            if not candidates:
                continue
            ranked = sorted(
                candidates,
                key=lambda c: self._rank(c, at, timestamp, windows),
            )
            listed = ranked[0]
            return self._assess(listed, chain[0], at, index, timestamp, windows)
        return None

    @staticmethod
    def _status(
        listed: ListedService,
        at: dt.datetime,
        windows: Mapping[str, tuple[dt.datetime | None, dt.datetime | None]] | None,
    ) -> tuple[StatusPeriod | None, bool, str | None]:
        status = listed.service.status_at(at)
        granted = status is not None and status.granted
        window = (windows or {}).get(listed.territory)
        if granted and window is not None:
            start, end = window
            if (start is not None and at < start) or (end is not None and at > end):
                return status, False, "outside the period this territory is recognised for"
        return status, granted, None

    def _rank(
        self,
        listed: ListedService,
        at: dt.datetime,
        timestamp: bool,
        windows: Mapping[str, tuple[dt.datetime | None, dt.datetime | None]] | None,
    ) -> tuple[int, int]:
        _, granted, _ = self._status(listed, at, windows)
        wanted = SERVICE_TYPES["TSA/QTST"] if timestamp else SERVICE_TYPES["CA/QC"]
        return (0 if granted else 1, 0 if listed.service.type_uri == wanted else 1)

    def _assess(
        self,
        listed: ListedService,
        ee: x509.Certificate,
        at: dt.datetime,
        index: int,
        timestamp: bool,
        windows: Mapping[str, tuple[dt.datetime | None, dt.datetime | None]] | None,
    ) -> Assessment:
        status, granted, why = self._status(listed, at, windows)
        reasons = [why] if why else []
        if timestamp:
            qualified = granted and listed.service.type_uri == SERVICE_TYPES["TSA/QTST"]
            level = "QTST" if qualified else "TST"
        else:
            qualified, level, more = _signature_level(ee, listed.service, granted)
            reasons += more
        return Assessment(
            listed=listed,
            time=at,
            status=status,
            granted=granted,
            qualified=qualified,
            level=level,
            reasons=tuple(reasons),
            certificate_index=index,
        )
