"""``store/engine.py``: the cheap migration check, Alembic imported only when needed,
the workers' skip flag, and Core statements run on the DB-API (SQLite files)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import anyio
from alembic.script import ScriptDirectory
from sqlalchemy import bindparam, insert, inspect, select
from sqlalchemy.dialects import postgresql

from govtrust.config import load_settings
from govtrust.services.context import SKIP_MIGRATIONS_ENV, Context
from govtrust.store.engine import (
    MIGRATIONS,
    Database,
    DriverStatement,
    current_revisions,
    script_heads,
    upgrade,
)
from govtrust.store.models import CertificateAuthority, OcspResponseRow


def _db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'govtrust.db'}")


def test_script_heads_are_alembics_heads() -> None:
    assert script_heads() == frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def test_upgrade_records_the_heads_and_is_then_a_no_op(tmp_path: Path) -> None:
    db = _db(tmp_path)
    try:
        assert current_revisions(db) == frozenset()  # no alembic_version table yet
        upgrade(db)
        assert current_revisions(db) == script_heads()
        assert "ocsp_response" in inspect(db.engine).get_table_names()
        upgrade(db)
        assert current_revisions(db) == script_heads()
    finally:
        db.dispose()


def test_opening_a_migrated_database_does_not_import_alembic(tmp_path: Path) -> None:
    db = _db(tmp_path)
    try:
        upgrade(db)
    finally:
        db.dispose()
    url = f"sqlite:///{tmp_path / 'govtrust.db'}"
    probe = (
        "import sys\n"
        "from govtrust.store.engine import Database, upgrade\n"
        f"db = Database({url!r})\n"
        "upgrade(db)\n"
        "db.dispose()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_workers_skip_migrations_when_the_parent_says_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {"GOVTRUST_HOME": str(home), "GOVTRUST_DATABASE_URL": url}
    skipped = Context.open(load_settings({**env, SKIP_MIGRATIONS_ENV: "1"}))
    try:
        assert current_revisions(skipped.db) == frozenset()
        assert inspect(skipped.db.engine).get_table_names() == []
    finally:
        skipped.close()
    migrated = Context.open(load_settings(env))
    try:
        assert current_revisions(migrated.db) == script_heads()
    finally:
        migrated.close()


_ANSWER = select(
    OcspResponseRow.der, OcspResponseRow.this_update, OcspResponseRow.next_update
).where(
    OcspResponseRow.ca_id == bindparam("ca_id"),
    OcspResponseRow.serial == bindparam("serial"),
    OcspResponseRow.hash_alg == "sha1",
)


def test_driver_statement_binds_for_each_paramstyle() -> None:
    pg = DriverStatement.compile(_ANSWER, postgresql.psycopg.dialect())
    assert pg.positional is None and "%(serial)s" in pg.sql
    assert pg.parameters({"ca_id": 3, "serial": "ab"}) == {
        "ca_id": 3,
        "serial": "ab",
        "hash_alg_1": "sha1",
    }
    db = Database("sqlite://")
    try:
        lite = DriverStatement.compile(_ANSWER, db.read_engine.dialect)
    finally:
        db.dispose()
    assert lite.sql.count("?") == 3
    assert lite.parameters({"serial": "ab", "ca_id": 3}) == (3, "ab", "sha1")


def _ca_row(now: dt.datetime) -> dict[str, object]:
    return {
        "id": 1,
        "name": "t",
        "subject": "CN=t",
        "cert_der": b"x",
        "key_ref": "software:t",
        "key_spec": "ec-p256",
        "not_before": now,
        "not_after": now,
        "name_sha1": "00",
        "key_sha1": "00",
        "name_sha256": "00",
        "key_sha256": "00",
        "crl_number": 0,
        "created_at": now,
    }


def test_point_reader_sees_each_commit_and_gives_aware_datetimes(tmp_path: Path) -> None:
    db = _db(tmp_path)
    now = dt.datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=dt.UTC)
    try:
        upgrade(db)
        reader = db.point_reader(_ANSWER)

        async def read() -> tuple[object, ...] | None:
            return await reader.fetch(ca_id=1, serial="ab")

        assert anyio.run(read) is None
        with db.write() as session:
            session.execute(insert(CertificateAuthority).values(_ca_row(now)))
            session.execute(
                insert(OcspResponseRow).values(
                    ca_id=1,
                    serial="ab",
                    hash_alg="sha1",
                    der=b"good",
                    this_update=now,
                    next_update=now + dt.timedelta(hours=24),
                )
            )
        assert anyio.run(read) == (b"good", now, now + dt.timedelta(hours=24))
        with db.write() as session:  # another connection commits: seen on the next read
            session.execute(
                OcspResponseRow.__table__.update().values(der=b"revoked")  # type: ignore[attr-defined]
            )
        row = anyio.run(read)
        assert row is not None and row[0] == b"revoked"
        assert isinstance(row[1], dt.datetime) and row[1].tzinfo is dt.UTC
    finally:
        db.dispose()
