"""Trusted lists (ETSI TS 119 612 V2.4.1): the model, building and signing a list,
reading and verifying one (hardened XML, XSD, XAdES against pinned certificates), lists
of lists with pivots, and what a list says about a certificate chain (TS 119 615,
TS 119 172-4). No HTTP, no storage: services/trustlists.py drives these."""

from __future__ import annotations

from govtrust.trustlist.build import build_list, xml_time
from govtrust.trustlist.lotl import member_pointers, pivot_urls, self_pointer, walk_pivots
from govtrust.trustlist.model import (
    GRANTED_STATUSES,
    QUALIFIERS,
    SERVICE_TYPES,
    STATUS,
    TSL_VERSION,
    Address,
    Pointer,
    Provider,
    Qualification,
    SchemeInformation,
    Service,
    StatusPeriod,
    TrustedList,
)
from govtrust.trustlist.qualification import Assessment, ListedService, ServiceIndex, qc_info
from govtrust.trustlist.read import VerifiedList, is_fresh, read_list
from govtrust.trustlist.schema import schema_errors
from govtrust.trustlist.signature import sign_list, verify_list_signature

__all__ = [
    "GRANTED_STATUSES",
    "QUALIFIERS",
    "SERVICE_TYPES",
    "STATUS",
    "TSL_VERSION",
    "Address",
    "Assessment",
    "ListedService",
    "Pointer",
    "Provider",
    "Qualification",
    "SchemeInformation",
    "Service",
    "ServiceIndex",
    "StatusPeriod",
    "TrustedList",
    "VerifiedList",
    "build_list",
    "is_fresh",
    "member_pointers",
    "pivot_urls",
    "qc_info",
    "read_list",
    "schema_errors",
    "self_pointer",
    "sign_list",
    "verify_list_signature",
    "walk_pivots",
    "xml_time",
]
