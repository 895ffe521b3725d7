"""The ``[tsa]`` configuration section: defaults, values, and strict refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from govtrust.config import DEMO_TSA_POLICY, load_settings
from govtrust.errors import ConfigError


def test_defaults(tmp_path: Path) -> None:
    tsa = load_settings({"GOVTRUST_HOME": str(tmp_path)}).tsa
    assert tsa.policy == DEMO_TSA_POLICY == "1.3.6.1.4.1.58995.1.1"
    assert (tsa.accuracy_seconds, tsa.accuracy_millis, tsa.credential) == (1, 0, "tsa")
    assert tsa.max_request_bytes == 8192


def test_values(tmp_path: Path) -> None:
    text = (
        '[tsa]\npolicy = "0.4.0.2023.1.1"\naccuracy_seconds = 0\naccuracy_millis = 500\n'
        'credential = "national-tsa"\nmax_request_bytes = 4096\n'
    )
    (tmp_path / "govtrust.toml").write_text(text)
    tsa = load_settings({"GOVTRUST_HOME": str(tmp_path)}).tsa
    assert tsa.policy == "0.4.0.2023.1.1"  # ETSI EN 319 421 best-practices policy
    assert (tsa.accuracy_seconds, tsa.accuracy_millis) == (0, 500)
    assert (tsa.credential, tsa.max_request_bytes) == ("national-tsa", 4096)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tsa]\npolcy = '1.2.3'\n", "unknown key 'polcy'"),
        ("[tsa]\npolicy = 'not.an.oid'\n", "dotted object identifier"),
        ("[tsa]\npolicy = '3.1'\n", "dotted object identifier"),
        ("[tsa]\npolicy = 1\n", "must be a string"),
        ("[tsa]\naccuracy_millis = 1000\n", "0 to 999"),
        ("[tsa]\naccuracy_seconds = -1\n", "0 to 86400"),
        ("[tsa]\naccuracy_seconds = true\n", "0 to 86400"),
        ("[tsa]\ncredential = ''\n", "credential"),
        ("[tsa]\nmax_request_bytes = 0\n", "positive integer"),
    ],
)
def test_refusals(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "govtrust.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings({"GOVTRUST_HOME": str(tmp_path)})
