"""Interoperability with the real ``openssl`` command line: certificates of every profile
verify (with the matching purpose), CRLs fetched over HTTP verify and revoke, and the
OCSP responder answers ``openssl ocsp`` (POST) and RFC 5019 GET clients.

Everything runs against a real uvicorn server (``live_server``) on SQLite and
PostgreSQL; files live in ``tmp_path``. Nothing is mocked.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import subprocess
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from govtrust.ca import RevocationReason, parse_san, parse_subject
from govtrust.crypto.keys import KeySpec
from govtrust.services import Actor, Context, authorities, certificates, revocation
from govtrust.services.certificates import CertificateInfo
from tests.conftest import LiveServer

OPENSSL = shutil.which("openssl")

pytestmark = [
    pytest.mark.openssl,
    pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed"),
]

ADMIN = Actor("test:admin", "admin")


# ---- helpers ---------------------------------------------------------------------------


def openssl(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run openssl; the result's ``.stdout`` and ``.stderr`` are text."""
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def _purpose_supported(purpose: str) -> bool:
    if OPENSSL is None:
        return False
    result = openssl("verify", "-purpose", purpose, "/nonexistent/govtrust-probe.pem")
    return "invalid purpose" not in output(result).lower()


def _pem_of_der(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def write_cert(path: Path, der: bytes) -> Path:
    path.write_bytes(_pem_of_der(der))
    return path


def ca_pem(ctx: Context, name: str, directory: Path) -> Path:
    return write_cert(directory / f"{name}.pem", authorities.get_ca(ctx, name).cert_der)


def chain_pem(ctx: Context, directory: Path, *names: str) -> Path:
    path = directory / ("chain-" + "-".join(names) + ".pem")
    path.write_bytes(b"".join(_pem_of_der(authorities.get_ca(ctx, n).cert_der) for n in names))
    return path


def csr_pem(subject: str, sans: tuple[str, ...] = ()) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(parse_subject(subject))
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([parse_san(s) for s in sans]), critical=False
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def issue_from_csr(
    ctx: Context, ca: str, profile: str, subject: str, sans: tuple[str, ...] = ()
) -> CertificateInfo:
    request = certificates.parse_csr(csr_pem(subject, sans))
    return certificates.issue(ctx, ca, profile, request, ADMIN)


def issue_device(ctx: Context, name: str) -> CertificateInfo:
    return issue_from_csr(ctx, "tls", "device", f"CN={name},O=National Water Authority,C=AA")


# ---- 1. every profile verifies with openssl -------------------------------------------

# profile -> (issuing CA, subject, SANs, purposes that apply)
PROFILES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "tls-server": ("tls", "CN=www.govtrust.org", ("dns:www.govtrust.org",), ("sslserver",)),
    "tls-client": (
        "tls",
        "CN=client.govtrust.org,O=Ministry of Finance,C=AA",
        ("dns:client.govtrust.org",),
        ("sslclient",),
    ),
    "official": (
        "people",
        "CN=Layla Nasser,SN=Nasser,givenName=Layla,serialNumber=PNOAA-2001,C=AA",
        ("email:layla.nasser@govtrust.org",),
        (),
    ),
    "seal": (
        "people",
        "CN=Ministry of Finance,organizationIdentifier=NTRAA-100009,O=Ministry of Finance,C=AA",
        (),
        (),
    ),
    "ocsp-signer": ("tls", "CN=Test OCSP Responder,O=Government of AA,C=AA", (), ("ocsphelper",)),
    "tsa": (
        "people",
        "CN=Government Time-Stamping Unit,O=Government of AA,C=AA",
        (),
        ("timestampsign",),
    ),
    "device": (
        "tls",
        "CN=meter-0042,O=National Water Authority,C=AA",
        ("dns:meter-0042.govtrust.org",),
        ("sslclient", "sslserver"),
    ),
    "code-signing": ("people", "CN=Release Signing,O=Government of AA,C=AA", (), ("codesign",)),
    # No openssl purpose checks id-tsl-kp-tslSigning; the chain itself must verify.
    "trustlist-signer": (
        "people",
        "CN=AA Trusted List Signer,O=AA Trust Services Supervisory Body,C=AA",
        (),
        (),
    ),
}

_ALL_PURPOSES = sorted({p for *_, purposes in PROFILES.values() for p in purposes})
SUPPORTED_PURPOSES = frozenset(p for p in _ALL_PURPOSES if _purpose_supported(p))

VERIFY_CASES = [(profile, None) for profile in PROFILES] + [
    (profile, purpose)
    for profile, (*_, purposes) in PROFILES.items()
    for purpose in purposes
    if purpose in SUPPORTED_PURPOSES
]


def test_every_shipped_profile_is_covered(ctx: Context) -> None:
    assert {p.name for p in ctx.profiles} == set(PROFILES)


@pytest.mark.parametrize(
    ("profile", "purpose"),
    VERIFY_CASES,
    ids=[f"{p}-{purpose or 'no-purpose'}" for p, purpose in VERIFY_CASES],
)
def test_openssl_verifies_every_profile(
    ctx: Context, tmp_path: Path, profile: str, purpose: str | None
) -> None:
    ca, subject, sans, _ = PROFILES[profile]
    info = issue_from_csr(ctx, ca, profile, subject, sans)
    root = ca_pem(ctx, "root", tmp_path)
    issuing = ca_pem(ctx, ca, tmp_path)
    leaf = write_cert(tmp_path / "leaf.pem", info.der)
    args: list[str | Path] = ["verify", "-CAfile", root, "-untrusted", issuing]
    if purpose is not None:
        args += ["-purpose", purpose]
    result = openssl(*args, leaf)
    assert result.returncode == 0, output(result)
    assert f"{leaf}: OK" in result.stdout


def test_tls_server_certificate_is_not_a_client_certificate(ctx: Context, tmp_path: Path) -> None:
    ca, subject, sans, _ = PROFILES["tls-server"]
    info = issue_from_csr(ctx, ca, "tls-server", subject, sans)
    root = ca_pem(ctx, "root", tmp_path)
    issuing = ca_pem(ctx, ca, tmp_path)
    leaf = write_cert(tmp_path / "leaf.pem", info.der)
    result = openssl(
        "verify", "-CAfile", root, "-untrusted", issuing, "-purpose", "sslclient", leaf
    )
    assert result.returncode != 0
    assert "unsuitable certificate purpose" in output(result)


# ---- 2. CRLs over HTTP ---------------------------------------------------------------


def _http_time(value: str) -> dt.datetime:
    return parsedate_to_datetime(value)


def _max_age(cache_control: str) -> int:
    match = re.search(r"max-age=(\d+)", cache_control)
    assert match, cache_control
    return int(match.group(1))


def test_every_crl_verifies_with_openssl(live_server: LiveServer, tmp_path: Path) -> None:
    ctx = live_server.ctx
    names = [c.name for c in authorities.list_cas(ctx)]
    assert set(names) == {"root", "people", "tls"}
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        for name in names:
            response = http.get(f"/crl/{name}.crl")
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/pkix-crl"
            crl_file = tmp_path / f"{name}.crl"
            crl_file.write_bytes(response.content)
            result = openssl(
                "crl", "-inform", "DER", "-in", crl_file, "-CAfile", ca_pem(ctx, name, tmp_path),
                "-noout",
            )  # fmt: skip
            assert result.returncode == 0, output(result)
            assert "verify OK" in output(result), output(result)


def test_crl_http_caching_headers(live_server: LiveServer) -> None:
    ctx = live_server.ctx
    current = revocation.get_crl(ctx, "tls")
    assert current is not None
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        response = http.get("/crl/tls.crl")
        assert response.status_code == 200
        assert response.content == current.der
        headers = response.headers
        assert headers["content-type"] == "application/pkix-crl"
        cache_control = headers["cache-control"]
        assert "public" in cache_control
        max_age = _max_age(cache_control)
        assert 0 < max_age <= int((current.next_update - ctx.clock.now()).total_seconds()) + 1
        assert _http_time(headers["last-modified"]) == current.this_update.replace(microsecond=0)
        assert _http_time(headers["expires"]) == current.next_update.replace(microsecond=0)
        etag = headers["etag"]
        assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2

        not_modified = http.get("/crl/tls.crl", headers={"If-None-Match": etag})
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        assert not_modified.headers["etag"] == etag

        # RFC 9110 §13.1.2: a list of tags, weak comparison, and "*" all match.
        for header in (f'"x", {etag}', f"W/{etag}", "*"):
            listed = http.get("/crl/tls.crl", headers={"If-None-Match": header})
            assert listed.status_code == 304, header

        other = http.get("/crl/tls.crl", headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.content == current.der

        missing = http.get("/crl/nope.crl")
        assert missing.status_code == 404


def test_revoked_certificate_fails_openssl_crl_check(
    live_server: LiveServer, tmp_path: Path
) -> None:
    ctx = live_server.ctx
    revoked = issue_device(ctx, "meter-0100")
    kept = issue_device(ctx, "meter-0101")
    chain = chain_pem(ctx, tmp_path, "root", "tls")
    revoked_pem = write_cert(tmp_path / "revoked.pem", revoked.der)
    kept_pem = write_cert(tmp_path / "kept.pem", kept.der)

    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        before = http.get("/crl/tls.crl")
        assert before.status_code == 200
        revocation.revoke(ctx, revoked.serial, RevocationReason.key_compromise, ADMIN)
        after = http.get("/crl/tls.crl")
        assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    crl_der = tmp_path / "tls.crl"
    crl_der.write_bytes(after.content)
    crl_file = tmp_path / "tls-crl.pem"
    converted = openssl("crl", "-inform", "DER", "-in", crl_der, "-out", crl_file)
    assert converted.returncode == 0, output(converted)

    text = openssl("crl", "-in", crl_file, "-noout", "-text")
    assert text.returncode == 0, output(text)
    assert "Key Compromise" in text.stdout
    assert format(int(revoked.serial, 16), "X").zfill(2) in text.stdout.replace(":", "").upper()

    failed = openssl("verify", "-crl_check", "-CAfile", chain, "-CRLfile", crl_file, revoked_pem)
    assert failed.returncode != 0
    assert "certificate revoked" in output(failed)

    good = openssl("verify", "-crl_check", "-CAfile", chain, "-CRLfile", crl_file, kept_pem)
    assert good.returncode == 0, output(good)
    assert f"{kept_pem}: OK" in good.stdout


@pytest.mark.parametrize("key", ["ec-p384", "rsa-2048", "rsa-3072", "ed25519"])
def test_crl_and_ocsp_of_every_ca_key_type(
    live_server: LiveServer, tmp_path: Path, key: str
) -> None:
    """The hand-encoded CRL (ca/crl.py) and the OCSP responder for each CA key type."""
    ctx = live_server.ctx
    authorities.create_intermediate(
        ctx, "extra", "root", f"CN=AA Test {key} CA,O=Government of AA,C=AA", ADMIN,
        key=KeySpec(key),
    )  # fmt: skip
    revoked = issue_from_csr(ctx, "extra", "device", "CN=meter-0600,O=Water,C=AA")
    kept = issue_from_csr(ctx, "extra", "device", "CN=meter-0601,O=Water,C=AA")
    revocation.revoke(ctx, revoked.serial, RevocationReason.superseded, ADMIN)
    extra = ca_pem(ctx, "extra", tmp_path)
    chain = chain_pem(ctx, tmp_path, "root", "extra")
    revoked_pem = write_cert(tmp_path / "revoked.pem", revoked.der)
    kept_pem = write_cert(tmp_path / "kept.pem", kept.der)

    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        response = http.get("/crl/extra.crl")
    assert response.status_code == 200
    crl_der = tmp_path / "extra.crl"
    crl_der.write_bytes(response.content)
    checked = openssl("crl", "-inform", "DER", "-in", crl_der, "-CAfile", extra, "-noout")
    assert checked.returncode == 0 and "verify OK" in output(checked), output(checked)
    crl_pem = tmp_path / "extra-crl.pem"
    assert openssl("crl", "-inform", "DER", "-in", crl_der, "-out", crl_pem).returncode == 0
    failed = openssl("verify", "-crl_check", "-CAfile", chain, "-CRLfile", crl_pem, revoked_pem)
    assert failed.returncode != 0 and "certificate revoked" in output(failed), output(failed)
    good = openssl("verify", "-crl_check", "-CAfile", chain, "-CRLfile", crl_pem, kept_pem)
    assert good.returncode == 0, output(good)

    for alg in ("sha1", "sha256"):
        _assert_good(ocsp_query(live_server.url, extra, kept_pem, chain, alg=alg), kept_pem)
        result = ocsp_query(live_server.url, extra, revoked_pem, chain, alg=alg, nonce=False)
        assert "Response verify OK" in result.stderr, output(result)
        assert f"{revoked_pem}: revoked" in result.stdout, output(result)
        assert "Reason: superseded" in result.stdout, output(result)


# ---- 3. OCSP with openssl ocsp (POST) ---------------------------------------------------

OCSP_VARIANTS = [
    (alg, nonce) for alg in ("sha1", "sha256") for nonce in (True, False)
]  # fmt: skip


def ocsp_query(
    url: str,
    issuer: Path,
    cert: Path,
    ca_file: Path,
    *,
    alg: str = "sha1",
    nonce: bool = True,
    extra: tuple[str | Path, ...] = (),
) -> subprocess.CompletedProcess[str]:
    args: list[str | Path] = ["ocsp", "-url", f"{url}/ocsp", "-issuer", issuer]
    if alg != "sha1":
        args.append(f"-{alg}")  # a digest option applies to the -cert that follows it
    args += ["-cert", cert, "-CAfile", ca_file]
    if not nonce:
        args.append("-no_nonce")
    return openssl(*args, *extra)


def _assert_good(result: subprocess.CompletedProcess[str], cert: Path) -> None:
    assert result.returncode == 0, output(result)
    assert "Response verify OK" in result.stderr, output(result)
    assert f"{cert}: good" in result.stdout, output(result)
    assert "This Update:" in result.stdout and "Next Update:" in result.stdout


def test_openssl_ocsp_good_then_revoked(live_server: LiveServer, tmp_path: Path) -> None:
    ctx = live_server.ctx
    info = issue_device(ctx, "meter-0200")
    issuer = ca_pem(ctx, "tls", tmp_path)
    chain = chain_pem(ctx, tmp_path, "root", "tls")
    leaf = write_cert(tmp_path / "leaf.pem", info.der)

    for alg, nonce in OCSP_VARIANTS:
        result = ocsp_query(live_server.url, issuer, leaf, chain, alg=alg, nonce=nonce)
        _assert_good(result, leaf)
        # With a nonce, openssl checks that the response echoes it (RFC 8954).
        assert "nonce" not in result.stderr.lower(), output(result)

    revocation.revoke(ctx, info.serial, RevocationReason.key_compromise, ADMIN)

    for alg, nonce in OCSP_VARIANTS:
        result = ocsp_query(live_server.url, issuer, leaf, chain, alg=alg, nonce=nonce)
        assert result.returncode == 0, output(result)
        assert "Response verify OK" in result.stderr, (alg, nonce, output(result))
        assert f"{leaf}: revoked" in result.stdout, (alg, nonce, output(result))
        assert "Reason: keyCompromise" in result.stdout, (alg, nonce, output(result))
        assert "nonce" not in result.stderr.lower(), output(result)
        match = re.search(r"Revocation Time: (.+)", result.stdout)
        assert match, output(result)
        when = dt.datetime.strptime(match.group(1).strip(), "%b %d %H:%M:%S %Y GMT")
        assert abs(when.replace(tzinfo=dt.UTC) - ctx.clock.now()) < dt.timedelta(minutes=5)


@pytest.mark.parametrize("alg", ["sha1", "sha256"])
def test_openssl_ocsp_respout_then_respin_verifies(
    live_server: LiveServer, tmp_path: Path, alg: str
) -> None:
    ctx = live_server.ctx
    info = issue_device(ctx, "meter-0300")
    issuer = ca_pem(ctx, "tls", tmp_path)
    chain = chain_pem(ctx, tmp_path, "root", "tls")
    leaf = write_cert(tmp_path / "leaf.pem", info.der)
    saved = tmp_path / "resp.der"
    fetched = ocsp_query(
        live_server.url, issuer, leaf, chain, alg=alg, nonce=False, extra=("-respout", saved)
    )
    _assert_good(fetched, leaf)
    assert saved.stat().st_size > 0

    digest = () if alg == "sha1" else (f"-{alg}",)
    replay = openssl(
        "ocsp", "-respin", saved, "-CAfile", chain, "-issuer", issuer, *digest, "-cert", leaf,
        "-no_nonce",
    )  # fmt: skip
    _assert_good(replay, leaf)

    # The saved response is a successful BasicOCSPResponse signed by the delegated responder.
    parsed = ocsp.load_der_ocsp_response(saved.read_bytes())
    assert parsed.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert parsed.serial_number == int(info.serial, 16)
    assert len(parsed.certificates) == 1
    eku = parsed.certificates[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in eku


def test_openssl_ocsp_unknown_serial(live_server: LiveServer, tmp_path: Path) -> None:
    ctx = live_server.ctx
    issuer = ca_pem(ctx, "tls", tmp_path)
    chain = chain_pem(ctx, tmp_path, "root", "tls")
    result = openssl(
        "ocsp", "-url", f"{live_server.url}/ocsp", "-issuer", issuer, "-serial", "0x7fabcdef01",
        "-CAfile", chain,
    )  # fmt: skip
    assert result.returncode == 0, output(result)
    assert "Response verify OK" in result.stderr, output(result)
    assert "0x7fabcdef01: unknown" in result.stdout, output(result)


@pytest.mark.parametrize("alg", ["sha384", "sha512"])
def test_openssl_ocsp_other_cert_id_hashes(
    live_server: LiveServer, tmp_path: Path, alg: str
) -> None:
    ctx = live_server.ctx
    info = issue_device(ctx, "meter-0250")
    issuer = ca_pem(ctx, "tls", tmp_path)
    chain = chain_pem(ctx, tmp_path, "root", "tls")
    leaf = write_cert(tmp_path / "leaf.pem", info.der)
    for nonce in (True, False):
        _assert_good(ocsp_query(live_server.url, issuer, leaf, chain, alg=alg, nonce=nonce), leaf)


@pytest.mark.parametrize("alg", ["md5", "sha224", "sha3-256"])
def test_openssl_ocsp_unsupported_cert_id_hash_is_malformed(
    live_server: LiveServer, tmp_path: Path, alg: str
) -> None:
    """A CertID hashed with an algorithm govtrust does not serve is a malformedRequest,
    not an internalError."""
    ctx = live_server.ctx
    issuer = ca_pem(ctx, "tls", tmp_path)
    chain = chain_pem(ctx, tmp_path, "root", "tls")
    leaf = write_cert(tmp_path / "leaf.pem", issue_device(ctx, "meter-0260").der)
    result = ocsp_query(live_server.url, issuer, leaf, chain, alg=alg)
    assert "Responder Error: malformedrequest (1)" in output(result), output(result)


# ---- 4. OCSP over GET (RFC 5019) --------------------------------------------------------


@pytest.mark.parametrize("alg", ["sha1", "sha256"])
def test_ocsp_get_rfc5019(live_server: LiveServer, tmp_path: Path, alg: str) -> None:
    ctx = live_server.ctx
    info = issue_device(ctx, "meter-0400")
    issuer = ca_pem(ctx, "tls", tmp_path)
    leaf = write_cert(tmp_path / "leaf.pem", info.der)
    request_file = tmp_path / "req.der"
    digest = () if alg == "sha1" else (f"-{alg}",)
    built = openssl(
        "ocsp", "-reqout", request_file, "-no_nonce", "-issuer", issuer, *digest, "-cert", leaf
    )
    assert built.returncode == 0, output(built)
    encoded = quote(base64.b64encode(request_file.read_bytes()).decode(), safe="")

    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        response = http.get(f"/ocsp/{encoded}")
    assert response.status_code == 200
    headers = response.headers
    assert headers["content-type"] == "application/ocsp-response"
    cache_control = headers["cache-control"]
    assert "public" in [d.strip() for d in cache_control.split(",")]
    max_age = _max_age(cache_control)
    parsed = ocsp.load_der_ocsp_response(response.content)
    assert parsed.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert parsed.serial_number == int(info.serial, 16)
    assert isinstance(parsed.hash_algorithm, hashes.SHA1 if alg == "sha1" else hashes.SHA256)
    this_update = parsed.this_update_utc
    next_update = parsed.next_update_utc
    assert next_update is not None
    # RFC 5019 §6.2: max-age not later than nextUpdate; Last-Modified is thisUpdate.
    assert 0 < max_age <= int((next_update - ctx.clock.now()).total_seconds()) + 1
    assert _http_time(headers["last-modified"]) == this_update
    assert _http_time(headers["expires"]) == next_update
    assert headers["etag"].startswith('"') and len(headers["etag"]) > 2

    # Clients that do not percent-encode ('+', '/' and '=' as they are) get the same answer.
    raw = base64.b64encode(request_file.read_bytes()).decode()
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        unencoded = http.get(f"/ocsp/{raw}")
    assert unencoded.status_code == 200
    assert ocsp.load_der_ocsp_response(unencoded.content).certificate_status == (
        ocsp.OCSPCertStatus.GOOD
    )

    # The response openssl receives for the same request verifies too.
    resp_file = tmp_path / "resp.der"
    resp_file.write_bytes(response.content)
    chain = chain_pem(ctx, tmp_path, "root", "tls")
    replay = openssl(
        "ocsp", "-respin", resp_file, "-CAfile", chain, "-issuer", issuer, *digest, "-cert", leaf,
        "-no_nonce",
    )  # fmt: skip
    _assert_good(replay, leaf)


# ---- 5. intermediate CA status from the root's responder --------------------------------


def test_root_responder_reports_intermediate_good(live_server: LiveServer, tmp_path: Path) -> None:
    ctx = live_server.ctx
    root = ca_pem(ctx, "root", tmp_path)
    chain = chain_pem(ctx, tmp_path, "root", "tls")
    for name in ("tls", "people"):
        intermediate = ca_pem(ctx, name, tmp_path)
        for alg in ("sha1", "sha256"):
            result = ocsp_query(live_server.url, root, intermediate, chain, alg=alg)
            _assert_good(result, intermediate)


def test_revoked_intermediate_is_revoked_for_openssl(
    live_server: LiveServer, tmp_path: Path
) -> None:
    ctx = live_server.ctx
    leaf = write_cert(tmp_path / "leaf.pem", issue_device(ctx, "meter-0500").der)
    root = ca_pem(ctx, "root", tmp_path)
    tls = ca_pem(ctx, "tls", tmp_path)
    chain = chain_pem(ctx, tmp_path, "root", "tls")
    revocation.revoke(
        ctx, authorities.get_ca(ctx, "tls").serial, RevocationReason.ca_compromise, ADMIN
    )

    result = ocsp_query(live_server.url, root, tls, chain)
    assert result.returncode == 0, output(result)
    assert "Response verify OK" in result.stderr, output(result)
    assert f"{tls}: revoked" in result.stdout, output(result)
    assert "Reason: cACompromise" in result.stdout, output(result)

    crls = tmp_path / "crls.pem"
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        for name in ("root", "tls"):
            response = http.get(f"/crl/{name}.crl")
            assert response.status_code == 200
            crl = x509.load_der_x509_crl(response.content)
            with crls.open("ab") as f:
                f.write(crl.public_bytes(serialization.Encoding.PEM))
    failed = openssl("verify", "-crl_check_all", "-CAfile", chain, "-CRLfile", crls, leaf)
    assert failed.returncode != 0
    assert "certificate revoked" in output(failed), output(failed)


# ---- 6. a foreign CA -> unauthorized ----------------------------------------------------


def _foreign_ca(tmp_path: Path) -> tuple[Path, Path]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ZZ"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Elsewhere"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Foreign Root CA"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.govtrust.org")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp_path / "foreign-ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    leaf_file = tmp_path / "foreign-leaf.pem"
    leaf_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return ca_file, leaf_file


@pytest.mark.parametrize("alg", ["sha1", "sha256"])
def test_foreign_ca_is_unauthorized(live_server: LiveServer, tmp_path: Path, alg: str) -> None:
    ca_file, leaf_file = _foreign_ca(tmp_path)
    result = ocsp_query(live_server.url, ca_file, leaf_file, ca_file, alg=alg)
    assert "Responder Error: unauthorized (6)" in output(result), output(result)


def test_protocol_endpoints_answer_head(live_server: LiveServer) -> None:
    """Caches and CDNs revalidate with HEAD: same headers as GET, no body."""
    for path in ("/ca/tls.crt", "/ca/tls.pem", "/crl/tls.crl"):
        get = httpx.get(live_server.url + path)
        head = httpx.head(live_server.url + path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["etag"] == get.headers["etag"]
