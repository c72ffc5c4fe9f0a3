"""The review store: scored posts become review items; answers, decisions, accounts and an
append-only audit trail, in SQLite (the embedded default) or PostgreSQL.

    from pipeline import store
    store.upgrade(url)                              # schema through Alembic migrations
    sessions = store.session_factory(store.make_engine(url))
    with sessions() as session:
        store.add_user(session, "lan", "reviewer", "a long passphrase")
        store.add_scored_file(session, "scored.jsonl", actor="lan")
        item = store.next_items(session, task="hostile")[0]
        store.record_answer(session, item.id, "lan", "hate", item.version)

Modules: ``db`` (settings, engines, sessions, migrations), ``tables`` (the schema),
``queue`` (ingest, queue order, answers, groups, agreement), ``users`` (accounts),
``audit`` (the trail and its export), ``labels`` (reviewed labels out as corpus files,
Label Studio files in), ``rebuttals`` (counter-messages for confirmed narratives).
"""

from . import audit, rebuttals
from .audit import AuditAppendOnlyError
from .db import Settings, make_engine, session_factory, upgrade, writing
from .labels import ImportReport, export_labels, import_label_studio
from .queue import (
    AddReport,
    Agreement,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    add_scored,
    add_scored_file,
    adjudicate,
    cohens_kappa,
    get_item,
    group_members,
    next_items,
    record_answer,
    split_from_group,
    undo_answer,
)
from .tables import ROLES, STATUSES, Answer, AuditEntry, Group, Item, Rebuttal, User
from .users import add_user, get_user, verify_password

__all__ = [
    "ROLES",
    "STATUSES",
    "AddReport",
    "Agreement",
    "Answer",
    "AuditAppendOnlyError",
    "AuditEntry",
    "ConflictError",
    "ForbiddenError",
    "Group",
    "ImportReport",
    "Item",
    "NotFoundError",
    "Rebuttal",
    "Settings",
    "User",
    "add_scored",
    "add_scored_file",
    "add_user",
    "adjudicate",
    "audit",
    "cohens_kappa",
    "export_labels",
    "get_item",
    "get_user",
    "group_members",
    "import_label_studio",
    "make_engine",
    "next_items",
    "rebuttals",
    "record_answer",
    "session_factory",
    "split_from_group",
    "undo_answer",
    "upgrade",
    "verify_password",
    "writing",
]
