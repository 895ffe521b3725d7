"""XML signature validation (EN 319 102-1 over XAdES, EN 319 132-1, and plain XML-DSig)
with real parts: XAdES made by govtrust's signing service at every baseline level and
validated against the demo PKI served over HTTP (its OCSP responder and CRLs, reached
through :class:`ToLiveServer`, never the network); signatures made by ``xmlsec1``; and
the hostile XML of ``../shared/vectors/bad-xml``, refused before any entity is expanded
or any URL fetched."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from govtrust.ca.crl import RevocationReason
from govtrust.clock import FixedClock
from govtrust.services import credentials, revocation
from govtrust.services.context import Context
from govtrust.services.signing import SigningOptions, sign_document
from govtrust.signing.levels import Level
from govtrust.validation import (
    HttpxFetcherBackend,
    Indication,
    RevocationMode,
    RevocationStatus,
    SubIndication,
    ValidationPolicy,
)
from govtrust.validation.documents import validate_document
from govtrust.validation.report import ValidationProcess
from govtrust.validation.signatures import Environment
from govtrust.validation.signatures.xades import validate_xml
from tests.integration.test_sign_support import ADMIN, run_tool
from tests.integration.test_validation_demo import ToLiveServer
from tests.unit.validation.pki_factory import NOW, make_pki

BAD_XML = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "bad-xml"
CREDENTIAL = "civil-registry-agency"
NS = {
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xades": "http://uri.etsi.org/01903/v1.3.2#",
}
XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<permit xmlns="urn:example:permits" number="2026-0042">'
    b"<holder>Example Company Ltd</holder><valid-until>2027-12-31</valid-until></permit>\n"
)


def _roots(ctx: Context) -> list[x509.Certificate]:
    chain = credentials.describe_credential(ctx, CREDENTIAL).chain_der
    return [x509.load_der_x509_certificate(chain[-1])]


def _env(
    ctx: Context,
    at: dt.datetime,
    fetchers: HttpxFetcherBackend | None = None,
    mode: RevocationMode = RevocationMode.REQUIRE,
) -> Environment:
    policy = ValidationPolicy.builder().trust_anchors(_roots(ctx)).revocation(mode).at(at).build()
    return Environment(policy=policy, clock=FixedClock(at), fetchers=fetchers)


@dataclass
class Live:
    """The demo instance on a frozen clock, served over HTTP."""

    ctx: Context
    clock: FixedClock
    transport: ToLiveServer
    fetchers: HttpxFetcherBackend

    def sign(self, level: Level, data: bytes = XML) -> bytes:
        result = sign_document(
            self.ctx, data, "permit.xml", CREDENTIAL, ADMIN, SigningOptions(level=level)
        )
        return result.document.data

    def env(self, *, online: bool = True) -> Environment:
        return _env(self.ctx, self.clock.now(), self.fetchers if online else None)


@pytest.fixture
def live(live_server) -> Iterator[Live]:  # type: ignore[no-untyped-def]
    ctx = live_server.ctx
    # From here on the instance (and its HTTP server) runs on a frozen clock an hour
    # ahead, so that revocations come strictly after signatures.
    clock = FixedClock(ctx.clock.now() + dt.timedelta(hours=1))
    ctx.clock = clock
    transport = ToLiveServer(live_server.url)
    yield Live(ctx, clock, transport, HttpxFetcherBackend(transport=transport))


# ---- govtrust's XAdES at every level -------------------------------------------------


PROCESS = {
    Level.B_B: ValidationProcess.BASIC,
    Level.B_T: ValidationProcess.LTVM,
    Level.B_LT: ValidationProcess.LTVM,
    Level.B_LTA: ValidationProcess.LTA,
}


def test_each_level_validates_total_passed(live: Live) -> None:
    signed = {level: live.sign(level) for level in Level}
    signing_time = live.clock.now()
    live.clock.advance(dt.timedelta(minutes=1))
    for level, data in signed.items():
        (sig,) = validate_xml(data, live.env()).signatures
        assert sig.indication is Indication.TOTAL_PASSED, (level, sig.message)
        assert sig.format == f"XAdES-BASELINE-{level.value.removeprefix('B-')}"
        assert sig.process is PROCESS[level]
        assert sig.signing_time == signing_time
        assert sig.certificate is not None
        assert [c.role for c in sig.certificate.chain] == [
            "end-entity",
            "intermediate",
            "trust-anchor",
        ]
        stamps = [t for t in sig.timestamps if t.passed]
        assert len(stamps) == {"B-B": 0, "B-T": 1, "B-LT": 1, "B-LTA": 2}[level.value]
        if level is Level.B_B:
            assert sig.best_signature_time == live.clock.now()
        else:  # the signature time-stamp proves the signature existed when signed
            assert sig.best_signature_time == signing_time
            assert any(p.time == signing_time for p in sig.poes)
    # The HTTP fetches went to the demo's URLs, served by the live server.
    assert live.transport.requests

    # LT data is embedded: offline, B-LT and B-LTA still pass; B-B cannot know the
    # signer's status (EN 319 102-1 Table 7: TRY_LATER).
    for level in (Level.B_LT, Level.B_LTA):
        (sig,) = validate_xml(signed[level], live.env(online=False)).signatures
        assert sig.indication is Indication.TOTAL_PASSED, sig.message
        assert sig.certificate is not None
        assert {d.source for d in sig.certificate.chain[0].revocation_data} == {"embedded"}
    (offline,) = validate_xml(signed[Level.B_B], live.env(online=False)).signatures
    assert offline.sub_indication is SubIndication.TRY_LATER

    # Through the document entry point: detected as XML, one report.
    report = validate_document(
        signed[Level.B_LTA],
        live.env().policy,
        name="permit-signed.xml",
        fetchers=live.fetchers,
        clock=live.clock,
    )
    doc = report.to_dict()
    assert doc["indication"] == "TOTAL-PASSED" and doc["document"]["format"] == "XML"
    assert doc["signatures"][0]["validationProcess"].endswith(":LTA")
    assert [t["indication"] for t in doc["signatures"][0]["timestamps"]] == ["TOTAL-PASSED"] * 2


def test_revocation_after_signing(live: Live) -> None:
    signed = {level: live.sign(level) for level in Level}
    live.clock.advance(dt.timedelta(minutes=10))
    serial = credentials.describe_credential(live.ctx, CREDENTIAL).serial
    revocation.revoke(live.ctx, serial, RevocationReason.key_compromise, ADMIN)
    live.clock.advance(dt.timedelta(minutes=5))

    # B-B: nothing proves the signature existed before the revocation.
    (basic,) = validate_xml(signed[Level.B_B], live.env()).signatures
    assert basic.indication is Indication.INDETERMINATE, basic.message
    assert basic.sub_indication is SubIndication.REVOKED_NO_POE

    # B-T and above: the signature time-stamp is a POE before the revocation
    # (EN 319 102-1 §5.6.2.4), so the signature still passes, the revocation reported.
    for level in (Level.B_T, Level.B_LT, Level.B_LTA):
        (sig,) = validate_xml(signed[level], live.env()).signatures
        assert sig.indication is Indication.TOTAL_PASSED, (level, sig.message)
        assert sig.certificate is not None
        assert sig.certificate.current_time_sub_indication is SubIndication.REVOKED_NO_POE
        assert sig.certificate.chain[0].revocation is RevocationStatus.REVOKED


# ---- tampering -----------------------------------------------------------------------


def _reserialize(data: bytes, change: object) -> bytes:
    root = etree.fromstring(data)
    change(root)  # type: ignore[operator]
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _flip_base64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_tampering_is_detected(ctx: Context) -> None:
    signed = sign_document(
        ctx, XML, "permit.xml", CREDENTIAL, ADMIN, SigningOptions(level=Level.B_LT)
    ).document.data
    env = _env(ctx, ctx.clock.now())
    (good,) = validate_xml(signed, env).signatures
    assert good.indication is Indication.TOTAL_PASSED, good.message

    # One byte of the signed content: the enveloped reference's digest fails.
    changed = signed.replace(b"Example Company", b"Exbmple Company")
    assert (
        len(changed) == len(signed)
        and sum(a != b for a, b in zip(changed, signed, strict=True)) == 1
    )
    (sig,) = validate_xml(changed, env).signatures
    assert (sig.indication, sig.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.HASH_FAILURE,
    )

    # The signature value: SIG_CRYPTO_FAILURE.
    def bad_value(root: etree._Element) -> None:
        node = root.find(".//ds:SignatureValue", NS)
        node.text = _flip_base64(node.text)

    (sig,) = validate_xml(_reserialize(signed, bad_value), env).signatures
    assert sig.sub_indication is SubIndication.SIG_CRYPTO_FAILURE, sig.message

    # SigningCertificateV2 naming another certificate: no signing certificate.
    def other_cert(root: etree._Element) -> None:
        node = root.find(".//xades:SigningCertificateV2/xades:Cert//ds:DigestValue", NS)
        node.text = _flip_base64(node.text)

    (sig,) = validate_xml(_reserialize(signed, other_cert), env).signatures
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.NO_SIGNING_CERTIFICATE_FOUND

    # A time-stamp token over another signature proves nothing about this one: the
    # LT signature keeps its validity from the embedded data at the validation time,
    # with the token reported as failed and not used.
    other = sign_document(
        ctx, XML, "permit.xml", CREDENTIAL, ADMIN, SigningOptions(level=Level.B_T)
    ).document.data
    stamp = ".//xades:SignatureTimeStamp/xades:EncapsulatedTimeStamp"
    foreign = etree.fromstring(other).findtext(stamp, namespaces=NS)

    def swapped_token(root: etree._Element) -> None:
        root.find(stamp, NS).text = foreign

    (sig,) = validate_xml(_reserialize(signed, swapped_token), env).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.message
    assert not sig.timestamps[0].passed
    assert sig.details["timestampsNotUsed"] == [sig.timestamps[0].identifier]
    assert sig.best_signature_time == env.validation_time

    # Unsigned properties anyone could have damaged: a token that is not base64 is a
    # failed time-stamp, an undecodable certificate value is left out.
    def garbage(root: etree._Element) -> None:
        root.find(stamp, NS).text = "not base64!"
        root.find(".//xades:EncapsulatedX509Certificate", NS).text = "AAAA"

    (sig,) = validate_xml(_reserialize(signed, garbage), env).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.message
    assert sig.timestamps[0].sub_indication is SubIndication.FORMAT_FAILURE

    # Signature wrapping: a second element with the SignedProperties' Id.
    def wrapped(root: etree._Element) -> None:
        props = root.find(".//xades:SignedProperties", NS)
        decoy = etree.SubElement(root, "decoy", Id=props.get("Id"))
        decoy.text = "x"

    (sig,) = validate_xml(_reserialize(signed, wrapped), env).signatures
    assert sig.sub_indication is SubIndication.FORMAT_FAILURE
    assert "ambiguous" in sig.message


# ---- xmlsec1 -------------------------------------------------------------------------

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<doc xmlns="urn:example"><data>hello</data>
<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>
<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>
<Reference URI=""><Transforms>
<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></Transforms>
<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference>
{extra}</SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature></doc>
"""
ENVELOPING = """<?xml version="1.0" encoding="UTF-8"?>
<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>
<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>
<Reference URI="#payload"><Transforms>
<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms>
<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference>
{extra}</SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo>
<Object Id="payload"><data xmlns="urn:example">hello</data></Object></Signature>
"""
DETACHED_REFERENCE = (
    '<Reference URI="annex.txt"><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
    "<DigestValue/></Reference>"
)


def _xmlsec1_sign(
    directory: Path, extra: str = "", template: str = TEMPLATE
) -> tuple[bytes, x509.Certificate]:
    """An XML-DSig signature by xmlsec1 with a test-made key, certificate and CA."""
    pki = make_pki(crl_urls=(), intermediate=True)
    pem = serialization.Encoding.PEM
    (directory / "key.pem").write_bytes(
        pki.leaf.key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (directory / "cert.pem").write_bytes(pki.leaf.cert.public_bytes(pem))
    (directory / "ca.pem").write_bytes(pki.intermediates[0].cert.public_bytes(pem))
    (directory / "template.xml").write_text(template.format(extra=extra))
    result = run_tool(
        "xmlsec1", "--sign", "--privkey-pem", "key.pem,cert.pem,ca.pem",
        "--output", "signed.xml", "template.xml", cwd=directory,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return (directory / "signed.xml").read_bytes(), pki.root.cert


def _offline(anchor: x509.Certificate) -> Environment:
    policy = (
        ValidationPolicy.builder()
        .trust_anchors([anchor])
        .revocation(RevocationMode.OFF)
        .at(NOW)
        .build()
    )
    return Environment(policy=policy, clock=FixedClock(NOW))


@pytest.mark.parametrize("template", [TEMPLATE, ENVELOPING], ids=["enveloped", "enveloping"])
def test_xmlsec1_signature_validates(tmp_path: Path, template: str) -> None:
    signed, root = _xmlsec1_sign(tmp_path, template=template)
    (sig,) = validate_xml(signed, _offline(root)).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.message
    assert sig.format == "XMLDSig" and sig.process is ValidationProcess.BASIC
    assert sig.details["wholeDocument"] is (template is TEMPLATE)
    assert sig.certificate is not None and sig.signer == "CN=Test Signer"
    assert [c.role for c in sig.certificate.chain] == ["end-entity", "intermediate", "trust-anchor"]

    # Without the test CA as a trust anchor: no chain (EN 319 102-1 Table 6).
    other = make_pki(crl_urls=()).root.cert
    (untrusted,) = validate_xml(signed, _offline(other)).signatures
    assert untrusted.indication is Indication.INDETERMINATE
    assert untrusted.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND

    (tampered,) = validate_xml(signed.replace(b"hello", b"hellO"), _offline(root)).signatures
    assert tampered.sub_indication is SubIndication.HASH_FAILURE


def test_detached_reference_is_read_only_from_what_is_given(tmp_path: Path) -> None:
    (tmp_path / "annex.txt").write_bytes(b"Annex 1\n")  # xmlsec1 reads it to sign
    signed, root = _xmlsec1_sign(tmp_path, DETACHED_REFERENCE)
    env = _offline(root)
    (sig,) = validate_xml(signed, env, detached={"annex.txt": b"Annex 1\n"}).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.message
    assert [r["uri"] for r in sig.details["references"]] == ["", "annex.txt"]

    # The file sits beside the signature, but validation never reads it by itself.
    (missing,) = validate_xml(signed, env).signatures
    assert missing.sub_indication is SubIndication.SIGNED_DATA_NOT_FOUND
    (changed,) = validate_xml(signed, env, detached={"annex.txt": b"Annex 2\n"}).signatures
    assert changed.sub_indication is SubIndication.HASH_FAILURE

    # govtrust verify FILE --detached SIG: the file named by the reference.
    report = validate_document(
        b"Annex 1\n", env.policy, detached=signed, name="annex.txt", clock=env.clock
    )
    assert report.indication is Indication.TOTAL_PASSED, report.message


# ---- hostile XML ---------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<x>fetched</x>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    """A loopback HTTP server that records every request made to it."""
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("name", sorted(p.name for p in BAD_XML.glob("*.xml")))
def test_bad_xml_vectors_are_refused_without_expansion(name: str, recorder: str) -> None:
    data = (BAD_XML / name).read_bytes()
    # Every URL in the vector points at the recording server instead.
    for url in (b"http://www.w3schools.com", b"http://www.w3.org"):
        data = data.replace(url, recorder.encode())
    transport = ToLiveServer(recorder)
    env = Environment(
        policy=ValidationPolicy.builder().trust_anchors([make_pki().root.cert]).build(),
        clock=FixedClock(NOW),
        fetchers=HttpxFetcherBackend(transport=transport),
    )
    start = time.monotonic()
    result = validate_xml(data, env)
    assert time.monotonic() - start < 1.0
    if name.startswith("simple"):  # well-formed, no DTD, no signature
        assert result.signatures == ()
    else:
        (entry,) = result.signatures
        assert entry.sub_indication is SubIndication.FORMAT_FAILURE
        assert "document type declaration" in entry.message
    text = json.dumps([s.to_dict() for s in result.signatures])
    assert "fetched" not in text and "1234567890" not in text and "BBBB" not in text
    assert _Recorder.hits == [] and transport.requests == []


def test_external_entities_and_references_never_reach_out(tmp_path: Path, recorder: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    env = _offline(make_pki().root.cert)
    hostile = [
        f'<!DOCTYPE r [<!ENTITY e SYSTEM "file://{secret}">]><r>&e;</r>'.encode(),
        f'<!DOCTYPE r SYSTEM "{recorder}/x.dtd"><r/>'.encode(),
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{recorder}/p.dtd"> %p;]><r/>'.encode(),
        f'<?xml version="1.0"?><r xmlns:xi="http://www.w3.org/2001/XInclude">'
        f'<xi:include href="{recorder}/xi.xml"/><xi:include href="file://{secret}"'
        f' parse="text"/></r>'.encode(),
    ]
    for data in hostile:
        text = validate_document(data, env.policy, clock=env.clock).to_json()
        assert "TOP-SECRET-MARKER" not in text
    # A signature whose reference names a URL: never fetched, reported not found.
    (tmp_path / "annex.txt").write_bytes(b"Annex 1\n")
    signed, root = _xmlsec1_sign(tmp_path, DETACHED_REFERENCE)
    remote = signed.replace(b'URI="annex.txt"', f'URI="{recorder}/annex.txt"'.encode())
    (sig,) = validate_xml(remote, _offline(root), detached={"other.txt": b"x"}).signatures
    assert sig.sub_indication is SubIndication.SIGNED_DATA_NOT_FOUND
    assert _Recorder.hits == []
