"""The CMS of govtrust's CAdES and PAdES signatures, encoded here as DER bytes.

What is encoded (RFC 5652 §3, §5.1-5.4; ETSI EN 319 122-1 §5.2; EN 319 142-1 §5):

- ContentInfo { id-signedData, [0] SignedData }.
- SignedData version 1 (id-data content, issuerAndSerialNumber, no attribute
  certificates: RFC 5652 §5.1), digestAlgorithms { the one digest algorithm },
  encapContentInfo { id-data } without eContent (a detached signature, §5.2),
  certificates [0] = the signer's certificate and its issuer chain, root included
  (what pyHanko embeds; a verifier builds the path from the signature alone), no crls.
- one SignerInfo version 1 (§5.3): sid issuerAndSerialNumber, digestAlgorithm (SHA-2
  with NULL parameters, as asn1crypto writes them; RFC 5754 §2 has verifiers accept
  both), signedAttrs [0], signatureAlgorithm (ecdsa-with-SHA256/384/512 without
  parameters, RFC 5758 §3.2; shaNNNWithRSAEncryption with NULL, RFC 5754 §3.2;
  id-Ed25519, RFC 8419 §2.3), signature, and for B-T the unsignedAttrs [1].
- signed attributes, a DER SET OF (X.690 §11.6: sorted by encoding, because the
  signature covers this exact encoding, RFC 5652 §5.4):
  content-type id-data and message-digest (RFC 5652 §11.1, §11.2, mandatory when there
  are signed attributes); signing-certificate-v2 with one ESSCertIDv2 (RFC 5035 §3,
  SHA-256 certHash, issuerSerial; EN 319 122-1 §5.2.2.3); for CAdES signing-time
  (RFC 5652 §11.3, EN 319 122-1 §5.2.1: UTCTime through 2049); for PAdES no signing-time
  (EN 319 142-1 §6.3: the time is the signature dictionary's ``/M``). These are the
  attributes pyHanko's signer writes for the same settings (``use_pades=True``), which
  ``tests/unit/signing/test_cms_out.py`` checks field by field.
- the signature covers the DER of the signed attributes re-tagged as a SET OF (0x31),
  RFC 5652 §5.4; it is made by the credential's key in its backend
  (:func:`govtrust.crypto._pyhanko.raw_signature`: software or PKCS#11).
- B-T: the signature-time-stamp unsigned attribute (id-aa-signatureTimeStampToken,
  RFC 3161 Appendix A; EN 319 122-1 §5.3), a time-stamp token over the hash of the
  signature value, in the signature's digest algorithm, from the injected TSA.

Why by hand: pyHanko builds this CMS with asn1crypto objects, which copy and
re-serialise the certificates and names on every signature: measured with cProfile,
about 78% of the CPU of a PAdES B-B signature of a 1-page PDF went to asn1crypto's
``_set_contents``/``dump`` under pyHanko's ``format_signed_attributes``,
``_package_signature`` and ``signer_info``. So, as for the RFC 3161 tokens
(``govtrust.tsa.authority``), every part that does not change between signatures
(certificates, signer identifier, algorithm identifiers, the content-type and
signing-certificate-v2 attributes) is encoded once, by asn1crypto, when the builder is
made, and each signature concatenates them with the few per-signature fields under DER
headers (``govtrust.crypto._der``, X.690 §8, §10): about 0.2 ms per CMS, signature
included. Measured with ``bench/signing_bench.py --quick`` (P-256 seal, audit record
included, load average below 1): PAdES B-B 43.6 → 4.0 ms per document (pyHanko used
directly: 33 ms), batch B-B on 2 processes 50 → 391 PDFs/s (goal 200), CAdES of 1 MB
30.2 → 2.7 ms (``openssl cms -sign``: 5.8 ms net of process start).

Encoding those constant parts still costs about 9 ms (asn1crypto), which a caller
making one signature per session (the sealed validation report, ``POST /sign``) paid
every time: :func:`cms_signer` keeps the builders of the process, keyed by exactly
what they are made of (the ``Signer`` object, the certificate's and the chain's DER).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pyhanko.sign.timestamps.api import TimeStamper

from govtrust.crypto import _der as der
from govtrust.crypto._pyhanko import raw_signature
from govtrust.crypto.signer import Signer
from govtrust.errors import SigningFailed

__all__ = ["DIGESTS", "CmsSigner", "cms_signer"]

DIGESTS = ("sha256", "sha384", "sha512")
"""The digest algorithms a signature can use (RFC 5754 §2)."""

_ID_DATA = der.oid("1.2.840.113549.1.7.1")  # RFC 5652 §4
_ID_SIGNED_DATA = der.oid("1.2.840.113549.1.7.2")  # RFC 5652 §5.1
_ID_MESSAGE_DIGEST = der.oid("1.2.840.113549.1.9.4")  # RFC 5652 §11.2
_ID_SIGNING_TIME = der.oid("1.2.840.113549.1.9.5")  # RFC 5652 §11.3
_ID_SIGNATURE_TIME_STAMP = der.oid("1.2.840.113549.1.9.16.2.14")  # RFC 3161 Appendix A
_VERSION_1 = der.integer(1)
_ENCAP_DATA = der.sequence(_ID_DATA)  # eContentType id-data, eContent absent: detached


def _attribute(type_der: bytes, *values: bytes) -> bytes:
    """Attribute ::= SEQUENCE { attrType, attrValues SET OF } (RFC 5652 §5.3)."""
    return der.sequence(type_der, der.set_of(*values))


def _signature_algorithm(public_key: Any, digest: str) -> bytes:
    """The signatureAlgorithm pyHanko chooses for the certificate's key and ``digest``."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        value: dict[str, Any] = {"algorithm": f"{digest}_ecdsa"}
    elif isinstance(public_key, rsa.RSAPublicKey):
        value = {"algorithm": f"{digest}_rsa", "parameters": core.Null()}
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        if digest != "sha512":
            raise SigningFailed(
                "sign", "an Ed25519 key signs with SHA-512 as the digest (RFC 8419 §3.1)"
            )
        value = {"algorithm": "ed25519"}
    else:
        raise SigningFailed("sign", f"unsupported signer key {type(public_key).__name__}")
    return bytes(algos.SignedDigestAlgorithm(value).dump())


class CmsSigner:
    """Detached CMS signatures by one signer (certificate, chain, key): the constant
    parts are encoded here, once; :meth:`sign` is safe to call from several threads."""

    def __init__(
        self, signer: Signer, certificate: x509.Certificate, chain: Sequence[x509.Certificate]
    ) -> None:
        self.signer = signer
        self.certificate = certificate
        cert_der = certificate.public_bytes(serialization.Encoding.DER)
        cert = asn1_x509.Certificate.load(cert_der)
        # CertificateSet (RFC 5652 §10.2.3): a SET OF, each certificate once, in DER order.
        ders = {cert_der, *(c.public_bytes(serialization.Encoding.DER) for c in chain)}
        self._certificates = der.tlv(0xA0, b"".join(sorted(ders)))
        self._sid = bytes(
            cms.IssuerAndSerialNumber(
                {"issuer": cert.issuer, "serial_number": cert.serial_number}
            ).dump()
        )
        # RFC 5035 §3 / EN 319 122-1 §5.2.2.3: ESSCertIDv2 of the signer's certificate.
        self._signing_certificate = der.signing_certificate_v2(cert_der)
        self._content_type = bytes(
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}).dump()
        )
        public_key = certificate.public_key()
        self._algorithms: dict[str, tuple[bytes, bytes]] = {}
        for digest in DIGESTS:
            try:
                signature_algorithm = _signature_algorithm(public_key, digest)
            except SigningFailed:
                continue
            digest_algorithm = bytes(algos.DigestAlgorithm({"algorithm": digest}).dump())
            self._algorithms[digest] = digest_algorithm, signature_algorithm

    def _algorithm_pair(self, digest: str) -> tuple[bytes, bytes]:
        pair = self._algorithms.get(digest)
        if pair is None:
            raise SigningFailed("sign", f"this key does not sign with {digest} as the digest")
        return pair

    def signed_attributes(self, message_digest: bytes, signing_time: dt.datetime | None) -> bytes:
        """The DER SET OF signed attributes (tag 0x31, RFC 5652 §5.4): content-type,
        message-digest, signing-certificate-v2 and, when given, signing-time."""
        attributes = [
            self._content_type,
            _attribute(_ID_MESSAGE_DIGEST, der.octet_string(message_digest)),
            self._signing_certificate,
        ]
        if signing_time is not None:
            attributes.append(_attribute(_ID_SIGNING_TIME, der.time(signing_time)))
        return der.set_of(*attributes)

    async def sign(
        self,
        message_digest: bytes,
        digest: str,
        *,
        signing_time: dt.datetime | None = None,
        timestamper: TimeStamper | None = None,
        timestamp: Callable[[bytes, str], bytes] | None = None,
    ) -> bytes:
        """A DER ContentInfo holding the detached SignedData over content whose
        ``digest`` hash is ``message_digest``; with ``timestamper`` (pyHanko's) or
        ``timestamp`` (imprint and its hash name in, DER token out), the signature
        time-stamp (B-T) as an unsigned attribute."""
        digest_algorithm, signature_algorithm = self._algorithm_pair(digest)
        if len(message_digest) != hashlib.new(digest).digest_size:
            raise SigningFailed("sign", f"a {digest} message digest has the wrong length")
        attributes = self.signed_attributes(message_digest, signing_time)
        signature = raw_signature(self.signer, attributes, digest)
        unsigned = b""
        if timestamper is not None or timestamp is not None:
            # EN 319 122-1 §5.3: the token's imprint is the hash of the signature value.
            imprint = hashlib.new(digest, signature).digest()
            if timestamp is not None:
                token = timestamp(imprint, digest)
            else:
                assert timestamper is not None
                token = bytes((await timestamper.async_timestamp(imprint, digest)).dump())
            unsigned = der.tlv(0xA1, _attribute(_ID_SIGNATURE_TIME_STAMP, token))
        signer_info = der.sequence(
            _VERSION_1,
            self._sid,
            digest_algorithm,
            b"\xa0" + attributes[1:],  # [0] IMPLICIT: the same content, context tag
            signature_algorithm,
            der.octet_string(signature),
            unsigned,
        )
        signed_data = der.sequence(
            _VERSION_1,
            der.tlv(0x31, digest_algorithm),
            _ENCAP_DATA,
            self._certificates,
            der.tlv(0x31, signer_info),
        )
        return der.sequence(_ID_SIGNED_DATA, der.explicit(0, signed_data))


_CACHE_SIZE = 64
_cache: OrderedDict[tuple[int, bytes, tuple[bytes, ...]], CmsSigner] = OrderedDict()
_cache_lock = threading.Lock()


def cms_signer(
    signer: Signer, certificate: x509.Certificate, chain: Sequence[x509.Certificate]
) -> CmsSigner:
    """The :class:`CmsSigner` of this signer, certificate and chain: made once per
    process and reused (the most recently used :data:`_CACHE_SIZE` are kept).

    A CmsSigner is a pure function of its inputs: the ``Signer`` object that signs and
    the DER of the certificate and of the chain, and the key of the cache is exactly
    those (the signer by identity; the certificates by their whole DER, not a digest).
    A renewed or re-issued certificate, another chain, or another key (a different
    ``Signer``, as the key custody gives one per key reference) therefore makes a new
    builder; nothing that the cache holds can sign under a certificate other than the
    one asked for. Whether the credential may sign at all (revoked, expired...) is
    decided before, by the caller, on every signature: it is not cached here.
    """
    cert_der = certificate.public_bytes(serialization.Encoding.DER)
    chain_der = tuple(c.public_bytes(serialization.Encoding.DER) for c in chain)
    key = (id(signer), cert_der, chain_der)
    with _cache_lock:
        cached = _cache.get(key)
        # The entry holds the signer, so its id cannot be reused while it is cached.
        if cached is not None and cached.signer is signer:
            _cache.move_to_end(key)
            return cached
    made = CmsSigner(signer, certificate, chain)
    with _cache_lock:
        _cache[key] = made
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return made
