"""The TSA's hand-assembled audit record equals AuditEvent.canonical() byte for byte."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from zoneinfo import ZoneInfo

import pytest

from govtrust.audit import AuditEvent
from govtrust.services.tsa import _stamp_record


def _generic(
    actor: str, serial: str, sha256: str, t: dt.datetime, policy: str, alg: str, tsa: str
) -> bytes:
    return AuditEvent(
        action="tsa.stamp",
        actor=actor,
        time=t,
        object_type="timestamp",
        object_id=serial,
        object_sha256=sha256,
        details={"policy": policy, "hash_alg": alg, "gen_time": t.isoformat(), "tsa": tsa},
    ).canonical()


_DIGEST = hashlib.sha256(b"token").hexdigest()


@pytest.mark.parametrize(
    ("actor", "serial", "t", "policy", "alg", "tsa"),
    [
        (
            "anonymous",
            "1",
            dt.datetime(2026, 11, 22, 9, 30, 5, 123456, dt.UTC),
            "1.2.3",
            "sha256",
            "tsa",
        ),
        (
            "anonymous",
            "98765432109876",
            dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            "1.3.6.1.4.1.99999.1",
            "sha512",
            "tsa-2",
        ),
        (
            'he said "hi"\\',
            "7",
            dt.datetime(2030, 12, 31, 23, 59, 59, 1, dt.UTC),
            "1.2",
            "sha384",
            "خدمة الختم الزمني",
        ),
        (
            "ctrl\n\t\x01",
            "42",
            dt.datetime(2026, 6, 1, tzinfo=ZoneInfo("UTC")),
            "1.2",
            "sha256",
            "</script>",
        ),
    ],
)
def test_same_bytes_as_the_generic_record(
    actor: str, serial: str, t: dt.datetime, policy: str, alg: str, tsa: str
) -> None:
    fast = _stamp_record(actor, serial, _DIGEST, t, policy, alg, tsa)
    assert fast == _generic(actor, serial, _DIGEST, t, policy, alg, tsa)
    assert json.loads(fast)["details"]["tsa"] == tsa


def test_other_offsets_and_odd_values_take_the_generic_path() -> None:
    t = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    record = _stamp_record("anonymous", "5", _DIGEST, t, "1.2", "sha256", "tsa")
    assert record == _generic("anonymous", "5", _DIGEST, t, "1.2", "sha256", "tsa")
    assert json.loads(record)["time"] == "2026-11-22T09:00:00Z"
    odd = _stamp_record("anonymous", '5"', '"x', t.astimezone(dt.UTC), "1.2", "sha256", "tsa")
    assert json.loads(odd)["object"] == {"id": '5"', "sha256": '"x', "type": "timestamp"}
