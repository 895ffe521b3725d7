"""Screenshots of the portal's main pages in English and Arabic, for docs/screenshots/.

Initialises a demo instance in a temporary directory, serves it on loopback, and
photographs each page with headless Chromium (the Debian package, through Playwright):

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from govtrust.config import load_settings  # noqa: E402
from govtrust.services import Context, certificates, ledger  # noqa: E402
from govtrust.services.setup import init_home  # noqa: E402
from tests.conftest import make_env, serve  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.support import make_accounts, sign_pdf  # noqa: E402

PAGES = [
    ("home", ""),
    ("verify", "/verify"),
    ("check", "/certificates/check"),
    ("cas", "/cas"),
    ("ledger", "/ledger?serial={serial}"),
    ("trustlists", "/trustlists"),
]


def shot(page: Page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portal-shots-") as tmp:
        home = Path(tmp) / "home"
        env = make_env(home, f"sqlite:///{Path(tmp) / 'govtrust.db'}")
        env["GOVTRUST_KEY_PASSPHRASE"] = secrets.token_urlsafe(24)
        init_home(home, env, demo=True)
        ctx = Context.open(load_settings(env))
        try:
            accounts = make_accounts(ctx)
            document = sign_pdf(ctx)
            ledger.sequence(ctx)
            serial = certificates.list_certificates(ctx, profile="seal")[0].serial
            with serve(ctx) as url, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for lang in ("en", "ar"):
                    page = browser.new_page(viewport={"width": 1100, "height": 900})
                    for name, path in PAGES:
                        page.goto(f"{url}/{lang}{path.format(serial=serial)}")
                        page.screenshot(path=str(args.out / f"{name}-{lang}.png"), full_page=True)
                    page.goto(f"{url}/{lang}/verify")
                    page.locator("#document").set_input_files(
                        {
                            "name": "residence.pdf",
                            "mimeType": "application/pdf",
                            "buffer": document,
                        }
                    )
                    page.locator("form.panel button[type=submit]").click()
                    page.wait_for_selector(".verdict")
                    shot(page, args.out / f"verdict-{lang}.png")
                    page.goto(f"{url}/{lang}/operator/login")
                    page.locator("#username").fill("test-operator")
                    page.locator("#password").fill(accounts.passwords["operator"])
                    page.locator("form.panel button[type=submit]").click()
                    page.wait_for_url(f"**/{lang}/operator")
                    page.screenshot(path=str(args.out / f"dashboard-{lang}.png"), full_page=True)
                    page.goto(f"{url}/{lang}/operator/issue?profile=seal")
                    shot(page, args.out / f"issue-{lang}.png")
                    page.close()
                browser.close()
        finally:
            ctx.close()
    print(f"screenshots written to {args.out}")


if __name__ == "__main__":
    main()
