"""The ledger's public read API over real HTTP (uvicorn): C2SP tlog-checkpoint and
tlog-tiles resources with their content types and cache headers, RFC 9162 proofs
checked with the independent verifier of test_ledger, search, and bad input answered
with 4xx problem+json."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import struct

import httpx
import pytest

from govtrust.config import LedgerSettings
from govtrust.services import ledger as ledger_svc
from tests.conftest import LiveServer
from tests.integration.test_ledger import (
    open_checkpoint_independently,
    rfc_leaf,
    rfc_verify_consistency,
    rfc_verify_inclusion,
)
from tests.integration.test_ledger_tamper import add_events


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 over leaf hashes, recursively."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def bundle(data: bytes) -> list[bytes]:
    """tlog-tiles entry bundle: big-endian uint16 length-prefixed entries."""
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from(">H", data, pos)
        out.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out


@pytest.fixture
def served(live_server: LiveServer) -> LiveServer:
    ctx = live_server.ctx
    ctx.settings = dataclasses.replace(
        ctx.settings, ledger=LedgerSettings(batch_max_size=150, batch_interval_seconds=1)
    )
    add_events(ctx, 600)
    ledger_svc.sequence(ctx)
    return live_server


def test_no_checkpoint_before_the_log_exists(live_server: LiveServer) -> None:
    r = httpx.get(live_server.url + "/ledger/checkpoint")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_checkpoint_tiles_and_root(served: LiveServer) -> None:
    base = served.url + "/ledger"
    vkey = ledger_svc.log_info(served.ctx).vkey
    r = httpx.get(base + "/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=1"
    origin, size, root = open_checkpoint_independently(r.text, vkey)
    assert origin == "pki.govtrust.org/ledger" and size > 600
    full, width = divmod(size, 256)
    leaves: list[bytes] = []
    for n in range(full):
        t = httpx.get(f"{base}/tile/0/{n:03d}")
        assert t.status_code == 200 and len(t.content) == 8192
        assert t.headers["content-type"] == "application/octet-stream"
        assert t.headers["cache-control"] == "public, max-age=31536000, immutable"
        e = httpx.get(f"{base}/tile/entries/{n:03d}", headers={"Accept-Encoding": "gzip"})
        assert e.headers["content-encoding"] == "gzip"
        entries = bundle(e.content)
        assert [rfc_leaf(x) for x in entries] == [t.content[i : i + 32] for i in range(0, 8192, 32)]
        leaves += [rfc_leaf(x) for x in entries]
    p = httpx.get(f"{base}/tile/0/{full:03d}.p/{width}")
    assert p.status_code == 200 and len(p.content) == 32 * width
    assert p.headers["cache-control"] == "public, max-age=60"
    pe = httpx.get(f"{base}/tile/entries/{full:03d}.p/{width}")
    leaves += [rfc_leaf(x) for x in bundle(pe.content)]
    assert [rfc_leaf(x) for x in bundle(pe.content)] == [
        p.content[i : i + 32] for i in range(0, len(p.content), 32)
    ]
    assert mth(leaves) == root
    # A narrower partial tile (an earlier checkpoint's) is a prefix; a wider one is absent.
    narrow = httpx.get(f"{base}/tile/0/{full:03d}.p/{width - 1}")
    assert narrow.content == p.content[: 32 * (width - 1)]
    assert httpx.get(f"{base}/tile/0/{full:03d}.p/{width + 1}").status_code == 404
    # Level 1: one hash per full level-0 tile.
    level1 = httpx.get(f"{base}/tile/1/000.p/{full}")
    assert level1.content == b"".join(mth(leaves[i * 256 : (i + 1) * 256]) for i in range(full))
    head = httpx.head(f"{base}/tile/0/000")
    assert head.status_code == 200 and head.headers["cache-control"].endswith("immutable")


def test_proofs_verify_independently(served: LiveServer) -> None:
    base = served.url + "/ledger"
    cps = [c for c in _checkpoint_sizes(served)]
    latest_size, latest_root = cps[-1]
    for index in (0, 1, 255, 256, latest_size - 1):
        r = httpx.get(f"{base}/proof/inclusion", params={"index": index})
        assert r.status_code == 200
        body = r.json()
        assert body["tree_size"] == latest_size and body["leaf_index"] == index
        path = [base64.b64decode(x) for x in body["inclusion_path"]]
        leaf = rfc_leaf(base64.b64decode(body["entry"]))
        assert rfc_verify_inclusion(index, latest_size, leaf, path, latest_root)
    # By artifact hash, at an earlier size.
    size, root = cps[2]
    digest = hashlib.sha256(b"e7").hexdigest()
    r = httpx.get(f"{base}/proof/inclusion", params={"sha256": digest, "size": size})
    body = r.json()
    path = [base64.b64decode(x) for x in body["inclusion_path"]]
    assert rfc_verify_inclusion(
        body["leaf_index"], size, rfc_leaf(base64.b64decode(body["entry"])), path, root
    )
    assert r.headers["cache-control"] == "public, max-age=60"
    for (s1, r1), (s2, r2) in itertools.pairwise(cps[1:]):
        c = httpx.get(f"{base}/proof/consistency", params={"from": s1, "to": s2}).json()
        path = [base64.b64decode(x) for x in c["consistency_path"]]
        assert rfc_verify_consistency(s1, s2, r1, r2, path)
    found = httpx.get(f"{base}/search", params={"sha256": digest}).json()["entries"]
    assert [e["object"]["id"] for e in found] == ["e7"]


def _checkpoint_sizes(served: LiveServer) -> list[tuple[int, bytes]]:
    from sqlalchemy import text

    with served.ctx.db.read() as s:
        rows = s.execute(text("SELECT size, root FROM ledger_checkpoint ORDER BY size")).all()
    return [(int(r.size), bytes(r.root)) for r in rows]


BAD = [
    ("/proof/inclusion", {}, 400),
    ("/proof/inclusion", {"index": "abc"}, 400),
    ("/proof/inclusion", {"index": "-1"}, 400),
    ("/proof/inclusion", {"index": "1e3"}, 400),
    ("/proof/inclusion", {"index": " 1"}, 400),
    ("/proof/inclusion", {"index": "9" * 40}, 400),
    ("/proof/inclusion", {"index": "\u0661"}, 400),  # an Arabic-Indic digit
    ("/proof/inclusion", {"index": "99999999"}, 404),
    ("/proof/inclusion", {"index": "0", "size": "0"}, 404),
    ("/proof/inclusion", {"index": "5", "size": "5"}, 404),
    ("/proof/inclusion", {"index": "0", "size": "99999999999"}, 404),
    ("/proof/inclusion", {"index": "0", "sha256": "00" * 32}, 400),
    ("/proof/inclusion", {"sha256": "zz"}, 400),
    ("/proof/inclusion", {"sha256": "ab" * 32}, 404),
    ("/proof/inclusion", {"sha256": "x" * 500}, 400),
    ("/proof/consistency", {}, 400),
    ("/proof/consistency", {"from": "0"}, 400),
    ("/proof/consistency", {"from": "abc"}, 400),
    ("/proof/consistency", {"from": "9", "to": "3"}, 400),
    ("/proof/consistency", {"from": "1", "to": "99999999"}, 404),
    ("/proof/consistency", {"from": "99999999"}, 400),
    ("/search", {}, 400),
    ("/search", {"serial": "zz"}, 400),
    ("/search", {"serial": "01", "sha256": "00" * 32}, 400),
    ("/search", {"sha256": "00" * 32, "limit": "0"}, 400),
    ("/search", {"subject": "   "}, 400),
    ("/tile/0/00", {}, 400),
    ("/tile/00/000", {}, 400),
    ("/tile/64/000", {}, 400),
    ("/tile/0/x000/001", {}, 400),
    ("/tile/0/000.p/0", {}, 400),
    ("/tile/0/000.p/256", {}, 400),
    ("/tile/0/000.p/007", {}, 400),
    ("/tile/entries/abc", {}, 400),
    ("/tile/0/999", {}, 404),
    ("/tile/3/000", {}, 404),
    ("/tile/entries/x001/000", {}, 404),
    ("/tile/0/002", {}, 404),  # the partial tile requested as full
    ("/tile/0/x018/x446/x744/x073/x709/x551/615", {}, 404),
]


def test_bad_input_is_a_clear_4xx(served: LiveServer) -> None:
    failures = []
    for path, params, status in BAD:
        r = httpx.get(served.url + "/ledger" + path, params=params)
        where = f"{path} {params}"
        if r.status_code != status:
            failures.append(f"{where}: {r.status_code} {r.text[:120]}")
        elif not r.headers["content-type"].startswith("application/problem+json"):
            failures.append(f"{where}: not problem+json")
        elif r.json()["status"] != status or not r.json()["detail"]:
            failures.append(f"{where}: not an RFC 9457 problem")
    assert failures == []
