"""The pure tamper check (govtrust.ledger.integrity) on an in-memory log: a clean log
passes; each kind of damage is reported at its first bad index."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govtrust.errors import TamperError
from govtrust.ledger.hashing import leaf_hash
from govtrust.ledger.integrity import StoredCheckpoint, StoredEntry, check_log
from govtrust.ledger.note import Checkpoint, Ed25519Verifier, sign_note
from govtrust.ledger.tiles import Frontier, TileRef

ORIGIN = "test.example/log"
KEY = Ed25519PrivateKey.generate()
VERIFIER = Ed25519Verifier(ORIGIN, KEY.public_key())


@dataclasses.dataclass
class Log:
    entries: list[StoredEntry]
    tiles: dict[tuple[int, int], bytes]
    partial: dict[int, bytes]
    checkpoints: list[StoredCheckpoint]

    @property
    def size(self) -> int:
        return len(self.entries)

    def get_tile(self, ref: TileRef) -> bytes | None:
        full = self.tiles.get((ref.level, ref.index))
        if full is not None:
            return full[: ref.width * 32]
        data = self.partial.get(ref.level)
        if data is None or len(data) < ref.width * 32:
            return None
        return data[: ref.width * 32]

    def check(self) -> None:
        check_log(
            size=self.size,
            entries=self.entries,
            get_tile=self.get_tile,
            checkpoints=self.checkpoints,
            verifiers=[VERIFIER],
            origin=ORIGIN,
        )


def make_log(n: int = 600, batch: int = 100) -> Log:
    frontier = Frontier()
    entries, tiles, cps = [], {}, []
    root = frontier.root()
    cps.append(
        StoredCheckpoint(0, root, sign_note(Checkpoint(ORIGIN, 0, root).body(), ORIGIN, KEY))
    )
    for start in range(0, n, batch):
        batch_entries = [b"entry %d" % i for i in range(start, min(n, start + batch))]
        for i, e in enumerate(batch_entries):
            entries.append(StoredEntry(start + i, 1000 + start + i, e, e))
        for t in frontier.extend(leaf_hash(e) for e in batch_entries):
            tiles[(t.level, t.index)] = t.data
        root = frontier.root()
        note = sign_note(Checkpoint(ORIGIN, frontier.size, root).body(), ORIGIN, KEY)
        cps.append(StoredCheckpoint(frontier.size, root, note))
    return Log(entries, tiles, frontier.partial_tile_data(), cps)


def expect(log: Log, index: int, what: str) -> None:
    with pytest.raises(TamperError) as info:
        log.check()
    assert (info.value.index, info.value.what) == (index, what)


def test_a_clean_log_passes() -> None:
    log = make_log()
    report = check_log(
        size=log.size,
        entries=log.entries,
        get_tile=log.get_tile,
        checkpoints=log.checkpoints,
        verifiers=[VERIFIER],
        origin=ORIGIN,
    )
    assert report.entries_checked == 600 and report.checkpoints_checked == 7


def test_changed_entry() -> None:
    log = make_log()
    e = log.entries[300]
    log.entries[300] = dataclasses.replace(e, entry=e.entry + b"!", record=e.entry + b"!")
    expect(log, 300, "leaf-hash")


def test_missing_entry() -> None:
    log = make_log()
    del log.entries[123]
    expect(log, 123, "missing-entry")


def test_audit_record_differs_or_is_gone() -> None:
    log = make_log()
    log.entries[7] = dataclasses.replace(log.entries[7], record=b"other")
    expect(log, 7, "audit-differs")
    log = make_log()
    log.entries[8] = dataclasses.replace(log.entries[8], record=None)
    expect(log, 8, "audit-missing")


def test_reordered_audit_ids() -> None:
    log = make_log()
    a, b = log.entries[10], log.entries[11]
    log.entries[10] = dataclasses.replace(a, audit_event_id=b.audit_event_id)
    log.entries[11] = dataclasses.replace(b, audit_event_id=a.audit_event_id)
    expect(log, 10, "reordered")


def test_forged_checkpoint_and_bad_signature() -> None:
    log = make_log()
    cp = log.checkpoints[3]
    other = Ed25519PrivateKey.generate()
    note = sign_note(Checkpoint(ORIGIN, cp.size, cp.root).body(), ORIGIN, other)
    log.checkpoints[3] = dataclasses.replace(cp, note=note)
    expect(log, cp.size, "checkpoint")
    log = make_log()
    cp = log.checkpoints[2]
    log.checkpoints[2] = dataclasses.replace(cp, root=b"\x00" * 32)
    expect(log, cp.size, "checkpoint")


def test_changed_partial_tile() -> None:
    log = make_log()
    data = bytearray(log.partial[0])
    data[0] ^= 1
    log.partial[0] = bytes(data)
    expect(log, 512, "leaf-hash")


def test_checkpoint_beyond_the_log() -> None:
    log = make_log()
    log.checkpoints.append(dataclasses.replace(log.checkpoints[-1], size=700))
    expect(log, 700, "checkpoint")
