"""Trusted lists as a service: publish this country's ETSI TS 119 612 list (and a list of
lists), import and refresh the neighbours', and hand validation the services they list.

Publishing: the scheme operator (``trustlist_scheme``), providers, services and their
status history live in storage; :func:`publish` builds the list (sequence number + 1,
issue time now, next update ``[trustlist] next_update_days`` later, at most 6 months:
TS 119 612 §5.3.15), checks it against the XSD, signs it (XAdES B-B enveloped, Annex B)
with the trusted-list signer (profile ``trustlist-signer``), stores it with its history
and records ``trustlist.publish`` in the audit trail (and so in the ledger).

A list of lists (:func:`publish_lotl`) changes its own signing key by the pivot
mechanism (:func:`rotate_lotl_signer`, TS 119 612 §5.3.13 and the EU's "pivot LOTL"
practice): a *pivot* LOTL, signed with the old key, whose pointer to the LOTL itself
names the new certificate, is published and kept at ``/lotl-pivot-<sequence>.xml``;
the next LOTL is signed with the new key and lists every pivot URL, newest first, in
its ``SchemeInformationURI``. The LOTL signer is the certificate the latest pivot
announced (the national list's signer until the first rotation), so the pivots, which
are signed statements, are also the record of the rotations.

Importing: :func:`import_list` reads a list from bytes or a URL (through an injected
httpx transport), checks it (hardened XML, XSD, signature against the pinned
certificates: :func:`govtrust.trustlist.read_list`), and keeps it as the source's
current import. A list of lists (``lotl=True``) is walked through its pivots and each
member list is imported against the certificates its pointer names. A failure is
recorded on the source (``last_error``) and never replaces the last good list;
:func:`refresh` does the same on schedule before each list's ``NextUpdate``.

Validation: :func:`listed_services` gives the services of the current imports, filtered
by the recognition policy (``[trustlist]``: territories, service types, dates, type
mapping: TS 119 612 V2.4.1 mutual recognition is expressed here in configuration, since
the V2.4.1 XSD has no machine-readable agreement element), cached per set of imports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govtrust.ca.names import format_serial, parse_subject
from govtrust.ca.profiles import CertificateRequest
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.signer import KeyRef
from govtrust.errors import (
    AlreadyExists,
    ConfigError,
    Conflict,
    InputError,
    NotFound,
    TrustListRefused,
)
from govtrust.services import audit, certificates
from govtrust.services.authorities import get_ca, list_cas
from govtrust.services.context import Actor, Context
from govtrust.signing.api import SigningIdentity
from govtrust.store.models import CertificateRow
from govtrust.store.signing_models import CredentialRow
from govtrust.store.trustlist_models import (
    TrustListImportRow,
    TrustListPointerRow,
    TrustListProviderRow,
    TrustListPublicationRow,
    TrustListSchemeRow,
    TrustListServiceRow,
    TrustListServiceStatusRow,
    TrustListSourceRow,
)
from govtrust.trustlist import (
    SERVICE_TYPES,
    STATUS,
    TSL_VERSION,
    Address,
    ListedService,
    Pointer,
    Provider,
    SchemeInformation,
    Service,
    ServiceIndex,
    StatusPeriod,
    TrustedList,
    VerifiedList,
    build_list,
    member_pointers,
    pivot_urls,
    read_list,
    schema_errors,
    self_pointer,
    sign_list,
    walk_pivots,
)
from govtrust.trustlist._xml import MAX_LIST_BYTES, parse_hardened
from govtrust.trustlist.model import ADDITIONAL_INFO, QUALIFIERS, Qualification, tsl_type
from govtrust.trustlist.parse import parse_list

__all__ = [
    "ProviderSummary",
    "Publication",
    "Rotation",
    "TrustListSettings",
    "add_local_services",
    "add_pointer",
    "add_provider",
    "add_service",
    "configure_scheme",
    "create_signer",
    "current_model",
    "import_list",
    "latest_publication",
    "list_providers",
    "listed_services",
    "lotl_signer_certificate",
    "pivot_publication",
    "pivot_publications",
    "pivot_url",
    "publish",
    "publish_lotl",
    "published_status",
    "recognition_windows",
    "refresh",
    "rotate_lotl_signer",
    "service_index",
    "set_status",
    "settings",
    "signer_certificate",
    "status",
    "update_provider",
]

MAX_NEXT_UPDATE_DAYS = 183  # TS 119 612 §5.3.15: at most six months after issue


# ---- configuration -------------------------------------------------------------------


@dataclass(frozen=True)
class TrustListSettings:
    """``[trustlist]``: the recognition policy and the schedule.

    ``recognised_territories``: foreign territories whose lists are used for validation
    (empty: every imported list). ``recognised_service_types``: service types used, as
    URIs or short names (``CA/QC``; empty: all). ``recognised_from`` / ``recognised_until``:
    statuses count only at times within the window (ISO 8601). ``service_type_map``:
    foreign type URI -> local type URI. ``next_update_days``: our lists' validity.
    ``refresh_before_hours``: fetch a list this long before its NextUpdate.
    ``retry_minutes``: after a failed refresh. ``fetch_timeout_seconds``.
    """

    recognised_territories: frozenset[str] = frozenset()
    recognised_service_types: frozenset[str] = frozenset()
    recognised_from: dt.datetime | None = None
    recognised_until: dt.datetime | None = None
    service_type_map: Mapping[str, str] = dataclasses.field(default_factory=dict)
    next_update_days: int = 30
    refresh_before_hours: float = 24.0
    retry_minutes: float = 15.0
    fetch_timeout_seconds: float = 30.0


_KEYS = {f.name for f in dataclasses.fields(TrustListSettings)}


def _type_uri(value: str) -> str:
    return SERVICE_TYPES.get(value, value)


def _time(key: str, value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, str):
        try:
            t = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"[trustlist] {key} is not an ISO 8601 date-time") from None
    else:
        raise ConfigError(f"[trustlist] {key} must be a date-time")
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _str_list(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[trustlist] {key} must be a list of strings")
    return value


def _number(key: str, value: Any, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or (positive and value <= 0):
        raise ConfigError(f"[trustlist] {key} must be a positive number")
    return float(value)


def settings(ctx: Context) -> TrustListSettings:
    """The ``[trustlist]`` section, validated (ConfigError on unknown keys or types)."""
    raw = ctx.settings.section("trustlist")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(f"[trustlist] unknown key(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if "recognised_territories" in raw:
        out["recognised_territories"] = frozenset(
            t.upper() for t in _str_list("recognised_territories", raw["recognised_territories"])
        )
    if "recognised_service_types" in raw:
        out["recognised_service_types"] = frozenset(
            _type_uri(t)
            for t in _str_list("recognised_service_types", raw["recognised_service_types"])
        )
    for key in ("recognised_from", "recognised_until"):
        if key in raw:
            out[key] = _time(key, raw[key])
    if "service_type_map" in raw:
        table = raw["service_type_map"]
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            raise ConfigError("[trustlist] service_type_map must map type URIs to type URIs")
        out["service_type_map"] = {k: _type_uri(v) for k, v in table.items()}
    if "next_update_days" in raw:
        days = int(_number("next_update_days", raw["next_update_days"]))
        if days > MAX_NEXT_UPDATE_DAYS:
            raise ConfigError("[trustlist] next_update_days is at most 183 (TS 119 612 §5.3.15)")
        out["next_update_days"] = days
    for key in ("refresh_before_hours", "retry_minutes", "fetch_timeout_seconds"):
        if key in raw:
            out[key] = _number(key, raw[key])
    return TrustListSettings(**out)


# ---- the scheme and its signer --------------------------------------------------------


def _scheme_row(session: Session) -> TrustListSchemeRow:
    row = session.get(TrustListSchemeRow, 1)
    if row is None:
        raise NotFound("trusted list scheme", "this instance (run 'govtrust trustlist scheme')")
    return row


def configure_scheme(
    ctx: Context,
    actor: Actor,
    *,
    territory: str,
    operator_name: str,
    scheme_name: str | None = None,
    street: str = "-",
    locality: str = "-",
    electronic_address: str = "",
    information_uri: str = "",
) -> None:
    """Set this instance's scheme operator (TS 119 612 §5.3.4-5.3.10)."""
    territory = territory.upper()
    if not (len(territory) == 2 and territory.isalpha()):
        raise InputError("the scheme territory is a two-letter country code")
    base = ctx.settings.public_base_url.rstrip("/")
    with ctx.db.write() as session:
        row = session.get(TrustListSchemeRow, 1) or TrustListSchemeRow(
            id=1, sequence=0, lotl_sequence=0
        )
        row.territory = territory
        row.operator_name = operator_name
        row.scheme_name = scheme_name or f"{territory}: trusted list of {operator_name}"
        row.street = street
        row.locality = locality
        row.electronic_address = electronic_address or f"{base}/"
        row.information_uri = information_uri or f"{base}/trustlist.xml"
        row.updated_at = ctx.clock.now()
        session.merge(row)
        audit.record(
            session,
            ctx,
            actor,
            "trustlist.scheme",
            "trustlist",
            territory,
            operator_name.encode(),
            {"operator": operator_name},
        )


def create_signer(
    ctx: Context, actor: Actor, *, ca: str = "people", key: KeySpec = KeySpec.EC_P256
) -> str:
    """Issue the trusted-list signer certificate (profile ``trustlist-signer``, subject
    C = territory, O = operator name: TS 119 612 §5.7.1) to a new key in custody and
    make it the list signer. Returns its serial."""
    with ctx.db.read() as session:
        scheme = _scheme_row(session)
        territory, operator = scheme.territory, scheme.operator_name
    serial = _issue_signer(ctx, actor, territory, operator, ca, key)
    with ctx.db.write() as session:
        _scheme_row(session).signer_serial = serial
    return serial


def _issue_signer(
    ctx: Context, actor: Actor, territory: str, operator: str, ca: str, key: KeySpec
) -> str:
    subject = parse_subject(f"CN={operator} Trusted List Signer,O={operator},C={territory}")
    signer = ctx.custody.generate("software", f"trustlist-signer-{territory.lower()}", key)
    request = CertificateRequest(subject, signer.public_key(), ())
    return certificates.issue(
        ctx, ca, "trustlist-signer", request, actor, key_ref=signer.ref
    ).serial


def _signer_row(session: Session) -> CertificateRow:
    scheme = _scheme_row(session)
    if not scheme.signer_serial:
        raise NotFound("trusted list signer", "none set (govtrust trustlist signer create)")
    return certificates.load_cert_row(session, scheme.signer_serial)


def signer_certificate(ctx: Context) -> x509.Certificate:
    """The certificate our lists are signed with (to pin in other countries)."""
    with ctx.db.read() as session:
        return x509.load_der_x509_certificate(_signer_row(session).der)


def _latest_pivot_row(session: Session) -> TrustListPublicationRow | None:
    return session.scalars(
        select(TrustListPublicationRow)
        .where(TrustListPublicationRow.kind == "pivot")
        .order_by(TrustListPublicationRow.sequence.desc())
        .limit(1)
    ).first()


def _lotl_signer_row(session: Session) -> CertificateRow:
    """The LOTL signer: the certificate the latest pivot announced in its pointer to
    the LOTL itself, or, before any rotation, the list signer."""
    pivot = _latest_pivot_row(session)
    if pivot is None:
        return _signer_row(session)
    pointer = self_pointer(parse_list(parse_hardened(pivot.xml)).trusted_list)
    if pointer is None or not pointer.certificates:  # we wrote it: a bug, not input
        raise Conflict(f"pivot LOTL #{pivot.sequence} announces no signing certificate")
    der = pointer.certificates[0].public_bytes(Encoding.DER)
    row = session.scalars(
        select(CertificateRow).where(CertificateRow.sha256 == hashlib.sha256(der).hexdigest())
    ).first()
    if row is None:
        raise NotFound("LOTL signer certificate", f"announced by pivot #{pivot.sequence}")
    return row


def lotl_signer_certificate(ctx: Context) -> x509.Certificate:
    """The certificate our list of lists is signed with now (after the last rotation)."""
    with ctx.db.read() as session:
        return x509.load_der_x509_certificate(_lotl_signer_row(session).der)


def _signing_identity(ctx: Context, *, lotl: bool = False) -> SigningIdentity:
    now = ctx.clock.now()
    with ctx.db.read() as session:
        row = _lotl_signer_row(session) if lotl else _signer_row(session)
        if row.status == "revoked" or not (row.not_before <= now <= row.not_after):
            raise Conflict(f"the trusted-list signer certificate {row.serial} may not sign now")
        if not row.key_ref:
            raise Conflict("the trusted-list signer's key is not in custody")
        der, ref = row.der, KeyRef.parse(row.key_ref)
    return SigningIdentity(x509.load_der_x509_certificate(der), (), ctx.custody.load(ref))


# ---- providers and services ----------------------------------------------------------


def _provider_row(session: Session, name: str) -> TrustListProviderRow:
    row = session.scalars(
        select(TrustListProviderRow).where(TrustListProviderRow.name == name)
    ).first()
    if row is None:
        raise NotFound("trust service provider", name)
    return row


def add_provider(
    ctx: Context,
    name: str,
    actor: Actor,
    *,
    trade_name: str | None = None,
    info_uri: str | None = None,
) -> None:
    """A trust service provider (TS 119 612 §5.4)."""
    if not name.strip():
        raise InputError("a provider needs a name")
    now = ctx.clock.now()
    with ctx.db.write() as session:
        if session.scalars(
            select(TrustListProviderRow.id).where(TrustListProviderRow.name == name)
        ).first():
            raise AlreadyExists(f"a provider named {name!r} already exists")
        session.add(
            TrustListProviderRow(
                name=name, trade_name=trade_name, info_uri=info_uri, created_at=now, updated_at=now
            )
        )
        audit.record(session, ctx, actor, "trustlist.tsp.add", "tsp", name, name.encode())


def update_provider(
    ctx: Context,
    name: str,
    actor: Actor,
    *,
    trade_name: str | None = None,
    info_uri: str | None = None,
    new_name: str | None = None,
) -> None:
    with ctx.db.write() as session:
        row = _provider_row(session, name)
        if trade_name is not None:
            row.trade_name = trade_name
        if info_uri is not None:
            row.info_uri = info_uri
        if new_name and new_name != row.name:
            taken = session.scalars(
                select(TrustListProviderRow.id).where(TrustListProviderRow.name == new_name)
            ).first()
            if taken is not None:
                raise AlreadyExists(f"a provider named {new_name!r} already exists")
            row.name = new_name
        row.updated_at = ctx.clock.now()
        audit.record(session, ctx, actor, "trustlist.tsp.update", "tsp", row.name, name.encode())


@dataclass(frozen=True)
class ProviderSummary:
    """A stored trust service provider, with the number of its services (providers
    without a service yet included: the published model leaves them out)."""

    name: str
    trade_name: str
    info_uri: str
    services: int


def list_providers(ctx: Context) -> list[ProviderSummary]:
    """Every trust service provider in storage, by name."""
    count = (
        select(func.count())
        .select_from(TrustListServiceRow)
        .where(TrustListServiceRow.provider_id == TrustListProviderRow.id)
        .scalar_subquery()
    )
    with ctx.db.read() as session:
        rows = session.execute(
            select(
                TrustListProviderRow.name,
                TrustListProviderRow.trade_name,
                TrustListProviderRow.info_uri,
                count,
            ).order_by(TrustListProviderRow.name)
        ).all()
    return [ProviderSummary(n, t or "", u or "", int(c or 0)) for n, t, u, c in rows]


def _status_uri(status: str) -> str:
    uri = STATUS.get(status, status)
    if uri not in STATUS.values():
        raise InputError(f"unknown service status {status!r} (e.g. granted, withdrawn)")
    return uri


def _service_row(session: Session, provider: str, service: str) -> TrustListServiceRow:
    prov = _provider_row(session, provider)
    row = session.scalars(
        select(TrustListServiceRow).where(
            TrustListServiceRow.provider_id == prov.id, TrustListServiceRow.name == service
        )
    ).first()
    if row is None:
        raise NotFound("trust service", f"{provider} / {service}")
    return row


def add_service(
    ctx: Context,
    provider: str,
    name: str,
    type_uri: str,
    certificate: x509.Certificate,
    actor: Actor,
    *,
    status: str = "granted",
    starting_time: dt.datetime | None = None,
    additional_info: Sequence[str] = (),
    qualifiers: Sequence[str] = (),
) -> None:
    """A service of ``provider`` (TS 119 612 §5.5): type URI or short name (``CA/QC``),
    digital identity ``certificate``, first status from ``starting_time`` (now)."""
    type_uri = _type_uri(type_uri)
    if not type_uri.startswith("http"):
        raise InputError(f"unknown service type {type_uri!r} (a URI, or e.g. CA/QC, TSA/QTST)")
    info = [ADDITIONAL_INFO.get(a, a) for a in additional_info]
    quals = [QUALIFIERS.get(qq, qq) for qq in qualifiers]
    der = certificate.public_bytes(Encoding.DER)
    now = ctx.clock.now()
    with ctx.db.write() as session:
        prov = _provider_row(session, provider)
        if session.scalars(
            select(TrustListServiceRow.id).where(
                TrustListServiceRow.provider_id == prov.id, TrustListServiceRow.name == name
            )
        ).first():
            raise AlreadyExists(f"{provider} already has a service named {name!r}")
        row = TrustListServiceRow(
            provider_id=prov.id,
            name=name,
            type_uri=type_uri,
            certificate_der=der,
            certificate_sha256=hashlib.sha256(der).hexdigest(),
            additional_info=json.dumps(info),
            qualifiers=json.dumps(quals),
            created_at=now,
        )
        session.add(row)
        session.flush()
        session.add(
            TrustListServiceStatusRow(
                service_id=row.id,
                status=_status_uri(status),
                starting_time=starting_time or now,
                recorded_at=now,
                recorded_by=actor.name,
            )
        )
        audit.record(
            session,
            ctx,
            actor,
            "trustlist.service.add",
            "trust-service",
            f"{provider}/{name}",
            der,
            {"type": type_uri, "status": status},
        )


def set_status(
    ctx: Context,
    provider: str,
    service: str,
    new_status: str,
    actor: Actor,
    *,
    starting_time: dt.datetime | None = None,
) -> None:
    """A new status of a service from ``starting_time`` (now): the previous one moves to
    the history (TS 119 612 §5.6). ``withdrawn`` and ``granted`` are the usual ones.

    Status starting times have a precision of one second, and each must follow the
    previous one (§5.6.2). Without an explicit ``starting_time``, a change made within
    the second its predecessor started takes effect one second later instead of being
    refused; an explicit time that does not follow the current status is a conflict."""
    uri = _status_uri(new_status)
    now = ctx.clock.now()
    with ctx.db.write() as session:
        row = _service_row(session, provider, service)
        latest = session.scalars(
            select(func.max(TrustListServiceStatusRow.starting_time)).where(
                TrustListServiceStatusRow.service_id == row.id
            )
        ).first()
        start = starting_time or now
        if latest is not None and start <= latest:
            if starting_time is not None:
                raise Conflict("a new status must start after the current one (TS 119 612 §5.6)")
            start = latest + dt.timedelta(seconds=1)
        session.add(
            TrustListServiceStatusRow(
                service_id=row.id,
                status=uri,
                starting_time=start,
                recorded_at=now,
                recorded_by=actor.name,
            )
        )
        audit.record(
            session,
            ctx,
            actor,
            "trustlist.service.status",
            "trust-service",
            f"{provider}/{service}",
            uri.encode(),
            {"status": new_status, "start": start.isoformat()},
        )


def add_local_services(ctx: Context, actor: Actor, *, provider: str | None = None) -> list[str]:
    """List this instance's own services under one provider (created if needed): each
    issuing CA as ``CA/QC`` (the root as well, TS 119 612 allows either) and the TSA's
    certificate as ``TSA/QTST``. Services already listed are skipped."""
    with ctx.db.read() as session:
        scheme = _scheme_row(session)
        name = (
            provider
            or scheme.operator_name.replace("Supervisory Body", "").strip()
            or (f"Government of {scheme.territory}")
        )
        exists = session.scalars(
            select(TrustListProviderRow.id).where(TrustListProviderRow.name == name)
        ).first()
        known = set(session.scalars(select(TrustListServiceRow.certificate_sha256)).all())
        tsa = session.execute(
            select(CertificateRow.der)
            .join(CredentialRow, CredentialRow.certificate_id == CertificateRow.id)
            .where(CredentialRow.name == "tsa")
        ).scalar()
    if not exists:
        add_provider(ctx, name, actor, info_uri=ctx.settings.public_base_url)
    added: list[str] = []
    for ca in list_cas(ctx):
        cert = x509.load_der_x509_certificate(get_ca(ctx, ca.name).cert_der)
        if hashlib.sha256(ca.cert_der).hexdigest() in known:
            continue
        label = cert.subject.rfc4514_string()
        add_service(ctx, name, label, "CA/QC", cert, actor, additional_info=("ForeSignatures",))
        added.append(label)
    if tsa is not None and hashlib.sha256(tsa).hexdigest() not in known:
        cert = x509.load_der_x509_certificate(tsa)
        label = cert.subject.rfc4514_string()
        add_service(ctx, name, label, "TSA/QTST", cert, actor)
        added.append(label)
    return added


# ---- building and publishing ---------------------------------------------------------


def _address(scheme: TrustListSchemeRow) -> Address:
    return Address(
        scheme.street, scheme.locality, scheme.territory, None, (scheme.electronic_address,)
    )


def _providers(session: Session) -> tuple[Provider, ...]:
    providers = []
    for prov in session.scalars(select(TrustListProviderRow).order_by(TrustListProviderRow.id)):
        services = []
        rows = session.scalars(
            select(TrustListServiceRow)
            .where(TrustListServiceRow.provider_id == prov.id)
            .order_by(TrustListServiceRow.id)
        )
        for svc in rows:
            periods = [
                StatusPeriod(s.status, s.starting_time)
                for s in session.scalars(
                    select(TrustListServiceStatusRow)
                    .where(TrustListServiceStatusRow.service_id == svc.id)
                    .order_by(TrustListServiceStatusRow.starting_time.desc())
                )
            ]
            quals = tuple(json.loads(svc.qualifiers))
            services.append(
                Service(
                    type_uri=svc.type_uri,
                    name=svc.name,
                    certificates=(x509.load_der_x509_certificate(svc.certificate_der),),
                    status=periods[0],
                    history=tuple(periods[1:]),
                    additional_info=tuple(json.loads(svc.additional_info)),
                    qualifications=(Qualification(quals),) if quals else (),
                )
            )
        if services:
            providers.append(
                Provider(
                    name=prov.name,
                    services=tuple(services),
                    trade_names=(prov.trade_name,) if prov.trade_name else (),
                    info_uris=(prov.info_uri,) if prov.info_uri else (),
                )
            )
    return tuple(providers)


def pivot_url(ctx: Context, sequence: int) -> str:
    """Where pivot LOTL ``sequence`` is served (as the EU's ``eu-lotl-pivot-N.xml``)."""
    return f"{ctx.settings.public_base_url.rstrip('/')}/lotl-pivot-{sequence}.xml"


def current_model(
    ctx: Context,
    *,
    sequence: int | None = None,
    lotl: bool = False,
    announce: x509.Certificate | None = None,
) -> TrustedList:
    """The list as it would be published now (``sequence``: the next one by default).

    For a list of lists, ``SchemeInformationURI`` lists the pivot LOTLs published so
    far, newest first, then the scheme's information URI. ``announce``: build a pivot
    LOTL instead, whose pointer to the LOTL itself names ``announce`` (the next
    signer), and whose own URL heads the pivot URLs (as the EU's pivots do)."""
    cfg = settings(ctx)
    now = ctx.clock.now()
    base = ctx.settings.public_base_url.rstrip("/")
    with ctx.db.read() as session:
        scheme = _scheme_row(session)
        seq = sequence or ((scheme.lotl_sequence if lotl else scheme.sequence) + 1)
        pivots: tuple[str, ...] = ()
        if lotl:
            done = session.scalars(
                select(TrustListPublicationRow.sequence)
                .where(TrustListPublicationRow.kind == "pivot")
                .order_by(TrustListPublicationRow.sequence.desc())
            ).all()
            pivots = tuple(pivot_url(ctx, n) for n in ([seq] if announce else []) + list(done))
        info = SchemeInformation(
            version=TSL_VERSION,
            sequence=seq,
            tsl_type=tsl_type(scheme.territory, lotl),
            operator_name=scheme.operator_name,
            territory=scheme.territory,
            issued=now,
            next_update=now + dt.timedelta(days=cfg.next_update_days),
            scheme_name=scheme.scheme_name,
            operator_address=_address(scheme),
            information_uris=(*pivots, scheme.information_uri),
            legal_notice=(
                f"The applicable legal framework is the trust services law of {scheme.territory}."
            ),
            distribution_points=(f"{base}/{'lotl' if lotl else 'trustlist'}.xml",),
        )
        if lotl:
            pointers = tuple(
                Pointer(
                    location=p.location,
                    territory=p.territory,
                    certificates=tuple(
                        x509.load_pem_x509_certificates(p.certificates_pem.encode())
                    ),
                    tsl_type=tsl_type(p.territory, False),
                    operator_name=p.operator_name,
                )
                for p in session.scalars(
                    select(TrustListPointerRow).order_by(TrustListPointerRow.territory)
                )
            )
            signer = announce or x509.load_der_x509_certificate(_lotl_signer_row(session).der)
            self_ptr = Pointer(
                location=f"{base}/lotl.xml",
                territory=scheme.territory,
                certificates=(signer,),
                tsl_type=tsl_type(scheme.territory, True),
                operator_name=scheme.operator_name,
            )
            list_id = f"{'pivot' if announce else 'lotl'}-{seq}"
            return TrustedList(info, (), (self_ptr, *pointers), list_id=list_id)
        return TrustedList(info, _providers(session), (), list_id=f"tl-{scheme.territory}-{seq}")


@dataclass(frozen=True)
class Publication:
    kind: str  # "tl" | "lotl"
    sequence: int
    issued: dt.datetime
    next_update: dt.datetime
    sha256: str
    xml: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "sequenceNumber": self.sequence,
            "issued": self.issued.isoformat(),
            "nextUpdate": self.next_update.isoformat(),
            "sha256": self.sha256,
            "size": len(self.xml),
        }


_ACTIONS = {
    "tl": "trustlist.publish",
    "lotl": "trustlist.publish-lotl",
    "pivot": "trustlist.publish-pivot",
}


def _publish(
    ctx: Context,
    actor: Actor,
    kind: str,
    *,
    announce: CertificateRow | None = None,
) -> Publication:
    """Build, check, sign, store and audit one publication: ``tl``, ``lotl``, or a
    ``pivot`` LOTL (signed by the current LOTL signer, announcing ``announce``). A
    LOTL and its pivots share one sequence of numbers (the EU's pivots are LOTLs)."""
    lotl = kind != "tl"
    new_cert = x509.load_der_x509_certificate(announce.der) if announce is not None else None
    model = current_model(ctx, lotl=lotl, announce=new_cert)
    if not lotl and not model.providers:
        raise Conflict("nothing to publish: add a provider and a service first")
    tree = build_list(model)
    problems = schema_errors(tree)
    if problems:  # a bug, never the user's input
        raise Conflict(f"the list built does not match the TS 119 612 schema: {problems[0]}")
    identity = _signing_identity(ctx, lotl=lotl)
    signed = sign_list(tree, identity, ctx.clock)
    from govtrust.signing.xades._xml import serialize

    xml = serialize(signed)
    digest = hashlib.sha256(xml).hexdigest()
    s = model.scheme
    assert s.next_update is not None
    details: dict[str, Any] = {
        "territory": s.territory,
        "sequence": s.sequence,
        "next_update": s.next_update.isoformat(),
        "providers": len(model.providers),
        "services": model.service_count,
        "pointers": len(model.pointers),
        "signer": format_serial(identity.certificate.serial_number),
    }
    if lotl:
        details["pivots"] = len(pivot_urls(model))
    if announce is not None:
        details["announces"] = announce.serial
    with ctx.db.write() as session:
        scheme = _scheme_row(session)
        current = scheme.lotl_sequence if lotl else scheme.sequence
        if current + 1 != s.sequence:
            # (a rotation meanwhile is caught here too: its pivot takes a number)
            raise Conflict("another publication happened meanwhile: publish again")
        if lotl:
            scheme.lotl_sequence = s.sequence
        else:
            scheme.sequence = s.sequence
        session.add(
            TrustListPublicationRow(
                kind=kind,
                sequence=s.sequence,
                issued=s.issued,
                next_update=s.next_update,
                sha256=digest,
                xml=xml,
                created_by=actor.name,
            )
        )
        audit.record(
            session,
            ctx,
            actor,
            _ACTIONS[kind],
            "trustlist",
            f"{s.territory}#{s.sequence}",
            xml,
            details,
        )
    return Publication(kind, s.sequence, s.issued, s.next_update, digest, xml)


def publish(ctx: Context, actor: Actor) -> Publication:
    """Build, check, sign, store and audit the next list (sequence number + 1)."""
    return _publish(ctx, actor, "tl")


def _require_pointers(ctx: Context) -> None:
    with ctx.db.read() as session:
        if not session.scalars(select(TrustListPointerRow.id)).first():
            raise Conflict("no pointer to a member list: add one first")


def publish_lotl(ctx: Context, actor: Actor) -> Publication:
    """The next list of trusted lists over the pointers (``add_pointer``), signed by the
    LOTL signer, with a pointer to itself that names it (the pivot mechanism starts
    from it) and the URLs of the pivots published so far, newest first."""
    _require_pointers(ctx)
    return _publish(ctx, actor, "lotl")


@dataclass(frozen=True)
class Rotation:
    """What :func:`rotate_lotl_signer` did: the new signer, the pivot, the new LOTL."""

    old_signer: str
    new_signer: str
    pivot: Publication
    pivot_url: str
    lotl: Publication

    def to_dict(self) -> dict[str, Any]:
        return {
            "oldSigner": self.old_signer,
            "newSigner": self.new_signer,
            "pivot": {**self.pivot.to_dict(), "url": self.pivot_url},
            "lotl": self.lotl.to_dict(),
        }


def rotate_lotl_signer(
    ctx: Context, actor: Actor, *, ca: str = "people", key: KeySpec = KeySpec.EC_P256
) -> Rotation:
    """Change the signing key of our list of lists by the pivot mechanism (TS 119 612
    §5.3.13, the EU's "pivot LOTL" practice):

    1. issue a new trusted-list signer certificate (profile ``trustlist-signer``,
       TS 119 612 §5.7.1) to a new key in custody;
    2. publish a *pivot* LOTL, the next LOTL sequence number, signed with the OLD key,
       whose pointer to the LOTL itself names the NEW certificate, kept and served at
       ``/lotl-pivot-<sequence>.xml`` (its own URL heads its SchemeInformationURI);
    3. publish the next LOTL, signed with the NEW key, whose SchemeInformationURI lists
       every pivot URL, newest first.

    A relying party that pinned the old certificate walks the pivots to the new one.
    Every publication is audited (``trustlist.publish-pivot``, ``trustlist.publish-lotl``).
    The old certificate is not revoked: the pivots it signed must stay verifiable.
    The national list's signer does not change."""
    _require_pointers(ctx)
    if latest_publication(ctx, "lotl") is None:
        raise Conflict(
            "no list of lists was published with the current signer: nobody can have"
            " pinned it, publish one first (govtrust trustlist publish-lotl)"
        )
    old_identity = _signing_identity(ctx, lotl=True)  # the old key must still sign
    old_serial = format_serial(old_identity.certificate.serial_number)
    with ctx.db.read() as session:
        scheme = _scheme_row(session)
        territory, operator = scheme.territory, scheme.operator_name
    serial = _issue_signer(ctx, actor, territory, operator, ca, key)
    with ctx.db.read() as session:
        new_row = certificates.load_cert_row(session, serial)
        session.expunge(new_row)
    pivot = _publish(ctx, actor, "pivot", announce=new_row)
    lotl = _publish(ctx, actor, "lotl")
    return Rotation(old_serial, serial, pivot, pivot_url(ctx, pivot.sequence), lotl)


def add_pointer(
    ctx: Context,
    territory: str,
    location: str,
    certificates_: Sequence[x509.Certificate],
    actor: Actor,
    *,
    operator_name: str = "",
) -> None:
    """A member list for the list of lists (TS 119 612 §5.3.13); replaces that
    territory's pointer."""
    if not certificates_:
        raise InputError("a pointer names at least one signing certificate")
    pem = "".join(c.public_bytes(Encoding.PEM).decode() for c in certificates_)
    with ctx.db.write() as session:
        row = session.scalars(
            select(TrustListPointerRow).where(TrustListPointerRow.territory == territory.upper())
        ).first()
        if row is None:
            row = TrustListPointerRow(territory=territory.upper(), created_at=ctx.clock.now())
            session.add(row)
        row.location = location
        row.operator_name = operator_name or territory.upper()
        row.certificates_pem = pem
        audit.record(
            session, ctx, actor, "trustlist.pointer", "trustlist", territory.upper(), pem.encode()
        )


def pivot_publication(ctx: Context, sequence: int) -> Publication | None:
    """Pivot LOTL ``sequence`` (served at ``/lotl-pivot-<sequence>.xml``)."""
    with ctx.db.read() as session:
        row = session.scalars(
            select(TrustListPublicationRow).where(
                TrustListPublicationRow.kind == "pivot",
                TrustListPublicationRow.sequence == sequence,
            )
        ).first()
        if row is None:
            return None
        return Publication(row.kind, row.sequence, row.issued, row.next_update, row.sha256, row.xml)


def pivot_publications(ctx: Context) -> list[Publication]:
    """Every pivot LOTL published, newest first."""
    with ctx.db.read() as session:
        return [
            Publication(r.kind, r.sequence, r.issued, r.next_update, r.sha256, r.xml)
            for r in session.scalars(
                select(TrustListPublicationRow)
                .where(TrustListPublicationRow.kind == "pivot")
                .order_by(TrustListPublicationRow.sequence.desc())
            )
        ]


def latest_publication(ctx: Context, kind: str = "tl") -> Publication | None:
    with ctx.db.read() as session:
        row = session.scalars(
            select(TrustListPublicationRow)
            .where(TrustListPublicationRow.kind == kind)
            .order_by(TrustListPublicationRow.sequence.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return Publication(row.kind, row.sequence, row.issued, row.next_update, row.sha256, row.xml)


# ---- importing -----------------------------------------------------------------------


def _fetch(url: str, transport: httpx.BaseTransport | None, timeout: float, source: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise TrustListRefused("download", source, f"{source}: {url!r} is not an http(s) URL")
    try:
        client = httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)
        with client, client.stream("GET", url) as response:
            if response.status_code != 200:
                raise TrustListRefused(
                    "download", source, f"{source}: {url} answered HTTP {response.status_code}"
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_LIST_BYTES:
                    raise TrustListRefused(
                        "download",
                        source,
                        f"{source}: {url} is larger than {MAX_LIST_BYTES} bytes",
                    )
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise TrustListRefused(
            "download", source, f"{source}: cannot download {url}: {type(exc).__name__}"
        ) from None


def _pem(certs: Sequence[x509.Certificate]) -> str:
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certs)


def _source_row(
    session: Session,
    name: str,
    kind: str,
    url: str | None,
    pinned: Sequence[x509.Certificate],
    now: dt.datetime,
    parent_id: int | None = None,
) -> TrustListSourceRow:
    row = session.scalars(select(TrustListSourceRow).where(TrustListSourceRow.name == name)).first()
    if row is None:
        row = TrustListSourceRow(name=name, kind=kind, created_at=now, failures=0, pinned_pem="")
        session.add(row)
    row.kind = kind
    if url is not None:
        row.url = url
    if pinned:
        row.pinned_pem = _pem(pinned)
    if parent_id is not None:
        row.parent_id = parent_id
    session.flush()
    return row


def _record_failure(ctx: Context, name: str, exc: TrustListRefused, actor: Actor) -> None:
    now = ctx.clock.now()
    with ctx.db.write() as session:
        row = session.scalars(
            select(TrustListSourceRow).where(TrustListSourceRow.name == name)
        ).first()
        if row is not None:
            row.last_attempt_at = now
            row.last_error = exc.message
            row.last_error_reason = exc.reason
            row.failures = (row.failures or 0) + 1
        audit.record(
            session,
            ctx,
            actor,
            "trustlist.import-failed",
            "trustlist",
            name,
            exc.message.encode(),
            {"reason": exc.reason},
        )


def _store_import(
    ctx: Context,
    actor: Actor,
    name: str,
    kind: str,
    url: str | None,
    pinned: Sequence[x509.Certificate],
    verified: VerifiedList,
    parent_id: int | None = None,
) -> int:
    tl = verified.trusted_list
    now = ctx.clock.now()
    with ctx.db.write() as session:
        source = _source_row(session, name, kind, url, pinned, now, parent_id)
        if source.current_import_id is not None:
            current = session.get(TrustListImportRow, source.current_import_id)
            if current is not None and tl.scheme.sequence < current.sequence:
                raise TrustListRefused(
                    "content",
                    name,
                    f"{name}: sequence number {tl.scheme.sequence} is older than the list in"
                    f" force ({current.sequence}): a rollback is refused",
                )
        row = TrustListImportRow(
            source_id=source.id,
            territory=tl.scheme.territory,
            sequence=tl.scheme.sequence,
            issued=tl.scheme.issued,
            next_update=tl.scheme.next_update,
            sha256=verified.sha256,
            signer_sha256=hashlib.sha256(verified.signer.public_bytes(Encoding.DER)).hexdigest(),
            providers=len(tl.providers),
            services=tl.service_count,
            xml=verified.data,
            imported_at=now,
        )
        session.add(row)
        session.flush()
        source.current_import_id = row.id
        source.last_attempt_at = now
        source.last_success_at = now
        source.last_error = None
        source.last_error_reason = None
        source.failures = 0
        audit.record(
            session,
            ctx,
            actor,
            "trustlist.import",
            "trustlist",
            name,
            verified.data,
            {
                "territory": tl.scheme.territory,
                "sequence": tl.scheme.sequence,
                "providers": len(tl.providers),
                "services": tl.service_count,
                "pointers": len(tl.pointers),
            },
        )
        return row.id


def import_list(
    ctx: Context,
    actor: Actor,
    *,
    pinned: Sequence[x509.Certificate],
    data: bytes | None = None,
    url: str | None = None,
    lotl: bool = False,
    name: str | None = None,
    pivots: Sequence[bytes] = (),
    transport: httpx.BaseTransport | None = None,
    follow_pointers: bool = True,
) -> dict[str, Any]:
    """Import one list (or a list of lists and its members); see the module docstring.
    Returns a summary. A refused list raises TrustListRefused after recording the
    failure on its source (if the source is known)."""
    if data is None and url is None:
        raise InputError("give a file or a URL")
    cfg = settings(ctx)
    label = name or url or "file"
    try:
        if data is None:
            assert url is not None
            data = _fetch(url, transport, cfg.fetch_timeout_seconds, label)
        keys = list(pinned)
        if lotl:
            pivot_docs = list(pivots)
            if not pivot_docs and url is not None:
                head = parse_list(_safe_tree(data, label)).trusted_list
                pivot_docs = [
                    _fetch(u, transport, cfg.fetch_timeout_seconds, label) for u in pivot_urls(head)
                ]
            walked: list[VerifiedList] = []
            if pivot_docs:
                keys, walked = walk_pivots(keys, pivot_docs, source=label)
            try:
                verified = read_list(data, keys, source=label, lotl=True)
            except TrustListRefused as exc:
                if exc.reason != "signature" or not pivot_docs:
                    raise
                how = (
                    f"the keys announced by its pivot #{walked[-1].trusted_list.scheme.sequence}"
                    if walked
                    else f"the pinned certificates, and none of its {len(pivot_docs)} pivot"
                    " LOTL(s) is signed by a pinned certificate either"
                )
                raise TrustListRefused(
                    "signature", label, f"{label}: the list of lists is not signed by {how}"
                ) from None
        else:
            verified = read_list(data, keys, source=label, lotl=False)
    except TrustListRefused as exc:
        known = name or (_source_name_by_url(ctx, url) if url is not None else None)
        if known is not None:
            _record_failure(ctx, known, exc, actor)
        raise
    tl = verified.trusted_list
    source_name = name or (f"{tl.scheme.territory}-LOTL" if lotl else tl.scheme.territory)
    try:
        _store_import(ctx, actor, source_name, "lotl" if lotl else "tl", url, pinned, verified)
    except TrustListRefused as exc:
        _record_failure(ctx, source_name, exc, actor)
        raise
    summary: dict[str, Any] = {
        "name": source_name,
        **tl.summary(),
        "signer": verified.signer.subject.rfc4514_string(),
    }
    if lotl and follow_pointers:
        summary["members"] = _import_members(ctx, actor, source_name, tl, transport)
    _invalidate()
    return summary


def _source_name_by_url(ctx: Context, url: str) -> str | None:
    """The followed list at ``url``, if any (a refused URL import without a name is
    recorded on it; the first followed, if several follow the URL)."""
    with ctx.db.read() as session:
        return session.scalars(
            select(TrustListSourceRow.name)
            .where(TrustListSourceRow.url == url)
            .order_by(TrustListSourceRow.id)
        ).first()


def _safe_tree(data: bytes, label: str) -> Any:
    from govtrust.trustlist._xml import XmlRefused

    try:
        return parse_hardened(data)
    except XmlRefused as exc:
        raise TrustListRefused("xml", label, f"{label}: {exc}") from None


def _import_members(
    ctx: Context,
    actor: Actor,
    lotl_name: str,
    tl: TrustedList,
    transport: httpx.BaseTransport | None,
) -> list[dict[str, Any]]:
    """Follow each member pointer: its list is checked against the pointer's
    certificates only (TS 119 612 §5.3.13)."""
    with ctx.db.read() as session:
        parent = session.scalars(
            select(TrustListSourceRow.id).where(TrustListSourceRow.name == lotl_name)
        ).one()
    results = []
    for pointer in member_pointers(tl):
        name = pointer.territory or pointer.location
        with ctx.db.write() as session:
            _source_row(
                session, name, "tl", pointer.location, pointer.certificates, ctx.clock.now(), parent
            )
        try:
            out = import_list(
                ctx,
                actor,
                pinned=pointer.certificates,
                url=pointer.location,
                name=name,
                transport=transport,
            )
            results.append({"name": name, "ok": True, "services": out["services"]})
        except TrustListRefused as exc:
            results.append({"name": name, "ok": False, "error": exc.message})
    return results


def refresh(
    ctx: Context, actor: Actor, *, transport: httpx.BaseTransport | None = None, force: bool = False
) -> list[dict[str, Any]]:
    """Fetch every followed list that is due: ``refresh_before_hours`` before its
    NextUpdate (or past it), or ``retry_minutes`` after a failure. A failure is recorded
    and the list in force stays."""
    cfg = settings(ctx)
    now = ctx.clock.now()
    due: list[tuple[str, str, str, str]] = []
    with ctx.db.read() as session:
        for src in session.scalars(
            select(TrustListSourceRow).where(TrustListSourceRow.url.is_not(None))
        ):
            if src.parent_id is not None and not force:
                continue  # members are refreshed with their list of lists
            current = (
                session.get(TrustListImportRow, src.current_import_id)
                if src.current_import_id
                else None
            )
            next_update = current.next_update if current else None
            if not force:
                if (
                    src.last_error
                    and src.last_attempt_at
                    and now - src.last_attempt_at < dt.timedelta(minutes=cfg.retry_minutes)
                ):
                    continue
                if (
                    next_update is not None
                    and now < next_update - dt.timedelta(hours=cfg.refresh_before_hours)
                    and not src.last_error
                ):
                    continue
            assert src.url is not None
            due.append((src.name, src.kind, src.url, src.pinned_pem))
    results = []
    for name, kind, url, pem in due:
        pinned = x509.load_pem_x509_certificates(pem.encode()) if pem.strip() else []
        try:
            out = import_list(
                ctx,
                actor,
                pinned=pinned,
                url=url,
                name=name,
                lotl=kind == "lotl",
                transport=transport,
            )
            results.append({"name": name, "ok": True, "sequenceNumber": out["sequenceNumber"]})
        except TrustListRefused as exc:
            results.append({"name": name, "ok": False, "reason": exc.reason, "error": exc.message})
    return results


def status(ctx: Context) -> list[dict[str, Any]]:
    """Each followed list: sequence number, issue and next update, freshness, last
    verification result and error; and our own last publications."""
    now = ctx.clock.now()
    out: list[dict[str, Any]] = []
    with ctx.db.read() as session:
        for src in session.scalars(select(TrustListSourceRow).order_by(TrustListSourceRow.name)):
            current = (
                session.get(TrustListImportRow, src.current_import_id)
                if src.current_import_id
                else None
            )
            entry: dict[str, Any] = {
                "name": src.name,
                "kind": src.kind,
                "url": src.url,
                "territory": current.territory if current else None,
                "sequenceNumber": current.sequence if current else None,
                "issued": current.issued.isoformat() if current else None,
                "nextUpdate": current.next_update.isoformat()
                if current and current.next_update
                else None,
                "fresh": bool(current and current.next_update and now < current.next_update),
                "providers": current.providers if current else 0,
                "services": current.services if current else 0,
                "verified": current is not None,
                "lastAttempt": src.last_attempt_at.isoformat() if src.last_attempt_at else None,
                "lastSuccess": src.last_success_at.isoformat() if src.last_success_at else None,
                "lastError": src.last_error,
                "lastErrorReason": src.last_error_reason,
                "failures": src.failures,
                "history": session.scalar(
                    select(func.count())
                    .select_from(TrustListImportRow)
                    .where(TrustListImportRow.source_id == src.id)
                ),
            }
            out.append(entry)
    return out


def published_status(ctx: Context) -> dict[str, Any]:
    with ctx.db.read() as session:
        scheme = session.get(TrustListSchemeRow, 1)
        if scheme is None:
            return {"configured": False}
        return {
            "configured": True,
            "territory": scheme.territory,
            "operator": scheme.operator_name,
            "sequenceNumber": scheme.sequence,
            "lotlSequenceNumber": scheme.lotl_sequence,
            "signer": scheme.signer_serial,
            "lotlSigner": _lotl_signer_row(session).serial if scheme.signer_serial else None,
            "pivots": session.scalar(
                select(func.count())
                .select_from(TrustListPublicationRow)
                .where(TrustListPublicationRow.kind == "pivot")
            ),
            "providers": session.scalar(select(func.count()).select_from(TrustListProviderRow)),
            "services": session.scalar(select(func.count()).select_from(TrustListServiceRow)),
        }


# ---- what validation uses -------------------------------------------------------------

_CACHE_LOCK = threading.Lock()
_CACHE: dict[tuple[str, tuple[int, ...]], list[ListedService]] = {}
_INDEX: dict[tuple[str, tuple[int, ...], str], ServiceIndex] = {}


def _invalidate() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
        _INDEX.clear()


def _recognised(cfg: TrustListSettings, territory: str, service: Service) -> Service | None:
    if cfg.recognised_territories and territory.upper() not in cfg.recognised_territories:
        return None
    mapped = cfg.service_type_map.get(service.type_uri, service.type_uri)
    if cfg.recognised_service_types and mapped not in cfg.recognised_service_types:
        return None
    return dataclasses.replace(service, type_uri=mapped) if mapped != service.type_uri else service


def _current_ids(ctx: Context) -> tuple[int, ...]:
    with ctx.db.read() as session:
        ids = tuple(
            sorted(
                i
                for i in session.scalars(
                    select(TrustListSourceRow.current_import_id).where(
                        TrustListSourceRow.kind == "tl",
                        TrustListSourceRow.current_import_id.is_not(None),
                    )
                )
                if i is not None
            )
        )
    return ids


def service_index(ctx: Context) -> ServiceIndex:
    """:func:`listed_services` indexed by key identifier, cached like them."""
    cfg = settings(ctx)
    key = (ctx.settings.database_url, _current_ids(ctx), repr(cfg))
    with _CACHE_LOCK:
        index = _INDEX.get(key)
    if index is None:
        index = ServiceIndex()
        index.extend(listed_services(ctx))
        with _CACHE_LOCK:
            _INDEX[key] = index
    return index


def listed_services(ctx: Context) -> list[ListedService]:
    """The services of the current national imports recognised by the policy, cached
    per set of imports (imports are immutable rows)."""
    cfg = settings(ctx)
    ids = _current_ids(ctx)
    key = (ctx.settings.database_url, ids)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        cached = []
        with ctx.db.read() as session:
            rows = (
                [
                    (r.xml,)
                    for r in session.scalars(
                        select(TrustListImportRow).where(TrustListImportRow.id.in_(ids))
                    )
                ]
                if ids
                else []
            )
        for (xml,) in rows:
            tl = parse_list(parse_hardened(xml)).trusted_list
            for provider in tl.providers:
                for service in provider.services:
                    cached.append(
                        ListedService(
                            tl.scheme.territory, provider.name, service, tl.scheme.sequence
                        )
                    )
        with _CACHE_LOCK:
            _CACHE[key] = cached
    out = []
    for item in cached:
        svc = _recognised(cfg, item.territory, item.service)
        if svc is not None:
            out.append(item if svc is item.service else dataclasses.replace(item, service=svc))
    return out


def recognition_windows(ctx: Context) -> dict[str, tuple[dt.datetime | None, dt.datetime | None]]:
    cfg = settings(ctx)
    if cfg.recognised_from is None and cfg.recognised_until is None:
        return {}
    return _AllTerritories((cfg.recognised_from, cfg.recognised_until))


class _AllTerritories(dict[str, tuple[dt.datetime | None, dt.datetime | None]]):
    """The same recognition window for every territory."""

    def __init__(self, window: tuple[dt.datetime | None, dt.datetime | None]) -> None:
        super().__init__()
        self._window = window

    def get(self, key: str, default: Any = None) -> Any:
        return self._window
