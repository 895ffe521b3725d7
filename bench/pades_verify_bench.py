"""PAdES validation benchmark: govtrust beside pyHanko's validator used directly.

    .venv/bin/python bench/pades_verify_bench.py [--quick]

Under a temporary ``govtrust init --demo`` home (SQLite), the demo agency seal
(``ministry-of-finance``, P-256) signs the shared 1-page PDF at PAdES B-B once; then,
in the same run and alternating batches so background load hits both alike, the
median time to validate that document:

- **ours**: :func:`govtrust.validation.documents.validate_document` (PDF detection,
  the ``/ByteRange`` rules, pyHanko's difference analysis and our change naming, the
  CMS signer checks and the EN 319 102-1 path validation to the demo root, the
  report), revocation checking off (``RevocationMode.OFF``);
- **peer**: in a child process that does not import govtrust (which speeds up
  pyHanko's PDF reader in its own process, ``govtrust/_pdf_hex.py``), pyHanko's
  ``validate_pdf_signature`` on ``reader.embedded_signatures[0]``
  with a fresh ``ValidationContext`` trusting the same root, the issuing CA as an
  extra certificate, no fetching (its soft-fail revocation mode then checks nothing
  either), i.e. the same work: integrity, coverage, diff analysis, chain.

Prints one JSON row per measurement: ``{"name", "ours", "peer", "unit", "ratio"}``
(ratio ours/peer, lower is better; the issue's goal is at most 1.0).
"""

from __future__ import annotations

import argparse
import json
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
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

import _peer  # noqa: E402

PDF_VECTOR = ROOT.parent / "shared" / "vectors" / "pdf" / "minimal.pdf"
CREDENTIAL = "ministry-of-finance"
PASSPHRASE = "bench-passphrase-0123456789"


def log(msg: str) -> None:
    sys.stderr.write(f"[pades-verify-bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def _row(name: str, ours: float | None, peer: float | None, unit: str) -> dict[str, Any]:
    ratio = ours / peer if ours is not None and peer else None
    return {"name": name, "ours": ours, "peer": peer, "unit": unit, "ratio": ratio}


def _env(home: Path) -> dict[str, str]:
    return {"GOVTRUST_HOME": str(home), "GOVTRUST_KEY_PASSPHRASE": PASSPHRASE}


def _open(home: Path) -> Any:
    from govtrust.config import load_settings
    from govtrust.services import Context

    return Context.open(load_settings(_env(home)))


def signed_pdf(home: Path) -> tuple[bytes, list[bytes]]:
    """A B-B PAdES of the 1-page vector, and the credential's chain (DER, leaf first)."""
    from govtrust.services import Actor
    from govtrust.services.credentials import describe_credential
    from govtrust.services.signing import Level, SigningOptions, SigningSession

    ctx = _open(home)
    try:
        session = SigningSession(
            ctx, CREDENTIAL, Actor("bench", "admin"), SigningOptions(level=Level.B_B)
        )
        data = session.sign(PDF_VECTOR.read_bytes(), "doc.pdf").document.data
        info = describe_credential(ctx, CREDENTIAL)
        return data, [info.certificate_der, *info.chain_der]
    finally:
        ctx.close()


def ours_validator(data: bytes, chain: list[bytes]) -> Callable[[], Any]:
    from cryptography import x509

    from govtrust.validation.documents import validate_document
    from govtrust.validation.indications import Indication
    from govtrust.validation.policy import Purpose, RevocationMode, ValidationPolicy

    root = x509.load_der_x509_certificate(chain[-1])
    policy = (
        ValidationPolicy.builder()
        .trust_anchors([root])
        .purpose(Purpose.SIGNATURE)
        .revocation(RevocationMode.OFF)
        .build()
    )
    report = validate_document(data, policy, name="doc.pdf")
    if report.indication is not Indication.TOTAL_PASSED:
        raise SystemExit(f"our validation does not pass: {report.message}")

    def run() -> Any:
        return validate_document(data, policy, name="doc.pdf")

    return run


def pyhanko_validator(data: bytes, chain: list[bytes]) -> Callable[[], Any]:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = asn1_x509.Certificate.load(chain[-1])
    others = [asn1_x509.Certificate.load(der) for der in chain[:-1]]

    def run() -> Any:
        context = ValidationContext(trust_roots=[root], other_certs=others, allow_fetching=False)
        reader = PdfFileReader(BytesIO(data))
        return validate_pdf_signature(reader.embedded_signatures[0], context)

    status = run()
    if not status.bottom_line:
        raise SystemExit(f"pyHanko's validation does not pass: {status.summary()}")
    return run


def peer_worker(work: Path) -> None:
    """The child of a :class:`_peer.PeerProcess`: pyHanko's validator, timed in
    batches, on the document and chain the parent wrote into ``work``."""
    data = (work / "peer.pdf").read_bytes()
    chain = [p.read_bytes() for p in sorted(work.glob("peer-chain-*.der"))]
    _peer.serve(_peer.timed(pyhanko_validator(data, chain)))


def _peer_process(work: Path, data: bytes, chain: list[bytes]) -> _peer.PeerProcess:
    (work / "peer.pdf").write_bytes(data)
    for i, der in enumerate(chain):
        (work / f"peer-chain-{i}.der").write_bytes(der)
    return _peer.PeerProcess(Path(__file__).resolve(), str(work))


def main(quick: bool) -> list[dict[str, Any]]:
    from govtrust.services.setup import init_home

    with tempfile.TemporaryDirectory(prefix="govtrust-pades-verify-bench-") as tmp:
        home = Path(tmp) / "gt-verify"
        log("init --demo")
        init_home(home, _env(home), demo=True)
        data, chain = signed_pdf(home)
        reps, n = (2, 20) if quick else (6, 50)
        peer = _peer_process(Path(tmp), data, chain)
        try:
            ours_ms, peer_ms = _peer.alternate(
                reps, n, _peer.timed(ours_validator(data, chain)), peer.batch
            )
        finally:
            peer.close()
        log(f"PAdES B-B validate: ours {ours_ms:.2f} ms, pyHanko {peer_ms:.2f} ms")
        return [
            _row(
                "PAdES B-B validate, 1-page PDF, P-256 (median per document)",
                ours_ms,
                peer_ms,
                "ms",
            )
        ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--peer-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_worker is not None:
        peer_worker(args.peer_worker)
        raise SystemExit(0)
    for row in main(args.quick):
        sys.stdout.write(json.dumps(row) + "\n")
