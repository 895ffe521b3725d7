"""PKCS#11 keys: signing keys generated and kept inside a hardware (or SoftHSM) token.

References: PKCS#11 v2.40 base and current-mechanisms specifications (OASIS), PKCS#11
v3.0 for Edwards curves, RFC 5480 (EC public keys and parameters), RFC 3279 §2.2.3
(ECDSA-Sig-Value), RFC 8017 §9.2 (EMSA-PKCS1-v1_5 DigestInfo), RFC 8410 (Ed25519).

Keys
    ``generate`` creates the key pair inside the token (``C_GenerateKeyPair``) as token
    objects with ``CKA_TOKEN``, ``CKA_PRIVATE`` and ``CKA_SENSITIVE`` true and
    ``CKA_EXTRACTABLE`` false, so the private key can never leave the token in the clear
    (PKCS#11 v2.40 base, private key objects). ``CKA_LABEL`` is the caller's label and
    ``CKA_ID`` is 16 random bytes; the ``KeyRef`` key id is that ``CKA_ID`` in lower-case
    hex, so ``load`` finds exactly one key even when labels repeat. The public key is
    read back from the token: ``CKA_EC_PARAMS`` + ``CKA_EC_POINT`` (RFC 5480 §2.1.1
    namedCurve, §2.2 ECPoint) or ``CKA_MODULUS`` + ``CKA_PUBLIC_EXPONENT`` (RFC 3279
    §2.3.1).

Signing
    ``Signer.as_private_key()`` returns a subclass of cryptography's private-key ABCs
    whose ``sign()`` calls the token, so ``CertificateBuilder``,
    ``CertificateRevocationListBuilder`` and ``OCSPResponseBuilder`` sign through the
    token while cryptography keeps doing all X.509 encoding. Export
    (``private_bytes``, ``private_numbers``), key agreement and decryption raise
    :class:`~govtrust.errors.HSMError`.

    * ECDSA (P-256, P-384): the message is hashed outside the token with cryptography
      (honouring ``ec.ECDSA(hash)`` and ``Prehashed``), the digest is signed with raw
      ``CKM_ECDSA`` (the only ECDSA mechanism SoftHSM 2.6 offers), and the token's
      ``r || s`` output is re-encoded as the DER ``ECDSA-Sig-Value`` of RFC 3279 §2.2.3.
      Deterministic (RFC 6979) ECDSA is not available.
    * RSA (2048, 3072, 4096): PKCS#1 v1.5 only. ``CKM_SHA{224,256,384,512}_RSA_PKCS``
      when the token offers it (the token hashes); for ``Prehashed`` digests, or when
      the combined mechanism is missing, the digest is hashed outside and wrapped in
      its DigestInfo (RFC 8017 §9.2) for raw ``CKM_RSA_PKCS``. PSS is not supported.
    * Ed25519: supported when the token offers ``CKM_EC_EDWARDS_KEY_PAIR_GEN`` and
      ``CKM_EDDSA`` (PKCS#11 v3.0 mechanisms; SoftHSM 2.6 built with EdDSA support, as
      Debian's softhsm2 package is, offers both, and the test suite exercises them).
      Keys use ``CKK_EC_EDWARDS`` with ``CKA_EC_PARAMS`` = the RFC 8410 OID id-Ed25519,
      and pure Ed25519 is signed with ``CKM_EDDSA`` without parameters. On a token
      without those mechanisms ``generate`` raises
      ``HSMError("ed25519 keys are not supported by this PKCS#11 token")``.

    Hashes: SHA-224, SHA-256, SHA-384 and SHA-512. SHA-1 and others are refused.

Sessions and threads
    python-pkcs11 loads each module once per process (``pkcs11.lib`` is a singleton) and
    initialises it with ``C_Initialize(NULL)``, which per PKCS#11 v2.40 lets the library
    assume it is not called from several threads at once; and the login state is
    shared by all sessions of a process on a token (``C_Login``,
    ``CKR_USER_ALREADY_LOGGED_IN``). So this module keeps, per module and token label,
    one logged-in read/write session for the whole process, shared by every
    :class:`Pkcs11Backend` for that token, and serialises every call into a module with
    one lock. Signing works from any number of threads; the calls into the token take
    turns. A lost session (token reset, ``CKR_SESSION_HANDLE_INVALID``...) is reopened
    and the operation retried once.

    Because a second ``C_Login`` on an already logged-in token is answered with
    ``CKR_USER_ALREADY_LOGGED_IN`` without checking the PIN, a backend joining an
    existing login has its PIN compared with the one that logged in (an HMAC under a
    random per-process key is kept, never the PIN); a different PIN is checked by the
    token through a fresh login, so a wrong PIN fails even when another backend is
    logged in.

PINs are asked from the ``pin`` callable only when a login is needed and never appear
in errors, logs or ``repr``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Self, TypeVar, cast

import pkcs11
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils
from cryptography.hazmat.primitives.asymmetric.padding import AsymmetricPadding, PKCS1v15
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificateIssuerPublicKeyTypes,
)
from cryptography.utils import Buffer
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11_errors

from govtrust.crypto.keys import KeySpec, spec_of_public_key
from govtrust.crypto.signer import KeyRef
from govtrust.errors import HSMError

if TYPE_CHECKING:
    from pkcs11 import Session
    from pkcs11._pkcs11 import lib as Pkcs11Library
    from pkcs11.types import Object, SignMixin

__all__ = ["Pkcs11Backend", "Pkcs11KeyInfo", "Pkcs11Signer", "finalize_module"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# --- encodings -------------------------------------------------------------------------

# CKA_EC_PARAMS is the DER of ECParameters; govtrust uses the namedCurve choice
# (RFC 5480 §2.1.1): the OID of the curve.
_EC_PARAMS: dict[KeySpec, bytes] = {
    KeySpec.EC_P256: bytes.fromhex("06082a8648ce3d030107"),  # secp256r1 1.2.840.10045.3.1.7
    KeySpec.EC_P384: bytes.fromhex("06052b81040022"),  # secp384r1 1.3.132.0.34
}
# PKCS#11 v3.0 CKK_EC_EDWARDS: CKA_EC_PARAMS is the RFC 8410 OID id-Ed25519 (1.3.101.112)
# or the PrintableString "edwards25519"; govtrust writes the OID and reads both.
_ED25519_PARAMS = bytes.fromhex("06032b6570")
_ED25519_PARAMS_NAME = b"\x13\x0cedwards25519"

_CURVES_BY_PARAMS: dict[bytes, ec.EllipticCurve] = {
    _EC_PARAMS[KeySpec.EC_P256]: ec.SECP256R1(),
    _EC_PARAMS[KeySpec.EC_P384]: ec.SECP384R1(),
}

# EMSA-PKCS1-v1_5 DigestInfo prefixes, RFC 8017 §9.2 note 1.
_DIGEST_INFO_PREFIX: dict[str, bytes] = {
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
# PKCS#1 v1.5 signature with hashing in the token (PKCS#11 v2.40 current mechanisms).
_RSA_HASH_MECHANISMS: dict[str, Mechanism] = {
    "sha224": Mechanism.SHA224_RSA_PKCS,
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}

_KEY_ID_BYTES = 16

# Mechanisms a key spec needs: (generation, signing alternatives).
_REQUIRED_MECHANISMS: dict[str, tuple[Mechanism, tuple[Mechanism, ...]]] = {
    "ec": (Mechanism.EC_KEY_PAIR_GEN, (Mechanism.ECDSA,)),
    "rsa": (
        Mechanism.RSA_PKCS_KEY_PAIR_GEN,
        (Mechanism.RSA_PKCS, *_RSA_HASH_MECHANISMS.values()),
    ),
    "ed25519": (Mechanism.EC_EDWARDS_KEY_PAIR_GEN, (Mechanism.EDDSA,)),
}

# Errors after which the session (or the login) is gone: reopen it and retry once.
_SESSION_LOST: tuple[type[Exception], ...] = (
    p11_errors.SessionHandleInvalid,
    p11_errors.SessionClosed,
    p11_errors.DeviceRemoved,
    p11_errors.TokenNotPresent,
    p11_errors.UserNotLoggedIn,
    p11_errors.ObjectHandleInvalid,
    p11_errors.KeyHandleInvalid,
)

# The PIN of an established login is remembered only as HMAC-SHA256 under this key.
_PIN_MAC_KEY = secrets.token_bytes(32)
_EPOCHS = itertools.count(1)


def _pin_mac(pin: str) -> bytes:
    return hmac.new(_PIN_MAC_KEY, pin.encode("utf-8"), hashlib.sha256).digest()


def _der_octet_string(data: bytes) -> bytes:
    """The contents of a DER OCTET STRING (tag 0x04), short or long length form."""
    if len(data) < 2 or data[0] != 0x04:
        raise ValueError("not a DER OCTET STRING")
    length = data[1]
    offset = 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[2 : 2 + count], "big")
        offset = 2 + count
    if len(data) != offset + length:
        raise ValueError("DER length does not match")
    return data[offset:]


def _ec_point(value: bytes, raw_length: int) -> bytes:
    """The ECPoint of ``CKA_EC_POINT``.

    PKCS#11 v2.40 says ``CKA_EC_POINT`` is the DER OCTET STRING wrapping the X9.62
    ECPoint (RFC 5480 §2.2); some tokens return the bare point. The bare form has a known
    length (``raw_length``), which tells the two apart (both may start with 0x04).
    """
    if len(value) == raw_length:
        return value
    return _der_octet_string(value)


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, int):
        return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    raise TypeError(f"unexpected attribute value type {type(value).__name__}")


def _hash_name(algorithm: hashes.HashAlgorithm) -> str:
    """The name of a supported signature hash; refuses SHA-1 and everything else."""
    if isinstance(algorithm, hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512):
        return algorithm.name
    raise UnsupportedAlgorithm(
        f"hash {algorithm.name} is not supported for PKCS#11 signing "
        "(use SHA-224, SHA-256, SHA-384 or SHA-512)"
    )


def _digest(
    data: bytes, algorithm: hashes.HashAlgorithm | asym_utils.Prehashed
) -> tuple[str, bytes]:
    """``(hash name, digest)`` of ``data`` (which already is the digest if ``Prehashed``)."""
    if isinstance(algorithm, asym_utils.Prehashed):
        inner = algorithm._algorithm
        name = _hash_name(inner)
        if len(data) != algorithm.digest_size:
            raise ValueError(
                f"prehashed data is {len(data)} bytes, expected {algorithm.digest_size}"
            )
        return name, data
    name = _hash_name(algorithm)
    h = hashes.Hash(algorithm)
    h.update(data)
    return name, h.finalize()


def _no_export(what: str) -> NoReturn:
    raise HSMError(f"{what}: the private key is held in a PKCS#11 token and cannot be exported")


# --- process-wide library and login state ----------------------------------------------


class _TokenLogin:
    """The process's one logged-in read/write session on one token.

    ``epoch`` changes with every new session, so cached object handles (which belong to
    a session) and PIN checks can tell when they are stale.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.session: Session | None = None
        self.epoch = 0
        self.pin_mac = b""
        self.mechanisms: frozenset[int] = frozenset()

    def forget(self) -> None:
        """Drop the session without calling the token (its handle may be stale)."""
        self.session = None
        self.epoch = next(_EPOCHS)
        self.pin_mac = b""

    def close(self) -> None:
        """Log out and close the session, ignoring a token that has already let go."""
        session = self.session
        self.forget()
        if session is not None:
            try:
                session.close()  # C_Logout + C_CloseSession
            except p11_errors.PKCS11Error as exc:
                log.debug("closing PKCS#11 session on %r: %s", self.label, type(exc).__name__)


class _Library:
    """One PKCS#11 module in this process: the python-pkcs11 handle, lock and logins."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.lock = threading.RLock()
        self._lib: Pkcs11Library | None = None
        self._logins: dict[str, _TokenLogin] = {}

    def handle(self) -> Pkcs11Library:
        """The initialised library (call with ``lock`` held)."""
        lib = self._lib
        if lib is not None and lib.initialized:
            return lib
        # First use, or someone called C_Finalize: every session and object handle
        # from before is meaningless now (handle numbers are reused after
        # C_Initialize), so forget them without calling the token.
        for login in self._logins.values():
            login.forget()
        try:
            lib = pkcs11.lib(self.module)
        except p11_errors.PKCS11Error as exc:
            raise HSMError(
                f"cannot load PKCS#11 module {self.module}: {type(exc).__name__}"
            ) from None
        self._lib = lib
        return lib

    def login(self, label: str) -> _TokenLogin:
        login = self._logins.get(label)
        if login is None:
            login = self._logins[label] = _TokenLogin(label)
        return login

    def finalize(self) -> None:
        with self.lock:
            for login in self._logins.values():
                login.close()
            lib, self._lib = self._lib, None
            if lib is not None and lib.initialized:
                try:
                    lib.finalize()
                except p11_errors.PKCS11Error as exc:
                    log.debug("C_Finalize on %s: %s", self.module, type(exc).__name__)


_REGISTRY_LOCK = threading.Lock()
_LIBRARIES: dict[str, _Library] = {}


def _library(module: str) -> _Library:
    with _REGISTRY_LOCK:
        library = _LIBRARIES.get(module)
        if library is None:
            library = _LIBRARIES[module] = _Library(module)
        return library


def finalize_module(module: str) -> None:
    """Log out, close govtrust's sessions on ``module`` and ``C_Finalize`` it.

    For process shutdown, and for tests that point SoftHSM at a new configuration (SoftHSM
    reads ``SOFTHSM2_CONF`` and its token directory only in ``C_Initialize``). The next
    use of a backend on ``module`` initialises it again and logs in afresh. Signers
    created before stay usable: they find their key again by ``CKA_ID``.
    """
    with _REGISTRY_LOCK:
        library = _LIBRARIES.get(module)
    if library is not None:
        library.finalize()


# --- signer and private-key handles ----------------------------------------------------


@dataclass(frozen=True)
class Pkcs11KeyInfo:
    """Custody attributes of a private key as the token reports them (for audit records).

    ``local`` and ``never_extractable`` together show that the key was generated in the
    token and has never left it (PKCS#11 v2.40 base, ``CKA_LOCAL``,
    ``CKA_NEVER_EXTRACTABLE``).
    """

    key_id: str
    label: str
    token: bool
    private: bool
    sensitive: bool
    extractable: bool
    always_sensitive: bool
    never_extractable: bool
    local: bool


class Pkcs11Signer:
    """A signing key inside a PKCS#11 token (see the module docstring)."""

    def __init__(
        self,
        backend: Pkcs11Backend,
        key_id: bytes,
        spec: KeySpec,
        public_key: CertificateIssuerPublicKeyTypes,
    ) -> None:
        self._backend = backend
        self._cka_id = key_id
        self._ref = KeyRef("pkcs11", key_id.hex())
        self._spec = spec
        self._public_key = public_key
        self._cached_key: tuple[int, SignMixin] | None = None
        self._handle = self._make_handle()

    def __repr__(self) -> str:
        return f"Pkcs11Signer({self._ref}, {self._spec}, token={self._backend.token_label!r})"

    @property
    def ref(self) -> KeyRef:
        return self._ref

    @property
    def spec(self) -> KeySpec:
        return self._spec

    def public_key(self) -> CertificateIssuerPublicKeyTypes:
        return self._public_key

    def as_private_key(self) -> CertificateIssuerPrivateKeyTypes:
        return self._handle

    def key_info(self) -> Pkcs11KeyInfo:
        """Read the private key's custody attributes from the token."""

        def read(session: Session, login: _TokenLogin) -> Pkcs11KeyInfo:
            key = cast("Object", self._key(session, login))
            attrs = key.get_attributes(
                [
                    Attribute.LABEL,
                    Attribute.TOKEN,
                    Attribute.PRIVATE,
                    Attribute.SENSITIVE,
                    Attribute.EXTRACTABLE,
                    Attribute.ALWAYS_SENSITIVE,
                    Attribute.NEVER_EXTRACTABLE,
                    Attribute.LOCAL,
                ]
            )
            return Pkcs11KeyInfo(
                key_id=self._ref.key_id,
                label=str(attrs[Attribute.LABEL]),
                token=bool(attrs[Attribute.TOKEN]),
                private=bool(attrs[Attribute.PRIVATE]),
                sensitive=bool(attrs[Attribute.SENSITIVE]),
                extractable=bool(attrs[Attribute.EXTRACTABLE]),
                always_sensitive=bool(attrs[Attribute.ALWAYS_SENSITIVE]),
                never_extractable=bool(attrs[Attribute.NEVER_EXTRACTABLE]),
                local=bool(attrs[Attribute.LOCAL]),
            )

        return self._backend._call(read, what="read key attributes", retry=True)

    # -- token operations (called by the private-key handles) --

    def _key(self, session: Session, login: _TokenLogin) -> SignMixin:
        """The private key object in the current session (library lock held)."""
        cached = self._cached_key
        if cached is not None and cached[0] == login.epoch:
            return cached[1]
        key = cast("SignMixin", _find_private_key(session, self._cka_id, self._backend))
        self._cached_key = (login.epoch, key)
        return key

    def _token_sign(self, data: bytes, mechanism: Mechanism) -> bytes:
        def sign(session: Session, login: _TokenLogin) -> bytes:
            return self._key(session, login).sign(data, mechanism=mechanism)

        return self._backend._call(sign, what="sign", retry=True)

    def _has_mechanism(self, mechanism: Mechanism) -> bool:
        return self._backend._has_mechanism(mechanism)

    def _make_handle(self) -> CertificateIssuerPrivateKeyTypes:
        key = self._public_key
        if isinstance(key, ec.EllipticCurvePublicKey):
            return _Pkcs11ECPrivateKey(self, key)
        if isinstance(key, rsa.RSAPublicKey):
            return _Pkcs11RSAPrivateKey(self, key)
        if isinstance(key, ed25519.Ed25519PublicKey):
            return _Pkcs11Ed25519PrivateKey(self, key)
        raise HSMError(f"PKCS#11 key {self._ref.key_id} has an unsupported type")


class _InToken:
    """What every key handle of the token shares: the key cannot be exported, and a
    copy is the same handle (the key itself is not in this process)."""

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        _no_export("private_bytes")

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[Any, Any]) -> Self:
        return self


class _Pkcs11ECPrivateKey(_InToken, ec.EllipticCurvePrivateKey):
    """ECDSA through raw ``CKM_ECDSA``: digest outside, DER ECDSA-Sig-Value (RFC 3279)."""

    def __init__(self, signer: Pkcs11Signer, public: ec.EllipticCurvePublicKey) -> None:
        self._signer = signer
        self._public = public

    def __repr__(self) -> str:
        return f"<PKCS#11 EC private key {self._signer.ref}>"

    def sign(
        self,
        data: Buffer,
        signature_algorithm: ec.EllipticCurveSignatureAlgorithm,
    ) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise UnsupportedAlgorithm("PKCS#11 EC keys sign with ECDSA only")
        if signature_algorithm.deterministic_signing:
            raise UnsupportedAlgorithm("deterministic ECDSA (RFC 6979) is not available")
        _, digest = _digest(bytes(data), signature_algorithm.algorithm)
        raw = self._signer._token_sign(digest, Mechanism.ECDSA)
        # CKM_ECDSA returns r || s, each as long as the group order (PKCS#11 v2.40
        # current mechanisms, ECDSA signatures).
        size = (self.curve.key_size + 7) // 8
        if len(raw) != 2 * size:
            raise HSMError(f"PKCS#11 token returned a {len(raw)}-byte ECDSA signature")
        r = int.from_bytes(raw[:size], "big")
        s = int.from_bytes(raw[size:], "big")
        return asym_utils.encode_dss_signature(r, s)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.curve.key_size

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        raise HSMError("PKCS#11 signing keys are not used for key agreement")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        _no_export("private_numbers")


class _Pkcs11RSAPrivateKey(_InToken, rsa.RSAPrivateKey):
    """RSA PKCS#1 v1.5 signatures (RFC 8017 §8.2) in the token."""

    def __init__(self, signer: Pkcs11Signer, public: rsa.RSAPublicKey) -> None:
        self._signer = signer
        self._public = public

    def __repr__(self) -> str:
        return f"<PKCS#11 RSA private key {self._signer.ref}>"

    def sign(
        self,
        data: bytes,
        padding: AsymmetricPadding,
        algorithm: asym_utils.Prehashed | hashes.HashAlgorithm | asym_utils.NoDigestInfo,
    ) -> bytes:
        if not isinstance(padding, PKCS1v15):
            raise UnsupportedAlgorithm("PKCS#11 RSA keys sign with PKCS#1 v1.5 padding only")
        data = bytes(data)
        if isinstance(algorithm, hashes.HashAlgorithm):
            mechanism = _RSA_HASH_MECHANISMS[_hash_name(algorithm)]
            if self._signer._has_mechanism(mechanism):
                return self._signer._token_sign(data, mechanism)
        if isinstance(algorithm, hashes.HashAlgorithm | asym_utils.Prehashed):
            name, digest = _digest(data, algorithm)
            return self._signer._token_sign(_DIGEST_INFO_PREFIX[name] + digest, Mechanism.RSA_PKCS)
        # NoDigestInfo (not referenced by name: it is newer than cryptography 44): the
        # caller supplies the complete encoded message T of RFC 8017 §9.2 step 2.
        return self._signer._token_sign(data, Mechanism.RSA_PKCS)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def decrypt(self, ciphertext: bytes, padding: AsymmetricPadding) -> bytes:
        raise HSMError("PKCS#11 signing keys are not used for decryption")

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        _no_export("private_numbers")


class _Pkcs11Ed25519PrivateKey(_InToken, ed25519.Ed25519PrivateKey):
    """Pure Ed25519 (RFC 8032) through ``CKM_EDDSA`` without parameters (PKCS#11 v3.0)."""

    def __init__(self, signer: Pkcs11Signer, public: ed25519.Ed25519PublicKey) -> None:
        self._signer = signer
        self._public = public

    def __repr__(self) -> str:
        return f"<PKCS#11 Ed25519 private key {self._signer.ref}>"

    def sign(self, data: Buffer) -> bytes:
        return self._signer._token_sign(bytes(data), Mechanism.EDDSA)

    def public_key(self) -> ed25519.Ed25519PublicKey:
        return self._public

    def private_bytes_raw(self) -> bytes:
        _no_export("private_bytes_raw")


# --- reading keys from the token -------------------------------------------------------


def _find_private_key(session: Session, cka_id: bytes, backend: Pkcs11Backend) -> Object:
    try:
        return session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=cka_id)
    except p11_errors.NoSuchKey:
        raise HSMError(
            f"no private key with id {cka_id.hex()} on PKCS#11 token {backend.token_label!r}"
        ) from None
    except p11_errors.MultipleObjectsReturned:
        raise HSMError(
            f"several private keys have id {cka_id.hex()} on PKCS#11 token {backend.token_label!r}"
        ) from None


def _find_public_key(session: Session, cka_id: bytes) -> Object | None:
    try:
        return session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=cka_id)
    except (p11_errors.NoSuchKey, p11_errors.MultipleObjectsReturned):
        return None


def _read_public_key(
    session: Session, cka_id: bytes, private: Object
) -> CertificateIssuerPublicKeyTypes:
    """The public key of ``private``, from its public key object (or RSA private attributes)."""
    key_type = private[Attribute.KEY_TYPE]
    public = _find_public_key(session, cka_id)
    if key_type == KeyType.RSA:
        # RSA private key objects carry the modulus and public exponent too.
        source = public if public is not None else private
        n = int.from_bytes(_as_bytes(source[Attribute.MODULUS]), "big")
        e = int.from_bytes(_as_bytes(source[Attribute.PUBLIC_EXPONENT]), "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if public is None:
        raise HSMError(f"PKCS#11 key {cka_id.hex()} has no public key object on the token")
    params = _as_bytes(public[Attribute.EC_PARAMS])
    point = _as_bytes(public[Attribute.EC_POINT])
    try:
        if key_type == KeyType.EC:
            curve = _CURVES_BY_PARAMS.get(params)
            if curve is None:
                raise HSMError(f"PKCS#11 key {cka_id.hex()} is on an unsupported curve")
            size = (curve.key_size + 7) // 8
            return ec.EllipticCurvePublicKey.from_encoded_point(
                curve, _ec_point(point, 2 * size + 1)
            )
        if key_type == KeyType.EC_EDWARDS:
            if params not in (_ED25519_PARAMS, _ED25519_PARAMS_NAME):
                raise HSMError(f"PKCS#11 key {cka_id.hex()} is on an unsupported Edwards curve")
            return ed25519.Ed25519PublicKey.from_public_bytes(_ec_point(point, 32))
    except ValueError:
        raise HSMError(f"PKCS#11 key {cka_id.hex()} has a malformed public key") from None
    raise HSMError(f"PKCS#11 key {cka_id.hex()} has an unsupported key type")


# --- the backend -----------------------------------------------------------------------


class Pkcs11Backend:
    """Keys in a PKCS#11 token, found by token label, logged in with ``pin()``.

    ``module`` is the path of the PKCS#11 library (e.g.
    ``/usr/lib/softhsm/libsofthsm2.so``). The token is opened and logged in on first use,
    not in the constructor.
    """

    name = "pkcs11"

    def __init__(self, module: str, token_label: str, pin: Callable[[], str]) -> None:
        self._module = module
        self._token_label = token_label
        self._pin = pin
        self._library = _library(module)
        self._verified_epoch = -1

    def __repr__(self) -> str:
        return f"Pkcs11Backend(module={self._module!r}, token_label={self._token_label!r})"

    @property
    def module(self) -> str:
        return self._module

    @property
    def token_label(self) -> str:
        return self._token_label

    def generate(self, label: str, spec: KeySpec) -> Pkcs11Signer:
        """Generate a non-extractable key pair of ``spec`` in the token, labelled ``label``."""
        kind = "rsa" if spec.is_rsa else "ec" if spec.is_ec else "ed25519"
        cka_id = secrets.token_bytes(_KEY_ID_BYTES)

        def generate(session: Session, login: _TokenLogin) -> Pkcs11Signer:
            return self._generate(session, login, label, spec, kind, cka_id)

        return self._call(generate, what="generate a key", retry=False)

    def load(self, key_id: str) -> Pkcs11Signer:
        """Open the key whose ``CKA_ID`` is the hex ``key_id`` from its ``KeyRef``."""
        try:
            cka_id = bytes.fromhex(key_id)
        except ValueError:
            cka_id = b""
        if not cka_id:
            raise HSMError(f"invalid PKCS#11 key id {key_id!r}: expected the hex CKA_ID")

        def load(session: Session, login: _TokenLogin) -> Pkcs11Signer:
            private = _find_private_key(session, cka_id, self)
            public = _read_public_key(session, cka_id, private)
            spec = spec_of_public_key(public)
            if spec is None:
                raise HSMError(f"PKCS#11 key {key_id} has an unsupported size or curve")
            return Pkcs11Signer(self, cka_id, spec, public)

        return self._call(load, what="load a key", retry=True)

    # -- internals --

    def _generate(
        self,
        session: Session,
        login: _TokenLogin,
        label: str,
        spec: KeySpec,
        kind: str,
        cka_id: bytes,
    ) -> Pkcs11Signer:
        generation, signing = _REQUIRED_MECHANISMS[kind]
        if generation not in login.mechanisms or not any(m in login.mechanisms for m in signing):
            raise HSMError(f"{spec.value} keys are not supported by this PKCS#11 token")
        public_template: dict[Attribute, Any] = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.VERIFY: True,
            Attribute.ENCRYPT: False,
            Attribute.WRAP: False,
        }
        private_template: dict[Attribute, Any] = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
            Attribute.DECRYPT: False,
            Attribute.UNWRAP: False,
            Attribute.DERIVE: False,
        }
        key_length: int | None = None
        if kind == "rsa":
            key_type = KeyType.RSA
            key_length = spec.rsa_bits
        elif kind == "ec":
            key_type = KeyType.EC
            public_template[Attribute.EC_PARAMS] = _EC_PARAMS[spec]
        else:
            key_type = KeyType.EC_EDWARDS
            public_template[Attribute.EC_PARAMS] = _ED25519_PARAMS
        _public, private = session.generate_keypair(
            key_type,
            key_length,
            id=cka_id,
            label=label,
            store=True,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            public_template=public_template,
            private_template=private_template,
        )
        public = _read_public_key(session, cka_id, private)
        if spec_of_public_key(public) is not spec:
            for obj in (private, _public):
                try:
                    obj.destroy()
                except p11_errors.PKCS11Error as exc:
                    log.warning("cannot destroy rejected key %s: %s", cka_id.hex(), exc)
            raise HSMError(f"PKCS#11 token generated a key that is not {spec.value}")
        signer = Pkcs11Signer(self, cka_id, spec, public)
        signer._cached_key = (login.epoch, cast("SignMixin", private))
        log.info(
            "generated %s key %s (%r) in PKCS#11 token %r",
            spec.value,
            cka_id.hex(),
            label,
            self._token_label,
        )
        return signer

    def _has_mechanism(self, mechanism: Mechanism) -> bool:
        def check(session: Session, login: _TokenLogin) -> bool:
            return mechanism in login.mechanisms

        return self._call(check, what="list mechanisms", retry=True)

    def _call(
        self,
        operation: Callable[[Session, _TokenLogin], _T],
        *,
        what: str,
        retry: bool,
    ) -> _T:
        """Run ``operation`` in the logged-in session, holding the module's lock.

        PKCS#11 errors become :class:`HSMError` naming the operation and the error class
        (python-pkcs11 messages never contain the PIN, but only the class is used). If the
        session was lost it is reopened and, when ``retry``, the operation runs again.
        """
        with self._library.lock:
            attempts = 2 if retry else 1
            for attempt in range(attempts):
                login = self._logged_in()
                session = login.session
                assert session is not None
                try:
                    return operation(session, login)
                except _SESSION_LOST as exc:
                    log.warning(
                        "PKCS#11 session on token %r lost (%s); reopening",
                        self._token_label,
                        type(exc).__name__,
                    )
                    login.close()
                    if attempt == attempts - 1:
                        raise HSMError(
                            f"PKCS#11 token {self._token_label!r}: cannot {what}: "
                            f"{type(exc).__name__}"
                        ) from None
                except p11_errors.PKCS11Error as exc:
                    raise HSMError(
                        f"PKCS#11 token {self._token_label!r}: cannot {what}: {type(exc).__name__}"
                    ) from None
            raise AssertionError("unreachable")

    def _logged_in(self) -> _TokenLogin:
        """The shared login for this token, opened and checked for this backend's PIN."""
        lib = self._library.handle()
        login = self._library.login(self._token_label)
        if login.session is not None and self._verified_epoch == login.epoch:
            return login
        pin = self._pin()
        if login.session is not None and hmac.compare_digest(login.pin_mac, _pin_mac(pin)):
            self._verified_epoch = login.epoch
            return login
        # No session yet, or another backend logged in with a different PIN: let the
        # token judge this PIN with a fresh login (closing the shared session first, as
        # C_Login on a logged-in token does not check the PIN).
        login.close()
        try:
            token = lib.get_token(token_label=self._token_label)
        except p11_errors.NoSuchToken:
            raise HSMError(
                f"PKCS#11 token {self._token_label!r} not found in {self._module}"
            ) from None
        except p11_errors.MultipleTokensReturned:
            raise HSMError(
                f"several PKCS#11 tokens are labelled {self._token_label!r} in {self._module}"
            ) from None
        except p11_errors.PKCS11Error as exc:
            raise HSMError(
                f"cannot list PKCS#11 tokens in {self._module}: {type(exc).__name__}"
            ) from None
        try:
            session = token.open(rw=True, user_pin=pin)
        except (p11_errors.PinIncorrect, p11_errors.PinInvalid, p11_errors.PinLenRange):
            raise HSMError(
                f"PKCS#11 login to token {self._token_label!r} failed: incorrect PIN"
            ) from None
        except p11_errors.PinLocked:
            raise HSMError(f"PKCS#11 token {self._token_label!r}: the user PIN is locked") from None
        except p11_errors.UserAlreadyLoggedIn:
            raise HSMError(
                f"PKCS#11 token {self._token_label!r} is already logged in by other code in "
                "this process; govtrust must own the token login"
            ) from None
        except p11_errors.PKCS11Error as exc:
            raise HSMError(
                f"PKCS#11 login to token {self._token_label!r} failed: {type(exc).__name__}"
            ) from None
        try:
            mechanisms = frozenset(int(m) for m in token.slot.get_mechanisms())
        except p11_errors.PKCS11Error as exc:
            session.close()
            raise HSMError(
                f"PKCS#11 token {self._token_label!r}: cannot list mechanisms: {type(exc).__name__}"
            ) from None
        login.session = session
        login.epoch = next(_EPOCHS)
        login.pin_mac = _pin_mac(pin)
        login.mechanisms = mechanisms
        self._verified_epoch = login.epoch
        log.info("logged in to PKCS#11 token %r", self._token_label)
        return login
