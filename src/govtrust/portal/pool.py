"""The verify page's validations in a pool of processes (``[portal] verify_processes``).

A uvicorn worker is one process and so, with Python's global interpreter lock, one
core. Its connections stay with it (HTTP keep-alive), and when many connections open
at once one worker may accept all of them: every visitor behind them then queues on
one core while another core idles, and a reverse proxy or an integrator's connection
pool does exactly that. Validating a document is ~90 % of the verify page's CPU. With
``verify_processes = N``, each web worker sends that part to a pool of N processes
(spawned, never forked from a threaded server), so it spreads over every core whatever
the connections; the web worker keeps the HTTP, the form and the page.

It also confines the parsers: a document that kills its process (a parser fault,
memory exhausted) costs that process, not the web worker; the visitor gets the
"cannot be read" page and the pool is started again at the next upload.

Each process opens its own :class:`~govtrust.services.Context` on the same data
directory, so what it validates against (CAs, OCSP answers, trusted lists) is the
instance's, as in the web worker. ``verify_processes = 0`` (the default) validates in
the web worker itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from govtrust.config import Settings
from govtrust.errors import DocumentTooLarge, InputError, UnsupportedDocument
from govtrust.validation.indications import SubIndication

__all__ = ["Verified", "VerifyPool", "close_pools", "pool_for", "verified"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verified:
    """What the verify page needs of a validation: the report as JSON
    (``Report.to_dict()``), its sub-indication and message, and whether any signature
    named a signer (a FORMAT_FAILURE without one is a damaged file). ``html``: the
    verdict page, when the validation process rendered it (then ``payload`` is left
    empty: the page is all the web worker sends back)."""

    payload: dict[str, Any]
    sub_indication: SubIndication | None
    message: str
    has_signer: bool
    html: str | None = None


def verified(report: Any) -> Verified:
    """:class:`Verified` of a :class:`~govtrust.validation.report.Report`."""
    return Verified(
        payload=report.to_dict(),
        sub_indication=report.sub_indication,
        message=report.message,
        has_signer=any(s.signer for s in report.signatures),
    )


# ---- in the pool's processes ---------------------------------------------------------

_context: Any = None


def _start(environ: dict[str, str]) -> None:
    """Each process's initializer: its own Context, from the environment the web
    worker's settings were read from (data directory, database, key passphrase: the
    instance's OCSP responder may sign a fresh answer during a validation)."""
    global _context
    from govtrust.config import load_settings
    from govtrust.services import Context

    _context = Context.open(load_settings(environ))
    import govtrust.services.verify  # noqa: F401 - imported now, not at the first upload
    from govtrust.validation import _loop

    _loop.run_inline()  # no thread: this process runs one validation at a time


def _ready() -> int:
    """A no-op that occupies a process for a moment (:meth:`VerifyPool.start`)."""
    time.sleep(0.2)
    return os.getpid()


def _validate(
    data: bytes,
    name: str | None,
    detached: bytes | None,
    page: tuple[str, dict[str, Any]] | None,
) -> tuple[str, Any]:
    """One validation, its outcome as plain data: ``("ok", Verified)`` or the error
    the web worker raises again (exceptions with their own constructors do not
    always cross a process boundary intact). With ``page`` (the language and the
    template values of a visitor's verdict page), the page is rendered here."""
    from govtrust.services import verify

    try:
        report = verify.verify_document(_context, data, name=name, detached=detached)
    except DocumentTooLarge as exc:
        return "too-large", (exc.limit, str(exc))
    except UnsupportedDocument as exc:
        return "unsupported", str(exc)
    except InputError as exc:
        return "input", str(exc)
    result = verified(report)
    if page is None or (
        result.sub_indication is SubIndication.FORMAT_FAILURE and not result.has_signer
    ):
        return "ok", result
    from govtrust.portal.report_form import verdict_page

    lang, values = page
    return "ok", replace(
        result, payload={}, html=verdict_page(_context, result.payload, lang, values)
    )


# ---- in the web worker -----------------------------------------------------------------


class VerifyPool:
    """``processes`` spawned processes validating documents of the data directory
    ``home``, each with a Context read from ``environ`` (the environment the web
    worker's settings came from: database, key passphrase). Started by :meth:`start`
    or at the first validation; a pool whose process died is replaced at the next
    one."""

    def __init__(self, environ: dict[str, str], home: Path, processes: int) -> None:
        self._environ = {**environ, "GOVTRUST_HOME": str(home)}
        self._processes = processes
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self._processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start,
                    initargs=(self._environ,),
                )
            return self._executor

    def start(self) -> None:
        """Start every process now, in the background: the pool otherwise starts one
        at a time as uploads find none idle, each taking a second or two to import
        the validation code and open its Context."""
        pool = self._pool()
        threading.Thread(
            target=lambda: [
                f.result() for f in [pool.submit(_ready) for _ in range(self._processes)]
            ],
            name="govtrust-verify-pool-start",
            daemon=True,
        ).start()

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def verify(
        self,
        data: bytes,
        name: str | None,
        detached: bytes | None,
        page: tuple[str, dict[str, Any]] | None = None,
    ) -> Verified:
        """Validate in the pool and wait (from a thread of the web worker's thread
        pool); with ``page`` (language, template values), render the verdict page
        there too. Raises what ``verify_document`` raises for bad input, and
        :class:`InputError` when the document's process died."""
        pool = self._pool()
        try:
            kind, value = pool.submit(_validate, data, name, detached, page).result()
        except BrokenProcessPool:
            log.error("a validation process died; the pool is started again")
            self._discard(pool)
            raise InputError("the document could not be processed") from None
        if kind == "ok":
            assert isinstance(value, Verified)
            return value
        if kind == "too-large":
            raise DocumentTooLarge(*value)
        if kind == "unsupported":
            raise UnsupportedDocument(value)
        raise InputError(value)

    def pids(self) -> list[int]:
        """The process ids of the pool's running processes, read from the executor's
        process table (CPython's ``ProcessPoolExecutor._processes``; the tests use it
        to find and kill a validation process)."""
        with self._lock:
            executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(pid for pid, p in dict(processes).items() if p.is_alive())

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_POOLS: dict[tuple[str, str, int], VerifyPool] = {}
_POOLS_LOCK = threading.Lock()


def pool_for(settings: Settings, processes: int) -> VerifyPool:
    """This process's pool for the data directory and database of ``settings`` (one
    per directory, database and size: a web worker serves one)."""
    key = (str(settings.home), settings.database_url, processes)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = VerifyPool(dict(settings.environ), settings.home, processes)
        return pool


def close_pools() -> None:
    """Stop every pool of this process (the application's shutdown)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()
