"""PAdES baseline signatures (ETSI EN 319 142-1) with pyHanko.

pyHanko writes the signature as an incremental update with ``/SubFilter
/ETSI.CAdES.detached`` and CAdES signed attributes (content-type, message-digest,
signing-certificate-v2; no signingTime, as EN 319 142-1 §6.3 forbids it: the time is
the dictionary's ``/M``, set from the injected clock). The levels:

``B-B``   the signature alone.
``B-T``   + a signature-time-stamp unsigned attribute from the TSA (EN 319 142-1 §6.3,
          requirement for B-T: "signature-time-stamp or document time-stamp").
``B-LT``  + a DSS dictionary (§5.4.2, ISO 32000-2 §12.8.4.3) with the certificates of
          the signer's and the TSA's chains and an OCSP response (or CRL) for each,
          written by pyHanko after the signature, from data gathered in-process
          (:mod:`govtrust.signing._ltv`); pyHanko validates both chains against the
          trust roots at the signing time first, with fetching disabled.
``B-LTA`` + a document timestamp (``/SubFilter /ETSI.RFC3161``, §5.4.3) over the whole
          file, DSS included.

The signing steps are pyHanko's public "interrupted signing" API (init session,
pre-sign validation, size estimate, to-be-signed document, digest, then
``PdfTBSDocument.resume_signing`` with the CMS, post-signature processing), so that the
signing time comes from the caller's clock rather than pyHanko's ``datetime.now()``,
and so that the CMS is govtrust's own encoding (:mod:`govtrust.signing._cms_out`: the
attributes pyHanko's signer would write, without the asn1crypto object building that
took about 78% of a B-B signature's CPU). pyHanko still sizes the ``/Contents``
placeholder with a dry run of its own signer (same attributes, the longest signature
the key can make, its cached "dummy" time-stamp token, plus 50%), and refuses a CMS
that would not fit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    PdfSigningSession,
    PdfTBSDocument,
    PreSignValidationStatus,
    SigDSSPlacementPreference,
    TimestampDSSContentSettings,
)
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext

from govtrust.crypto._pyhanko import PyHankoSigner, to_asn1
from govtrust.errors import SigningFailed
from govtrust.signing import _loop
from govtrust.signing._cms_out import cms_signer
from govtrust.signing._ltv import (
    ValidationData,
    build_chain,
    collect,
    embedded_certificates,
    signer_certificate,
)
from govtrust.signing._tsp import TransportTimeStamper
from govtrust.signing.api import SignedDocument, SigningIdentity, SigningServices
from govtrust.signing.levels import Level, SignatureFormat
from govtrust.signing.pades._pdf import guarded, open_pdf

__all__ = [
    "MEDIA_TYPE",
    "PadesSigner",
    "VisibleStamp",
    "sign_pdf",
    "tsa_chain",
    "validation_context",
]

MEDIA_TYPE = "application/pdf"


class _KnownDataOnly(logging.Filter):
    """pyHanko warns when it embeds validation data with fetching disabled; here that
    is the design (the data is gathered in-process beforehand), so the warning is
    dropped rather than repeated for every signature."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_KnownDataOnly())

_STAMP_BOX = (36, 36, 316, 100)
"""Where a visible stamp goes on the first page (PDF user space units, lower left)."""


@dataclass(frozen=True)
class VisibleStamp:
    """A visible signature appearance on the first page: ``name`` and the signing time
    (from the signing clock) are written in it."""

    name: str
    box: tuple[int, int, int, int] = _STAMP_BOX


_DSS_SETTINGS = DSSContentSettings(
    include_vri=False,
    placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
    next_ts_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True),
)
"""B-LT data goes into the signature's own revision (the signature covers its DSS, and
the document has one revision less); B-LTA's document timestamp is then the last
revision and covers the whole file. VRI dictionaries are left out: EN 319 142-1 §5.4.2
makes them optional and validators look the data up by certificate."""


def _field_name(writer: IncrementalPdfFileWriter) -> str:
    """A signature field name not yet used in the document."""
    taken = {name for name, _, _ in fields.enumerate_sig_fields(writer)}
    n = 1
    while f"Signature{n}" in taken:
        n += 1
    return f"Signature{n}"


def validation_context(
    data: ValidationData, roots: Sequence[x509.Certificate], at: dt.datetime
) -> ValidationContext:
    """A pyHanko validation context that knows only ``data`` (no fetching, hard-fail
    revocation checking) at ``at``: pyHanko validates the chains with it and embeds
    what it holds."""
    return ValidationContext(
        trust_roots=[to_asn1(c) for c in roots],
        other_certs=[to_asn1(c) for c in data.certificates],
        ocsps=list(data.ocsps),
        crls=list(data.crls),
        allow_fetching=False,
        moment=at,
        revocation_mode="hard-fail",
    )


async def tsa_chain(
    timestamper: TransportTimeStamper, md_algorithm: str, pool: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """The TSA's certificate chain, read from a token (pyHanko's cached "dummy" token,
    which it also uses to size the signature): the chain the verifier needs for the
    signature timestamp."""
    token: Any = await timestamper.async_dummy_response(md_algorithm)
    signed_data = token["content"]
    leaf = signer_certificate(signed_data, signed_data["signer_infos"][0])
    if leaf is None:
        raise SigningFailed("timestamp", "the TSA's token does not carry its certificate")
    return build_chain(leaf, [*embedded_certificates(signed_data), *pool])


def _stamp(
    stamp: VisibleStamp | None, name: str
) -> tuple[TextStampStyle | None, fields.SigFieldSpec | None]:
    if stamp is None:
        return None, None
    style = TextStampStyle(
        stamp_text="Digitally signed by %(signer)s\nTime: %(ts)s",
        timestamp_format="%Y-%m-%d %H:%M:%S UTC",
        border_width=1,
    )
    spec = fields.SigFieldSpec(sig_field_name=name, on_page=0, box=stamp.box)
    return style, spec


_SESSION_MAX_AGE = dt.timedelta(minutes=5)
"""How long a :class:`PadesSigner` reuses its validation data and size estimate before
gathering them again (OCSP responses are valid for hours; this keeps batches fast while
never embedding data older than a few minutes than the signature)."""


@dataclass
class _Prepared:
    """What a signer reuses between documents: the validation context and pyHanko's
    pre-signing validation result (B-LT+), the reserved signature size."""

    at: dt.datetime
    context: ValidationContext | None = None
    info: PreSignValidationStatus | None = None
    reserved: int | None = None


class PadesSigner:
    """Signs PDFs with one identity at one level (a batch reuses one instance).

    The TSA's dummy token (pyHanko sizes the signature with it), the B-LT validation
    data and the size estimate are gathered for the first document and reused for the
    next ones during :data:`_SESSION_MAX_AGE`.
    """

    def __init__(self, identity: SigningIdentity, level: Level, services: SigningServices) -> None:
        self.identity = identity
        self.level = level
        self.services = services
        self._signer = PyHankoSigner(identity.signer, identity.certificate, identity.chain)
        self._cms = cms_signer(identity.signer, identity.certificate, identity.chain)
        self._md = self._signer.digest_algorithm
        self._timestamper = (
            TransportTimeStamper(services.transport()) if level.at_least(Level.B_T) else None
        )
        if level.at_least(Level.B_LT):
            services.source()  # fail now, not after the first PDF is parsed
        self._prepared: _Prepared | None = None

    def sign(self, pdf: bytes, *, stamp: VisibleStamp | None = None) -> SignedDocument:
        """Sign ``pdf`` (the bytes of a PDF file); returns the signed file and, as
        ``produced``, the CMS written into the signature's ``/Contents``."""
        signed, contents = guarded(lambda: _loop.run(self._sign(pdf, stamp)))
        return SignedDocument(
            data=signed,
            produced=contents,
            format=SignatureFormat.PADES,
            level=self.level,
            media_type=MEDIA_TYPE,
            suffix=".pdf",
        )

    async def _context(self, now: dt.datetime) -> ValidationContext | None:
        if not self.level.at_least(Level.B_LT):
            return None
        assert self._timestamper is not None
        pool = [*self.identity.chain, *self.services.pool]
        chains = [
            build_chain(self.identity.certificate, pool),
            await tsa_chain(self._timestamper, self._md, pool),
        ]
        data = collect(chains, self.services.source())
        return validation_context(data, self.services.trust_roots, now)

    async def _prepare(self, now: dt.datetime) -> _Prepared:
        prepared = self._prepared
        if prepared is None or now - prepared.at > _SESSION_MAX_AGE or now < prepared.at:
            prepared = _Prepared(now, await self._context(now))
            self._prepared = prepared
        return prepared

    def _metadata(
        self, name: str, context: ValidationContext | None, stamp: VisibleStamp | None
    ) -> signers.PdfSignatureMetadata:
        return signers.PdfSignatureMetadata(
            field_name=name,
            md_algorithm=self._md,
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=context is not None,
            use_pades_lta=self.level.at_least(Level.B_LTA),
            validation_context=context,
            name=stamp.name if stamp else None,
            dss_settings=_DSS_SETTINGS,
        )

    async def _sign(self, pdf: bytes, stamp: VisibleStamp | None) -> tuple[bytes, bytes]:
        now = self.services.clock.now()
        writer = open_pdf(pdf)  # a PDF that cannot be signed costs no TSA token
        prepared = await self._prepare(now)
        name = _field_name(writer)
        style, field_spec = _stamp(stamp, name)
        pdf_signer = signers.PdfSigner(
            self._metadata(name, prepared.context, stamp),
            self._signer,
            timestamper=self._timestamper,
            stamp_style=style,
            new_field_spec=field_spec,
        )
        session: PdfSigningSession = pdf_signer.init_signing_session(writer)
        session.system_time = now  # /M and the stamp's time: the injected clock
        if prepared.context is not None and prepared.info is None:
            prepared.info = await session.perform_presign_validation(writer)
        if prepared.reserved is None:
            prepared.reserved = await session.estimate_signature_container_size(
                prepared.info, tight=False
            )
        tbs = session.prepare_tbs_document(
            validation_info=prepared.info, bytes_reserved=prepared.reserved
        )
        digest, output = tbs.digest_tbs_document(output=BytesIO())
        assert isinstance(output, BytesIO)  # the stream given is the one written
        # EN 319 142-1 §6.3: no signing-time attribute (the time is /M, set above).
        signature = await self._cms.sign(
            digest.document_digest, self._md, timestamper=self._timestamper
        )
        post = PdfTBSDocument.resume_signing(
            output,
            digest,
            signature,
            post_sign_instr=tbs.post_sign_instructions,
            validation_context=tbs.validation_context,
        )
        await post.post_signature_processing(output)
        return output.getvalue(), signature


def sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    level: Level,
    services: SigningServices,
    *,
    stamp: VisibleStamp | None = None,
) -> SignedDocument:
    """Sign one PDF at ``level`` (see :class:`PadesSigner` for many)."""
    return PadesSigner(identity, level, services).sign(pdf, stamp=stamp)
