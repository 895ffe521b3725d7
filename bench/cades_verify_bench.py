"""CAdES validation benchmark: govtrust beside ``openssl cms -verify``.

    .venv/bin/python bench/cades_verify_bench.py [--quick]

Under a temporary ``govtrust init --demo`` home (SQLite), the ``ministry-of-finance``
seal signs a 1 MB file of random bytes (detached CAdES, through
``govtrust.services.signing``). Then, in the same run and on the same machine:

- **ours** (ms per validation, median over N runs, in-process): ``validate_document``
  of the ``.p7s`` over the file: format detection, the SignerInfo's integrity
  (SHA-256 of 1 MB, the ECDSA signature), the signing-certificate-v2 check, path
  building and validation to the demo root (EN 319 102-1 §5.3). Revocation is off in
  the B-B row, because ``openssl cms -verify`` checks none (a like-for-like row); the
  B-LT row adds the signature time-stamp's validation (a second path, to the TSA)
  and revocation checking from the OCSP responses the signature embeds (policy
  ``require``, nothing fetched), which openssl does not do at all;
- **peer** (ms per validation): ``openssl cms -verify -binary -inform DER -content
  FILE -CAfile chain.pem -purpose any`` of the same files, net of process start
  (``N`` invocations minus ``N`` of ``openssl version``, interleaved).

Rows ``{"name", "ours", "peer", "unit", "ratio"}``; the ratio is ours/peer (lower is
better).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

CREDENTIAL = "ministry-of-finance"
PASSPHRASE = "bench-passphrase-0123456789"


def log(msg: str) -> None:
    sys.stderr.write(f"[cades-verify-bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def _row(name: str, ours: float, peer: float, unit: str) -> dict[str, Any]:
    return {"name": name, "ours": ours, "peer": peer, "unit": unit, "ratio": ours / peer}


def _env(home: Path) -> dict[str, str]:
    return {"GOVTRUST_HOME": str(home), "GOVTRUST_KEY_PASSPHRASE": PASSPHRASE}


def _open(home: Path) -> Any:
    from govtrust.config import load_settings
    from govtrust.services import Context

    return Context.open(load_settings(_env(home)))


def _setup(work: Path, data: bytes) -> tuple[dict[str, bytes], Path, list[Any]]:
    """The demo home, the signatures (per level) and the chain file for openssl."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from govtrust.services import Actor
    from govtrust.services.credentials import describe_credential, trusted_roots
    from govtrust.services.setup import init_home
    from govtrust.services.signing import Level, SigningOptions, sign_document

    home = work / "gt-verify"
    init_home(home, _env(home), demo=True)
    ctx = _open(home)
    try:
        sigs = {
            level: sign_document(
                ctx,
                data,
                "data.bin",
                CREDENTIAL,
                Actor("bench", "admin"),
                SigningOptions(level=Level.parse(level)),
            ).document.data
            for level in ("B-B", "B-LT")
        }
        from cryptography import x509

        info = describe_credential(ctx, CREDENTIAL)
        chain = [x509.load_der_x509_certificate(d) for d in info.chain_der]
        roots = trusted_roots(ctx)
    finally:
        ctx.close()
    chain_file = work / "chain.pem"
    chain_file.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in chain))
    return sigs, chain_file, roots


def _time_invocations(argv: list[str], n: int, cwd: Path) -> float:
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - start


def _openssl_ms(sig: Path, content: Path, chain: Path, work: Path, invocations: int) -> float:
    argv = [
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig),
        "-content", str(content), "-CAfile", str(chain), "-purpose", "any", "-out", os.devnull,
    ]  # fmt: skip
    subprocess.run(argv, cwd=work, check=True, capture_output=True, timeout=60)  # it verifies
    t_verify = t_trivial = 0.0
    for _ in range(2):
        t_trivial += _time_invocations(["openssl", "version"], invocations // 2, work)
        t_verify += _time_invocations(argv, invocations // 2, work)
    return max(1000 * (t_verify - t_trivial) / invocations, 1e-3)


def _ours_ms(sig: bytes, data: bytes, roots: list[Any], revocation: str, runs: int) -> float:
    from govtrust.validation import Indication, ValidationPolicy
    from govtrust.validation.documents import validate_document

    policy = ValidationPolicy.builder().trust_anchors(roots).revocation(revocation).build()
    first = validate_document(data, policy, detached=sig)  # warm-up, and a check
    if first.indication is not Indication.TOTAL_PASSED:
        raise SystemExit(f"the signature did not validate: {first.message}")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        validate_document(data, policy, detached=sig)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main(quick: bool) -> list[dict[str, Any]]:
    runs, invocations = (10, 10) if quick else (40, 40)
    data = os.urandom(1 << 20)
    rows = []
    with tempfile.TemporaryDirectory(prefix="govtrust-cades-verify-bench-") as tmp:
        work = Path(tmp)
        log("init --demo, signing 1 MB at B-B and B-LT")
        sigs, chain, roots = _setup(work, data)
        content = work / "data.bin"
        content.write_bytes(data)
        for level, revocation in (("B-B", "off"), ("B-LT", "require")):
            sig_file = work / f"data-{level}.p7s"
            sig_file.write_bytes(sigs[level])
            # Alternate: ours, openssl, ours, openssl (background drift hits both).
            ours = [_ours_ms(sigs[level], data, roots, revocation, runs // 2) for _ in range(2)]
            peer = [_openssl_ms(sig_file, content, chain, work, invocations) for _ in range(2)]
            ours_ms, peer_ms = statistics.median(ours), statistics.median(peer)
            log(
                f"CAdES {level} 1 MB: ours {ours_ms:.1f} ms (revocation {revocation}), "
                f"openssl cms -verify {peer_ms:.1f} ms (net of process start), "
                f"ratio {ours_ms / peer_ms:.2f}"
            )
            rows.append(
                _row(f"CAdES {level} detached validation, 1 MB file", ours_ms, peer_ms, "ms")
            )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    for row in main(args.quick):
        sys.stdout.write(json.dumps(row) + "\n")
