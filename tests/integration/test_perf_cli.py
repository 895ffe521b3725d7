"""The lazily loaded sub-commands of ``govtrust`` (cli/main.py): listed by ``--help``
without importing their modules, each one loaded and working when invoked."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from govtrust.cli.main import _LAZY, app

runner = CliRunner()

_PROBE = """
import sys
sys.argv = ["govtrust", *sys.argv[1:]]
from govtrust.cli.main import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("pyhanko", "aiohttp", "httpx", "lxml") if m in sys.modules)
lazy = sorted(m for m in sys.modules if m in (
    "govtrust.cli.sign", "govtrust.cli.verify", "govtrust.cli.tsa", "govtrust.cli.credential",
    "govtrust.cli.ledger", "govtrust.cli.ledger_remote", "govtrust.cli.trustlist",
    "govtrust.cli.portal",
))
sys.stderr.write(f"HEAVY={','.join(heavy)} LAZY={','.join(lazy)}\\n")
"""


def _imports(*args: str) -> tuple[str, str, str]:
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120
    )
    line = [x for x in run.stderr.splitlines() if x.startswith("HEAVY=")][-1]
    heavy, lazy = line.split(" ")
    return run.stdout, heavy.removeprefix("HEAVY="), lazy.removeprefix("LAZY=")


def test_help_lists_every_command_and_imports_none_of_their_modules() -> None:
    out, heavy, lazy = _imports("--help")
    for name in (*_LAZY, "init", "serve", "ca", "cert", "crl", "ocsp", "token", "audit"):
        assert name in out
    assert heavy == "" and lazy == ""


def test_a_lazy_command_imports_its_own_module_only() -> None:
    out, _, lazy = _imports("tsa", "--help")
    assert "stamp" in out
    assert lazy == "govtrust.cli.tsa"


def test_every_lazy_command_is_there_when_invoked() -> None:
    for name in _LAZY:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage" in result.output
    ledger = runner.invoke(app, ["ledger", "--help"]).output
    assert "witness" in ledger and "audit" in ledger  # registered by cli/ledger_remote.py


def test_a_typo_suggests_a_lazy_command() -> None:
    result = runner.invoke(app, ["ledgr"])
    assert result.exit_code == 2
    assert "ledger" in result.output
