"""The auditor (govtrust.ledger.client) against synthetic tlog-tiles logs served through
``httpx.MockTransport``: trees that span several tile levels (more than 65,536 entries),
growth between audits, every kind of finding with its exact index, and bounded memory.

The synthetic log is built here from the entries with the ledger's ``Frontier`` and
served the way C2SP tlog-tiles says (full tiles, ``.p/<W>`` partial tiles, entry
bundles); each tampering below is what a log operator could do to its own files.
"""

from __future__ import annotations

import base64
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govtrust.errors import InputError, LedgerFetchError
from govtrust.ledger.client import AuditState, LogClient, audit_log, default_state_path, log_prefix
from govtrust.ledger.hashing import leaf_hash
from govtrust.ledger.note import Checkpoint, sign_note, vkey_string
from govtrust.ledger.tiles import (
    TILE_WIDTH,
    Frontier,
    TileRef,
    encode_entry_bundle,
    parse_tile_path,
    tile_width,
)
from govtrust.ledger.witness import CosignatureVerifier, cosign

ORIGIN = "synthetic.example/ledger"


def record(i: int) -> bytes:
    body = {
        "v": 1,
        "type": "test.event",
        "actor": "test",
        "time": "2026-01-01T00:00:00Z",
        "object": {"type": "n", "id": str(i), "sha256": "00" * 32},
        "details": {},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


class SyntheticLog:
    """A tlog-tiles log in memory, its tiles recomputed from its entries on demand."""

    def __init__(self, n: int, key: Ed25519PrivateKey | None = None) -> None:
        self.key = key or Ed25519PrivateKey.generate()
        self.vkey = vkey_string(ORIGIN, self.key.public_key())
        self.entries = [record(i) for i in range(n)]
        self.hidden_bundles: set[int] = set()  # bundles answered 404 (full and partial)
        self.missing_rows: set[int] = set()  # bundles holding such a row fail (as govtrust)
        self.tile_override: dict[tuple[int, int], bytes] = {}
        self.cosignature_lines = ""
        self.gets = 0
        self.publish()

    def publish(self, root: bytes | None = None) -> None:
        """Recompute the tiles and sign a checkpoint (of ``root`` if given: a lie)."""
        frontier = Frontier()
        self.tiles: dict[tuple[int, int], bytes] = {}
        for tile in frontier.extend(leaf_hash(e) for e in self.entries):
            self.tiles[(tile.level, tile.index)] = tile.data
        partial = frontier.partial_tile_data()
        for ref in frontier.partial_tiles():
            self.tiles[(ref.level, ref.index)] = partial[ref.level]
        self.size = frontier.size
        self.root = frontier.root()
        body = Checkpoint(ORIGIN, self.size, root or self.root).body()
        self.note = sign_note(body, ORIGIN, self.key)

    def append(self, n: int) -> None:
        start = len(self.entries)
        self.entries += [record(start + i) for i in range(n)]
        self.publish()

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.gets += 1
        path = request.url.path.removeprefix("/ledger/")
        if path == "checkpoint":
            return httpx.Response(200, text=self.note + self.cosignature_lines)
        ref = parse_tile_path(path)
        have = tile_width(ref.level, ref.index, self.size)
        if have == 0 or ref.width > have:
            return httpx.Response(404)
        start = ref.index * TILE_WIDTH
        if ref.entries:
            if ref.index in self.hidden_bundles:
                return httpx.Response(404)
            rows = range(start, start + ref.width)
            if any(i in self.missing_rows for i in rows):
                return httpx.Response(500)
            return httpx.Response(200, content=encode_entry_bundle(self.entries[i] for i in rows))
        data = self.tile_override.get(
            (ref.level, ref.index), self.tiles.get((ref.level, ref.index))
        )
        if data is None:
            return httpx.Response(404)
        return httpx.Response(200, content=data[: ref.width * 32])

    def client(self) -> LogClient:
        return LogClient(
            httpx.Client(transport=httpx.MockTransport(self.handler)), "http://log.test"
        )


def audit(log: SyntheticLog, state: AuditState | None = None, **kw):  # type: ignore[no-untyped-def]
    return audit_log(log.client(), kw.pop("vkey", log.vkey if state is None else None), state, **kw)


def findings(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{f.kind} {f.index}" for f in report.findings]


# ---- clean logs ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 513, 65536, 65536 + 257])
def test_clean_logs_of_every_shape_verify(size: int) -> None:
    log = SyntheticLog(size)
    report = audit(log)
    assert report.ok, findings(report)
    assert report.size == size and report.root == log.root
    assert report.entries_checked == size
    assert report.state is not None and report.state.size == size
    assert report.state.frontier().root() == log.root


def test_incremental_audit_fetches_only_what_is_new() -> None:
    log = SyntheticLog(65536 + 300)
    first = audit(log)
    assert first.ok and first.state is not None
    full_gets = log.gets
    log.append(700)
    log.gets = 0
    second = audit(log, first.state)
    assert second.ok, findings(second)
    assert second.incremental and second.previous_size == 65836 and second.size == 66536
    # Four bundles and their tiles, a few upper tiles: not the ~520 of a full audit.
    assert log.gets < 20 < full_gets
    # Nothing new: a same-size audit checks the root and the right edge only.
    log.gets = 0
    third = audit(log, second.state)
    assert third.ok and log.gets <= 5
    # From scratch with a state: the whole tree again, and the consistency check too.
    again = audit(log, second.state, from_scratch=True)
    assert again.ok and again.entries_checked == 66536


def test_state_file_round_trip(tmp_path: Path) -> None:
    log = SyntheticLog(600)
    report = audit(log)
    assert report.state is not None
    path = tmp_path / "s" / "state.json"
    report.state.save(path)
    loaded = AuditState.load(path)
    assert loaded == report.state
    assert AuditState.load(tmp_path / "absent.json") is None
    data = json.loads(path.read_text())
    data["root"] = base64.b64encode(b"\x00" * 32).decode()
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="inconsistent"):
        AuditState.load(path)
    path.write_text("{not json")
    with pytest.raises(InputError):
        AuditState.load(path)


def test_log_urls() -> None:
    assert log_prefix("https://pki.gov.aa") == "https://pki.gov.aa/ledger"
    assert log_prefix("https://pki.gov.aa/ledger/") == "https://pki.gov.aa/ledger"
    assert log_prefix("https://cdn.example/logs/aa/checkpoint") == "https://cdn.example/logs/aa"
    for bad in ("ftp://x", "pki.gov.aa", "https://x/ledger?a=1"):
        with pytest.raises(InputError):
            log_prefix(bad)
    assert default_state_path(Path("/h"), "https://pki.gov.aa:8443").name == (
        "pki.gov.aa_8443_ledger.json"
    )


# ---- findings, each with its index ---------------------------------------------------


def test_changed_entry_is_a_wrong_leaf_at_its_index() -> None:
    log = SyntheticLog(700)
    log.entries[300] = record(300).replace(b'"id":"300"', b'"id":"301"')  # tiles unchanged
    report = audit(log)
    assert findings(report) == ["wrong-leaf 300"]
    assert report.state is None


def test_short_bundle_is_a_missing_entry_at_its_index() -> None:
    log = SyntheticLog(700)
    log.missing_rows.add(517)  # bundle 2 can no longer be served in full
    report = audit(log)
    assert findings(report) == ["missing-entry 517"]


def test_absent_bundle_and_tile() -> None:
    log = SyntheticLog(700)
    log.hidden_bundles.add(1)
    assert findings(audit(log)) == ["missing-entry 256"]
    log = SyntheticLog(700)
    del log.tiles[(0, 1)]
    assert findings(audit(log)) == ["missing-entry 256"]


def test_bundle_and_tile_both_absent_stop_the_recomputation() -> None:
    log = SyntheticLog(700)
    log.hidden_bundles.add(1)
    del log.tiles[(0, 1)]
    report = audit(log)
    assert findings(report)[:2] == ["missing-entry 256", "missing-entry 256"]
    assert any("cannot be recomputed" in n for n in report.notices)


def test_changed_upper_tile_is_a_wrong_tile() -> None:
    log = SyntheticLog(65536 + 10)
    tile = bytearray(log.tiles[(1, 0)])
    tile[32 * 7] ^= 1  # the hash of level-0 tile 7
    log.tile_override[(1, 0)] = bytes(tile)
    assert findings(audit(log)) == [f"wrong-tile {7 * 256}"]
    log = SyntheticLog(3 * 256 + 1)
    del log.tiles[(1, 0)]  # the partial level-1 tile
    assert findings(audit(log)) == ["missing-tile 0"]


def test_checkpoint_signing_another_root_is_a_wrong_root() -> None:
    log = SyntheticLog(300)
    log.publish(root=b"\x01" * 32)
    assert findings(audit(log)) == ["wrong-root 300"]


def test_bad_signature_ends_the_audit() -> None:
    log = SyntheticLog(300)
    other = SyntheticLog(0)
    report = audit(log, vkey=other.vkey)
    assert findings(report) == ["bad-signature 300"]
    assert report.entries_checked == 0
    log.note = log.note.replace("300\n", "301\n", 1)  # the signed text altered
    assert findings(audit(log)) == ["bad-signature 301"]


def grown_and_rewritten(initial: int, change: int, grow: int) -> tuple[SyntheticLog, AuditState]:
    log = SyntheticLog(initial)
    first = audit(log)
    assert first.ok and first.state is not None
    log.entries[change] = b"rewritten " + log.entries[change]
    log.append(grow)  # re-signed with the real key
    return log, first.state


@pytest.mark.parametrize("from_scratch", [False, True])
def test_rewrite_in_the_last_tile_is_exact(from_scratch: bool) -> None:
    log, state = grown_and_rewritten(300, 290, 50)
    report = audit(log, state, from_scratch=from_scratch)
    assert findings(report) == ["rewrite 290"]


@pytest.mark.parametrize("from_scratch", [False, True])
@pytest.mark.parametrize(
    ("initial", "expected", "subtree"),
    [(5000, "rewrite 768", "768..1023"), (65536 + 600, "rewrite 0", "0..65535")],
)
def test_rewrite_deep_in_history_names_its_subtree(
    from_scratch: bool, initial: int, expected: str, subtree: str
) -> None:
    """Entry 1000 rewritten: the remembered right edge names the smallest subtree that
    holds it (a level-1 hash covers 256 entries, a level-2 hash 65,536); the exact entry
    would need every old leaf, which a bounded-memory auditor does not keep."""
    log, state = grown_and_rewritten(initial, 1000, 50)
    report = audit(log, state, from_scratch=from_scratch)
    assert findings(report) == [expected]
    assert subtree in report.findings[0].message


@pytest.mark.parametrize("from_scratch", [False, True])
def test_same_size_other_root_is_a_fork(from_scratch: bool) -> None:
    log = SyntheticLog(400)
    first = audit(log)
    assert first.state is not None
    log.entries[390] = b"forked"
    log.publish()
    assert findings(audit(log, first.state, from_scratch=from_scratch)) == ["fork 390"]


def test_a_shrunk_log_is_a_rewrite() -> None:
    log = SyntheticLog(400)
    first = audit(log)
    assert first.state is not None
    log.entries = log.entries[:350]
    log.publish()
    assert findings(audit(log, first.state)) == ["rewrite 350"]


def test_findings_keep_the_last_good_state() -> None:
    log = SyntheticLog(400)
    first = audit(log)
    log.entries[10] = b"x"
    log.publish()
    bad = audit(log, first.state)
    assert not bad.ok and bad.state is None


def test_state_of_another_log_or_key_is_refused() -> None:
    log = SyntheticLog(10)
    state = audit(log).state
    other = SyntheticLog(10)
    with pytest.raises(InputError, match="--key"):
        audit_log(log.client(), other.vkey, state)


def test_cosignatures_are_checked_when_witness_keys_are_given() -> None:
    log = SyntheticLog(30)
    wkey = Ed25519PrivateKey.generate()
    witness = CosignatureVerifier("w.example/witness", wkey.public_key())
    text = log.note.rpartition("\n\n")[0] + "\n"
    log.cosignature_lines = cosign(text, witness.name, wkey, 1_700_000_000)
    report = audit(log, witnesses=[witness])
    assert report.ok and [c.name for c in report.cosignatures] == [witness.name]
    forged = cosign(text, witness.name, Ed25519PrivateKey.generate(), 1_700_000_000)
    # A forged line carries the key ID of the forger's key: give it the witness's.
    good_id = log.cosignature_lines.split(" ")[-1]
    forged_blob = base64.b64decode(good_id)[:4] + base64.b64decode(forged.split(" ")[-1])[4:]
    log.cosignature_lines = f"\u2014 {witness.name} {base64.b64encode(forged_blob).decode()}\n"
    assert findings(audit(log, witnesses=[witness])) == ["bad-cosignature 30"]
    log.cosignature_lines = ""
    quiet = audit(log, witnesses=[witness])
    assert quiet.ok and any("not cosigned" in n for n in quiet.notices)


def test_key_learned_on_first_use_from_the_log() -> None:
    log = SyntheticLog(5)
    create = json.loads(record(3))
    create["type"] = "ledger.create"
    create["details"] = {"origin": ORIGIN, "key": log.vkey}
    log.entries[3] = json.dumps(create, sort_keys=True, separators=(",", ":")).encode()
    log.publish()
    report = audit_log(log.client(), None, None)
    assert report.ok and report.key_trusted_on_first_use
    assert any("NOTICE" in n and log.vkey in n for n in report.notices)
    assert report.state is not None and report.state.vkey == log.vkey
    # Without such an entry there is nothing to trust: --key is needed.
    with pytest.raises(InputError, match="--key"):
        audit_log(SyntheticLog(5).client(), None, None)


def test_unreachable_log_is_an_error_not_a_finding() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = LogClient(httpx.Client(transport=httpx.MockTransport(down)), "http://log.test")
    with pytest.raises(LedgerFetchError):
        audit_log(client, SyntheticLog(0).vkey, None)
    flaky: list[int] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        flaky.append(1)
        return httpx.Response(503)

    client = LogClient(httpx.Client(transport=httpx.MockTransport(unavailable)), "http://x")
    with pytest.raises(LedgerFetchError, match="503"):
        audit_log(client, SyntheticLog(0).vkey, None)
    assert len(flaky) == 2  # retried once


def test_oversized_tile_answer_is_refused() -> None:
    log = SyntheticLog(10)
    huge: Callable[[httpx.Request], httpx.Response] = lambda r: (  # noqa: E731
        httpx.Response(200, content=b"\x00" * 9000) if "tile/0/" in r.url.path else log.handler(r)
    )
    client = LogClient(httpx.Client(transport=httpx.MockTransport(huge)), "http://x")
    with pytest.raises(LedgerFetchError, match="larger"):
        audit_log(client, log.vkey, None)


def test_memory_stays_bounded() -> None:
    """The auditor keeps the right edge, not the leaves: auditing four times as many
    entries does not take four times the memory (the leaf hashes alone of 50,000
    entries would take more than 3 MB)."""
    peaks = []
    for size in (12_500, 50_000):
        log = SyntheticLog(size)
        client = log.client()
        tracemalloc.start()
        report = audit_log(client, log.vkey, None, parallel=2)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert report.ok and report.size == size
        peaks.append(peak)
    assert peaks[1] < 2.5 * 1024 * 1024
    assert peaks[1] < 1.5 * peaks[0]


def test_tile_refs_used_by_the_auditor_are_canonical() -> None:
    assert TileRef(0, 1234, 5, entries=True).path == "tile/entries/x001/234.p/5"
