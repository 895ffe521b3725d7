"""A pyHanko peer in a child process that never imports govtrust, timed in batches.

Importing govtrust's PDF modules replaces pyHanko's hexadecimal-string reader by a
faster one (``src/govtrust/_pdf_hex.py``): a peer measured in the same process would
no longer be "pyHanko used directly". ``signing_bench.py`` and
``pades_verify_bench.py`` start their peer with :class:`PeerProcess` (the script runs
itself with ``--peer-worker ARG``); the child builds its callable, checks
:func:`assert_raw_pyhanko` and answers with :func:`serve`. One line in (a count), one
line out (the milliseconds of each call, JSON), so the parent can alternate batches of
its own code and of the peer.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Batch", "PeerProcess", "alternate", "assert_raw_pyhanko", "serve", "timed"]

Batch = Callable[[int], list[float]]
"""Runs something ``n`` times; the milliseconds of each run."""


def timed(fn: Callable[[], Any]) -> Batch:
    def batch(n: int) -> list[float]:
        out = []
        for _ in range(n):
            start = time.perf_counter()
            fn()
            out.append(1000 * (time.perf_counter() - start))
        return out

    return batch


def alternate(reps: int, n: int, ours: Batch, peer: Batch) -> tuple[float, float]:
    """Median ms per call of ``ours`` and ``peer``, alternating batches of ``n`` (the
    order flips every round), after one warm-up call of each."""
    ours(1), peer(1)
    mine: list[float] = []
    theirs: list[float] = []
    for index in range(reps):
        pair = ((ours, mine), (peer, theirs))
        for fn, out in pair if index % 2 == 0 else reversed(pair):
            out.extend(fn(n))
    return statistics.median(mine), statistics.median(theirs)


def assert_raw_pyhanko() -> None:
    """In a peer process: govtrust was never imported, pyHanko reads PDFs its own way."""
    from pyhanko.pdf_utils import generic

    if any(name == "govtrust" or name.startswith("govtrust.") for name in sys.modules):
        raise SystemExit("the pyHanko peer process imported govtrust")
    if generic.read_hex_string_from_stream.__module__ != "pyhanko.pdf_utils.generic":
        raise SystemExit("the peer process is not running pyHanko's own PDF reader")


class PeerProcess:
    """``python SCRIPT --peer-worker ARG`` as a :data:`Batch` source."""

    def __init__(self, script: Path, arg: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--peer-worker", arg],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def batch(self, n: int) -> list[float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the pyHanko peer process stopped")
        timings: list[float] = json.loads(line)
        return timings

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def serve(batch: Batch) -> None:
    """The child's loop: a count per line in, its timings as one JSON line out."""
    assert_raw_pyhanko()
    for line in sys.stdin:
        sys.stdout.write(json.dumps(batch(int(line))) + "\n")
        sys.stdout.flush()
