"""The auditor of a transparency log: a client of the C2SP tlog-tiles read API
(https://c2sp.org/tlog-tiles) that recomputes the log from its entries.

``audit_log`` does, for the log at a URL (through an injected ``httpx.Client``):

1. fetch ``<prefix>/checkpoint`` and open it as a C2SP signed note with the log's key
   (tlog-checkpoint; signed-note §Signatures): a note the key does not sign is a
   ``bad-signature`` finding and ends the audit. Cosignatures of the witnesses given are
   verified (tlog-cosignature): a known witness's line that does not verify is a
   ``bad-cosignature`` finding.
2. stream every entry bundle ``tile/entries/<N>[.p/<W>]`` with its level-0 tile
   ``tile/0/<N>[.p/<W>]`` (a few fetched ahead, in parallel), recompute each leaf hash
   ``SHA-256(0x00 || entry)`` (RFC 9162 §2.1.1) and compare it with the tile's
   (``wrong-leaf``); a bundle or tile that is absent or short is a ``missing-entry``
   (the exact index is found by asking for ever shorter partial bundles).
3. extend the right edge of the tree (``tiles.Frontier``) with the recomputed leaves:
   each tile of level 1 and above that becomes full, and each partial tile of the final
   size, must equal the log's (``wrong-tile``, ``missing-tile``); the root must equal the
   checkpoint's (``wrong-root``).
4. compare with the last checkpoint seen (the local ``AuditState``): a smaller tree, or
   an old entry, tile or root that changed, is a ``rewrite``; the same size with another
   root is a ``fork``. Incremental audits (the default once a state exists) start from
   the state's right edge and fetch only the bundles from the last size on; the
   overlapping part of the first bundle and every tile above it are checked against
   that right edge, so history rewritten under the old checkpoint still shows.

Memory stays bounded whatever the size: entries are streamed a bundle at a time and the
tree is kept as its right edge (at most 255 hashes per level), never as all its leaves.
Every finding names its kind and the first leaf index concerned (for a checkpoint, its
tree size); where only a subtree is known to differ, the message gives its range.

Written by hand: no maintained Python library audits tlog-tiles logs. Hashing, tiles,
notes and proofs are ``govtrust.ledger``'s; HTTP is httpx.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import json
import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from govtrust.errors import InputError, LedgerError, LedgerFetchError, NoteError
from govtrust.ledger.entries import LedgerEntry
from govtrust.ledger.hashing import HASH_SIZE, leaf_hash
from govtrust.ledger.note import (
    MAX_NOTE_SIZE,
    Checkpoint,
    open_checkpoint,
    parse_vkey,
    split_note,
)
from govtrust.ledger.tiles import (
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    Frontier,
    TileRef,
    decode_entry_bundle,
    split_tile,
    tile_width,
)
from govtrust.ledger.witness import Cosignature, CosignatureVerifier, verify_cosignatures

__all__ = [
    "MAX_FINDINGS",
    "STATE_FORMAT",
    "AuditReport",
    "AuditState",
    "Finding",
    "LogClient",
    "audit_log",
    "default_state_path",
    "log_prefix",
]

STATE_FORMAT = "govtrust-ledger-audit-state/v1"
MAX_FINDINGS = 1000
_TILE_BYTES = TILE_WIDTH * HASH_SIZE
_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE)
_ABSENT = frozenset({404, 410, 500})
_TOFU_BUNDLES = 64  # look this far for the log's ledger.create entry


def log_prefix(url: str) -> str:
    """The tlog-tiles prefix of a log URL: the URL itself, or ``<server>/ledger`` for a
    bare server URL (govtrust serves its log under ``/ledger``)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"not an http(s) URL: {url!r}")
    if parts.query or parts.fragment:
        raise InputError("a log URL has no query or fragment")
    path = parts.path.rstrip("/")
    if path.endswith("/checkpoint"):
        path = path[: -len("/checkpoint")]
    if not path:
        path = "/ledger"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def default_state_path(home: Path, url: str) -> Path:
    """``<home>/audit-state/<host and path of the log>.json``."""
    parts = urlsplit(log_prefix(url))
    name = "".join(c if c.isalnum() or c in ".-" else "_" for c in parts.netloc + parts.path)
    return home / "audit-state" / f"{name}.json"


class LogClient:
    """The tlog-tiles read API of one log, through an injected ``httpx.Client``.

    ``fetch`` returns a tile's or bundle's body, or None when the log does not have it
    (404, 410, or a 500 that persists: govtrust answers 500 when the rows behind a
    bundle are gone); any other failure raises LedgerFetchError after one retry.
    """

    def __init__(self, http: httpx.Client, url: str) -> None:
        self.http = http
        self.prefix = log_prefix(url)
        self.requests = 0
        self.bytes = 0

    def _get(self, path: str, limit: int) -> tuple[int, bytes]:
        url = f"{self.prefix}/{path}"
        last: Exception | None = None
        for _ in range(2):
            try:
                with self.http.stream("GET", url) as response:
                    body = bytearray()
                    if response.status_code == 200:
                        for chunk in response.iter_bytes():
                            body += chunk
                            if len(body) > limit:
                                raise LedgerFetchError(
                                    url, 200, f"{url}: answer larger than {limit} bytes"
                                )
                    self.requests += 1
                    self.bytes += len(body)
                    status = response.status_code
            except httpx.HTTPError as exc:
                last = exc
                continue
            if status >= 500 or status == 429:
                last = None
                continue
            return status, bytes(body)
        if last is not None:
            raise LedgerFetchError(url, None, f"{url}: {type(last).__name__}: {last}") from None
        return status, b""

    def checkpoint(self) -> bytes:
        status, body = self._get("checkpoint", MAX_NOTE_SIZE)
        if status != 200:
            url = f"{self.prefix}/checkpoint"
            raise LedgerFetchError(url, status, f"{url}: HTTP {status}")
        return body

    def fetch(self, ref: TileRef) -> bytes | None:
        status, body = self._get(ref.path, _BUNDLE_BYTES if ref.entries else _TILE_BYTES)
        if status == 200:
            return body
        if status in _ABSENT:
            return None
        url = f"{self.prefix}/{ref.path}"
        raise LedgerFetchError(url, status, f"{url}: HTTP {status}")


# ---- the auditor's memory ---------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise InputError(f"audit state: {what} is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise InputError(f"audit state: {what} is not base64") from None


@dataclass(frozen=True)
class AuditState:
    """What an auditor remembers of a log between audits: its key, and the last
    checkpoint it verified with the right edge of that tree (the partial tile of each
    level, ``level -> concatenated hashes``): enough to check the next checkpoint's
    consistency and continue from there, in a few kilobytes whatever the log's size."""

    url: str
    origin: str
    vkey: str
    size: int
    root: bytes
    edge: Mapping[int, bytes]
    checkpoint: str
    audited_at: str

    def frontier(self) -> Frontier:
        return Frontier(self.size, {level: split_tile(data) for level, data in self.edge.items()})

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "url": self.url,
            "origin": self.origin,
            "key": self.vkey,
            "size": self.size,
            "root": _b64(self.root),
            "edge": {str(level): _b64(data) for level, data in sorted(self.edge.items())},
            "checkpoint": self.checkpoint,
            "audited_at": self.audited_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> AuditState:
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise InputError(f"not an audit state ({STATE_FORMAT})")
        try:
            edge = {int(k): _unb64(v, "edge") for k, v in dict(data["edge"]).items()}
            state = cls(
                url=str(data["url"]),
                origin=str(data["origin"]),
                vkey=str(data["key"]),
                size=int(data["size"]),
                root=_unb64(data["root"], "root"),
                edge=edge,
                checkpoint=str(data["checkpoint"]),
                audited_at=str(data["audited_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"audit state is malformed: {exc}") from None
        try:
            frontier = state.frontier()
        except LedgerError as exc:
            raise InputError(f"audit state is inconsistent: {exc}") from None
        if frontier.root() != state.root:
            raise InputError("audit state is inconsistent: its right edge does not give its root")
        return state

    @classmethod
    def load(cls, path: Path) -> AuditState | None:
        """The state in ``path``, None if there is none yet."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError:
            raise InputError(f"{path} is not JSON") from None

    def save(self, path: Path) -> None:
        """Write atomically (temporary file, then rename)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror}") from None


# ---- findings and the report -------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the log: ``kind`` is ``bad-signature``, ``bad-cosignature``,
    ``missing-entry``, ``wrong-leaf``, ``missing-tile``, ``wrong-tile``, ``wrong-root``,
    ``fork`` or ``rewrite``; ``index`` the first leaf index concerned (the tree size for
    a checkpoint)."""

    kind: str
    index: int
    message: str

    def __str__(self) -> str:
        return f"{self.kind} at index {self.index}: {self.message}"


@dataclass
class AuditReport:
    """The outcome of one audit; ``state`` is what to remember (None after findings,
    so the last good state is kept)."""

    url: str
    origin: str = ""
    size: int = 0
    root: bytes = b""
    previous_size: int | None = None
    incremental: bool = False
    entries_checked: int = 0
    tiles_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    cosignatures: list[Cosignature] = field(default_factory=list)
    key_trusted_on_first_use: bool = False
    state: AuditState | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "url": self.url,
            "origin": self.origin,
            "size": self.size,
            "root": _b64(self.root),
            "previous_size": self.previous_size,
            "incremental": self.incremental,
            "entries_checked": self.entries_checked,
            "tiles_checked": self.tiles_checked,
            "findings": [
                {"kind": f.kind, "index": f.index, "message": f.message} for f in self.findings
            ],
            "notices": self.notices,
            "cosignatures": [
                {"name": c.name, "key_id": f"{c.key_id:08x}", "timestamp": c.timestamp}
                for c in self.cosignatures
            ],
            "key_trusted_on_first_use": self.key_trusted_on_first_use,
        }


class _Stop(Exception):
    """The tree cannot be recomputed further (entries and their tile are both gone)."""


# ---- the audit ----------------------------------------------------------------------


def _span(level: int) -> int:
    return 1 << (TILE_HEIGHT * level)


def _first_difference(ours: bytes, theirs: bytes) -> int:
    """The position of the first hash that differs between two tile bodies."""
    for p in range(0, min(len(ours), len(theirs)), HASH_SIZE):
        if ours[p : p + HASH_SIZE] != theirs[p : p + HASH_SIZE]:
            return p // HASH_SIZE
    return min(len(ours), len(theirs)) // HASH_SIZE


def _locate(
    old_edge: Mapping[int, bytes], new_edge: Mapping[int, bytes], size: int
) -> tuple[int, str]:
    """Where two trees of the same size first differ, from their right edges (the top
    level's partial tile covers the leftmost leaves): the first leaf index concerned and
    a description. Level 0 gives the exact entry, a higher level the range of a subtree
    (the entries under it are not remembered)."""
    for level in sorted(set(old_edge) | set(new_edge), reverse=True):
        a, b = old_edge.get(level, b""), new_edge.get(level, b"")
        if a == b:
            continue
        p = _first_difference(a, b)
        first = ((size >> (TILE_HEIGHT * (level + 1))) * TILE_WIDTH + p) * _span(level)
        if level == 0:
            return first, f"entry {first} differs"
        last = first + _span(level) - 1
        return first, f"the first difference lies in entries {first}..{last}"
    return size, "the right edges agree, yet the roots differ"


class _Auditor:
    """One audit run (see the module docstring for the steps)."""

    def __init__(
        self,
        client: LogClient,
        checkpoint: Checkpoint,
        previous: AuditState | None,
        incremental: bool,
        report: AuditReport,
        parallel: int,
    ) -> None:
        self.client = client
        self.cp = checkpoint
        self.previous = previous
        self.incremental = incremental
        self.report = report
        self.parallel = max(1, parallel)
        self.frontier = previous.frontier() if incremental and previous else Frontier()
        self.start = self.frontier.size
        self.old_level0 = (
            split_tile(previous.edge[0]) if incremental and previous and 0 in previous.edge else []
        )
        self.findings_before = len(report.findings)  # e.g. a bad cosignature

    # -- findings

    def find(self, kind: str, index: int, message: str) -> None:
        findings = self.report.findings
        if len(findings) < MAX_FINDINGS:
            findings.append(Finding(kind, index, message))
        if len(findings) >= MAX_FINDINGS:
            raise _Stop

    # -- fetching, a few bundles ahead

    def _pairs(self) -> Iterator[tuple[int, int, bytes | None, bytes | None]]:
        size = self.cp.size
        first, end = self.start // TILE_WIDTH, -(-size // TILE_WIDTH)
        pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="ledger-audit")
        window: deque[tuple[int, int, Future[bytes | None], Future[bytes | None]]] = deque()
        try:
            k = first
            while k < end or window:
                while k < end and len(window) < 2 * self.parallel:
                    w = tile_width(0, k, size)
                    bundle = pool.submit(self.client.fetch, TileRef(0, k, w, entries=True))
                    tile = pool.submit(self.client.fetch, TileRef(0, k, w))
                    window.append((k, w, bundle, tile))
                    k += 1
                n, w, bundle, tile = window.popleft()
                self.report.tiles_checked += 2
                yield n, w, bundle.result(), tile.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _entries(self, k: int, width: int, body: bytes | None) -> list[bytes]:
        """The bundle's entries; a missing-entry finding (exact index) if it has fewer."""
        base = k * TILE_WIDTH
        if body is not None:
            try:
                return decode_entry_bundle(body, width)
            except (InputError, LedgerError):
                with contextlib.suppress(InputError, LedgerError):
                    got = decode_entry_bundle(body)
                    if len(got) < width:
                        self.find(
                            "missing-entry",
                            base + len(got),
                            f"entry bundle {TileRef(0, k, width, True).path} holds "
                            f"{len(got)} entries, the checkpoint needs {width}",
                        )
                        return got
                self.find("missing-entry", base, f"entry bundle of tile {k} is malformed")
                return []
        # Absent: ask for ever shorter partial bundles to find the first missing entry.
        lo, hi, entries = 0, width, []
        while hi - lo > 1:
            mid = (lo + hi) // 2
            part = self.client.fetch(TileRef(0, k, mid, entries=True))
            prefix: list[bytes] | None = None
            if part is not None:
                with contextlib.suppress(InputError):
                    prefix = decode_entry_bundle(part, mid)
            if prefix is None:
                hi = mid
            else:
                lo, entries = mid, prefix
        self.find(
            "missing-entry",
            base + lo,
            f"entry {base + lo} is missing: the log does not serve "
            f"{TileRef(0, k, width, True).path}",
        )
        return entries

    def _tile_hashes(self, k: int, width: int, body: bytes | None) -> list[bytes]:
        """The level-0 tile's hashes; a finding if it is absent, short or malformed."""
        ref = TileRef(0, k, width)
        base = k * TILE_WIDTH
        if body is None:
            self.find("missing-entry", base, f"tile {ref.path} is missing")
            return []
        usable = len(body) - len(body) % HASH_SIZE
        hashes = [body[i : i + HASH_SIZE] for i in range(0, usable, HASH_SIZE)][:width]
        if len(body) != width * HASH_SIZE:
            kind = "missing-entry" if len(body) < width * HASH_SIZE else "wrong-tile"
            self.find(
                kind,
                base + len(hashes) if kind == "missing-entry" else base,
                f"tile {ref.path} holds {len(body)} bytes, not {width * HASH_SIZE}",
            )
        return hashes

    # -- recomputing

    def run(self) -> None:
        previous = self.previous
        checked_previous = self.incremental or previous is None or previous.size == 0
        for k, width, bundle, tile in self._pairs():
            entries = self._entries(k, width, bundle)
            hashes = self._tile_hashes(k, width, tile)
            leaves = self._leaves(k, width, entries, hashes)
            if not checked_previous and previous is not None:
                # From scratch: compare with the tree seen before when passing its size.
                cut = previous.size - self.frontier.size
                if 0 <= cut <= len(leaves):
                    self._extend(leaves[:cut])
                    self._check_previous_root(previous)
                    checked_previous = True
                    leaves = leaves[cut:]
            self._extend(leaves)
        self._check_edge()
        explained = len(self.report.findings) > self.findings_before
        if not explained and self.frontier.root() != self.cp.root:
            self.find(
                "wrong-root",
                self.cp.size,
                f"the checkpoint of size {self.cp.size} signs root {_b64(self.cp.root)}, the "
                f"entries give {_b64(self.frontier.root())}",
            )

    def _leaves(self, k: int, width: int, entries: list[bytes], hashes: list[bytes]) -> list[bytes]:
        """The leaf hashes of bundle ``k`` from index ``self.start`` on, recomputed from the
        entries, checked against the tile and, below ``start``, the remembered edge."""
        base = k * TILE_WIDTH
        if base >= self.start and len(entries) == width == len(hashes):
            recomputed = [leaf_hash(e) for e in entries]
            if recomputed == hashes:  # the common case, checked in one comparison
                self.report.entries_checked += width
                return recomputed
        leaves = []
        for i in range(width):
            index = base + i
            mine = leaf_hash(entries[i]) if i < len(entries) else None
            theirs = hashes[i] if i < len(hashes) else None
            if mine is not None and theirs is not None and mine != theirs:
                self.find(
                    "wrong-leaf",
                    index,
                    f"entry {index} hashes to {_b64(mine)}, its tile says {_b64(theirs)}",
                )
                # Go on with the tile's hash: one changed entry is one finding, not one
                # per level above it.
                mine = theirs
            leaf = mine if mine is not None else theirs
            if leaf is None:
                raise _Stop
            if mine is not None:
                self.report.entries_checked += 1
            if index < self.start:
                old = self.old_level0[index - base] if index - base < len(self.old_level0) else None
                if old is not None and old != leaf:
                    assert self.previous is not None
                    self.find(
                        "rewrite",
                        index,
                        f"entry {index} changed since the checkpoint of size "
                        f"{self.previous.size} seen on {self.previous.audited_at}",
                    )
                continue
            leaves.append(leaf)
        return leaves

    def _extend(self, leaves: Sequence[bytes]) -> None:
        for done in self.frontier.extend(leaves):
            if done.level == 0:
                continue  # compared hash by hash with the level-0 tile
            ref = TileRef(done.level, done.index)
            self.report.tiles_checked += 1
            self.compare_tile(ref, done.data, self.client.fetch(ref))

    def compare_tile(self, ref: TileRef, ours: bytes, theirs: bytes | None) -> None:
        first = ref.index * _span(ref.level + 1)
        if theirs is None:
            self.find("missing-tile", first, f"tile {ref.path} is missing")
            return
        if theirs == ours:
            return
        p = _first_difference(ours, theirs)
        a = (ref.index * TILE_WIDTH + p) * _span(ref.level)
        b = a + _span(ref.level) - 1
        previous = self.previous
        if self.incremental and previous is not None and a < previous.size:
            self.find(
                "rewrite",
                a,
                f"tile {ref.path} differs from the tree of size {previous.size} seen before "
                f"(entries {a}..{b})",
            )
        else:
            self.find(
                "wrong-tile",
                a,
                f"tile {ref.path} differs from the tree recomputed from the entries "
                f"(hash {p}: entries {a}..{b})",
            )

    def _check_edge(self) -> None:
        """The partial tiles above level 0 at the checkpoint's size (level 0 was compared
        bundle by bundle)."""
        data = self.frontier.partial_tile_data()
        for ref in self.frontier.partial_tiles():
            if ref.level == 0:
                continue
            self.report.tiles_checked += 1
            self.compare_tile(ref, data[ref.level], self.client.fetch(ref))

    def _check_previous_root(self, previous: AuditState) -> None:
        if self.frontier.root() == previous.root:
            return
        kind = "fork" if previous.size == self.cp.size else "rewrite"
        index, where = _locate(previous.edge, self.frontier.partial_tile_data(), previous.size)
        self.find(
            kind,
            index,
            f"the tree of size {previous.size} has root {_b64(self.frontier.root())} now, "
            f"{_b64(previous.root)} when seen on {previous.audited_at}: {where}",
        )


# ---- the entry point ---------------------------------------------------------------------


def _tofu_key(client: LogClient, note: str, size: int) -> str:
    """Trust on first use: the log's key as its own ``ledger.create`` entry states it
    (govtrust logs record their key there), provided it signed the checkpoint."""
    _, signatures = split_note(note)
    names = {(s.name, s.key_id) for s in signatures}
    for k in range(min(_TOFU_BUNDLES, -(-size // TILE_WIDTH))):
        body = client.fetch(TileRef(0, k, tile_width(0, k, size), entries=True))
        if body is None:
            break
        with contextlib.suppress(InputError):
            for entry in decode_entry_bundle(body):
                try:
                    parsed = LedgerEntry.parse(entry)
                    if parsed.type != "ledger.create":
                        continue
                    vkey = str(parsed.details.get("key", ""))
                    verifier = parse_vkey(vkey)
                except LedgerError:  # NoteError is one
                    continue
                if (verifier.name, verifier.key_id) in names:
                    return vkey
    raise InputError(
        "cannot learn the log's key from the log itself: pass --key with the key its "
        "operator publishes"
    )


def audit_log(
    client: LogClient,
    vkey: str | None,
    state: AuditState | None,
    *,
    from_scratch: bool = False,
    witnesses: Sequence[CosignatureVerifier] = (),
    parallel: int = 4,
    now: dt.datetime | None = None,
) -> AuditReport:
    """Audit the log behind ``client`` (see the module docstring).

    ``vkey`` is the log's verifier key; None takes the state's, or with no state learns
    it from the log on first use (reported in ``key_trusted_on_first_use`` and a
    notice). ``state`` is the last checkpoint this auditor verified (None: first audit).
    ``from_scratch`` recomputes the whole tree even when a state exists. InputError for
    a state of another log or key; LedgerFetchError when the log cannot be reached.
    """
    when = now or dt.datetime.now(dt.UTC)
    report = AuditReport(url=client.prefix)
    note = client.checkpoint().decode("utf-8", errors="replace")
    try:
        text, _ = split_note(note)
        claimed = Checkpoint.parse(text)
    except NoteError as exc:
        report.findings.append(Finding("bad-signature", 0, f"the checkpoint is malformed: {exc}"))
        return report
    report.origin, report.size, report.root = claimed.origin, claimed.size, claimed.root
    if state is not None and state.origin != claimed.origin:
        raise InputError(
            f"the audit state is for log {state.origin!r}, this log is {claimed.origin!r}"
        )
    if vkey is not None and state is not None and vkey.strip() != state.vkey:
        raise InputError(
            "--key is not the key this audit state trusts: audit with a new --state to "
            "change keys (a log's key does not change)"
        )
    if vkey is None and state is not None:
        vkey = state.vkey
    if vkey is None:
        vkey = _tofu_key(client, note, claimed.size)
        report.key_trusted_on_first_use = True
        report.notices.append(
            f"NOTICE: no --key given: trusting the log key {vkey} on first use "
            "(as the log's own ledger.create entry states it). Compare it with the key the "
            "log's operator publishes; later audits will hold the log to it."
        )
    vkey = vkey.strip()
    verifier = parse_vkey(vkey)
    # 1. The checkpoint's signature.
    try:
        checkpoint, _ = open_checkpoint(note, [verifier], origin=claimed.origin)
    except NoteError as exc:
        report.findings.append(Finding("bad-signature", claimed.size, f"checkpoint: {exc}"))
        return report
    if witnesses:
        try:
            report.cosignatures = verify_cosignatures(note, witnesses, now=int(when.timestamp()))
        except NoteError as exc:
            report.findings.append(Finding("bad-cosignature", checkpoint.size, str(exc)))
        cosigned = {c.name for c in report.cosignatures}
        for w in witnesses:
            if w.name not in cosigned:
                report.notices.append(f"not cosigned by witness {w.name}")
    previous = state
    report.previous_size = previous.size if previous is not None else None
    # 4 (first part). A smaller tree, or the same size with another root.
    if previous is not None and checkpoint.size < previous.size:
        report.findings.append(
            Finding(
                "rewrite",
                checkpoint.size,
                f"the log shrank: checkpoint of size {checkpoint.size}, one of size "
                f"{previous.size} was seen on {previous.audited_at}",
            )
        )
        return report
    incremental = previous is not None and not from_scratch and previous.size > 0
    report.incremental = incremental
    auditor = _Auditor(client, checkpoint, previous, incremental, report, parallel)
    try:
        if incremental and previous is not None and checkpoint.size == previous.size:
            _same_size(auditor, previous, checkpoint)
        else:
            auditor.run()
    except _Stop:
        if len(report.findings) >= MAX_FINDINGS:
            report.notices.append(f"stopped after {MAX_FINDINGS} findings")
        else:
            report.notices.append("stopped: the tree cannot be recomputed past the missing data")
    if report.ok:
        report.state = AuditState(
            url=client.prefix,
            origin=checkpoint.origin,
            vkey=vkey,
            size=checkpoint.size,
            root=checkpoint.root,
            edge=auditor.frontier.partial_tile_data() if checkpoint.size else {},
            checkpoint=note,
            audited_at=when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    return report


def _same_size(auditor: _Auditor, previous: AuditState, checkpoint: Checkpoint) -> None:
    """Incremental audit of a checkpoint of the size seen before: it must have the same
    root (a fork otherwise), and the log's partial tiles must still be the remembered
    right edge (a rewrite otherwise)."""
    served: dict[int, tuple[TileRef, bytes | None]] = {}
    for ref in auditor.frontier.partial_tiles():
        auditor.report.tiles_checked += 1
        served[ref.level] = (ref, auditor.client.fetch(ref))
    if checkpoint.root != previous.root:
        edge = {level: body or b"" for level, (_, body) in served.items()}
        index, where = _locate(previous.edge, edge, previous.size)
        auditor.find(
            "fork",
            index,
            f"checkpoint of size {checkpoint.size} has root {_b64(checkpoint.root)}, the one "
            f"seen on {previous.audited_at} had {_b64(previous.root)}: {where}",
        )
        return
    for level, (ref, body) in sorted(served.items(), reverse=True):
        auditor.compare_tile(ref, previous.edge.get(level, b""), body)
