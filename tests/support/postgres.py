"""Throwaway PostgreSQL servers for tests, started from Debian's package binaries.

A server is a private cluster (``initdb`` + ``pg_ctl start``) in its own temporary
directory, listening on 127.0.0.1 on a port picked at run time and on a Unix socket
inside that directory. Durability is switched off for speed. The superuser is
``govtrust`` with ``trust`` authentication, so URLs carry no password.

PostgreSQL refuses to run as root: when the tests run as root (CI), the cluster is
owned by the ``postgres`` system user created by the Debian package and the server
commands run through ``runuser -u postgres --``.

Typical use::

    server = start_postgres(tmp_path)
    try:
        url = server.create_database("case_1")
        engine = sqlalchemy.create_engine(url)
        ...
    finally:
        stop_postgres(server)
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import URL

__all__ = ["PostgresServer", "find_postgres_bindir", "start_postgres", "stop_postgres"]

SUPERUSER = "govtrust"
"""Name of the cluster's superuser (``initdb -U``)."""

DEFAULT_DATABASE = "govtrust"
"""Empty database created at start-up; :attr:`PostgresServer.url` points at it."""

READY_TIMEOUT = 30.0
"""Seconds to wait for a server to accept connections before giving up."""

_DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
_SYSTEM_USER = "postgres"
_START_ATTEMPTS = 5
_LOG_TAIL_LINES = 40
# sun_path is 108 bytes including the NUL; the socket file is ".s.PGSQL.<port>".
_MAX_SOCKET_DIR_LEN = 107 - len("/.s.PGSQL.65535")
_BIND_FAILURE = re.compile(r"could not (bind|create any TCP/IP sockets)|Address already in use")

_SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway PostgreSQL server.

    Attributes:
        url: SQLAlchemy URL (driver psycopg 3) of the empty ``govtrust`` database.
        datadir: The cluster's data directory.
        port: TCP port on 127.0.0.1 (also the Unix socket's port number).
        root_dir: Temporary directory holding data, socket and log; removed on stop.
        socket_dir: Unix socket directory, or ``None`` when only TCP is used
            (the temporary directory's path was too long for a socket).
        bindir: Directory of the PostgreSQL server binaries used.
        log_file: The server log written by ``pg_ctl -l``.
        run_as: System user the server runs as via ``runuser``, or ``None`` when it
            runs as the current user.
    """

    url: str
    datadir: Path
    port: int
    root_dir: Path
    socket_dir: Path | None
    bindir: Path
    log_file: Path
    run_as: str | None = None

    @property
    def host(self) -> str:
        """Host to connect to: the socket directory, or 127.0.0.1 without one."""
        return str(self.socket_dir) if self.socket_dir is not None else "127.0.0.1"

    def url_for(self, database: str) -> str:
        """Return the SQLAlchemy URL of ``database`` on this server (no check it exists)."""
        return _sqlalchemy_url(self.host, self.port, database)

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """Open an autocommit psycopg connection to ``database`` as the superuser."""
        return psycopg.connect(
            host=self.host, port=self.port, user=SUPERUSER, dbname=database, autocommit=True
        )

    def create_database(self, name: str) -> str:
        """Create the empty database ``name`` and return its SQLAlchemy URL."""
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)


def find_postgres_bindir() -> Path:
    """Return the bin directory of the newest PostgreSQL server installed.

    Looks in Debian's ``/usr/lib/postgresql/<major>/bin`` (highest major version wins),
    then falls back to the directory of an ``initdb`` on ``PATH``.
    """
    candidates: list[tuple[tuple[int, ...], Path]] = []
    for bindir in _DEBIAN_PG_ROOT.glob("*/bin"):
        version = bindir.parent.name
        if re.fullmatch(r"\d+(\.\d+)*", version) and (bindir / "initdb").is_file():
            candidates.append((tuple(int(part) for part in version.split(".")), bindir))
    if candidates:
        return max(candidates)[1]
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).resolve().parent
    raise RuntimeError(
        f"PostgreSQL server binaries not found (no {_DEBIAN_PG_ROOT}/*/bin/initdb and no "
        "initdb on PATH); run scripts/install-system-deps.sh"
    )


def start_postgres(base_dir: Path) -> PostgresServer:
    """Create and start a throwaway cluster in a new directory under ``base_dir``.

    Returns once the server accepts connections and the empty ``govtrust`` database
    exists. As root, the cluster runs as the ``postgres`` system user; if that user
    cannot reach ``base_dir`` (e.g. pytest's 0700 temp root), the cluster directory is
    created under ``/tmp`` instead.

    Raises:
        RuntimeError: if the binaries are missing, ``initdb`` fails, or the server is
            not ready within :data:`READY_TIMEOUT` seconds (the message includes the
            tail of the server log).
    """
    bindir = find_postgres_bindir()
    run_as = _SYSTEM_USER if os.geteuid() == 0 else None
    root_dir = _make_root_dir(Path(base_dir), run_as)
    try:
        return _start_in(root_dir, bindir, run_as)
    except BaseException:
        _stop_quietly(bindir, root_dir / "data", root_dir, run_as)
        shutil.rmtree(root_dir, ignore_errors=True)
        raise


def stop_postgres(server: PostgresServer) -> None:
    """Stop ``server`` immediately (``pg_ctl stop -m immediate``) and delete its files."""
    _stop_quietly(server.bindir, server.datadir, server.root_dir, server.run_as)
    shutil.rmtree(server.root_dir, ignore_errors=True)


def _start_in(root_dir: Path, bindir: Path, run_as: str | None) -> PostgresServer:
    """Run initdb in ``root_dir`` and start the server, retrying on port clashes."""
    datadir = root_dir / "data"
    log_file = root_dir / "postgres.log"
    socket_dir: Path | None = None
    if len(str(root_dir / "sock")) <= _MAX_SOCKET_DIR_LEN:
        socket_dir = root_dir / "sock"
        socket_dir.mkdir()
        if run_as is not None:
            shutil.chown(socket_dir, run_as, run_as)

    _run(
        bindir,
        [
            "initdb",
            "--pgdata",
            str(datadir),
            "--auth",
            "trust",
            "--username",
            SUPERUSER,
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
        root_dir,
        run_as,
        what="initdb",
    )
    settings = dict(_SERVER_SETTINGS)
    settings["unix_socket_directories"] = _conf_quote(str(socket_dir) if socket_dir else "")
    with (datadir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# govtrust test server\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    deadline = time.monotonic() + READY_TIMEOUT
    for attempt in range(1, _START_ATTEMPTS + 1):
        port = _free_port()
        remaining = max(1, int(deadline - time.monotonic()))
        result = _run(
            bindir,
            [
                "pg_ctl",
                "start",
                "--pgdata",
                str(datadir),
                "--log",
                str(log_file),
                "--wait",
                "--timeout",
                str(remaining),
                "--silent",
                "-o",
                f"-p {port}",
            ],
            root_dir,
            run_as,
            what="pg_ctl start",
            check=False,
        )
        if result.returncode == 0:
            break
        _stop_quietly(bindir, datadir, root_dir, run_as)
        log_tail = _log_tail(log_file)
        if (
            attempt < _START_ATTEMPTS
            and time.monotonic() < deadline
            and _BIND_FAILURE.search(log_tail)
        ):
            continue  # someone else grabbed the port between probe and bind
        raise RuntimeError(
            f"PostgreSQL server in {datadir} failed to start "
            f"(pg_ctl exit {result.returncode}): {result.stdout.strip()}\n"
            f"--- server log tail ({log_file}) ---\n{log_tail}"
        )

    host = str(socket_dir) if socket_dir is not None else "127.0.0.1"
    _wait_ready(host, port, deadline, log_file)
    with psycopg.connect(
        host=host, port=port, user=SUPERUSER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEFAULT_DATABASE)))

    return PostgresServer(
        url=_sqlalchemy_url(host, port, DEFAULT_DATABASE),
        datadir=datadir,
        port=port,
        root_dir=root_dir,
        socket_dir=socket_dir,
        bindir=bindir,
        log_file=log_file,
        run_as=run_as,
    )


def _make_root_dir(base_dir: Path, run_as: str | None) -> Path:
    """Create the server's private directory, owned by ``run_as`` when given."""
    base_dir.mkdir(parents=True, exist_ok=True)
    if run_as is None:
        return Path(tempfile.mkdtemp(prefix="govtrust-pg-", dir=base_dir))
    try:
        pwd.getpwnam(run_as)
    except KeyError:
        raise RuntimeError(
            f"running as root but there is no {run_as!r} system user to run PostgreSQL as; "
            "install the postgresql package (scripts/install-system-deps.sh)"
        ) from None
    parent = base_dir if _can_traverse(run_as, base_dir) else Path("/tmp")
    root_dir = Path(tempfile.mkdtemp(prefix="govtrust-pg-", dir=parent))
    root_dir.chmod(0o755)
    shutil.chown(root_dir, run_as, run_as)
    return root_dir


def _can_traverse(user: str, directory: Path) -> bool:
    """Whether ``user`` can search ``directory`` (and therefore every parent of it)."""
    result = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-x", str(directory)],
        cwd="/",
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def _run(
    bindir: Path,
    args: Sequence[str],
    cwd: Path,
    run_as: str | None,
    *,
    what: str,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program from ``bindir`` (via runuser when ``run_as`` is set)."""
    command = [str(bindir / args[0]), *args[1:]]
    if run_as is not None:
        command = ["runuser", "-u", run_as, "--", *command]
    result = subprocess.run(
        command,
        cwd=cwd,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {result.returncode}): {' '.join(command)}\n{result.stdout}"
        )
    return result


def _stop_quietly(bindir: Path, datadir: Path, cwd: Path, run_as: str | None) -> None:
    """``pg_ctl stop -m immediate`` if a server may be running in ``datadir``."""
    if not (datadir / "postmaster.pid").exists() or not cwd.is_dir():
        return
    _run(
        bindir,
        ["pg_ctl", "stop", "--pgdata", str(datadir), "--mode", "immediate", "--wait", "--silent"],
        cwd,
        run_as,
        what="pg_ctl stop",
        check=False,
    )


def _wait_ready(host: str, port: int, deadline: float, log_file: Path) -> None:
    """Connect until the server answers or ``deadline`` (monotonic) passes."""
    while True:
        try:
            with psycopg.connect(
                host=host, port=port, user=SUPERUSER, dbname="postgres", connect_timeout=2
            ) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"PostgreSQL server on port {port} not ready after {READY_TIMEOUT:.0f} s: "
                    f"{exc}\n--- server log tail ({log_file}) ---\n{_log_tail(log_file)}"
                ) from exc
            time.sleep(0.1)


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(log_file: Path) -> str:
    """Return the last lines of the server log, or a note that there is none."""
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return f"(no server log: {exc})"
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _clean_env() -> dict[str, str]:
    """The current environment without libpq/PostgreSQL variables that could interfere."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _conf_quote(value: str) -> str:
    """Quote ``value`` as a postgresql.conf string."""
    return "'" + value.replace("'", "''") + "'"


def _sqlalchemy_url(host: str, port: int, database: str) -> str:
    """Build a ``postgresql+psycopg`` URL for ``database`` as the superuser."""
    if host.startswith("/"):
        url = URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            database=database,
            query={"host": host, "port": str(port)},
        )
    else:
        url = URL.create(
            "postgresql+psycopg", username=SUPERUSER, host=host, port=port, database=database
        )
    return url.render_as_string(hide_password=False)
