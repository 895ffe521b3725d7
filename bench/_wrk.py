"""Running wrk (https://github.com/wg/wrk) and reading its report.

POST bodies are sent by a generated Lua script that reads the body from a file, so that
binary DER and multi-line JSON need no escaping.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float  # wrk's own Requests/sec (all responses, whatever their status)
    ok_rps: float  # 2xx/3xx responses per second: the figure we quote
    non_2xx: int
    socket_errors: int
    timeouts: int
    latency_avg_ms: float
    latency_p50_ms: float
    latency_p99_ms: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def lua_script(path: Path, body_file: Path, content_type: str, headers: dict[str, str]) -> Path:
    lines = [
        f'local f = assert(io.open("{body_file}", "rb"))',
        'wrk.method = "POST"',
        'wrk.body = f:read("*a")',
        "f:close()",
        f'wrk.headers["Content-Type"] = "{content_type}"',
    ]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse(output: str) -> WrkResult:
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if not m:
        raise ValueError(f"cannot read wrk output:\n{output}")
    requests = int(m.group(1))
    seconds = float(m.group(2)) * _UNITS[m.group(3)] / 1000.0
    rps_m = re.search(r"Requests/sec:\s+([\d.]+)", output)
    rps = float(rps_m.group(1)) if rps_m else requests / seconds
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    non_2xx = int(non.group(1)) if non else 0
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = sum(int(x) for x in sock.groups()[:3]) if sock else 0
    timeouts = int(sock.group(4)) if sock else 0
    lat = re.search(r"Latency\s+(\S+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)\s*$", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)\s*$", output, re.MULTILINE)
    return WrkResult(
        requests=requests,
        seconds=seconds,
        rps=rps,
        ok_rps=(requests - non_2xx) / seconds if seconds else 0.0,
        non_2xx=non_2xx,
        socket_errors=socket_errors,
        timeouts=timeouts,
        latency_avg_ms=_ms(lat.group(1)) if lat else float("nan"),
        latency_p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        latency_p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
    )


def run(
    url: str,
    *,
    threads: int,
    connections: int,
    duration: float,
    script: Path | None = None,
    timeout_s: int = 5,
) -> WrkResult:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("benchmarks send traffic to 127.0.0.1 only")
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout_s}s",
        "--latency",
    ]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    return parse(out)
