"""The append-only audit trail: every write to the store records who did what, when, with the
row before and after. ``export`` writes the trail out as JSONL in id order.

Nothing updates or deletes an audit row: a ``before_flush`` hook refuses it through the ORM,
a ``do_orm_execute`` hook refuses bulk ``update()``/``delete()``, and a database trigger
(created by the migration) refuses it for any other client.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import IO

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..batch.outputs import write_atomically
from ..errors import KiemtinError
from .tables import AuditEntry, utcnow

EXPORT_BATCH = 1000


class AuditAppendOnlyError(KiemtinError):
    """Something tried to change or remove an audit row."""


def record(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: Mapping | None = None,
    after: Mapping | None = None,
) -> AuditEntry:
    """Add one audit row to the session's transaction (it commits with the write it records)."""
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before=_jsonable(before),
        after=_jsonable(after),
    )
    session.add(entry)
    return entry


def record_many(session: Session, rows: Iterable[Mapping]) -> int:
    """Insert many audit rows at once (bulk ingest); each row has ``record``'s arguments."""
    at = utcnow()
    values = [
        {
            "at": at,
            "actor": r["actor"],
            "action": r["action"],
            "entity": r["entity"],
            "entity_id": None if r.get("entity_id") is None else str(r["entity_id"]),
            "before": _jsonable(r.get("before")),
            "after": _jsonable(r.get("after")),
        }
        for r in rows
    ]
    if values:  # a Core insert: the ORM's bulk machinery costs more than the rows
        session.connection().execute(AuditEntry.__table__.insert(), values)
    return len(values)


def _jsonable(value: Mapping | None) -> dict | None:
    # Round-trip now, so a value JSON cannot hold fails here and not at commit time.
    return None if value is None else json.loads(json.dumps(dict(value), default=str))


def entries(session: Session, entity: str | None = None, entity_id: object = None):
    """The audit rows, oldest first, optionally for one entity (``"item"``, 12)."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == str(entity_id))
    return session.scalars(query).all()


def recent_entries(session: Session, limit: int = 200) -> list[AuditEntry]:
    """The newest ``limit`` audit rows, newest first (the audit page)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    return list(session.scalars(query))


def export(session: Session, out: str | os.PathLike | IO[str]) -> int:
    """Write every audit row as one JSON line, in id order; returns the number of rows.

    A path is written as ``PATH.partial`` and renamed when complete; an open text stream
    (e.g. ``sys.stdout``) is written as is. The same table gives the same bytes.
    """
    return write_atomically(out, lambda stream: _write_entries(session, stream))


def _write_entries(session: Session, stream: IO[str]) -> int:
    count = 0
    query = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=EXPORT_BATCH)
    for entry in session.scalars(query):
        stream.write(json.dumps(entry.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


def _refusal(found: str) -> AuditAppendOnlyError:
    return AuditAppendOnlyError(
        "audit trail",
        expected="only new rows (the audit table is append-only)",
        found=found,
        fix="Record a new audit row that corrects the record instead of changing an old one.",
    )


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _flush_context, _instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEntry):
            raise _refusal(f"a delete of audit row {obj.id}")
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) and session.is_modified(obj):
            raise _refusal(f"a change to audit row {obj.id}")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_audit_changes(state) -> None:
    mapper = state.bind_mapper
    if (state.is_update or state.is_delete) and mapper is not None and mapper.class_ is AuditEntry:
        verb = "UPDATE" if state.is_update else "DELETE"
        raise _refusal(f"a bulk {verb} on the audit table")
