"""The TSA's throughput work (services/tsa.py, tsa/request.py, store/engine.py), on
SQLite and PostgreSQL: concurrent requests over HTTP are all granted and all durable
with their audit records, serial numbers are unique and increase with genTime, a
failing token in a group does not cost the others their records, a process killed
mid-batch leaves no token without its audit record, and the fast TimeStampReq reader
agrees with asn1crypto."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from asn1crypto import algos, core, tsp
from sqlalchemy import select

from govtrust.errors import TimestampRejected
from govtrust.services import Actor, Context
from govtrust.services.tsa import MEDIA_QUERY, TsaService, _Job
from govtrust.store import AuditEventRow, TsaTokenRow
from govtrust.tsa import TimestampQuery, build_query, check_reply, parse_query
from govtrust.tsa.request import _NotFast, _parse_asn1crypto, _parse_fast
from tests.conftest import Demo, LiveServer

ACTOR = Actor("perf-test", "admin")


def _rows(ctx: Context) -> tuple[dict[int, dt.datetime], dict[str, str]]:
    """(serial -> genTime of every tsa_token row, object_id -> sha256 of every
    tsa.stamp audit record), read through a new session."""
    with ctx.db.read() as session:
        tokens = {r.serial: r.gen_time for r in session.scalars(select(TsaTokenRow))}
        audits = {
            r.object_id: r.object_sha256
            for r in session.scalars(
                select(AuditEventRow).where(AuditEventRow.action == "tsa.stamp")
            )
        }
    return tokens, audits


def test_concurrent_http_requests_are_all_granted_and_durable(live_server: LiveServer) -> None:
    documents = [f"document {i}".encode() for i in range(48)]
    queries = [build_query(d, "sha256", cert_req=True) for d in documents]

    def post(i: int) -> tuple[int, bytes]:
        with httpx.Client(timeout=60) as http:
            r = http.post(
                f"{live_server.url}/tsa",
                content=queries[i][0],
                headers={"Content-Type": MEDIA_QUERY},
            )
        assert r.status_code == 200
        return i, r.content

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(post, range(len(queries))))
    replies = {i: check_reply(body, queries[i][1]) for i, body in answers}  # all granted
    tokens, audits = _rows(live_server.ctx)
    serials = [r.serial for r in replies.values()]
    assert len(set(serials)) == len(serials)
    for reply in replies.values():
        # The token's row and its audit record were committed before the reply.
        assert tokens[reply.serial] == reply.gen_time
        assert audits[str(reply.serial)] == hashlib.sha256(reply.token).hexdigest()
    # Serial numbers increase with genTime (RFC 3161 §2.4.2 unique; monotonic here).
    by_serial = sorted(replies.values(), key=lambda r: r.serial)
    assert all(a.gen_time <= b.gen_time for a, b in itertools.pairwise(by_serial))


def test_a_failing_token_does_not_lose_the_others(ctx: Context) -> None:
    svc = TsaService(ctx)
    good = [parse_query(build_query(f"doc {i}".encode())[0]) for i in range(12)]
    # Not a hash govtrust can encode: issuing this token fails inside the batch.
    bad = TimestampQuery("no-such-hash", b"\x00" * 32)
    jobs = [_Job(q, ACTOR) for q in good[:6]] + [_Job(bad, ACTOR)]
    jobs += [_Job(q, ACTOR) for q in good[6:]]
    futures = [svc.writer.submit(job) for job in jobs]
    outcomes: list[bytes | None] = []
    for future in futures:
        try:
            outcomes.append(future.result(timeout=120))
        except Exception:
            outcomes.append(None)
    assert outcomes[6] is None
    issued = [o for o in outcomes if o is not None]
    assert len(issued) == 12
    tokens, audits = _rows(ctx)
    serials: list[int] = []
    for der in issued:
        info = _tst_info(der)
        serials.append(int(str(info["serial_number"])))
        assert str(info["serial_number"]) in audits
        assert audits[str(info["serial_number"])] == hashlib.sha256(der).hexdigest()
    # One writer thread takes the queue in order: serials follow submission.
    assert serials == sorted(serials) and len(set(serials)) == 12
    assert set(tokens) == set(serials)
    assert set(audits) == {str(s) for s in serials}


def _tst_info(token: bytes) -> dict[str, object]:
    info = tsp.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    return dict(info.native)


_KILLED_WORKER = """
import os, sys
from concurrent.futures import wait
from govtrust.config import load_settings
from govtrust.services import Actor, Context
from govtrust.services.tsa import TsaService, _Job
from govtrust.tsa import build_query, parse_query

ctx = Context.open(load_settings(os.environ), migrate=False)
svc = TsaService(ctx)
svc.current()
actor = Actor("killed", "admin")
round = 0
while True:
    futures = [
        svc.writer.submit(_Job(parse_query(build_query(f"{round}-{i}".encode())[0]), actor))
        for i in range(64)
    ]
    wait(futures)
    print(round, flush=True)
    round += 1
"""


def test_a_process_killed_mid_batch_leaves_no_half_written_token(demo: Demo) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WORKER],
        env={**os.environ, **demo.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for _ in range(3):  # a few batches committed: the next one is under way
            assert proc.stdout.readline(), proc.stderr.read() if proc.stderr else ""
        time.sleep(random.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(60)
    ctx = demo.open()
    try:
        tokens, audits = _rows(ctx)
        assert len(tokens) >= 3 * 64
        # Every token row has its audit record and every record its token row.
        assert {str(s) for s in tokens} == set(audits)
        # The TSA goes on after the crash with a new, higher serial.
        query_der, query = build_query(b"after")
        reply = check_reply(TsaService(ctx).respond(query_der), query)
        assert reply.serial > max(tokens)
    finally:
        ctx.close()


# ---- the fast TimeStampReq reader --------------------------------------------------------


def _request(
    hash_name: str = "sha256",
    *,
    nonce: int | None = None,
    cert_req: bool | None = None,
    policy: str | None = None,
    params: bool = True,
    extensions: bool = False,
) -> bytes:
    algorithm: dict[str, object] = {"algorithm": hash_name}
    if params:
        algorithm["parameters"] = core.Null()
    size = {"sha256": 32, "sha384": 48, "sha512": 64, "sha1": 20, "md5": 16}[hash_name]
    value: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm(algorithm),
            "hashed_message": os.urandom(size),
        },
    }
    if policy is not None:
        value["req_policy"] = policy
    if nonce is not None:
        value["nonce"] = nonce
    if cert_req is not None:
        value["cert_req"] = cert_req
    if extensions:
        value["extensions"] = [{"extn_id": "1.2.3.4", "extn_value": b"\x04\x00"}]
    return bytes(tsp.TimeStampReq(value).dump())


def _outcome(parse: object, der: bytes) -> object:
    try:
        return parse(der)  # type: ignore[operator]
    except TimestampRejected as exc:
        return ("rejected", exc.fail_info)
    except _NotFast:
        return "not fast"


def _samples() -> list[bytes]:
    out = [
        build_query(b"x", h, cert_req=c)[0]
        for h in ("sha256", "sha384", "sha512")
        for c in (True, False)
    ]
    for nonce in (0, 1, 127, 128, 255, 256, -1, -128, -129, 2**64, -(2**70)):
        out.append(_request(nonce=nonce, cert_req=True))
    for policy in ("1.2.3", "2.999.1", "1.3.6.1.4.1.58995.1.1", "0.39.127.128.16383.16384"):
        out.append(_request(policy=policy, nonce=5))
    out += [
        _request(params=False),
        _request("sha1"),
        _request("md5"),
        _request(cert_req=False),
        _request(extensions=True),
        _request("sha512", nonce=2**200, cert_req=True, policy="1.2.840.1"),
    ]
    return out


def test_fast_reader_reads_what_asn1crypto_reads() -> None:
    fast_count = 0
    for der in _samples():
        slow = _outcome(_parse_asn1crypto, der)
        fast = _outcome(_parse_fast, der)
        if fast != "not fast":
            fast_count += 1
            assert fast == slow, der.hex()
        assert _outcome(parse_query, der) == slow
    assert fast_count >= 20  # the usual shapes take the fast path


@pytest.mark.parametrize("seed", range(4))
def test_fast_reader_never_accepts_what_asn1crypto_refuses(seed: int) -> None:
    rng = random.Random(seed)
    samples = _samples()
    for _ in range(2500):
        der = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 3)):
            action = rng.random()
            if action < 0.6 and der:
                der[rng.randrange(len(der))] = rng.randrange(256)
            elif action < 0.8 and der:
                del der[rng.randrange(len(der)) :]
            else:
                der.insert(rng.randrange(len(der) + 1), rng.randrange(256))
        data = bytes(der)
        if not data:
            continue
        fast = _outcome(_parse_fast, data)
        slow = _outcome(_parse_asn1crypto, data)
        if fast != "not fast":
            assert fast == slow, data.hex()
        assert _outcome(parse_query, data) == slow, data.hex()


_BATCHING_WORKER = """
import os, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from govtrust.config import load_settings
from govtrust.services import Context
from govtrust.services.tsa import TsaService
from govtrust.tsa import build_query, check_reply

ctx = Context.open(load_settings(os.environ), migrate=False)
svc = TsaService(ctx)
svc.current()
queries = [build_query(f"{os.getpid()}-{i}".encode()) for i in range(int(sys.argv[1]))]
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
with ThreadPoolExecutor(8) as pool:
    replies = list(pool.map(lambda q: check_reply(svc.respond(q[0]), q[1]), queries))
for r in replies:
    print(r.serial, flush=True)
"""


def test_serials_follow_gen_time_across_processes(demo: Demo, tmp_path: Path) -> None:
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _BATCHING_WORKER, "40", str(go)],
            env={**os.environ, **demo.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    time.sleep(1.0)
    go.touch()
    answered: list[int] = []
    for w in workers:
        stdout, stderr = w.communicate(timeout=300)
        assert w.returncode == 0, stderr
        answered += [int(line) for line in stdout.split()]
    assert len(answered) == len(set(answered)) == 120
    ctx = demo.open()
    try:
        tokens, audits = _rows(ctx)
    finally:
        ctx.close()
    assert set(answered) <= set(tokens)
    assert {str(s) for s in tokens} == set(audits)
    # Across the processes of a node, a larger serial never has an earlier genTime.
    ordered = [tokens[s] for s in sorted(tokens)]
    assert all(a <= b for a, b in itertools.pairwise(ordered))
