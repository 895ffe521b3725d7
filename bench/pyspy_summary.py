"""Summarise a py-spy ``--format raw`` profile (collapsed stacks) as two tables.

    python bench/pyspy_summary.py PROFILE.raw [--top 25] [--filter govtrust]

- *inclusive*: the share of samples in which a function is anywhere on the stack;
- *self*: the share of samples in which it is the innermost frame.

Functions are named ``function (file)``, line numbers dropped, so all lines of one
function add up. Stacks recorded with ``--idle`` include waiting threads; the ``idle``
share is printed separately when thread names show it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def _frame_name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    # Keep the package-relative part: site-packages/x/y.py -> x/y.py
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{m.group('func')} ({path})"


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.rstrip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        frames = [f for f in stack.split(";") if f]
        if frames and frames[0].startswith(("thread (", "process ")):
            frames = frames[1:]
        if frames and frames[0].startswith(("thread (", "process ")):
            frames = frames[1:]
        stacks.append(([_frame_name(f) for f in frames], n))
    return stacks


def summarise(
    stacks: list[tuple[list[str], int]], top: int = 25, needle: str | None = None
) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    total = sum(n for _, n in stacks) or 1
    inclusive: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    for frames, n in stacks:
        for name in set(frames):
            inclusive[name] += n
        if frames:
            self_[frames[-1]] += n

    def pick(counter: Counter[str]) -> list[tuple[str, float]]:
        items = [(k, v) for k, v in counter.most_common() if needle is None or needle in k]
        return [(k, 100.0 * v / total) for k, v in items[:top]]

    return total, pick(inclusive), pick(self_)


def render(path: Path, top: int = 25, needle: str | None = None) -> str:
    total, inc, slf = summarise(parse(path), top, needle)
    lines = [f"{path}: {total} samples"]
    lines.append("  inclusive %  function")
    lines += [f"  {pct:10.1f}  {name}" for name, pct in inc]
    lines.append("  self %       function")
    lines += [f"  {pct:10.1f}  {name}" for name, pct in slf]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", type=Path)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--filter", default=None, help="only functions whose name contains this")
    args = ap.parse_args(argv)
    sys.stdout.write(render(args.profile, args.top, args.filter) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
