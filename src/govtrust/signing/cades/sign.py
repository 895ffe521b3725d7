"""Detached CAdES baseline signatures (ETSI EN 319 122-1) of any file, or of a hash.

The CMS (RFC 5652 SignedData without eContent: detached) carries the CAdES-B signed
attributes of EN 319 122-1 §5.2: content-type, message-digest, signing-time (from the
injected clock) and signing-certificate-v2 (ESSCertIDv2, RFC 5035); B-T adds the
signature-time-stamp (§5.3) from the TSA. It is encoded by
:class:`govtrust.signing._cms_out.CmsSigner` (the same attributes pyHanko's signer
writes, about ten times faster: see that module). B-LT and B-LTA are added by
:mod:`govtrust.signing.cades.augment`.

Signing a *hash* (remote signing, where the document stays with the integrator) is the
same operation: CMS signs the message digest, never the content itself (RFC 5652 §5.4),
so the signed attributes carry message-digest = the given hash and the result is the
same ``.p7s`` the whole file would have given. The PAdES variant builds the CMS for a
PDF's byte-range digest with the attributes EN 319 142-1 §6.3 asks for (no
signing-time), for the integrator to embed (see docs/signing.md).
"""

from __future__ import annotations

import hashlib

from asn1crypto import cms
from pyhanko.sign.general import SigningError

from govtrust.crypto._pyhanko import digest_algorithm_for
from govtrust.errors import Error, InputError, SigningFailed
from govtrust.signing import _loop
from govtrust.signing._cms_out import cms_signer
from govtrust.signing._tsp import imprint_token
from govtrust.signing.api import SignedDocument, SigningIdentity, SigningServices
from govtrust.signing.cades.augment import (
    ContentDigest,
    add_archive_timestamp,
    add_validation_data,
    parse_cms,
)
from govtrust.signing.levels import Level, SignatureFormat
from govtrust.tsa import HASHES

__all__ = ["MEDIA_TYPE", "CadesSigner", "digest_of"]

MEDIA_TYPE = "application/pkcs7-signature"  # RFC 8551 §3.2.1, the .p7s of a detached signature


def digest_of(data: bytes) -> ContentDigest:
    """A :data:`ContentDigest` over bytes in memory."""
    return lambda name: hashlib.new(name, data).digest()


def _check_digest(digest: bytes, hash_name: str) -> None:
    if hash_name not in HASHES:
        raise InputError(
            f"the hash algorithm must be one of {', '.join(HASHES)}, not {hash_name!r}"
        )
    size = HASHES[hash_name][1]
    if len(digest) != size:
        raise InputError(f"a {hash_name} hash is {size} bytes, not {len(digest)}")


class CadesSigner:
    """Detached CAdES signatures with one identity at one level (reusable for a batch)."""

    def __init__(self, identity: SigningIdentity, level: Level, services: SigningServices) -> None:
        self.identity = identity
        self.level = level
        self.services = services
        self._signer = cms_signer(identity.signer, identity.certificate, identity.chain)
        self._md = digest_algorithm_for(identity.signer.spec)
        self._transport = services.transport() if level.at_least(Level.B_T) else None
        if level.at_least(Level.B_LT):
            services.source()

    @property
    def digest_algorithm(self) -> str:
        return self._md

    def _timestamp(self, imprint: bytes, hash_name: str) -> bytes:
        """The signature time-stamp token (EN 319 122-1 §5.3) from the TSA, checked."""
        assert self._transport is not None
        return imprint_token(self._transport, imprint, hash_name)

    async def _cms(self, digest: bytes, hash_name: str, pades: bool) -> bytes:
        # EN 319 142-1 §6.3: a PAdES CMS has no signing-time (the time is the PDF's /M).
        now = None if pades else self.services.clock.now()
        return await self._signer.sign(
            digest,
            hash_name,
            signing_time=now,
            timestamp=self._timestamp if self._transport is not None else None,
        )

    def _signed(self, digest: bytes, hash_name: str, content: ContentDigest, pades: bool) -> bytes:
        try:
            der = _loop.run(self._cms(digest, hash_name, pades))
        except Error:
            raise
        except SigningError as exc:
            raise SigningFailed("sign", f"the signature could not be made: {exc}") from None
        if not pades and self.level.at_least(Level.B_LT):
            sig = add_validation_data(parse_cms(der), self.services)
            if self.level.at_least(Level.B_LTA):
                sig = add_archive_timestamp(sig, content, self.services)
            der = sig.dump()
        return der

    def sign(self, data: bytes) -> SignedDocument:
        """A detached signature of ``data`` (the ``.p7s``)."""
        name = self.digest_algorithm
        digest = hashlib.new(name, data).digest()
        return self._document(self._signed(digest, name, digest_of(data), pades=False))

    def sign_digest(self, digest: bytes, hash_name: str, *, pades: bool = False) -> SignedDocument:
        """A detached signature of content known only by its hash.

        CAdES at any level: B-LTA's archive time-stamp needs only the content's hash,
        in the same algorithm. With ``pades``, the CMS for a PDF signature over the
        byte-range digest (levels B-B and B-T: the DSS and the document time-stamp of
        B-LT/B-LTA belong to the PDF, which stays with the integrator).
        """
        _check_digest(digest, hash_name)
        if pades and self.level.at_least(Level.B_LT):
            raise InputError(
                "a PAdES signature over a hash is made at B-B or B-T: B-LT and B-LTA add "
                "a DSS and a document timestamp to the PDF itself (see docs/signing.md)"
            )
        if self._md == "sha512" and hash_name != "sha512":
            raise InputError("an Ed25519 credential signs SHA-512 hashes only (RFC 8419 §3.1)")

        def content(name: str) -> bytes:
            if name != hash_name:
                raise SigningFailed("sign", f"only the {hash_name} hash of the content is known")
            return digest

        der = self._signed(digest, hash_name, content, pades=pades)
        return self._document(der, pades=pades)

    def _document(self, der: bytes, *, pades: bool = False) -> SignedDocument:
        cms.ContentInfo.load(der)
        return SignedDocument(
            data=der,
            produced=der,
            format=SignatureFormat.PADES if pades else SignatureFormat.CADES,
            level=self.level,
            media_type=MEDIA_TYPE,
            suffix=".p7s",
        )
