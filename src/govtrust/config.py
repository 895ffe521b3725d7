"""Typed, strict configuration: ``$GOVTRUST_HOME/govtrust.toml`` plus the environment.

Load, then apply defaults, then validate (as step-ca's ``authority/config`` does). Unknown
keys are refused so that a typo never silently falls back to a default. The environment
is passed in, never read behind the caller's back:

``GOVTRUST_HOME``            the data directory (default ``./govtrust-data``)
``GOVTRUST_DATABASE_URL``    overrides ``[database] url`` (e.g. ``postgresql+psycopg://...``)
``GOVTRUST_KEY_PASSPHRASE``  the software-key passphrase (else ``[keys] passphrase_file``)
``GOVTRUST_PKCS11_PIN``      the token PIN (else ``[pkcs11] pin_file``)
``GOVTRUST_PUBLIC_URL``      overrides ``[instance] public_base_url``
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govtrust.errors import ConfigError, PassphraseMissing

__all__ = [
    "CONFIG_FILE",
    "CrlSettings",
    "OcspSettings",
    "Pkcs11Settings",
    "Settings",
    "home_from_env",
    "load_settings",
]

CONFIG_FILE = "govtrust.toml"


@dataclass(frozen=True)
class Pkcs11Settings:
    module: str
    token_label: str
    pin_file: Path | None = None


@dataclass(frozen=True)
class CrlSettings:
    validity_hours: int = 168
    """RFC 5280 nextUpdate = thisUpdate + validity."""
    refresh_hours: int = 24
    """The scheduler regenerates a CRL once it is this old."""


@dataclass(frozen=True)
class OcspSettings:
    validity_hours: int = 24
    """nextUpdate of pre-signed responses (RFC 5019 §2.2.4)."""
    refresh_before_hours: int = 8
    """Pre-signed responses are re-signed when less than this remains before nextUpdate."""
    signer_validity_days: int = 90
    signer_renew_before_days: int = 15


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    instance_name: str = "govtrust"
    country: str = "AA"
    public_base_url: str = "http://127.0.0.1:8000"
    passphrase_file: Path | None = None
    pkcs11: Pkcs11Settings | None = None
    crl: CrlSettings = field(default_factory=CrlSettings)
    ocsp: OcspSettings = field(default_factory=OcspSettings)
    scheduler_interval_seconds: int = 60
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def key_passphrase(self) -> bytes:
        """The software-key passphrase; raises PassphraseMissing without echoing anything."""
        value = self.environ.get("GOVTRUST_KEY_PASSPHRASE")
        if value:
            return value.encode()
        if self.passphrase_file is not None:
            try:
                text = self.passphrase_file.read_text().strip()
            except OSError as exc:
                raise PassphraseMissing(
                    f"cannot read the key passphrase file {self.passphrase_file}: {exc.strerror}"
                ) from None
            if text:
                return text.encode()
        raise PassphraseMissing(
            "no key passphrase: set GOVTRUST_KEY_PASSPHRASE or [keys] passphrase_file"
        )

    def pkcs11_pin(self) -> str:
        value = self.environ.get("GOVTRUST_PKCS11_PIN")
        if value:
            return value
        if self.pkcs11 is not None and self.pkcs11.pin_file is not None:
            try:
                return self.pkcs11.pin_file.read_text().strip()
            except OSError as exc:
                raise PassphraseMissing(
                    f"cannot read the PKCS#11 PIN file {self.pkcs11.pin_file}: {exc.strerror}"
                ) from None
        raise PassphraseMissing("no PKCS#11 PIN: set GOVTRUST_PKCS11_PIN or [pkcs11] pin_file")


def home_from_env(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("GOVTRUST_HOME") or "govtrust-data").absolute()


_SECTIONS: dict[str, set[str]] = {
    "instance": {"name", "country", "public_base_url"},
    "database": {"url"},
    "keys": {"passphrase_file"},
    "pkcs11": {"module", "token_label", "pin_file"},
    "crl": {"validity_hours", "refresh_hours"},
    "ocsp": {
        "validity_hours",
        "refresh_before_hours",
        "signer_validity_days",
        "signer_renew_before_days",
    },
    "scheduler": {"interval_seconds"},
    "profiles": set(),  # validated by govtrust.ca.profiles
}


def _check_keys(data: Mapping[str, Any], path: Path) -> None:
    for section, value in data.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{path}: unknown section [{section}]")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        allowed = _SECTIONS[section]
        if section == "profiles":
            continue
        for key in value:
            if key not in allowed:
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}]")


def _int(section: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: {key} must be a positive integer")
    return value


def _str(section: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = section.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string")
    return value


def load_settings(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Settings:
    """Read ``govtrust.toml`` from the home directory (absent file: all defaults)."""
    env = dict(os.environ if environ is None else environ)
    home = (home or home_from_env(env)).absolute()
    path = home / CONFIG_FILE
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _check_keys(data, path)

    def rel(value: str | None) -> Path | None:
        if not value:
            return None
        p = Path(value)
        return p if p.is_absolute() else home / p

    instance = data.get("instance", {})
    database = data.get("database", {})
    db_url = env.get("GOVTRUST_DATABASE_URL") or _str(database, "url", "", f"{path} [database]")
    if not db_url:
        db_url = f"sqlite:///{home / 'govtrust.db'}"
    country = _str(instance, "country", "AA", f"{path} [instance]")
    if len(country) != 2 or not country.isalpha() or not country.isupper():
        raise ConfigError(f"{path}: [instance] country must be two capital letters (ISO 3166)")
    base_url = env.get("GOVTRUST_PUBLIC_URL") or _str(
        instance, "public_base_url", "http://127.0.0.1:8000", f"{path} [instance]"
    )
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{path}: public_base_url must be an http(s) URL")

    pk = data.get("pkcs11")
    pkcs11 = None
    if pk:
        where = f"{path} [pkcs11]"
        pkcs11 = Pkcs11Settings(
            module=_str(pk, "module", "/usr/lib/softhsm/libsofthsm2.so", where),
            token_label=_str(pk, "token_label", "govtrust", where),
            pin_file=rel(pk.get("pin_file")),
        )
    crl = data.get("crl", {})
    ocsp = data.get("ocsp", {})
    return Settings(
        home=home,
        database_url=db_url,
        instance_name=_str(instance, "name", "govtrust", f"{path} [instance]"),
        country=country,
        public_base_url=base_url.rstrip("/"),
        passphrase_file=rel(data.get("keys", {}).get("passphrase_file")),
        pkcs11=pkcs11,
        crl=CrlSettings(
            validity_hours=_int(crl, "validity_hours", 168, "[crl]"),
            refresh_hours=_int(crl, "refresh_hours", 24, "[crl]"),
        ),
        ocsp=OcspSettings(
            validity_hours=_int(ocsp, "validity_hours", 24, "[ocsp]"),
            refresh_before_hours=_int(ocsp, "refresh_before_hours", 8, "[ocsp]"),
            signer_validity_days=_int(ocsp, "signer_validity_days", 90, "[ocsp]"),
            signer_renew_before_days=_int(ocsp, "signer_renew_before_days", 15, "[ocsp]"),
        ),
        scheduler_interval_seconds=_int(
            data.get("scheduler", {}), "interval_seconds", 60, "[scheduler]"
        ),
        profiles=data.get("profiles", {}),
        environ=env,
    )
