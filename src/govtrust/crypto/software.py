"""Software keys: PKCS#8 encrypted at rest (RFC 5958, PBES2), one file per key.

The passphrase comes from ``GOVTRUST_KEY_PASSPHRASE`` or a file named in configuration;
it is read when a key is first used and never logged or echoed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificateIssuerPublicKeyTypes,
)

from govtrust.crypto.keys import KeySpec, spec_of_public_key
from govtrust.crypto.signer import KeyRef
from govtrust.errors import KeyError_

__all__ = ["SoftwareBackend", "SoftwareSigner"]


class SoftwareSigner:
    def __init__(self, key_id: str, key: CertificateIssuerPrivateKeyTypes, spec: KeySpec) -> None:
        self._ref = KeyRef("software", key_id)
        self._key = key
        self._spec = spec

    def __repr__(self) -> str:  # never show the key
        return f"SoftwareSigner({self._ref}, {self._spec})"

    @property
    def ref(self) -> KeyRef:
        return self._ref

    @property
    def spec(self) -> KeySpec:
        return self._spec

    def public_key(self) -> CertificateIssuerPublicKeyTypes:
        return self._key.public_key()

    def as_private_key(self) -> CertificateIssuerPrivateKeyTypes:
        return self._key


class SoftwareBackend:
    """Keys in ``directory`` as ``<key_id>.p8`` (PEM, encrypted PKCS#8, mode 0600)."""

    name = "software"

    def __init__(self, directory: Path, passphrase: Callable[[], bytes]) -> None:
        self._dir = directory
        self._passphrase = passphrase

    def generate(self, label: str, spec: KeySpec) -> SoftwareSigner:
        key = spec.generate()
        assert isinstance(
            key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
        )
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)[:40]
        key_id = f"{safe}-{secrets.token_hex(6)}"
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase()),
        )
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._dir / f"{key_id}.p8"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return SoftwareSigner(key_id, key, spec)

    def load(self, key_id: str) -> SoftwareSigner:
        if "/" in key_id or key_id.startswith("."):
            raise KeyError_(f"invalid software key id {key_id!r}")
        path = self._dir / f"{key_id}.p8"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyError_(f"software key {key_id!r} not found in the key directory") from None
        try:
            key = serialization.load_pem_private_key(data, password=self._passphrase())
        except (ValueError, TypeError):
            # cryptography says "Bad decrypt" for a wrong passphrase; never echo either.
            raise KeyError_(
                f"cannot decrypt software key {key_id!r}: wrong key passphrase?"
            ) from None
        if not isinstance(
            key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
        ):
            raise KeyError_(f"software key {key_id!r} has an unsupported type")
        spec = spec_of_public_key(key.public_key())
        if spec is None:
            raise KeyError_(f"software key {key_id!r} has an unsupported size or curve")
        return SoftwareSigner(key_id, key, spec)
