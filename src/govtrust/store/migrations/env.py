"""Alembic environment: runs on the engine govtrust hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from govtrust.store.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes.get("connection_engine")
    if not isinstance(engine, Engine):
        url = context.config.get_main_option("sqlalchemy.url")
        from sqlalchemy import create_engine

        assert url is not None
        engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
