"""Portal benchmark: the verify page's round trip (upload a 1-page PAdES document,
receive the verdict page), median and p95, with 1 and 16 concurrent clients.

A demo instance is initialised in a temporary directory and served by
``govtrust serve --workers 1`` with ``[portal] verify_processes = 2`` (the web worker
sends each validation, and the visitor's verdict page, to a pool of two processes, one
per core: docs/portal.md) as a separate process group. ``--workers 2`` (each web
worker with its own pool of two) gave a p95 ~20 ms higher: four validation processes
share the two cores when the connections split. The load is made
by ``wrk`` (C, one thread, 1 or 16 keep-alive connections), so that the client takes
little of the 2 cores; its Lua script posts the same multipart form a browser sends
(the CSRF token and its cookie, fetched once from the form page) and counts every
response that is not a 200 verdict page saying "valid". Latencies are wrk's, from
sending the request to the last byte of the page.

The timed request is the POST: multipart upload, validation (PAdES-BASELINE-T:
signature, time-stamp, chain and revocation from the instance's own OCSP store) and
the rendered verdict page. Sealing the report is not in it: the page offers the
signed JSON report, made when the visitor asks for it (and the signed PDF for a kept
report). Goal (issue 6): p95 under 200 ms at 16 clients on 2 cores.

    .venv/bin/python bench/portal_bench.py [--seconds 20] [--repeat 3] [--workers 1]
        [--verify-processes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._proc import cpu_seconds, free_port, loadavg, start, wait_http

from govtrust.config import load_settings
from govtrust.services import Context
from govtrust.services.setup import init_home
from tests.e2e.support import sign_pdf

ROOT = Path(__file__).resolve().parents[1]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_DONE = re.compile(r"P50 (\d+) P95 (\d+) P99 (\d+) BAD (\d+)")
_REQUESTS = re.compile(r"(\d+) requests in")

_LUA = """local f = assert(io.open("{body}", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "multipart/form-data; boundary={boundary}"
wrk.headers["Cookie"] = "{cookie}"
local bad = 0
function response(status, headers, body)
  if status ~= 200 or not string.find(body, 'class="verdict valid"', 1, true) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  io.write(string.format("P50 %d P95 %d P99 %d BAD %d\\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99), bad))
end
"""


def _script(work: Path, url: str, document: bytes) -> Path:
    """wrk's Lua script posting ``document`` with a CSRF token and cookie of ``url``."""
    with httpx.Client(base_url=url, timeout=60) as http:
        form = http.get("/en/verify")
        token = _CSRF.search(form.text)
        assert token, "no CSRF token on the verify form"
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        # The same request once through httpx: the form is accepted and says "valid".
        check = http.post(
            "/en/verify",
            data={"csrf": token.group(1)},
            files={"document": ("residence.pdf", document, "application/pdf")},
        )
        assert 'class="verdict valid"' in check.text, check.text[:300]
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
            f"{token.group(1)}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="document"; filename="residence.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + document
        + f"\r\n--{boundary}--\r\n".encode()
    )
    (work / "body").write_bytes(body)
    script = work / "verify.lua"
    script.write_text(_LUA.format(body=work / "body", boundary=boundary, cookie=cookie))
    return script


def _wrk(url: str, script: Path, clients: int, seconds: int) -> tuple[int, list[int]]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout=10s", "-s", str(script),
         url + "/en/verify"],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout  # fmt: skip
    done, count = _DONE.search(out), _REQUESTS.search(out)
    if not done or not count:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return int(count.group(1)), [int(x) for x in done.groups()]


def run(
    url: str, script: Path, server_pids: list[int], clients: int, seconds: int
) -> dict[str, object]:
    before = sum(cpu_seconds(p) for p in server_pids)
    began = time.monotonic()
    requests, (p50, p95, p99, bad) = _wrk(url, script, clients, seconds)
    wall = time.monotonic() - began
    used = sum(cpu_seconds(p) for p in server_pids) - before
    return {
        "clients": clients,
        "requests": requests,
        "bad_responses": bad,
        "per_second": round(requests / seconds, 1),
        "median_ms": round(p50 / 1000, 1),
        "p95_ms": round(p95 / 1000, 1),
        "p99_ms": round(p99 / 1000, 1),
        "server_cpu_ms_per_request": round(1000 * used / max(requests, 1), 1),
        "server_cores": round(used / wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--verify-processes", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        work = Path(tmp)
        home = work / "home"
        port = free_port()
        env = {
            **os.environ,
            "GOVTRUST_HOME": str(home),
            "GOVTRUST_KEY_PASSPHRASE": secrets.token_urlsafe(24),
            "GOVTRUST_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        env.pop("GOVTRUST_DATABASE_URL", None)
        init_home(home, env, demo=True)
        # Plain HTTP on loopback: clients keep Secure cookies for HTTPS only.
        with (home / "govtrust.toml").open("a", encoding="utf-8") as f:
            f.write(
                f"\n[portal]\nsecure_cookies = false\nverify_processes = {args.verify_processes}\n"
            )
        ctx = Context.open(load_settings(env))
        try:
            document = sign_pdf(ctx)
        finally:
            ctx.close()
        url = f"http://127.0.0.1:{port}"
        argv = [str(ROOT / ".venv/bin/govtrust"), "serve", "--port", str(port)]
        argv += ["--workers", str(args.workers)]
        server = start("govtrust", argv, cwd=ROOT, env=env, log=work / "serve.log", url=url)
        try:
            wait_http(url + "/en/verify", timeout=60, alive=lambda: server.proc.poll() is None)
            script = _script(work, url, document)
            _wrk(url, script, 16, 8)  # warm-up: every process started, caches filled
            pids = server.tree()
            results = [
                run(url, script, pids, clients, args.seconds)
                for _ in range(args.repeat)
                for clients in (1, 16)
            ]
        finally:
            server.stop()
    summary = {
        str(n): {
            key: statistics.median(float(r[key]) for r in results if r["clients"] == n)  # type: ignore[arg-type]
            for key in ("per_second", "median_ms", "p95_ms", "server_cpu_ms_per_request")
        }
        for n in (1, 16)
    }
    report = {
        "benchmark": "portal verify round trip (1-page PAdES-BASELINE-T), wrk",
        "document_bytes": len(document),
        "workers": args.workers,
        "verify_processes": args.verify_processes,
        "cpus": os.cpu_count(),
        "loadavg": loadavg(),
        "results": results,
        "median_of_runs": summary,
        "goal": "p95 < 200 ms at 16 clients",
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
