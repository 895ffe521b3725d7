"""Writing a :class:`~govtrust.trustlist.model.TrustedList` as TS 119 612 V2.4.1 XML.

The element order is the schema's (``ts_119612v020401_xsd.xsd``); the result is
validated against it before it is signed (:func:`govtrust.trustlist.publish`). Every
multilingual field is written in English (``xml:lang="en"``, TS 119 612 §5.1.4 asks for
at least an English version). Times are UTC with a ``Z`` (§5.1.4).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree  # type: ignore[import-untyped]

from govtrust.trustlist._xml import DS, SIE, TSL, TSLX, XADES, q
from govtrust.trustlist.model import (
    TSL_TAG,
    Address,
    Pointer,
    Provider,
    Qualification,
    SchemeInformation,
    Service,
    TrustedList,
)

__all__ = ["build_list", "xml_time"]

_NSMAP = {None: TSL, "ds": DS, "tslx": TSLX, "sie": SIE, "xades": XADES}
_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def xml_time(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _el(parent: Any, local: str, text: str | None = None, ns: str = TSL, **attrs: str) -> Any:
    node = etree.SubElement(parent, q(ns, local), **attrs)
    if text is not None:
        node.text = text
    return node


def _names(parent: Any, local: str, *names: str) -> Any:
    node = _el(parent, local)
    for name in names:
        _el(node, "Name", name, **{_LANG: "en"})
    return node


def _uri_list(parent: Any, local: str, uris: tuple[str, ...]) -> None:
    node = _el(parent, local)
    for uri in uris:
        _el(node, "URI", uri, **{_LANG: "en"})


def _address(parent: Any, local: str, address: Address) -> None:
    node = _el(parent, local)
    postal = _el(_el(node, "PostalAddresses"), "PostalAddress", **{_LANG: "en"})
    _el(postal, "StreetAddress", address.street or "-")
    _el(postal, "Locality", address.locality or "-")
    if address.postal_code:
        _el(postal, "PostalCode", address.postal_code)
    _el(postal, "CountryName", address.country)
    electronic = _el(node, "ElectronicAddress")
    for uri in address.electronic or ("mailto:trust@invalid.example",):
        _el(electronic, "URI", uri, **{_LANG: "en"})


def _b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode("ascii")


def _identity(parent: Any, certs: tuple[x509.Certificate, ...]) -> None:
    """TS 119 612 §5.5.3: one certificate per DigitalId; for one certificate, its
    subject name and SKI too, as the EU lists do."""
    node = _el(parent, "ServiceDigitalIdentity")
    for cert in certs:
        _el(_el(node, "DigitalId"), "X509Certificate", _b64(cert))
    if len(certs) == 1:
        _el(_el(node, "DigitalId"), "X509SubjectName", certs[0].subject.rfc4514_string())


def _qualification(parent: Any, qual: Qualification) -> None:
    element = _el(parent, "QualificationElement", ns=SIE)
    qualifiers = _el(element, "Qualifiers", ns=SIE)
    for uri in qual.qualifiers:
        _el(qualifiers, "Qualifier", ns=SIE, uri=uri)
    criteria = _el(element, "CriteriaList", ns=SIE, **{"assert": qual.assert_})
    for bits in qual.key_usage:
        ku = _el(criteria, "KeyUsage", ns=SIE)
        for name, value in bits:
            _el(ku, "KeyUsageBit", "true" if value else "false", ns=SIE, name=name)
    for policies in qual.policy_sets:
        ps = _el(criteria, "PolicySet", ns=SIE)
        for oid in policies:
            _el(_el(ps, "PolicyIdentifier", ns=SIE), "Identifier", oid, ns=XADES)


def _extensions(parent: Any, service: Service) -> None:
    if not service.additional_info and not service.qualifications:
        return
    node = _el(parent, "ServiceInformationExtensions")
    for uri in service.additional_info:
        ext = _el(node, "Extension", Critical="false")
        _el(_el(ext, "AdditionalServiceInformation"), "URI", uri, **{_LANG: "en"})
    if service.qualifications:
        ext = _el(node, "Extension", Critical="true")
        quals = _el(ext, "Qualifications", ns=SIE)
        for qual in service.qualifications:
            _qualification(quals, qual)


def _service(parent: Any, service: Service) -> None:
    node = _el(parent, "TSPService")
    info = _el(node, "ServiceInformation")
    _el(info, "ServiceTypeIdentifier", service.type_uri)
    _names(info, "ServiceName", service.name)
    _identity(info, service.certificates)
    _el(info, "ServiceStatus", service.status.status)
    _el(info, "StatusStartingTime", xml_time(service.status.start))
    if service.supply_points:
        points = _el(info, "ServiceSupplyPoints")
        for uri in service.supply_points:
            _el(points, "ServiceSupplyPoint", uri)
    _extensions(info, service)
    if service.history:
        history = _el(node, "ServiceHistory")
        for period in sorted(service.history, key=lambda p: p.start, reverse=True):
            inst = _el(history, "ServiceHistoryInstance")
            _el(inst, "ServiceTypeIdentifier", service.type_uri)
            _names(inst, "ServiceName", service.name)
            _identity(inst, service.certificates)
            _el(inst, "ServiceStatus", period.status)
            _el(inst, "StatusStartingTime", xml_time(period.start))


def _provider(parent: Any, provider: Provider, fallback: Address) -> None:
    node = _el(parent, "TrustServiceProvider")
    info = _el(node, "TSPInformation")
    _names(info, "TSPName", provider.name)
    if provider.trade_names:
        _names(info, "TSPTradeName", *provider.trade_names)
    _address(info, "TSPAddress", provider.address or fallback)
    _uri_list(info, "TSPInformationURI", provider.info_uris or fallback.electronic[:1] or ("-",))
    services = _el(node, "TSPServices")
    for service in provider.services:
        _service(services, service)


def _pointer(parent: Any, pointer: Pointer) -> None:
    node = _el(parent, "OtherTSLPointer")
    identities = _el(node, "ServiceDigitalIdentities")
    for cert in pointer.certificates:
        _el(
            _el(_el(identities, "ServiceDigitalIdentity"), "DigitalId"),
            "X509Certificate",
            _b64(cert),
        )
    _el(node, "TSLLocation", pointer.location)
    info = _el(node, "AdditionalInformation")
    _el(_el(info, "OtherInformation"), "TSLType", pointer.tsl_type)
    _el(_el(info, "OtherInformation"), "SchemeTerritory", pointer.territory)
    _el(_el(info, "OtherInformation"), "MimeType", pointer.mime_type, ns=TSLX)
    if pointer.operator_name:
        _names(_el(info, "OtherInformation"), "SchemeOperatorName", pointer.operator_name)


def _scheme(root: Any, s: SchemeInformation, pointers: tuple[Pointer, ...]) -> Address:
    node = _el(root, "SchemeInformation")
    _el(node, "TSLVersionIdentifier", str(s.version))
    _el(node, "TSLSequenceNumber", str(s.sequence))
    _el(node, "TSLType", s.tsl_type)
    _names(node, "SchemeOperatorName", s.operator_name)
    address = s.operator_address or Address("-", "-", s.territory)
    _address(node, "SchemeOperatorAddress", address)
    _names(node, "SchemeName", s.scheme_name or f"{s.territory}:{s.operator_name}")
    _uri_list(node, "SchemeInformationURI", s.information_uris or ("https://invalid.example/",))
    _el(node, "StatusDeterminationApproach", s.status_determination)
    if s.community_rules:
        _uri_list(node, "SchemeTypeCommunityRules", s.community_rules)
    _el(node, "SchemeTerritory", s.territory)
    if s.legal_notice:
        notice = _el(node, "PolicyOrLegalNotice")
        _el(notice, "TSLLegalNotice", s.legal_notice, **{_LANG: "en"})
    _el(node, "HistoricalInformationPeriod", str(s.historical_period))
    if pointers:
        ptrs = _el(node, "PointersToOtherTSL")
        for pointer in pointers:
            _pointer(ptrs, pointer)
    _el(node, "ListIssueDateTime", xml_time(s.issued))
    next_update = _el(node, "NextUpdate")
    if s.next_update is not None:  # absent: the scheme has ceased (§5.3.15)
        _el(next_update, "dateTime", xml_time(s.next_update))
    if s.distribution_points:
        points = _el(node, "DistributionPoints")
        for uri in s.distribution_points:
            _el(points, "URI", uri)
    return address


def build_list(tl: TrustedList) -> Any:
    """The unsigned ``TrustServiceStatusList`` document (an lxml ElementTree)."""
    root = etree.Element(q(TSL, "TrustServiceStatusList"), nsmap=_NSMAP)
    root.set("TSLTag", TSL_TAG)
    root.set("Id", tl.list_id or "tsl")
    address = _scheme(root, tl.scheme, tl.pointers)
    if tl.providers:
        providers = _el(root, "TrustServiceProviderList")
        for provider in tl.providers:
            _provider(providers, provider, address)
    return root.getroottree()
