"""Configuration is strict: unknown keys and bad values are refused with the file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from govtrust.ca.profiles import load_profiles
from govtrust.config import load_settings
from govtrust.errors import ConfigError, PassphraseMissing


def _write(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "govtrust.toml").write_text(text)


def test_defaults_and_environment(tmp_path: Path) -> None:
    settings = load_settings({"GOVTRUST_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'govtrust.db'}"
    env = {
        "GOVTRUST_HOME": str(tmp_path),
        "GOVTRUST_DATABASE_URL": "postgresql+psycopg://x/y",
        "GOVTRUST_PUBLIC_URL": "https://pki.gov.example/",
    }
    settings = load_settings(env)
    assert settings.database_url == "postgresql+psycopg://x/y"
    assert settings.public_base_url == "https://pki.gov.example"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[instanse]\nname='x'\n", "unknown section"),
        ("[instance]\nnmae='x'\n", "unknown key 'nmae'"),
        ("[instance]\ncountry='aaa'\n", "two capital letters"),
        ("[crl]\nvalidity_hours=0\n", "positive integer"),
        ("[instance]\npublic_base_url='ftp://x'\n", "http(s)"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_refused(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings({"GOVTRUST_HOME": str(tmp_path)})


def test_passphrase_sources(tmp_path: Path) -> None:
    _write(tmp_path, "[keys]\npassphrase_file='secrets/p'\n")
    settings = load_settings({"GOVTRUST_HOME": str(tmp_path)})
    with pytest.raises(PassphraseMissing) as err:
        settings.key_passphrase()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "p").write_text("from-file\n")
    assert settings.key_passphrase() == b"from-file"
    settings = load_settings({"GOVTRUST_HOME": str(tmp_path), "GOVTRUST_KEY_PASSPHRASE": "env"})
    assert settings.key_passphrase() == b"env"
    assert "from-file" not in str(err.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"tls-server": {"validity_dayz": 1}}, "unknown field"),
        ({"tls-server": {"key_algorithms": ["ec-p999"]}}, "ec-p999"),
        ({"tls-server": {"key_usage": ["sign_everything"]}}, "unknown value"),
        ({"tls-server": {"san_types": ["x400"]}}, "unknown value"),
        ({"tls-server": {"policies": ["not.an.oid"]}}, "dotted OID"),
        ({"new": {"key_algorithms": ["ec-p256"], "key_usage": []}}, "validity_days"),
        ({"tls-server": {"cn_in_san": "yes"}}, "true or false"),
    ],
)
def test_profile_config_refused(override: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_profiles(override)


def test_profile_override_is_field_by_field() -> None:
    registry = load_profiles(
        {
            "tls-server": {"validity_days": 90},
            "kiosk": {
                "validity_days": 30,
                "key_algorithms": ["ec-p256"],
                "key_usage": ["digital_signature"],
            },
        }
    )
    assert registry.get("tls-server").spec.validity_days == 90
    assert registry.get("tls-server").spec.san_required is True
    assert "kiosk" in registry.names()
