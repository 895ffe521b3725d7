"""The landing page: what this service is, its CAs, and where to download them."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from govtrust.api.auth import get_context
from govtrust.services import authorities

__all__ = ["router"]

router = APIRouter()

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — govtrust</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;line-height:1.5}}
table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.4rem;
border-bottom:1px solid #ccc;vertical-align:top}}a{{color:#0b4f9c}}code{{font-size:.9em}}
</style></head>
<body><main>
<h1>{title}</h1>
<p>Trust services of this government: certification authorities, revocation status
(CRL and OCSP at <code>{base}/ocsp</code>) and an API for agencies
(<a href="/docs">OpenAPI documentation</a>).</p>
<h2>Certification authorities</h2>
<table><thead><tr><th scope="col">CA</th><th scope="col">Subject</th>
<th scope="col">Valid until</th><th scope="col">Downloads</th></tr></thead>
<tbody>{rows}</tbody></table>
</main></body></html>"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def landing(request: Request) -> HTMLResponse:
    ctx = get_context(request)
    rows = []
    for ca in authorities.list_cas(ctx):
        n = escape(ca.name)
        rows.append(
            f"<tr><td>{n}</td><td>{escape(ca.subject)}</td>"
            f"<td>{ca.not_after.date().isoformat()}</td>"
            f'<td><a href="/ca/{n}.crt">certificate (DER)</a> · '
            f'<a href="/ca/{n}.pem">PEM</a> · <a href="/crl/{n}.crl">CRL</a></td></tr>'
        )
    html = _PAGE.format(
        title=escape(ctx.settings.instance_name),
        base=escape(ctx.settings.public_base_url),
        rows="".join(rows) or '<tr><td colspan="4">No CA yet.</td></tr>',
    )
    return HTMLResponse(html, headers={"Cache-Control": "public, max-age=60"})
