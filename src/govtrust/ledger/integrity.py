"""Tamper evidence at rest: recompute the log from its stored entries and compare every
derived datum, reporting the first bad leaf index.

For each stored entry, in index order: (1) the index has no gap (a deleted entry);
(2) ``SHA-256(0x00 || entry)`` equals the hash at that position of the stored level-0
tile (a changed or moved entry); (3) the entry equals the audit_event record it came
from (an edited or deleted audit row); (4) audit ids increase (two entries swapped, even
with every tile rewritten). The recomputed tree must reproduce every stored full tile at
every level, every stored checkpoint root (each checkpoint's signature is verified with
the log key), and the stored partial tiles.

Pure: the storage is read through the callables the caller passes in
(``services.ledger`` gives them from the database; an auditor could give them from
HTTP).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from govtrust.errors import NoteError, TamperError
from govtrust.ledger.hashing import leaf_hash
from govtrust.ledger.note import Checkpoint, NoteVerifier, open_checkpoint
from govtrust.ledger.tiles import TILE_WIDTH, Frontier, TileRef, split_tile, tile_width

__all__ = ["CheckReport", "StoredCheckpoint", "StoredEntry", "check_log"]


@dataclass(frozen=True)
class StoredEntry:
    """One stored leaf and the audit record it was appended from (None if that audit
    row is gone)."""

    idx: int
    audit_event_id: int
    entry: bytes
    record: bytes | None


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str


@dataclass
class CheckReport:
    start: int
    size: int
    entries_checked: int = 0
    tiles_checked: int = 0
    checkpoints_checked: int = 0
    frontier: Frontier = field(default_factory=Frontier)


def check_log(
    *,
    size: int,
    entries: Iterable[StoredEntry],
    get_tile: Callable[[TileRef], bytes | None],
    checkpoints: Iterable[StoredCheckpoint],
    verifiers: Sequence[NoteVerifier],
    origin: str,
    start: Frontier | None = None,
    last_audit_id: int = 0,
) -> CheckReport:
    """Check the log from ``start`` (a frontier already trusted, default the empty tree)
    up to ``size``; raise TamperError with the first bad index, or return a report.

    ``entries`` yields the stored entries from index ``start.size`` on, in index order;
    ``get_tile`` gives a stored tile's body (full, or a prefix of the current partial
    tile), None if absent; ``checkpoints`` are the stored checkpoints from size
    ``start.size`` on, in increasing size; ``last_audit_id`` is the audit id of the
    entry before ``start``.
    """
    frontier = start.copy() if start is not None else Frontier()
    report = CheckReport(start=frontier.size, size=size, frontier=frontier)
    # Checkpoints arrive in increasing size (streamed: a busy log signs one a second).
    stream = iter(checkpoints)
    pending = next(stream, None)

    def due() -> None:
        nonlocal pending
        while pending is not None and pending.size <= frontier.size:
            if pending.size < frontier.size:
                raise TamperError(
                    pending.size, "checkpoint", f"checkpoint {pending.size} is out of order"
                )
            _check_checkpoint(pending, frontier, verifiers, origin)
            report.checkpoints_checked += 1
            pending = next(stream, None)

    due()
    tile_cache: tuple[int, list[bytes]] | None = None
    expected = frontier.size
    previous_audit = last_audit_id

    def level0(index: int) -> list[bytes]:
        nonlocal tile_cache
        n = index // TILE_WIDTH
        if tile_cache is None or tile_cache[0] != n:
            width = tile_width(0, n, size)
            data = get_tile(TileRef(0, n, width))
            if data is None:
                raise TamperError(n * TILE_WIDTH, "tile-missing", f"tile 0/{n} is missing")
            tile_cache = (n, split_tile(data, width))
            report.tiles_checked += 1
        return tile_cache[1]

    for row in entries:
        i = expected
        if row.idx >= size:
            break
        # (1) no gap
        if row.idx != i:
            raise TamperError(i, "missing-entry", f"entry {i} is missing from the log")
        # (2) the leaf hash is the stored level-0 tile's
        lh = leaf_hash(row.entry)
        if level0(i)[i % TILE_WIDTH] != lh:
            raise TamperError(i, "leaf-hash", f"entry {i} does not hash to its tile's leaf hash")
        # (3) the entry is the audit record it was appended from
        if row.record is None:
            raise TamperError(
                i, "audit-missing", f"the audit event of entry {i} ({row.audit_event_id}) is gone"
            )
        if row.record != row.entry:
            raise TamperError(
                i, "audit-differs", f"audit event {row.audit_event_id} differs from entry {i}"
            )
        # (4) audit ids increase
        if row.audit_event_id <= previous_audit:
            raise TamperError(
                max(i - 1, 0), "reordered", f"entries {i - 1} and {i} are out of audit order"
            )
        previous_audit = row.audit_event_id
        for done in frontier.extend((lh,)):
            if done.level == 0:
                continue  # compared hash by hash above
            stored = get_tile(TileRef(done.level, done.index))
            report.tiles_checked += 1
            if stored != done.data:
                first = done.index * TILE_WIDTH ** (done.level + 1)
                raise TamperError(
                    first, "tile", f"tile {done.level}/{done.index} differs from the entries"
                )
        expected += 1
        report.entries_checked += 1
        due()
    if expected != size:
        raise TamperError(expected, "missing-entry", f"entry {expected} is missing from the log")
    if pending is not None:
        raise TamperError(
            pending.size, "checkpoint", f"checkpoint {pending.size} is beyond the log"
        )
    for ref in frontier.partial_tiles():
        data = frontier.partial_tile_data()[ref.level]
        if get_tile(ref) != data:
            first = ref.index * TILE_WIDTH ** (ref.level + 1)
            raise TamperError(first, "tile", f"partial tile {ref.path} differs from the entries")
        report.tiles_checked += 1
    return report


def _check_checkpoint(
    cp: StoredCheckpoint, frontier: Frontier, verifiers: Sequence[NoteVerifier], origin: str
) -> None:
    root = frontier.root()
    try:
        parsed, _ = open_checkpoint(cp.note, verifiers, origin=origin)
    except NoteError as exc:
        raise TamperError(cp.size, "checkpoint", f"checkpoint {cp.size}: {exc}") from None
    if parsed != Checkpoint(origin, cp.size, cp.root) or root != cp.root:
        raise TamperError(
            cp.size,
            "checkpoint",
            f"checkpoint {cp.size} does not match the tree recomputed from the entries",
        )
