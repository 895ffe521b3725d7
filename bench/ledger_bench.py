"""Transparency-ledger benchmarks (issue 4), measured on this machine in one run.

    .venv/bin/python bench/ledger_bench.py            # full: 10M-entry tree, ~15-25 min
    .venv/bin/python bench/ledger_bench.py --quick    # 1M-entry tree, short runs
    .venv/bin/python bench/ledger_bench.py --only appends,proofs,audit --size 2000000

``main(quick) -> list[dict]`` returns rows ``{"name", "ours", "peer", "unit", "ratio"}``
for bench/run.py; run standalone it prints them and their JSON.

What is measured:

- ``appends``: the SHA-256 limit of this machine (``openssl speed -evp sha256 -bytes 64``,
  two hashes per entry: the leaf hash and, amortised, one interior node), then on SQLite
  and PostgreSQL: (a) the sequencer draining a backlog of audit events: entries
  appended, tiles written and one checkpoint signed per 10,000-entry batch, committed
  (SQLite WAL with govtrust's ``synchronous=NORMAL``, and again with ``FULL``: an fsync
  per commit); (b) the search indexer that runs behind it; (c) sustained end to end: a
  producer process commits audit events (the outbox, 2,000 per transaction) as fast as
  it can while the sequencer runs, until all are in signed checkpoints. On one SQLite
  writer lock the producer's inserts are the bottleneck (the row says how fast it
  produced, and how long the sequencer took to catch up once it stopped). Peer for
  scale: Tessera's POSIX back end, ~2,900 entries/s (issue 4).
- ``proofs``: a synthetic tree of ``--size`` entries (10 million by default; entries are
  inserted directly, 60 bytes each, without audit rows), served by 2 uvicorn workers;
  ``wrk`` requests random inclusion proofs, consistency proofs and full level-0 tiles.
- ``audit``: ``govtrust ledger audit --url --from-scratch`` (the colleague's auditor,
  govtrust.ledger.client) against that tree: wall time and peak RSS. If the auditor is
  missing, the root is recomputed from the tiles with govtrust.ledger.tiles instead (and
  the row says so).

The machine has 2 cores shared with other work: every row carries the load average, and
the append rows also give the CPU-time rate (entries per CPU second of the sequencer),
which depends less on the neighbours.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402

from govtrust.config import LedgerSettings, load_settings  # noqa: E402
from govtrust.ledger.hashing import leaf_hash  # noqa: E402
from govtrust.ledger.note import Checkpoint  # noqa: E402
from govtrust.ledger.tiles import TILE_WIDTH, Frontier, format_index  # noqa: E402
from govtrust.services import Context, ledger  # noqa: E402
from govtrust.services.setup import init_home  # noqa: E402

TESSERA_POSIX = 2_900.0  # entries/s, issue 4
PUBLIC_URL = "https://pki.govtrust.org"


def log(msg: str) -> None:
    sys.stderr.write(f"[ledger-bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def loadavg() -> float:
    return os.getloadavg()[0]


def row(
    name: str, ours: float | None, peer: float | None, unit: str, **extra: Any
) -> dict[str, Any]:
    ratio = None
    if ours is not None and peer:
        ratio = round(ours / peer, 2)
    return {
        "name": name,
        "ours": None if ours is None else round(ours, 1),
        "peer": peer,
        "unit": unit,
        "ratio": ratio,
        "load": round(loadavg(), 2),
        **extra,
    }


# ---- SHA-256 limit -------------------------------------------------------------------------


def sha256_limit(seconds: int) -> float:
    """Entries/s the machine's SHA-256 allows: openssl's 64-byte rate / 2 hashes."""
    out = subprocess.run(
        ["openssl", "speed", "-evp", "sha256", "-bytes", "64", "-seconds", str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"^sha256\s+([\d.]+)k", out, re.MULTILINE)
    if not m:
        raise RuntimeError(f"cannot read openssl speed output:\n{out}")
    hashes = float(m.group(1)) * 1000 / 64
    return hashes / 2


# ---- a data directory -------------------------------------------------------------------------


@contextmanager
def data_dir(db_url: str | None, *, synchronous_full: bool = False) -> Iterator[Context]:
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        home = Path(tmp) / "home"
        env = {
            "GOVTRUST_HOME": str(home),
            "GOVTRUST_KEY_PASSPHRASE": secrets.token_urlsafe(16),
            "GOVTRUST_PUBLIC_URL": PUBLIC_URL,
        }
        if db_url:
            env["GOVTRUST_DATABASE_URL"] = db_url
        init_home(home, env)
        ctx = Context.open(load_settings(env))
        ctx.settings = dataclasses.replace(
            ctx.settings, ledger=LedgerSettings(batch_max_size=10_000)
        )
        if synchronous_full and ctx.db.dialect == "sqlite":
            ctx.db.engine.dispose()

            @event.listens_for(ctx.db.engine, "connect")
            def _full(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.execute("PRAGMA synchronous=FULL")

        try:
            yield ctx
        finally:
            ctx.close()


_TEMPLATE = (
    '{"actor":"api:operator-1","details":{"ca":"tls","not_after":"2027-06-08T09:54:51+00:00",'
    '"profile":"tls-server","serial":"%s","subject":"CN=host%d.gov.aa"},"object":{"id":"%s",'
    '"sha256":"%s","type":"certificate"},"time":"2026-11-22T09:54:52Z","type":"cert.issue","v":1}'
)


def audit_rows(start: int, n: int) -> list[tuple[Any, ...]]:
    """n canonical cert.issue records (the shape AuditEvent.canonical writes)."""
    now = dt.datetime(2026, 11, 22, 9, 54, 52)
    rows = []
    for i in range(start, start + n):
        serial, digest = os.urandom(20).hex(), os.urandom(32).hex()
        record = (_TEMPLATE % (serial, i, serial, digest)).encode()
        rows.append((now, "api:operator-1", "cert.issue", "certificate", serial, digest, record))
    return rows


_INSERT_AUDIT = (
    "INSERT INTO audit_event (time, actor, action, object_type, object_id, object_sha256, "
    "record) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})"
)


def insert_outbox(ctx: Context, rows: list[tuple[Any, ...]]) -> None:
    with ctx.db.write() as session:
        cur, query = ledger._raw(session.connection(), _INSERT_AUDIT)
        cur.executemany(query, rows)
        cur.close()


def bench_backlog(ctx: Context, n: int) -> dict[str, float]:
    ledger.sequence(ctx)  # creates the log
    t0 = time.perf_counter()
    for start in range(0, n, 20_000):
        insert_outbox(ctx, audit_rows(start, min(20_000, n - start)))
    t1 = time.perf_counter()
    c1 = time.process_time()
    report = ledger.sequence(ctx, index=False)
    t2, c2 = time.perf_counter(), time.process_time()
    while ledger.index_search(ctx):
        pass
    t3 = time.perf_counter()
    assert report.appended == n, report
    return {
        "outbox": n / (t1 - t0),
        "append": n / (t2 - t1),
        "append_cpu": n / (c2 - c1),
        "index": n / (t3 - t2),
        "checkpoints": len(report.checkpoints),
    }


_PRODUCER = """
import sys, time
sys.path.insert(0, {bench!r})
import ledger_bench as lb
from govtrust.config import load_settings
from govtrust.services import Context
import os
ctx = Context.open(load_settings(os.environ), migrate=False)
end = time.monotonic() + {seconds}
n = 0
while time.monotonic() < end:
    lb.insert_outbox(ctx, lb.audit_rows(n, 2000))
    n += 2000
print(n)
"""


def bench_sustained(ctx: Context, seconds: float) -> dict[str, float]:
    """A producer process commits audit events (2,000 per transaction, as a busy CA's
    workers would) for ``seconds``; this process runs the sequencer (append, checkpoint,
    search index) until every one is in a signed checkpoint."""
    ledger.sequence(ctx)
    code = _PRODUCER.format(bench=str(Path(__file__).resolve().parent), seconds=seconds)
    t0 = time.perf_counter()
    producer = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, **ctx.settings.environ},
        stdout=subprocess.PIPE,
        text=True,
    )
    appended = 0
    while producer.poll() is None:
        appended += ledger.sequence(ctx).appended
    produced = int(producer.communicate()[0].strip())
    stopped = time.perf_counter()
    while True:
        step = ledger.sequence(ctx).appended
        appended += step
        if not step:
            break
    elapsed = time.perf_counter() - t0
    assert appended == produced, (appended, produced)
    return {
        "sustained": appended / elapsed,
        "entries": appended,
        "produced_per_s": produced / (stopped - t0),
        "lag_s": time.perf_counter() - stopped,
    }


@contextmanager
def postgres() -> Iterator[Callable[[], str] | None]:
    """A PostgreSQL server for the run (the test suite's harness); yields a factory of
    fresh databases, or None when PostgreSQL is not installed."""
    try:
        from tests.support.postgres import start_postgres, stop_postgres
    except ImportError:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="ledger-bench-pg-") as tmp:
        try:
            server = start_postgres(Path(tmp))
        except Exception as exc:  # no PostgreSQL binaries: say so, skip
            log(f"PostgreSQL unavailable: {exc}")
            yield None
            return
        names = iter(range(1000))
        try:
            yield lambda: server.create_database(f"ledger_bench_{next(names)}")
        finally:
            stop_postgres(server)


def bench_appends(quick: bool) -> list[dict[str, Any]]:
    n = 100_000 if quick else 500_000
    seconds = 10.0 if quick else 30.0
    rows = []
    limit = sha256_limit(1 if quick else 3)
    log(f"SHA-256 limit: {limit:,.0f} entries/s")
    rows.append(
        row("ledger: SHA-256 limit (openssl, 64-byte, 2 hashes/entry)", limit, None, "entries/s")
    )

    def sqlite() -> None:
        return None

    engines: list[tuple[str, Callable[[], str | None], bool]] = [
        ("SQLite", sqlite, False),
        ("SQLite FULL", sqlite, True),
    ]
    with postgres() as pg_database:
        if pg_database:
            engines.append(("PostgreSQL", pg_database, False))
        for label, database, full in engines:
            with data_dir(database(), synchronous_full=full) as ctx:
                log(f"{label}: backlog of {n:,}")
                b = bench_backlog(ctx, n)
            rows.append(
                row(
                    f"ledger append, {label} (sequencer, backlog {n:,}, 10k/checkpoint)",
                    b["append"],
                    TESSERA_POSIX,
                    "entries/s",
                    cpu_rate=round(b["append_cpu"]),
                    checkpoints=b["checkpoints"],
                    goal="≥ 50,000/s on SQLite",
                )
            )
            rows.append(row(f"ledger search indexer, {label}", b["index"], None, "entries/s"))
            rows.append(row(f"audit outbox insert, {label} (bulk)", b["outbox"], None, "rows/s"))
            if full:
                continue
            with data_dir(database()) as ctx:
                log(f"{label}: sustained {seconds:.0f} s")
                s = bench_sustained(ctx, seconds)
            rows.append(
                row(
                    f"ledger sustained end to end, {label} (producer process → signed "
                    "checkpoint; bounded by the producer)",
                    s["sustained"],
                    TESSERA_POSIX,
                    "entries/s",
                    entries=s["entries"],
                    producer_rate=round(s["produced_per_s"]),
                    drain_after_stop_s=round(s["lag_s"], 2),
                )
            )
    return rows


# ---- a large synthetic tree ---------------------------------------------------------------


def build_tree(ctx: Context, size: int) -> float:
    """Append ``size`` synthetic entries directly (no audit rows): entries, tiles,
    partial tiles, one signed checkpoint. Returns the seconds it took."""
    info = ledger.ensure_log(ctx)
    t0 = time.perf_counter()
    frontier = Frontier()
    chunk = 100_000
    with ctx.db.write() as session:
        conn = session.connection()
        base = 10**12  # audit ids of their own: no audit rows behind these entries
        for start in range(0, size, chunk):
            count = min(chunk, size - start)
            entries = [b"bench entry %012d " % i + b"x" * 40 for i in range(start, start + count)]
            done = frontier.extend(leaf_hash(e) for e in entries)
            cur, query = ledger._raw(conn, ledger._INSERT_ENTRY)
            cur.executemany(
                query, [(start + k, base + start + k, e) for k, e in enumerate(entries)]
            )
            if done:
                cur, query = ledger._raw(
                    conn, "INSERT INTO ledger_tile (level, idx, data) VALUES ({p}, {p}, {p})"
                )
                cur.executemany(query, [(t.level, t.index, t.data) for t in done])
            if start // chunk % 10 == 0:
                log(f"  tree: {start + count:,} entries")
        conn.execute(text("DELETE FROM ledger_partial_tile"))
        partial = frontier.partial_tile_data()
        for ref in frontier.partial_tiles():
            conn.execute(
                text("INSERT INTO ledger_partial_tile (level, idx, data) VALUES (:l, :i, :d)"),
                {"l": ref.level, "i": ref.index, "d": partial[ref.level]},
            )
        root = frontier.root()
        note = ledger._sign(ctx, info, Checkpoint(info.origin, size, root))
        conn.execute(
            text(
                "INSERT INTO ledger_checkpoint (size, root, note, last_audit_id, created_at) "
                "VALUES (:s, :r, :n, :a, :t)"
            ),
            {"s": size, "r": root, "n": note, "a": base + size, "t": dt.datetime(2026, 11, 22)},
        )
        conn.execute(
            text(
                "UPDATE ledger_log SET size = :s, last_audit_id = :a, indexed_size = :s "
                "WHERE id = 1"
            ),
            {"s": size, "a": base + size},
        )
    return time.perf_counter() - t0


_APP = """
from govtrust.api.app import create_app


def app():
    return create_app(scheduler=False)
"""


@contextmanager
def serve(home: Path, env: dict[str, str], workers: int = 2) -> Iterator[str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (home / "benchapp.py").write_text(_APP)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchapp:app",
            "--factory",
            "--app-dir",
            str(home),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={**os.environ, **env},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/ledger/checkpoint", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the server did not start")
        time.sleep(0.2)
    try:
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def wrk(url: str, paths: list[str], seconds: int, tmp: Path) -> tuple[float, int]:
    """Requests/s of 2xx answers for random picks of ``paths`` (wrk, 2 threads)."""
    script = tmp / "paths.lua"
    body = ",\n".join(f'"{p}"' for p in paths)
    script.write_text(
        f"local paths = {{{body}}}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        "  return wrk.format('GET', paths[math.random(#paths)])\n"
        "end\n"
    )
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, int(m.group(1)) if m else 0


def bench_tree(quick: bool, size: int | None) -> list[dict[str, Any]]:
    size = size or (1_000_000 if quick else 10_000_000)
    seconds = 5 if quick else 15
    rows: list[dict[str, Any]] = []
    if shutil.which("wrk") is None:
        log("wrk is not installed: no HTTP rows")
    with tempfile.TemporaryDirectory(prefix="ledger-bench-tree-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        env = {
            "GOVTRUST_HOME": str(home),
            "GOVTRUST_KEY_PASSPHRASE": secrets.token_urlsafe(16),
            "GOVTRUST_PUBLIC_URL": PUBLIC_URL,
        }
        init_home(home, env)
        ctx = Context.open(load_settings(env))
        try:
            log(f"building a tree of {size:,} entries")
            built = build_tree(ctx, size)
            vkey = ledger.log_info(ctx).vkey
        finally:
            ctx.close()
        rows.append(
            row(
                f"ledger: build a {size:,}-entry tree (synthetic)",
                size / built,
                None,
                "entries/s",
                seconds=round(built, 1),
            )
        )
        import random

        rng = random.Random(1)
        with serve(home, env) as url:
            if shutil.which("wrk"):
                incl = [
                    f"/ledger/proof/inclusion?index={rng.randrange(size)}&size={size}"
                    for _ in range(2000)
                ]
                cons = [
                    f"/ledger/proof/consistency?from={rng.randrange(1, size)}&to={size}"
                    for _ in range(2000)
                ]
                tiles = [
                    f"/ledger/tile/0/{format_index(rng.randrange(size // TILE_WIDTH))}"
                    for _ in range(2000)
                ]
                for label, paths in (
                    ("inclusion proofs", incl),
                    ("consistency proofs", cons),
                    ("level-0 tile reads", tiles),
                ):
                    rps, bad = wrk(url, paths, seconds, tmp)
                    log(f"{label}: {rps:,.0f}/s ({bad} non-2xx)")
                    rows.append(
                        row(
                            f"ledger {label} over HTTP, {size:,}-entry tree",
                            rps,
                            None,
                            "req/s",
                            non_2xx=bad,
                            workers=2,
                        )
                    )
            rows.append(bench_audit(url, tmp, size, vkey))
    return rows


def bench_audit(url: str, tmp: Path, size: int, vkey: str) -> dict[str, Any]:
    """Audit from scratch with the colleague's auditor (govtrust.ledger.client), in a
    child process: wall time and peak RSS."""
    try:
        import govtrust.ledger.client  # noqa: F401
    except ImportError:
        return bench_root_from_tiles(url, size)
    audit_home = tmp / "auditor"
    audit_home.mkdir()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "govtrust"),
            "ledger",
            "audit",
            "--url",
            url + "/ledger",
            "--from-scratch",
            "--key",
            vkey,
            "--json",
        ],
        env={**os.environ, "GOVTRUST_HOME": str(audit_home)},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ok = result.returncode == 0
    if not ok:
        log(f"audit failed: {result.stderr[-500:]}")
    return row(
        f"ledger audit from scratch ({size:,} entries, govtrust ledger audit)",
        elapsed,
        None,
        "s",
        entries_per_s=round(size / elapsed),
        peak_rss_mib=round(max(peak, before) / 1024, 1),
        ok=ok,
    )


def bench_root_from_tiles(url: str, size: int) -> dict[str, Any]:
    """Fallback when the auditor is absent: recompute the root from the tiles."""
    import httpx

    from govtrust.ledger.tiles import TileRef, root_from_tiles

    t0 = time.perf_counter()
    with httpx.Client(base_url=url) as http:

        def get(ref: TileRef) -> bytes:
            return http.get("/ledger/" + ref.path).content

        root_from_tiles(size, get)
    return row(
        f"ledger root from tiles ({size:,} entries; auditor missing)",
        time.perf_counter() - t0,
        None,
        "s",
    )


# ---- entry points -------------------------------------------------------------------------


def main(
    quick: bool, only: set[str] | None = None, size: int | None = None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if only is None or "appends" in only:
        rows += bench_appends(quick)
    if only is None or {"proofs", "audit"} & only:
        rows += bench_tree(quick, size)
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'benchmark':<78} {'ours':>12} {'peer':>8} {'ratio':>6}  unit"]
    for r in rows:
        ours = "-" if r["ours"] is None else f"{r['ours']:,.1f}"
        peer = "-" if r["peer"] is None else f"{r['peer']:,.0f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']}"
        lines.append(f"{r['name']:<78} {ours:>12} {peer:>8} {ratio:>6}  {r['unit']}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="appends,proofs,audit")
    parser.add_argument("--size", type=int, help="entries in the synthetic tree")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    result = main(args.quick, set(args.only.split(",")) if args.only else None, args.size)
    print(_table(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
