"""The trusted list model of ETSI TS 119 612 V2.4.1, as frozen dataclasses.

A :class:`TrustedList` is a ``tsl:TrustServiceStatusList`` (§5): its scheme
information (:class:`SchemeInformation`, §5.3), its trust service providers
(:class:`Provider`, §5.4) and their services (:class:`Service`, §5.5) with the status
history of each (§5.6), and for a list of trusted lists its pointers to the member
lists (:class:`Pointer`, §5.3.13). The same model is built from stored data before
publication (:mod:`govtrust.trustlist.build`) and parsed from imported XML
(:mod:`govtrust.trustlist.parse`).

URIs are those of TS 119 612 Annex D (service types, statuses, qualifiers, TSL types)
and TS 119 612 §5.5.9 (service information extensions).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = [
    "ADDITIONAL_INFO",
    "GENERIC_TYPE",
    "GRANTED_STATUSES",
    "LOTL_TYPE",
    "QUALIFIERS",
    "SERVICE_TYPES",
    "STATUS",
    "STATUS_URI",
    "TSL_TAG",
    "TSL_VERSION",
    "Address",
    "Pointer",
    "Provider",
    "Qualification",
    "SchemeInformation",
    "Service",
    "StatusPeriod",
    "TrustedList",
    "cert_sha256",
    "short_status",
    "short_type",
    "subject_key_id",
    "tsl_type",
]

TSL_TAG = "http://uri.etsi.org/19612/TSLTag"
"""TS 119 612 §5.2: the value of the ``TSLTag`` attribute."""

TSL_VERSION = 6
"""TS 119 612 V2.x §5.3.1: ``TSLVersionIdentifier`` 6 (5 was the V2.1.1 value)."""

_TSLTYPE = "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/"
GENERIC_TYPE = _TSLTYPE + "EUgeneric"
LOTL_TYPE = _TSLTYPE + "EUlistofthelists"
"""TS 119 612 §5.3.3 and Annex D.5: a national list (``EUgeneric``) and the list of
trusted lists. Non-EU schemes use ``<territory>generic``/``<territory>listofthelists``
(Annex D.5 b), which :func:`tsl_type` builds."""

STATUS_URI = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/"
STATUS: Mapping[str, str] = {
    name: STATUS_URI + name
    for name in (
        "granted",
        "withdrawn",
        "recognisedatnationallevel",
        "deprecatedatnationallevel",
        # TS 119 612 V1.x statuses, still in the history of older lists:
        "undersupervision",
        "supervisionincessation",
        "supervisionceased",
        "supervisionrevoked",
        "accredited",
        "accreditationceased",
        "accreditationrevoked",
        "setbynationallaw",
        "deprecatedbynationallaw",
    )
}
"""Service status URIs (TS 119 612 Annex D.5 and §5.5.4)."""

GRANTED_STATUSES = frozenset(
    STATUS[s]
    for s in (
        "granted",
        "recognisedatnationallevel",
        "undersupervision",
        "supervisionincessation",
        "accredited",
        "setbynationallaw",
    )
)
"""Statuses under which a service's output is trusted (TS 119 615 §4.3.3 / ETSI TS
119 172-4 Annex: "granted" and its pre-2016 equivalents, "recognised at national
level" for national schemes)."""

_SVC = "http://uri.etsi.org/TrstSvc/Svctype/"
SERVICE_TYPES: Mapping[str, str] = {
    "CA/QC": _SVC + "CA/QC",
    "CA/PKC": _SVC + "CA/PKC",
    "TSA/QTST": _SVC + "TSA/QTST",
    "TSA": _SVC + "TSA",
    "Certstatus/OCSP/QC": _SVC + "Certstatus/OCSP/QC",
    "Certstatus/CRL/QC": _SVC + "Certstatus/CRL/QC",
    "EDS/Q": _SVC + "EDS/Q",
    "QESValidation/Q": _SVC + "QESValidation/Q",
    "NationalRootCA-QC": _SVC + "NationalRootCA-QC",
}
"""Service type identifiers (TS 119 612 §5.5.1.1 and Annex D.4), by short name."""

_SIE = "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/"
QUALIFIERS: Mapping[str, str] = {
    name: _SIE + name
    for name in (
        "QCStatement",
        "NotQualified",
        "QCWithSSCD",
        "QCNoSSCD",
        "QCSSCDStatusAsInCert",
        "QCWithQSCD",
        "QCNoQSCD",
        "QCQSCDStatusAsInCert",
        "QCQSCDManagedOnBehalf",
        "QCForLegalPerson",
        "QCForESig",
        "QCForESeal",
        "QCForWSA",
    )
}
"""Qualifier URIs of the Qualifications extension (TS 119 612 §5.5.9.2.3)."""

ADDITIONAL_INFO: Mapping[str, str] = {
    name: _SIE + name for name in ("ForeSignatures", "ForeSeals", "ForWebSiteAuthentication")
}
"""AdditionalServiceInformation URIs (TS 119 612 §5.5.9.4)."""


def short_type(uri: str) -> str:
    return uri.removeprefix(_SVC)


def short_status(uri: str) -> str:
    return uri.removeprefix(STATUS_URI)


def tsl_type(territory: str, lotl: bool) -> str:
    """TS 119 612 Annex D.5: EU lists use the ``EU`` types; other schemes name their
    territory (``http://uri.etsi.org/TrstSvc/TrustedList/TSLType/AAgeneric``)."""
    prefix = "EU" if territory in _EU else territory
    return _TSLTYPE + prefix + ("listofthelists" if lotl else "generic")


_EU = frozenset(
    [
        "EU",
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "EL",
        "ES",
        "FI",
        "FR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "UK",
    ]
)


@dataclass(frozen=True)
class Address:
    """TS 119 612 §5.3.5: postal address (one, in English here) and electronic addresses."""

    street: str
    locality: str
    country: str
    postal_code: str | None = None
    electronic: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "street": self.street,
            "locality": self.locality,
            "postalCode": self.postal_code,
            "country": self.country,
            "electronic": list(self.electronic),
        }


@dataclass(frozen=True)
class StatusPeriod:
    """One status of a service from ``start`` (TS 119 612 §5.5.4-5.5.5, §5.6.4-5.6.5)."""

    status: str  # a STATUS URI
    start: dt.datetime

    @property
    def granted(self) -> bool:
        return self.status in GRANTED_STATUSES


@dataclass(frozen=True)
class Qualification:
    """One ``QualificationElement`` (TS 119 612 §5.5.9.2): the qualifiers that apply to
    certificates meeting the criteria. Criteria kept here: certificate policy OIDs
    (``PolicySet``), key usage bits (``KeyUsage``), with the list's ``assert``."""

    qualifiers: tuple[str, ...]
    assert_: str = "all"  # all | atLeastOne | none
    policy_sets: tuple[tuple[str, ...], ...] = ()
    key_usage: tuple[tuple[tuple[str, bool], ...], ...] = ()


@dataclass(frozen=True)
class Service:
    """A trust service (TS 119 612 §5.5): its type, name, digital identity (the
    certificates, and for lists that give only a key identifier, the SKIs), its
    current status and the earlier ones (``history``, newest first, §5.6)."""

    type_uri: str
    name: str
    certificates: tuple[x509.Certificate, ...]
    status: StatusPeriod
    history: tuple[StatusPeriod, ...] = ()
    additional_info: tuple[str, ...] = ()  # AdditionalServiceInformation URIs (§5.5.9.4)
    qualifications: tuple[Qualification, ...] = ()
    skis: tuple[bytes, ...] = ()
    subject_names: tuple[str, ...] = ()
    supply_points: tuple[str, ...] = ()

    @property
    def periods(self) -> tuple[StatusPeriod, ...]:
        """Every status, newest first."""
        return tuple(sorted((self.status, *self.history), key=lambda p: p.start, reverse=True))

    def status_at(self, at: dt.datetime) -> StatusPeriod | None:
        """The status in force at ``at`` (TS 119 615 §4.3.3: the latest status whose
        starting time is not after ``at``), or None before the service was listed."""
        for period in self.periods:
            if period.start <= at:
                return period
        return None

    def key_ids(self) -> set[bytes]:
        """Subject key identifiers of this service's identities: the SKI extension of
        each certificate (or its RFC 5280 §4.2.1.2 method-1 hash), and listed X509SKIs."""
        ids = set(self.skis)
        for cert in self.certificates:
            ids.add(subject_key_id(cert))
        return ids


def subject_key_id(cert: x509.Certificate) -> bytes:
    """The certificate's SubjectKeyIdentifier, or the SHA-1 of its public key bit
    string (RFC 5280 §4.2.1.2 method 1) when the extension is absent."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def cert_sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


@dataclass(frozen=True)
class Provider:
    """A trust service provider (TS 119 612 §5.4)."""

    name: str
    services: tuple[Service, ...]
    trade_names: tuple[str, ...] = ()
    address: Address | None = None
    info_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pointer:
    """A pointer to another trusted list (TS 119 612 §5.3.13): where it is, whose it
    is, and the certificates that may sign it."""

    location: str
    territory: str
    certificates: tuple[x509.Certificate, ...]
    tsl_type: str = GENERIC_TYPE
    operator_name: str = ""
    mime_type: str = "application/vnd.etsi.tsl+xml"


@dataclass(frozen=True)
class SchemeInformation:
    """TS 119 612 §5.3: the list's own data."""

    version: int
    sequence: int
    tsl_type: str
    operator_name: str
    territory: str
    issued: dt.datetime
    next_update: dt.datetime | None
    scheme_name: str = ""
    operator_address: Address | None = None
    information_uris: tuple[str, ...] = ()
    status_determination: str = "http://uri.etsi.org/TrstSvc/TrustedList/StatusDetn/EUappropriate"
    community_rules: tuple[str, ...] = ()
    legal_notice: str = ""
    historical_period: int = 65535
    distribution_points: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrustedList:
    """A whole list: scheme information, providers and pointers to other lists."""

    scheme: SchemeInformation
    providers: tuple[Provider, ...] = ()
    pointers: tuple[Pointer, ...] = ()
    list_id: str = "tsl"
    signers: tuple[x509.Certificate, ...] = field(default=(), compare=False)

    @property
    def is_lotl(self) -> bool:
        return self.scheme.tsl_type.endswith("listofthelists")

    @property
    def service_count(self) -> int:
        return sum(len(p.services) for p in self.providers)

    def summary(self) -> dict[str, Any]:
        s = self.scheme
        return {
            "territory": s.territory,
            "operator": s.operator_name,
            "type": s.tsl_type,
            "version": s.version,
            "sequenceNumber": s.sequence,
            "issued": s.issued.isoformat(),
            "nextUpdate": s.next_update.isoformat() if s.next_update else None,
            "providers": len(self.providers),
            "services": self.service_count,
            "pointers": len(self.pointers),
        }
