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
``intake`` (scored posts in), ``queue`` (queue order, groups), ``answers`` (answers,
decisions, agreement), ``users`` (accounts), ``audit`` (the trail and its export),
``labels_export`` (reviewed labels out as corpus files), ``label_studio`` (Label Studio
files in), ``rebuttals`` (counter-messages for confirmed narratives), ``rescore``
(re-scoring after a promotion), ``search`` (accent-insensitive full-text search over items
and narratives), ``assignments`` (items given to reviewers, claims while answering);
``json_array`` reads big JSON arrays, ``_shared`` holds
what the modules share.
"""

from . import audit, rebuttals
from ._shared import ConflictError, ForbiddenError, NotFoundError
from .answers import (
    Agreement,
    adjudicate,
    cohens_kappa,
    record_answer,
    reopen_item,
    split_from_group,
    undo_answer,
)
from .audit import AuditAppendOnlyError
from .db import Settings, make_engine, session_factory, upgrade, writing
from .intake import AddReport, add_scored, add_scored_file
from .label_studio import ImportReport, import_label_studio
from .labels_export import export_labels
from .queue import get_item, group_members, next_items
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
    "reopen_item",
    "session_factory",
    "split_from_group",
    "undo_answer",
    "upgrade",
    "verify_password",
    "writing",
]
