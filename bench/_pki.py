"""Keys, CSRs, OCSP requests and the peers' (cfssl, openssl) CA material for the
benchmarks. Everything is made fresh in the run's temporary directory."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

BENCH_CN = "bench.gov.aa"
# Issued certificates live as long as govtrust's tls-server profile (198 days).
TLS_SERVER_HOURS = 198 * 24


def make_csr(cn: str = BENCH_CN) -> bytes:
    """A P-256 PKCS#10 request with CN and a matching dNSName, in PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def ocsp_request(cert_pem: bytes, issuer_pem: bytes) -> bytes:
    """A DER OCSPRequest with one SHA-1 CertID and no nonce (RFC 5019 §2.1)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    issuer = x509.load_pem_x509_certificate(issuer_pem)
    sha1 = hashes.SHA1()  # noqa: S303 (RFC 5019 §2.1.1: clients use SHA-1 CertIDs)
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, sha1).build()
    return req.public_bytes(serialization.Encoding.DER)


def check_ocsp_good(der: bytes, serial: int) -> str | None:
    """None if ``der`` is a successful OCSP response saying 'good' for ``serial``,
    else what is wrong."""
    try:
        resp = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        return f"not an OCSP response: {exc}"
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return f"response status {resp.response_status.name}"
    if resp.serial_number != serial:
        return f"answers for serial {resp.serial_number:x}, not {serial:x}"
    if resp.certificate_status != ocsp.OCSPCertStatus.GOOD:
        return f"certificate status {resp.certificate_status.name}"
    return None


def _run(argv: list[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        argv, cwd=cwd, input=stdin, capture_output=True, check=True, timeout=120
    ).stdout


def _cfssljson(out: bytes, cwd: Path, stem: str) -> None:
    _run(["cfssljson", "-bare", stem], cwd, stdin=out)


class CfsslCA:
    """A P-256 root made by ``cfssl gencert -initca``, a delegated OCSP responder and
    one leaf certificate, in ``directory``."""

    def __init__(self, directory: Path, base_url: str = "http://127.0.0.1:8000") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url

    @property
    def ca_pem(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca-key.pem"

    @property
    def config(self) -> Path:
        return self.dir / "config.json"

    def create(self) -> None:
        (self.dir / "ca-csr.json").write_text(
            json.dumps(
                {
                    "CN": "Bench P-256 CA",
                    "key": {"algo": "ecdsa", "size": 256},
                    "names": [{"C": "AA", "O": "Bench"}],
                }
            )
        )
        _cfssljson(_run(["cfssl", "gencert", "-initca", "ca-csr.json"], self.dir), self.dir, "ca")
        # The signing profile mirrors govtrust's tls-server certificates: the same
        # lifetime, key usages, and AIA/CRL/OCSP pointers.
        self.config.write_text(
            json.dumps(
                {
                    "signing": {
                        "default": {
                            "expiry": f"{TLS_SERVER_HOURS}h",
                            "usages": ["digital signature", "server auth"],
                            "ocsp_url": f"{self.base_url}/ocsp",
                            "crl_url": f"{self.base_url}/crl/bench.crl",
                            "issuer_urls": [f"{self.base_url}/ca/bench.crt"],
                        },
                        "profiles": {
                            "ocsp": {
                                "expiry": "2160h",
                                "usages": ["digital signature", "ocsp signing"],
                            }
                        },
                    }
                }
            )
        )
        (self.dir / "resp-csr.json").write_text(
            json.dumps({"CN": "Bench OCSP Responder", "key": {"algo": "ecdsa", "size": 256}})
        )
        _cfssljson(
            _run(
                [
                    "cfssl",
                    "gencert",
                    "-ca",
                    "ca.pem",
                    "-ca-key",
                    "ca-key.pem",
                    "-config",
                    "config.json",
                    "-profile",
                    "ocsp",
                    "resp-csr.json",
                ],
                self.dir,
            ),
            self.dir,
            "resp",
        )

    def sign_leaf(self, csr_pem: bytes, stem: str = "leaf") -> Path:
        (self.dir / f"{stem}.csr.pem").write_bytes(csr_pem)
        out = _run(
            [
                "cfssl",
                "sign",
                "-ca",
                "ca.pem",
                "-ca-key",
                "ca-key.pem",
                "-config",
                "config.json",
                f"{stem}.csr.pem",
            ],
            self.dir,
        )
        _cfssljson(out, self.dir, stem)
        return self.dir / f"{stem}.pem"

    def ocsp_responses_file(self, leaf: Path) -> Path:
        """``cfssl ocspsign`` a 'good' response for ``leaf``, by the delegated responder,
        into a file in the format ``cfssl ocspserve -responses`` loads."""
        out = _run(
            [
                "cfssl",
                "ocspsign",
                "-ca",
                "ca.pem",
                "-responder",
                "resp.pem",
                "-responder-key",
                "resp-key.pem",
                "-cert",
                str(leaf),
                "-status",
                "good",
            ],
            self.dir,
        )
        path = self.dir / "ocsp-responses.txt"
        path.write_text(json.loads(out)["ocspResponse"] + "\n")
        return path


def openssl_time(t: dt.datetime) -> str:
    """index.txt times: UTCTime, YYMMDDHHMMSSZ."""
    return t.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ")


def openssl_ocsp_index(directory: Path, leaf: Path) -> Path:
    cert = x509.load_pem_x509_certificate(leaf.read_bytes())
    line = "\t".join(
        [
            "V",
            openssl_time(cert.not_valid_after_utc),
            "",
            format(cert.serial_number, "X"),
            "unknown",
            "/CN=" + BENCH_CN,
        ]
    )
    path = directory / "ocsp-index.txt"
    path.write_text(line + "\n")
    (directory / "ocsp-index.txt.attr").write_text("unique_subject = no\n")
    return path


OPENSSL_CA_CNF = """\
[ ca ]
default_ca = bench_ca

[ bench_ca ]
dir              = {dir}
database         = $dir/index.txt
crlnumber        = $dir/crlnumber
certificate      = $dir/ca.pem
private_key      = $dir/ca-key.pem
new_certs_dir    = $dir
default_md       = sha256
default_crl_days = 7
unique_subject   = no
crl_extensions   = crl_ext

[ crl_ext ]
authorityKeyIdentifier = keyid:always
"""


def openssl_crl_setup(directory: Path, ca_pem: Path, ca_key: Path, entries: int) -> Path:
    """An ``openssl ca`` directory whose index.txt holds ``entries`` revoked
    certificates (reason keyCompromise), and its config file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca_pem.read_bytes())
    (directory / "ca-key.pem").write_bytes(ca_key.read_bytes())
    (directory / "crlnumber").write_text("01\n")
    (directory / "index.txt.attr").write_text("unique_subject = no\n")
    now = dt.datetime.now(dt.UTC)
    expires = openssl_time(now + dt.timedelta(days=365))
    revoked = openssl_time(now - dt.timedelta(days=1)) + ",keyCompromise"
    base = 1 << 150
    with (directory / "index.txt").open("w") as f:
        for i in range(entries):
            serial = format(base + i * 7919, "X")
            f.write(f"R\t{expires}\t{revoked}\t{serial}\tunknown\t/CN=revoked-{i}\n")
    cnf = directory / "ca.cnf"
    cnf.write_text(OPENSSL_CA_CNF.format(dir=directory))
    return cnf
