"""``govtrust portal user ...`` and the demo accounts: created, listed, able to log
in, disabled (which ends their sessions), errors as one line and exit 1."""

from __future__ import annotations

import json
import stat

import pytest
from typer.testing import CliRunner

from govtrust.cli.main import app
from govtrust.errors import Unauthenticated
from govtrust.services.portal_users import authenticate
from tests.conftest import Demo

runner = CliRunner()


def run(demo: Demo, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["portal", *args], env=demo.env, input=stdin)


def test_user_add_list_disable(demo: Demo) -> None:
    r = run(demo, "user", "add", "alice", "--role", "auditor", stdin="a long passphrase 1\n")
    assert r.exit_code == 0, r.output
    listed = json.loads(run(demo, "user", "list", "--json").stdout)
    assert ("alice", "auditor", False) in [(u["name"], u["role"], u["disabled"]) for u in listed]
    ctx = demo.open()
    try:
        assert authenticate(ctx, "alice", "a long passphrase 1").role == "auditor"
        assert run(demo, "user", "disable", "alice").exit_code == 0
        with pytest.raises(Unauthenticated):
            authenticate(ctx, "alice", "a long passphrase 1")
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "add", "bob", "--role", "root"), "a long passphrase 1\n", "unknown role"),
        (("user", "add", "bob"), "short\n", "at least 12 characters"),
        (("user", "add", "Bob!"), "a long passphrase 1\n", "user name"),
        (("user", "disable", "nobody"), None, "unknown portal user"),
    ],
)
def test_errors_are_one_line(
    demo: Demo, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    r = run(demo, *args, stdin=stdin)
    assert r.exit_code == 1
    assert r.stderr.startswith("error: ") and message in r.stderr


def test_demo_users_have_private_password_files(demo: Demo) -> None:
    """`govtrust init --demo` made them (services.setup.seed_demo)."""
    ctx = demo.open()
    try:
        files = {r: demo.home / "secrets" / f"portal-{r}.txt" for r in ("operator", "auditor")}
        for role, path in files.items():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert authenticate(ctx, role, path.read_text().strip()).role == role
    finally:
        ctx.close()
