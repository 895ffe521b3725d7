"""``govtrust ledger audit`` against a real govtrust over HTTP (uvicorn on loopback),
on SQLite and PostgreSQL: a clean log audits with exit 0, incrementally as it grows;
then an attacker with the database (and, for the rewrite, the log key) tampers with it
as described in the threat model, and the audit names the finding and its index.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner, Result

from govtrust.ca import CertificateRequest, RevocationReason, parse_san, parse_subject
from govtrust.cli.main import app
from govtrust.ledger.hashing import leaf_hash
from govtrust.ledger.note import Checkpoint, sign_note
from govtrust.ledger.tiles import Frontier
from govtrust.ledger.witness import CosignatureVerifier, cosign, cosignature_vkey
from govtrust.services import Actor, Context, certificates, revocation
from govtrust.services import ledger as ledger_svc
from tests.conftest import LiveServer

ADMIN = Actor("test:admin", "admin")
runner = CliRunner()


def issue(ctx: Context, n: int, tag: str) -> list[str]:
    serials = []
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        request = CertificateRequest(
            parse_subject(f"CN=svc{i}.{tag}.gov.aa"),
            key.public_key(),
            (parse_san(f"dns:svc{i}.{tag}.gov.aa"),),
        )
        serials.append(certificates.issue(ctx, "tls", "tls-server", request, ADMIN).serial)
    return serials


@dataclass
class Log:
    url: str
    ctx: Context
    vkey: str
    state: Path

    def audit(self, *extra: str, key: bool = True) -> Result:
        args = ["ledger", "audit", "--url", self.url, "--state", str(self.state), *extra]
        if key:
            args += ["--key", self.vkey]
        return runner.invoke(app, args)

    def size(self) -> int:
        return ledger_svc.latest_checkpoint(self.ctx).size


@pytest.fixture
def log(live_server: LiveServer, tmp_path: Path) -> Log:
    ctx = live_server.ctx
    serials = issue(ctx, 3, "a")
    revocation.revoke(ctx, serials[0], RevocationReason.key_compromise, ADMIN)
    ledger_svc.sequence(ctx)
    issue(ctx, 2, "b")
    ledger_svc.sequence(ctx)
    return Log(live_server.url, ctx, ledger_svc.log_info(ctx).vkey, tmp_path / "audit.json")


def lines(result: Result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line]


def clean(log: Log) -> int:
    result = log.audit()
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return log.size()


# ---- the attacker's tools --------------------------------------------------------------


def drop_append_only(ctx: Context, *tables: str) -> None:
    """What an attacker with the database does first (migration 0002's triggers)."""
    with ctx.db.write() as s:
        for table in tables:
            if ctx.db.dialect == "sqlite":
                s.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                s.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
            else:
                s.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))


def entry(ctx: Context, index: int) -> bytes:
    with ctx.db.read() as s:
        return bytes(
            s.execute(
                text("SELECT entry FROM ledger_entry WHERE idx = :i"), {"i": index}
            ).scalar_one()
        )


def flip_a_byte(ctx: Context, index: int) -> None:
    data = bytearray(entry(ctx, index))
    data[len(data) // 2] ^= 0x01
    with ctx.db.write() as s:
        s.execute(
            text("UPDATE ledger_entry SET entry = :e WHERE idx = :i"),
            {"e": bytes(data), "i": index},
        )


def rewrite_history(ctx: Context, index: int) -> int:
    """Change entry ``index``, recompute every tile from the entries, and re-sign a
    checkpoint of the same size with the real log key (taken from key custody), so the
    stored log is self-consistent again and the sequencer carries on from it."""
    drop_append_only(ctx, "ledger_entry", "ledger_tile", "ledger_checkpoint")
    flip_a_byte(ctx, index)
    with ctx.db.read() as s:
        entries = [
            bytes(r.entry) for r in s.execute(text("SELECT entry FROM ledger_entry ORDER BY idx"))
        ]
    frontier = Frontier()
    full = frontier.extend(leaf_hash(e) for e in entries)
    info = ledger_svc.log_info(ctx)
    key = ctx.custody.load(info.key_ref).as_private_key()
    assert isinstance(key, Ed25519PrivateKey)
    note = sign_note(
        Checkpoint(info.origin, frontier.size, frontier.root()).body(), info.origin, key
    )
    with ctx.db.write() as s:
        for t in full:
            s.execute(
                text("UPDATE ledger_tile SET data = :d WHERE level = :l AND idx = :i"),
                {"d": t.data, "l": t.level, "i": t.index},
            )
        s.execute(text("DELETE FROM ledger_partial_tile"))
        partial = frontier.partial_tile_data()
        for ref in frontier.partial_tiles():
            s.execute(
                text("INSERT INTO ledger_partial_tile (level, idx, data) VALUES (:l, :i, :d)"),
                {"l": ref.level, "i": ref.index, "d": partial[ref.level]},
            )
        s.execute(
            text("UPDATE ledger_checkpoint SET root = :r, note = :n WHERE size = :s"),
            {"r": frontier.root(), "n": note, "s": frontier.size},
        )
    return frontier.size


# ---- a clean log -----------------------------------------------------------------------


def test_clean_log_audits_then_audits_incrementally(log: Log) -> None:
    size = log.size()
    first = log.audit()
    assert first.exit_code == 0, (first.stdout, first.stderr)
    assert f"tree size {size}" in first.stdout and first.stdout.startswith("OK:")
    state = json.loads(log.state.read_text())
    assert state["size"] == size and state["key"] == log.vkey
    issue(log.ctx, 2, "c")
    ledger_svc.sequence(log.ctx)
    second = runner.invoke(
        app, ["ledger", "audit", "--url", log.url, "--state", str(log.state), "--json"]
    )
    assert second.exit_code == 0, second.stdout
    report = json.loads(second.stdout)
    assert report["ok"] and report["incremental"] and report["previous_size"] == size
    assert report["size"] == log.size() > size and report["findings"] == []
    # The root the auditor recomputed is the one the log signed.
    assert report["root"] == json.loads(log.state.read_text())["root"]


def test_first_audit_without_a_key_trusts_on_first_use_loudly(log: Log, tmp_path: Path) -> None:
    home = tmp_path / "auditor-home"
    result = runner.invoke(
        app, ["ledger", "audit", "--url", log.url], env={"GOVTRUST_HOME": str(home)}
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "NOTICE" in result.stderr and log.vkey in result.stderr
    (state_file,) = (home / "audit-state").iterdir()
    assert json.loads(state_file.read_text())["key"] == log.vkey
    again = runner.invoke(
        app, ["ledger", "audit", "--url", log.url], env={"GOVTRUST_HOME": str(home)}
    )
    assert again.exit_code == 0 and "NOTICE" not in again.stderr


# ---- tampering -------------------------------------------------------------------------


def test_a_changed_entry_byte_is_a_wrong_leaf(log: Log) -> None:
    clean(log)
    target = log.size() // 2
    drop_append_only(log.ctx, "ledger_entry")
    flip_a_byte(log.ctx, target)
    result = log.audit("--from-scratch")
    assert result.exit_code == 1
    assert lines(result) == [lines(result)[0]] and lines(result)[0].startswith(
        f"wrong-leaf at index {target}:"
    )


def test_a_deleted_entry_is_missing_at_its_index(log: Log) -> None:
    clean(log)
    target = log.size() - 7
    drop_append_only(log.ctx, "ledger_entry")
    with log.ctx.db.write() as s:
        s.execute(text("DELETE FROM ledger_entry WHERE idx = :i"), {"i": target})
    result = log.audit("--from-scratch")
    assert result.exit_code == 1
    assert lines(result)[0].startswith(f"missing-entry at index {target}:")


def test_history_rewritten_and_re_signed_is_a_fork(log: Log) -> None:
    size = clean(log)
    target = size - 3
    assert rewrite_history(log.ctx, target) == size
    for extra in ((), ("--from-scratch",)):
        result = log.audit(*extra)
        assert result.exit_code == 1, result.stdout
        assert lines(result) == [lines(result)[0]]
        assert lines(result)[0].startswith(f"fork at index {target}:"), result.stdout


def test_history_rewritten_then_extended_is_a_rewrite(log: Log) -> None:
    size = clean(log)
    target = size - 5
    rewrite_history(log.ctx, target)
    issue(log.ctx, 1, "after")
    ledger_svc.sequence(log.ctx)  # the sequencer accepts the re-signed tree
    assert log.size() > size
    result = log.audit()
    assert result.exit_code == 1
    assert lines(result)[0].startswith(f"rewrite at index {target}:"), result.stdout


def test_a_forged_checkpoint_signature_is_a_bad_signature(log: Log) -> None:
    size = clean(log)
    info = ledger_svc.log_info(log.ctx)
    forged = sign_note(
        Checkpoint(info.origin, size, b"\x00" * 32).body(),
        info.origin,
        Ed25519PrivateKey.generate(),
    )
    drop_append_only(log.ctx, "ledger_checkpoint")
    with log.ctx.db.write() as s:
        s.execute(
            text("UPDATE ledger_checkpoint SET note = :n WHERE size = :s"), {"n": forged, "s": size}
        )
    result = log.audit()
    assert result.exit_code == 1
    assert lines(result) == [lines(result)[0]]
    assert lines(result)[0].startswith(f"bad-signature at index {size}:")


def test_a_forged_cosignature_is_refused(log: Log) -> None:
    size = clean(log)
    witness_key = Ed25519PrivateKey.generate()
    name = "pki.gov.bb/witness"
    vkey = cosignature_vkey(name, witness_key.public_key())
    note = ledger_svc.latest_checkpoint(log.ctx).note
    body = note.rpartition("\n\n")[0] + "\n"
    genuine = cosign(body, name, witness_key, 1_700_000_000)
    # Served with a genuine cosignature: verified and reported.
    ledger_svc.add_cosignature(log.ctx, size, "bb", genuine)
    ok = log.audit("--witness", vkey)
    assert ok.exit_code == 0 and f"cosigned by {name}" in ok.stdout
    # The same key ID and timestamp with another signature: refused, the audit fails.
    blob = base64.b64decode(genuine.split(" ")[-1])
    forged = f"\u2014 {name} {base64.b64encode(blob[:12] + bytes(64)).decode()}"
    ledger_svc.add_cosignature(log.ctx, size, "bb", forged)
    result = log.audit("--witness", vkey)
    assert result.exit_code == 1
    assert lines(result) == [
        f"bad-cosignature at index {size}: " + lines(result)[0].split(": ", 1)[1]
    ]
    assert CosignatureVerifier(name, witness_key.public_key()).vkey == vkey
