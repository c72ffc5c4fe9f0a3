"""The audit trail: append-only through the ORM and in the database, exported in id order."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from pipeline.store import add_scored, add_user, adjudicate, record_answer, split_from_group
from pipeline.store.audit import AuditAppendOnlyError, entries, export, record
from pipeline.store.tables import AuditEntry
from tests.store.conftest import backend, scored
from tests.store.test_intake import CHANH, CHANH_REWORDED, UNRELATED


def _some_history(session):
    add_user(session, "lan", "reviewer", "long password", actor="an")
    add_user(session, "minh", "reviewer", "long password", actor="an")
    add_user(session, "hoa", "trainer", "long password", actor="an")
    add_scored(session, [scored(1, CHANH), scored(2, UNRELATED), scored(3, CHANH_REWORDED)],
               actor="analyst", reviews_needed=2)
    record_answer(session, 1, "lan", "hate", 0)
    record_answer(session, 1, "minh", "offensive", 0)
    adjudicate(session, 1, "hoa", "hate")
    split_from_group(session, 3, "lan")


def test_every_write_leaves_an_audit_row(session):
    _some_history(session)
    rows = [(e.actor, e.action, e.entity, e.entity_id) for e in entries(session)]
    assert rows == [
        ("an", "add", "user", "1"),
        ("an", "add", "user", "2"),
        ("an", "add", "user", "3"),
        ("analyst", "add", "item", "1"),
        ("analyst", "add", "item", "2"),
        ("analyst", "add", "item", "3"),
        ("analyst", "add", "group", "1"),
        ("lan", "add", "answer", "1"),
        ("lan", "answer", "item", "1"),
        ("minh", "add", "answer", "2"),
        ("minh", "answer", "item", "1"),
        ("hoa", "adjudicate", "item", "1"),
        ("hoa", "label_from_group", "item", "3"),
        ("lan", "split_from_group", "item", "3"),
    ]
    first_added = entries(session, "item", 1)[0]
    assert first_added.after["group_id"] == 1 and first_added.after["is_representative"]
    adjudicated = entries(session, "item", 1)[-1]
    assert adjudicated.before["status"] == "adjudication"
    assert adjudicated.after["status"] == "done" and adjudicated.after["label"] == "hate"
    assert all(e.at.tzinfo is not None for e in entries(session))


def test_the_orm_refuses_to_change_or_delete_audit_rows(session):
    record(session, "an", "note", "item", 1, None, {"x": 1})
    session.commit()
    entry = entries(session)[0]
    entry.actor = "someone else"
    with pytest.raises(AuditAppendOnlyError, match="append-only"):
        session.commit()
    session.rollback()
    session.delete(entries(session)[0])
    with pytest.raises(AuditAppendOnlyError, match="a delete of audit row 1"):
        session.flush()
    session.rollback()
    with pytest.raises(AuditAppendOnlyError, match="bulk UPDATE"):
        session.execute(update(AuditEntry).values(actor="x"))
    with pytest.raises(AuditAppendOnlyError, match="bulk DELETE"):
        session.execute(delete(AuditEntry))
    session.rollback()
    assert [e.actor for e in entries(session)] == ["an"]


def test_the_database_refuses_to_change_or_delete_audit_rows(db_url, session):
    record(session, "an", "note", "item", 1, None, {"x": 1})
    session.commit()
    statements = ["UPDATE audit SET actor = 'x'", "DELETE FROM audit"]
    if backend(db_url) == "postgresql":
        statements.append("TRUNCATE audit")
    for statement in statements:
        with pytest.raises(DBAPIError, match="audit is append-only"):
            session.execute(text(statement))
        session.rollback()
    assert session.execute(text("SELECT count(*) FROM audit")).scalar() == 1


def test_export_writes_jsonl_in_id_order_the_same_every_time(session, tmp_path):
    _some_history(session)
    out = tmp_path / "audit.jsonl"
    assert export(session, out) == 14
    first = out.read_bytes()
    assert export(session, out) == 14 and out.read_bytes() == first
    assert not (tmp_path / "audit.jsonl.partial").exists()
    lines = [json.loads(line) for line in first.decode().splitlines()]
    assert [row["id"] for row in lines] == list(range(1, 15))
    assert set(lines[0]) == {"id", "at", "actor", "action", "entity", "entity_id", "before",
                             "after"}
    stream = io.StringIO()
    export(session, stream)
    assert stream.getvalue().encode() == first
