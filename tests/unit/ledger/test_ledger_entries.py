"""Ledger entries: the fast search-key reader agrees with a JSON parser on canonical
records, including hostile strings; the privacy rule; opening a subject commitment."""

from __future__ import annotations

import datetime as dt
import hashlib
import random

import pytest

from govtrust.audit import AuditEvent, subject_commitment
from govtrust.errors import LedgerError
from govtrust.ledger.entries import (
    LedgerEntry,
    key8,
    open_commitment,
    privacy_findings,
    search_keys,
)

TRICKY = [
    "",
    'CN=a"b',
    'x","serial":"ff',
    '"object":{"id":"',
    "back\\slash",
    "\\",
    "CN=Ünïcödé,O=\u0645\u0627\u0644\u064a\u0629",
    "line\nbreak\ttab",
    '","sha256":"' + "0" * 64,
    "\u2028",
]


def _event(rng: random.Random, details: dict[str, str | int | bool | None]) -> AuditEvent:
    return AuditEvent(
        action=rng.choice(["cert.issue", "x.y"]),
        actor=rng.choice(TRICKY) or "a",
        time=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        object_type=rng.choice(TRICKY),
        object_id=rng.choice(TRICKY),
        object_sha256=hashlib.sha256(rng.randbytes(8)).hexdigest(),
        details=details,
    )


def _expected(entry: LedgerEntry) -> list[str]:
    keys = ["sha256:" + entry.sha256]
    if entry.serial is not None:
        keys.append("serial:" + entry.serial)
    if entry.subject_key is not None:
        keys.append("subject:" + entry.subject_key)
    return keys


@pytest.mark.parametrize("seed", range(300))
def test_fast_keys_agree_with_the_json_parser(seed: int) -> None:
    rng = random.Random(seed)
    details: dict[str, str | int | bool | None] = {}
    for key in rng.sample(["serial", "subject", "subject_commitment", "ca", "sha256", "a"], 3):
        details[key] = rng.choice([*TRICKY, "ABCdef0123", None, 7, True])
    if isinstance(details.get("subject_commitment"), str):
        details["subject_commitment"] = hashlib.sha256(b"%d" % seed).hexdigest()
    record = _event(rng, details).canonical()
    assert search_keys(record) == _expected(LedgerEntry.parse(record))


def test_key8_is_a_signed_64_bit_prefix() -> None:
    assert key8(b"\xff" * 32) == -1
    assert key8(b"\x00" * 7 + b"\x01" + b"\x00" * 24) == 1
    assert key8("serial:ab") == key8(hashlib.sha256(b"serial:ab").digest())


def test_parse_refuses_what_is_not_an_entry() -> None:
    for bad in (b"", b"[]", b'{"v":2,"type":"a","actor":"b","time":"t","object":{}}', b"\xff"):
        with pytest.raises(LedgerError):
            LedgerEntry.parse(bad)


def _entry(details: dict[str, str | int | bool | None], object_id: str = "01") -> LedgerEntry:
    event = AuditEvent(
        "cert.issue",
        "cli:x",
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "certificate",
        object_id,
        "00" * 32,
        details,
    )
    return LedgerEntry.parse(event.canonical())


def test_privacy_rule() -> None:
    person = {"serial": "01", "subject_commitment": "ab" * 32}
    assert privacy_findings(_entry(person)) == []
    assert privacy_findings(_entry({**person, "subject": "CN=Jane Doe"}))
    assert privacy_findings(_entry({**person, "contact": "jane@example.org"}))
    assert privacy_findings(_entry({"serial": "01", "subject_commitment": "Jane"}))
    assert privacy_findings(_entry({"subject": "CN=Ministry"}, object_id="a@b.org"))
    organisation = {"serial": "01", "subject": "CN=Ministry of Finance,O=Government,C=AA"}
    assert privacy_findings(_entry(organisation)) == []


def test_opening_a_commitment() -> None:
    salt, subject = b"\x01" * 32, b"0\x00"
    commitment = subject_commitment(salt, subject)
    open_commitment(commitment, salt, subject)
    with pytest.raises(LedgerError):
        open_commitment(commitment, b"\x02" * 32, subject)
    with pytest.raises(LedgerError):
        open_commitment(commitment, salt, b"0\x01")
