"""Signing documents with a credential held by govtrust, and augmenting signatures.

One use case per action, shared by ``govtrust sign``/``augment``, ``POST /sign`` and the
batch API:

* :class:`SigningSession`: one credential, one set of options, many documents (a batch
  reuses the key, the TSA and the B-LT validation data);
* :func:`sign_document`, :func:`sign_files` (ASiC-E), :func:`sign_digest` (remote
  signing of a hash), :func:`augment_document`.

What the signing domain package needs comes from here: the credential
(``services.credentials.get_credential``, which refuses a revoked or expired one, read
from storage by every session), the timestamp authority (this instance's TSA
in-process, through the same code path and audit trail as ``POST /tsa``, one per
process and checked against the TSA credential by every session: ``_local_tsa``; or
another TSA over HTTP when a URL is given), the
revocation data (this instance's OCSP service in-process, CRLs from storage: never the
network) and the trust anchors (this instance's roots).

Every signature made is recorded in the audit trail (``sign.create``, object type
``signature``, the object's hash being that of the signature itself: the CMS, the
canonical ``ds:Signature``, or the PDF signature's CMS) in its own transaction, and so
reaches the transparency ledger. The record holds the credential, format, level and
the document's hash: never the document, nor the signer's name.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Generic, TypeVar, cast, overload

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from govtrust.audit import AuditEvent
from govtrust.ca.names import format_serial
from govtrust.config import TsaSettings
from govtrust.errors import (
    CredentialUnusable,
    Error,
    Forbidden,
    InputError,
    MalformedDocument,
    TimestampError,
)
from govtrust.services.context import Actor, Context
from govtrust.services.credentials import (
    Credential,
    bound_credential,
    get_credential,
    trusted_roots,
)
from govtrust.services.revocation import OcspService
from govtrust.services.tsa import MEDIA_QUERY, MEDIA_REPLY, TsaService
from govtrust.signing.api import (
    SignedDocument,
    SigningIdentity,
    SigningServices,
    TimestampTransport,
)
from govtrust.signing.asic import SIGNATURE_KINDS, augment_asic, read_container, sign_asic
from govtrust.signing.cades import CadesSigner, augment_cms, digest_of
from govtrust.signing.levels import Level, SignatureFormat, default_format
from govtrust.signing.pades import PadesSigner, VisibleStamp
from govtrust.signing.pades.augment import augment_pdf
from govtrust.signing.xades import augment_xml, sign_xml
from govtrust.store.engine import Database, DriverStatement, GroupCommit
from govtrust.store.models import AuditEventRow, CertificateAuthority
from govtrust.tsa import Accuracy

__all__ = [
    "SIGNING_PROFILES",
    "InProcessRevocation",
    "Level",
    "SignatureFormat",
    "SignatureResult",
    "SigningOptions",
    "SigningSession",
    "augment_document",
    "authorize_remote",
    "default_format",
    "http_transport",
    "output_name",
    "record_event",
    "sign_digest",
    "sign_document",
    "sign_files",
]

SIGNING_PROFILES = ("official", "seal")
"""Credentials that sign documents: an official's signature or an agency's seal (the
``tsa`` credential signs timestamps only)."""

_CHECK_SECONDS = 60.0
"""A session re-reads its credential's status this often: a credential revoked during
a long batch stops signing within a minute."""

_MAX_TSA_REPLY = 1 << 20
_OBJECT_ID_MAX = 128  # audit_event.object_id (a "sha512:..." hash is 135 characters)


@dataclass(frozen=True)
class SigningOptions:
    """How to sign: ``format`` None means by file type (:func:`default_format`);
    ``asic_signature`` is ``xades`` or ``cades``; ``tsa_url`` None means this
    instance's TSA, in-process."""

    format: SignatureFormat | None = None
    level: Level = Level.B_B
    visible_stamp: bool = False
    asic_signature: str = "xades"
    tsa_url: str | None = None

    def __post_init__(self) -> None:
        if self.asic_signature not in SIGNATURE_KINDS:
            raise InputError(
                f"the ASiC signature is one of {', '.join(SIGNATURE_KINDS)}, "
                f"not {self.asic_signature!r}"
            )
        if self.tsa_url is not None and not self.tsa_url.startswith(("http://", "https://")):
            raise InputError(f"the TSA URL must be http(s): {self.tsa_url!r}")


@dataclass(frozen=True)
class SignatureResult:
    """A signature made (or augmented) by the service: ``document`` holds the output
    bytes, ``filename`` the suggested output name, ``document_hash`` the signed input's
    hash as ``alg:hex``."""

    document: SignedDocument
    credential: str | None
    filename: str
    document_hash: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.document.produced).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "format": self.document.format.value,
            "level": self.document.level.value,
            "credential": self.credential,
            "media_type": self.document.media_type,
            "document_hash": self.document_hash,
            "signature_sha256": self.sha256,
            "size": len(self.document.data),
        }


# ---- what the signing package needs ---------------------------------------------------


class InProcessRevocation:
    """B-LT revocation data from this instance's own CA: OCSP answers from the OCSP
    service (pre-signed responses, RFC 6960 / RFC 5019), CRLs from storage."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def ocsp(self, cert: x509.Certificate, issuer: x509.Certificate) -> bytes | None:
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
        answer = _local_ocsp(self._ctx).respond(request.public_bytes(serialization.Encoding.DER))
        return answer.der if answer.cacheable else None

    def crl(self, issuer: x509.Certificate) -> bytes | None:
        wanted = issuer.public_bytes(serialization.Encoding.DER)
        with self._ctx.db.read() as session:
            for der, crl in session.execute(
                select(CertificateAuthority.cert_der, CertificateAuthority.crl_der)
            ).all():
                if der == wanted:
                    return bytes(crl) if crl else None
        return None


def _ca_certificates(ctx: Context) -> list[x509.Certificate]:
    with ctx.db.read() as session:
        ders = session.scalars(select(CertificateAuthority.cert_der)).all()
    return [x509.load_der_x509_certificate(d) for d in ders]


class _LazyCertificates(Sequence[x509.Certificate]):
    """Certificates read from storage when first used, once per signing session: only
    B-LT and above build chains (trust roots, intermediates), so a B-B or B-T signature
    (a sealed validation report) does not read and parse every CA certificate."""

    def __init__(self, load: Callable[[], list[x509.Certificate]]) -> None:
        self._load: Callable[[], list[x509.Certificate]] | None = load
        self._items: tuple[x509.Certificate, ...] = ()
        self._lock = threading.Lock()

    def _all(self) -> tuple[x509.Certificate, ...]:
        with self._lock:
            if self._load is not None:
                self._items, self._load = tuple(self._load()), None
            return self._items

    @overload
    def __getitem__(self, index: int) -> x509.Certificate: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[x509.Certificate]: ...
    def __getitem__(self, index: int | slice) -> x509.Certificate | Sequence[x509.Certificate]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[x509.Certificate]:
        return iter(self._all())


# ---- this instance's TSA and OCSP services, shared by the sessions of a process ---------

_T = TypeVar("_T")


class _PerContext(Generic[_T]):
    """One value per :class:`Context` (a Context is not hashable: entries are keyed by
    ``id`` and hold the Context, so that an id is never reused while its entry lives),
    for the most recently used :attr:`SIZE` contexts (a server has one; tests open
    many)."""

    SIZE = 8

    def __init__(self) -> None:
        self._entries: OrderedDict[int, tuple[Context, _T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ctx: Context) -> _T | None:
        with self._lock:
            entry = self._entries.get(id(ctx))
            return entry[1] if entry is not None and entry[0] is ctx else None

    def put(self, ctx: Context, value: _T) -> _T:
        with self._lock:
            self._entries[id(ctx)] = (ctx, value)
            self._entries.move_to_end(id(ctx))
            while len(self._entries) > self.SIZE:
                self._entries.popitem(last=False)
        return value


_TSAS: _PerContext[TsaService] = _PerContext()
_OCSPS: _PerContext[OcspService] = _PerContext()


def _local_ocsp(ctx: Context) -> OcspService:
    """This instance's OCSP service (RFC 6960) for in-process revocation data, one per
    :class:`Context`, as ``POST /ocsp``'s: each answer reads the certificate's status
    from storage (pre-signed answers are replaced in a revocation's transaction), and
    only the map of CAs and their responders is kept, for its TTL (a CA created since is
    looked up at once). Before, every B-LT signature and every validation made its own
    service, and each one registered a ``PointReader`` with the database that lived as
    long as the process."""
    service = _OCSPS.get(ctx)
    return service if service is not None else _OCSPS.put(ctx, OcspService(ctx))


def _serves(service: TsaService, credential: Credential, settings: TsaSettings) -> bool:
    """Whether ``service`` signs with exactly ``credential`` as just read from storage
    (the same certificate, chain and key: the custody's one ``Signer`` per key) and
    under the configured policy and accuracy."""
    try:
        authority = service.current().authority
    except Error:
        return False
    return (
        credential.profile == "tsa"
        and authority.certificate == credential.certificate
        and tuple(authority.chain) == tuple(credential.chain)
        and authority.signer is credential.signer
        and authority.policy == settings.policy
        and authority.accuracy == Accuracy(settings.accuracy_seconds, settings.accuracy_millis)
    )


def _local_tsa(ctx: Context) -> TsaService:
    """This instance's TSA for in-process time-stamps (RFC 3161 tokens for B-T and
    above), one per :class:`Context`: its loaded TSA credential and its group-commit
    writer serve every signing session of the process, as ``POST /tsa``'s does, instead
    of a new service (credential load, token encoder, writer thread) per signature.

    A TsaService by itself re-reads its credential only every ``RELOAD_SECONDS``; a
    signing session asks more: at its first time-stamp the TSA credential is read
    (``get_credential``, which refuses a revoked or expired certificate or CA), and the
    shared service is used only if it signs with that same certificate, chain and key,
    under the configured policy and accuracy. Otherwise a new service is made, which
    loads the credential afresh: it replaces the shared one when the credential changed
    (rotated, re-certified), and when the credential may not sign it answers with the
    refusal it gave before this sharing existed (RFC 3161 §2.4.2 ``rejection``: the
    time-stamp, and so the signature, fails).
    """
    settings = ctx.settings.tsa
    try:
        credential = get_credential(ctx, settings.credential)
    except Error:
        return TsaService(ctx)  # fails to load, and refuses, exactly as it did uncached
    shared = _TSAS.get(ctx)
    if shared is not None and _serves(shared, credential, settings):
        return shared
    return _TSAS.put(ctx, TsaService(ctx))


def http_transport(
    url: str, client: httpx.Client | None = None, timeout: float = 30.0
) -> TimestampTransport:
    """POST TimeStampReqs to the TSA at ``url`` (RFC 3161 §3.4); ``client`` is injected
    by tests and callers with their own transport."""

    def send(query: bytes) -> bytes:
        own = client is None
        http = client or httpx.Client(timeout=timeout, follow_redirects=False)
        try:
            response = http.post(url, content=query, headers={"Content-Type": MEDIA_QUERY})
        except httpx.HTTPError as exc:
            raise TimestampError(f"cannot reach the TSA at {url}: {type(exc).__name__}") from None
        finally:
            if own:
                http.close()
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != MEDIA_REPLY or len(response.content) > _MAX_TSA_REPLY:
            raise TimestampError(
                f"the TSA at {url} answered HTTP {response.status_code} with "
                f"{media or 'no content type'}, not {MEDIA_REPLY}"
            )
        return response.content

    return send


def _services(
    ctx: Context, actor: Actor, tsa_url: str | None, client: httpx.Client | None
) -> SigningServices:
    if tsa_url is not None:
        transport = http_transport(tsa_url, client)
    else:
        resolved: list[TsaService] = []

        def transport(query: bytes) -> bytes:
            # Resolved at the first time-stamp, as a TsaService loads its credential at
            # its first request: a B-B signature never reads the TSA credential.
            if not resolved:
                resolved.append(_local_tsa(ctx))
            return resolved[0].respond(query, actor=actor)

    return SigningServices(
        clock=ctx.clock,
        timestamps=transport,
        revocation=InProcessRevocation(ctx),
        trust_roots=_LazyCertificates(lambda: trusted_roots(ctx)),
        intermediates=_LazyCertificates(lambda: _ca_certificates(ctx)),
    )


def _signing_credential(ctx: Context, name: str) -> Credential:
    credential = get_credential(ctx, name)  # CredentialUnusable: revoked, expired...
    if credential.profile not in SIGNING_PROFILES:
        raise CredentialUnusable(
            name,
            "profile",
            f"credential {name!r} has profile {credential.profile!r}: documents are signed "
            f"with an {' or '.join(SIGNING_PROFILES)} credential",
        )
    return credential


def authorize_remote(ctx: Context, actor: Actor, credential: str) -> None:
    """Remote signing (``POST /sign``, the batch API) is done under an API token bound
    to the credential (``govtrust credential bind-token``): a token signs with the one
    credential it is bound to, whatever its role, and an unbound token signs with none.
    Forbidden otherwise."""
    token = actor.name.removeprefix("token:") if actor.name.startswith("token:") else None
    bound = bound_credential(ctx, token) if token else None
    if bound is None:
        raise Forbidden(
            "this API token is not bound to a signing credential "
            "(an administrator binds it: govtrust credential bind-token CREDENTIAL TOKEN)"
        )
    if bound != credential:
        raise Forbidden(f"this API token may sign with the credential {bound!r} only")


# ---- names and hashes -------------------------------------------------------------------


def output_name(filename: str, fmt: SignatureFormat) -> str:
    """Where a signature of ``filename`` goes by default: ``x.pdf`` → ``x-signed.pdf``,
    ``x.xml`` → ``x-signed.xml``, any file → ``FILE.p7s`` (CAdES) or ``FILE.asice``."""
    path = PurePath(filename)
    if fmt is SignatureFormat.PADES:
        return str(path.with_name(f"{path.stem}-signed{path.suffix or '.pdf'}"))
    if fmt is SignatureFormat.XADES:
        return str(path.with_name(f"{path.stem}-signed{path.suffix or '.xml'}"))
    if fmt is SignatureFormat.ASIC_E:
        return str(path.with_name(f"{path.name}.asice"))
    return str(path.with_name(f"{path.name}.p7s"))


def _credential_details(ctx: Context, credential: Credential) -> dict[str, str | int | bool]:
    """How the audit record (hence the public ledger) names the credential: a seal by
    its name; a natural person's credential by its certificate's serial number only,
    as its name is usually the person's (the same rule as ``credential.create``)."""
    if ctx.profiles.get(credential.profile).spec.natural_person:
        return {"credential_serial": format_serial(credential.certificate.serial_number)}
    return {"credential": credential.name}


def _record(
    ctx: Context,
    actor: Actor,
    action: str,
    result: SignatureResult,
    extra: dict[str, str | int | bool] | None = None,
    *,
    credential: dict[str, str | int | bool] | None = None,
) -> None:
    details: dict[str, str | int | bool] = {
        "format": result.document.format.value,
        "level": result.document.level.value,
        "document_hash": result.document_hash,
    }
    details.update(credential or {})
    alg, _, value = result.document_hash.partition(":")
    if alg == "sha256":
        details["document_sha256"] = value
    details.update(extra or {})
    record_event(
        ctx,
        AuditEvent(
            action=action,
            actor=actor.name,
            time=ctx.clock.now(),
            object_type="signature",
            object_id=result.document_hash[:_OBJECT_ID_MAX],  # the full hash is in details
            object_sha256=hashlib.sha256(result.document.produced).hexdigest(),
            details=details,
        ),
    )


def record_event(ctx: Context, event: AuditEvent) -> None:
    """Append ``event`` to the audit trail in a transaction of its own, through the
    signing records' group commit: records of signatures (and sealed reports) made at
    the same time (API requests, batch workers) share a transaction and an fsync, and
    writers of several processes take turns without SQLite's busy-wait sleeps. Returns
    once committed; raises the database's error if the commit failed."""
    _audit_writer(ctx).run(
        {
            "time": event.time,
            "actor": event.actor,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "object_sha256": event.object_sha256,
            "record": event.canonical(),
        }
    )


_AUDIT_COLUMNS = ("time", "actor", "action", "object_type", "object_id", "object_sha256", "record")
_AUDIT_WRITERS: weakref.WeakKeyDictionary[Database, GroupCommit[dict[str, Any], None]] = (
    weakref.WeakKeyDictionary()
)
_AUDIT_INSERTS: dict[str, DriverStatement] = {}
_AUDIT_LOCK = threading.Lock()


def _write_audit(session: Session, rows: Sequence[dict[str, Any]]) -> list[Exception | None]:
    connection = session.connection()
    insert = _AUDIT_INSERTS.get(connection.dialect.name)
    if insert is None:
        table = cast(Table, AuditEventRow.__table__)
        insert = DriverStatement.insert(table, _AUDIT_COLUMNS, connection.dialect)
        _AUDIT_INSERTS[connection.dialect.name] = insert
    insert.executemany(connection, rows)
    return [None for _ in rows]


def _audit_writer(ctx: Context) -> GroupCommit[dict[str, Any], None]:
    with _AUDIT_LOCK:
        writer = _AUDIT_WRITERS.get(ctx.db)
        if writer is None:
            writer = _AUDIT_WRITERS[ctx.db] = GroupCommit(ctx.db, _write_audit, name="sign-audit")
        return writer


# ---- signing ------------------------------------------------------------------------------


@dataclass
class _Loaded:
    credential: Credential
    at: float
    signers: dict[tuple[str, str], Any] = field(default_factory=dict)


class SigningSession:
    """Signs many documents with one credential and one set of options.

    The credential is loaded (and its status checked) when the session starts and again
    every :data:`_CHECK_SECONDS`; the format signers (which reuse the TSA's certificate
    chain and the B-LT validation data between documents) live as long as the session.
    Safe to use from one thread at a time.
    """

    def __init__(
        self,
        ctx: Context,
        credential: str,
        actor: Actor,
        options: SigningOptions | None = None,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        self.ctx = ctx
        self.name = credential
        self.actor = actor
        self.options = options or SigningOptions()
        self._services = _services(ctx, actor, self.options.tsa_url, http)
        self._lock = threading.Lock()
        self._loaded = _Loaded(_signing_credential(ctx, credential), time.monotonic())

    @property
    def credential(self) -> Credential:
        loaded = self._loaded
        if time.monotonic() - loaded.at > _CHECK_SECONDS:
            loaded = _Loaded(_signing_credential(self.ctx, self.name), time.monotonic())
            self._loaded = loaded
        return loaded.credential

    def _identity(self) -> SigningIdentity:
        credential = self.credential
        return SigningIdentity(credential.certificate, credential.chain, credential.signer)

    def _signer(self, kind: str, level: Level, make: Callable[[], Any]) -> Any:
        identity = self._identity()  # refreshes the credential when due
        key = (kind, level.value)
        signers = self._loaded.signers
        if key not in signers or signers[key].identity != identity:
            signers[key] = make()
        return signers[key]

    def format_for(self, filename: str) -> SignatureFormat:
        return self.options.format or default_format(filename)

    def sign(self, data: bytes, filename: str) -> SignatureResult:
        """Sign one file (``filename`` picks the default format and the output name)."""
        with self._lock:
            fmt = self.format_for(filename)
            level = self.options.level
            document = self._sign(data, filename, fmt, level)
        result = SignatureResult(
            document,
            self.name,
            output_name(filename, fmt),
            "sha256:" + hashlib.sha256(data).hexdigest(),
        )
        _record(self.ctx, self.actor, "sign.create", result, credential=self._audit_name())
        return result

    def _audit_name(self) -> dict[str, str | int | bool]:
        return _credential_details(self.ctx, self._loaded.credential)

    def _sign(
        self, data: bytes, filename: str, fmt: SignatureFormat, level: Level
    ) -> SignedDocument:
        services = self._services
        if fmt is SignatureFormat.PADES:
            pades: PadesSigner = self._signer(
                "pades", level, lambda: PadesSigner(self._identity(), level, services)
            )
            stamp = (
                VisibleStamp(_display_name(pades.identity.certificate))
                if self.options.visible_stamp
                else None
            )
            return pades.sign(data, stamp=stamp)
        if fmt is SignatureFormat.CADES:
            cades: CadesSigner = self._signer(
                "cades", level, lambda: CadesSigner(self._identity(), level, services)
            )
            return cades.sign(data)
        if fmt is SignatureFormat.XADES:
            return sign_xml(data, self._identity(), level, services)
        return sign_asic(
            [(PurePath(filename).name, data)],
            self._identity(),
            level,
            services,
            signature=self.options.asic_signature,
        )

    def sign_files(
        self, files: Sequence[tuple[str, bytes]], container_name: str
    ) -> SignatureResult:
        """An ASiC-E container of several files under one signature."""
        with self._lock:
            document = sign_asic(
                files,
                self._identity(),
                self.options.level,
                self._services,
                signature=self.options.asic_signature,
            )
        manifest = hashlib.sha256()
        for name, data in sorted(files):
            manifest.update(hashlib.sha256(name.encode()).digest() + hashlib.sha256(data).digest())
        result = SignatureResult(
            document, self.name, container_name, "sha256:" + manifest.hexdigest()
        )
        _record(
            self.ctx,
            self.actor,
            "sign.create",
            result,
            {"files": len(files)},
            credential=self._audit_name(),
        )
        return result

    def sign_digest(self, digest: bytes, hash_name: str, fmt: SignatureFormat) -> SignatureResult:
        """Remote signing of a hash: a detached CAdES signature (``fmt`` CADES), or the
        CMS for a PDF's byte-range digest (``fmt`` PADES), for the integrator to embed."""
        if fmt not in (SignatureFormat.CADES, SignatureFormat.PADES):
            raise InputError("only CAdES and PAdES signatures can be made from a hash")
        level = self.options.level
        with self._lock:
            cades: CadesSigner = self._signer(
                "cades", level, lambda: CadesSigner(self._identity(), level, self._services)
            )
            document = cades.sign_digest(digest, hash_name, pades=fmt is SignatureFormat.PADES)
        name = "document.pdf.p7s" if fmt is SignatureFormat.PADES else "document.p7s"
        result = SignatureResult(document, self.name, name, f"{hash_name}:{digest.hex()}")
        _record(
            self.ctx,
            self.actor,
            "sign.create",
            result,
            {"hash_only": True},
            credential=self._audit_name(),
        )
        return result


def _display_name(cert: x509.Certificate) -> str:
    """The name a visible stamp shows: the subject's common name."""
    names = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def sign_document(
    ctx: Context,
    data: bytes,
    filename: str,
    credential: str,
    actor: Actor,
    options: SigningOptions | None = None,
    *,
    http: httpx.Client | None = None,
) -> SignatureResult:
    """Sign one document with ``credential``."""
    return SigningSession(ctx, credential, actor, options, http=http).sign(data, filename)


def sign_files(
    ctx: Context,
    files: Sequence[tuple[str, bytes]],
    container_name: str,
    credential: str,
    actor: Actor,
    options: SigningOptions | None = None,
) -> SignatureResult:
    """One ASiC-E container of ``files`` (name, bytes)."""
    return SigningSession(ctx, credential, actor, options).sign_files(files, container_name)


def sign_digest(
    ctx: Context,
    digest: bytes,
    hash_name: str,
    credential: str,
    actor: Actor,
    fmt: SignatureFormat,
    options: SigningOptions | None = None,
) -> SignatureResult:
    """Sign a document known only by its hash (remote signing)."""
    return SigningSession(ctx, credential, actor, options).sign_digest(digest, hash_name, fmt)


# ---- augmenting --------------------------------------------------------------------------


def _detect(data: bytes, filename: str) -> SignatureFormat:
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF-"):
        return SignatureFormat.PADES
    if data.startswith(b"PK\x03\x04"):
        return SignatureFormat.ASIC_E
    if head.startswith(b"<"):
        return SignatureFormat.XADES
    if head[:1] == b"\x30" or PurePath(filename).suffix.lower() in (".p7s", ".p7m"):
        return SignatureFormat.CADES
    raise MalformedDocument("unknown", f"{filename}: not a PDF, XML, CMS or ASiC file")


def augment_document(
    ctx: Context,
    data: bytes,
    filename: str,
    level: Level,
    actor: Actor,
    *,
    content: bytes | None = None,
    tsa_url: str | None = None,
    http: httpx.Client | None = None,
) -> SignatureResult:
    """Bring the signature(s) of a signed file up to ``level`` (B-T, B-LT or B-LTA);
    asked for B-LTA again, a B-LTA file gets a new archive/document timestamp.

    ``content`` is the signed content of a detached ``.p7s`` (its archive time-stamp
    covers the content's hash). No credential is used: augmenting adds timestamps and
    validation data, never a new signature.
    """
    if level is Level.B_B:
        raise InputError("augmenting adds B-T, B-LT or B-LTA; B-B is where signing starts")
    services = _services(ctx, actor, tsa_url, http)
    fmt = _detect(data, filename)
    if fmt is SignatureFormat.PADES:
        document = augment_pdf(data, level, services)
        signed_hash = "sha256:" + hashlib.sha256(data).hexdigest()
    elif fmt is SignatureFormat.ASIC_E:
        read_container(data)  # MalformedDocument before any TSA call
        document = augment_asic(data, level, services)
        signed_hash = "sha256:" + hashlib.sha256(data).hexdigest()
    elif fmt is SignatureFormat.XADES:
        document = augment_xml(data, level, services)
        signed_hash = "sha256:" + hashlib.sha256(data).hexdigest()
    else:
        cms = augment_cms(
            data, level, services, digest_of(content) if content is not None else None
        )
        document = SignedDocument(
            data=cms,
            produced=cms,
            format=SignatureFormat.CADES,
            level=level,
            media_type="application/pkcs7-signature",
            suffix=".p7s",
        )
        signed_hash = (
            "sha256:" + hashlib.sha256(content if content is not None else data).hexdigest()
        )
    result = SignatureResult(document, None, filename, signed_hash)
    _record(ctx, actor, "sign.augment", result)
    return result
