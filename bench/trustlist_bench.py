"""Trusted-list benchmarks: import+verify beside ``xmlsec1 --verify``, and validations
per second with trust from a list of 1,000 services.

    .venv/bin/python bench/trustlist_bench.py [--quick]

- **EU LOTL** (``eu-lotl.xml``) and **the largest national list in the vectors**
  (``tsl-be-v6.xml``, 135 services): median time of govtrust's full import check
  (:func:`govtrust.trustlist.read_list`: hardened parsing, TS 119 612 XSD, model,
  XAdES verification against the pinned certificates with signxml) and the peak RSS
  the first import adds to a process that has loaded the code, beside ``xmlsec1
  --verify`` of the same file with the same signer key (``--pubkey-cert-pem``,
  ``--insecure``: xmlsec1 checks the signature only, no schema, no model), net of
  the process start (``xmlsec1 --version``), with its peak RSS net of that of
  ``xmlsec1 --version``. Alternated in every repetition.
- **PAdES validations/s, trust from a 1,000-service list**: a temporary demo home lists
  999 generated CA services plus its own CAs and TSA, publishes that list and imports
  it (so the trust store is built from an imported, verified list); the demo seal signs
  a 1-page PDF at B-B; each validation is ``trust_store(ctx)`` (cached per import) +
  ``validate_document`` (revocation off, anchors = the whole store, as
  ``services.verify`` passes them: the instance root and the list's 1,001 CAs) +
  ``TrustStore.annotate`` (one SKI lookup per chain certificate). The peer row is the
  same validation with the instance root as the only anchor and no annotation: the
  difference is the cost of trust from the list.

Prints one JSON row per measurement: ``{"name", "ours", "peer", "unit", "ratio"}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._proc import median  # noqa: E402

VECTORS = ROOT.parent / "shared" / "vectors"
TL = VECTORS / "trustlists"
PDF_VECTOR = VECTORS / "pdf" / "minimal.pdf"
PASSPHRASE = "bench-passphrase-0123456789"


def log(msg: str) -> None:
    sys.stderr.write(f"[trustlist-bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def _row(name: str, ours: float | None, peer: float | None, unit: str) -> dict[str, Any]:
    ratio = ours / peer if ours is not None and peer else None
    return {"name": name, "ours": ours, "peer": peer, "unit": unit, "ratio": ratio}


# ---- import + verify beside xmlsec1 ---------------------------------------------------


def _pins(name: str) -> list[Any]:
    from cryptography import x509

    from govtrust.trustlist import member_pointers, read_list

    pins = x509.load_pem_x509_certificates((TL / "pre-reanchor.cert.pem").read_bytes())
    if name == "eu-lotl.xml":
        return pins
    lotl = read_list((TL / "eu-lotl.xml").read_bytes(), pins, source="EU", lotl=True)
    return [
        c for p in member_pointers(lotl.trusted_list) if p.territory == "BE" for c in p.certificates
    ]


def _xmlsec_args(work: Path, signer: Any, path: Path) -> list[str]:
    from cryptography.hazmat.primitives.serialization import Encoding

    pem = work / f"{path.stem}-signer.pem"
    pem.write_bytes(signer.public_bytes(Encoding.PEM))
    return [
        "xmlsec1",
        "--verify",
        "--insecure",
        "--pubkey-cert-pem",
        str(pem),
        "--id-attr:Id",
        "TrustServiceStatusList",
        "--id-attr:Id",
        "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
        str(path),
    ]


def import_rows(work: Path, quick: bool) -> list[dict[str, Any]]:
    from govtrust.trustlist import read_list

    rows = []
    reps = 3 if quick else 9
    for name in ("eu-lotl.xml", "tsl-be-v6.xml"):
        path = TL / name
        data = path.read_bytes()
        pins = _pins(name)
        signer = read_list(data, pins, source=name).signer
        args = _xmlsec_args(work, signer, path)
        ours, peer, base = [], [], []
        for _ in range(reps):
            t = time.perf_counter()
            read_list(data, pins, source=name)
            ours.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            done = subprocess.run(args, capture_output=True, check=False)
            peer.append((time.perf_counter() - t) * 1000)
            assert done.returncode == 0, done.stderr
            t = time.perf_counter()
            subprocess.run(["xmlsec1", "--version"], capture_output=True, check=False)
            base.append((time.perf_counter() - t) * 1000)
        net = max(0.01, median(peer) - median(base))
        rows.append(
            _row(f"import+verify {name} ({len(data) // 1024} KiB)", median(ours), net, "ms")
        )
        ours_mb, peer_mb = _peak_rss(name, args)
        rows.append(_row(f"peak RSS added by importing {name}", ours_mb, peer_mb, "MiB"))
        log(f"{name}: ours {median(ours):.1f} ms, xmlsec1 {net:.1f} ms net")
    return rows


_CHILD = """
import sys
sys.path.insert(0, {src!r}); sys.path.insert(0, {root!r})
from bench.trustlist_bench import _pins
from govtrust.trustlist import read_list
def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
data = open({path!r}, "rb").read()
pins = _pins({name!r})
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = kib("VmRSS:")
read_list(data, pins, source={name!r})
print(kib("VmHWM:") - before)
"""


def _child_maxrss(args: list[str]) -> float:
    """Peak RSS (MiB) of one child process, read in a fresh wrapper process so that no
    other child's peak is mixed in."""
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True);"
        " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, check=True)
    return int(done.stdout) / 1024


def _peak_rss(name: str, args: list[str]) -> tuple[float, float]:
    """(ours, xmlsec1): the RSS peak the first import adds (schema loading included), and
    xmlsec1's peak RSS verifying the file minus that of ``xmlsec1 --version``."""
    code = _CHILD.format(src=str(ROOT / "src"), root=str(ROOT), path=str(TL / name), name=name)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    ours = int(done.stdout) / 1024
    peer = _child_maxrss(args) - _child_maxrss(["xmlsec1", "--version"])
    return ours, max(peer, 0.01)


# ---- validations per second with a 1,000-service list ----------------------------------


def _ca_cert(i: int) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "AA"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Bench Provider CA {i}"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def validation_rows(work: Path, quick: bool) -> list[dict[str, Any]]:
    from govtrust.config import load_settings
    from govtrust.services import Actor, Context, trustlists
    from govtrust.services.credentials import trusted_roots
    from govtrust.services.setup import init_home
    from govtrust.services.signing import Level, SignatureFormat, SigningOptions, sign_document
    from govtrust.services.truststore import trust_store
    from govtrust.validation import RevocationMode, ValidationPolicy
    from govtrust.validation.documents import validate_document

    home = work / "gt-trustlist"
    env = {"GOVTRUST_HOME": str(home), "GOVTRUST_KEY_PASSPHRASE": PASSPHRASE}
    init_home(home, env, demo=True)
    ctx = Context.open(load_settings(env))
    actor = Actor("bench", "admin")
    try:
        log("listing 999 more CA services")
        trustlists.add_provider(ctx, "Bench Providers", actor)
        for i in range(999):
            trustlists.add_service(
                ctx, "Bench Providers", f"Bench CA {i}", "CA/QC", _ca_cert(i), actor
            )
        pub = trustlists.publish(ctx, actor)
        t = time.perf_counter()
        summary = trustlists.import_list(
            ctx, actor, pinned=[trustlists.signer_certificate(ctx)], data=pub.xml
        )
        import_ms = (time.perf_counter() - t) * 1000
        log(f"imported {summary['services']} services in {import_ms:.0f} ms")
        pdf = sign_document(
            ctx,
            PDF_VECTOR.read_bytes(),
            "doc.pdf",
            "ministry-of-finance",
            actor,
            SigningOptions(format=SignatureFormat.PADES, level=Level.B_B),
        ).document.data

        def listed() -> None:
            store = trust_store(ctx)
            anchors = [
                c for c in store.anchors if (store.source_of(c) or "").startswith("trusted-list:")
            ]
            policy = (
                ValidationPolicy.builder()
                .trust_anchors(anchors)
                .revocation(RevocationMode.OFF)
                .build()
            )
            report = store.annotate(validate_document(pdf, policy, clock=ctx.clock))
            sig = report.signatures[0]
            assert report.indication.value == "TOTAL-PASSED", report.message
            assert sig.details["trustedList"]["country"] == "AA"

        roots = trusted_roots(ctx)

        def plain() -> None:
            policy = (
                ValidationPolicy.builder()
                .trust_anchors(roots)
                .revocation(RevocationMode.OFF)
                .build()
            )
            assert (
                validate_document(pdf, policy, clock=ctx.clock).indication.value == "TOTAL-PASSED"
            )

        listed()
        plain()
        n = 10 if quick else 40
        ours_rates, peer_rates = [], []
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(n):
                listed()
            ours_rates.append(n / (time.perf_counter() - t))
            t = time.perf_counter()
            for _ in range(n):
                plain()
            peer_rates.append(n / (time.perf_counter() - t))
        return [
            _row(
                f"import+verify our list of {summary['services']} services", import_ms, None, "ms"
            ),
            _row(
                f"PAdES validations/s, trust from a {summary['services']}-service list"
                " (peer: instance root, no list)",
                median(ours_rates),
                median(peer_rates),
                "validations/s",
            ),
        ]
    finally:
        ctx.close()


def main(quick: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="govtrust-trustlist-bench-") as tmp:
        work = Path(tmp)
        rows = import_rows(work, quick)
        rows += validation_rows(work, quick)
        return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    for row in main(args.quick):
        sys.stdout.write(json.dumps(row) + "\n")
