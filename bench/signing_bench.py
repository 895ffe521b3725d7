"""Signing benchmarks: govtrust beside pyHanko used directly and ``openssl cms``.

    .venv/bin/python bench/signing_bench.py [--quick]

Everything runs under a temporary ``govtrust init --demo`` home (SQLite), on the
same machine and in the same run, alternating ours and the peer in every repetition
so that background load drifts hit both alike; figures are medians.

- **PAdES B-B, 1-page PDF** (ms per document): govtrust's service path
  (``SigningSession.sign``: credential in software custody, pyHanko's PDF writer with
  govtrust's own CMS encoding, the ``sign.create`` audit record committed to the
  database) beside pyHanko's ``PdfSigner.sign_pdf`` with a ``SimpleSigner`` holding the
  same P-256 key in memory, same PDF, same ``/ETSI.CAdES.detached`` subfilter.
- **PAdES B-LT** (ms per document): ours adds the signature time-stamp from this
  instance's TSA (a serial number and an audit record in the database per token) and
  the DSS with OCSP responses from the in-process OCSP service; pyHanko directly gets
  its best case: pyHanko's in-memory ``DummyTimeStamper`` with the demo TSA's key and
  certificate (its signing step adapted from RSA to ECDSA, the demo TSA key being
  P-256) and a ``ValidationContext`` pre-loaded with the same OCSP responses (nothing
  fetched).
- **Batch PAdES B-B on 2 cores** (PDFs per second): two worker processes, each with its
  own context and session, signing the same 1-page PDF; wall time over all documents.
  The peer is pyHanko directly in two processes. Goal (issue 3): 200 PDFs/s.

The pyHanko peer always runs in processes that never import govtrust (checked in
them): importing govtrust's PDF modules replaces pyHanko's hexadecimal-string reader by
a faster one (``govtrust/_pdf_hex.py``), and the peer would no longer be pyHanko used
directly. The single-document rows talk to a child process (:class:`_peer.PeerProcess`,
:func:`peer_worker`) that gets the key material and OCSP responses as files; the batch
rows spawn their peer workers from this module, which imports govtrust only inside
the functions of our side.
- **CAdES detached, 1 MB** (ms per file): ours (``SigningSession.sign``, with the audit
  record) beside ``openssl cms -sign -binary`` with the same key and certificate,
  net of process start (``N`` invocations minus ``N`` of ``openssl version``).

``main(quick)`` returns rows ``{"name", "ours", "peer", "unit", "ratio"}``; the ratio
is ours/peer (time: lower is better; throughput: higher is better).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

import _peer  # noqa: E402

PDF_VECTOR = ROOT.parent / "shared" / "vectors" / "pdf" / "minimal.pdf"
CREDENTIAL = "ministry-of-finance"
PASSPHRASE = "bench-passphrase-0123456789"


def log(msg: str) -> None:
    sys.stderr.write(f"[signing-bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def _row(name: str, ours: float | None, peer: float | None, unit: str) -> dict[str, Any]:
    ratio = ours / peer if ours is not None and peer else None
    return {"name": name, "ours": ours, "peer": peer, "unit": unit, "ratio": ratio}


def _env(home: Path) -> dict[str, str]:
    return {"GOVTRUST_HOME": str(home), "GOVTRUST_KEY_PASSPHRASE": PASSPHRASE}


def _pdf() -> bytes:
    """The shared one-page PDF test vector (``minimal.pdf``)."""
    return PDF_VECTOR.read_bytes()


# ---- setup -----------------------------------------------------------------------------


def init_home(work: Path) -> Path:
    from govtrust.services.setup import init_home as init

    home = work / "gt-signing"
    init(home, _env(home), demo=True)
    return home


def _open(home: Path) -> Any:
    from govtrust.config import load_settings
    from govtrust.services import Context

    return Context.open(load_settings(_env(home)))


def export_key_material(home: Path, work: Path) -> dict[str, Path]:
    """For the peers, as files (the bench's own temporary copy: govtrust never exports a
    key): the credential's key, certificate and chain, the demo TSA's key, certificate
    and chain, and OCSP responses from the instance's OCSP service for the signer, the
    TSA and the issuing CA (what the B-LT peer embeds)."""
    from cryptography.hazmat.primitives import serialization

    from govtrust.services.credentials import get_credential
    from govtrust.services.signing import InProcessRevocation

    pem = serialization.Encoding.PEM

    def key_pem(cred: Any) -> bytes:
        return bytes(
            cred.signer.as_private_key().private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    ctx = _open(home)
    try:
        cred = get_credential(ctx, CREDENTIAL)
        tsa = get_credential(ctx, "tsa")
        names = ("key", "cert", "chain", "root", "tsa-key", "tsa-cert", "tsa-chain")
        paths = {name: work / f"{name}.pem" for name in names}
        paths["key"].write_bytes(key_pem(cred))
        paths["cert"].write_bytes(cred.certificate.public_bytes(pem))
        paths["chain"].write_bytes(b"".join(c.public_bytes(pem) for c in cred.chain[:-1]))
        paths["root"].write_bytes(cred.chain[-1].public_bytes(pem))
        paths["tsa-key"].write_bytes(key_pem(tsa))
        paths["tsa-cert"].write_bytes(tsa.certificate.public_bytes(pem))
        paths["tsa-chain"].write_bytes(b"".join(c.public_bytes(pem) for c in tsa.chain))
        source = InProcessRevocation(ctx)
        pairs = (
            (cred.certificate, cred.chain[0]),
            (tsa.certificate, tsa.chain[0]),
            (cred.chain[0], cred.chain[1]),
        )
        for index, (cert, issuer) in enumerate(pairs):
            response = source.ocsp(cert, issuer)
            if response is not None:
                paths[f"ocsp-{index}"] = work / f"ocsp-{index}.der"
                paths[f"ocsp-{index}"].write_bytes(response)
        return paths
    finally:
        ctx.close()


# ---- PAdES, ours and pyHanko's ------------------------------------------------------------


def ours_signer(
    home: Path, level: str, fmt: str | None = None
) -> tuple[Any, Callable[[bytes, str], Any]]:
    from govtrust.services import Actor
    from govtrust.services.signing import Level, SignatureFormat, SigningOptions, SigningSession

    ctx = _open(home)
    options = SigningOptions(
        level=Level.parse(level), format=SignatureFormat.parse(fmt) if fmt else None
    )
    session = SigningSession(ctx, CREDENTIAL, Actor("bench", "admin"), options)
    return ctx, session.sign


def pyhanko_signer(paths: dict[str, Path], lt: bool) -> Callable[[bytes], bytes]:
    """pyHanko's ``PdfSigner.sign_pdf`` with the exported key material (no govtrust)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = signers.SimpleSigner.load(
        str(paths["key"]),
        str(paths["cert"]),
        ca_chain_files=(str(paths["chain"]), str(paths["root"])),
    )
    assert signer is not None
    timestamper = None
    context = None
    if lt:
        timestamper, context = _pyhanko_lt(paths)
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=lt,
        validation_context=context,
    )
    pdf_signer = signers.PdfSigner(meta, signer, timestamper=timestamper)

    def sign(pdf: bytes) -> bytes:
        out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)))
        return bytes(out.getvalue())

    return sign


def _ecdsa_dummy_timestamper(paths: dict[str, Path]) -> Any:
    """pyHanko's in-memory ``DummyTimeStamper`` with the demo TSA's key and certificate.

    pyHanko's class signs with RSA only; the demo TSA key is P-256, so its two signing
    steps are redone here for ECDSA (the same signed attributes, ecdsa-with-SHA-n)."""
    from asn1crypto import algos, cms, core
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from pyhanko.keys import load_cert_from_pemder, load_certs_from_pemder
    from pyhanko.sign import general
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    loaded = serialization.load_pem_private_key(paths["tsa-key"].read_bytes(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    key: ec.EllipticCurvePrivateKey = loaded
    hashes_by_name = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}

    class EcdsaDummyTimeStamper(DummyTimeStamper):
        def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, dt: Any) -> Any:
            algorithm = hashes_by_name[md_algorithm]
            digest = hashes.Hash(algorithm)
            digest.update(tst_info_data)
            signed_attrs = cms.CMSAttributes(
                [
                    general.simple_cms_attribute("content_type", "tst_info"),
                    general.simple_cms_attribute(
                        "signing_time", cms.Time({"utc_time": core.UTCTime(dt)})
                    ),
                    general.simple_cms_attribute(
                        "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                    ),
                    general.simple_cms_attribute("message_digest", digest.finalize()),
                ]
            )
            return key.sign(signed_attrs.dump(), ec.ECDSA(algorithm)), signed_attrs

        def _build_signed_data(self, *args: Any) -> dict[str, Any]:
            signed_data: dict[str, Any] = super()._build_signed_data(*args)
            md_algorithm = args[1]
            signed_data["signer_infos"][0]["signature_algorithm"] = algos.SignedDigestAlgorithm(
                {"algorithm": f"{md_algorithm}_ecdsa"}
            )
            return signed_data

    return EcdsaDummyTimeStamper(
        tsa_cert=load_cert_from_pemder(str(paths["tsa-cert"])),
        tsa_key=None,  # _sign_tst_info above holds the key
        certs_to_embed=list(load_certs_from_pemder([str(paths["tsa-chain"])])),
    )


def _pyhanko_lt(paths: dict[str, Path]) -> tuple[Any, Any]:
    """pyHanko's best case for B-LT: an in-memory TSA and the OCSP answers pre-loaded."""
    from asn1crypto import ocsp
    from pyhanko.keys import load_cert_from_pemder, load_certs_from_pemder
    from pyhanko_certvalidator import ValidationContext

    others = load_certs_from_pemder([str(paths[n]) for n in ("chain", "tsa-chain")])
    ocsps = [
        ocsp.OCSPResponse.load(path.read_bytes())
        for name, path in sorted(paths.items())
        if name.startswith("ocsp-")
    ]
    context = ValidationContext(
        trust_roots=[load_cert_from_pemder(str(paths["root"]))],
        other_certs=list(others),
        ocsps=ocsps,
        allow_fetching=False,
    )
    return _ecdsa_dummy_timestamper(paths), context


def peer_worker(spec: str) -> None:
    """The child of a :class:`_peer.PeerProcess`: pyHanko's signer, timed in batches."""
    config = json.loads(spec)
    pdf = _pdf()
    sign = pyhanko_signer({k: Path(v) for k, v in config["paths"].items()}, config["lt"])
    _peer.serve(_peer.timed(lambda: sign(pdf)))


def _peer_process(paths: dict[str, Path], lt: bool) -> _peer.PeerProcess:
    spec = json.dumps({"paths": {k: str(v) for k, v in paths.items()}, "lt": lt})
    return _peer.PeerProcess(Path(__file__).resolve(), spec)


def pades_rows(home: Path, paths: dict[str, Path], quick: bool) -> list[dict[str, Any]]:
    pdf = _pdf()
    reps, n = (2, 10) if quick else (5, 20)
    rows = []
    for level, lt in (("B-B", False), ("B-LT", True)):
        ctx, sign = ours_signer(home, level)
        peer = _peer_process(paths, lt)
        try:
            ours_ms, peer_ms = _peer.alternate(
                reps, n, _peer.timed(partial(sign, pdf, "doc.pdf")), peer.batch
            )
        finally:
            peer.close()
            ctx.close()
        log(f"PAdES {level}: ours {ours_ms:.1f} ms, pyHanko {peer_ms:.1f} ms")
        rows.append(
            _row(f"PAdES {level} sign, 1-page PDF (median per document)", ours_ms, peer_ms, "ms")
        )
    return rows


# ---- batch on 2 cores --------------------------------------------------------------------


def _batch_worker(
    kind: str, home: str, paths: dict[str, str], count: int, start_at: float, queue: Any
) -> None:
    pdf = _pdf()
    if kind == "ours":
        ctx, sign = ours_signer(Path(home), "B-B")
        fn: Callable[[], Any] = lambda: sign(pdf, "doc.pdf")  # noqa: E731
    else:
        ctx = None
        peer = pyhanko_signer({k: Path(v) for k, v in paths.items()}, lt=False)
        _peer.assert_raw_pyhanko()  # this spawned process imports govtrust only on our side
        fn = lambda: peer(pdf)  # noqa: E731
    fn()  # warm-up, before the common start
    while time.time() < start_at:
        time.sleep(0.001)
    begin = time.perf_counter()
    for _ in range(count):
        fn()
    queue.put(time.perf_counter() - begin)
    if ctx is not None:
        ctx.close()


def batch_throughput(
    kind: str, home: Path, paths: dict[str, Path], per_worker: int, workers: int = 2
) -> float:
    context = multiprocessing.get_context("spawn")
    q = context.Queue()
    start_at = time.time() + 8.0  # every worker imported and warmed up by then
    procs = [
        context.Process(
            target=_batch_worker,
            args=(
                kind,
                str(home),
                {k: str(v) for k, v in paths.items()},
                per_worker,
                start_at,
                q,
            ),
        )
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    times = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return workers * per_worker / max(times)


def batch_rows(home: Path, paths: dict[str, Path], quick: bool) -> list[dict[str, Any]]:
    per_worker = 60 if quick else 250
    runs = 1 if quick else 3
    ours_runs, peer_runs = [], []
    for _ in range(runs):  # alternate, so that load drifts hit both
        ours_runs.append(batch_throughput("ours", home, paths, per_worker))
        peer_runs.append(batch_throughput("pyhanko", home, paths, per_worker))
    ours, peer = statistics.median(ours_runs), statistics.median(peer_runs)
    log(f"batch B-B on 2 processes: ours {ours:.0f}/s, pyHanko {peer:.0f}/s (goal 200/s)")
    return [_row("Batch PAdES B-B signing, 2 processes", ours, peer, "PDFs/s")]


# ---- CAdES, ours and openssl ---------------------------------------------------------------


def _time_invocations(argv: list[str], n: int, cwd: Path) -> float:
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - start


def cades_rows(home: Path, paths: dict[str, Path], work: Path, quick: bool) -> list[dict[str, Any]]:
    data = os.urandom(1 << 20)
    content = work / "data.bin"
    content.write_bytes(data)
    ctx, sign = ours_signer(home, "B-B", "cades")
    try:
        reps, n = (2, 10) if quick else (5, 20)
        sign(data, "data.bin")
        times = []
        for _ in range(reps * n):
            start = time.perf_counter()
            sign(data, "data.bin")
            times.append(1000 * (time.perf_counter() - start))
        ours_ms = statistics.median(times)
    finally:
        ctx.close()
    argv = [
        "openssl", "cms", "-sign", "-binary", "-in", str(content), "-signer", str(paths["cert"]),
        "-inkey", str(paths["key"]), "-certfile", str(paths["chain"]), "-outform", "DER",
        "-md", "sha256", "-nosmimecap", "-out", str(work / "openssl.p7s"),
    ]  # fmt: skip
    invocations = 10 if quick else 40
    t_sign = t_trivial = 0.0
    for _ in range(2):
        t_trivial += _time_invocations(["openssl", "version"], invocations // 2, work)
        t_sign += _time_invocations(argv, invocations // 2, work)
    peer_ms = max(1000 * (t_sign - t_trivial) / invocations, 1e-3)
    log(f"CAdES 1 MB: ours {ours_ms:.1f} ms, openssl cms {peer_ms:.1f} ms (net of process start)")
    return [_row("CAdES detached sign, 1 MB file (per file)", ours_ms, peer_ms, "ms")]


# ---- main --------------------------------------------------------------------------------


def main(quick: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="govtrust-signing-bench-") as tmp:
        work = Path(tmp)
        log("init --demo")
        home = init_home(work)
        paths = export_key_material(home, work)
        rows = pades_rows(home, paths, quick)
        rows += batch_rows(home, paths, quick)
        rows += cades_rows(home, paths, work, quick)
        return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--peer-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_worker is not None:
        peer_worker(args.peer_worker)
        raise SystemExit(0)
    for row in main(args.quick):
        sys.stdout.write(json.dumps(row) + "\n")
