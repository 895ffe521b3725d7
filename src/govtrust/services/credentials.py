"""Signing credentials: a key in govtrust's custody (software or PKCS#11) and the
certificate issued for it, under a name that signers use.

``create_credential`` generates the key in custody and issues its certificate with the
``official`` (ETSI EN 319 412-2, natural person), ``seal`` (EN 319 412-3, legal person)
or ``tsa`` (RFC 3161 §2.3) profile. ``register_credential`` names an existing
certificate whose key is already in custody. ``get_credential`` hands a signer what it
needs (certificate, issuer chain, ``Signer``) and refuses a credential that may not sign
now: revoked, expired, not yet valid, or under a revoked or expired CA.

``trusted_roots`` are this instance's own root CAs: an instance trusts them by default.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from govtrust.ca.names import name_to_string, parse_san, parse_subject
from govtrust.ca.profiles import CertificateRequest
from govtrust.crypto.keys import KeySpec, spec_of_public_key
from govtrust.crypto.signer import KeyRef, Signer
from govtrust.errors import (
    AlreadyExists,
    CredentialUnusable,
    Forbidden,
    InputError,
    NotFound,
    PolicyViolation,
    UnknownCredential,
)
from govtrust.services import audit, certificates
from govtrust.services.authorities import issuer_info, load_ca_row
from govtrust.services.context import Actor, Context
from govtrust.store.models import ApiToken, CertificateAuthority, CertificateRow
from govtrust.store.signing_models import CredentialRow, CredentialTokenRow

__all__ = [
    "SIGNING_PROFILES",
    "Credential",
    "CredentialInfo",
    "bind_token",
    "bound_credential",
    "create_credential",
    "describe_credential",
    "get_credential",
    "list_credentials",
    "register_credential",
    "trusted_roots",
    "unbind_token",
]

SIGNING_PROFILES = ("official", "seal", "tsa")
"""Profiles a credential may have: signatures of officials, seals of agencies, and the
timestamp authority's own key."""

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


@dataclass(frozen=True)
class Credential:
    """What signing with a credential needs. ``chain`` is the issuer chain, from the
    issuing CA up to (and including) the root; ``signer`` signs inside the backend."""

    name: str
    profile: str
    certificate: x509.Certificate
    chain: list[x509.Certificate]
    signer: Signer

    @property
    def key_ref(self) -> KeyRef:
        return self.signer.ref


@dataclass(frozen=True)
class CredentialInfo:
    """A credential as listed and shown (no key is opened)."""

    name: str
    profile: str
    subject: str
    serial: str
    ca: str
    backend: str
    key_spec: str
    not_before: dt.datetime
    not_after: dt.datetime
    status: str
    created_at: dt.datetime
    created_by: str
    certificate_der: bytes
    chain_der: tuple[bytes, ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.certificate_der).hexdigest()

    @property
    def pem(self) -> str:
        return (
            x509.load_der_x509_certificate(self.certificate_der)
            .public_bytes(serialization.Encoding.PEM)
            .decode()
        )

    def to_dict(self, *, with_pem: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "profile": self.profile,
            "subject": self.subject,
            "serial": self.serial,
            "ca": self.ca,
            "backend": self.backend,
            "key": self.key_spec,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "sha256": self.sha256,
        }
        if self.chain_der:
            out["chain"] = [
                name_to_string(x509.load_der_x509_certificate(d).subject) for d in self.chain_der
            ]
        if with_pem:
            out["pem"] = self.pem
        return out


# ---- reading ---------------------------------------------------------------------------


class _Validity(Protocol):
    """What a credential's usability depends on, of its certificate row."""

    @property
    def status(self) -> str: ...
    @property
    def revoked_at(self) -> dt.datetime | None: ...
    @property
    def not_before(self) -> dt.datetime: ...
    @property
    def not_after(self) -> dt.datetime: ...


class _CaValidity(Protocol):
    """What a credential's usability depends on, of each CA of its chain."""

    @property
    def name(self) -> str: ...
    @property
    def cert_der(self) -> bytes: ...
    @property
    def not_before(self) -> dt.datetime: ...
    @property
    def not_after(self) -> dt.datetime: ...


def _status(cert: _Validity, now: dt.datetime) -> str:
    if cert.status == "revoked":
        return "revoked"
    if cert.not_after < now:
        return "expired"
    if cert.not_before > now:
        return "not-yet-valid"
    return "valid"


def _load(session: Session, name: str) -> tuple[CredentialRow, CertificateRow]:
    row = session.scalars(select(CredentialRow).where(CredentialRow.name == name)).first()
    if row is None:
        raise UnknownCredential(name)
    cert = session.get(CertificateRow, row.certificate_id)
    assert cert is not None  # a foreign key
    return row, cert


def _chain_rows(session: Session, ca_id: int) -> list[CertificateAuthority]:
    """The issuing CA and its ancestors, up to the root."""
    chain: list[CertificateAuthority] = []
    next_id: int | None = ca_id
    while next_id is not None:
        ca = session.get(CertificateAuthority, next_id)
        assert ca is not None
        if any(c.id == ca.id for c in chain):  # a cycle is a corrupt store, not a chain
            raise InputError(f"the CA chain of {ca.name!r} loops")
        chain.append(ca)
        next_id = ca.parent_id
    return chain


def _info(
    session: Session, row: CredentialRow, cert: CertificateRow, now: dt.datetime, *, chain: bool
) -> CredentialInfo:
    cas = _chain_rows(session, cert.ca_id)
    ref = KeyRef.parse(cert.key_ref or ":")
    public = x509.load_der_x509_certificate(cert.der).public_key()
    return CredentialInfo(
        name=row.name,
        profile=row.profile,
        subject=cert.subject,
        serial=cert.serial,
        ca=cas[0].name,
        backend=ref.backend,
        key_spec=_spec_name(public),
        not_before=cert.not_before,
        not_after=cert.not_after,
        status=_status(cert, now),
        created_at=row.created_at,
        created_by=row.created_by,
        certificate_der=cert.der,
        chain_der=tuple(ca.cert_der for ca in cas) if chain else (),
    )


def _spec_name(key: CertificatePublicKeyTypes) -> str:
    spec = spec_of_public_key(key)
    return spec.value if spec else type(key).__name__


def describe_credential(ctx: Context, name: str) -> CredentialInfo:
    """A credential's certificate, status and chain, without opening its key."""
    with ctx.db.read() as session:
        row, cert = _load(session, name)
        return _info(session, row, cert, ctx.clock.now(), chain=True)


def list_credentials(ctx: Context) -> list[CredentialInfo]:
    now = ctx.clock.now()
    with ctx.db.read() as session:
        rows = session.execute(
            select(CredentialRow, CertificateRow)
            .join(CertificateRow, CredentialRow.certificate_id == CertificateRow.id)
            .order_by(CredentialRow.name)
        ).all()
        return [_info(session, row, cert, now, chain=False) for row, cert in rows]


def _refuse_unusable(
    name: str,
    cert: _Validity,
    cas: Sequence[_CaValidity],
    session: Session,
    now: dt.datetime,
) -> None:
    status = _status(cert, now)
    if status != "valid":
        when = {
            "revoked": f"revoked on {cert.revoked_at:%Y-%m-%d}" if cert.revoked_at else "revoked",
            "expired": f"expired on {cert.not_after:%Y-%m-%d}",
            "not-yet-valid": f"not valid before {cert.not_before:%Y-%m-%d %H:%M:%S}Z",
        }[status]
        raise CredentialUnusable(
            name, status, f"credential {name!r} may not sign: its certificate is {when}"
        )
    hashes = [hashlib.sha256(ca.cert_der).hexdigest() for ca in cas]
    # One query for the whole chain (a CA's own certificate may be revoked by its parent).
    revoked_hashes = set(session.connection().execute(_REVOKED_CAS, {"hashes": hashes}).scalars())
    for ca, ca_hash in zip(cas, hashes, strict=True):
        if ca.not_after < now or ca.not_before > now:
            raise CredentialUnusable(
                name,
                "issuer-expired",
                f"credential {name!r} may not sign: its CA {ca.name!r} is outside its validity",
            )
        if ca_hash in revoked_hashes:
            raise CredentialUnusable(
                name,
                "issuer-revoked",
                f"credential {name!r} may not sign: its CA {ca.name!r} is revoked",
            )


@dataclass(frozen=True)
class _CaState:
    """What a signer needs of one CA of a credential's chain (not its CRL, which can
    be large)."""

    id: int
    name: str
    parent_id: int | None
    cert_der: bytes
    not_before: dt.datetime
    not_after: dt.datetime


_CA_COLUMNS = (
    CertificateAuthority.id,
    CertificateAuthority.name,
    CertificateAuthority.parent_id,
    CertificateAuthority.cert_der,
    CertificateAuthority.not_before,
    CertificateAuthority.not_after,
)
_SIGNING_STATE = (
    select(
        CredentialRow.profile,
        CertificateRow.der,
        CertificateRow.key_ref,
        CertificateRow.status,
        CertificateRow.revoked_at,
        CertificateRow.not_before,
        CertificateRow.not_after,
        *(c.label(f"ca_{c.key}") for c in _CA_COLUMNS),
    )
    .join(CertificateRow, CertificateRow.id == CredentialRow.certificate_id)
    .join(CertificateAuthority, CertificateAuthority.id == CertificateRow.ca_id)
    .where(CredentialRow.name == bindparam("name"))
)
"""What :func:`get_credential` reads of a credential: the credential, its certificate
and the issuing CA, in one statement. The statements are built once, with bound
parameters, and run on the session's connection (no ORM entities are needed)."""
_CA_STATE = select(*_CA_COLUMNS).where(CertificateAuthority.id == bindparam("id"))
_REVOKED_CAS = select(CertificateRow.sha256).where(
    CertificateRow.sha256.in_(bindparam("hashes", expanding=True)),
    CertificateRow.status == "revoked",
)


def _chain_state(session: Session, issuer: _CaState) -> list[_CaState]:
    """:func:`_chain_rows` from the issuing CA already read, reading only the columns a
    signer needs."""
    chain = [issuer]
    next_id = issuer.parent_id
    while next_id is not None:
        ca = _CaState(*session.connection().execute(_CA_STATE, {"id": next_id}).one())
        if any(c.id == ca.id for c in chain):  # a cycle is a corrupt store, not a chain
            raise InputError(f"the CA chain of {ca.name!r} loops")
        chain.append(ca)
        next_id = ca.parent_id
    return chain


@lru_cache(maxsize=256)
def _certificate(der: bytes) -> x509.Certificate:
    """The parsed certificate of these exact bytes (a memo: parsing is a pure function of
    the DER, and signers built from a credential compare certificates by value)."""
    return x509.load_der_x509_certificate(der)


def get_credential(ctx: Context, name: str) -> Credential:
    """The credential ready to sign with, or CredentialUnusable if it may not sign now
    (at ``ctx.clock.now()``): revoked, expired, not yet valid, or a CA of its chain is
    revoked or expired. UnknownCredential if there is none of that name.

    Every call reads the credential's state from the database (small statements: the
    credential with its certificate and issuing CA, each further CA of the chain, the
    chain's revocation status), so a revoked, expired or replaced credential is refused
    or replaced at once. What does not depend on that state is not redone: parsing the
    same certificate bytes is memoised, and the key custody keeps the opened key for the
    process (``KeyCustody.load``: a software key is decrypted once).
    """
    now = ctx.clock.now()
    with ctx.db.read() as session:
        row = session.connection().execute(_SIGNING_STATE, {"name": name}).first()
        if row is None:
            raise UnknownCredential(name)
        issuer = _CaState(
            row.ca_id,
            row.ca_name,
            row.ca_parent_id,
            row.ca_cert_der,
            row.ca_not_before,
            row.ca_not_after,
        )
        cas = _chain_state(session, issuer)
        _refuse_unusable(name, row, cas, session, now)
    if not row.key_ref:
        raise CredentialUnusable(name, "no-key", f"credential {name!r} has no key in custody")
    return Credential(
        name=name,
        profile=row.profile,
        certificate=_certificate(bytes(row.der)),
        chain=[_certificate(bytes(ca.cert_der)) for ca in cas],
        signer=ctx.custody.load(KeyRef.parse(row.key_ref)),
    )


def trusted_roots(ctx: Context) -> list[x509.Certificate]:
    """This instance's root CAs (self-signed, no parent): the trust anchors an instance
    has by default. Validity and revocation at a given time are the validator's call."""
    with ctx.db.read() as session:
        ders = session.scalars(
            select(CertificateAuthority.cert_der)
            .where(CertificateAuthority.parent_id.is_(None))
            .order_by(CertificateAuthority.id)
        ).all()
    return [x509.load_der_x509_certificate(d) for d in ders]


# ---- creating --------------------------------------------------------------------------


def _check_new_name(session: Session, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InputError(
            f"invalid credential name {name!r}: use lower-case letters, digits and '-' (max 64)"
        )
    if session.scalars(select(CredentialRow.id).where(CredentialRow.name == name)).first():
        raise AlreadyExists(f"a credential named {name!r} already exists")


def _check_profile(ctx: Context, profile: str, actor: Actor) -> None:
    if profile not in SIGNING_PROFILES:
        raise InputError(
            f"a credential's profile is one of {', '.join(SIGNING_PROFILES)}, not {profile!r}"
        )
    ctx.profiles.get(profile)
    if not actor.may_use_profile(profile):
        raise Forbidden(f"{actor.name} may not issue with profile {profile!r}")


def _stand_in_key(spec: KeySpec) -> CertificatePublicKeyTypes:
    """A public key of ``spec`` for checking a request against the profile *before* a
    key is generated in custody (so a refused request leaves no orphan key, e.g. in an
    HSM). It is never signed for or stored. For RSA, a syntactically valid public key of
    the right size (modulus 2^(n-1)+1) avoids generating a throwaway RSA key."""
    if spec.is_rsa:
        return rsa.RSAPublicNumbers(65537, (1 << (spec.rsa_bits - 1)) | 1).public_key()
    if spec.is_ec:
        return ec.generate_private_key(spec.curve).public_key()
    return ed25519.Ed25519PrivateKey.generate().public_key()


def _store(
    ctx: Context,
    actor: Actor,
    name: str,
    profile: str,
    serial: str,
    *,
    origin: str,
) -> None:
    with ctx.db.write() as session:
        _check_new_name(session, name)
        cert_row = certificates.load_cert_row(session, serial)
        row = CredentialRow(
            name=name,
            profile=profile,
            certificate_id=cert_row.id,
            created_at=ctx.clock.now(),
            created_by=actor.name,
        )
        session.add(row)
        # The record goes to the public ledger: a natural person's credential is named
        # there by its certificate serial, never by its name (usually the person's).
        natural = ctx.profiles.get(profile).spec.natural_person
        audit.record(
            session,
            ctx,
            actor,
            "credential.create",
            "credential",
            cert_row.serial if natural else name,
            cert_row.der,
            {
                "profile": profile,
                "certificate_serial": cert_row.serial,
                "backend": KeyRef.parse(cert_row.key_ref or ":").backend,
                "origin": origin,
            },
        )


def create_credential(
    ctx: Context,
    name: str,
    ca: str,
    profile: str,
    subject: str,
    actor: Actor,
    *,
    key: KeySpec | str = KeySpec.EC_P256,
    backend: str = "software",
    sans: Sequence[str] = (),
) -> CredentialInfo:
    """Generate a key in custody (``backend``: ``software`` or ``pkcs11``) and issue its
    certificate from ``ca`` with ``profile``; record ``credential.create``.

    Every check that can fail (name, profile, role, subject, names, the profile's rules
    against a stand-in key of the same algorithm, the backend) runs before the key is
    generated.
    """
    spec = key if isinstance(key, KeySpec) else KeySpec.parse(key)
    _check_profile(ctx, profile, actor)
    subject_name = parse_subject(subject)
    san_names = tuple(parse_san(s) for s in sans)
    ctx.custody.backend(backend)  # InputError when not configured
    with ctx.db.read() as session:
        _check_new_name(session, name)
        ca_row = load_ca_row(session, ca)
        issuer = issuer_info(ctx, ca_row)
    now = ctx.clock.now()
    if ca_row.not_after <= now:
        raise InputError(f"the CA {ca!r} has expired")
    dry_run = CertificateRequest(subject_name, _stand_in_key(spec), san_names)
    ctx.profiles.get(profile).apply(dry_run, issuer, now)  # PolicyViolation, before any key
    signer = ctx.custody.generate(backend, f"credential-{name}", spec)
    request = CertificateRequest(subject_name, signer.public_key(), san_names)
    cert = certificates.issue(ctx, ca, profile, request, actor, key_ref=signer.ref)
    _store(ctx, actor, name, profile, cert.serial, origin="generated")
    return describe_credential(ctx, name)


def register_credential(ctx: Context, name: str, serial: str, actor: Actor) -> CredentialInfo:
    """Name an existing certificate, whose key is already in govtrust's custody, as a
    credential (the demo's officials and seals); record ``credential.create``."""
    with ctx.db.read() as session:
        _check_new_name(session, name)
        cert = certificates.load_cert_row(session, serial)
        taken = session.scalars(
            select(CredentialRow.name).where(CredentialRow.certificate_id == cert.id)
        ).first()
    _check_profile(ctx, cert.profile, actor)
    if not cert.key_ref:
        raise InputError(
            f"certificate {cert.serial} has no key in govtrust's custody: it cannot sign here"
        )
    if taken is not None:
        raise AlreadyExists(f"certificate {cert.serial} is already the credential {taken!r}")
    if cert.status == "revoked":
        raise PolicyViolation(cert.profile, "revoked", f"certificate {cert.serial} is revoked")
    _store(ctx, actor, name, cert.profile, cert.serial, origin="registered")
    return describe_credential(ctx, name)


# ---- API tokens bound to a credential (remote signing) ---------------------------------


def _token_row(session: Session, token: str) -> ApiToken:
    row = session.scalars(select(ApiToken).where(ApiToken.name == token)).first()
    if row is None:
        raise NotFound("token", token)
    return row


def bind_token(ctx: Context, credential: str, token: str, actor: Actor) -> None:
    """Bind the API token named ``token`` to ``credential``: a remote-signing request
    under that token may sign with this credential only. Replaces an earlier binding."""
    with ctx.db.write() as session:
        cred, _cert = _load(session, credential)
        tok = _token_row(session, token)
        session.execute(delete(CredentialTokenRow).where(CredentialTokenRow.token_id == tok.id))
        session.add(
            CredentialTokenRow(
                token_id=tok.id,
                credential_id=cred.id,
                created_at=ctx.clock.now(),
                created_by=actor.name,
            )
        )
        audit.record(
            session,
            ctx,
            actor,
            "credential.bind-token",
            "credential",
            credential,
            tok.token_sha256.encode(),
            {"token": token},
        )


def unbind_token(ctx: Context, token: str, actor: Actor) -> None:
    with ctx.db.write() as session:
        tok = _token_row(session, token)
        binding = session.get(CredentialTokenRow, tok.id)
        if binding is not None:
            session.delete(binding)
            audit.record(
                session,
                ctx,
                actor,
                "credential.unbind-token",
                "token",
                token,
                tok.token_sha256.encode(),
            )


def bound_credential(ctx: Context, token: str) -> str | None:
    """The credential the API token named ``token`` is bound to, or None."""
    with ctx.db.read() as session:
        return session.scalars(
            select(CredentialRow.name)
            .join(CredentialTokenRow, CredentialTokenRow.credential_id == CredentialRow.id)
            .join(ApiToken, ApiToken.id == CredentialTokenRow.token_id)
            .where(ApiToken.name == token)
        ).first()
