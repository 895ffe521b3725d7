"""Portal benchmark: the verify page's round trip (upload a 1-page PAdES document,
receive the verdict page), median and p95, with 1 and 16 concurrent clients.

A demo instance is initialised in a temporary directory and served by
``govtrust serve --workers 2`` (one per core) as a separate process group; each client
is a thread with its own HTTP connection that first fetches the form (for its CSRF
token and cookie), then posts the document again and again. The timed request is the
POST: multipart upload, validation (PAdES-BASELINE-T: signature, time-stamp, chain and
revocation from the instance's own OCSP store), the sealed JSON report (a CAdES-B-T
seal, audited) and the rendered page. The PDF report is made only when a visitor keeps
a report link, so it is not in the round trip. Goal (issue 6): p95 under 200 ms at 16
clients on 2 cores.

    .venv/bin/python bench/portal_bench.py [--seconds 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._proc import free_port, loadavg, start, wait_http

from govtrust.config import load_settings
from govtrust.services import Context
from govtrust.services.setup import init_home
from tests.e2e.support import sign_pdf

ROOT = Path(__file__).resolve().parents[1]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _client(url: str, document: bytes, stop: float, out: list[float], errors: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        form = http.get("/en/verify")
        token = _CSRF.search(form.text)
        assert token, "no CSRF token on the verify form"
        while time.monotonic() < stop:
            started = time.perf_counter()
            r = http.post(
                "/en/verify",
                data={"csrf": token.group(1)},
                files={"document": ("residence.pdf", document, "application/pdf")},
            )
            elapsed = time.perf_counter() - started
            if r.status_code != 200 or 'class="verdict valid"' not in r.text:
                errors.append(f"{r.status_code}: {r.text[:200]}")
                continue
            out.append(elapsed)


def run(url: str, document: bytes, clients: int, seconds: float) -> dict[str, object]:
    _client(url, document, time.monotonic() + 2, [], [])  # warm-up
    times: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_client, args=(url, document, stop, times, errors))
        for _ in range(clients)
    ]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - began
    return {
        "clients": clients,
        "requests": len(times),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "median_ms": round(1000 * _percentile(times, 0.5), 1),
        "p95_ms": round(1000 * _percentile(times, 0.95), 1),
        "per_second": round(len(times) / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        home = Path(tmp) / "home"
        port = free_port()
        env = {
            **os.environ,
            "GOVTRUST_HOME": str(home),
            "GOVTRUST_KEY_PASSPHRASE": secrets.token_urlsafe(24),
            "GOVTRUST_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        env.pop("GOVTRUST_DATABASE_URL", None)
        init_home(home, env, demo=True)
        # Plain HTTP on loopback: httpx (like any client) keeps Secure cookies for HTTPS.
        with (home / "govtrust.toml").open("a", encoding="utf-8") as f:
            f.write("\n[portal]\nsecure_cookies = false\n")
        ctx = Context.open(load_settings(env))
        try:
            document = sign_pdf(ctx)
        finally:
            ctx.close()
        url = f"http://127.0.0.1:{port}"
        server = start(
            "govtrust",
            [
                str(ROOT / ".venv/bin/govtrust"),
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            cwd=ROOT,
            env=env,
            log=Path(tmp) / "serve.log",
            url=url,
        )
        try:
            wait_http(url + "/en/verify", timeout=60, alive=lambda: server.proc.poll() is None)
            results = [run(url, document, n, args.seconds) for n in (1, 16)]
        finally:
            server.stop()
    report = {
        "benchmark": "portal verify round trip (1-page PAdES-BASELINE-T)",
        "document_bytes": len(document),
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "loadavg": loadavg(),
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
