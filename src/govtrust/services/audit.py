"""Recording and reading the audit trail."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from govtrust.audit import AuditEvent, Scalar
from govtrust.services.context import Actor, Context
from govtrust.store.models import AuditEventRow

__all__ = ["list_events", "record"]


def record(
    session: Session,
    ctx: Context,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    produced: bytes,
    details: Mapping[str, Scalar] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction: the action and its record commit
    together or not at all."""
    event = AuditEvent(
        action=action,
        actor=actor.name,
        time=ctx.clock.now(),
        object_type=object_type,
        object_id=object_id,
        object_sha256=hashlib.sha256(produced).hexdigest(),
        details=MappingProxyType(dict(details or {})),
    )
    session.add(
        AuditEventRow(
            time=event.time,
            actor=event.actor,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            object_sha256=event.object_sha256,
            record=event.canonical(),
        )
    )
    return event


def list_events(
    ctx: Context, *, action: str | None = None, limit: int = 100, offset: int = 0
) -> list[tuple[int, AuditEvent]]:
    with ctx.db.read() as session:
        query = select(AuditEventRow.id, AuditEventRow.record).order_by(AuditEventRow.id.desc())
        if action:
            query = query.where(AuditEventRow.action == action)
        rows = session.execute(query.limit(limit).offset(offset)).all()
    return [(row.id, AuditEvent.from_canonical(row.record)) for row in rows]
