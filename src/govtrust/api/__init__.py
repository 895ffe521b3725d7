"""HTTP: the REST API (``/api/v1``), protocol endpoints (CA certificates, CRL, OCSP) and
the landing page. Thin: parse, call a service, render."""

from __future__ import annotations

from govtrust.api.app import create_app, create_server

__all__ = ["create_app", "create_server"]
