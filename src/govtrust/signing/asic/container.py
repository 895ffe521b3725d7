"""ASiC-E containers (ETSI EN 319 162-1 §4.4): several files under one signature.

A ZIP file whose first entry is ``mimetype``, stored (not compressed) and without extra
field, holding ``application/vnd.etsi.asic-e+zip`` (§4.4.1, A.1); then the data files;
then ``META-INF/`` with one signature, in one of the two forms of §4.4.3:

``xades`` (the default) ``META-INF/signatures001.xml``: an ``asic:XAdESSignatures``
          element holding one XAdES signature with a ``ds:Reference`` to each data file
          by its name in the container (§4.4.3.2). The signature covers each file's
          digest directly, and XML-DSig verifiers (``xmlsec1``) check the files too.
``cades`` ``META-INF/ASiCManifest.xml`` listing each data file with its digest
          (``asic:DataObjectReference``) and the signature file (``asic:SigReference``),
          and ``META-INF/signature001.p7s``: a detached CAdES signature of the manifest
          (§4.4.3.3, A.4).

The XAdES form is the default: one signature over the files themselves, which common
ASiC-E implementations (BDOC/DigiDoc, DSS) produce and which needs no second,
home-made file list. Augmenting a container brings its signature to a higher level
and rewrites the ZIP with every other entry unchanged.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from govtrust.errors import InputError, MalformedDocument
from govtrust.signing.api import SignedDocument, SigningIdentity, SigningServices
from govtrust.signing.cades import CadesSigner, augment_cms, digest_of
from govtrust.signing.levels import Level, SignatureFormat
from govtrust.signing.xades._xml import ASIC, DS, b64, c14n, parse_xml, qname, serialize
from govtrust.signing.xades.augment import ExternalData, augment_signature, find_signature
from govtrust.signing.xades.sign import DetachedFile, sign_detached

__all__ = [
    "MEDIA_TYPE",
    "SIGNATURE_KINDS",
    "Container",
    "augment_asic",
    "read_container",
    "sign_asic",
]

MEDIA_TYPE = "application/vnd.etsi.asic-e+zip"
SIGNATURE_KINDS = ("xades", "cades")
XADES_SIGNATURE = "META-INF/signatures001.xml"
CADES_SIGNATURE = "META-INF/signature001.p7s"
MANIFEST = "META-INF/ASiCManifest.xml"

MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
"""Containers are read in memory: more entries or more uncompressed bytes than this
(a "ZIP bomb") are refused before anything is inflated."""


@dataclass(frozen=True)
class Container:
    """A parsed ASiC-E container: its data files and its META-INF entries, in order."""

    files: tuple[DetachedFile, ...]
    meta: dict[str, bytes]


def _media_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def _check_name(name: str) -> None:
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or any(p in ("", ".", "..") for p in parts)
        or name == "mimetype"
        or name.startswith("META-INF/")
        or any(ord(c) < 0x20 for c in name)
    ):
        raise InputError(f"not a usable file name in an ASiC container: {name!r}")


def _zip(files: Sequence[DetachedFile], meta: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        mimetype = zipfile.ZipInfo("mimetype", date_time=(1980, 1, 1, 0, 0, 0))
        mimetype.compress_type = zipfile.ZIP_STORED
        archive.writestr(mimetype, MEDIA_TYPE.encode("ascii"))  # §A.1: first, stored, no extra
        for file in files:
            info = zipfile.ZipInfo(file.name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.data)
        for name, data in meta.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def _manifest(files: Sequence[DetachedFile]) -> bytes:
    """The ASiCManifest (EN 319 162-1 §A.4) for the CAdES form."""
    root = etree.Element(qname(ASIC, "ASiCManifest"), nsmap={"asic": ASIC, "ds": DS})
    etree.SubElement(
        root,
        qname(ASIC, "SigReference"),
        URI=CADES_SIGNATURE,
        MimeType="application/pkcs7-signature",
    )
    for file in files:
        ref = etree.SubElement(
            root, qname(ASIC, "DataObjectReference"), URI=file.name, MimeType=file.media_type
        )
        etree.SubElement(
            ref, qname(DS, "DigestMethod"), Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"
        )
        etree.SubElement(ref, qname(DS, "DigestValue")).text = b64(
            hashlib.sha256(file.data).digest()
        )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _xades_signatures(signature: Any) -> Any:
    """``asic:XAdESSignatures`` (EN 319 162-1 §A.5) around the signature; exclusive
    c14n keeps the signature's canonical form unchanged by the move."""
    root = etree.Element(qname(ASIC, "XAdESSignatures"), nsmap={"asic": ASIC})
    root.append(signature)
    return root.getroottree()


def sign_asic(
    files: Sequence[tuple[str, bytes]],
    identity: SigningIdentity,
    level: Level,
    services: SigningServices,
    *,
    signature: str = "xades",
) -> SignedDocument:
    """An ASiC-E container of ``files`` (name, bytes) signed at ``level``."""
    if signature not in SIGNATURE_KINDS:
        raise InputError(
            f"the ASiC signature is one of {', '.join(SIGNATURE_KINDS)}, not {signature!r}"
        )
    if not files:
        raise InputError("an ASiC-E container needs at least one file")
    names = [name for name, _ in files]
    if len(set(names)) != len(names):
        raise InputError("two files of the container have the same name")
    detached = []
    for name, data in files:
        _check_name(name)
        detached.append(DetachedFile(name, data, _media_type(name)))
    if signature == "xades":
        sig = sign_detached(detached, identity, services.clock)
        document = _xades_signatures(sig)
        if level.at_least(Level.B_T):
            augment_signature(sig, level, services, _external(detached))
        produced = c14n(sig)
        meta = {XADES_SIGNATURE: serialize(document)}
    else:
        manifest = _manifest(detached)
        cms = CadesSigner(identity, level, services).sign(manifest).data
        produced = cms
        meta = {MANIFEST: manifest, CADES_SIGNATURE: cms}
    return SignedDocument(
        data=_zip(detached, meta),
        produced=produced,
        format=SignatureFormat.ASIC_E,
        level=level,
        media_type=MEDIA_TYPE,
        suffix=".asice",
    )


def _external(files: Sequence[DetachedFile]) -> ExternalData:
    by_name = {f.name: f.data for f in files}

    def read(name: str) -> bytes:
        if name not in by_name:
            raise MalformedDocument(
                "asic-e", f"the signature references {name!r}, not in the container"
            )
        return by_name[name]

    return read


def read_container(data: bytes) -> Container:
    """Parse an ASiC-E container; MalformedDocument if it is not one."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise MalformedDocument("asic-e", "not a ZIP file") from None
    if len(infos) > MAX_ENTRIES or sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
        raise MalformedDocument("asic-e", "the container has too many or too large entries")
    if not infos or infos[0].filename != "mimetype":
        raise MalformedDocument("asic-e", "the first entry of an ASiC container is 'mimetype'")
    files: list[DetachedFile] = []
    meta: dict[str, bytes] = {}
    try:
        if archive.read("mimetype").strip() != MEDIA_TYPE.encode():
            raise MalformedDocument("asic-e", f"the container's mimetype is not {MEDIA_TYPE}")
        for info in infos[1:]:
            if info.is_dir():
                continue
            content = archive.read(info)
            if info.filename.startswith("META-INF/"):
                meta[info.filename] = content
            else:
                _check_name(info.filename)
                files.append(DetachedFile(info.filename, content, _media_type(info.filename)))
    except MalformedDocument:
        raise
    except (zipfile.BadZipFile, InputError, ValueError, OSError, EOFError, RuntimeError):
        raise MalformedDocument("asic-e", "a ZIP entry cannot be read") from None
    return Container(tuple(files), meta)


def augment_asic(data: bytes, level: Level, services: SigningServices) -> SignedDocument:
    """The container with its signature brought up to ``level``."""
    container = read_container(data)
    meta = dict(container.meta)
    if XADES_SIGNATURE in meta:
        document = parse_xml(meta[XADES_SIGNATURE], what="asic-e")
        sig = find_signature(document)
        augment_signature(sig, level, services, _external(container.files))
        meta[XADES_SIGNATURE] = serialize(document)
        produced = c14n(sig)
    elif CADES_SIGNATURE in meta and MANIFEST in meta:
        cms = augment_cms(meta[CADES_SIGNATURE], level, services, digest_of(meta[MANIFEST]))
        meta[CADES_SIGNATURE] = cms
        produced = cms
    else:
        raise MalformedDocument(
            "asic-e", f"no {XADES_SIGNATURE} or {CADES_SIGNATURE} in the container"
        )
    return SignedDocument(
        data=_zip(container.files, meta),
        produced=produced,
        format=SignatureFormat.ASIC_E,
        level=level,
        media_type=MEDIA_TYPE,
        suffix=".asice",
    )
