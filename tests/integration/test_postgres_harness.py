"""The throwaway PostgreSQL harness: start, per-test databases, isolation, stop."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import Engine

try:
    from tests.support.postgres import PostgresServer, start_postgres, stop_postgres
except ModuleNotFoundError:  # the project root is not on sys.path (no conftest/pythonpath)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.support.postgres import PostgresServer, start_postgres, stop_postgres

pytestmark = pytest.mark.postgres


def _current_database(engine: Engine) -> str:
    """Return the name of the database ``engine`` is connected to."""
    with engine.connect() as conn:
        return str(conn.execute(sqlalchemy.text("SELECT current_database()")).scalar_one())


def _create_and_fill(engine: Engine, value: str) -> None:
    """Create table ``item`` and insert one row holding ``value``."""
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE item (id integer PRIMARY KEY, value text)"))
        conn.execute(
            sqlalchemy.text("INSERT INTO item (id, value) VALUES (1, :value)"), {"value": value}
        )


def _values(engine: Engine) -> list[str]:
    """Return every ``item.value``, ordered by id."""
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text("SELECT value FROM item ORDER BY id"))
        return [str(value) for value in rows.scalars()]


def test_databases_are_independent(tmp_path: Path) -> None:
    server: PostgresServer = start_postgres(tmp_path)
    root_dir = server.root_dir
    engines: list[Engine] = []
    try:
        assert server.datadir.is_dir()
        assert server.url.startswith("postgresql+psycopg://")
        engines.append(sqlalchemy.create_engine(server.url))
        assert _current_database(engines[0]) == "govtrust"

        url_a = server.create_database("harness_a")
        url_b = server.create_database("harness_b")
        assert url_a != url_b
        engine_a = sqlalchemy.create_engine(url_a)
        engine_b = sqlalchemy.create_engine(url_b)
        engines += [engine_a, engine_b]
        assert _current_database(engine_a) == "harness_a"
        assert _current_database(engine_b) == "harness_b"

        # Same table name in both: no clash, and each sees only its own row.
        _create_and_fill(engine_a, "alpha")
        _create_and_fill(engine_b, "beta")
        assert _values(engine_a) == ["alpha"]
        assert _values(engine_b) == ["beta"]

        with engine_a.begin() as conn:
            conn.execute(sqlalchemy.text("DROP TABLE item"))
        assert _values(engine_b) == ["beta"]
    finally:
        for engine in engines:
            engine.dispose()
        stop_postgres(server)

    assert not root_dir.exists()
