"""Background refresh inside ``govtrust serve``: pre-sign OCSP responses before they
expire, renew responder certificates, regenerate due CRLs.

With several workers (or several processes sharing one data directory) only the holder
of an exclusive file lock runs it; on PostgreSQL clusters each node's refresh is safe to
run concurrently, since upserts and CRL numbering are transactional.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from pathlib import Path
from typing import IO

from govtrust.services import Context
from govtrust.services.revocation import refresh_ocsp

__all__ = ["Scheduler"]

log = logging.getLogger("govtrust.scheduler")


class Scheduler:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: IO[str] | None = None

    def _acquire(self) -> bool:
        path = Path(self._ctx.settings.home) / ".scheduler.lock"
        try:
            f = path.open("a")
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        self._lock_file = f
        return True

    def start(self) -> None:
        if not self._acquire():
            return
        self._thread = threading.Thread(target=self._run, name="govtrust-scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self._ctx.settings.scheduler_interval_seconds
        while not self._stop.is_set():
            try:
                report = refresh_ocsp(self._ctx)
                if report.signed or report.crls_regenerated or report.responders_renewed:
                    log.info(
                        "refresh: %d OCSP responses signed, CRLs %s, responders %s",
                        report.signed,
                        report.crls_regenerated,
                        report.responders_renewed,
                    )
            except Exception:
                log.exception("scheduled refresh failed")
            self._stop.wait(interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._lock_file is not None:
            self._lock_file.close()
