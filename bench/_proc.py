"""Processes for the benchmarks: start servers in their own session, wait until they
answer, read their memory from /proc, stop them by process group. Only processes this
module started are ever signalled."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_STARTED: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def loadavg() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))


@dataclass
class Server:
    """A server process started by the benchmark, in its own process group."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tree(self) -> list[int]:
        """This server's process and all its descendants (uvicorn workers, openssl
        -multi children, multiprocessing's resource tracker)."""
        return [self.pid, *descendants(self.pid)]

    def stop(self, timeout: float = 10.0) -> None:
        stop(self.proc, timeout)


def start(
    name: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    log: Path,
    url: str,
) -> Server:
    fh = log.open("wb")
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=fh,
        stderr=subprocess.STDOUT,
        # Its own process group, stopped as a whole by id. Not a new session: openssl
        # ocsp -multi calls setpgid(0, 0), which a session leader may not (EPERM).
        process_group=0,
    )
    fh.close()
    _STARTED.append(proc)
    return Server(name, proc, log, url)


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group this module created, then SIGKILL what is left.
    Only once per process: a group id is never signalled after it may have been reused."""
    if proc not in _STARTED:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    # Children that outlived their parent (openssl ocsp -multi) are still in the group.
    for pid in group_members(proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    _STARTED.remove(proc)


@atexit.register
def _stop_all() -> None:
    for proc in list(_STARTED):
        stop(proc, 5)


def wait_http(
    url: str,
    *,
    timeout: float,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    alive: Callable[[], bool] | None = None,
) -> bytes:
    """Poll ``url`` until it answers 2xx; return the body."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"server for {url} exited during startup")
        try:
            return http(url, method=method, body=body, headers=headers, timeout=5)[1]
        except (OSError, urllib.error.URLError) as exc:
            last = exc
            time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s: {last}")


def http(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, bytes, dict[str, str]]:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("benchmarks talk to 127.0.0.1 only")
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        return resp.status, resp.read(), dict(resp.headers.items())


# ---- /proc -----------------------------------------------------------------------------


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    return int(stat.rsplit(")", 1)[1].split()[1])


def group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                out.append(int(entry))
    return out


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _ppid(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    out: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(out)


def status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of one process, in KiB; empty if it is gone."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        return {}
    return out


def pss_kib(pid: int) -> int | None:
    """Proportional set size (shared pages split between their users), in KiB."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_snapshot(pids: Sequence[int]) -> dict[str, Any]:
    per: list[dict[str, Any]] = []
    rss = hwm = pss = 0
    for pid in pids:
        st = status_kib(pid)
        if st:
            p = pss_kib(pid)
            per.append({"pid": pid, "cmd": cmdline(pid)[:120], **st, "Pss": p})
            rss += st.get("VmRSS", 0)
            hwm += st.get("VmHWM", 0)
            pss += p or 0
    return {"processes": per, "rss_kib": rss, "hwm_kib": hwm, "pss_kib": pss}


@dataclass
class RssSampler:
    """Samples the summed VmRSS of a server's process tree in a thread."""

    server: Server
    interval: float = 0.25
    peak_kib: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(status_kib(p).get("VmRSS", 0) for p in self.server.tree())
            self.peak_kib = max(self.peak_kib, total)
            self.samples += 1
            self._stop.wait(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
