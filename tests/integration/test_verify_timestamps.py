"""RFC 3161 time-stamp replies validated over the data they stamp (a ``.tsr`` beside
its file), each token validated as a signature of its own (ETSI TS 119 102-2 §4.3):
our TSA's tokens (the demo instance, its OCSP and CRLs served by ``live_server``), and
tokens made by ``openssl ts -reply`` with a TSA this test creates (someone else's).
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography import x509

from govtrust.ca.crl import RevocationReason
from govtrust.clock import FixedClock, SystemClock
from govtrust.services import credentials, revocation
from govtrust.services.context import Context
from govtrust.services.credentials import trusted_roots
from govtrust.services.tsa import stamp_local
from govtrust.validation import (
    HttpxFetcherBackend,
    Indication,
    Purpose,
    RevocationMode,
    SubIndication,
    ValidationPolicy,
)
from govtrust.validation.documents import validate_document
from govtrust.validation.report import SignatureKind
from govtrust.validation.signatures import Environment
from govtrust.validation.signatures.cades import validate_timestamp_reply
from tests.integration.test_sign_support import ADMIN
from tests.integration.test_validation_demo import ToLiveServer

DATA = b"an official record, stamped\n" * 1000


@dataclass
class Instance:
    ctx: Context
    roots: list[x509.Certificate]
    fetchers: HttpxFetcherBackend
    clock: FixedClock

    def policy(self, **kw: object) -> ValidationPolicy:
        builder = ValidationPolicy.builder().trust_anchors(self.roots)
        for name, value in kw.items():
            builder = getattr(builder, name)(value)
        return builder.build()

    def env(self, **kw: object) -> Environment:
        return Environment(policy=self.policy(**kw), clock=self.clock, fetchers=self.fetchers)


@pytest.fixture
def instance(live_server) -> Iterator[Instance]:  # type: ignore[no-untyped-def]
    ctx = live_server.ctx
    clock = FixedClock(ctx.clock.now() + dt.timedelta(hours=1))
    ctx.clock = clock
    transport = ToLiveServer(live_server.url)
    yield Instance(ctx, trusted_roots(ctx), HttpxFetcherBackend(transport=transport), clock)


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_our_tsa_reply_passes_and_a_changed_file_fails(instance: Instance, hash_name: str) -> None:
    reply = stamp_local(instance.ctx, DATA, ADMIN, hash_name=hash_name).response
    instance.clock.advance(dt.timedelta(minutes=1))
    report = validate_document(
        DATA, instance.policy(), detached=reply, fetchers=instance.fetchers, clock=instance.clock
    )
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    assert report.document["format"] == "TIMESTAMP"
    (entry,) = report.signatures
    assert entry.kind is SignatureKind.TIMESTAMP and entry.format == "RFC3161"
    assert entry.details["hashAlgorithm"] == hash_name
    assert entry.details["signingCertificateAttribute"] == "v2"  # RFC 5816
    assert entry.certificate is not None
    assert entry.certificate.policy.purpose is Purpose.TIMESTAMPING
    assert entry.signing_time == instance.clock.now() - dt.timedelta(minutes=1)

    changed = bytearray(DATA)
    changed[100] ^= 0x01
    bad = validate_document(
        bytes(changed), instance.policy(), detached=reply, fetchers=instance.fetchers,
        clock=instance.clock,
    )  # fmt: skip
    assert bad.indication is Indication.TOTAL_FAILED
    assert bad.sub_indication is SubIndication.HASH_FAILURE


def test_token_without_certificate_needs_it_from_the_caller(instance: Instance) -> None:
    stamped = stamp_local(instance.ctx, DATA, ADMIN, cert_req=False)
    token = bytes(tsp.TimeStampResp.load(stamped.response)["time_stamp_token"].dump())
    result = validate_timestamp_reply(token, instance.env(), data=DATA)
    (entry,) = result.signatures
    assert entry.indication is Indication.INDETERMINATE
    assert entry.sub_indication is SubIndication.NO_SIGNING_CERTIFICATE_FOUND
    assert result.details["container"] == "TimeStampToken"
    tsa_cert = x509.load_der_x509_certificate(
        credentials.describe_credential(instance.ctx, _tsa_credential(instance)).certificate_der
    )
    given = validate_timestamp_reply(token, instance.env(intermediates=[tsa_cert]), data=DATA)
    assert given.signatures[0].indication is Indication.TOTAL_PASSED, given.signatures[0].message


def _tsa_credential(instance: Instance) -> str:
    return next(c.name for c in credentials.list_credentials(instance.ctx) if c.profile == "tsa")


def test_tsa_revoked_later_without_poe(instance: Instance) -> None:
    reply = stamp_local(instance.ctx, DATA, ADMIN).response
    instance.clock.advance(dt.timedelta(minutes=5))
    serial = credentials.describe_credential(instance.ctx, _tsa_credential(instance)).serial
    revocation.revoke(instance.ctx, serial, RevocationReason.key_compromise, ADMIN)
    instance.clock.advance(dt.timedelta(minutes=5))
    result = validate_timestamp_reply(reply, instance.env(), data=DATA)
    (entry,) = result.signatures
    # Nothing proves the token existed before its TSA was revoked (EN 319 102-1
    # §5.6.2.4 needs a POE: a later archive time-stamp would be one).
    assert entry.indication is Indication.INDETERMINATE, entry.message
    assert entry.sub_indication is SubIndication.REVOKED_NO_POE


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"\x30\x03\x02\x01", id="truncated"),
        pytest.param(b"\x30\x05\x30\x03\x02\x01\x02", id="rejection-without-token"),
        pytest.param(b"\x04\x03abc", id="not-a-sequence"),
    ],
)
def test_malformed_replies_are_format_failures(instance: Instance, bad: bytes) -> None:
    result = validate_timestamp_reply(bad, instance.env(), data=DATA)
    (entry,) = result.signatures
    assert entry.kind is SignatureKind.TIMESTAMP
    assert entry.indication is Indication.TOTAL_FAILED
    assert entry.sub_indication is SubIndication.FORMAT_FAILURE


def test_truncated_reply_through_validate_document(instance: Instance) -> None:
    reply = stamp_local(instance.ctx, DATA, ADMIN).response
    for cut in (len(reply) // 2, len(reply) - 3, 12):
        report = validate_document(
            DATA, instance.policy(), detached=reply[:cut], clock=instance.clock
        )
        assert report.indication is Indication.TOTAL_FAILED, cut
        assert report.sub_indication is SubIndication.FORMAT_FAILURE, cut


# ---- someone else's TSA: openssl ts -reply --------------------------------------------


_TSA_CONF = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = .
serial = ./tsaserial
crypto_device = builtin
signer_cert = ./tsa.pem
certs = ./ca.pem
signer_key = ./tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = {ess}
"""


def _run(cwd: Path, *args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, cwd=cwd)


@pytest.fixture
def openssl_tsa(tmp_path: Path) -> Path:
    """A CA and a TSA (RFC 3161 §2.3: critical id-kp-timeStamping) made with openssl."""
    (tmp_path / "tsa.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
        "extendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    _run(tmp_path, *f"openssl req -x509 {ec} -keyout ca.key -out ca.pem -days 30".split(),
         "-subj", "/CN=Elsewhere TSA Root", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    _run(tmp_path, *f"openssl req {ec} -keyout tsa.key -out tsa.csr".split(),
         "-subj", "/CN=Elsewhere TSA")  # fmt: skip
    issue = "-req -in tsa.csr -CA ca.pem -CAkey ca.key -set_serial 7 -days 10 -extfile tsa.ext"
    _run(tmp_path, "openssl", "x509", *issue.split(), "-out", "tsa.pem")
    (tmp_path / "tsaserial").write_text("01\n")
    (tmp_path / "data.bin").write_bytes(DATA)
    return tmp_path


def _openssl_reply(directory: Path, ess: str, *, token_only: bool = False) -> bytes:
    (directory / "tsa.cnf").write_text(_TSA_CONF.format(ess=ess))
    _run(directory, "openssl", "ts", "-query", "-data", "data.bin", "-sha256", "-cert",
         "-out", "q.tsq")  # fmt: skip
    _run(directory, "openssl", "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "q.tsq",
         "-out", "r.tsr", *(["-token_out"] if token_only else []))  # fmt: skip
    return (directory / "r.tsr").read_bytes()


@pytest.mark.parametrize("ess", ["sha1", "sha256"])
@pytest.mark.parametrize("token_only", [False, True])
def test_openssl_tsa_reply(openssl_tsa: Path, ess: str, token_only: bool) -> None:
    reply = _openssl_reply(openssl_tsa, ess, token_only=token_only)
    anchor = x509.load_pem_x509_certificate((openssl_tsa / "ca.pem").read_bytes())
    policy = (
        ValidationPolicy.builder()
        .trust_anchors([anchor])
        .revocation(RevocationMode.IF_AVAILABLE)
        .build()
    )
    env = Environment(policy=policy, clock=SystemClock())
    result = validate_timestamp_reply(reply, env, data=DATA)
    (entry,) = result.signatures
    assert entry.indication is Indication.TOTAL_PASSED, entry.message
    assert entry.details["signingCertificateAttribute"] == ("v1" if ess == "sha1" else "v2")
    assert entry.details["policy"] == "1.2.3.4.1"
    assert entry.signer == "CN=Elsewhere TSA"
    # tsa_name = yes: the TSA's directory name, as a person reads it.
    assert entry.details["tsaName"] == "Common Name: Elsewhere TSA"
    # Over other data: the imprint does not match.
    other = validate_timestamp_reply(reply, env, data=DATA + b"x")
    assert other.signatures[0].sub_indication is SubIndication.HASH_FAILURE
    # Not trusting that root: no chain.
    demo_root = _self_signed()
    untrusted = Environment(
        policy=ValidationPolicy.builder()
        .trust_anchors([demo_root])
        .revocation(RevocationMode.IF_AVAILABLE)
        .build(),
        clock=SystemClock(),
    )
    result = validate_timestamp_reply(reply, untrusted, data=DATA)
    assert result.signatures[0].sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def _self_signed() -> x509.Certificate:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Unrelated Root")])
    now = dt.datetime.now(dt.UTC)
    return (
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
