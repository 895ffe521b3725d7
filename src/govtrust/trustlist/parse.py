"""Reading a TS 119 612 list into the model (:mod:`govtrust.trustlist.model`).

The document is parsed by :func:`govtrust.trustlist._xml.parse_hardened` and must have
passed the schema (:mod:`govtrust.trustlist.schema`) before it gets here; this module
then reads what the schema cannot check: the mandatory version, dates, certificates.
Certificates that do not decode are skipped and counted (``skipped_certificates``):
national lists occasionally carry a malformed one, and one bad identity must not hide
the rest of the list.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from govtrust.trustlist._xml import DS, SIE, TSL, TSLX, XADES, q
from govtrust.trustlist.model import (
    Address,
    Pointer,
    Provider,
    Qualification,
    SchemeInformation,
    Service,
    StatusPeriod,
    TrustedList,
)

__all__ = ["ListContentError", "ParseResult", "parse_list", "parse_time"]


class ListContentError(ValueError):
    """The list is schema-valid but unusable (e.g. no TSLVersionIdentifier in a
    document that was not schema-checked, a date that is not a date)."""


@dataclass(frozen=True)
class ParseResult:
    trusted_list: TrustedList
    skipped_certificates: int


def parse_time(text: str | None) -> dt.datetime:
    """An xsd:dateTime; a value without a zone is UTC (TS 119 612 §5.1.4: times are UTC)."""
    if not text:
        raise ListContentError("a date-time element is empty")
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ListContentError(f"{text.strip()!r} is not an xsd:dateTime") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _text(node: Any) -> str:
    return (node.text or "").strip() if node is not None else ""


def _name(parent: Any) -> str:
    """The English name of an InternationalNamesType, else the first (§5.1.4)."""
    if parent is None:
        return ""
    names = parent.findall(q(TSL, "Name"))
    for n in names:
        if n.get("{http://www.w3.org/XML/1998/namespace}lang") == "en":
            return _text(n)
    return _text(names[0]) if names else ""


def _uris(parent: Any) -> tuple[str, ...]:
    return tuple(_text(u) for u in parent.findall(q(TSL, "URI"))) if parent is not None else ()


class _Reader:
    def __init__(self) -> None:
        self.skipped = 0

    def cert(self, text: str) -> x509.Certificate | None:
        try:
            return x509.load_der_x509_certificate(base64.b64decode("".join(text.split())))
        except (ValueError, binascii.Error):
            self.skipped += 1
            return None

    def identity(self, node: Any) -> tuple[list[x509.Certificate], list[bytes], list[str]]:
        certs: list[x509.Certificate] = []
        skis: list[bytes] = []
        subjects: list[str] = []
        if node is None:
            return certs, skis, subjects
        for digital_id in node.findall(q(TSL, "DigitalId")):
            for child in digital_id:
                if child.tag == q(TSL, "X509Certificate"):
                    cert = self.cert(child.text or "")
                    if cert is not None:
                        certs.append(cert)
                elif child.tag == q(TSL, "X509SKI"):
                    try:
                        skis.append(base64.b64decode("".join((child.text or "").split())))
                    except binascii.Error:
                        self.skipped += 1
                elif child.tag == q(TSL, "X509SubjectName"):
                    subjects.append(_text(child))
        return certs, skis, subjects


def _address(node: Any) -> Address | None:
    if node is None:
        return None
    postal = node.find(f"{q(TSL, 'PostalAddresses')}/{q(TSL, 'PostalAddress')}")
    return Address(
        street=_text(postal.find(q(TSL, "StreetAddress"))) if postal is not None else "",
        locality=_text(postal.find(q(TSL, "Locality"))) if postal is not None else "",
        country=_text(postal.find(q(TSL, "CountryName"))) if postal is not None else "",
        postal_code=(_text(postal.find(q(TSL, "PostalCode"))) or None)
        if postal is not None
        else None,
        electronic=_uris(node.find(q(TSL, "ElectronicAddress"))),
    )


def _qualification(element: Any) -> Qualification:
    qualifiers = tuple(e.get("uri", "") for e in element.iter(q(SIE, "Qualifier")) if e.get("uri"))
    criteria = element.find(q(SIE, "CriteriaList"))
    policy_sets: list[tuple[str, ...]] = []
    key_usage: list[tuple[tuple[str, bool], ...]] = []
    if criteria is not None:
        for ps in criteria.findall(q(SIE, "PolicySet")):
            policy_sets.append(
                tuple(_text(i).removeprefix("urn:oid:") for i in ps.iter(q(XADES, "Identifier")))
            )
        for ku in criteria.findall(q(SIE, "KeyUsage")):
            key_usage.append(
                tuple(
                    (b.get("name", ""), _text(b).lower() == "true")
                    for b in ku.findall(q(SIE, "KeyUsageBit"))
                )
            )
    return Qualification(
        qualifiers=qualifiers,
        assert_=criteria.get("assert", "all") if criteria is not None else "all",
        policy_sets=tuple(policy_sets),
        key_usage=tuple(key_usage),
    )


def _extensions(node: Any) -> tuple[tuple[str, ...], tuple[Qualification, ...]]:
    if node is None:
        return (), ()
    infos = tuple(
        _text(a.find(q(TSL, "URI"))) for a in node.iter(q(TSL, "AdditionalServiceInformation"))
    )
    quals = tuple(_qualification(e) for e in node.iter(q(SIE, "QualificationElement")))
    return infos, quals


def _service(reader: _Reader, node: Any) -> Service:
    info = node.find(q(TSL, "ServiceInformation"))
    certs, skis, subjects = reader.identity(info.find(q(TSL, "ServiceDigitalIdentity")))
    additional, quals = _extensions(info.find(q(TSL, "ServiceInformationExtensions")))
    history = []
    for inst in node.iterfind(f"{q(TSL, 'ServiceHistory')}/{q(TSL, 'ServiceHistoryInstance')}"):
        history.append(
            StatusPeriod(
                _text(inst.find(q(TSL, "ServiceStatus"))),
                parse_time(_text(inst.find(q(TSL, "StatusStartingTime")))),
            )
        )
    supply = info.find(q(TSL, "ServiceSupplyPoints"))
    return Service(
        type_uri=_text(info.find(q(TSL, "ServiceTypeIdentifier"))),
        name=_name(info.find(q(TSL, "ServiceName"))),
        certificates=tuple(certs),
        status=StatusPeriod(
            _text(info.find(q(TSL, "ServiceStatus"))),
            parse_time(_text(info.find(q(TSL, "StatusStartingTime")))),
        ),
        history=tuple(history),
        additional_info=additional,
        qualifications=quals,
        skis=tuple(skis),
        subject_names=tuple(subjects),
        supply_points=tuple(_text(p) for p in supply) if supply is not None else (),
    )


def _provider(reader: _Reader, node: Any) -> Provider:
    info = node.find(q(TSL, "TSPInformation"))
    return Provider(
        name=_name(info.find(q(TSL, "TSPName"))),
        trade_names=tuple(
            _text(n) for n in info.iterfind(f"{q(TSL, 'TSPTradeName')}/{q(TSL, 'Name')}")
        ),
        address=_address(info.find(q(TSL, "TSPAddress"))),
        info_uris=_uris(info.find(q(TSL, "TSPInformationURI"))),
        services=tuple(
            _service(reader, s)
            for s in node.iterfind(f"{q(TSL, 'TSPServices')}/{q(TSL, 'TSPService')}")
        ),
    )


def _pointer(reader: _Reader, node: Any) -> Pointer:
    certs: list[x509.Certificate] = []
    for sdi in node.iterfind(
        f"{q(TSL, 'ServiceDigitalIdentities')}/{q(TSL, 'ServiceDigitalIdentity')}"
    ):
        certs += reader.identity(sdi)[0]
    fields: dict[str, str] = {}
    for other in node.iterfind(f"{q(TSL, 'AdditionalInformation')}/{q(TSL, 'OtherInformation')}"):
        for child in other:
            if child.tag == q(TSL, "SchemeOperatorName"):
                fields["operator"] = _name(child)
            elif child.tag == q(TSL, "TSLType"):
                fields["type"] = _text(child)
            elif child.tag == q(TSL, "SchemeTerritory"):
                fields["territory"] = _text(child)
            elif child.tag == q(TSLX, "MimeType"):
                fields["mime"] = _text(child)
    return Pointer(
        location=_text(node.find(q(TSL, "TSLLocation"))),
        territory=fields.get("territory", ""),
        certificates=tuple(certs),
        tsl_type=fields.get("type", ""),
        operator_name=fields.get("operator", ""),
        mime_type=fields.get("mime", ""),
    )


def _scheme(root: Any) -> SchemeInformation:
    si = root.find(q(TSL, "SchemeInformation"))
    if si is None:
        raise ListContentError("the list has no SchemeInformation")
    version = si.find(q(TSL, "TSLVersionIdentifier"))
    if version is None or not _text(version).isdigit():
        raise ListContentError("the list has no TSLVersionIdentifier (TS 119 612 §5.3.1)")
    seq = _text(si.find(q(TSL, "TSLSequenceNumber")))
    if not seq.isdigit():
        raise ListContentError("the list has no TSLSequenceNumber (TS 119 612 §5.3.2)")
    next_update = si.find(f"{q(TSL, 'NextUpdate')}/{q(TSL, 'dateTime')}")
    notice = si.find(f"{q(TSL, 'PolicyOrLegalNotice')}/{q(TSL, 'TSLLegalNotice')}")
    return SchemeInformation(
        version=int(_text(version)),
        sequence=int(seq),
        tsl_type=_text(si.find(q(TSL, "TSLType"))),
        operator_name=_name(si.find(q(TSL, "SchemeOperatorName"))),
        territory=_text(si.find(q(TSL, "SchemeTerritory"))),
        issued=parse_time(_text(si.find(q(TSL, "ListIssueDateTime")))),
        next_update=parse_time(_text(next_update)) if next_update is not None else None,
        scheme_name=_name(si.find(q(TSL, "SchemeName"))),
        operator_address=_address(si.find(q(TSL, "SchemeOperatorAddress"))),
        information_uris=_uris(si.find(q(TSL, "SchemeInformationURI"))),
        status_determination=_text(si.find(q(TSL, "StatusDeterminationApproach"))),
        community_rules=_uris(si.find(q(TSL, "SchemeTypeCommunityRules"))),
        legal_notice=_text(notice),
        historical_period=int(_text(si.find(q(TSL, "HistoricalInformationPeriod"))) or 0),
        distribution_points=_uris(si.find(q(TSL, "DistributionPoints"))),
    )


def parse_list(tree: Any) -> ParseResult:
    """The model of a parsed ``TrustServiceStatusList``; ListContentError if it is not one."""
    root = tree.getroot()
    if root.tag != q(TSL, "TrustServiceStatusList"):
        raise ListContentError(f"the root element is {root.tag}, not tsl:TrustServiceStatusList")
    reader = _Reader()
    scheme = _scheme(root)
    providers = tuple(
        _provider(reader, p)
        for p in root.iterfind(
            f"{q(TSL, 'TrustServiceProviderList')}/{q(TSL, 'TrustServiceProvider')}"
        )
    )
    pointers = tuple(
        _pointer(reader, p)
        for p in root.iterfind(
            f"{q(TSL, 'SchemeInformation')}/{q(TSL, 'PointersToOtherTSL')}"
            f"/{q(TSL, 'OtherTSLPointer')}"
        )
    )
    signers: list[x509.Certificate] = []
    for node in root.iterfind(
        f"{q(DS, 'Signature')}/{q(DS, 'KeyInfo')}//{q(DS, 'X509Certificate')}"
    ):
        cert = reader.cert(node.text or "")
        if cert is not None:
            signers.append(cert)
    return ParseResult(
        TrustedList(
            scheme=scheme,
            providers=providers,
            pointers=pointers,
            list_id=root.get("Id", ""),
            signers=tuple(signers),
        ),
        reader.skipped,
    )
