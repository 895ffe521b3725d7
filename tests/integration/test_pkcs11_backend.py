"""The PKCS#11 key backend against a throwaway SoftHSM2 token.

Certificates, CRLs and OCSP responses are built with cryptography's builders using the
token-backed ``as_private_key()`` handle and checked with the ``openssl`` command line.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import textwrap
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from govtrust.crypto.custody import KeyBackend, KeyCustody
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.pkcs11 import Pkcs11Backend, Pkcs11Signer, finalize_module
from govtrust.crypto.signer import KeyRef, Signer, sign_bytes, signature_hash
from govtrust.errors import HSMError

try:
    from tests.support.softhsm import SoftHSMToken, softhsm_token
except ModuleNotFoundError:  # the project root is not on sys.path (no conftest/pythonpath)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.support.softhsm import SoftHSMToken, softhsm_token

pytestmark = pytest.mark.softhsm

NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
CERT_SPECS = [KeySpec.EC_P256, KeySpec.EC_P384, KeySpec.RSA_3072, KeySpec.ED25519]


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSMToken]:
    with softhsm_token(tmp_path_factory.mktemp("softhsm")) as t:
        yield t


@pytest.fixture(scope="module")
def backend(token: SoftHSMToken) -> Pkcs11Backend:
    return Pkcs11Backend(token.module, token.token_label, lambda: token.pin)


@pytest.fixture(scope="module")
def signer_for(backend: Pkcs11Backend) -> Callable[[KeySpec], Pkcs11Signer]:
    """One generated key per spec for the module (RSA-3072 generation is slow)."""
    cache: dict[KeySpec, Pkcs11Signer] = {}

    def get(spec: KeySpec) -> Pkcs11Signer:
        if spec not in cache:
            cache[spec] = backend.generate(f"test {spec.value}", spec)
        return cache[spec]

    return get


# --- helpers ---------------------------------------------------------------------------


def _hash(signer: Signer) -> hashes.SHA256 | hashes.SHA384 | None:
    """``signature_hash`` narrowed to what cryptography's builders are typed to accept."""
    algorithm = signature_hash(signer)
    assert algorithm is None or isinstance(algorithm, hashes.SHA256 | hashes.SHA384)
    return algorithm


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "govtrust tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ca_certificate(signer: Signer) -> x509.Certificate:
    public = signer.public_key()
    name = _name(f"HSM test CA {signer.spec.value}")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(minutes=5))
        .not_valid_after(NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(signer.as_private_key(), _hash(signer))
    )


def _leaf_certificate(signer: Signer, ca: x509.Certificate) -> x509.Certificate:
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(_name("leaf.example"))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(minutes=5))
        .not_valid_after(NOW + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
        .sign(signer.as_private_key(), _hash(signer))
    )


def _crl(signer: Signer, ca: x509.Certificate) -> x509.CertificateRevocationList:
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(4242)
        .revocation_date(NOW - datetime.timedelta(minutes=1))
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .build()
    )
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(NOW - datetime.timedelta(minutes=1))
        .next_update(NOW + datetime.timedelta(days=1))
        .add_revoked_certificate(revoked)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
        .sign(signer.as_private_key(), _hash(signer))
    )


def _ocsp_response(
    signer: Signer, ca: x509.Certificate, leaf: x509.Certificate
) -> ocsp.OCSPResponse:
    return (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf,
            issuer=ca,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=NOW - datetime.timedelta(minutes=1),
            next_update=NOW + datetime.timedelta(hours=12),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
        .sign(signer.as_private_key(), _hash(signer))
    )


def _openssl(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"openssl {' '.join(args)} failed:\n{output}"
    return output


def _verify(public: CertificateIssuerPublicKeyTypes, signature: bytes, data: bytes) -> None:
    """Verify a signature made with the signer's default scheme (see ``sign_bytes``)."""
    if isinstance(public, ec.EllipticCurvePublicKey):
        algorithm = hashes.SHA384() if public.curve.name == "secp384r1" else hashes.SHA256()
        public.verify(signature, data, ec.ECDSA(algorithm))
    elif isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(public, ed25519.Ed25519PublicKey):
        public.verify(signature, data)
    else:
        raise AssertionError(f"unexpected key type {type(public).__name__}")


def _pem(cert: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# --- tests -----------------------------------------------------------------------------


@pytest.mark.openssl
@pytest.mark.parametrize("spec", CERT_SPECS, ids=lambda s: s.value)
def test_token_key_signs_certificate_crl_and_ocsp(
    spec: KeySpec, signer_for: Callable[[KeySpec], Pkcs11Signer], tmp_path: Path
) -> None:
    signer = signer_for(spec)
    assert signer.spec is spec
    assert signer.ref.backend == "pkcs11"

    ca = _ca_certificate(signer)
    leaf = _leaf_certificate(signer, ca)
    crl = _crl(signer, ca)
    response = _ocsp_response(signer, ca, leaf)

    (tmp_path / "ca.pem").write_bytes(_pem(ca))
    (tmp_path / "leaf.pem").write_bytes(_pem(leaf))
    (tmp_path / "crl.pem").write_bytes(_pem(crl))
    (tmp_path / "resp.der").write_bytes(response.public_bytes(serialization.Encoding.DER))

    # Self-signature of the CA (-check_ss_sig) and the CA's signature on a leaf.
    out = _openssl(tmp_path, "verify", "-check_ss_sig", "-CAfile", "ca.pem", "ca.pem")
    assert "ca.pem: OK" in out
    out = _openssl(tmp_path, "verify", "-CAfile", "ca.pem", "leaf.pem")
    assert "leaf.pem: OK" in out
    out = _openssl(tmp_path, "crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-noout")
    assert "verify OK" in out
    out = _openssl(
        tmp_path,
        "ocsp",
        "-respin",
        "resp.der",
        "-CAfile",
        "ca.pem",
        "-verify_other",
        "ca.pem",
        "-issuer",
        "ca.pem",
        "-sha256",  # CertID hash of the response (openssl looks up with SHA-1 by default)
        "-cert",
        "leaf.pem",
        "-no_nonce",
    )
    assert "Response verify OK" in out
    assert "leaf.pem: good" in out

    # And cryptography agrees.
    ca.verify_directly_issued_by(ca)
    leaf.verify_directly_issued_by(ca)
    assert crl.is_signature_valid(signer.public_key())


@pytest.mark.parametrize("spec", CERT_SPECS, ids=lambda s: s.value)
def test_key_is_not_extractable(
    spec: KeySpec, signer_for: Callable[[KeySpec], Pkcs11Signer], token: SoftHSMToken
) -> None:
    signer = signer_for(spec)
    info = signer.key_info()
    assert info.key_id == signer.ref.key_id
    assert info.label == f"test {spec.value}"
    assert info.token and info.private and info.sensitive
    assert not info.extractable
    assert info.always_sensitive and info.never_extractable and info.local

    handle = signer.as_private_key()
    with pytest.raises(HSMError, match="cannot be exported"):
        handle.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    if isinstance(handle, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        with pytest.raises(HSMError, match="cannot be exported"):
            handle.private_numbers()
    if isinstance(handle, ed25519.Ed25519PrivateKey):
        with pytest.raises(HSMError, match="cannot be exported"):
            handle.private_bytes_raw()

    # Ask the token directly, from another process with its own login.
    secret_attribute = "PRIVATE_EXPONENT" if spec.is_rsa else "VALUE"
    script = textwrap.dedent(
        """
        import json, os, sys
        import pkcs11
        from pkcs11 import Attribute, ObjectClass
        lib = pkcs11.lib(sys.argv[1])
        token = lib.get_token(token_label=sys.argv[2])
        result = {}
        with token.open(rw=True, user_pin=os.environ["TEST_PIN"]) as session:
            key_id = bytes.fromhex(sys.argv[3])
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            result["extractable"] = key[Attribute.EXTRACTABLE]
            result["sensitive"] = key[Attribute.SENSITIVE]
            try:
                key[getattr(Attribute, sys.argv[4])]
                result["read_secret"] = "allowed"
            except pkcs11.PKCS11Error as exc:
                result["read_secret"] = type(exc).__name__
            try:
                key[Attribute.EXTRACTABLE] = True
                result["make_extractable"] = "allowed"
            except pkcs11.PKCS11Error as exc:
                result["make_extractable"] = type(exc).__name__
        print(json.dumps(result))
        """
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            token.module,
            token.token_label,
            signer.ref.key_id,
            secret_attribute,
        ],
        env={**os.environ, **token.env, "TEST_PIN": token.pin},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == {
        "extractable": False,
        "sensitive": True,
        "read_secret": "AttributeSensitive",
        "make_extractable": "AttributeReadOnly",
    }


@pytest.mark.parametrize("spec", [KeySpec.EC_P256, KeySpec.RSA_3072], ids=lambda s: s.value)
def test_load_by_key_id_from_a_fresh_backend(
    spec: KeySpec, signer_for: Callable[[KeySpec], Pkcs11Signer], token: SoftHSMToken
) -> None:
    original = signer_for(spec)
    fresh = Pkcs11Backend(token.module, token.token_label, lambda: token.pin)
    loaded = fresh.load(original.ref.key_id)

    assert loaded.ref == original.ref
    assert loaded.spec is spec
    assert loaded.public_key() == original.public_key()
    message = b"signed by a key loaded by CKA_ID"
    _verify(original.public_key(), sign_bytes(loaded, message), message)
    # Through KeyCustody, as the rest of govtrust uses it.
    backends: dict[str, KeyBackend] = {"pkcs11": fresh}
    custody = KeyCustody(backends)
    via_custody = custody.load(KeyRef.parse(str(original.ref)))
    _verify(original.public_key(), sign_bytes(via_custody, message), message)


def _assert_no_pin(exc: BaseException, *pins: str) -> None:
    rendered = "".join(traceback.format_exception(exc)) + repr(exc)
    for pin in pins:
        assert pin not in rendered


def test_wrong_pin_is_refused_even_while_logged_in(
    backend: Pkcs11Backend, signer_for: Callable[[KeySpec], Pkcs11Signer], token: SoftHSMToken
) -> None:
    signer = signer_for(KeySpec.EC_P256)
    sign_bytes(signer, b"the good backend is logged in")
    wrong_pin = "wrong-" + token.pin[::-1]

    # The token is already logged in by `backend`: C_Login would not check the PIN.
    intruder = Pkcs11Backend(token.module, token.token_label, lambda: wrong_pin)
    with pytest.raises(HSMError, match="incorrect PIN") as excinfo:
        intruder.load(signer.ref.key_id)
    _assert_no_pin(excinfo.value, wrong_pin, token.pin)
    with pytest.raises(HSMError, match="incorrect PIN"):
        intruder.generate("never created", KeySpec.EC_P256)

    # The good backend logs in again and its existing signer keeps working.
    message = b"still signing after a failed login"
    _verify(signer.public_key(), sign_bytes(signer, message), message)

    # And with nobody logged in at all.
    finalize_module(token.module)
    with pytest.raises(HSMError, match="incorrect PIN") as excinfo:
        Pkcs11Backend(token.module, token.token_label, lambda: wrong_pin).load(signer.ref.key_id)
    _assert_no_pin(excinfo.value, wrong_pin, token.pin)
    _verify(signer.public_key(), sign_bytes(signer, message), message)


def test_missing_or_malformed_key_id(backend: Pkcs11Backend) -> None:
    missing = os.urandom(16).hex()
    with pytest.raises(HSMError, match="no private key with id " + missing):
        backend.load(missing)
    for bad in ("", "not-hex", "abc"):
        with pytest.raises(HSMError, match="invalid PKCS#11 key id"):
            backend.load(bad)


def test_unknown_token_label(token: SoftHSMToken) -> None:
    other = Pkcs11Backend(token.module, "no-such-token", lambda: token.pin)
    with pytest.raises(HSMError, match="'no-such-token' not found"):
        other.load(os.urandom(16).hex())


def test_signer_survives_module_reinitialisation(
    signer_for: Callable[[KeySpec], Pkcs11Signer], token: SoftHSMToken
) -> None:
    signer = signer_for(KeySpec.EC_P384)
    message = b"before and after C_Finalize"
    _verify(signer.public_key(), sign_bytes(signer, message), message)
    finalize_module(token.module)
    _verify(signer.public_key(), sign_bytes(signer, message), message)


def test_hash_choices_and_prehashed(signer_for: Callable[[KeySpec], Pkcs11Signer]) -> None:
    data = b"hash outside or inside the token"
    ec_signer = signer_for(KeySpec.EC_P256)
    ec_key = ec_signer.as_private_key()
    ec_public = ec_signer.public_key()
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey)
    assert isinstance(ec_public, ec.EllipticCurvePublicKey)
    assert ec_key.curve.name == "secp256r1" and ec_key.key_size == 256
    for algorithm in (hashes.SHA256(), hashes.SHA384(), hashes.SHA512()):
        ec_public.verify(ec_key.sign(data, ec.ECDSA(algorithm)), data, ec.ECDSA(algorithm))
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    prehashed = ec_key.sign(digest.finalize(), ec.ECDSA(Prehashed(hashes.SHA256())))
    ec_public.verify(prehashed, data, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(UnsupportedAlgorithm):
        ec_key.sign(data, ec.ECDSA(hashes.SHA1()))

    rsa_signer = signer_for(KeySpec.RSA_3072)
    rsa_key = rsa_signer.as_private_key()
    rsa_public = rsa_signer.public_key()
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert isinstance(rsa_public, rsa.RSAPublicKey)
    assert rsa_key.key_size == 3072
    pkcs1 = padding.PKCS1v15()
    for algorithm in (hashes.SHA256(), hashes.SHA384(), hashes.SHA512()):
        rsa_public.verify(rsa_key.sign(data, pkcs1, algorithm), data, pkcs1, algorithm)
    digest = hashes.Hash(hashes.SHA384())
    digest.update(data)
    prehashed = rsa_key.sign(digest.finalize(), pkcs1, Prehashed(hashes.SHA384()))
    rsa_public.verify(prehashed, data, pkcs1, hashes.SHA384())
    with pytest.raises(UnsupportedAlgorithm):
        rsa_key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    no_digest_info = getattr(asym_utils, "NoDigestInfo", None)  # cryptography >= 45
    if no_digest_info is not None:
        digest = hashes.Hash(hashes.SHA256())
        digest.update(data)
        digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + digest.finalize()
        signature = rsa_key.sign(digest_info, pkcs1, no_digest_info())
        rsa_public.verify(signature, data, pkcs1, hashes.SHA256())


def test_token_without_eddsa_or_hashing_rsa_mechanisms(
    tmp_path: Path, signer_for: Callable[[KeySpec], Pkcs11Signer]
) -> None:
    # An allow-list: SoftHSM 2.6 mis-parses the first entry of a "-CKM_..." deny-list.
    allowed = ",".join(
        [
            "CKM_RSA_PKCS_KEY_PAIR_GEN",
            "CKM_RSA_PKCS",
            "CKM_EC_KEY_PAIR_GEN",
            "CKM_ECDSA",
            "CKM_EC_EDWARDS_KEY_PAIR_GEN",  # but no CKM_EDDSA
        ]
    )
    with softhsm_token(tmp_path, mechanisms=allowed) as limited:
        backend = Pkcs11Backend(limited.module, limited.token_label, lambda: limited.pin)
        with pytest.raises(HSMError) as excinfo:
            backend.generate("no eddsa here", KeySpec.ED25519)
        assert str(excinfo.value) == "ed25519 keys are not supported by this PKCS#11 token"
        # RSA falls back to hashing outside and raw CKM_RSA_PKCS with a DigestInfo.
        signer = backend.generate("rsa without hash mechanisms", KeySpec.RSA_2048)
        message = b"DigestInfo built outside the token"
        _verify(signer.public_key(), sign_bytes(signer, message), message)
        ca = _ca_certificate(signer)
        ca.verify_directly_issued_by(ca)
    # Keys of the module's token work again once the nested token is gone.
    outer = signer_for(KeySpec.EC_P256)
    _verify(outer.public_key(), sign_bytes(outer, b"outer token"), b"outer token")


def test_signing_from_four_threads(
    signer_for: Callable[[KeySpec], Pkcs11Signer], token: SoftHSMToken
) -> None:
    shared = signer_for(KeySpec.EC_P256)
    # Half the threads use a signer loaded through a second backend object on the token.
    second = Pkcs11Backend(token.module, token.token_label, lambda: token.pin).load(
        shared.ref.key_id
    )
    rsa_signer = signer_for(KeySpec.RSA_3072)
    signers: list[Signer] = [shared, second, rsa_signer, shared]
    barrier = threading.Barrier(len(signers))
    results: list[list[tuple[bytes, bytes]]] = [[] for _ in signers]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(25):
                message = f"thread {index} message {i}".encode()
                results[index].append((message, sign_bytes(signers[index], message)))
            # cryptography's builders from several threads too
            ca = _ca_certificate(signers[index])
            ca.verify_directly_issued_by(ca)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(signers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    for signer, signed in zip(signers, results, strict=True):
        assert len(signed) == 25
        for message, signature in signed:
            _verify(signer.public_key(), signature, message)


def test_backend_satisfies_the_key_backend_protocol(
    backend: Pkcs11Backend, signer_for: Callable[[KeySpec], Pkcs11Signer], token: SoftHSMToken
) -> None:
    as_protocol: KeyBackend = backend
    assert as_protocol.name == "pkcs11"
    signer = signer_for(KeySpec.EC_P256)
    assert isinstance(signer, Signer)
    for text in (repr(backend), repr(signer), repr(signer.as_private_key()), repr(token)):
        assert token.pin not in text
        assert token.so_pin not in text
