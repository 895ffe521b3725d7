"""Injected time: every time-dependent operation takes a clock, tests freeze it."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

__all__ = ["Clock", "FixedClock", "SystemClock", "utcnow"]


def utcnow() -> dt.datetime:
    """The current UTC time with second precision (X.509 times have no fractions)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return utcnow()


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: dt.datetime) -> None:
        self._at = at

    def now(self) -> dt.datetime:
        return self._at

    def advance(self, delta: dt.timedelta) -> None:
        self._at += delta
