"""Timestamp authority benchmark: RFC 3161 tokens per second.

    .venv/bin/python bench/tsa_bench.py [--quick]

- **govtrust over HTTP**: ``govtrust serve --workers 2`` on a temporary GOVTRUST_HOME
  (``govtrust init --demo``: the TSA signs with a P-256 key in software custody), loaded
  by ``wrk`` with a Lua script POSTing one fixed ``application/timestamp-query``
  (SHA-256 imprint, nonce, certReq), with 16 and then 64 connections (the TSA commits
  the requests that arrive together in one transaction: more in flight, larger
  batches per fsync). Every reply is HTTP 200 whatever its PKIStatus, so
  wrk's count is not trusted: the figure is *tokens issued*, counted in the database
  (``tsa_token`` rows) before and after each run, per second of the run.
- **govtrust in-process**: ``TsaService.respond`` in a loop, one thread, no HTTP: the
  same transaction (serial + audit), for where the time goes.
- **openssl ts -reply** as the peer: the same kind of key (P-256) and token options
  (policy, accuracy, ESSCertIDv2, TSA name, certificate), one process per token as
  openssl's TSA works. ``N`` invocations are timed, and ``N`` invocations of a trivial
  command (``openssl version``) are subtracted, so the figure is the per-token work net
  of process start. openssl keeps no audit record and writes only its serial file.

``main(quick)`` returns rows ``{"name", "ours", "peer", "unit", "ratio"}``; bench/run.py
calls it. Everything runs under a temporary directory and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import _proc  # noqa: E402
import _wrk  # noqa: E402

POLICY = "1.3.6.1.4.1.58995.1.1"
GOAL = 3000.0  # tokens/s over HTTP on 2 cores (issue 3)


def log(msg: str) -> None:
    sys.stderr.write(f"[tsa-bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def _row(name: str, ours: float | None, peer: float | None, unit: str) -> dict[str, Any]:
    ratio = ours / peer if ours is not None and peer else None
    return {"name": name, "ours": ours, "peer": peer, "unit": unit, "ratio": ratio}


# ---- govtrust ----------------------------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVTRUST_")}
    env["GOVTRUST_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _govtrust_bin() -> Path:
    return Path(sys.executable).parent / "govtrust"


def init_home(work: Path) -> Path:
    home = work / "gt-tsa"
    subprocess.run(
        [str(_govtrust_bin()), "init", "--demo"],
        env=_env(home),
        cwd=work,
        check=True,
        capture_output=True,
        timeout=600,
    )
    # Keep the background refresher (OCSP pre-signing, CRLs) out of the measurement.
    cfg = home / "govtrust.toml"
    cfg.write_text(cfg.read_text().replace("interval_seconds = 60", "interval_seconds = 86400"))
    return home


def _workers_started(server: _proc.Server) -> int:
    pids = {int(p) for p in re.findall(r"Started server process \[(\d+)\]", server.log_text())}
    return len(pids & set(server.tree()))


def start_server(work: Path, home: Path, workers: int) -> _proc.Server:
    port = _proc.free_port()
    server = _proc.start(
        "govtrust-tsa",
        [
            str(_govtrust_bin()),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=work,
        env=_env(home),
        log=work / "govtrust-tsa.log",
        url=f"http://127.0.0.1:{port}",
    )
    _proc.wait_http(
        f"{server.url}/ca/root.crt", timeout=180, alive=lambda: server.proc.poll() is None
    )
    deadline = time.monotonic() + 180
    while _workers_started(server) < workers:
        if time.monotonic() > deadline or server.proc.poll() is not None:
            raise RuntimeError(f"workers did not start:\n{server.log_text()}")
        time.sleep(0.5)
    return server


def _tokens_issued(home: Path) -> int:
    with sqlite3.connect(home / "govtrust.db", timeout=60) as db:
        return int(db.execute("SELECT count(*) FROM tsa_token").fetchone()[0])


def make_query(work: Path) -> tuple[Path, Any]:
    from govtrust.tsa import build_query

    der, query = build_query(b"benchmark document\n", "sha256", cert_req=True)
    path = work / "query.tsq"
    path.write_bytes(der)
    return path, query


def check_granted(url: str, query_file: Path, query: Any) -> None:
    from govtrust.tsa import check_reply

    status, body, headers = _proc.http(
        f"{url}/tsa",
        method="POST",
        body=query_file.read_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
    )
    assert status == 200 and headers.get("content-type") == "application/timestamp-reply"
    reply = check_reply(body, query)  # raises unless granted, matching and signed
    assert reply.policy == POLICY, reply.policy


def http_runs(
    server: _proc.Server,
    home: Path,
    script: Path,
    *,
    duration: float,
    reps: int,
    connections: int = 16,
) -> list[dict[str, Any]]:
    runs = []
    _wrk.run(f"{server.url}/tsa", threads=2, connections=connections, duration=1, script=script)
    for i in range(reps):
        before = _tokens_issued(home)
        cpu0 = sum(_proc.cpu_seconds(p) for p in server.tree())
        res = _wrk.run(
            f"{server.url}/tsa",
            threads=2,
            connections=connections,
            duration=duration,
            script=script,
        )
        cpu = sum(_proc.cpu_seconds(p) for p in server.tree()) - cpu0
        tokens = _tokens_issued(home) - before
        run = {
            **res.to_dict(),
            "tokens": tokens,
            "tokens_per_s": tokens / res.seconds,
            "server_cpu_ms_per_token": 1000 * cpu / tokens if tokens else None,
            "server_cpu_util": cpu / res.seconds,
        }
        runs.append(run)
        log(
            f"  HTTP run {i + 1}/{reps}, {connections} connections: "
            f"{run['tokens_per_s']:,.0f} tokens/s "
            f"({res.requests} requests, {tokens} tokens, p50 {res.latency_p50_ms:.1f} ms, "
            f"server CPU {run['server_cpu_util']:.2f} cores)"
        )
        if res.socket_errors or res.timeouts or res.non_2xx:
            log(f"  warning: {res.socket_errors} socket errors, {res.timeouts} timeouts")
    return runs


_IN_PROCESS = """
import json, os, sys, time
from govtrust.config import load_settings
from govtrust.services import Context
from govtrust.services.tsa import TsaService
ctx = Context.open(load_settings(os.environ), migrate=False)
svc = TsaService(ctx)
query = open(sys.argv[1], "rb").read()
svc.respond(query)
n, start = 0, time.perf_counter()
while time.perf_counter() - start < float(sys.argv[2]):
    svc.respond(query)
    n += 1
print(json.dumps({"tokens_per_s": n / (time.perf_counter() - start)}))
"""


def in_process(work: Path, home: Path, query_file: Path, seconds: float) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS, str(query_file), str(seconds)],
        env=_env(home),
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 120,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["tokens_per_s"])


# ---- openssl -----------------------------------------------------------------------------

_OPENSSL_CNF = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def openssl_tsa(work: Path) -> Path:
    """A P-256 root and TSA certificate (critical EKU timeStamping) for openssl."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = work / "openssl-tsa"
    directory.mkdir()
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    root_key = ec.generate_private_key(ec.SECP384R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(name("Bench Root"))
        .issuer_name(name("Bench Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(root_key, hashes.SHA384())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("Bench TSA"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .sign(root_key, hashes.SHA384())
    )
    pem = serialization.Encoding.PEM
    (directory / "root.pem").write_bytes(root.public_bytes(pem))
    (directory / "tsa.pem").write_bytes(cert.public_bytes(pem))
    (directory / "tsa.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (directory / "tsaserial").write_text("01\n")
    (directory / "tsa.cnf").write_text(_OPENSSL_CNF.format(dir=directory, policy=POLICY))
    return directory


def _time_invocations(argv: list[str], n: int, cwd: Path) -> float:
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - start


def openssl_per_token(work: Path, query_file: Path, n: int) -> dict[str, float]:
    directory = openssl_tsa(work)
    reply = ["openssl", "ts", "-reply", "-config", str(directory / "tsa.cnf")]
    reply += ["-queryfile", str(query_file), "-out", str(directory / "r.tsr")]
    subprocess.run(reply, cwd=directory, check=True, capture_output=True, timeout=60)
    verify = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-queryfile",
            str(query_file),
            "-in",
            "r.tsr",
            "-CAfile",
            "root.pem",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Verification: OK" in verify.stdout, verify.stdout + verify.stderr
    trivial = ["openssl", "version"]
    # Alternate the two series so background load drifts hit both alike.
    t_reply = t_trivial = 0.0
    for _ in range(2):
        t_trivial += _time_invocations(trivial, n // 2, directory)
        t_reply += _time_invocations(reply, n // 2, directory)
    count = 2 * (n // 2)
    per_token = max((t_reply - t_trivial) / count, 1e-9)
    return {
        "invocations": count,
        "reply_ms": 1000 * t_reply / count,
        "trivial_ms": 1000 * t_trivial / count,
        "net_ms_per_token": 1000 * per_token,
        "tokens_per_s": 1 / per_token,
    }


# ---- main --------------------------------------------------------------------------------


def main(quick: bool) -> list[dict[str, Any]]:
    duration, reps, n = (4.0, 2, 60) if quick else (15.0, 3, 300)
    with tempfile.TemporaryDirectory(prefix="govtrust-tsa-bench-") as tmp:
        work = Path(tmp)
        log("init --demo")
        home = init_home(work)
        query_file, query = make_query(work)
        body_script = _wrk.lua_script(
            work / "tsa.lua", query_file, "application/timestamp-query", {}
        )
        log("openssl ts -reply, one process per token")
        peer = openssl_per_token(work, query_file, n)
        log(
            f"  openssl: {peer['reply_ms']:.2f} ms per invocation, "
            f"{peer['trivial_ms']:.2f} ms process start: {peer['net_ms_per_token']:.2f} ms/token"
        )
        log("govtrust serve --workers 2")
        server = start_server(work, home, workers=2)
        try:
            check_granted(server.url, query_file, query)
            runs = http_runs(server, home, body_script, duration=duration, reps=reps)
            # Group commit: more requests in flight make larger batches per fsync.
            runs_64 = http_runs(
                server, home, body_script, duration=duration, reps=reps, connections=64
            )
        finally:
            server.stop()
        log("govtrust in-process TsaService.respond, one thread")
        inproc = in_process(work, home, query_file, min(duration, 5.0))
        log(f"  in-process: {inproc:,.0f} tokens/s")

    http_rate = _proc.median([r["tokens_per_s"] for r in runs])
    http_rate_64 = _proc.median([r["tokens_per_s"] for r in runs_64])
    cpu_ms = _proc.median(
        [r["server_cpu_ms_per_token"] for r in runs if r["server_cpu_ms_per_token"]]
    )
    return [
        _row(
            f"tsa: tokens/s over HTTP, govtrust serve --workers 2 (goal ≥ {GOAL:,.0f}) "
            "vs openssl ts -reply per token (1 core, net of process start)",
            http_rate,
            peer["tokens_per_s"],
            "tokens/s",
        ),
        _row(
            f"tsa: tokens/s over HTTP with 64 connections (goal ≥ {GOAL:,.0f}) vs openssl "
            "ts -reply per token",
            http_rate_64,
            peer["tokens_per_s"],
            "tokens/s",
        ),
        _row(
            "tsa: CPU ms per token, govtrust server (all processes) vs openssl ts -reply "
            "(net of process start)",
            cpu_ms,
            peer["net_ms_per_token"],
            "ms",
        ),
        _row(
            "tsa: tokens/s in-process (TsaService.respond, 1 thread, with its DB "
            "transaction) vs openssl ts -reply per token",
            inproc,
            peer["tokens_per_s"],
            "tokens/s",
        ),
    ]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs")
    args = ap.parse_args()
    rows = main(args.quick)
    for row in rows:
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] is not None else "-"
        ours = f"{row['ours']:,.2f}" if row["ours"] is not None else "-"
        peer_value = f"{row['peer']:,.2f}" if row["peer"] is not None else "-"
        print(f"{row['name']}\n    govtrust {ours}  peer {peer_value}  {row['unit']}  {ratio}")
    print(json.dumps(rows, indent=2))
