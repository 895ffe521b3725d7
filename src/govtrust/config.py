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
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govtrust.errors import ConfigError, PassphraseMissing

__all__ = [
    "CONFIG_FILE",
    "DEMO_TSA_POLICY",
    "CrlSettings",
    "LedgerSettings",
    "OcspSettings",
    "Pkcs11Settings",
    "Settings",
    "TsaSettings",
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
    signer_renew_before_days: int = 15


DEMO_TSA_POLICY = "1.3.6.1.4.1.58995.1.1"
"""An illustrative TSA policy OID (a private-enterprise arc): set your own in ``[tsa]``."""


@dataclass(frozen=True)
class TsaSettings:
    """The timestamp authority (RFC 3161). ``policy`` is the TSA policy OID every token
    names (§2.4.2 ``policy``; a request naming another one is refused with
    ``unacceptedPolicy``). ``accuracy_seconds`` / ``accuracy_millis`` are the RFC 3161
    §2.4.2 ``accuracy`` (both 0: the field is left out). ``credential`` names the signing
    credential (profile ``tsa``) that signs tokens. ``max_request_bytes`` caps the
    request body."""

    policy: str = DEMO_TSA_POLICY
    accuracy_seconds: int = 1
    accuracy_millis: int = 0
    credential: str = "tsa"
    max_request_bytes: int = 8192


@dataclass(frozen=True)
class LedgerSettings:
    """The transparency ledger (docs/ledger.md)."""

    origin: str = ""
    """C2SP tlog-checkpoint origin line and log key name; empty: the public base URL
    without its scheme, plus ``/ledger`` (the tlog-tiles prefix). Fixed when the log is
    created: a different value later is refused."""
    batch_interval_seconds: float = 1.0
    """The sequencer appends pending audit events and signs a checkpoint this often."""
    batch_max_size: int = 10_000
    """At most this many entries per batch (one signed checkpoint each)."""

    def origin_for(self, public_base_url: str) -> str:
        if self.origin:
            return self.origin
        return public_base_url.split("://", 1)[-1].rstrip("/") + "/ledger"


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
    tsa: TsaSettings = field(default_factory=TsaSettings)
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    scheduler_interval_seconds: int = 60
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Raw tables of the sections in ``_OWNED`` other than [profiles], by section name.
    owned: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def section(self, name: str) -> Mapping[str, Any]:
        """The raw table of a section validated by its owner ([verify], [trustlist],
        [portal]); empty when the file has none. The owner raises ConfigError for keys
        it does not know."""
        if name not in _OWNED or name == "profiles":
            raise KeyError(name)
        return self.owned.get(name, {})

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
        "signer_renew_before_days",
    },
    "scheduler": {"interval_seconds"},
    "ledger": {"origin", "batch_interval_seconds", "batch_max_size"},
    "tsa": {"policy", "accuracy_seconds", "accuracy_millis", "credential", "max_request_bytes"},
    "profiles": set(),  # validated by govtrust.ca.profiles
    # Validated by the module that owns each (see Settings.section):
    "verify": set(),  # govtrust.services.verify
    "trustlist": set(),  # govtrust.services.trustlists
    "portal": set(),  # govtrust.portal
}

#: Sections whose keys the owning module checks (Settings.section hands them over raw).
_OWNED = frozenset({"profiles", "verify", "trustlist", "portal"})


def _check_keys(data: Mapping[str, Any], path: Path) -> None:
    for section, value in data.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{path}: unknown section [{section}]")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        allowed = _SECTIONS[section]
        if section in _OWNED:
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


def _tsa(section: Mapping[str, Any], where: str) -> TsaSettings:
    defaults = TsaSettings()
    policy = _str(section, "policy", defaults.policy, where)
    if not re.fullmatch(r"[0-2](\.(0|[1-9][0-9]*))+", policy):
        raise ConfigError(f"{where}: policy must be a dotted object identifier")

    def accuracy(key: str, default: int, top: int) -> int:
        # RFC 3161 §2.4.2: millis is 1..999 when present; 0 here means "absent".
        value = section.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
            raise ConfigError(f"{where}: {key} must be an integer from 0 to {top}")
        return value

    credential = _str(section, "credential", defaults.credential, where)
    if not credential:
        raise ConfigError(f"{where}: credential must name a signing credential")
    return TsaSettings(
        policy=policy,
        accuracy_seconds=accuracy("accuracy_seconds", defaults.accuracy_seconds, 86_400),
        accuracy_millis=accuracy("accuracy_millis", defaults.accuracy_millis, 999),
        credential=credential,
        max_request_bytes=_int(section, "max_request_bytes", defaults.max_request_bytes, where),
    )


def _ledger(section: Mapping[str, Any], where: str) -> LedgerSettings:
    origin = _str(section, "origin", "", where)
    if origin and (any(c.isspace() for c in origin) or "+" in origin):
        raise ConfigError(f"{where}: origin must not contain spaces or '+' (C2SP signed-note)")
    interval = section.get("batch_interval_seconds", 1.0)
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or interval <= 0:
        raise ConfigError(f"{where}: batch_interval_seconds must be a positive number")
    return LedgerSettings(
        origin=origin,
        batch_interval_seconds=float(interval),
        batch_max_size=_int(section, "batch_max_size", 10_000, where),
    )


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
    if pk is not None:  # an empty [pkcs11] table means: the defaults
        where = f"{path} [pkcs11]"
        pkcs11 = Pkcs11Settings(
            module=_str(pk, "module", "/usr/lib/softhsm/libsofthsm2.so", where),
            token_label=_str(pk, "token_label", "govtrust", where),
            pin_file=rel(_str(pk, "pin_file", "", where) or None),
        )
    crl = data.get("crl", {})
    ocsp = data.get("ocsp", {})
    return Settings(
        home=home,
        database_url=db_url,
        instance_name=_str(instance, "name", "govtrust", f"{path} [instance]"),
        country=country,
        public_base_url=base_url.rstrip("/"),
        passphrase_file=rel(
            _str(data.get("keys", {}), "passphrase_file", "", f"{path} [keys]") or None
        ),
        pkcs11=pkcs11,
        crl=CrlSettings(
            validity_hours=_int(crl, "validity_hours", 168, "[crl]"),
            refresh_hours=_int(crl, "refresh_hours", 24, "[crl]"),
        ),
        ocsp=OcspSettings(
            validity_hours=_int(ocsp, "validity_hours", 24, "[ocsp]"),
            refresh_before_hours=_int(ocsp, "refresh_before_hours", 8, "[ocsp]"),
            signer_renew_before_days=_int(ocsp, "signer_renew_before_days", 15, "[ocsp]"),
        ),
        ledger=_ledger(data.get("ledger", {}), f"{path} [ledger]"),
        scheduler_interval_seconds=_int(
            data.get("scheduler", {}), "interval_seconds", 60, "[scheduler]"
        ),
        tsa=_tsa(data.get("tsa", {}), f"{path} [tsa]"),
        profiles=data.get("profiles", {}),
        owned={k: data[k] for k in _OWNED if k != "profiles" and k in data},
        environ=env,
    )
