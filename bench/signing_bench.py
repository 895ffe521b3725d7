"""Signing benchmarks: govtrust beside pyHanko used directly and ``openssl cms``.

    .venv/bin/python bench/signing_bench.py [--quick]

Everything runs under a temporary ``govtrust init --demo`` home (SQLite), on the
same machine and in the same run, alternating ours and the peer in every repetition
so that background load drifts hit both alike; figures are medians.

- **PAdES B-B, 1-page PDF** (ms per document): govtrust's service path
  (``SigningSession.sign``: credential in software custody, pyHanko through the
  ``Signer`` bridge, the ``sign.create`` audit record committed to the database) beside
  pyHanko's ``PdfSigner.sign_pdf`` with a ``SimpleSigner`` holding the same P-256 key in
  memory, same PDF, same ``/ETSI.CAdES.detached`` subfilter.
- **PAdES B-LT** (ms per document): ours adds the signature time-stamp from this
  instance's TSA (a serial number and an audit record in the database per token) and
  the DSS with OCSP responses from the in-process OCSP service; pyHanko directly gets
  its best case: an in-memory ``DummyTimeStamper`` and a ``ValidationContext``
  pre-loaded with the same OCSP responses (nothing fetched).
- **Batch PAdES B-B on 2 cores** (PDFs per second): two worker processes, each with its
  own context and session, signing the same 1-page PDF; wall time over all documents.
  The peer is pyHanko directly in two processes. Goal (issue 3): 200 PDFs/s.
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
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

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
    """The credential's key, certificate and chain as PEM files, for the peers (the
    bench's own temporary copy: govtrust never exports a key)."""
    from cryptography.hazmat.primitives import serialization

    from govtrust.services.credentials import get_credential

    ctx = _open(home)
    try:
        cred = get_credential(ctx, CREDENTIAL)
        key = cred.signer.as_private_key()
        pem = serialization.Encoding.PEM
        paths = {name: work / f"{name}.pem" for name in ("key", "cert", "chain", "root")}
        paths["key"].write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        paths["cert"].write_bytes(cred.certificate.public_bytes(pem))
        paths["chain"].write_bytes(b"".join(c.public_bytes(pem) for c in cred.chain[:-1]))
        paths["root"].write_bytes(cred.chain[-1].public_bytes(pem))
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


def pyhanko_signer(
    paths: dict[str, Path], lt: bool, home: Path | None = None
) -> Callable[[bytes], bytes]:
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
        assert home is not None
        timestamper, context = _pyhanko_lt(paths, home)
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


def _memory_timestamper(ctx: Any) -> Any:
    """pyHanko's TimeStamper answered in memory by govtrust's RFC 3161 token builder with
    the demo TSA's key: no database, no HTTP (pyHanko's own DummyTimeStamper is
    RSA-only, the demo TSA key is P-256)."""
    import itertools

    from asn1crypto import tsp
    from pyhanko.sign.timestamps.api import TimeStamper

    from govtrust.clock import SystemClock
    from govtrust.services.credentials import get_credential
    from govtrust.tsa import Accuracy, TimestampAuthority, granted, parse_query

    tsa = get_credential(ctx, "tsa")
    authority = TimestampAuthority(
        tsa.certificate, tsa.signer, ctx.settings.tsa.policy, Accuracy(1, 0), chain=tsa.chain
    )
    serials = itertools.count(1)
    clock = SystemClock()

    class MemoryTimeStamper(TimeStamper):
        async def async_request_tsa_response(self, req: Any) -> Any:
            token = authority.issue(parse_query(req.dump()), next(serials), clock.now())
            return tsp.TimeStampResp.load(granted(token))

    return MemoryTimeStamper(), tsa


def _pyhanko_lt(paths: dict[str, Path], home: Path) -> tuple[Any, Any]:
    """pyHanko's best case for B-LT: an in-memory TSA and the OCSP answers pre-loaded."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko_certvalidator import ValidationContext

    from govtrust.crypto._pyhanko import to_asn1
    from govtrust.services.credentials import get_credential
    from govtrust.services.signing import InProcessRevocation

    ctx = _open(home)
    try:
        timestamper, tsa = _memory_timestamper(ctx)
        signer_cred = get_credential(ctx, CREDENTIAL)
        source = InProcessRevocation(ctx)
        ocsps = [
            source.ocsp(cert, issuer)
            for cert, issuer in (
                (signer_cred.certificate, signer_cred.chain[0]),
                (tsa.certificate, tsa.chain[0]),
                (signer_cred.chain[0], signer_cred.chain[1]),
            )
        ]
        context = ValidationContext(
            trust_roots=[load_cert_from_pemder(str(paths["root"]))],
            other_certs=[to_asn1(c) for c in (*signer_cred.chain, *tsa.chain)],
            ocsps=[o for o in ocsps if o is not None],
            allow_fetching=False,
        )
        return timestamper, context
    finally:
        ctx.close()


def _alternate(
    reps: int, n: int, ours: Callable[[], Any], peer: Callable[[], Any]
) -> tuple[float, float]:
    """Median ms per call of ``ours`` and ``peer``, alternating batches of ``n``."""
    ours(), peer()  # warm-up (imports, caches, the TSA's first load)
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(reps):
        for fn, out in ((ours, mine), (peer, theirs)):
            for _ in range(n):
                start = time.perf_counter()
                fn()
                out.append(1000 * (time.perf_counter() - start))
    return statistics.median(mine), statistics.median(theirs)


def pades_rows(home: Path, paths: dict[str, Path], quick: bool) -> list[dict[str, Any]]:
    pdf = _pdf()
    reps, n = (2, 10) if quick else (5, 20)
    rows = []
    for level, lt in (("B-B", False), ("B-LT", True)):
        ctx, sign = ours_signer(home, level)
        try:
            peer = pyhanko_signer(paths, lt, home)
            ours_ms, peer_ms = _alternate(
                reps,
                n,
                lambda sign=sign: sign(pdf, "doc.pdf"),  # type: ignore[misc]
                lambda peer=peer: peer(pdf),  # type: ignore[misc]
            )
        finally:
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    for row in main(args.quick):
        sys.stdout.write(json.dumps(row) + "\n")
