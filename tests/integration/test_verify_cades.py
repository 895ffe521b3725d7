"""CAdES validation (EN 319 102-1 processes over EN 319 122-1 signatures) against a
real govtrust instance: the demo PKI signs through ``govtrust.services.signing`` at
every level, the instance serves its CRLs and OCSP over HTTP (``live_server``), and
the validator fetches them through an httpx transport routed to the loopback server.

Independent parts: a CMS made by ``openssl cms -sign`` with a CA this test makes
(anyone's signature, not ours), and pyHanko's own validator, which must agree with our
indication on our CAdES, intact and tampered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_cert_from_pemder
from pyhanko.sign.validation import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from govtrust.ca.crl import RevocationReason
from govtrust.clock import FixedClock
from govtrust.services import credentials, revocation
from govtrust.services.context import Context
from govtrust.services.credentials import trusted_roots
from govtrust.services.signing import SigningOptions, sign_document
from govtrust.signing.levels import Level
from govtrust.validation import (
    HttpxFetcherBackend,
    Indication,
    Purpose,
    RevocationMode,
    SubIndication,
    ValidationPolicy,
)
from govtrust.validation.documents import validate_document
from govtrust.validation.report import Report, SignatureKind, ValidationProcess
from tests.integration.test_sign_support import ADMIN, pki_files, run_tool
from tests.integration.test_validation_demo import ToLiveServer

DATA = bytes(range(256)) * 1024  # 256 KiB of binary data
SIGNER = "ministry-of-finance"
FORMATS = {
    Level.B_B: "CAdES-BASELINE-B",
    Level.B_T: "CAdES-BASELINE-T",
    Level.B_LT: "CAdES-BASELINE-LT",
    Level.B_LTA: "CAdES-BASELINE-LTA",
}
PROCESSES = {
    Level.B_B: ValidationProcess.BASIC,
    Level.B_T: ValidationProcess.LTVM,
    Level.B_LT: ValidationProcess.LTVM,
    Level.B_LTA: ValidationProcess.LTA,
}


@dataclass
class Instance:
    ctx: Context
    roots: list[x509.Certificate]
    fetchers: HttpxFetcherBackend
    clock: FixedClock

    def sign(self, level: Level, data: bytes = DATA) -> bytes:
        return sign_document(
            self.ctx, data, "data.bin", SIGNER, ADMIN, SigningOptions(level=level)
        ).document.data

    def policy(self, **kw: object) -> ValidationPolicy:
        builder = ValidationPolicy.builder().trust_anchors(self.roots)
        for name, value in kw.items():
            builder = getattr(builder, name)(value)
        return builder.build()

    def validate(
        self, sig: bytes, data: bytes = DATA, *, offline: bool = False, **kw: object
    ) -> Report:
        return validate_document(
            data,
            self.policy(**kw),
            detached=sig,
            name="data.bin",
            fetchers=None if offline else self.fetchers,
            clock=self.clock,
        )


@pytest.fixture
def instance(live_server) -> Iterator[Instance]:  # type: ignore[no-untyped-def]
    ctx = live_server.ctx
    # The instance (signing, TSA, OCSP, CRLs) and the validator share one frozen
    # clock, moved by the tests: revocations happen strictly after signatures.
    clock = FixedClock(ctx.clock.now() + dt.timedelta(hours=1))
    ctx.clock = clock
    transport = ToLiveServer(live_server.url)
    yield Instance(ctx, trusted_roots(ctx), HttpxFetcherBackend(transport=transport), clock)


def _only(report: Report):  # type: ignore[no-untyped-def]
    assert len(report.signatures) == 1, report.to_json()
    return report.signatures[0]


@pytest.mark.parametrize("level", list(Level))
def test_our_cades_passes_at_every_level(instance: Instance, level: Level) -> None:
    sig = instance.sign(level)
    instance.clock.advance(dt.timedelta(minutes=1))
    report = instance.validate(sig)
    entry = _only(report)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert entry.format == FORMATS[level]
    assert entry.process is PROCESSES[level]
    assert report.document["format"] == "CMS"
    roles = sorted(t.details["role"] for t in entry.timestamps)
    expected = {
        Level.B_B: [],
        Level.B_T: ["signature-time-stamp"],
        Level.B_LT: ["signature-time-stamp"],
        Level.B_LTA: ["archive-time-stamp", "signature-time-stamp"],
    }[level]
    assert roles == expected
    assert all(t.passed and t.kind is SignatureKind.TIMESTAMP for t in entry.timestamps)
    if level is Level.B_B:
        assert entry.best_signature_time == report.validation_time
    else:
        assert entry.best_signature_time is not None
        assert entry.best_signature_time < report.validation_time
        assert any(p.what == "signature" for p in entry.poes)
    assert entry.signer is not None and "Ministry of Finance" in entry.signer
    # The report is JSON shaped after TS 119 102-2, time-stamps nested in the signature.
    body = json.loads(report.to_json())
    (sig_json,) = body["signatures"]
    assert body["indication"] == "TOTAL-PASSED" and sig_json["format"] == FORMATS[level]
    assert sig_json["validationProcess"] == PROCESSES[level].uri
    assert len(sig_json["timestamps"]) == len(expected)
    assert [c.role for c in entry.certificate.chain][-1] == "trust-anchor"  # type: ignore[union-attr]


@pytest.mark.parametrize("level", [Level.B_LT, Level.B_LTA])
def test_long_term_levels_validate_offline_from_what_they_carry(
    instance: Instance, level: Level
) -> None:
    sig = instance.sign(level)
    instance.clock.advance(dt.timedelta(minutes=1))
    report = instance.validate(sig, offline=True)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    entry = _only(report)
    sources = {d.source for d in entry.certificate.revocation_data}  # type: ignore[union-attr]
    assert sources == {"embedded"}
    # A B-T signature carries no revocation data: offline, revocation is unknown.
    bt = instance.validate(instance.sign(Level.B_T), offline=True)
    assert bt.indication is Indication.INDETERMINATE
    assert bt.sub_indication is SubIndication.TRY_LATER


def _revoke_signer(instance: Instance) -> dt.datetime:
    serial = credentials.describe_credential(instance.ctx, SIGNER).serial
    revocation.revoke(instance.ctx, serial, RevocationReason.key_compromise, ADMIN)
    return instance.clock.now()


@pytest.mark.parametrize("level", list(Level))
def test_revoked_after_signing(instance: Instance, level: Level) -> None:
    sig = instance.sign(level)
    instance.clock.advance(dt.timedelta(minutes=10))
    revoked_at = _revoke_signer(instance)
    instance.clock.advance(dt.timedelta(minutes=10))
    report = instance.validate(sig)
    entry = _only(report)
    ee = entry.certificate.chain[0]  # type: ignore[union-attr]
    assert ee.revocation_time == revoked_at
    if level is Level.B_B:
        # Nothing proves the signature existed before the revocation (EN 319 102-1
        # §5.3.4, Table 6): INDETERMINATE/REVOKED_NO_POE, never a pass.
        assert report.indication is Indication.INDETERMINATE, report.to_json()
        assert report.sub_indication is SubIndication.REVOKED_NO_POE
    else:
        # The signature time-stamp is a POE before the revocation (§5.6.2.4).
        assert report.indication is Indication.TOTAL_PASSED, report.to_json()
        assert entry.certificate.current_time_sub_indication is SubIndication.REVOKED_NO_POE  # type: ignore[union-attr]
        assert entry.best_signature_time is not None and entry.best_signature_time < revoked_at


@pytest.mark.parametrize("level", [Level.B_B, Level.B_LTA])
def test_one_byte_changed_is_hash_failure(instance: Instance, level: Level) -> None:
    sig = instance.sign(level)
    changed = bytearray(DATA)
    changed[len(DATA) // 3] ^= 0x01
    report = instance.validate(sig, bytes(changed))
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.HASH_FAILURE


def test_changed_signature_value_is_sig_crypto_failure(instance: Instance) -> None:
    sig = cms.ContentInfo.load(instance.sign(Level.B_B))
    si = sig["content"]["signer_infos"][0]
    value = bytearray(si["signature"].native)
    value[-1] ^= 0x01
    si["signature"] = bytes(value)
    report = instance.validate(sig.dump(force=True))
    assert report.indication is Indication.TOTAL_FAILED, report.to_json()
    assert report.sub_indication is SubIndication.SIG_CRYPTO_FAILURE


def test_policy_revocation_modes(instance: Instance) -> None:
    sig = instance.sign(Level.B_B)
    off = instance.validate(sig, offline=True, revocation=RevocationMode.OFF)
    assert off.indication is Indication.TOTAL_PASSED, off.to_json()
    assert "revocation" in off.to_dict()["policy"]["disabledChecks"]
    soft = instance.validate(sig, offline=True, revocation=RevocationMode.IF_AVAILABLE)
    assert soft.indication is Indication.TOTAL_PASSED
    require = instance.validate(sig, offline=True)
    assert require.indication is Indication.INDETERMINATE
    assert require.sub_indication is SubIndication.TRY_LATER


def test_unknown_ca_is_no_certificate_chain_found(instance: Instance) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other Root")])
    now = instance.clock.now()
    other = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    report = validate_document(
        DATA,
        ValidationPolicy.builder().trust_anchors([other]).build(),
        detached=instance.sign(Level.B_B),
        fetchers=instance.fetchers,
        clock=instance.clock,
    )
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def _pyhanko_passes(instance: Instance, tmp_path: Path, sig: bytes, data: bytes) -> bool:
    root = load_cert_from_pemder(str(pki_files(instance.ctx, tmp_path).root))
    signed_data = cms.ContentInfo.load(sig)["content"]
    ocsps = [c.chosen["other_rev_info"] for c in signed_data["crls"] or () if c.name == "other"]
    context = ValidationContext(
        trust_roots=[root],
        allow_fetching=False,
        other_certs=[c.chosen for c in signed_data["certificates"]],
        ocsps=ocsps,
        revocation_mode="soft-fail",
        moment=instance.clock.now(),
    )
    status = asyncio.run(
        async_validate_detached_cms(data, signed_data, signer_validation_context=context)
    )
    return bool(status.intact and status.valid and status.trusted)


@pytest.mark.parametrize("level", list(Level))
def test_pyhanko_agrees(instance: Instance, tmp_path: Path, level: Level) -> None:
    sig = instance.sign(level)
    changed = bytearray(DATA)
    changed[7] ^= 0x80
    for data in (DATA, bytes(changed)):
        ours = instance.validate(sig, data, revocation=RevocationMode.IF_AVAILABLE)
        theirs = _pyhanko_passes(instance, tmp_path, sig, data)
        assert (ours.indication is Indication.TOTAL_PASSED) is theirs, ours.to_json()
    assert _pyhanko_passes(instance, tmp_path, sig, DATA)


def _openssl_ca(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CA and a signer key/certificate made with openssl by this test: someone
    else's PKI."""

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, cwd=tmp_path)

    (tmp_path / "ee.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj",
        "/CN=Elsewhere Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ee.key", "-out", "ee.csr", "-subj", "/CN=Someone Else")  # fmt: skip
    run("openssl", "x509", "-req", "-in", "ee.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-set_serial", "2", "-days", "10", "-extfile", "ee.ext", "-out", "ee.pem")  # fmt: skip
    return tmp_path / "ca.pem", tmp_path / "ee.pem", tmp_path / "ee.key"


@pytest.mark.parametrize("attached", [False, True])
def test_openssl_cms_with_someone_elses_ca(
    instance: Instance, tmp_path: Path, attached: bool
) -> None:
    ca, ee, key = _openssl_ca(tmp_path)
    content = tmp_path / "data.bin"
    content.write_bytes(DATA)
    out = tmp_path / "data.p7"
    run_tool(
        "openssl", "cms", "-sign", "-binary", "-outform", "DER", "-in", str(content),
        "-signer", str(ee), "-inkey", str(key), "-out", str(out),
        *(["-nodetach"] if attached else []),
    )  # fmt: skip
    anchor = x509.load_pem_x509_certificate(ca.read_bytes())
    policy = (
        ValidationPolicy.builder()
        .trust_anchors([anchor])
        .revocation(RevocationMode.IF_AVAILABLE)
        .build()
    )
    sig = out.read_bytes()
    if attached:
        report = validate_document(sig, policy, clock=instance.clock)
    else:
        report = validate_document(DATA, policy, detached=sig, clock=instance.clock)
    entry = _only(report)
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert entry.signer == "CN=Someone Else"
    assert report.document["signedContent"] == ("encapsulated" if attached else "detached")
    # Without that CA among the anchors: no chain to trust.
    ours = instance.policy(revocation=RevocationMode.IF_AVAILABLE)
    if attached:
        report = validate_document(sig, ours, clock=instance.clock)
    else:
        report = validate_document(DATA, ours, detached=sig, clock=instance.clock)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"\x30\x82\x01\x00" + b"\x00" * 10, id="truncated-header"),
        pytest.param(b"-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----\n", id="pem-garbage"),
    ],
)
def test_malformed_cms_is_format_failure(instance: Instance, bad: bytes) -> None:
    from govtrust.validation.signatures import Environment
    from govtrust.validation.signatures.cades import validate_cms

    env = Environment(policy=instance.policy(), clock=instance.clock)
    result = validate_cms(bad, env, detached=DATA)
    (entry,) = result.signatures
    assert entry.indication is Indication.TOTAL_FAILED
    assert entry.sub_indication is SubIndication.FORMAT_FAILURE


def test_truncated_signature_is_format_failure(instance: Instance) -> None:
    sig = instance.sign(Level.B_T)
    for cut in (len(sig) // 2, len(sig) - 1, 40):
        report = instance.validate(sig[:cut], offline=True)
        assert report.indication is Indication.TOTAL_FAILED, (cut, report.to_json())
        assert report.sub_indication is SubIndication.FORMAT_FAILURE


def test_signature_purpose_is_enforced_on_the_signer(instance: Instance) -> None:
    """The policy's purpose is replaced by SIGNATURE for the signer (and TIMESTAMPING
    for the TSA), whatever the caller's policy says."""
    sig = instance.sign(Level.B_T)
    report = instance.validate(sig, purpose=Purpose.ANY)
    entry = _only(report)
    assert entry.certificate.policy.purpose is Purpose.SIGNATURE  # type: ignore[union-attr]
    (ts,) = entry.timestamps
    assert ts.certificate.policy.purpose is Purpose.TIMESTAMPING  # type: ignore[union-attr]


def test_later_timestamp_is_a_poe_for_a_revoked_signer(instance: Instance) -> None:
    """A time-stamp over the signature taken outside its CMS (as a PAdES document
    time-stamp is, in a later revision) is passed as ``later_timestamps``: with it a
    B-B signature whose signer is revoked afterwards still passes (EN 319 102-1
    §5.6.3, the POE before the revocation)."""
    from govtrust.services.tsa import stamp_local
    from govtrust.validation.signatures import Environment
    from govtrust.validation.signatures._cms import validate_signer, validate_timestamp_token

    sig = cms.ContentInfo.load(instance.sign(Level.B_B))["content"]
    value = bytes(sig["signer_infos"][0]["signature"].native)
    token = stamp_local(instance.ctx, value, ADMIN).token
    instance.clock.advance(dt.timedelta(minutes=10))
    _revoke_signer(instance)
    instance.clock.advance(dt.timedelta(minutes=10))
    env = Environment(policy=instance.policy(), clock=instance.clock, fetchers=instance.fetchers)
    check = validate_timestamp_token(
        token, imprinted=value, env=env, identifier="doc-ts", role="document-time-stamp"
    )
    assert check.proves is not None, check.report.message
    alone = validate_signer(sig, env=env, identifier="s", format_name="CAdES", content=DATA)
    assert alone.sub_indication is SubIndication.REVOKED_NO_POE
    report = validate_signer(
        sig,
        env=env,
        identifier="s",
        format_name="CAdES",
        content=DATA,
        later_timestamps=[check],
    )
    assert report.indication is Indication.TOTAL_PASSED, report.message
    assert report.process is ValidationProcess.LTA
    assert report.best_signature_time == check.proves
    assert check.report in report.timestamps
    # A token over something else proves nothing about this signature.
    wrong = validate_timestamp_token(
        token, imprinted=value + b"!", env=env, identifier="x", role="document-time-stamp"
    )
    assert wrong.proves is None
    assert wrong.report.sub_indication is SubIndication.HASH_FAILURE


def test_archive_timestamp_catches_removed_validation_data(instance: Instance) -> None:
    """EN 319 122-1 §5.5.2: validation data covered by an archive-time-stamp-v3 may
    not be removed afterwards; the archive time-stamp then fails (HASH_FAILURE) and
    proves nothing, while the signature time-stamp still does."""
    from govtrust.signing.cades.augment import parse_cms

    sig = parse_cms(instance.sign(Level.B_LTA))
    instance.clock.advance(dt.timedelta(minutes=1))
    stripped = sig.rebuild(revocation=sig.revocation()[1:])
    report = instance.validate(stripped.dump())
    entry = _only(report)
    archive = next(t for t in entry.timestamps if t.details["role"] == "archive-time-stamp")
    assert archive.indication is Indication.TOTAL_FAILED, archive.message
    assert archive.sub_indication is SubIndication.HASH_FAILURE
    assert "removed or changed" in archive.message
    signature_ts = next(t for t in entry.timestamps if t.details["role"] == "signature-time-stamp")
    assert signature_ts.passed
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    # Intact, the archive time-stamp passes and covers the validation data.
    intact = _only(instance.validate(sig.dump()))
    assert all(t.passed for t in intact.timestamps)
    assert any("validation data" in p.what for p in intact.poes)
