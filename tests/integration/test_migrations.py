"""Alembic migrations build the schema the models describe, on SQLite and PostgreSQL,
and the audit table refuses UPDATE and DELETE in the database itself."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from govtrust.services import Context
from govtrust.store import Base, Database, upgrade


def test_schema_matches_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db)
        upgrade(db)  # idempotent
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        # SQLite reports no type differences for DateTime/BigInteger variants.
        assert [d for d in diff if d[0] not in ("modify_type",)] == []
    finally:
        db.dispose()


def test_audit_trail_is_append_only(ctx: Context) -> None:
    for statement in ("UPDATE audit_event SET actor = 'mallory'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), ctx.db.write() as session:
            session.execute(text(statement))
    with ctx.db.read() as session:
        actors = session.execute(text("SELECT DISTINCT actor FROM audit_event")).scalars().all()
    assert "mallory" not in actors and actors
