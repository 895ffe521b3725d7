"""The [ledger] section of govtrust.toml: defaults, values, strictness, the template."""

from __future__ import annotations

from pathlib import Path

import pytest

from govtrust.config import LedgerSettings, load_settings
from govtrust.errors import ConfigError


def _load(tmp_path: Path, text: str) -> LedgerSettings:
    (tmp_path / "govtrust.toml").write_text(text)
    return load_settings({"GOVTRUST_HOME": str(tmp_path)}).ledger


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({"GOVTRUST_HOME": str(tmp_path)})
    assert settings.ledger == LedgerSettings()
    assert settings.ledger.batch_interval_seconds == 1.0
    assert settings.ledger.origin_for("https://pki.gov.aa/") == "pki.gov.aa/ledger"


def test_values(tmp_path: Path) -> None:
    ledger = _load(
        tmp_path,
        "[ledger]\norigin = 'gov.aa/log'\nbatch_interval_seconds = 0.5\nbatch_max_size = 7\n",
    )
    assert ledger == LedgerSettings("gov.aa/log", 0.5, 7)
    assert ledger.origin_for("https://x") == "gov.aa/log"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[ledger]\nbatch_size = 3\n", "unknown key 'batch_size'"),
        ("[ledger]\nbatch_max_size = 0\n", "positive integer"),
        ("[ledger]\nbatch_max_size = 1.5\n", "positive integer"),
        ("[ledger]\nbatch_interval_seconds = 0\n", "positive number"),
        ("[ledger]\nbatch_interval_seconds = true\n", "positive number"),
        ("[ledger]\norigin = 'a b'\n", "spaces"),
        ("[ledger]\norigin = 'a+b'\n", "spaces"),
        ("[ledger]\norigin = 3\n", "string"),
    ],
)
def test_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)


def test_the_init_template_has_the_section(tmp_path: Path) -> None:
    from govtrust.services.setup import CONFIG_TEMPLATE

    text = CONFIG_TEMPLATE.format(name="n", country="AA", base_url="https://pki.gov.aa")
    ledger = _load(tmp_path, text)
    assert ledger == LedgerSettings()
    assert "[ledger]" in text
