"""Tamper evidence at rest and crash safety of the ledger, on SQLite and PostgreSQL.

An attacker with write access to the database drops the append-only triggers (as they
would) and changes a byte of an entry, deletes an entry or an audit row, swaps two
entries, edits an audit record, a tile or a checkpoint: ``govtrust ledger check`` names
the first bad index, the start-up self-check catches it, and the sequencer refuses to
sign over it. Then the sequencer is killed with SIGKILL mid-batch, again and again,
while another process keeps acknowledging actions: nothing acknowledged is lost, no
checkpoint contradicts an earlier one, and the tree continues.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from govtrust.config import LedgerSettings
from govtrust.errors import TamperError
from govtrust.services import Actor, Context, audit
from govtrust.services import ledger as ledger_svc
from tests.conftest import Demo
from tests.integration.test_ledger import (
    open_checkpoint_independently,
    rfc_verify_consistency,
)

ACTOR = Actor("test:ledger", "admin")
TABLES = ("ledger_entry", "ledger_tile", "ledger_checkpoint", "audit_event")


def add_events(ctx: Context, n: int, tag: str = "e") -> list[int]:
    """Acknowledged actions: n audit events, committed."""
    with ctx.db.write() as s:
        for i in range(n):
            audit.record(s, ctx, ACTOR, "test.event", "blob", f"{tag}{i}", f"{tag}{i}".encode())
    with ctx.db.read() as s:
        return [int(x) for x in s.execute(text("SELECT id FROM audit_event")).scalars()]


def drop_triggers(ctx: Context) -> None:
    """What an attacker with database access does first."""
    with ctx.db.write() as s:
        for table in TABLES:
            if ctx.db.dialect == "sqlite":
                s.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                s.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
            else:
                s.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))


def sql(ctx: Context, statement: str, **params: object) -> None:
    with ctx.db.write() as s:
        s.execute(text(statement), params)


@pytest.fixture
def filled(ctx: Context) -> Context:
    """A log of about 700 entries (two full tiles and a partial) in batches of 100."""
    ctx.settings = dataclasses.replace(
        ctx.settings, ledger=LedgerSettings(batch_max_size=100, batch_interval_seconds=1)
    )
    add_events(ctx, 680)
    ledger_svc.sequence(ctx)
    report = ledger_svc.check(ctx)
    assert report.size >= 700 and report.checkpoints_checked >= 8
    return ctx


def audit_id_of(ctx: Context, index: int) -> int:
    with ctx.db.read() as s:
        return int(
            s.execute(
                text("SELECT audit_event_id FROM ledger_entry WHERE idx = :i"), {"i": index}
            ).scalar_one()
        )


def entry_of(ctx: Context, index: int) -> bytes:
    with ctx.db.read() as s:
        return bytes(
            s.execute(
                text("SELECT entry FROM ledger_entry WHERE idx = :i"), {"i": index}
            ).scalar_one()
        )


def expect_tamper(ctx: Context, index: int, what: str) -> None:
    with pytest.raises(TamperError) as info:
        ledger_svc.check(ctx)
    assert (info.value.index, info.value.what) == (index, what), str(info.value)


def test_the_triggers_stop_a_casual_edit(filled: Context) -> None:
    from sqlalchemy.exc import DBAPIError

    for statement in (
        "UPDATE ledger_entry SET audit_event_id = 0",
        "DELETE FROM ledger_entry WHERE idx = 3",
        "DELETE FROM ledger_tile",
        "UPDATE ledger_checkpoint SET note = ''",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            sql(filled, statement)


def test_a_changed_byte_of_an_entry(filled: Context) -> None:
    drop_triggers(filled)
    entry = bytearray(entry_of(filled, 300))
    entry[20] ^= 0x01
    sql(filled, "UPDATE ledger_entry SET entry = :e WHERE idx = 300", e=bytes(entry))
    expect_tamper(filled, 300, "leaf-hash")


def test_a_changed_entry_and_audit_record_together(filled: Context) -> None:
    drop_triggers(filled)
    forged = entry_of(filled, 42).replace(b"test.event", b"test.evenT")
    sql(filled, "UPDATE ledger_entry SET entry = :e WHERE idx = 42", e=forged)
    sql(
        filled,
        "UPDATE audit_event SET record = :e WHERE id = :i",
        e=forged,
        i=audit_id_of(filled, 42),
    )
    expect_tamper(filled, 42, "leaf-hash")


def test_a_deleted_entry(filled: Context) -> None:
    drop_triggers(filled)
    sql(filled, "DELETE FROM ledger_entry WHERE idx = 123")
    expect_tamper(filled, 123, "missing-entry")


def test_a_deleted_last_entry(filled: Context) -> None:
    drop_triggers(filled)
    last = ledger_svc.latest_checkpoint(filled).size - 1
    sql(filled, "DELETE FROM ledger_entry WHERE idx = :i", i=last)
    expect_tamper(filled, last, "missing-entry")


def test_two_entries_swapped(filled: Context) -> None:
    drop_triggers(filled)
    sql(filled, "UPDATE ledger_entry SET idx = -1 WHERE idx = 200")
    sql(filled, "UPDATE ledger_entry SET idx = 200 WHERE idx = 201")
    sql(filled, "UPDATE ledger_entry SET idx = 201 WHERE idx = -1")
    expect_tamper(filled, 200, "leaf-hash")


def test_two_entries_swapped_with_their_tile_rewritten(filled: Context) -> None:
    """Even with the level-0 tile made to match, the audit order gives it away."""
    drop_triggers(filled)
    a, b = entry_of(filled, 10), entry_of(filled, 11)
    sql(filled, "UPDATE ledger_entry SET idx = -1 WHERE idx = 10")
    sql(filled, "UPDATE ledger_entry SET idx = 10 WHERE idx = 11")
    sql(filled, "UPDATE ledger_entry SET idx = 11 WHERE idx = -1")
    with filled.db.read() as s:
        tile = bytearray(
            s.execute(text("SELECT data FROM ledger_tile WHERE level = 0 AND idx = 0")).scalar_one()
        )
    from govtrust.ledger.hashing import leaf_hash

    tile[320:352], tile[352:384] = leaf_hash(b), leaf_hash(a)
    sql(filled, "UPDATE ledger_tile SET data = :d WHERE level = 0 AND idx = 0", d=bytes(tile))
    expect_tamper(filled, 10, "reordered")


def test_an_edited_audit_record(filled: Context) -> None:
    drop_triggers(filled)
    aid = audit_id_of(filled, 50)
    sql(
        filled,
        "UPDATE audit_event SET record = :r WHERE id = :i",
        r=entry_of(filled, 50).replace(b"test:ledger", b"test:mallory"),
        i=aid,
    )
    expect_tamper(filled, 50, "audit-differs")


def test_a_deleted_audit_row(filled: Context) -> None:
    drop_triggers(filled)
    sql(filled, "DELETE FROM audit_event WHERE id = :i", i=audit_id_of(filled, 77))
    expect_tamper(filled, 77, "audit-missing")


def test_a_changed_tile_byte(filled: Context) -> None:
    drop_triggers(filled)
    with filled.db.read() as s:
        tile = bytearray(
            s.execute(text("SELECT data FROM ledger_tile WHERE level = 0 AND idx = 1")).scalar_one()
        )
    tile[32 * 5] ^= 0x80
    sql(filled, "UPDATE ledger_tile SET data = :d WHERE level = 0 AND idx = 1", d=bytes(tile))
    expect_tamper(filled, 256 + 5, "leaf-hash")


def test_a_forged_checkpoint(filled: Context) -> None:
    drop_triggers(filled)
    with filled.db.read() as s:
        size, note = s.execute(
            text("SELECT size, note FROM ledger_checkpoint WHERE size > 300 ORDER BY size LIMIT 1")
        ).one()
    lines = note.split("\n")
    lines[2] = base64.b64encode(b"\x07" * 32).decode()
    sql(
        filled,
        "UPDATE ledger_checkpoint SET note = :n, root = :r WHERE size = :s",
        n="\n".join(lines),
        r=b"\x07" * 32,
        s=size,
    )
    expect_tamper(filled, size, "checkpoint")


def test_a_changed_partial_tile_stops_the_sequencer(filled: Context) -> None:
    with filled.db.read() as s:
        level, data = s.execute(
            text("SELECT level, data FROM ledger_partial_tile ORDER BY level LIMIT 1")
        ).one()
    sql(
        filled,
        "UPDATE ledger_partial_tile SET data = :d WHERE level = :l",
        d=bytes(data[:-1]) + bytes([data[-1] ^ 1]),
        l=level,
    )
    with pytest.raises(TamperError):
        ledger_svc.check(filled)
    add_events(filled, 3, tag="after")
    before = ledger_svc.latest_checkpoint(filled).size
    with pytest.raises(TamperError, match="not the signed one"):
        ledger_svc.sequence(filled)
    assert ledger_svc.latest_checkpoint(filled).size == before  # nothing signed


def test_an_audit_event_inserted_into_the_past(filled: Context) -> None:
    """An audit row slipped in below the sequenced watermark was never logged."""
    with filled.db.read() as s:
        top = int(s.execute(text("SELECT max(id) FROM audit_event")).scalar_one())
        record = bytes(
            s.execute(text("SELECT record FROM audit_event WHERE id = :i"), {"i": top}).scalar_one()
        )
    sql(
        filled,
        "INSERT INTO audit_event (id, time, actor, action, object_type, object_id, "
        "object_sha256, record) VALUES (:i, '2026-01-01 00:00:00', 'a', 'b', 'c', 'd', 'e', :r)",
        i=top + 1000,
        r=record,
    )
    ledger_svc.sequence(filled)
    at = ledger_svc.latest_checkpoint(filled).size - 1
    assert audit_id_of(filled, at) == top + 1000
    ledger_svc.check(filled)
    sql(
        filled,
        "INSERT INTO audit_event (id, time, actor, action, object_type, object_id, "
        "object_sha256, record) VALUES (:i, '2026-01-01 00:00:00', 'a', 'b', 'c', 'd', 'e', :r)",
        i=top + 500,
        r=record,
    )
    expect_tamper(filled, at, "audit-not-logged")


def test_startup_check_is_incremental_and_catches_rewrites(filled: Context) -> None:
    first = ledger_svc.startup_check(filled)
    assert first is not None and first.start == 0 and first.entries_checked == first.size
    add_events(filled, 40, tag="more")
    ledger_svc.sequence(filled)
    second = ledger_svc.startup_check(filled)
    assert second is not None and second.start == first.size
    assert second.entries_checked == second.size - first.size
    # An old entry changed below the verified size: the random spot check finds it
    # when it samples every entry.
    drop_triggers(filled)
    entry = bytearray(entry_of(filled, 5))
    entry[-3] ^= 0x02
    sql(filled, "UPDATE ledger_entry SET entry = :e WHERE idx = 5", e=bytes(entry))
    with pytest.raises(TamperError) as info:
        ledger_svc.startup_check(filled, samples=100_000)
    assert info.value.index == 5


def test_startup_check_notices_a_truncated_log(filled: Context) -> None:
    assert ledger_svc.startup_check(filled) is not None
    drop_triggers(filled)
    size = ledger_svc.latest_checkpoint(filled).size
    sql(filled, "UPDATE ledger_log SET size = :s WHERE id = 1", s=size - 10)
    with pytest.raises(TamperError, match="had"):
        ledger_svc.startup_check(filled)


def test_cli_check_names_the_index(filled: Context, demo: Demo) -> None:
    drop_triggers(filled)
    sql(filled, "DELETE FROM ledger_entry WHERE idx = 222")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "govtrust"), "ledger", "check"],
        env={**demo.env, "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ledger check failed at index 222 (missing-entry)")


def test_scheduler_halts_the_sequencer_on_tampering(filled: Context) -> None:
    from govtrust.api.scheduler import Scheduler

    drop_triggers(filled)
    sql(filled, "DELETE FROM ledger_entry WHERE idx = 12")
    scheduler = Scheduler(filled)
    scheduler._self_check()
    assert scheduler.ledger_halted
    add_events(filled, 2, tag="held")
    before = ledger_svc.latest_checkpoint(filled).size
    scheduler._sequence()
    assert ledger_svc.latest_checkpoint(filled).size == before


# ---- SIGKILL mid-batch -------------------------------------------------------------------

SEQUENCER = textwrap.dedent(
    """
    import os, sys
    from govtrust.config import load_settings
    from govtrust.services import Context
    from govtrust.services import ledger
    ctx = Context.open(load_settings(os.environ))
    log = open(sys.argv[1], "a", buffering=1)
    while True:
        log.write("begin\\n")
        ledger.sequence(ctx, max_batches=1)
        log.write("end\\n")
    """
)


def _sequencer(demo: Demo, progress: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SEQUENCER, str(progress)],
        env={**demo.env, "PATH": os.environ.get("PATH", "")},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_batch_loses_nothing(demo: Demo, tmp_path: Path) -> None:
    config = demo.home / "govtrust.toml"
    config.write_text(config.read_text().replace("batch_max_size = 10000", "batch_max_size = 300"))
    ctx = demo.open()
    try:
        acknowledged: list[int] = []
        stop = threading.Event()

        def producer() -> None:
            n = 0
            while not stop.is_set():
                acknowledged.extend(add_events(ctx, 50, tag=f"p{n}-"))
                n += 1

        thread = threading.Thread(target=producer, daemon=True)
        thread.start()
        progress = tmp_path / "progress.log"
        rng = random.Random(4)
        mid_batch = 0
        progress.write_text("")
        for _ in range(6):
            seen = len(progress.read_text().split())
            proc = _sequencer(demo, progress)
            deadline = time.monotonic() + 120
            while len(progress.read_text().split()) <= seen and time.monotonic() < deadline:
                time.sleep(0.05)  # wait until it sequences
            time.sleep(rng.uniform(0.1, 1.5))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            lines = progress.read_text().split()
            mid_batch += bool(lines) and lines[-1] == "begin"
            with progress.open("a") as f:
                f.write("killed\n")
        stop.set()
        thread.join(timeout=60)
        assert mid_batch >= 2, "no SIGKILL landed inside a batch"
        # Restart: the tree continues from the last committed batch.
        result = subprocess.run(
            [str(Path(sys.executable).parent / "govtrust"), "ledger", "sequence", "--json"],
            env={**demo.env, "PATH": os.environ.get("PATH", "")},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        with ctx.db.read() as s:
            logged = set(s.execute(text("SELECT audit_event_id FROM ledger_entry")).scalars())
            audit_ids = set(s.execute(text("SELECT id FROM audit_event")).scalars())
        assert set(acknowledged) <= logged
        assert audit_ids == logged
        report = ledger_svc.check(ctx)
        assert report.entries_checked == len(logged)
        # No checkpoint contradicts an earlier one (independent verifier).
        info = ledger_svc.log_info(ctx)
        with ctx.db.read() as s:
            cps = s.execute(text("SELECT size, note FROM ledger_checkpoint ORDER BY size")).all()
        opened = [open_checkpoint_independently(r.note, info.vkey) for r in cps]
        assert len(opened) > 6
        for (_, s1, r1), (_, s2, r2) in itertools.pairwise(opened[1:]):
            proof = ledger_svc.consistency(ctx, s1, s2)
            path = [base64.b64decode(p) for p in proof["consistency_path"]]
            assert rfc_verify_consistency(s1, s2, r1, r2, path)
    finally:
        ctx.close()
