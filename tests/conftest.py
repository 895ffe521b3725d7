"""Shared fixtures. The test PKI is declared here and generated at test time.

Every test that takes ``db_url`` (directly or through ``demo``/``ctx``) runs twice: on
SQLite and on a real PostgreSQL server started from Debian's package for the session.
Set GOVTRUST_TEST_DATABASES=sqlite to run only SQLite while developing.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from govtrust.config import load_settings
from govtrust.services import Context
from govtrust.services.setup import InitReport, init_home
from tests.support.postgres import PostgresServer, start_postgres, stop_postgres
from tests.support.softhsm import SoftHSMToken, softhsm_token

PUBLIC_URL = "https://pki.govtrust.org"  # a public suffix, so pkilint sees no internal name
DATABASES = [
    d.strip() for d in os.environ.get("GOVTRUST_TEST_DATABASES", "sqlite,postgresql").split(",")
]
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = start_postgres(tmp_path_factory.mktemp("pg"))
    try:
        yield server
    finally:
        stop_postgres(server)


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'govtrust.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database("t_" + uuid.uuid4().hex[:16])


@dataclass
class Demo:
    """An initialised demo data directory and the environment that selects it."""

    home: Path
    env: dict[str, str]
    report: InitReport

    @property
    def admin_token(self) -> str:
        return self.report.admin_token

    def open(self) -> Context:
        return Context.open(load_settings(self.env))


def make_env(home: Path, db_url: str) -> dict[str, str]:
    return {
        "GOVTRUST_HOME": str(home),
        "GOVTRUST_DATABASE_URL": db_url,
        "GOVTRUST_KEY_PASSPHRASE": secrets.token_urlsafe(24),
        "GOVTRUST_PUBLIC_URL": PUBLIC_URL,
    }


@pytest.fixture
def demo(tmp_path: Path, db_url: str) -> Demo:
    home = tmp_path / "home"
    env = make_env(home, db_url)
    report = init_home(home, env, demo=True)
    return Demo(home, env, report)


@pytest.fixture
def empty_home(tmp_path: Path, db_url: str) -> Demo:
    """An initialised data directory without demo data."""
    home = tmp_path / "home"
    env = make_env(home, db_url)
    report = init_home(home, env, demo=False)
    return Demo(home, env, report)


@pytest.fixture
def ctx(demo: Demo) -> Iterator[Context]:
    context = demo.open()
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def token(tmp_path: Path) -> Iterator[SoftHSMToken]:
    """A fresh SoftHSM2 token (skips only where softhsm2-util is not installed)."""
    with softhsm_token(tmp_path) as t:
        yield t


@pytest.fixture
def hsm_env(tmp_path: Path, db_url: str, token: SoftHSMToken) -> dict[str, str]:
    """The environment of an initialised data directory whose [pkcs11] backend is the
    SoftHSM2 token."""
    home = tmp_path / "home"
    env = make_env(home, db_url)
    init_home(home, env)
    with (home / "govtrust.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[pkcs11]\nmodule = "{token.module}"\ntoken_label = "{token.token_label}"\n')
    return {**env, **token.env, "GOVTRUST_PKCS11_PIN": token.pin}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    ctx: Context


@contextmanager
def serve(ctx: Context) -> Iterator[str]:
    """govtrust served over real HTTP by uvicorn, in a thread of the test process; yields
    its base URL."""
    import uvicorn

    from govtrust.api import create_server

    port = free_port()
    config = uvicorn.Config(
        create_server(ctx, scheduler=False), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(ctx: Context) -> Iterator[LiveServer]:
    with serve(ctx) as url:
        yield LiveServer(url, ctx)
