"""The two-country demo of issue 5, through the HTTP endpoints.

Country AA (the ``demo`` data directory, served by ``live_server``) publishes its
trusted list; country BB (a second demo data directory with ``--country BB``, served by
a second real server) imports it over HTTP with AA's list signer pinned; a document
signed by an official of AA (CAdES B-LT, timestamped by AA's TSA) validates TOTAL-PASSED
in BB (``POST /verify``), naming AA's service. AA then withdraws that CA service and
republishes; BB refreshes: a signature made after the withdrawal is no longer
TOTAL-PASSED, the one made and timestamped before still passes.

BB validates offline (``[verify] fetch = false``): everything it needs is in the B-LT
signatures, and nothing goes to the demo's public host.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from govtrust.services import Actor, Context, trustlists
from govtrust.services.authorities import get_ca
from govtrust.services.setup import init_home
from govtrust.services.signing import Level, SignatureFormat, SigningOptions, sign_document
from tests.conftest import Demo, LiveServer, make_env, serve

ADMIN = Actor("test:trustlist-demo", "admin")


@pytest.fixture
def country_bb(tmp_path: Path, db_url: str, request: pytest.FixtureRequest) -> Iterator[Demo]:
    home = tmp_path / "bb"
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'bb.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            "bb_" + uuid.uuid4().hex[:12]
        )
    env = make_env(home, url)
    report = init_home(home, env, demo=True, country="BB")
    with (home / "govtrust.toml").open("a", encoding="utf-8") as f:
        f.write("\n[verify]\nfetch = false\n")
    yield Demo(home, env, report)


def _auth(demo: Demo) -> dict[str, str]:
    return {"Authorization": f"Bearer {demo.admin_token}"}


def _sign(ctx: Context, text: bytes) -> bytes:
    options = SigningOptions(format=SignatureFormat.CADES, level=Level.B_LT)
    result = sign_document(ctx, text, "letter.txt", "amina-haddad", ADMIN, options)
    return result.document.data


def _verify(url: str, data: bytes, signature: bytes) -> dict[str, Any]:
    r = httpx.post(
        f"{url}/verify",
        files={
            "file": ("letter.txt", data, "text/plain"),
            "detached": ("letter.txt.p7s", signature, "application/pkcs7-signature"),
        },
        # BB is offline ([verify] fetch = false): revocation is required and comes from
        # what the B-LT signature embeds.
        data={"revocation": "require"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


def _signature(report: dict[str, Any]) -> dict[str, Any]:
    sigs = [s for s in report["signatures"] if s["type"] == "signature"]
    assert len(sigs) == 1, report
    return sigs[0]


def test_two_countries_recognise_each_other(
    demo: Demo, live_server: LiveServer, country_bb: Demo
) -> None:
    a_ctx = live_server.ctx
    a_url = live_server.url
    signer_pem = trustlists.signer_certificate(a_ctx).public_bytes(Encoding.PEM).decode()
    people = get_ca(a_ctx, "people")

    # 1. AA publishes its list (sequence 1), served at /trustlist.xml.
    r = httpx.post(f"{a_url}/api/v1/trustlists/publish", headers=_auth(demo), timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["sequenceNumber"] == 1

    b_ctx = country_bb.open()
    try:
        with serve(b_ctx) as b_url:
            # 2. BB imports it over HTTP with AA's signer pinned.
            r = httpx.post(
                f"{b_url}/api/v1/trustlists/imports",
                json={"url": f"{a_url}/trustlist.xml", "signer_pem": signer_pem},
                headers=_auth(country_bb),
                timeout=60,
            )
            assert r.status_code == 200, r.text
            assert r.json()["territory"] == "AA"
            assert r.json()["services"] >= 4

            # 3. An official of AA signs; BB validates it TOTAL-PASSED naming AA's CA.
            before = b"Decision 1: signed before the withdrawal."
            sig_before = _sign(a_ctx, before)
            report = _verify(b_url, before, sig_before)
            sig = _signature(report)
            assert sig["indication"] == "TOTAL-PASSED", sig["message"]
            listed = sig["details"]["trustedList"]
            assert listed["country"] == "AA"
            assert listed["provider"] == "Government of AA"
            assert listed["service"] == people.subject
            assert listed["serviceType"] == "http://uri.etsi.org/TrstSvc/Svctype/CA/QC"
            assert listed["status"].endswith("/granted")
            assert listed["qualified"] is False  # the demo's certificates carry no QC statements

            # 4. AA withdraws the CA service and republishes (sequence 2).
            time.sleep(1.1)
            r = httpx.post(
                f"{a_url}/api/v1/trustlists/tsps/Government of AA/services/{people.subject}/status",
                json={"status": "withdrawn"},
                headers=_auth(demo),
                timeout=60,
            )
            assert r.status_code == 200, r.text
            r = httpx.post(f"{a_url}/api/v1/trustlists/publish", headers=_auth(demo), timeout=60)
            assert r.json()["sequenceNumber"] == 2
            time.sleep(1.1)
            after = b"Decision 2: signed after the withdrawal."
            sig_after = _sign(a_ctx, after)

            # 5. BB refreshes: it now holds AA's list #2.
            r = httpx.post(
                f"{b_url}/api/v1/trustlists/refresh",
                params={"force": "true"},
                headers=_auth(country_bb),
                timeout=60,
            )
            assert r.status_code == 200, r.text
            assert r.json() == [{"name": "AA", "ok": True, "sequenceNumber": 2}]

            # 6. The signature made after the withdrawal is not TOTAL-PASSED ...
            sig = _signature(_verify(b_url, after, sig_after))
            assert sig["indication"] != "TOTAL-PASSED"
            assert sig["subIndication"] == "NO_CERTIFICATE_CHAIN_FOUND"
            assert "withdrawn" in sig["message"]
            assert sig["details"]["trustedList"]["status"].endswith("/withdrawn")

            # ... the one made and timestamped before it still passes.
            sig = _signature(_verify(b_url, before, sig_before))
            assert sig["indication"] == "TOTAL-PASSED", sig["message"]
            assert sig["details"]["trustedList"]["status"].endswith("/granted")

            # The status shows both imports (history) and a fresh, verified list.
            r = httpx.get(f"{b_url}/api/v1/trustlists", headers=_auth(country_bb), timeout=30)
            (entry,) = r.json()["imported"]
            assert entry["sequenceNumber"] == 2 and entry["history"] == 2
            assert entry["fresh"] and entry["verified"] and entry["lastError"] is None
    finally:
        b_ctx.close()
