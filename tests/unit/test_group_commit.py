"""``store/engine.py::GroupCommit`` on SQLite and PostgreSQL: requests queued together
are committed in one transaction, every caller's result comes after its commit, one
failing request does not cost the others their rows, and a cancelled request is not
written."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError, Future
from typing import Any

import pytest
from sqlalchemy import Column as SAColumn
from sqlalchemy import Integer, MetaData, String, select, text
from sqlalchemy import Table as SATable
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govtrust.store.engine import Database, DriverStatement, GroupCommit

_META = MetaData()
_ROWS = SATable(
    "group_commit_probe",
    _META,
    SAColumn("k", Integer, primary_key=True, autoincrement=False),
    SAColumn("v", String(32), nullable=False),
)


class Refused(Exception):
    """An item the work function declines without writing anything for it."""


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    _META.create_all(database.engine)
    try:
        yield database
    finally:
        database.dispose()


class Probe:
    """Work that inserts ``(k, v)`` rows; holds its first batch until released, so the
    test can queue the next requests while that batch is being written."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batch_sizes: list[int] = []
        self.insert: DriverStatement | None = None

    def work(self, session: Session, items: Sequence[tuple[int, str]]) -> list[str | Exception]:
        if not self.batch_sizes:
            self.entered.set()
            assert self.release.wait(60)
        self.batch_sizes.append(len(items))
        connection = session.connection()
        if self.insert is None:
            self.insert = DriverStatement.insert(_ROWS, ("k", "v"), connection.dialect)
        results: list[str | Exception] = []
        rows = []
        for k, v in items:
            if v == "refuse":
                results.append(Refused(str(k)))
                continue
            rows.append({"k": k, "v": v})
            results.append(f"{k}:{v}")
        self.insert.executemany(connection, rows)
        return results


def _committed(db: Database) -> dict[int, str]:
    with db.read_engine.connect() as conn:
        return {int(k): str(v) for k, v in conn.execute(select(_ROWS.c.k, _ROWS.c.v))}


def _queue_behind_first(
    db: Database, items: list[tuple[int, str]]
) -> tuple[Probe, GroupCommit[tuple[int, str], str], list[Future[str]]]:
    """Submit ``items[0]``, wait until its batch is inside ``work``, queue the rest,
    then let the first batch go: the rest form the second batch."""
    probe = Probe(db)
    writer: GroupCommit[tuple[int, str], str] = GroupCommit(db, probe.work, name="probe")
    futures = [writer.submit(items[0])]
    assert probe.entered.wait(60)
    futures += [writer.submit(item) for item in items[1:]]
    probe.release.set()
    return probe, writer, futures


def test_requests_queued_together_share_one_commit(db: Database) -> None:
    items = [(i, f"v{i}") for i in range(1, 41)]
    probe, writer, futures = _queue_behind_first(db, items)
    results = [f.result(timeout=60) for f in futures]
    assert results == [f"{k}:{v}" for k, v in items]
    assert probe.batch_sizes == [1, 39]
    assert writer.batches == 2
    assert _committed(db) == dict(items)


def test_each_result_comes_after_its_commit(db: Database) -> None:
    seen_committed: list[bool] = []
    probe = Probe(db)
    probe.release.set()
    writer: GroupCommit[tuple[int, str], str] = GroupCommit(db, probe.work, name="probe")
    for k in range(1, 6):
        future = writer.submit((k, "x"))
        # Another connection sees the row as soon as the caller has its result.
        seen_committed.append(future.result(timeout=60) == f"{k}:x" and k in _committed(db))
    assert seen_committed == [True] * 5


def test_a_failing_request_does_not_lose_the_others(db: Database) -> None:
    with db.write() as session:
        session.execute(_ROWS.insert().values(k=7, v="already there"))
    items = [(1, "a"), (2, "b"), (7, "duplicate key"), (3, "c"), (4, "refuse"), (5, "e")]
    probe, _, futures = _queue_behind_first(db, items)
    outcomes: dict[int, str] = {}
    for (k, _), future in zip(items, futures, strict=True):
        try:
            outcomes[k] = future.result(timeout=60)
        except IntegrityError:
            outcomes[k] = "IntegrityError"
        except Refused:
            outcomes[k] = "Refused"
    assert outcomes == {
        1: "1:a",
        2: "2:b",
        7: "IntegrityError",
        3: "3:c",
        4: "Refused",
        5: "5:e",
    }
    # The second batch (2, 7, 3, 4, 5) failed on key 7 as a whole, was rolled back and
    # was written again one item at a time.
    assert probe.batch_sizes[:2] == [1, 5]
    assert _committed(db) == {1: "a", 2: "b", 3: "c", 5: "e", 7: "already there"}


def test_a_cancelled_request_is_not_written(db: Database) -> None:
    items = [(1, "a"), (2, "cancelled"), (3, "c")]
    probe = Probe(db)
    writer: GroupCommit[tuple[int, str], str] = GroupCommit(db, probe.work, name="probe")
    first = writer.submit(items[0])
    assert probe.entered.wait(60)
    cancelled = writer.submit(items[1])
    last = writer.submit(items[2])
    assert cancelled.cancel()
    probe.release.set()
    assert first.result(timeout=60) == "1:a" and last.result(timeout=60) == "3:c"
    with pytest.raises(CancelledError):
        cancelled.result()
    assert _committed(db) == {1: "a", 3: "c"}


def test_run_async_from_many_tasks(db: Database) -> None:
    probe = Probe(db)
    probe.release.set()
    writer: GroupCommit[tuple[int, str], str] = GroupCommit(db, probe.work, name="probe")

    async def main() -> list[str]:
        return list(await asyncio.gather(*(writer.run_async((k, "t")) for k in range(1, 101))))

    assert asyncio.run(main()) == [f"{k}:t" for k in range(1, 101)]
    assert sum(probe.batch_sizes) == 100
    assert _committed(db) == {k: "t" for k in range(1, 101)}


def test_the_writer_thread_ends_when_idle_and_comes_back(db: Database) -> None:
    probe = Probe(db)
    probe.release.set()
    writer: GroupCommit[tuple[int, str], str] = GroupCommit(
        db, probe.work, name="probe", idle_seconds=0.05
    )
    assert writer.run((1, "a")) == "1:a"
    thread = writer._thread
    if thread is not None:
        thread.join(30)
    assert writer._thread is None
    assert writer.run((2, "b")) == "2:b"
    with db.read_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM group_commit_probe")).scalar_one() == 2


class _CountingLoop(asyncio.SelectorEventLoop):
    """An event loop that counts the callbacks other threads schedule on it."""

    def __init__(self) -> None:
        super().__init__()
        self.wakeups = 0

    def call_soon_threadsafe(self, *args: Any, **kwargs: Any) -> asyncio.Handle:
        self.wakeups += 1
        return super().call_soon_threadsafe(*args, **kwargs)


def test_async_callers_of_one_batch_are_woken_together(db: Database) -> None:
    """A batch of 50 event-loop callers costs one cross-thread wake-up of the loop, not
    50; a refused item still gets its own exception."""
    probe = Probe(db)
    writer: GroupCommit[tuple[int, str], str] = GroupCommit(db, probe.work, name="probe")
    first = writer.submit((1, "first"))
    assert probe.entered.wait(60)
    loop = _CountingLoop()

    async def main() -> list[str | BaseException]:
        calls = [writer.run_async((k, "refuse" if k == 7 else "t")) for k in range(2, 52)]
        tasks = [asyncio.ensure_future(c) for c in calls]
        await asyncio.sleep(0)  # every task has queued its item behind the held batch
        probe.release.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    try:
        results = loop.run_until_complete(main())
    finally:
        loop.close()
    assert first.result(timeout=60) == "1:first"
    assert probe.batch_sizes == [1, 50]
    assert isinstance(results[5], Refused)
    assert [r for i, r in enumerate(results) if i != 5] == [
        f"{k}:t" for k in range(2, 52) if k != 7
    ]
    assert loop.wakeups == 1  # the one batch's results, all at once
    assert 7 not in _committed(db) and len(_committed(db)) == 50


def test_an_async_caller_cancelled_before_its_turn_is_not_written(db: Database) -> None:
    probe = Probe(db)
    writer: GroupCommit[tuple[int, str], str] = GroupCommit(db, probe.work, name="probe")
    first = writer.submit((1, "a"))
    assert probe.entered.wait(60)

    async def main() -> str:
        cancelled = asyncio.ensure_future(writer.run_async((2, "cancelled")))
        kept = asyncio.ensure_future(writer.run_async((3, "c")))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.sleep(0)
        probe.release.set()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        return await kept

    assert asyncio.run(main()) == "3:c"
    assert first.result(timeout=60) == "1:a"
    assert _committed(db) == {1: "a", 3: "c"}


def test_callers_on_two_loops_in_one_batch(db: Database) -> None:
    """Event-loop callers from two threads and a blocking caller, queued together,
    each get their own result."""
    probe = Probe(db)
    writer: GroupCommit[tuple[int, str], str] = GroupCommit(db, probe.work, name="probe")
    first = writer.submit((1, "a"))
    assert probe.entered.wait(60)
    queued = threading.Barrier(3)
    results: dict[str, list[str]] = {}

    def on_a_loop(name: str, keys: range) -> None:
        async def main() -> list[str]:
            tasks = [asyncio.ensure_future(writer.run_async((k, name))) for k in keys]
            await asyncio.sleep(0)
            queued.wait(60)
            return list(await asyncio.gather(*tasks))

        results[name] = asyncio.run(main())

    threads = [
        threading.Thread(target=on_a_loop, args=("x", range(10, 20))),
        threading.Thread(target=on_a_loop, args=("y", range(20, 30))),
    ]
    for t in threads:
        t.start()
    queued.wait(60)
    blocking = writer.submit((30, "z"))
    probe.release.set()
    for t in threads:
        t.join(60)
    assert first.result(timeout=60) == "1:a" and blocking.result(timeout=60) == "30:z"
    assert results == {
        "x": [f"{k}:x" for k in range(10, 20)],
        "y": [f"{k}:y" for k in range(20, 30)],
    }
    assert len(_committed(db)) == 22
