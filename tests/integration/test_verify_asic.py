"""ASiC container validation (EN 319 162-1) with real parts: ASiC-E containers signed by
govtrust's signing service with XAdES and with CAdES (over an ASiCManifest), ASiC-S
containers built around a CAdES signature and a time-stamp token from the demo TSA,
then changed, extended and broken: a changed file is HASH_FAILURE, a file no signature
covers is named, ZIP bombs and path traversal are FORMAT_FAILURE."""

from __future__ import annotations

import base64
import hashlib
import io
import time
import zipfile
from collections.abc import Callable

import pytest
from cryptography import x509

from govtrust.services import credentials
from govtrust.services.context import Context
from govtrust.services.signing import SigningOptions, sign_document, sign_files
from govtrust.services.tsa import stamp_local
from govtrust.signing.levels import Level, SignatureFormat
from govtrust.validation import Indication, RevocationMode, SubIndication, ValidationPolicy
from govtrust.validation.documents import validate_document
from govtrust.validation.signatures import Environment
from govtrust.validation.signatures.asic import validate_asic
from tests.conftest import SHARED
from tests.integration.test_sign_support import ADMIN
from tests.unit.validation.pki_factory import NOW, make_pki

CREDENTIAL = "ministry-of-finance"
ASIC_E = b"application/vnd.etsi.asic-e+zip"
ASIC_S = b"application/vnd.etsi.asic-s+zip"
FILES = [
    ("decision.pdf", (SHARED / "vectors" / "pdf" / "minimal.pdf").read_bytes()),
    ("annexes/annex.txt", b"Annex 1\n"),
]


def _env(ctx: Context, mode: RevocationMode = RevocationMode.REQUIRE) -> Environment:
    chain = credentials.describe_credential(ctx, CREDENTIAL).chain_der
    policy = (
        ValidationPolicy.builder()
        .trust_anchors([x509.load_der_x509_certificate(chain[-1])])
        .revocation(mode)
        .at(ctx.clock.now())
        .build()
    )
    return Environment(policy=policy, clock=ctx.clock)


def _zip(entries: list[tuple[str, bytes]], mimetype: bytes | None = ASIC_E) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if mimetype is not None:
            archive.writestr(zipfile.ZipInfo("mimetype"), mimetype)
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _entries(container: bytes) -> list[tuple[str, bytes]]:
    archive = zipfile.ZipFile(io.BytesIO(container))
    return [(n, archive.read(n)) for n in archive.namelist() if n != "mimetype"]


def _rezip(container: bytes, **changes: bytes | None) -> bytes:
    """The container with entries replaced (bytes) or removed (None); names given as
    keyword arguments use ``__`` for ``/`` and ``_`` for ``.``."""
    named = {k.replace("__", "/").replace("_", "."): v for k, v in changes.items()}
    out = [(n, named.get(n, d)) for n, d in _entries(container)]
    return _zip([(n, d) for n, d in out if d is not None])


@pytest.mark.parametrize(("kind", "level"), [("xades", Level.B_LTA), ("cades", Level.B_LT)])
def test_asic_e_validates_and_reports_changes(ctx: Context, kind: str, level: Level) -> None:
    signed = sign_files(
        ctx, FILES, "bundle.asice", CREDENTIAL, ADMIN,
        SigningOptions(level=level, asic_signature=kind),
    ).document.data  # fmt: skip
    env = _env(ctx)
    result = validate_asic(signed, env)
    assert result.format == "ASiC-E"
    (sig,) = result.signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.message
    prefix = "XAdES" if kind == "xades" else "CAdES"
    assert sig.format == f"{prefix}-BASELINE-{level.value.removeprefix('B-')}"
    details = result.details
    assert [f["name"] for f in details["files"]] == ["decision.pdf", "annexes/annex.txt"]
    assert all(f["coveredBy"] == [sig.identifier] for f in details["files"])
    assert details["uncoveredFiles"] == []
    (listed,) = details["signatures"]
    assert sorted(listed["covers"]) == ["annexes/annex.txt", "decision.pdf"]

    # One file changed: the signature no longer holds (HASH_FAILURE).
    changed = _rezip(signed, annexes__annex_txt=b"Annex 2\n")
    (bad,) = validate_asic(changed, env).signatures
    assert (bad.indication, bad.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.HASH_FAILURE,
    ), bad.message

    # A file added after signing: the signature still holds, the file is named as
    # covered by no signature.
    extended = _zip([*_entries(signed), ("extra.txt", b"unsigned")])
    result = validate_asic(extended, env)
    assert result.signatures[0].indication is Indication.TOTAL_PASSED
    assert result.details["uncoveredFiles"] == ["extra.txt"]

    # A signed file removed: the signed data is not found.
    (gone,) = validate_asic(_rezip(signed, decision_pdf=None), env).signatures
    assert gone.indication is not Indication.TOTAL_PASSED
    assert gone.sub_indication in (
        SubIndication.SIGNED_DATA_NOT_FOUND,
        SubIndication.HASH_FAILURE,
    )

    # Through the document entry point: detected as a container by its content.
    report = validate_document(extended, env.policy, name="bundle.asice", clock=env.clock)
    doc = report.to_dict()
    assert doc["indication"] == "TOTAL-PASSED", report.message
    assert doc["document"]["format"] == "ASiC-E"
    assert doc["document"]["uncoveredFiles"] == ["extra.txt"]


def test_asic_s_and_time_assertions(ctx: Context) -> None:
    letter = b"Dear citizen,\nyour permit is granted.\n"
    p7s = sign_document(
        ctx, letter, "letter.txt", CREDENTIAL, ADMIN,
        SigningOptions(format=SignatureFormat.CADES, level=Level.B_LT),
    ).document.data  # fmt: skip
    env = _env(ctx)
    cades_s = _zip([("letter.txt", letter), ("META-INF/signature.p7s", p7s)], ASIC_S)
    result = validate_asic(cades_s, env)
    assert result.format == "ASiC-S"
    (sig,) = result.signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.message
    assert result.details["files"][0]["coveredBy"] == [sig.identifier]
    changed = _zip([("letter.txt", letter + b"!"), ("META-INF/signature.p7s", p7s)], ASIC_S)
    (bad,) = validate_asic(changed, env).signatures
    assert bad.sub_indication is SubIndication.HASH_FAILURE

    # ASiC-S with a time-stamp token over the data object (EN 319 162-1 §4.3.3.1).
    token = stamp_local(ctx, letter, ADMIN).token
    tst_s = _zip([("letter.txt", letter), ("META-INF/timestamp.tst", token)], ASIC_S)
    off = _env(ctx, RevocationMode.OFF)
    (stamp,) = validate_asic(tst_s, off).signatures
    assert stamp.indication is Indication.TOTAL_PASSED, stamp.message
    (wrong,) = validate_asic(
        _zip([("letter.txt", b"other"), ("META-INF/timestamp.tst", token)], ASIC_S), off
    ).signatures
    assert wrong.indication is not Indication.TOTAL_PASSED

    # ASiC-E with a time assertion over an ASiCManifest (EN 319 162-1 §4.4.3.3, A.4).
    digest = base64.b64encode(hashlib.sha256(letter).digest()).decode()
    manifest = (
        '<asic:ASiCManifest xmlns:asic="http://uri.etsi.org/02918/v1.2.1#"'
        ' xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        '<asic:SigReference URI="META-INF/timestamp.tst"'
        ' MimeType="application/vnd.etsi.timestamp-token"/>'
        '<asic:DataObjectReference URI="letter.txt">'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        f"<ds:DigestValue>{digest}</ds:DigestValue></asic:DataObjectReference>"
        "</asic:ASiCManifest>"
    ).encode()
    manifest_token = stamp_local(ctx, manifest, ADMIN).token
    entries = [
        ("letter.txt", letter),
        ("other.txt", b"not in the manifest"),
        ("META-INF/ASiCManifest.xml", manifest),
        ("META-INF/timestamp.tst", manifest_token),
    ]
    result = validate_asic(_zip(entries), off)
    (stamp,) = result.signatures
    assert stamp.indication is Indication.TOTAL_PASSED, stamp.message
    assert result.details["uncoveredFiles"] == ["other.txt"]
    entries[0] = ("letter.txt", b"changed")
    (bad,) = validate_asic(_zip(entries), off).signatures
    assert bad.sub_indication is SubIndication.HASH_FAILURE


def _offline() -> Environment:
    policy = ValidationPolicy.builder().trust_anchors([make_pki().root.cert]).at(NOW).build()
    from govtrust.clock import FixedClock

    return Environment(policy=policy, clock=FixedClock(NOW))


def _bomb() -> bytes:
    return _zip([("zeros.bin", bytes(20 * 1024 * 1024))])


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "zip-bomb": (_bomb, "ZIP bomb"),
    "traversal": (lambda: _zip([("../../etc/cron.d/evil", b"x")]), "unsafe entry name"),
    "absolute": (lambda: _zip([("/abs.txt", b"x")]), "unsafe entry name"),
    "bad-mimetype": (
        lambda: _zip([("a.txt", b"x")], mimetype=b"application/x-evil"),
        "not an ASiC type",
    ),
    "truncated": (lambda: b"PK\x03\x04" + bytes(100), "not a readable ZIP"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_containers_are_format_failures(case: str) -> None:
    make, message = HOSTILE[case]
    container = make()
    start = time.monotonic()
    result = validate_asic(container, _offline())
    assert time.monotonic() - start < 1.0
    (entry,) = result.signatures
    assert (entry.indication, entry.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
    )
    assert message in entry.message
    report = validate_document(container, _offline().policy, clock=_offline().clock)
    assert report.sub_indication is SubIndication.FORMAT_FAILURE


def test_malformed_signature_files_are_reported() -> None:
    env = _offline()
    result = validate_asic(
        _zip(
            [
                ("a.txt", b"x"),
                ("b.txt", b"y"),
                ("META-INF/signatures001.xml", b"<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>"),
                ("META-INF/ASiCManifest.xml", b"<notamanifest/>"),
                ("META-INF/signature001.p7s", b"\x30\x03\x02\x01\x01"),
            ]
        ),
        env,
    )
    assert [s.sub_indication for s in result.signatures] == [SubIndication.FORMAT_FAILURE] * 3
    assert result.details["uncoveredFiles"] == ["a.txt", "b.txt"]
    empty = validate_asic(_zip([("a.txt", b"x")]), env)
    assert empty.signatures == () and empty.details["uncoveredFiles"] == ["a.txt"]
