"""Key algorithms govtrust knows, by the names the CLI and profiles use.

``ec-p256``, ``ec-p384``, ``rsa-2048``, ``rsa-3072``, ``rsa-4096``, ``ed25519``.
"""

from __future__ import annotations

import enum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from govtrust.errors import InputError

__all__ = ["KeySpec", "SignatureHash", "default_hash", "spec_of_public_key"]


class KeySpec(enum.StrEnum):
    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"
    ED25519 = "ed25519"

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        try:
            return cls(text.strip().lower())
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise InputError(f"unknown key algorithm {text!r} (use one of: {allowed})") from None

    @property
    def is_rsa(self) -> bool:
        return self.value.startswith("rsa-")

    @property
    def is_ec(self) -> bool:
        return self.value.startswith("ec-")

    @property
    def rsa_bits(self) -> int:
        return int(self.value.split("-")[1])

    @property
    def curve(self) -> ec.EllipticCurve:
        return {"ec-p256": ec.SECP256R1(), "ec-p384": ec.SECP384R1()}[self.value]

    def generate(
        self,
    ) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
        """Generate a software key of this spec (cryptography's CSPRNG)."""
        if self.is_ec:
            return ec.generate_private_key(self.curve)
        if self.is_rsa:
            return rsa.generate_private_key(public_exponent=65537, key_size=self.rsa_bits)
        return ed25519.Ed25519PrivateKey.generate()


def spec_of_public_key(key: CertificatePublicKeyTypes) -> KeySpec | None:
    """The KeySpec a public key belongs to, or None for one govtrust does not issue for."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": KeySpec.EC_P256, "secp384r1": KeySpec.EC_P384}.get(key.curve.name)
    if isinstance(key, rsa.RSAPublicKey):
        try:
            return KeySpec(f"rsa-{key.key_size}")
        except ValueError:
            return None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return KeySpec.ED25519
    return None


SignatureHash = hashes.SHA256 | hashes.SHA384


def default_hash(spec: KeySpec) -> SignatureHash | None:
    """The signature hash paired with a key: SHA-384 for P-384, none for Ed25519.

    RFC 5758 §3.2 pairs ecdsa-with-SHA384 with P-384; RFC 8410 §6 signs Ed25519 without
    a separate hash.
    """
    if spec is KeySpec.ED25519:
        return None
    if spec is KeySpec.EC_P384:
        return hashes.SHA384()
    return hashes.SHA256()
