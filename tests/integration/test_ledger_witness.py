"""Cross-country witnessing (C2SP tlog-witness) with two real govtrust instances.

Country AA and country BB each have their own data directory, database and uvicorn
server on loopback (built below the way tests/conftest.py builds ``live_server``). BB
accepts to witness AA's log, AA configures BB as its witness; AA issues, sequences and
submits, and AA's ``GET /ledger/checkpoint`` then carries BB's cosignature, checked
below with an independent verifier written from the C2SP tlog-cosignature text. BB
refuses, with the statuses tlog-witness prescribes, what a misbehaving AA could send;
bad input to the endpoint is a clear 4xx, never a 500; a forged cosignature never
reaches AA's checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import text
from typer.testing import CliRunner, Result

from govtrust.ca import CertificateRequest, parse_san, parse_subject
from govtrust.cli.main import app
from govtrust.config import load_settings
from govtrust.errors import AlreadyExists, InputError, WitnessError
from govtrust.ledger.hashing import leaf_hash, root_hash
from govtrust.ledger.note import Checkpoint, parse_vkey, sign_note, split_note, vkey_string
from govtrust.ledger.proofs import consistency_proof
from govtrust.ledger.witness import (
    AddCheckpointRequest,
    CosignatureVerifier,
    cosign,
    cosignature_vkey,
    parse_cosignature_vkey,
    verify_add_checkpoint,
    verify_cosignatures,
)
from govtrust.services import Actor, Context, certificates
from govtrust.services import ledger as ledger_svc
from govtrust.services import ledger_witness as witness_svc
from govtrust.services.setup import init_home
from tests.conftest import LiveServer, make_env, serve

ADMIN = Actor("test:admin", "admin")
runner = CliRunner()


@dataclass
class Country:
    code: str
    env: dict[str, str]
    ctx: Context
    url: str
    admin_token: str

    def cli(self, *args: str) -> Result:
        result = runner.invoke(app, list(args), env=self.env)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result

    @property
    def origin(self) -> str:
        return f"pki.gov.{self.code.lower()}/ledger"


@pytest.fixture
def countries(
    tmp_path: Path, db_url: str, request: pytest.FixtureRequest
) -> Iterator[tuple[Country, Country]]:
    if db_url.startswith("sqlite"):
        second = f"sqlite:///{tmp_path / 'bb.db'}"
    else:
        second = request.getfixturevalue("postgres_server").create_database(
            "t_" + uuid.uuid4().hex[:16]
        )
    made: list[Country] = []
    with serve_both(tmp_path, [("AA", db_url), ("BB", second)], made):
        yield made[0], made[1]


@contextmanager
def serve_both(tmp_path: Path, specs: list[tuple[str, str]], made: list[Country]) -> Iterator[None]:
    if not specs:
        yield
        return
    (code, url), rest = specs[0], specs[1:]
    home = tmp_path / code.lower()
    env = make_env(home, url)
    env["GOVTRUST_PUBLIC_URL"] = f"https://pki.gov.{code.lower()}"
    report = init_home(home, env, demo=True, country=code)
    ctx = Context.open(load_settings(env))
    try:
        with serve(ctx) as base:
            made.append(Country(code, env, ctx, base, report.admin_token))
            with serve_both(tmp_path, rest, made):
                yield
    finally:
        ctx.close()


def issue(ctx: Context, n: int, tag: str) -> None:
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        request = CertificateRequest(
            parse_subject(f"CN=svc{i}.{tag}.gov.aa"),
            key.public_key(),
            (parse_san(f"dns:svc{i}.{tag}.gov.aa"),),
        )
        certificates.issue(ctx, "tls", "tls-server", request, ADMIN)


def independent_cosignature_check(note: str, witness_vkey: str) -> int:
    """From the C2SP tlog-cosignature text only (hashlib, base64, pyca Ed25519): the
    vkey is ``name+hex(key ID)+base64(0x04 || key)``; the line's blob is key ID (4) ||
    big-endian u64 timestamp || Ed25519 signature over ``cosignature/v1\\ntime <t>\\n``
    followed by the checkpoint body. Returns the timestamp."""
    name, key_id_hex, key_b64 = witness_vkey.split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x04
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + key[1:]).digest()[:4]
    assert key_id.hex() == key_id_hex
    body, _, block = note.rpartition("\n\n")
    for line in block.splitlines():
        if not line.startswith(f"\u2014 {name} "):
            continue
        blob = base64.b64decode(line.rsplit(" ", 1)[1])
        if blob[:4] != key_id:
            continue
        timestamp = int.from_bytes(blob[4:12], "big")
        message = f"cosignature/v1\ntime {timestamp}\n{body}\n".encode()
        Ed25519PublicKey.from_public_bytes(key[1:]).verify(blob[12:], message)
        return timestamp
    raise AssertionError(f"no cosignature by {name} on\n{note}")


def post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/ledger/witness/add-checkpoint", content=body, timeout=10)


def log_key(country: Country) -> Ed25519PrivateKey:
    """The real log key of a country, from its key custody (for a misbehaving log)."""
    info = ledger_svc.log_info(country.ctx)
    key = country.ctx.custody.load(info.key_ref).as_private_key()
    assert isinstance(key, Ed25519PrivateKey)
    return key


def witnessed_size(country: Country, origin: str) -> int:
    (log,) = [t for t in witness_svc.list_trusted_logs(country.ctx) if t.origin == origin]
    return log.size


def set_up_mutual_witnessing(aa: Country, bb: Country) -> str:
    """BB witnesses AA's log; AA asks BB. Returns BB's witness vkey."""
    aa.cli("ledger", "sequence")
    aa_key = aa.cli("ledger", "key").stdout.strip()
    bb_witness = bb.cli("ledger", "witness", "key").stdout.strip()
    bb.cli("ledger", "witness", "trust-log", aa.origin, "--key", aa_key)
    aa.cli("ledger", "witness", "add", f"{bb.url}/ledger/witness", "--key", bb_witness)
    return bb_witness


# ---- the two-country demo ---------------------------------------------------------------


def test_country_aa_log_is_cosigned_by_country_bb(countries: tuple[Country, Country]) -> None:
    aa, bb = countries
    bb_witness = set_up_mutual_witnessing(aa, bb)
    assert parse_cosignature_vkey(bb_witness).name == "pki.gov.bb/witness"
    issue(aa.ctx, 2, "one")
    aa.cli("ledger", "sequence")
    submitted = aa.cli("ledger", "witness", "submit")
    assert "cosigned" in submitted.stdout
    # AA's public checkpoint carries BB's cosignature, valid by the C2SP text.
    note = httpx.get(f"{aa.url}/ledger/checkpoint", timeout=10).text
    first_size = ledger_svc.latest_checkpoint(aa.ctx).size
    stamp = independent_cosignature_check(note, bb_witness)
    assert abs(stamp - time.time()) < 120
    (found,) = verify_cosignatures(note, [parse_cosignature_vkey(bb_witness)])
    assert found.name == "pki.gov.bb/witness"
    assert witnessed_size(bb, aa.origin) == first_size
    # The log grows; the scheduler's hook submits with a consistency proof from the
    # size BB cosigned, and BB cosigns again.
    issue(aa.ctx, 3, "two")
    report = ledger_svc.sequence(aa.ctx)
    submit = witness_svc.after_sequence(aa.ctx, report)
    assert submit is not None and submit.cosigned == 1, submit
    second_size = ledger_svc.latest_checkpoint(aa.ctx).size
    assert submit.size == second_size > first_size
    note = httpx.get(f"{aa.url}/ledger/checkpoint", timeout=10).text
    independent_cosignature_check(note, bb_witness)
    assert witnessed_size(bb, aa.origin) == second_size
    # Anyone auditing AA can require BB's cosignature.
    state = str(Path(aa.env["GOVTRUST_HOME"]) / "audit.json")
    aa_vkey = ledger_svc.log_info(aa.ctx).vkey
    args = ["ledger", "audit", "--url", aa.url, "--key", aa_vkey, "--state", state]
    audit = runner.invoke(app, [*args, "--witness", bb_witness])
    assert audit.exit_code == 0, audit.stdout
    assert "cosigned by pki.gov.bb/witness" in audit.stdout
    listed = aa.cli("ledger", "witness", "list", "--json").stdout
    assert f'"size": {second_size}' in listed
    # Nothing new: a second submission is cosigned again at the same size.
    again = witness_svc.submit(aa.ctx)
    assert again.cosigned == 1 and again.size == second_size


def test_country_bb_refuses_what_a_misbehaving_log_sends(
    countries: tuple[Country, Country],
) -> None:
    aa, bb = countries
    set_up_mutual_witnessing(aa, bb)
    issue(aa.ctx, 1, "x")
    aa.cli("ledger", "sequence")
    assert witness_svc.submit(aa.ctx).cosigned == 1
    cosigned = ledger_svc.latest_checkpoint(aa.ctx)
    n = cosigned.size
    key = log_key(aa)

    def signed(size: int, root: bytes, origin: str = aa.origin, k: Ed25519PrivateKey = key) -> str:
        return sign_note(Checkpoint(origin, size, root).body(), origin, k)

    # A rewritten history of AA, signed with AA's real key, with a proof that is
    # correct for the rewritten tree: inconsistent with what BB cosigned: 422.
    rewritten = [leaf_hash(b"rewritten %d" % i) for i in range(n + 4)]
    fork = AddCheckpointRequest(
        n, tuple(consistency_proof(n, n + 4, rewritten)), signed(n + 4, root_hash(rewritten))
    )
    r = post(bb.url, fork.encode())
    assert r.status_code == 422, r.text
    # The same size as cosigned with another root: 409, with BB's size.
    r = post(bb.url, AddCheckpointRequest(n, (), signed(n, b"\x05" * 32)).encode())
    assert r.status_code == 409 and r.text == f"{n}\n"
    assert r.headers["content-type"].startswith("text/x.tlog.size")
    # An old size other than the one cosigned: 409 with the cosigned size.
    r = post(bb.url, AddCheckpointRequest(0, (), signed(n + 4, root_hash(rewritten))).encode())
    assert r.status_code == 409 and r.text == f"{n}\n"
    # Old size above the checkpoint: 400.
    r = post(bb.url, AddCheckpointRequest(n, (), signed(n - 1, b"\x01" * 32)).encode())
    assert r.status_code == 400
    # Signed by another key under AA's name: 403.
    r = post(
        bb.url,
        AddCheckpointRequest(
            n, (), signed(n, cosigned.root, k=Ed25519PrivateKey.generate())
        ).encode(),
    )
    assert r.status_code == 403
    # A log BB does not witness: 404.
    stranger = Ed25519PrivateKey.generate()
    r = post(
        bb.url,
        AddCheckpointRequest(
            0, (), signed(1, b"\x02" * 32, "pki.gov.zz/ledger", stranger)
        ).encode(),
    )
    assert r.status_code == 404
    # None of it moved BB's record; the honest checkpoint is still cosigned.
    assert witnessed_size(bb, aa.origin) == n
    r = post(bb.url, AddCheckpointRequest(n, (), cosigned.note).encode())
    assert r.status_code == 200 and r.text.startswith("\u2014 pki.gov.bb/witness ")


# ---- one country is enough for the rest -------------------------------------------------


@pytest.fixture
def foreign_log(live_server: LiveServer) -> tuple[Ed25519PrivateKey, str]:
    """A log of country ZZ (a key made here) that the live server witnesses."""
    key = Ed25519PrivateKey.generate()
    witness_svc.trust_log(
        live_server.ctx,
        "pki.gov.zz/ledger",
        vkey_string("pki.gov.zz/ledger", key.public_key()),
        ADMIN,
    )
    return key, "pki.gov.zz/ledger"


def zz_checkpoint(key: Ed25519PrivateKey, size: int) -> str:
    root = root_hash([leaf_hash(b"%d" % i) for i in range(size)])
    return sign_note(Checkpoint("pki.gov.zz/ledger", size, root).body(), "pki.gov.zz/ledger", key)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b"\x00\xff\xfe garbage \x80",
        b"GET / HTTP/1.1\r\n\r\n",
        b"old\n\n",
        b"old 1\n\n",
        b"old 01\n\n@CHECKPOINT",
        b"old 0 \n\n@CHECKPOINT",
        b"old 99999999999999999999999\n\n@CHECKPOINT",
        b"old 0\nnot!base64\n\n@CHECKPOINT",
        b"old 0\n" + base64.b64encode(b"short") + b"\n\n@CHECKPOINT",
        b"old 0\n" + (base64.b64encode(b"\x00" * 32) + b"\n") * 64 + b"\n@CHECKPOINT",
        b"old 0\n\n@CHECKPOINT".replace(b"\n\n", b"\r\n\r\n"),
        b"old 0\n\n" + "pki.gov.zz/ledger\n1\nAAAA\n\n\u2014 x AAAAAAA=\n".encode(),
        b"old 0\n\n" + b"\xe2\x80\x94" * 30000,
    ],
)
def test_bad_input_is_a_clear_4xx(
    live_server: LiveServer, foreign_log: tuple[Ed25519PrivateKey, str], body: bytes
) -> None:
    body = body.replace(b"@CHECKPOINT", zz_checkpoint(foreign_log[0], 3).encode())
    r = post(live_server.url, body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(("text/plain", "text/x.tlog.size"))
    assert r.text.endswith("\n") and "Traceback" not in r.text


def test_huge_bodies_are_refused_without_being_read(live_server: LiveServer) -> None:
    r = post(live_server.url, b"old 0\n" + b"A" * (1 << 20))
    assert r.status_code == 413
    chunks = (b"x" * 65536 for _ in range(64))  # 4 MiB, no Content-Length
    r = httpx.post(f"{live_server.url}/ledger/witness/add-checkpoint", content=chunks, timeout=10)
    assert r.status_code == 413
    assert httpx.get(f"{live_server.url}/ledger/witness/add-checkpoint").status_code == 405


def test_a_tree_too_large_to_record_is_400_not_500(
    live_server: LiveServer, foreign_log: tuple[Ed25519PrivateKey, str]
) -> None:
    key, origin = foreign_log
    note = sign_note(Checkpoint(origin, (1 << 64) - 1, b"\x03" * 32).body(), origin, key)
    r = post(live_server.url, AddCheckpointRequest(0, (), note).encode())
    assert r.status_code == 400, r.text
    r = post(live_server.url, AddCheckpointRequest((1 << 64) - 1, (), note).encode())
    assert r.status_code == 409 and r.text == "0\n"


def test_witnessing_a_foreign_log_over_http(
    live_server: LiveServer, foreign_log: tuple[Ed25519PrivateKey, str]
) -> None:
    key, origin = foreign_log
    r = post(live_server.url, AddCheckpointRequest(0, (), zz_checkpoint(key, 5)).encode())
    assert r.status_code == 200
    identity = witness_svc.ensure_witness(live_server.ctx)
    (found,) = verify_cosignatures(zz_checkpoint(key, 5) + r.text, [identity.verifier])
    assert found.name == identity.name
    leaves = [leaf_hash(b"%d" % i) for i in range(9)]
    grown = AddCheckpointRequest(5, tuple(consistency_proof(5, 9, leaves)), zz_checkpoint(key, 9))
    r = post(live_server.url, grown.encode())
    assert r.status_code == 200
    assert witnessed_size(Country("ZZ", {}, live_server.ctx, "", ""), origin) == 9


# ---- our log asking witnesses: the client side ----------------------------------------


class MiniWitness:
    """A tlog-witness in memory (behind httpx.MockTransport), built on the pure checks,
    with a switch to answer forged or misdirected cosignatures."""

    def __init__(self, log_vkey: str, origin: str, start: tuple[int, bytes | None] = (0, None)):
        self.key = Ed25519PrivateKey.generate()
        self.name = "evil.example/witness"
        self.vkey = cosignature_vkey(self.name, self.key.public_key())
        self.log = parse_vkey(log_vkey)
        self.origin = origin
        self.size, self.root = start
        self.mode = "honest"
        self.olds: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        req = AddCheckpointRequest.parse(request.content)
        self.olds.append(req.old_size)
        try:
            cp = verify_add_checkpoint(req, [self.log], self.origin, self.size, self.root)
        except WitnessError as exc:  # the witness's refusals
            status = exc.status
            if status == 409:
                return httpx.Response(
                    409,
                    content=f"{self.size}\n".encode(),
                    headers={"content-type": "text/x.tlog.size"},
                )
            return httpx.Response(status, text=str(exc))
        self.size, self.root = cp.size, cp.root
        body, _ = split_note(req.checkpoint)
        if self.mode == "other-checkpoint":
            body = Checkpoint(cp.origin, cp.size + 1, cp.root).body()
        line = cosign(body, self.name, self.key, int(time.time()))
        if self.mode == "forged":
            blob = bytearray(base64.b64decode(line.split(" ")[-1]))
            blob[20] ^= 0xFF
            line = f"\u2014 {self.name} {base64.b64encode(bytes(blob)).decode()}\n"
        if self.mode == "garbage":
            line = "this is not a signature line\n"
        return httpx.Response(200, text=line)


def cosignature_rows(ctx: Context) -> int:
    with ctx.db.read() as s:
        return int(s.execute(text("SELECT count(*) FROM ledger_cosignature")).scalar_one())


@pytest.mark.parametrize("mode", ["forged", "other-checkpoint", "garbage"])
def test_a_forged_cosignature_is_never_stored(ctx: Context, mode: str) -> None:
    ledger_svc.sequence(ctx)
    info = ledger_svc.log_info(ctx)
    witness = MiniWitness(info.vkey, info.origin)
    witness.mode = mode
    witness_svc.add_witness(ctx, "https://evil.example/witness", witness.vkey, ADMIN)
    http = httpx.Client(transport=httpx.MockTransport(witness))
    report = witness_svc.submit(ctx, http=http)
    (result,) = report.results
    assert not result.ok and "refused" in result.message
    assert cosignature_rows(ctx) == 0
    assert "evil.example" not in ledger_svc.checkpoint_note(ctx)
    (peer,) = witness_svc.list_witnesses(ctx)
    assert peer.size == 0 and peer.last_error and "refused" in peer.last_error


def test_submission_retries_from_the_size_a_409_names(ctx: Context) -> None:
    ledger_svc.sequence(ctx)
    earlier = ledger_svc.latest_checkpoint(ctx)
    issue(ctx, 2, "later")
    ledger_svc.sequence(ctx)
    info = ledger_svc.log_info(ctx)
    # The witness already cosigned an earlier checkpoint (we forgot: our record says 0).
    witness = MiniWitness(info.vkey, info.origin, start=(earlier.size, earlier.root))
    witness_svc.add_witness(ctx, "https://w.example/witness/add-checkpoint", witness.vkey, ADMIN)
    http = httpx.Client(transport=httpx.MockTransport(witness))
    report = witness_svc.submit(ctx, http=http)
    assert report.cosigned == 1, report
    assert witness.olds == [0, earlier.size]  # the retry carried a consistency proof
    note = ledger_svc.checkpoint_note(ctx)
    (found,) = verify_cosignatures(
        note, [CosignatureVerifier(witness.name, witness.key.public_key())]
    )
    assert found.name == witness.name
    # A witness claiming a larger tree than ours: a fork or rollback, not retried.
    other = MiniWitness(info.vkey, info.origin, start=(10**6, b"\x00" * 32))
    witness_svc.add_witness(ctx, "https://w2.example/witness", other.vkey, ADMIN, name="w2")
    report = witness_svc.submit(ctx, http=httpx.Client(transport=httpx.MockTransport(other)))
    failed = [r for r in report.results if r.witness == "w2"]
    assert failed and not failed[0].ok and "rolled back" in failed[0].message


def test_unreachable_witness_does_not_stop_the_sequencer(ctx: Context) -> None:
    ledger_svc.sequence(ctx)
    info = ledger_svc.log_info(ctx)
    witness = MiniWitness(info.vkey, info.origin)
    witness_svc.add_witness(ctx, "https://down.example/witness", witness.vkey, ADMIN)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    issue(ctx, 1, "y")
    report = ledger_svc.sequence(ctx)
    result = witness_svc.after_sequence(
        ctx, report, http=httpx.Client(transport=httpx.MockTransport(down))
    )
    assert result is not None and result.cosigned == 0
    assert "unreachable" in result.results[0].message
    # The hook leaves a failing witness alone for a minute; a manual submit does not.
    issue(ctx, 1, "z")
    rested = witness_svc.after_sequence(ctx, ledger_svc.sequence(ctx))
    assert rested is not None and rested.results == []
    manual = witness_svc.submit(ctx, http=httpx.Client(transport=httpx.MockTransport(down)))
    assert len(manual.results) == 1
    # Nothing signed: no submission.
    assert witness_svc.after_sequence(ctx, ledger_svc.sequence(ctx)) is None


def test_configuration_is_validated_and_audited(ctx: Context) -> None:
    key = Ed25519PrivateKey.generate()
    vkey = cosignature_vkey("w.example/witness", key.public_key())
    peer = witness_svc.add_witness(ctx, "https://w.example/witness/", vkey, ADMIN)
    assert peer.url == "https://w.example/witness" and peer.name == "w.example/witness"
    with pytest.raises(AlreadyExists):
        witness_svc.add_witness(ctx, "https://w.example/witness", vkey, ADMIN)
    log_vkey = ledger_svc.ensure_log(ctx).vkey
    for url, k in [
        ("ftp://w.example", vkey),
        ("https://w.example/witness?x=1", vkey),
        ("https://w.example/witness", log_vkey),  # a log key is not a witness key
        ("https://w.example/witness", "garbage"),
    ]:
        with pytest.raises(InputError):
            witness_svc.add_witness(ctx, url, k, ADMIN, name="other")
    witness_svc.trust_log(ctx, "pki.gov.zz/ledger", log_vkey, ADMIN)
    witness_svc.trust_log(ctx, "pki.gov.zz/ledger", log_vkey, ADMIN)  # idempotent
    other = vkey_string("pki.gov.zz/ledger", Ed25519PrivateKey.generate().public_key())
    with pytest.raises(AlreadyExists):
        witness_svc.trust_log(ctx, "pki.gov.zz/ledger", other, ADMIN)
    with pytest.raises(InputError):
        witness_svc.trust_log(ctx, "pki.gov.zz/ledger", vkey, ADMIN)  # a witness key
    with ctx.db.read() as s:
        actions = set(s.execute(text("SELECT action FROM audit_event")).scalars())
    assert {"ledger.witness.add", "ledger.witness.trust-log", "ledger.witness.create"} <= actions


def test_admin_api(live_server: LiveServer, demo_token: str) -> None:
    headers = {"Authorization": f"Bearer {demo_token}"}
    base = f"{live_server.url}/api/v1/ledger/witnesses"
    key = httpx.get(f"{base}/key", headers=headers).json()
    assert parse_cosignature_vkey(key["key"]).name == key["name"]
    log_key = Ed25519PrivateKey.generate()
    r = httpx.post(
        f"{base}/logs",
        json={
            "origin": "pki.gov.zz/ledger",
            "key": vkey_string("pki.gov.zz/ledger", log_key.public_key()),
        },
        headers=headers,
    )
    assert r.status_code == 201 and r.json()["size"] == 0
    assert [t["origin"] for t in httpx.get(f"{base}/logs", headers=headers).json()] == [
        "pki.gov.zz/ledger"
    ]
    wkey = cosignature_vkey("w.example/witness", Ed25519PrivateKey.generate().public_key())
    r = httpx.post(base, json={"url": "https://w.example/witness", "key": wkey}, headers=headers)
    assert r.status_code == 201
    r = httpx.post(base, json={"url": "https://w.example/witness", "key": wkey}, headers=headers)
    assert r.status_code == 409
    r = httpx.post(base, json={"url": "https://w.example/witness", "key": "junk"}, headers=headers)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert [w["name"] for w in httpx.get(base, headers=headers).json()] == ["w.example/witness"]
    assert httpx.get(base).status_code == 401


@pytest.fixture
def demo_token(live_server: LiveServer, request: pytest.FixtureRequest) -> str:
    demo = request.getfixturevalue("demo")
    token: str = demo.admin_token
    return token
