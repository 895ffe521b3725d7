"""The ``[portal]`` section of ``govtrust.toml``, validated here (config.Settings.section
hands it over raw; unknown keys are refused).

```toml
[portal]
max_upload_bytes = 26214400   # largest document or certificate a visitor may upload
session_hours = 8             # an operator session ends this long after login
report_days = 30              # how long a kept report link works
secure_cookies = true         # the Secure cookie attribute (false only behind plain HTTP
                              # on a host other than localhost: never in production)
verify_processes = 0          # validate uploads in a pool of this many processes per
                              # web worker (0: in the web worker itself); see pool.py
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from govtrust.errors import ConfigError

__all__ = ["PortalSettings", "portal_settings"]


@dataclass(frozen=True)
class PortalSettings:
    max_upload_bytes: int = 25 * 1024 * 1024
    session_hours: int = 8
    report_days: int = 30
    secure_cookies: bool = True
    verify_processes: int = 0


_KEYS = {"max_upload_bytes", "session_hours", "report_days", "secure_cookies", "verify_processes"}
_MAX_PROCESSES = 64


def _positive(section: Mapping[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"[portal] {key} must be a positive integer")
    return value


def portal_settings(section: Mapping[str, Any]) -> PortalSettings:
    """Parse ``[portal]``; ConfigError for an unknown key or a bad value."""
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in [portal]")
    d = PortalSettings()
    secure = section.get("secure_cookies", d.secure_cookies)
    if not isinstance(secure, bool):
        raise ConfigError("[portal] secure_cookies must be true or false")
    processes = section.get("verify_processes", d.verify_processes)
    if (
        not isinstance(processes, int)
        or isinstance(processes, bool)
        or not 0 <= processes <= _MAX_PROCESSES
    ):
        raise ConfigError(
            f"[portal] verify_processes must be an integer from 0 to {_MAX_PROCESSES}"
        )
    return PortalSettings(
        max_upload_bytes=_positive(section, "max_upload_bytes", d.max_upload_bytes),
        session_hours=_positive(section, "session_hours", d.session_hours),
        report_days=_positive(section, "report_days", d.report_days),
        secure_cookies=secure,
        verify_processes=processes,
    )
