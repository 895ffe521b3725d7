"""Several processes issuing at once: no serial repeats, no record lost; a process
killed mid-issuance leaves no half-written certificate (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from govtrust.store import AuditEventRow, CertificateRow
from tests.conftest import Demo

PROCESSES = 4
PER_PROCESS = 15

_WORKER = """
import os, sys
from cryptography.hazmat.primitives.asymmetric import ec
from govtrust.ca import CertificateRequest, parse_subject
from govtrust.config import load_settings
from govtrust.services import Actor, Context
from govtrust.services.certificates import issue

ctx = Context.open(load_settings(os.environ), migrate=False)
key = ec.generate_private_key(ec.SECP256R1()).public_key()
count = int(sys.argv[1])
i = 0
while count < 0 or i < count:
    request = CertificateRequest(parse_subject(f"CN=meter-{os.getpid()}-{i}"), key)
    info = issue(ctx, "tls", "device", request, Actor(f"worker:{os.getpid()}", "admin"))
    print(info.serial, flush=True)
    i += 1
"""


def _run_worker(env: dict[str, str], count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER, str(count)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _issued_counts(demo: Demo) -> tuple[int, int, int]:
    ctx = demo.open()
    try:
        with ctx.db.read() as s:
            certs = (
                s.scalar(
                    select(func.count())
                    .select_from(CertificateRow)
                    .where(CertificateRow.profile == "device")
                )
                or 0
            )
            distinct = s.scalar(select(func.count(func.distinct(CertificateRow.serial)))) or 0
            total = s.scalar(select(func.count()).select_from(CertificateRow)) or 0
            events = (
                s.scalar(
                    select(func.count())
                    .select_from(AuditEventRow)
                    .where(
                        AuditEventRow.action == "cert.issue",
                        AuditEventRow.object_id.in_(
                            select(CertificateRow.serial).where(CertificateRow.profile == "device")
                        ),
                    )
                )
                or 0
            )
        assert distinct == total
        return certs, events, total
    finally:
        ctx.close()


def test_parallel_processes_issue_without_duplicates_or_loss(demo: Demo) -> None:
    before, _, _ = _issued_counts(demo)
    workers = [_run_worker(demo.env, PER_PROCESS) for _ in range(PROCESSES)]
    serials: list[str] = []
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
        serials += out.split()
    assert len(serials) == PROCESSES * PER_PROCESS
    assert len(set(serials)) == len(serials)
    certs, events, _ = _issued_counts(demo)
    assert certs - before == len(serials)
    assert events == certs  # every acknowledged issuance has its audit record


def test_process_killed_mid_issuance_leaves_no_half_written_record(demo: Demo) -> None:
    before, _, _ = _issued_counts(demo)
    worker = _run_worker(demo.env, -1)
    assert worker.stdout is not None
    acknowledged = [worker.stdout.readline().strip() for _ in range(5)]
    time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    rest, _ = worker.communicate(timeout=30)
    acknowledged += rest.split()
    certs, events, _ = _issued_counts(demo)
    # Every certificate printed (acknowledged) is stored; every stored one has its
    # audit event; nothing else is there.
    assert certs - before >= len([s for s in acknowledged if s])
    assert events == certs
    ctx = demo.open()
    try:
        with ctx.db.read() as s:
            stored = set(s.scalars(select(CertificateRow.serial)).all())
        assert {s for s in acknowledged if s} <= stored
        if ctx.db.dialect == "sqlite":
            with ctx.db.read() as s:
                assert s.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        ctx.close()
