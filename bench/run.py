"""govtrust benchmarks against peers, measured in the same run on the same machine.

    .venv/bin/python bench/run.py                 # everything (`make bench`), ~7 min
    .venv/bin/python bench/run.py --quick         # shorter runs, 20,000-entry CRL
    .venv/bin/python bench/run.py --only ocsp,memory
    .venv/bin/python bench/run.py --profile       # also py-spy / cProfile the hot paths
    .venv/bin/python bench/run.py --baseline DIR  # also an older src/ tree, side by side

Benchmarks (NAME for --only):

- ``issuance``: certificates per second from a CSR over HTTP, POST /api/v1/certificates
  (P-256 ``tls`` CA, profile tls-server) vs ``cfssl serve`` /api/v1/cfssl/sign.
- ``ocsp``: pre-signed OCSP responses per second, GET and POST, vs ``cfssl ocspserve``
  and ``openssl ocsp``.
- ``crl``: time to issue a 100,000-entry CRL vs ``openssl ca -gencrl``.
- ``memory``: RSS of ``govtrust serve`` (all processes) idle and under the OCSP load.

``--baseline DIR`` runs a second govtrust from the source tree DIR (a ``src``
directory holding ``govtrust/``, put first on PYTHONPATH) in the same rounds as the
current code, in its own data directory: a before/after comparison under the same load.

Everything runs in a temporary directory (GOVTRUST_HOME included); servers listen on
127.0.0.1 and all traffic goes there. Loads run one at a time, alternating govtrust and
the peer in each repetition so that drift in background load hits both alike; figures
are medians over the repetitions. Results: a table on stdout, JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import _pki  # noqa: E402
import _proc  # noqa: E402
import _wrk  # noqa: E402
import pyspy_summary  # noqa: E402

BENCHMARKS = ("issuance", "ocsp", "crl", "memory")
GOALS = {
    "issuance": "≥ 1.0× cfssl serve (issue: cfssl ~6,600/s)",
    "ocsp": "≥ 1.0× cfssl ocspserve (issue: ~15,000/s)",
    "crl": "≤ 1.0× openssl ca -gencrl time (issue: ~0.37 s)",
}


def log(msg: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


# ---- settings --------------------------------------------------------------------------


@dataclass
class Options:
    duration: float
    reps: int
    threads: int
    connections: int
    warmup: float
    crl_entries: int
    workers: int
    scheduler_interval: int
    profile: bool
    work: Path
    python: Path
    govtrust: Path
    results: Path
    pyspy: str | None
    selected: tuple[str, ...]
    baseline: Path | None = None

    def load(self) -> dict[str, Any]:
        return {
            "tool": "wrk",
            "threads": self.threads,
            "connections": self.connections,
            "duration_s": self.duration,
            "warmup_s": self.warmup,
            "repetitions": self.reps,
        }


@dataclass
class Results:
    meta: dict[str, Any]
    benchmarks: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def row(
        self,
        bench: str,
        metric: str,
        ours: float | None,
        peer_name: str,
        peer: float | None,
        unit: str,
        *,
        higher_is_better: bool,
        goal: str = "",
        note: str = "",
    ) -> None:
        ratio = None
        if ours is not None and peer:
            ratio = ours / peer
        met: bool | None = None
        if goal and ratio is not None:
            met = ratio >= 1.0 if higher_is_better else ratio <= 1.0
        self.rows.append(
            {
                "benchmark": bench,
                "metric": metric,
                "govtrust": ours,
                "peer": peer_name,
                "peer_value": peer,
                "unit": unit,
                "ratio": ratio,
                "higher_is_better": higher_is_better,
                "goal": goal,
                "goal_met": met,
                "note": note,
            }
        )


# ---- helpers ---------------------------------------------------------------------------


PYCACHE: Path | None = None


def _env(home: Path, src: Path | None = None) -> dict[str, str]:
    """The environment of a govtrust child; ``src``: run that source tree instead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVTRUST_")}
    env["GOVTRUST_HOME"] = str(home)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    env["PYTHONUNBUFFERED"] = "1"
    # Byte-code as an installed package has it (pip compiles at install time), kept in
    # the run's directory: an editable checkout under PYTHONDONTWRITEBYTECODE would
    # otherwise compile govtrust's sources at every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if PYCACHE is not None:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def govtrust(
    opts: Options, home: Path, *args: str, timeout: float = 600, src: Path | None = None
) -> str:
    proc = subprocess.run(
        [str(opts.govtrust), *args],
        env=_env(home, src),
        cwd=opts.work,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"govtrust {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def init_home(opts: Options, name: str, src: Path | None = None) -> Path:
    home = opts.work / name
    govtrust(opts, home, "init", "--demo", src=src)
    # The background refresher (pre-signing OCSP for new certificates, due CRLs) would
    # fire inside a measurement window at a random moment; push it out of the run. Its
    # first pass at startup still runs. See README "Method".
    cfg = home / "govtrust.toml"
    text = cfg.read_text()
    cfg.write_text(
        text.replace("interval_seconds = 60", f"interval_seconds = {opts.scheduler_interval}")
    )
    return home


def worker_script(
    opts: Options, home: Path, *args: str, timeout: float = 900, src: Path | None = None
) -> dict[str, Any]:
    proc = subprocess.run(
        [str(opts.python), str(BENCH_DIR / "_inproc.py"), *args],
        env=_env(home, src),
        cwd=opts.work,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"_inproc {' '.join(args)} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def start_govtrust(opts: Options, home: Path, tag: str, src: Path | None = None) -> _proc.Server:
    """``govtrust serve``, returned once every worker answers; the time that took and
    the workers uvicorn replaced meanwhile are in ``STARTUPS``."""
    port = _proc.free_port()
    t0 = time.monotonic()
    url = f"http://127.0.0.1:{port}"
    server = _proc.start(
        f"govtrust-{tag}",
        [
            str(opts.govtrust),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(opts.workers),
        ],
        cwd=opts.work,
        env=_env(home, src),
        log=opts.work / f"govtrust-{tag}.log",
        url=url,
    )
    wait_govtrust_ready(opts, server)
    STARTUPS[tag] = {
        "ready_s": round(time.monotonic() - t0, 2),
        "workers_replaced": server.log_text().count("died"),
        "loadavg": _proc.loadavg(),
    }
    return server


STARTUPS: dict[str, dict[str, Any]] = {}


def _live_workers(server: _proc.Server) -> list[int]:
    pids = {int(p) for p in re.findall(r"Started server process \[(\d+)\]", server.log_text())}
    tree = set(server.tree())
    return sorted(p for p in pids if p in tree)


def wait_govtrust_ready(opts: Options, server: _proc.Server, timeout: float = 180) -> None:
    """Until every uvicorn worker has started and the app answers. On a loaded machine
    uvicorn may kill and replace workers that miss its 5 s start-up health check (see
    README, findings), so this counts live workers rather than log lines."""
    deadline = time.monotonic() + timeout
    _proc.wait_http(
        f"{server.url}/ca/tls.crt",
        timeout=timeout,
        alive=lambda: server.proc.poll() is None,
    )
    while len(_live_workers(server)) < opts.workers:
        if time.monotonic() > deadline or server.proc.poll() is not None:
            raise RuntimeError(f"{server.name}: workers did not start:\n{server.log_text()}")
        time.sleep(0.5)
    restarts = server.log_text().count("died")
    if restarts:
        log(f"{server.name}: uvicorn replaced {restarts} worker(s) during start-up")


def cpu_of(server: _proc.Server) -> float:
    return sum(_proc.cpu_seconds(p) for p in server.tree())


@dataclass
class Target:
    """One thing to load: a server and how to ask it."""

    label: str
    server: _proc.Server
    url: str
    script: Path | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    skipped: str | None = None
    # Restart the server before every run (openssl ocsp: see start_ocsp_peers).
    restart: Callable[[], _proc.Server] | None = None

    def fresh(self) -> None:
        if self.restart is not None:
            self.server.stop()
            self.server = self.restart()

    def median(self, key: str = "ok_rps") -> float | None:
        vals = [r[key] for r in self.runs if r.get(key) is not None]
        return _proc.median(vals) if vals else None


@dataclass
class OpensslTarget(Target):
    path: str = "/"

    def fresh(self) -> None:
        super().fresh()
        self.url = f"{self.server.url}{self.path}"


def load(
    opts: Options,
    target: Target,
    duration: float,
    *,
    record: bool = True,
) -> dict[str, Any]:
    target.fresh()
    cpu0 = cpu_of(target.server)
    la0 = _proc.loadavg()
    res = _wrk.run(
        target.url,
        threads=opts.threads,
        connections=opts.connections,
        duration=duration,
        script=target.script,
    )
    cpu = cpu_of(target.server) - cpu0
    out: dict[str, Any] = dict(res.to_dict())
    out["server_cpu_s"] = round(cpu, 3)
    out["server_cpu_util"] = round(cpu / res.seconds, 3) if res.seconds else None
    out["server_cpu_ms_per_ok_request"] = (
        round(1000 * cpu / (res.requests - res.non_2xx), 4) if res.requests > res.non_2xx else None
    )
    out["loadavg_before"] = la0
    if record:
        target.runs.append(out)
        log(
            f"  {target.label}: {res.ok_rps:,.0f}/s ok ({res.requests} req, "
            f"{res.non_2xx} non-2xx, {res.timeouts} timeouts, {res.socket_errors} socket "
            f"errors), server CPU {out['server_cpu_util']}, load {la0[0]}"
        )
    return out


def run_series(opts: Options, targets: list[Target]) -> None:
    """Warm each target, then ``reps`` rounds, alternating the order every round."""
    live = [t for t in targets if t.skipped is None]
    for t in live:
        load(opts, t, opts.warmup, record=False)
    for i in range(opts.reps):
        order = live if i % 2 == 0 else list(reversed(live))
        log(f" round {i + 1}/{opts.reps}")
        for t in order:
            load(opts, t, opts.duration)


def pyspy_record(
    opts: Options, target: Target, pid: int, name: str, extra: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """Run one more load with py-spy attached to ``pid``; save raw stacks + summary."""
    if not opts.pyspy:
        log("py-spy not found (set PYSPY=/path/to/py-spy); skipping the sampling profile")
        return None
    raw = opts.results / f"{name}.pyspy.raw"
    seconds = max(3, int(opts.duration))
    spy = subprocess.Popen(
        [
            opts.pyspy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "250",
            "--format",
            "raw",
            "--nonblocking",
            "--gil",  # only samples holding the GIL: where the Python CPU time goes
            "--output",
            str(raw),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)
    run = load(opts, target, seconds + 1, record=False)
    _, err = spy.communicate(timeout=60)
    if spy.returncode != 0 or not raw.exists():
        log(f"py-spy failed: {err.decode(errors='replace').strip()[-300:]}")
        return None
    summary = pyspy_summary.render(raw, top=30)
    (opts.results / f"{name}.pyspy.txt").write_text(summary + "\n")
    log(f"profile of {target.label} saved in {raw.with_suffix('.txt')}")
    return {"raw": str(raw), "summary": str(raw.with_suffix(".txt")), "load": run}


# ---- 1. issuance -----------------------------------------------------------------------


def start_cfssl_serve(opts: Options, cfssl: _pki.CfsslCA) -> _proc.Server:
    port = _proc.free_port()
    return _proc.start(
        "cfssl-serve",
        [
            "cfssl",
            "serve",
            "-loglevel",
            "2",  # warnings only: govtrust runs with access_log=False too
            "-address",
            "127.0.0.1",
            "-port",
            str(port),
            "-ca",
            str(cfssl.ca_pem),
            "-ca-key",
            str(cfssl.ca_key),
            "-config",
            str(cfssl.config),
        ],
        cwd=cfssl.dir,
        log=opts.work / "cfssl-serve.log",
        url=f"http://127.0.0.1:{port}",
    )


def start_python_floor(opts: Options, cfssl: _pki.CfsslCA) -> _proc.Server:
    """bench/_floor_issuer.py under uvicorn with govtrust serve's worker count."""
    port = _proc.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVTRUST_")}
    env["FLOOR_CA_DIR"] = str(cfssl.dir)
    if PYCACHE is not None:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return _proc.start(
        "python-floor",
        [
            str(opts.python),
            "-m",
            "uvicorn",
            "--app-dir",
            str(BENCH_DIR),
            "_floor_issuer:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(opts.workers),
            "--no-access-log",
            "--no-server-header",
            "--log-level",
            "warning",
        ],
        cwd=opts.work,
        env=env,
        log=opts.work / "python-floor.log",
        url=f"http://127.0.0.1:{port}",
    )


def _check_cfssl_sign(server: _proc.Server, body: Path, ca_pem: Path) -> None:
    """One ``/api/v1/cfssl/sign`` request, once the server answers: a successful answer
    whose certificate the CA signed."""
    out = _proc.wait_http(
        f"{server.url}/api/v1/cfssl/sign",
        timeout=60,
        method="POST",
        body=body.read_bytes(),
        headers={"Content-Type": "application/json"},
        alive=lambda: server.proc.poll() is None,
    )
    answer = json.loads(out)
    assert answer["success"] is True, out[:200]
    cert = x509.load_pem_x509_certificate(answer["result"]["certificate"].encode())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem.read_bytes()))


def bench_issuance(opts: Options, res: Results) -> None:
    log("issuance: preparing govtrust and cfssl")
    home = init_home(opts, "gt-issuance")
    token = (home / "secrets" / "admin-token").read_text().strip()
    csr = _pki.make_csr()
    (opts.work / "bench-csr.pem").write_bytes(csr)
    gt_body = opts.work / "issue-govtrust.json"
    gt_body.write_text(json.dumps({"ca": "tls", "profile": "tls-server", "csr": csr.decode()}))
    cf_body = opts.work / "issue-cfssl.json"
    cf_body.write_text(json.dumps({"certificate_request": csr.decode()}))

    cfssl = _pki.CfsslCA(opts.work / "cfssl")
    if not cfssl.ca_pem.exists():
        cfssl.create()

    servers: list[_proc.Server] = []
    try:
        gt = start_govtrust(opts, home, "issuance")
        servers.append(gt)
        cf = start_cfssl_serve(opts, cfssl)
        servers.append(cf)
        floor_server = start_python_floor(opts, cfssl)
        servers.append(floor_server)
        # One request each, checked, before any load.
        status, body, _ = _proc.http(
            f"{gt.url}/api/v1/certificates",
            method="POST",
            body=gt_body.read_bytes(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        cert = json.loads(body)
        assert status == 201 and "BEGIN CERTIFICATE" in cert["pem"], body[:200]
        for server in (cf, floor_server):
            _check_cfssl_sign(server, cf_body, cfssl.ca_pem)

        gt_t = Target(
            "govtrust POST /api/v1/certificates",
            gt,
            f"{gt.url}/api/v1/certificates",
            _wrk.lua_script(
                opts.work / "issue-govtrust.lua",
                gt_body,
                "application/json",
                {"Authorization": f"Bearer {token}"},
            ),
        )
        cf_t = Target(
            "cfssl serve POST /api/v1/cfssl/sign",
            cf,
            f"{cf.url}/api/v1/cfssl/sign",
            _wrk.lua_script(opts.work / "issue-cfssl.lua", cf_body, "application/json", {}),
        )
        floor_t = Target(
            "Python floor (bench/_floor_issuer.py) POST /api/v1/cfssl/sign",
            floor_server,
            f"{floor_server.url}/api/v1/cfssl/sign",
            _wrk.lua_script(opts.work / "issue-cfssl.lua", cf_body, "application/json", {}),
        )
        log("issuance: load")
        run_series(opts, [gt_t, cf_t, floor_t])
        profile = None
        if opts.profile:
            workers = _live_workers(gt)
            profile = pyspy_record(opts, gt_t, workers[0], "issuance-govtrust-worker")
    finally:
        for s in servers:
            s.stop()

    log("issuance: in-process sequential issue() (no HTTP, one thread)")
    inproc = worker_script(
        opts,
        home,
        "issue-rate",
        "--csr",
        str(opts.work / "bench-csr.pem"),
        "--seconds",
        str(min(5.0, opts.duration)),
    )
    floor = worker_script(opts, home, "crypto-floor", "--csr", str(opts.work / "bench-csr.pem"))
    floor_ms = (
        floor["csr_parse_verify_us"] + floor["cert_sign_us"] + 2 * floor["ecdsa_sign_us"]
    ) / 1000
    ours, peer = gt_t.median(), cf_t.median()
    res.benchmarks["issuance"] = {
        "crypto_floor": floor,
        "govtrust": {"runs": gt_t.runs, "median_ok_rps": ours, "in_process": inproc},
        "cfssl_serve": {"runs": cf_t.runs, "median_ok_rps": peer},
        "python_floor": {"runs": floor_t.runs, "median_ok_rps": floor_t.median()},
        "profile": profile,
        "notes": [
            "govtrust stores every certificate and an audit event in SQLite (WAL) per "
            "request; cfssl serve here has no certificate database (-db-config unset).",
            "Same CSR (P-256, CN + dNSName) for both; govtrust profile tls-server.",
            "Python floor: bench/_floor_issuer.py, cfssl's work only (JSON, CSR check, "
            "pyca/cryptography signature with cfssl's extensions) under uvicorn, no "
            "storage, audit, profile pipeline or OCSP pre-signing.",
        ],
    }
    res.row(
        "issuance",
        "certificates/s",
        ours,
        "cfssl serve",
        peer,
        "req/s",
        higher_is_better=True,
        goal=GOALS["issuance"],
    )
    res.row(
        "issuance",
        "Python floor (cfssl's work only, no storage)",
        floor_t.median(),
        "cfssl serve",
        peer,
        "req/s",
        higher_is_better=True,
        note="what any Python issuer on pyca/cryptography and uvicorn can reach here: "
        f"{floor_t.median('server_cpu_ms_per_ok_request') or float('nan'):.3f} ms "
        "server CPU per certificate",
    )
    res.row(
        "issuance",
        "server CPU ms per certificate",
        gt_t.median("server_cpu_ms_per_ok_request"),
        "cfssl serve",
        cf_t.median("server_cpu_ms_per_ok_request"),
        "ms",
        higher_is_better=False,
    )
    res.row(
        "issuance",
        "in-process issue() sequential",
        inproc["per_second"],
        "-",
        None,
        "cert/s",
        higher_is_better=True,
        note=f"{inproc['cpu_ms_each']:.2f} ms CPU each",
    )
    res.row(
        "issuance",
        "cryptography alone per certificate",
        floor_ms,
        "-",
        None,
        "ms",
        higher_is_better=False,
        note="CSR check + certificate build and signature (pyca) + 2 bare ECDSA "
        "signatures for the OCSP answers issue() pre-signs (SHA-1 and SHA-256 CertIDs): "
        f"at most {2000 / floor_ms:,.0f}/s on 2 cores; one answer through pyca's builder "
        f"{floor['ocsp_sign_us']:.0f} µs, through govtrust's encoder "
        f"{floor['ocsp_answer_us']:.0f} µs",
    )


# ---- 2. OCSP (+ 4. memory) -------------------------------------------------------------


@dataclass
class OcspSide:
    """One govtrust under OCSP load: the current code, or the baseline tree."""

    tag: str
    home: Path
    server: _proc.Server
    get: Target
    post: Target
    request: Path


def _b64path(der: bytes) -> str:
    return urllib.parse.quote(base64.b64encode(der).decode(), safe="")


def prepare_ocsp_side(opts: Options, tag: str, src: Path | None) -> OcspSide:
    """A demo home with pre-signed answers, served; one checked request per method."""
    name = "govtrust" if src is None else "govtrust (before)"
    home = init_home(opts, f"gt-{tag}", src)
    govtrust(opts, home, "ocsp", "refresh", "--json", src=src)
    certs = json.loads(
        govtrust(opts, home, "cert", "list", "--profile", "device", "--json", src=src)
    )
    device = next(c for c in certs if c["ca"] == "tls")
    leaf_pem = govtrust(opts, home, "cert", "show", device["serial"], "--pem", src=src).encode()
    ca_pem = govtrust(opts, home, "ca", "show", "tls", "--pem", src=src).encode()
    req = _pki.ocsp_request(leaf_pem, ca_pem)
    req_file = opts.work / f"{tag}.der"
    req_file.write_bytes(req)
    server = start_govtrust(opts, home, tag, src)
    get = Target(f"{name} GET /ocsp/{{b64}}", server, f"{server.url}/ocsp/{_b64path(req)}")
    post = Target(
        f"{name} POST /ocsp",
        server,
        f"{server.url}/ocsp",
        _wrk.lua_script(opts.work / f"{tag}.lua", req_file, "application/ocsp-request", {}),
    )
    serial = int(device["serial"], 16)
    check_ocsp(get, None, serial)
    check_ocsp(post, req, serial)
    return OcspSide(tag, home, server, get, post, req_file)


def bench_ocsp(opts: Options, res: Results, *, with_peers: bool, with_memory: bool) -> None:
    log("ocsp: preparing govtrust (init --demo, ocsp refresh)")
    servers: list[_proc.Server] = []
    targets: list[Target] = []
    memory: dict[str, Any] = {}
    before: OcspSide | None = None
    try:
        ours = prepare_ocsp_side(opts, "ocsp-govtrust", None)
        servers.append(ours.server)
        gt, gt_get, gt_post = ours.server, ours.get, ours.post
        if opts.baseline is not None:
            log(f"ocsp: preparing the baseline govtrust from {opts.baseline}")
            before = prepare_ocsp_side(opts, "ocsp-before", opts.baseline)
            servers.append(before.server)
        if with_memory:
            time.sleep(3)  # settle: the scheduler's first pass, lazy imports
            memory["idle"] = _proc.memory_snapshot(gt.tree())
            log(f"memory: govtrust serve idle RSS {memory['idle']['rss_kib'] / 1024:.1f} MiB")
            if before is not None:
                memory["before:idle"] = _proc.memory_snapshot(before.server.tree())
        targets += [gt_get, gt_post]
        ours_get = [gt_get] + ([before.get] if before else [])
        ours_post = [gt_post] + ([before.post] if before else [])
        targets += ours_get[1:] + ours_post[1:]

        peers: list[Target] = []
        if with_peers:
            peers = start_ocsp_peers(opts, servers)
        get_targets = ours_get + [t for t in peers if t.label.endswith("GET")]
        post_targets = ours_post + [t for t in peers if t.label.endswith("POST")]
        targets += peers

        log("ocsp: load")
        with _proc.RssSampler(gt) as sampler:
            run_series(opts, get_targets)
            run_series(opts, post_targets)
        if with_memory:
            memory["under_ocsp_load"] = _proc.memory_snapshot(gt.tree())
            memory["under_ocsp_load"]["sampled_peak_rss_kib"] = sampler.peak_kib
            memory["under_ocsp_load"]["samples"] = sampler.samples
            for t in peers:
                if not t.skipped:
                    memory[f"peer:{t.server.name}"] = _proc.memory_snapshot(t.server.tree())
        profile = None
        if opts.profile:
            profile = pyspy_record(opts, gt_get, _live_workers(gt)[0], "ocsp-get-govtrust-worker")
    finally:
        for s in servers + [t.server for t in targets]:
            s.stop()

    seconds = str(min(3.0, opts.duration))
    request = ["--request", str(ours.request), "--seconds", seconds]
    inproc = worker_script(opts, ours.home, "ocsp-rate", *request)
    fast = worker_script(opts, ours.home, "ocsp-stored-rate", *request)
    res.benchmarks["ocsp"] = {
        "in_process_respond": inproc,
        "in_process_stored_answer": fast,
        "targets": {
            t.label: {"runs": t.runs, "median_ok_rps": t.median(), "skipped": t.skipped}
            for t in targets
        },
        "startups": {k: v for k, v in STARTUPS.items() if k.startswith("ocsp")},
        "profile": profile,
        "notes": [
            "Every request is the same SHA-1 CertID, no nonce, for a good certificate.",
            "govtrust and cfssl serve responses signed ahead of time; openssl ocsp signs "
            "each response on demand (it has no pre-signing mode), with -multi 2.",
        ],
    }
    for method in ("GET", "POST"):
        ours_t = gt_get if method == "GET" else gt_post
        for peer_t in [t for t in peers if t.label.endswith(method)]:
            is_cfssl = peer_t.label.startswith("cfssl")
            res.row(
                "ocsp",
                f"responses/s ({method})",
                ours_t.median(),
                peer_t.label.rsplit(" ", 1)[0],
                peer_t.median(),
                "req/s",
                higher_is_better=True,
                goal=GOALS["ocsp"] if is_cfssl else "",
                note=f"{peer_t.label} skipped: {peer_t.skipped}" if peer_t.skipped else "",
            )
        if before is not None:
            before_t = before.get if method == "GET" else before.post
            res.row(
                "ocsp",
                f"responses/s ({method}), against the baseline",
                ours_t.median(),
                "govtrust (before)",
                before_t.median(),
                "req/s",
                higher_is_better=True,
            )
        res.row(
            "ocsp",
            f"server CPU ms per response ({method})",
            ours_t.median("server_cpu_ms_per_ok_request"),
            "cfssl ocspserve",
            next(
                (
                    t.median("server_cpu_ms_per_ok_request")
                    for t in peers
                    if t.label == f"cfssl ocspserve {method}" and not t.skipped
                ),
                None,
            ),
            "ms",
            higher_is_better=False,
        )
        if before is not None:
            before_t = before.get if method == "GET" else before.post
            res.row(
                "ocsp",
                f"server CPU ms per response ({method}), against the baseline",
                ours_t.median("server_cpu_ms_per_ok_request"),
                "govtrust (before)",
                before_t.median("server_cpu_ms_per_ok_request"),
                "ms",
                higher_is_better=False,
            )
    res.row(
        "ocsp",
        "in-process OcspService.respond()",
        inproc["us_each"] / 1000,
        "-",
        None,
        "ms",
        higher_is_better=False,
        note="one thread, no HTTP: the slow path (ORM session) when nothing is signed",
    )
    res.row(
        "ocsp",
        "in-process OcspService.stored_answer()",
        fast["us_each"] / 1000,
        "-",
        None,
        "ms",
        higher_is_better=False,
        note="one event loop, no HTTP: request parsing + the one DB-API read",
    )
    for tag, started in STARTUPS.items():
        if tag.startswith("ocsp"):
            res.row(
                "startup",
                f"govtrust serve --workers {opts.workers} until every worker answers ({tag})",
                started["ready_s"],
                "-",
                None,
                "s",
                higher_is_better=False,
                note=f"{started['workers_replaced']} worker(s) replaced by uvicorn; "
                f"load average {started['loadavg'][0]}",
            )
    if with_memory:
        record_memory(res, memory)


def check_ocsp(target: Target, post_body: bytes | None, serial: int) -> None:
    """One request, checked; a peer that cannot answer is skipped with the reason."""
    try:
        if post_body is None:
            _, body, _ = _proc.http(target.url)
        else:
            _, body, _ = _proc.http(
                target.url,
                method="POST",
                body=post_body,
                headers={"Content-Type": "application/ocsp-request"},
            )
        problem = _pki.check_ocsp_good(body, serial)
    except OSError as exc:  # urllib's HTTPError is an OSError
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        if target.label.startswith("govtrust"):
            raise RuntimeError(f"{target.label}: {problem}")
        target.skipped = problem
        log(f"  {target.label}: skipped ({problem})")


def start_ocsp_peers(opts: Options, servers: list[_proc.Server]) -> list[Target]:
    log("ocsp: preparing cfssl ocspserve and openssl ocsp")
    cfssl = _pki.CfsslCA(opts.work / "cfssl")
    if not cfssl.ca_pem.exists():
        cfssl.create()
    leaf = cfssl.sign_leaf(_pki.make_csr(), "ocsp-leaf")
    serial = x509.load_pem_x509_certificate(leaf.read_bytes()).serial_number
    req = _pki.ocsp_request(leaf.read_bytes(), cfssl.ca_pem.read_bytes())
    req_file = opts.work / "ocsp-peer.der"
    req_file.write_bytes(req)
    responses = cfssl.ocsp_responses_file(leaf)
    lua = _wrk.lua_script(opts.work / "ocsp-peer.lua", req_file, "application/ocsp-request", {})
    b64 = urllib.parse.quote(base64.b64encode(req).decode(), safe="")

    port = _proc.free_port()
    cf = _proc.start(
        "cfssl-ocspserve",
        [
            "cfssl",
            "ocspserve",
            "-loglevel",
            "2",
            "-address",
            "127.0.0.1",
            "-port",
            str(port),
            "-responses",
            str(responses),
        ],
        cwd=cfssl.dir,
        log=opts.work / "cfssl-ocspserve.log",
        url=f"http://127.0.0.1:{port}",
    )
    servers.append(cf)
    _proc.wait_http(
        f"{cf.url}/",
        timeout=30,
        method="POST",
        body=req,
        headers={"Content-Type": "application/ocsp-request"},
        alive=lambda: cf.proc.poll() is None,
    )

    index = _pki.openssl_ocsp_index(cfssl.dir, leaf)

    def start_openssl() -> _proc.Server:
        # openssl 3.0's -port takes a number and listens on every address; the load
        # still goes to 127.0.0.1 only. -multi N: N responder processes, as govtrust
        # has N workers.
        port = _proc.free_port()
        server = _proc.start(
            "openssl-ocsp",
            [
                "openssl",
                "ocsp",
                "-index",
                str(index),
                "-port",
                str(port),
                "-rsigner",
                "resp.pem",
                "-rkey",
                "resp-key.pem",
                "-CA",
                "ca.pem",
                "-ndays",
                "1",
                "-multi",
                str(opts.workers),
            ],
            cwd=cfssl.dir,
            log=opts.work / "openssl-ocsp.log",
            url=f"http://127.0.0.1:{port}",
        )
        _proc.wait_http(
            f"{server.url}/",
            timeout=30,
            method="POST",
            body=req,
            headers={"Content-Type": "application/ocsp-request"},
            alive=lambda: server.proc.poll() is None,
        )
        return server

    ossl = start_openssl()
    servers.append(ossl)
    targets = [
        Target("cfssl ocspserve GET", cf, f"{cf.url}/{b64}"),
        Target("cfssl ocspserve POST", cf, f"{cf.url}/", lua),
    ]
    for t in targets:
        check_ocsp(t, req if t.label.endswith("POST") else None, serial)
    # openssl ocsp's children spin at 100% CPU on a connection the client closed
    # mid-request (openssl issue 23934), which wrk does to every open connection at the
    # end of a run: each openssl run gets a freshly started responder.
    for method in ("GET", "POST"):
        t = OpensslTarget(
            f"openssl ocsp {method}",
            ossl,
            "",
            lua if method == "POST" else None,
            restart=start_openssl,
            path="/" if method == "POST" else f"/{b64}",
        )
        t.fresh()
        check_ocsp(t, req if method == "POST" else None, serial)
        targets.append(t)
    return targets


def record_memory(res: Results, memory: dict[str, Any]) -> None:
    res.benchmarks["memory"] = memory
    idle = memory["idle"]["rss_kib"] / 1024
    peak_sampled = memory["under_ocsp_load"]["sampled_peak_rss_kib"] / 1024
    hwm = memory["under_ocsp_load"]["hwm_kib"] / 1024
    cf = memory.get("peer:cfssl-ocspserve")
    cf_hwm = cf["hwm_kib"] / 1024 if cf else None
    before = memory.get("before:idle")
    res.row(
        "memory",
        "govtrust serve RSS idle (all processes)",
        idle,
        "govtrust (before)" if before else "-",
        before["rss_kib"] / 1024 if before else None,
        "MiB",
        higher_is_better=False,
        note=f"PSS {memory['idle'].get('pss_kib', 0) / 1024:.1f} MiB"
        + (f", before: PSS {before.get('pss_kib', 0) / 1024:.1f} MiB" if before else ""),
    )
    res.row(
        "memory",
        "peak RSS under OCSP load (sampled sum)",
        peak_sampled,
        "cfssl ocspserve (VmHWM)",
        cf_hwm,
        "MiB",
        higher_is_better=False,
        note=f"sum of per-process VmHWM {hwm:.1f} MiB",
    )


# ---- 3. CRL ----------------------------------------------------------------------------


def _openssl_crl_ca(opts: Options, n: int) -> tuple[Path, Path]:
    """An openssl ``ca`` directory with ``n`` revoked entries; its config and output."""
    ossl_dir = opts.work / "openssl-ca"
    ossl_dir.mkdir(exist_ok=True)
    key = ossl_dir / "ca-key.pem"
    cert = ossl_dir / "ca.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/C=AA/O=Bench/CN=Bench P-256 CA",
            "-days",
            "3650",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return _pki.openssl_crl_setup(ossl_dir, cert, key, n), ossl_dir / "crl.pem"


def bench_crl(opts: Options, res: Results) -> None:
    n = opts.crl_entries
    sides: dict[str, Path | None] = {"govtrust": None}
    if opts.baseline is not None:
        sides["govtrust (before)"] = opts.baseline
    homes: dict[str, Path] = {}
    populated: dict[str, Any] = {}
    for label, src in sides.items():
        log(f"crl: preparing {label} with {n:,} revoked certificates")
        home = init_home(opts, "gt-crl" if src is None else "gt-crl-before", src)
        populated[label] = worker_script(opts, home, "populate", "--entries", str(n), src=src)
        log(f"crl: inserted {n:,} rows in {populated[label]['seconds']:.1f} s")
        homes[label] = home
    cnf, ossl_out = _openssl_crl_setup_and_warm(opts, n)
    reps = max(3, opts.reps)
    outs = {label: opts.work / f"crl-{i}.der" for i, label in enumerate(sides)}

    def in_process(label: str) -> float:
        result = worker_script(
            opts, homes[label], "time", "--reps", "1", "--warmup", "1", src=sides[label]
        )
        assert result["entries"] == n, result
        return float(result["seconds"][0])

    def command(label: str) -> float:
        args = ("crl", "generate", "--ca", "tls", "--out", str(outs[label]))
        t0 = time.perf_counter()
        govtrust(opts, homes[label], *args, src=sides[label])
        return time.perf_counter() - t0

    def openssl_gencrl() -> float:
        t0 = time.perf_counter()
        subprocess.run(
            ["openssl", "ca", "-gencrl", "-batch", "-config", str(cnf), "-out", str(ossl_out)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        return time.perf_counter() - t0

    def import_floor() -> float:
        # What any govtrust command pays before it reads a row: the interpreter and the
        # two libraries every command needs (the database layer and pyca/cryptography).
        t0 = time.perf_counter()
        subprocess.run(
            [str(opts.python), "-c", "import sqlalchemy, cryptography.x509"],
            check=True,
            env=_env(homes["govtrust"]),
            timeout=120,
        )
        return time.perf_counter() - t0

    jobs: list[tuple[str, Callable[[], float]]] = [
        ("openssl", openssl_gencrl),
        ("import floor", import_floor),
    ]
    for label in sides:
        # warm: byte-code, page cache (the openssl CA was warmed at set-up)
        govtrust(opts, homes[label], "crl", "generate", "--ca", "tls", src=sides[label])
        jobs.append((f"{label} in-process", lambda label=label: in_process(label)))
        jobs.append((f"{label} command", lambda label=label: command(label)))
    times: dict[str, list[float]] = {name: [] for name, _ in jobs}
    for i in range(reps):
        log(f"crl: round {i + 1}/{reps}")
        for name, job in jobs if i % 2 == 0 else list(reversed(jobs)):
            times[name].append(job())
            log(f"  {name}: {times[name][-1]:.3f} s")
    entries = {label: len(x509.load_der_x509_crl(out.read_bytes())) for label, out in outs.items()}
    assert set(entries.values()) == {n}, entries
    ossl_entries = len(x509.load_pem_x509_crl(ossl_out.read_bytes()))
    assert ossl_entries == n, ossl_entries

    profile = None
    if opts.profile:
        profile = worker_script(
            opts,
            homes["govtrust"],
            "profile",
            "--out",
            str(opts.results / "crl-govtrust.cprofile.txt"),
        )

    med = {name: _proc.median(values) for name, values in times.items()}
    res.benchmarks["crl"] = {
        "entries": n,
        "populate": populated,
        "seconds": times,
        "crl_bytes": {label: out.stat().st_size for label, out in outs.items()},
        "profile": profile,
        "notes": [
            "Entries carry a reasonCode (keyCompromise) on both sides; P-256 CA keys.",
            "In-process: generate_crl() after one untimed call (key loaded).",
            "The govtrust command includes interpreter start-up, imports, the migration "
            "check and decrypting the CA key; openssl ca reads and parses index.txt.",
            "Import floor: python -c 'import sqlalchemy, cryptography.x509', timed in "
            "the same rounds: the start-up any command on these libraries pays.",
        ],
    }
    res.row(
        "crl",
        "Python floor: start-up and imports alone (no CRL)",
        med["import floor"],
        "openssl ca -gencrl",
        med["openssl"],
        "s",
        higher_is_better=False,
        note="python -c 'import sqlalchemy, cryptography.x509': the share of the "
        "command's time that no code of govtrust's can remove",
    )
    for what, metric in (
        ("in-process", "generate_crl() in-process"),
        ("command", "govtrust crl generate (command)"),
    ):
        res.row(
            "crl",
            f"{metric}, {n:,} entries",
            med[f"govtrust {what}"],
            "openssl ca -gencrl",
            med["openssl"],
            "s",
            higher_is_better=False,
            goal=GOALS["crl"],
        )
        if "govtrust (before)" in sides:
            res.row(
                "crl",
                f"{metric}, {n:,} entries, against the baseline",
                med[f"govtrust {what}"],
                "govtrust (before)",
                med[f"govtrust (before) {what}"],
                "s",
                higher_is_better=False,
            )


def _openssl_crl_setup_and_warm(opts: Options, n: int) -> tuple[Path, Path]:
    log("crl: openssl ca set-up")
    cnf, out = _openssl_crl_ca(opts, n)
    subprocess.run(  # warms the page cache; not timed
        ["openssl", "ca", "-gencrl", "-batch", "-config", str(cnf), "-out", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return cnf, out


# ---- output ----------------------------------------------------------------------------


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit in ("s", "ms"):
        return f"{v:.3f}" if v < 10 else f"{v:.1f}"
    if unit == "MiB":
        return f"{v:.1f}"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def table(res: Results) -> str:
    head = ["benchmark", "metric", "govtrust", "peer", "peer value", "ratio", "goal met"]
    rows = []
    for r in res.rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}×"
        met = {True: "yes", False: "NO", None: "-"}[r["goal_met"]]
        rows.append(
            [
                r["benchmark"],
                f"{r['metric']} [{r['unit']}]",
                _fmt(r["govtrust"], r["unit"]),
                r["peer"],
                _fmt(r["peer_value"], r["unit"]) if r["peer_value"] is not None else "-",
                ratio,
                met,
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    notes = [f"  {r['benchmark']}: {r['metric']}: {r['note']}" for r in res.rows if r["note"]]
    if notes:
        out += ["", "notes:", *notes]
    out += [
        "",
        "ratio = govtrust / peer (throughput: higher is better; time, memory, CPU: lower).",
    ]
    return "\n".join(out)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass

    def version(argv: list[str]) -> str:
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unavailable"

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_total_kib": _meminfo_total(),
        "openssl": version(["openssl", "version"]),
        "cfssl": " ".join(version(["cfssl", "version"]).split()),
        "wrk": version(["wrk", "-v"]),
    }


def _meminfo_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _govtrust_version(python: Path) -> str:
    p = subprocess.run(
        [str(python), "-c", "import govtrust; print(govtrust.__version__)"],
        capture_output=True,
        text=True,
    )
    return p.stdout.strip() or "unknown"


def _git_rev() -> str | None:
    try:
        p = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return p.stdout.strip() or None
    except OSError:
        return None


# ---- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="govtrust benchmarks against cfssl and openssl (see bench/README.md)."
    )
    ap.add_argument("--quick", action="store_true", help="3 s loads, 20,000-entry CRL")
    ap.add_argument(
        "--only",
        default="",
        help=f"comma-separated subset of: {', '.join(BENCHMARKS)} (memory alone loads "
        "govtrust's OCSP endpoints without the peers)",
    )
    ap.add_argument("--duration", type=float, help="seconds per load run (10; quick 3)")
    ap.add_argument("--reps", type=int, help="repetitions, median quoted (3; at least 3)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    ap.add_argument("--crl-entries", type=int, help="revoked entries (100,000; quick 20,000)")
    ap.add_argument("--workers", type=int, default=2, help="govtrust serve --workers (2)")
    ap.add_argument(
        "--scheduler-interval",
        type=int,
        default=86_400,
        help="[scheduler] interval_seconds in the benchmark homes (86400: off during runs)",
    )
    ap.add_argument("--profile", action="store_true", help="py-spy and cProfile the hot paths")
    ap.add_argument("--workdir", type=Path, help="keep the working files here")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="also run the govtrust of this source tree (a src/ directory) in the same "
        "rounds, for ocsp, memory and crl: before/after under the same load",
    )
    ap.add_argument("--results", type=Path, default=BENCH_DIR / "results")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = tuple(s.strip() for s in args.only.split(",") if s.strip()) or BENCHMARKS
    unknown = set(selected) - set(BENCHMARKS)
    if unknown:
        sys.stderr.write(f"unknown benchmark(s): {', '.join(sorted(unknown))}\n")
        return 2
    for tool in ("wrk", "cfssl", "cfssljson", "openssl"):
        if shutil.which(tool) is None:
            sys.stderr.write(f"{tool} not found: run `make system-deps`\n")
            return 2
    if args.baseline and not (args.baseline / "govtrust" / "__init__.py").exists():
        sys.stderr.write(f"--baseline {args.baseline}: no govtrust package there\n")
        return 2
    python = Path(sys.executable)
    gt_bin = python.parent / "govtrust"
    if not gt_bin.exists():
        found = shutil.which("govtrust")
        if not found:
            sys.stderr.write("govtrust not installed in this environment: run `make install`\n")
            return 2
        gt_bin = Path(found)
    args.results.mkdir(parents=True, exist_ok=True)
    tmp = None
    if args.workdir:
        work = args.workdir.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="govtrust-bench-")
        work = Path(tmp.name)
    global PYCACHE
    PYCACHE = work / "pycache"
    opts = Options(
        duration=args.duration or (3.0 if args.quick else 10.0),
        reps=max(3, args.reps or 3),
        threads=args.threads,
        connections=args.connections,
        warmup=1.0 if args.quick else 2.0,
        crl_entries=args.crl_entries or (20_000 if args.quick else 100_000),
        workers=args.workers,
        scheduler_interval=args.scheduler_interval,
        profile=args.profile,
        work=work,
        python=python,
        govtrust=gt_bin,
        results=args.results.resolve(),
        pyspy=os.environ.get("PYSPY") or shutil.which("py-spy"),
        selected=selected,
        baseline=args.baseline.resolve() if args.baseline else None,
    )
    started = dt.datetime.now(dt.UTC)
    res = Results(
        meta={
            "started": started.isoformat(timespec="seconds"),
            "machine": machine(),
            "govtrust_version": _govtrust_version(python),
            "git_rev": _git_rev(),
            "quick": args.quick,
            "selected": list(selected),
            "load": opts.load(),
            "crl_entries": opts.crl_entries,
            "workers": opts.workers,
            "scheduler_interval_seconds": opts.scheduler_interval,
            "baseline": str(opts.baseline) if opts.baseline else None,
            "loadavg_start": _proc.loadavg(),
        }
    )
    log(f"working directory {work}; load average {res.meta['loadavg_start']}")
    steps: list[tuple[str, Callable[[], None]]] = []
    if "issuance" in selected:
        steps.append(("issuance", lambda: bench_issuance(opts, res)))
    if "ocsp" in selected or "memory" in selected:
        steps.append(
            (
                "ocsp",
                lambda: bench_ocsp(
                    opts,
                    res,
                    with_peers="ocsp" in selected,
                    with_memory="memory" in selected,
                ),
            )
        )
    if "crl" in selected:
        steps.append(("crl", lambda: bench_crl(opts, res)))
    failed = []
    try:
        for name, step in steps:
            t0 = time.monotonic()
            try:
                step()
            except Exception as exc:  # report, go on with the next benchmark
                failed.append(name)
                res.benchmarks[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
                log(f"{name} FAILED: {type(exc).__name__}: {exc}")
            log(f"{name}: {time.monotonic() - t0:.0f} s")
    finally:
        if tmp is not None:
            tmp.cleanup()
    res.meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    res.meta["loadavg_end"] = _proc.loadavg()
    res.meta["wall_seconds"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    payload = {**res.meta, "rows": res.rows, "benchmarks": res.benchmarks}
    out = opts.results / f"bench-{stamp}.json"
    out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    (opts.results / "latest.json").write_text(out.read_text())
    sys.stdout.write(table(res) + "\n")
    sys.stdout.write(
        f"\nload average start {res.meta['loadavg_start']}, end {res.meta['loadavg_end']}; "
        f"{res.meta['wall_seconds']:.0f} s; results: {out}\n"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
