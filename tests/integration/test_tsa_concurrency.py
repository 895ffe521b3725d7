"""Four processes stamping at once (SQLite and PostgreSQL): every serial number is
unique, each process sees its serials strictly increase, and every token has its
audit record (RFC 3161 §2.4.2: serialNumber unique per TSA)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from govtrust.store import AuditEventRow, TsaTokenRow
from tests.conftest import Demo

PROCESSES = 4
PER_PROCESS = 25

_WORKER = """
import os, sys, time
from pathlib import Path
from govtrust.config import load_settings
from govtrust.services import Actor, Context
from govtrust.services.tsa import TsaService, stamp_local

ctx = Context.open(load_settings(os.environ), migrate=False)
svc = TsaService(ctx)
svc.current()  # load the TSA before the start line
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
for i in range(int(sys.argv[1])):
    reply = stamp_local(ctx, f"{os.getpid()}-{i}".encode(), Actor("worker", "admin"), service=svc)
    print(reply.serial, flush=True)
"""


def test_serials_are_unique_and_increase_across_processes(demo: Demo, tmp_path: Path) -> None:
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(PER_PROCESS), str(go)],
            env={**os.environ, **demo.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    time.sleep(1.0)
    go.touch()
    outputs = []
    for w in workers:
        stdout, stderr = w.communicate(timeout=300)
        assert w.returncode == 0, stderr
        outputs.append([int(line) for line in stdout.split()])
    for serials in outputs:
        assert len(serials) == PER_PROCESS
        assert all(a < b for a, b in itertools.pairwise(serials)), serials
    everything = [s for serials in outputs for s in serials]
    assert len(set(everything)) == PROCESSES * PER_PROCESS

    ctx = demo.open()
    try:
        with ctx.db.read() as session:
            rows = session.scalar(select(func.count()).select_from(TsaTokenRow))
            audited = set(
                session.scalars(
                    select(AuditEventRow.object_id).where(AuditEventRow.action == "tsa.stamp")
                ).all()
            )
    finally:
        ctx.close()
    assert rows == PROCESSES * PER_PROCESS
    assert audited == {str(s) for s in everything}
