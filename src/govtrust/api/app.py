"""The ASGI application: ``create_app()`` is the factory uvicorn calls in each worker."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp

from govtrust import __version__, portal
from govtrust.api import credentials as credentials_api
from govtrust.api import landing, ledger, problems, protocol, v1
from govtrust.api import signing as signing_api
from govtrust.api import trustlist as trustlist_api
from govtrust.api import tsa as tsa_api
from govtrust.api import verify as verify_api
from govtrust.api import witness as witness_api
from govtrust.api.ocsp_fast import OcspFastPath
from govtrust.api.scheduler import Scheduler
from govtrust.config import load_settings
from govtrust.portal.pool import close_pools, pool_for
from govtrust.portal.web import settings_of
from govtrust.services import Context
from govtrust.services.revocation import OcspService

__all__ = ["DOCS_STATIC", "create_app", "create_server"]

DOCS_STATIC = "/docs-static"
"""Where Swagger UI's script and stylesheet are served (fastapi-offline's files)."""


def create_server(ctx: Context | None = None, *, scheduler: bool = True) -> ASGIApp:
    """What ``govtrust serve`` runs in each worker: :func:`create_app` behind the OCSP
    and TSA hot path (:class:`OcspFastPath`), which then sits *outside* FastAPI's own
    middleware (error pages, telemetry, body limits). Those cost ~0.1 ms of CPU per
    request, a third of an OCSP answer (bench/README.md); every request the hot path
    does not answer still passes through all of them."""
    app = create_app(ctx, scheduler=scheduler, fast_path=False)
    return OcspFastPath(app, service=app.state.ocsp, state=app.state)


def create_app(
    ctx: Context | None = None, *, scheduler: bool = True, fast_path: bool = True
) -> FastAPI:
    """Build the app around ``ctx`` (tests pass one), or from GOVTRUST_HOME.
    ``fast_path=False`` leaves :class:`OcspFastPath` to the caller
    (:func:`create_server` puts it in front of the whole application)."""
    context = ctx or Context.open(load_settings(os.environ))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner = Scheduler(context) if scheduler else None
        if runner is not None:
            runner.start()
        processes = settings_of(context).verify_processes
        if processes:  # the verify page's validation processes, started now
            pool_for(context.settings, processes).start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            close_pools()
            if ctx is None:
                context.close()

    # The API documentation (/docs) with Swagger UI served from this server
    # (fastapi-offline bundles it): FastAPI's default page loads it from a CDN, which
    # an isolated government network cannot reach and which would learn of every
    # visitor. No ReDoc page: its bundle fetches its logo from redoc.ly.
    app = FastAPIOffline(
        redoc_url=None,
        title="govtrust",
        version=__version__,
        description="Trust services for digital government. Protocol endpoints are public; "
        "/api/v1 needs a Bearer API token (roles: admin, operator, auditor).",
        lifespan=lifespan,
        static_url=DOCS_STATIC,
        favicon_url=portal.STATIC_PREFIX + "/favicon.svg",
    )
    app.state.ctx = context
    app.state.ocsp = OcspService(context)
    if fast_path:
        app.add_middleware(OcspFastPath, service=app.state.ocsp, state=app.state)
    problems.install(app)
    app.include_router(protocol.router)
    app.include_router(v1.router)
    app.include_router(tsa_api.router)
    app.include_router(credentials_api.router)
    app.include_router(signing_api.router)
    app.include_router(ledger.router)
    app.include_router(witness_api.router)
    app.include_router(verify_api.router)
    app.include_router(trustlist_api.router)
    app.include_router(landing.router)
    app.include_router(portal.router)
    return app
