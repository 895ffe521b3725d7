"""The verify page with ``[portal] verify_processes``: validations run in spawned
processes of the same data directory and database, with the same pages for good and
bad input, and a validation process that dies costs at most one page, never the web
worker. Real processes, real validations; nothing is mocked."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from govtrust.api import create_app
from govtrust.errors import ConfigError
from govtrust.portal.pool import pool_for
from govtrust.portal.settings import portal_settings
from govtrust.services import Context
from tests.conftest import Demo
from tests.e2e.support import csrf_of, sign_pdf, tamper, write_portal_config


@pytest.fixture
def pooled(demo: Demo) -> Iterator[tuple[Context, TestClient]]:
    write_portal_config(demo.home, "verify_processes = 1")
    ctx = demo.open()
    try:
        with TestClient(create_app(ctx, scheduler=False), base_url="https://testserver") as c:
            yield ctx, c
    finally:
        ctx.close()


def _verify(client: TestClient, data: bytes, name: str = "doc.pdf"):  # type: ignore[no-untyped-def]
    form = client.get("/en/verify")
    return client.post(
        "/en/verify",
        data={"csrf": csrf_of(form)},
        files={"document": (name, data, "application/octet-stream")},
    )


def _pids(ctx: Context, at_least: int = 1, wait: float = 60.0) -> list[int]:
    deadline = time.monotonic() + wait
    while True:
        pids = pool_for(ctx.settings, 1).pids()
        if len(pids) >= at_least or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


def test_documents_are_validated_in_the_pool(pooled: tuple[Context, TestClient]) -> None:
    ctx, client = pooled
    signed = sign_pdf(ctx)
    r = _verify(client, signed)
    assert r.status_code == 200
    assert 'class="verdict valid"' in r.text
    pids = _pids(ctx)
    assert pids and os.getpid() not in pids
    # The same verdicts as in the web worker, for altered and unsupported input.
    altered = _verify(client, tamper(signed))
    assert altered.status_code == 200 and 'class="verdict invalid"' in altered.text
    text = _verify(client, b"just some text, no signature at all", "notes.txt")
    assert text.status_code == 415
    assert "This is not a document we can check" in text.text


_FORM = re.compile(r'<form method="post" action="/(en|ar)/verify/report\.json".*?</form>', re.S)
_FIELD = re.compile(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">')


@pytest.mark.parametrize(("lang", "direction"), [("en", "ltr"), ("ar", "rtl")])
def test_the_pool_renders_the_visitors_page(
    pooled: tuple[Context, TestClient], lang: str, direction: str
) -> None:
    """The verdict page made by a validation process: the page the web worker would
    make (language, signer, time-stamp, the signed-report form whose MAC the web
    worker accepts), and the download seals the report it carries."""
    ctx, client = pooled
    form = client.get(f"/{lang}/verify")
    r = client.post(
        f"/{lang}/verify",
        data={"csrf": csrf_of(form)},
        files={"document": ("doc.pdf", sign_pdf(ctx), "application/pdf")},
    )
    assert r.status_code == 200
    html = r.text
    assert f'dir="{direction}"' in html and 'class="verdict valid"' in html
    assert "Ministry of Finance" in html
    assert f'href="/{"ar" if lang == "en" else "en"}/verify"' in html  # language switch
    found = _FORM.search(html)
    assert found and found.group(1) == lang
    fields = dict(_FIELD.findall(found.group(0)))
    assert set(fields) == {"csrf", "report", "issued", "mac"}
    download = client.post(f"/{lang}/verify/report.json", data=fields)
    assert download.status_code == 200
    sealed = download.json()
    assert sealed["indication"] == "TOTAL-PASSED" and "seal" in sealed


def test_a_dying_process_costs_one_page_at_most(pooled: tuple[Context, TestClient]) -> None:
    ctx, client = pooled
    signed = sign_pdf(ctx)
    assert 'class="verdict valid"' in _verify(client, signed).text
    (first,) = _pids(ctx)
    os.kill(first, signal.SIGKILL)
    pages = [_verify(client, signed) for _ in range(3)]
    failed = [p for p in pages if 'class="verdict valid"' not in p.text]
    assert len(failed) <= 1
    for page in failed:  # the visitor's page, not a server error
        assert page.status_code == 422
        assert "could not be processed" in page.text
    assert 'class="verdict valid"' in pages[-1].text
    assert first not in _pids(ctx)


@pytest.mark.parametrize("value", [-1, 65, True, "2"])
def test_verify_processes_is_checked(value: object) -> None:
    with pytest.raises(ConfigError, match="verify_processes"):
        portal_settings({"verify_processes": value})
    assert portal_settings({"verify_processes": 2}).verify_processes == 2
    assert portal_settings({}).verify_processes == 0
