"""Background jobs inside ``govtrust serve``, each on its own period:

- every ``[scheduler] interval_seconds``: pre-sign OCSP responses before they expire,
  renew responder certificates, regenerate due CRLs;
- every ``[ledger] batch_interval_seconds``: the ledger sequencer appends pending audit
  events to the transparency log, one signed checkpoint per batch;
- every ``[scheduler] interval_seconds`` (at least a minute): imported trusted lists
  that are due (``[trustlist] refresh_before_hours`` before their NextUpdate, or a retry
  after a failure) are fetched and verified (``services.trustlists.refresh``). A list
  that fails to download, parse or verify never replaces the last good one; the failure
  is logged as a WARNING and shown by ``govtrust trustlist status`` and
  ``GET /api/v1/trustlists`` (``lastError``, ``failures``).

At start the ledger's tamper self-check runs in its own thread (incremental, see
``services.ledger.startup_check``). If it finds tampering it logs an ERROR line naming
the first bad index and the sequencer stops for the life of the process, so no further
checkpoint is signed over altered data; everything else keeps serving (issuance
goes on, its audit events wait in the outbox; the read API keeps serving the last good
checkpoint so that auditors and witnesses see the state). Run ``govtrust ledger check``
for the full scan.

With several workers (or several processes sharing one data directory) only the holder
of an exclusive file lock runs the jobs; on PostgreSQL clusters each node's refresh is
safe to run concurrently, since upserts, CRL numbering and ledger batches are
transactional (the sequencer locks the log's state row).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from govtrust.errors import TamperError
from govtrust.services import Actor, Context, ledger_witness, trustlists
from govtrust.services import ledger as ledger_svc
from govtrust.services.revocation import refresh_ocsp

__all__ = ["Scheduler"]

log = logging.getLogger("govtrust.scheduler")


@dataclass
class _Job:
    name: str
    interval: float
    run: Callable[[], None]
    due: float = 0.0


class Scheduler:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: IO[str] | None = None
        self.ledger_halted = False
        """True once the ledger self-check or the sequencer found tampering."""

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

    def _refresh(self) -> None:
        report = refresh_ocsp(self._ctx)
        if report.signed or report.crls_regenerated or report.responders_renewed:
            log.info(
                "refresh: %d OCSP responses signed, CRLs %s, responders %s",
                report.signed,
                report.crls_regenerated,
                report.responders_renewed,
            )

    def _refresh_trustlists(self) -> None:
        transport = getattr(self, "trustlist_transport", None)
        for result in trustlists.refresh(
            self._ctx, Actor("scheduler", "admin"), transport=transport
        ):
            if result["ok"]:
                log.info("trusted list %s refreshed: #%s", result["name"], result["sequenceNumber"])
            else:
                log.warning(
                    "trusted list %s refresh failed (%s), the last good list stays: %s",
                    result["name"],
                    result["reason"],
                    result["error"],
                )

    def _halt_ledger(self, exc: TamperError) -> None:
        self.ledger_halted = True
        log.error(
            "LEDGER TAMPERING DETECTED at index %d (%s): %s; the sequencer is stopped, "
            "run 'govtrust ledger check'",
            exc.index,
            exc.what,
            exc,
        )

    def _self_check(self) -> None:
        started = time.monotonic()
        try:
            report = ledger_svc.startup_check(self._ctx)
        except TamperError as exc:
            self._halt_ledger(exc)
            return
        if report is not None:
            log.info(
                "ledger self-check: %d new entries, %d checkpoints verified in %.1f s "
                "(tree size %d)",
                report.entries_checked,
                report.checkpoints_checked,
                time.monotonic() - started,
                report.size,
            )

    def _sequence(self) -> None:
        if self.ledger_halted:
            return
        try:
            report = ledger_svc.sequence(self._ctx)
        except TamperError as exc:
            self._halt_ledger(exc)
            return
        if report.appended:
            log.debug("ledger: %d entries appended, size %d", report.appended, report.size)
        # Each new checkpoint goes to the configured witnesses (C2SP tlog-witness); the
        # hook never raises and backs off a failing witness on its own.
        ledger_witness.after_sequence(self._ctx, report)

    def _checked_self_check(self) -> None:
        try:
            self._self_check()
        except Exception:
            log.exception("ledger self-check failed")

    def _run(self) -> None:
        settings = self._ctx.settings
        # The self-check runs beside the jobs: the first one after an upgrade scans the
        # whole log, and the sequencer need not wait for it (it refuses by itself to
        # extend a tree whose right edge or inner tiles disagree with the last signed
        # checkpoint, so it never signs over altered tiles).
        threading.Thread(
            target=self._checked_self_check, name="govtrust-ledger-check", daemon=True
        ).start()
        jobs = [
            _Job("refresh", settings.scheduler_interval_seconds, self._refresh),
            _Job("ledger", settings.ledger.batch_interval_seconds, self._sequence),
            _Job(
                "trustlists",
                max(60.0, float(settings.scheduler_interval_seconds)),
                self._refresh_trustlists,
            ),
        ]
        while not self._stop.is_set():
            now = time.monotonic()
            for job in jobs:
                if job.due <= now:
                    try:
                        job.run()
                    except Exception:
                        log.exception("scheduled %s failed", job.name)
                    job.due = time.monotonic() + job.interval
            self._stop.wait(max(0.0, min(job.due for job in jobs) - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._lock_file is not None:
            self._lock_file.close()
