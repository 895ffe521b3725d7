"""The ``Signer`` interface that every key backend implements.

A Signer never hands out private key material. It offers ``as_private_key()``, a handle
that pyca/cryptography's X.509, CRL and OCSP builders accept: their ``sign()`` calls the
handle's ``sign()`` method, which the backend implements (in memory for software keys,
inside the token for PKCS#11). That keeps all X.509 encoding in cryptography while the
key stays in custody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificateIssuerPublicKeyTypes,
)

from govtrust.crypto.keys import KeySpec, SignatureHash, default_hash

__all__ = ["KeyRef", "Signer", "sign_bytes", "signature_hash"]


@dataclass(frozen=True)
class KeyRef:
    """Where a key lives: ``backend`` is ``software`` or ``pkcs11``; ``key_id`` is opaque."""

    backend: str
    key_id: str

    def __str__(self) -> str:
        return f"{self.backend}:{self.key_id}"

    @classmethod
    def parse(cls, text: str) -> KeyRef:
        backend, _, key_id = text.partition(":")
        return cls(backend, key_id)


@runtime_checkable
class Signer(Protocol):
    """A signing key in custody."""

    @property
    def ref(self) -> KeyRef: ...

    @property
    def spec(self) -> KeySpec: ...

    def public_key(self) -> CertificateIssuerPublicKeyTypes: ...

    def as_private_key(self) -> CertificateIssuerPrivateKeyTypes:
        """A handle for cryptography's builders; signing happens in the backend."""
        ...


def signature_hash(signer: Signer) -> SignatureHash | None:
    """The hash to pass to cryptography's ``builder.sign()`` for this signer."""
    return default_hash(signer.spec)


def sign_bytes(signer: Signer, data: bytes, algorithm: hashes.HashAlgorithm | None = None) -> bytes:
    """Sign ``data`` with the signer's key in its backend: ECDSA, RSA PKCS#1 v1.5 (with
    ``algorithm``, by default the key's default hash) or Ed25519 (PureEdDSA, no hash).

    Used where govtrust encodes a to-be-signed structure itself (the CRL fast path, the
    RFC 3161 tokens, the CMS of CAdES and PAdES signatures).
    """
    key = signer.as_private_key()
    algorithm = algorithm or default_hash(signer.spec)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert algorithm is not None
        return key.sign(data, ec.ECDSA(algorithm))
    if isinstance(key, rsa.RSAPrivateKey):
        assert algorithm is not None
        return key.sign(data, padding.PKCS1v15(), algorithm)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    raise TypeError(f"unsupported key type {type(key).__name__}")
