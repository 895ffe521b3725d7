"""What every portal page shares: templates (Jinja2, autoescaped, one environment per
language with its gettext catalog), the page decorator (language, operator session,
role check, CSRF check, HTML error pages), sessions and bounded form reading.

Sessions are cookies signed with itsdangerous (HMAC-SHA1 over a key kept in
``$GOVTRUST_HOME/secrets/portal-session-key``, created on first use), holding the
account id, the account's session epoch and the session's CSRF token; the account is
re-read on every request, so disabling it or logging out (which bumps the epoch) ends
its sessions at once. Cookies are ``HttpOnly``, ``SameSite=Strict`` and ``Secure``.
Keys for other purposes (the verdict page's report form) are derived from the same
secret (:func:`derive_key`, HKDF), never the session key itself.

CSRF (OWASP CSRF cheat sheet): every form carries a token; for an operator it is the
session's synchronizer token, for a visitor a random token also set as the
``gt_csrf`` cookie (double submit). A POST without the right token changes nothing
and is refused (400). ``SameSite=Strict`` cookies are a second line.

Uploads are read into memory only (never spooled to a temporary file: "nothing a
visitor uploads is stored") and refused as soon as they pass ``[portal]
max_upload_bytes``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import importlib.util
import logging
import os
import secrets
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from govtrust.errors import (
    AuthError,
    Conflict,
    Error,
    Forbidden,
    InputError,
    NotFound,
    PolicyViolation,
)
from govtrust.portal.i18n import (
    COOKIE,
    DIRECTION,
    LANGUAGES,
    N_,
    fmt_date,
    fmt_datetime,
    fmt_number,
    translations,
)
from govtrust.portal.settings import PortalSettings, portal_settings
from govtrust.portal.views import (
    EVENT_NAMES,
    LANGUAGE_NAMES,
    REVOCATION_REASONS,
    ROLE_NAMES,
    VERDICTS,
)
from govtrust.services import ROLES, Context
from govtrust.services.portal_users import PortalUser, get_user

__all__ = [
    "CSRF_COOKIE",
    "RANK",
    "SESSION_COOKIE",
    "STATIC",
    "Page",
    "TooLarge",
    "derive_key",
    "environment",
    "error_page",
    "file_bytes",
    "html_response",
    "login_session",
    "page_values",
    "pages",
    "read_form",
    "redirect",
    "render",
    "render_html",
    "route",
    "settings_of",
]

log = logging.getLogger("govtrust.portal")

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "gt_session"
CSRF_COOKIE = "gt_csrf"
_SALT = "govtrust-portal-session"

#: auditor < operator < admin: the PKI core's roles (services.context.ROLES lists
#: them from the most powerful), the same order as govtrust.api.auth.RANK.
RANK = {role: rank for rank, role in enumerate(reversed(ROLES))}


def get_context(request: Request) -> Context:
    ctx = request.app.state.ctx
    assert isinstance(ctx, Context)
    return ctx


#: The router included once per language (``/en``, ``/ar``) by ``govtrust.portal``.
pages = APIRouter(include_in_schema=False)

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# ---- settings, keys ----------------------------------------------------------------------


@functools.cache
def _settings_for(ctx_id: int, section: tuple[tuple[str, Any], ...]) -> PortalSettings:
    return portal_settings(dict(section))


def settings_of(ctx: Context) -> PortalSettings:
    section = ctx.settings.section("portal")
    return _settings_for(id(ctx), tuple(sorted(section.items())))


_KEYS: dict[Path, bytes] = {}


def _session_key(ctx: Context) -> bytes:
    """The cookie-signing key, created once per data directory (mode 0600)."""
    path = ctx.settings.home / "secrets" / "portal-session-key"
    key = _KEYS.get(path)
    if key is not None:
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    text = path.read_text().strip()
    if len(text) < 32:  # another process is writing it this instant
        import time

        time.sleep(0.05)
        text = path.read_text().strip()
    key = text.encode()
    _KEYS[path] = key
    return key


_DERIVED: dict[tuple[Path, bytes], bytes] = {}


def derive_key(ctx: Context, label: bytes) -> bytes:
    """A 32-byte key for one purpose (``label``), derived from the portal's secret with
    HKDF-SHA256 (RFC 5869 §2, no salt, ``label`` as the info): keys of different labels
    are independent, and none of them is the session key itself. Every node that
    shares ``secrets/portal-session-key`` derives the same keys."""
    path = ctx.settings.home / "secrets" / "portal-session-key"
    key = _DERIVED.get((path, label))
    if key is None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label)
        key = _DERIVED[(path, label)] = hkdf.derive(_session_key(ctx))
    return key


def _serializer(ctx: Context) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_session_key(ctx), salt=_SALT)


# ---- per-request state ---------------------------------------------------------------------


@dataclass
class Page:
    """What a handler knows about its request: language, operator, CSRF token."""

    request: Request
    ctx: Context
    lang: str
    settings: PortalSettings
    user: PortalUser | None = None
    csrf: str = ""
    cookies: dict[str, tuple[str, int | None]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"/{self.lang}"

    def gettext(self, message: str) -> str:
        return translations(self.lang).ugettext(message)


def _lang_of(request: Request) -> str:
    first = request.url.path.split("/")[1] if request.url.path.count("/") else ""
    return first if first in LANGUAGES else "en"


def _current_user(page: Page) -> tuple[PortalUser, str] | None:
    raw = page.request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(page.ctx).loads(raw, max_age=page.settings.session_hours * 3600)
        user_id, epoch, csrf = int(data["u"]), int(data["e"]), str(data["c"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    user = get_user(page.ctx, user_id)
    if user is None or user.disabled or user.session_epoch != epoch:
        return None
    return user, csrf


def login_session(page: Page, user: PortalUser) -> None:
    """Start a session for ``user`` (a new CSRF token too: no fixation)."""
    csrf = secrets.token_urlsafe(32)
    value = _serializer(page.ctx).dumps({"u": user.id, "e": user.session_epoch, "c": csrf})
    page.cookies[SESSION_COOKIE] = (value, page.settings.session_hours * 3600)
    page.user, page.csrf = user, csrf


def _set_cookies(page: Page, response: Response) -> None:
    for name, (value, max_age) in page.cookies.items():
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=page.settings.secure_cookies,
            httponly=True,
            samesite="strict",
        )
    if page.request.cookies.get(COOKIE) != page.lang:
        # The language of the page last seen is the one "/" chooses next time.
        response.set_cookie(
            COOKIE,
            page.lang,
            max_age=365 * 86400,
            path="/",
            secure=page.settings.secure_cookies,
            httponly=True,
            samesite="lax",
        )
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)


# ---- templates ----------------------------------------------------------------------------


def _when(value: Any) -> Any:
    """A datetime from a datetime or an ISO 8601 string (kept reports hold strings)."""
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _kept_gettext(gettext: Any) -> Any:
    """jinja2's new-style ``gettext`` (translate, mark safe, then %-format, even without
    variables), with the outcome of each message without variables kept: it depends on
    the message and the autoescape setting only, and a verdict page translates ~70 of
    them (Markup building and formatting was a quarter of its rendering)."""
    kept: dict[tuple[bool, str], Any] = {}

    @jinja2.pass_context
    def cached(context: jinja2.runtime.Context, string: str, **variables: Any) -> Any:
        if variables:
            return gettext(context, string, **variables)
        key = (bool(context.eval_ctx.autoescape), string)
        found = kept.get(key)
        if found is None:
            found = kept[key] = gettext(context, string)
        return found

    return cached


@functools.cache
def environment(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # The templates ship with the package: no stat() of each one on every render.
        auto_reload=False,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["gettext"] = _kept_gettext(env.globals["gettext"])
    env.filters["datetime"] = lambda v: fmt_datetime(_when(v), lang)
    env.filters["date"] = lambda v: fmt_date(_when(v), lang)
    env.filters["number"] = lambda v: fmt_number(v, lang)
    env.globals.update(
        lang=lang,
        dir=DIRECTION[lang],
        languages=LANGUAGES,
        static_version=_static_version(),
        RANK=RANK,
        language_names=LANGUAGE_NAMES,
        role_names=ROLE_NAMES,
        event_names=EVENT_NAMES,
        reason_names=REVOCATION_REASONS,
        verdict_labels={key: label for key, _icon, label in VERDICTS.values()},
        verdict_icons={key: icon for key, icon, _label in VERDICTS.values()},
        trustlists_available=importlib.util.find_spec("govtrust.services.trustlists") is not None,
    )
    return env


def page_values(page: Page, **values: Any) -> dict[str, Any]:
    """What every template receives besides its own ``values``, for ``page``. Plain
    values (no ``page`` object): a visitor's page may be rendered in a validation
    process (:mod:`govtrust.portal.pool`)."""
    values.setdefault("nav", None)
    rest = page.request.url.path[len(page.base) :] or ""
    if page.request.method != "GET":
        rest = values.pop("switch_path", rest)
    return {
        "user": page.user,
        "csrf": page.csrf,
        "rest": rest,
        "base": page.base,
        "instance": page.ctx.settings.instance_name,
        "max_upload": _size(page.settings.max_upload_bytes, page.lang),
        "report_days": page.settings.report_days,
        "now": page.ctx.clock.now(),
        **values,
    }


def render_html(lang: str, template: str, values: dict[str, Any]) -> str:
    """``template`` in ``lang`` with ``values`` (:func:`page_values`)."""
    return environment(lang).get_template(template).render(**values)


def html_response(page: Page, html: str, status: int = 200) -> HTMLResponse:
    """``html`` as the response to ``page``, with its cookies and headers."""
    response = HTMLResponse(html, status_code=status)
    _set_cookies(page, response)
    return response


def render(page: Page, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = render_html(page.lang, template, {"page": page, **page_values(page, **values)})
    return html_response(page, html, status)


def redirect(page: Page, url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    _set_cookies(page, response)
    return response


#: Error kinds: (HTTP status, title, what to do). Texts are translated in error.html.
ERRORS: dict[str, tuple[int, str, str]] = {
    "unsupported": (
        415,
        N_("This is not a document we can check"),
        N_(
            "Upload a signed PDF, a signed XML file, an ASiC container (.asice, .asics,"
            " .sce), a CMS signature (.p7m, .p7s), or a file together with its detached"
            " signature."
        ),
    ),
    "too-large": (
        413,
        N_("The file is too large"),
        N_("Files up to %(limit)s can be checked here. Ask the sender for a smaller file."),
    ),
    "encrypted": (
        422,
        N_("The document is encrypted"),
        N_(
            "An encrypted PDF cannot be checked. Ask the sender for a version without"
            " password protection."
        ),
    ),
    "corrupt": (
        422,
        N_("The file is damaged"),
        N_(
            "The file could not be read. Download it again from where you received it,"
            " or ask the sender for a new copy."
        ),
    ),
    "no-file": (
        400,
        N_("No file was chosen"),
        N_("Choose a file with the file button, then press the button to check it."),
    ),
    "csrf": (
        400,
        N_("This form has expired"),
        N_("Go back, reload the page and send the form again."),
    ),
    "report-expired": (
        400,
        N_("This report has expired"),
        N_(
            "The signed report can be downloaded for one hour after the verdict. Verify the"
            " document again, then download the report."
        ),
    ),
    "report-invalid": (
        400,
        N_("This report cannot be accepted"),
        N_(
            "The report or its check code was changed, so it is not the one this service"
            " gave. Verify the document again, then download the report."
        ),
    ),
    "unsealed": (
        503,
        N_("The report cannot be sealed at the moment"),
        N_(
            "The verdict you saw is still the result of the check. Try again in a few"
            " minutes: the download stays possible for one hour after the verdict."
        ),
    ),
    "forbidden": (
        403,
        N_("You are not allowed to do this"),
        N_("Your role does not allow this action. Ask an administrator if you need it."),
    ),
    "not-found": (
        404,
        N_("Not found"),
        N_("Check the address or the number you entered, then try again."),
    ),
    "invalid": (
        400,
        N_("The request could not be accepted"),
        N_("Correct the value described below and try again."),
    ),
    "conflict": (
        409,
        N_("This cannot be done now"),
        N_("The current state does not allow it, as described below."),
    ),
    "refused": (
        422,
        N_("The certificate profile refuses this request"),
        N_("Change the request so that it fits what the profile allows."),
    ),
    "locked": (
        429,
        N_("Too many failed logins"),
        N_("This account is locked for a few minutes. Try again later."),
    ),
    "failed": (
        500,
        N_("Something went wrong on our side"),
        N_("Nothing was changed. Try again in a minute; if it happens again, tell us."),
    ),
}


def error_page(page: Page, kind: str, detail: str | None = None, **params: str) -> HTMLResponse:
    status, title, advice = ERRORS[kind]
    return render(
        page,
        "error.html",
        status,
        kind=kind,
        title=title,
        advice=advice,
        detail=detail,
        params=params,
    )


def _error_kind(exc: Error) -> str:
    if isinstance(exc, NotFound):
        return "not-found"
    if isinstance(exc, AuthError | Forbidden):
        return "forbidden"
    if isinstance(exc, Conflict):
        return "conflict"
    if isinstance(exc, PolicyViolation):
        return "refused"
    if isinstance(exc, InputError):
        return "invalid"
    return "failed"


# ---- forms ---------------------------------------------------------------------------------


class TooLarge(Exception):
    """The request body passed the upload limit."""


class _InMemoryMultiPart(MultiPartParser):
    spool_max_size = 1 << 62  # never write a part to a temporary file


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise TooLarge()
        yield chunk


async def read_form(page: Page) -> FormData:
    """The form of a POST, read into memory; TooLarge past the upload limit (plus room
    for the other fields), InputError when it cannot be parsed."""
    request = page.request
    limit = page.settings.max_upload_bytes * 2 + 65536  # a file and its signature
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise TooLarge()
    ctype = request.headers.get("content-type", "")
    try:
        if ctype.startswith("multipart/form-data"):
            parser = _InMemoryMultiPart(
                request.headers,
                _limited(request, limit),
                max_files=4,
                max_fields=32,
                max_part_size=64 * 1024,
            )
            return await parser.parse()
        if ctype.startswith("application/x-www-form-urlencoded"):
            return await FormParser(request.headers, _limited(request, 1 << 20)).parse()
    except MultiPartException as exc:
        raise InputError(f"the form could not be read: {exc.message}") from None
    return FormData()


def file_bytes(page: Page, form: FormData, name: str) -> bytes | None:
    """The bytes of an uploaded file field (None when no file was chosen). The parts
    are in memory (``_InMemoryMultiPart``), so reading is not I/O."""
    item = form.get(name)
    if not isinstance(item, UploadFile):
        return None
    item.file.seek(0)
    data = item.file.read()
    if len(data) > page.settings.max_upload_bytes:
        raise TooLarge()
    if not data and not item.filename:
        return None
    return data


def _check_csrf(page: Page, form: FormData) -> bool:
    sent = form.get("csrf")
    return isinstance(sent, str) and bool(page.csrf) and hmac.compare_digest(sent, page.csrf)


# ---- the page decorator ---------------------------------------------------------------------

Handler = Callable[[Page], Response]
FormHandler = Callable[[Page, FormData], Response]


def _login_url(page: Page) -> str:
    return f"{page.base}/operator/login?next={quote(page.request.url.path)}"


def route(
    path: str, *, methods: tuple[str, ...] = ("GET",), role: str | None = None
) -> Callable[[Any], Any]:
    """Register a portal page for every language. ``role``: the minimum operator role
    (anonymous visitors are sent to the login page, lower roles get a 403 page).
    A POST handler receives the parsed form, after the CSRF check."""
    if role is not None and role not in RANK:
        raise KeyError(role)

    def decorator(fn: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            ctx = get_context(request)
            current = Page(request, ctx, _lang_of(request), settings_of(ctx))
            found = _current_user(current)
            if found is not None:
                current.user, current.csrf = found
            else:
                current.csrf = request.cookies.get(CSRF_COOKIE) or ""
                if len(current.csrf) < 32:
                    current.csrf = secrets.token_urlsafe(32)
                    current.cookies[CSRF_COOKIE] = (current.csrf, None)
            if role is not None:
                if current.user is None:
                    return redirect(current, _login_url(current))
                if RANK.get(current.user.role, -1) < RANK[role]:
                    return error_page(current, "forbidden")
            try:
                if request.method == "POST":
                    try:
                        form = await read_form(current)
                    except TooLarge:
                        return error_page(
                            current,
                            "too-large",
                            limit=_size(current.settings.max_upload_bytes, current.lang),
                        )
                    if not _check_csrf(current, form):
                        return error_page(current, "csrf")
                    # Handlers call the (blocking) services: off the event loop.
                    response: Response = await run_in_threadpool(fn, current, form)
                    return response
                response = await run_in_threadpool(fn, current)
                return response
            except TooLarge:
                return error_page(
                    current,
                    "too-large",
                    limit=_size(current.settings.max_upload_bytes, current.lang),
                )
            except Error as exc:
                kind = _error_kind(exc)
                if kind == "failed":
                    log.error("portal page %s failed: %s", request.url.path, exc)
                return error_page(current, kind, detail=str(exc))

        endpoint.__name__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        endpoint.portal_role = role  # type: ignore[attr-defined]
        pages.add_api_route(
            path, endpoint, methods=list(methods), include_in_schema=False, name=None
        )
        return fn

    return decorator


def _size(value: int, lang: str) -> str:
    return f"{fmt_number(round(value / (1024 * 1024), 1), lang)} MB"
