"""The bridge from govtrust's :class:`~govtrust.crypto.signer.Signer` to pyHanko.

pyHanko asks a ``pyhanko.sign.signers.Signer`` for the raw signature over the DER of
the signed attributes (``async_sign_raw``), for the signer's certificate (the stamp's
text, pre-signing validation) and for size estimates (dry runs).
:class:`PyHankoSigner` answers with the key handle of our Signer
(:func:`raw_signature`: ``signer.as_private_key().sign(...)``), so the private key stays
in its backend: in memory for software keys, inside the token for PKCS#11. govtrust's
own CMS encoder (``govtrust.signing._cms_out``) signs through :func:`raw_signature` too.

Internal API (the leading underscore): only ``govtrust.signing`` uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.sign.signers.pdf_cms import Signer as _PyHankoSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from govtrust.crypto.keys import KeySpec
from govtrust.crypto.signer import Signer, sign_bytes
from govtrust.errors import SigningFailed

__all__ = ["PyHankoSigner", "digest_algorithm_for", "raw_signature", "to_asn1"]

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    """The asn1crypto form of a certificate (what pyHanko and its validator take)."""
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def digest_algorithm_for(spec: KeySpec) -> str:
    """The CMS digest algorithm paired with a key: SHA-384 for P-384 (RFC 5758 §3.2),
    SHA-512 for Ed25519 (RFC 8419 §3.1 requires it with id-Ed25519 and signed
    attributes), SHA-256 otherwise."""
    if spec is KeySpec.ED25519:
        return "sha512"
    if spec is KeySpec.EC_P384:
        return "sha384"
    return "sha256"


def _placeholder_size(spec: KeySpec) -> int:
    """The largest signature the key can make, for pyHanko's dry runs (size estimates)
    without a round trip to the key backend: DER ECDSA-Sig-Value (RFC 3279 §2.2.3) at
    its longest, the RSA modulus length, or 64 bytes for Ed25519 (RFC 8032 §5.1.6)."""
    if spec.is_rsa:
        return spec.rsa_bits // 8
    if spec.is_ec:
        coordinate = (spec.curve.key_size + 7) // 8
        content = 2 * (2 + coordinate + 1)
        return content + (2 if content < 128 else 3)
    return 64


def raw_signature(signer: Signer, data: bytes, digest_algorithm: str) -> bytes:
    """The signature of ``data`` by ``signer``'s key, made in its backend
    (:func:`~govtrust.crypto.signer.sign_bytes`): ECDSA with ``digest_algorithm``
    (RFC 5753 §2.1.1: the CMS digest algorithm is the ECDSA hash), RSASSA-PKCS1-v1_5
    with it (RFC 5754 §3.2), or Ed25519 (RFC 8419 §3.1: PureEdDSA, with SHA-512 as the
    CMS digest algorithm)."""
    if signer.spec is KeySpec.ED25519 and digest_algorithm != "sha512":
        raise SigningFailed(
            "sign", "an Ed25519 key signs with SHA-512 as the digest (RFC 8419 §3.1)"
        )
    algorithm = _HASHES.get(digest_algorithm)
    if algorithm is None:
        raise SigningFailed("sign", f"unsupported digest algorithm {digest_algorithm}")
    try:
        return sign_bytes(signer, data, algorithm)
    except TypeError:
        raise SigningFailed("sign", f"the key ({signer.spec.value}) cannot sign CMS here") from None


class PyHankoSigner(_PyHankoSigner):
    """A pyHanko signer whose raw signatures come from a govtrust :class:`Signer`.

    ``chain`` (issuing CA up to the root) goes into the CMS ``certificates`` with the
    signer's certificate, so a verifier can build the path from the signature alone.
    """

    def __init__(
        self,
        signer: Signer,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        *,
        embed_roots: bool = True,
    ) -> None:
        registry = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [to_asn1(c) for c in chain]
        )
        super().__init__(
            signing_cert=to_asn1(certificate),
            cert_registry=registry,
            embed_roots=embed_roots,
        )
        self._govtrust_signer = signer
        self._spec = signer.spec

    @property
    def digest_algorithm(self) -> str:
        return digest_algorithm_for(self._spec)

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return bytes(_placeholder_size(self._spec))
        name = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        if not (
            (name == "ecdsa" and self._spec.is_ec)
            or (name == "rsassa_pkcs1v15" and self._spec.is_rsa)
            or (name == "ed25519" and self._spec is KeySpec.ED25519)
        ):
            raise SigningFailed(
                "sign", f"the key ({self._spec.value}) cannot make a {name} signature"
            )
        return raw_signature(self._govtrust_signer, data, digest_algorithm)
