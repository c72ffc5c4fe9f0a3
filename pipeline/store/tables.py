"""The review store's tables as typed SQLAlchemy 2 models: users, items (one per distinct post
per task), near-duplicate groups, LSH band keys, answers, rebuttals, jobs, login sessions and
failed logins, and the append-only audit trail.

This metadata is the reference the migrations must match (a test compares them); the
database is only ever created and changed by the migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..text.similarity import fold

ROLES = ("admin", "trainer", "reviewer", "communicator", "analyst")
# open: waiting for answers; answered: enough answers and they agree; adjudication: they
# disagree and a trainer or admin must decide; done: decided by adjudication, or labelled
# through its group's representative.
STATUSES = ("open", "answered", "adjudication", "done")
DECIDED = ("answered", "done")
# A rebuttal is written as a draft, approved by a second person, then published (handed out).
REBUTTAL_STATUSES = ("draft", "approved", "published")

# Stable constraint names, so migrations can name what they alter on both databases.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL; SQLite needs exactly INTEGER for an auto-incrementing rowid key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on both databases (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_text("true"))
    # Communicators may approve other people's rebuttals only with this right (trainers and
    # admins always may).
    approves_rebuttals: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sql_text("false")
    )
    # The language of the web app for this account ("vi", "en"); None: the site's default.
    language: Mapped[str | None] = mapped_column(String(8))

    def __repr__(self) -> str:
        return f"User({self.name!r}, role={self.role!r}, active={self.active})"


class Group(Base):
    """Near-duplicate posts of one task (the same narrative reworded), reviewed once through
    its representative item."""

    __tablename__ = "item_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task: Mapped[str] = mapped_column(String(64))
    # Items point at their group and the group at its representative: a cycle, so on
    # PostgreSQL this key is added after both tables exist.
    representative_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id", use_alter=True), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    representative: Mapped[Item] = relationship(foreign_keys=[representative_id])


class Item(Base):
    """One distinct post (by normalised text) for one task, with its scores and review state."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("task", "text_key"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("reviews_needed >= 1", name="reviews_needed"),
        # The queue pages: risk order and uncertainty order within a task and status; the
        # trailing id makes ties deterministic and the whole ORDER BY an index scan. The
        # risk order carries the other queue filters (0015), so a broad search reads its
        # riskiest candidates from the index alone.
        Index(
            "ix_items_queue_risk",
            "task", "status", "risk", "id", "is_representative", "model_label",
        ),
        Index("ix_items_queue_uncertainty", "task", "status", "uncertainty", "id"),
        # The same orders across all tasks (migration 0002).
        Index("ix_items_status_risk", "status", "risk", "id", "is_representative", "model_label"),
        Index("ix_items_status_uncertainty", "status", "uncertainty", "id"),
        # The statistics' window of days (migration 0012) and backlog (0013, covering).
        Index("ix_items_decided_at", "decided_at"),
        Index("ix_items_backlog", "status", "task", "model_label", "is_representative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task: Mapped[str] = mapped_column(String(64))
    # sha256 of the folded (normalised, lowercased, diacritics removed) masked text: the key
    # for "the same post". A hash, because a post may be 100,000 characters, too long for a
    # unique index, and because the key must not hold the personal data the text has masked.
    text_key: Mapped[str] = mapped_column(String(64))
    # The post with phone numbers, e-mails and @handles masked, character for character.
    text: Mapped[str] = mapped_column(Text)
    source_id: Mapped[str | None] = mapped_column(Text)  # the source's id, opaque
    input_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the original text
    model_label: Mapped[str] = mapped_column(String(64))
    proba: Mapped[dict] = mapped_column(JSON)
    risk: Mapped[float] = mapped_column(Float)
    # 1 - (top probability - second probability): 1 when the model cannot choose.
    uncertainty: Mapped[float] = mapped_column(Float)
    # The words that drove the score: [{"word", "start", "end", "weight"}], offsets into
    # ``text`` (masking keeps the length, so they are also offsets into the original).
    words: Mapped[list] = mapped_column(JSON)
    model_version: Mapped[str] = mapped_column(String(255))
    signature: Mapped[bytes] = mapped_column(LargeBinary)  # MinHash, uint64 bytes
    status: Mapped[str] = mapped_column(String(16), default="open")
    reviews_needed: Mapped[int] = mapped_column(Integer, default=1)
    label: Mapped[str | None] = mapped_column(String(64))  # the decided human label
    # Set when the label came from the group's representative rather than a review.
    label_source_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("items.id"))
    adjudicator_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"))
    group_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("item_groups.id"), index=True)
    # False for a group member other than its representative: members leave the queue.
    is_representative: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=sql_text("true")
    )
    # Optimistic locking: bumped by every change to the review state (answers, status,
    # label, group split), checked against the version the reviewer loaded.
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When ``label`` was decided (answers agreed, adjudication, or the group's label); None
    # while undecided. The time of a reviewed label in corpus exports.
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Full-text search (migration 0006, ``pipeline.store.search``): ``text`` folded as
    # near-duplicates are (``similarity.fold``: lower-cased, diacritics, tone placement and
    # teencode folded, masked data and placeholders dropped), indexed by the database. Deferred:
    # pages that show items do not load a second copy of the text. '' only for a row written
    # outside SQLAlchemy, which search then never finds.
    search_text: Mapped[str] = mapped_column(
        Text, default=lambda ctx: fold_for_search(ctx.get_current_parameters()["text"]),
        server_default="", deferred=True,
    )

    group: Mapped[Group | None] = relationship(foreign_keys=[group_id])
    answers: Mapped[list[Answer]] = relationship(
        back_populates="item", order_by="Answer.id", viewonly=True
    )

    def __repr__(self) -> str:
        return (
            f"Item({self.id}, task={self.task!r}, risk={self.risk}, status={self.status!r}, "
            f"group={self.group_id}, version={self.version})"
        )


# ---------------------------------------------------------------------------- search (0006)
# The full-text indexes over ``Item.search_text`` are made by migration 0006 and are not
# described here, because SQLAlchemy metadata cannot: on SQLite an FTS5 virtual table (with
# its shadow tables ``items_search_data`` etc.) kept in step by triggers, on PostgreSQL a
# generated ``tsvector`` column and its GIN index. ``include_object`` leaves exactly those out
# when Alembic compares this metadata with a database (autogenerate, tests/store/test_db.py).
SEARCH_FTS_TABLE = "items_search"  # SQLite
SEARCH_VECTOR_COLUMN = "search_vector"  # PostgreSQL, on items
SEARCH_VECTOR_INDEX = "ix_items_search_vector"  # PostgreSQL, GIN


def fold_for_search(text: str) -> str:
    """What search indexes of a text, and what a query is folded to (only a-z, 0-9, spaces).

    >>> fold_for_search("Tin GIẢ, hoà bình ko?")
    'tin gia hoa binh khong'
    """
    return fold(text)


def include_object(object_, name, type_, reflected, compare_to) -> bool:
    """Alembic's ``include_object`` hook: False for the search indexes of migration 0006 found
    in the database (they have no counterpart in this metadata), True for everything else."""
    if not reflected or compare_to is not None:
        return True
    if type_ == "table":
        return not (name == SEARCH_FTS_TABLE or name.startswith(f"{SEARCH_FTS_TABLE}_"))
    if type_ == "column":
        return not (name == SEARCH_VECTOR_COLUMN and object_.table.name == "items")
    if type_ == "index":
        return name != SEARCH_VECTOR_INDEX
    return True


class ItemBand(Base):
    """LSH band keys of each item's MinHash signature: items sharing a key are candidate
    near-duplicates. Keys are mixed with the task, so candidates come from the same task."""

    __tablename__ = "item_bands"
    __table_args__ = ({"sqlite_with_rowid": False},)

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id"), primary_key=True, autoincrement=False
    )


class Answer(Base):
    """One reviewer's label for one item, with what the model said at that moment."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("item_id", "reviewer_id"),
        Index("ix_answers_created_at", "created_at"),  # the statistics (migration 0012)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(BigId, ForeignKey("items.id"))
    reviewer_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    model_label: Mapped[str] = mapped_column(String(64))
    model_score: Mapped[float] = mapped_column(Float)  # the model's probability of its label
    model_risk: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The version of the task's guidelines in force when the answer was given (migration
    # 0010; 1 is the task file's, ``pipeline.store.guidelines``); None for older answers.
    guideline_version: Mapped[int | None] = mapped_column(Integer)

    item: Mapped[Item] = relationship(back_populates="answers")
    reviewer: Mapped[User] = relationship()


class Rebuttal(Base):
    """A counter-message for a confirmed narrative (a near-duplicate group), in Markdown.

    Written as a draft (editable, optimistic locking on ``version``), approved by someone
    other than its author and last editor, then published. One narrative may have several.
    """

    __tablename__ = "rebuttals"
    __table_args__ = (
        CheckConstraint(_in("status", REBUTTAL_STATUSES), name="status"),
        Index("ix_rebuttals_status_group", "status", "group_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(BigId, ForeignKey("item_groups.id"), index=True)
    task: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Markdown, rendered without raw HTML
    status: Mapped[str] = mapped_column(String(16), default="draft")
    author_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    editor_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))  # last to edit
    approver_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"))
    # The earlier rebuttal this one was started from (a reuse suggestion), if any.
    reused_from_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("rebuttals.id"))
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    group: Mapped[Group] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    editor: Mapped[User] = relationship(foreign_keys=[editor_id])
    approver: Mapped[User | None] = relationship(foreign_keys=[approver_id])

    def __repr__(self) -> str:
        return (
            f"Rebuttal({self.id}, group={self.group_id}, status={self.status!r}, "
            f"version={self.version})"
        )


JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(Base):
    """A long write that runs in the background, with its progress: re-scoring a task's open
    items with a newly promoted model (``kind`` "rescore")."""

    __tablename__ = "jobs"
    __table_args__ = (CheckConstraint(_in("status", JOB_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    task: Mapped[str] = mapped_column(String(64))
    model_dir: Mapped[str] = mapped_column(Text)  # where the model is, to load it
    model_version: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)  # items to do, counted at start
    done: Mapped[int] = mapped_column(Integer, default=0)
    last_item_id: Mapped[int] = mapped_column(BigId, default=0)  # resume after this id
    actor: Mapped[str] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.kind} {self.task}, {self.status}, {self.done}/{self.total})"


class LoginSession(Base):
    """One logged-in browser: the cookie holds a random token, this row its sha256 (so the
    table alone logs no one in), the account, the session's CSRF token and its times.

    Deleted at logout and when its account is switched off, changes role or password; past
    the idle timeout or the absolute lifetime it is refused and deleted
    (``pipeline.store.login_sessions``)."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"LoginSession(user={self.user_id}, since={self.created_at.isoformat()})"


class LoginFailure(Base):
    """One failed login under one throttle key (a hash of the address and name, or of the
    name alone), kept for the throttle's window (``pipeline.store.login_throttle``). In the
    database, so every worker process sees the same counts and a restart forgets none."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AuditEntry(Base):
    """One write: who did what to which row, when, with the row before and after.

    Append-only: the ORM refuses to update or delete these rows (``pipeline.store.audit``)
    and a database trigger refuses it for everyone else.
    """

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    after: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "before": self.before,
            "after": self.after,
        }


# ------------------------------------------------------- group suggestions (migration 0007)

SUGGESTION_STATUSES = ("pending", "confirmed", "rejected")


class GroupSuggestion(Base):
    """A near-duplicate group a post may belong to, for a reviewer to confirm or reject.

    Intake joins a post to a group by itself above the join threshold; between the suggest
    and the join thresholds it records this instead (``pipeline.store.group_suggestions``).
    ``candidate_id`` is the item it resembles most; ``group_id`` is that item's group when
    suggested (None while it stood alone), and the group it joined once confirmed.
    """

    __tablename__ = "group_suggestions"
    __table_args__ = (
        UniqueConstraint("item_id", "candidate_id"),
        CheckConstraint(_in("status", SUGGESTION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(BigId, ForeignKey("items.id"), index=True)
    candidate_id: Mapped[int] = mapped_column(BigId, ForeignKey("items.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("item_groups.id"))
    similarity: Mapped[float] = mapped_column(Float)  # the MinHash estimate, as intake uses
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    item: Mapped[Item] = relationship(foreign_keys=[item_id])
    candidate: Mapped[Item] = relationship(foreign_keys=[candidate_id])
    decider: Mapped[User | None] = relationship(foreign_keys=[decided_by])

    def __repr__(self) -> str:
        return (
            f"GroupSuggestion({self.id}, item={self.item_id}, candidate={self.candidate_id}, "
            f"group={self.group_id}, similarity={self.similarity}, status={self.status!r})"
        )


# ------------------------------------------------------------ webhooks (migration 0009)

WEBHOOK_STATUSES = ("pending", "delivered", "failed")


class WebhookDelivery(Base):
    """One event for the newsroom's webhook (a rebuttal published, a label decided), written
    in the same transaction as the change it reports, then sent and retried with backoff
    by ``pipeline.store.webhooks``: an outbox, so no event is lost when the receiver is
    down and none is sent for a change that rolled back."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", WEBHOOK_STATUSES), name="status"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"WebhookDelivery({self.id}, {self.event}, {self.status}, {self.attempts})"


# ------------------------------------------------------------ guidelines (migration 0010)


class GuidelineVersion(Base):
    """One edited version of a task's reviewer guidelines: per label and language a
    definition and examples (``pipeline.store.guidelines``). Version 1 is the task file's and
    is not stored; edits are versions 2, 3, ... and the highest is in force."""

    __tablename__ = "guidelines"
    __table_args__ = (
        UniqueConstraint("task", "version"),
        CheckConstraint("version >= 2", name="version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    # {label: {language: {"definition": str, "examples": [str, ...]}}}
    labels: Mapped[dict] = mapped_column(JSON)
    author_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)  # what changed, in the editor's words
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"GuidelineVersion({self.task!r}, version={self.version})"


# ------------------------------------------------- assignments and claims (migration 0011)


class Assignment(Base):
    """An item given to one reviewer by a trainer or admin (``pipeline.store.assignments``):
    their "next item" offers it first, and other reviewers' "next" skips it until they have
    answered it. At most one assignee per item; unassigning deletes the row (the audit trail
    keeps it)."""

    __tablename__ = "assignments"

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id"), primary_key=True, autoincrement=False
    )
    # "Assigned to me": the reviewer's items, found through this index.
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"), index=True)
    assigned_by: Mapped[str] = mapped_column(String(64))  # the actor, as the audit names it
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"Assignment(item={self.item_id}, user={self.user_id})"


class Claim(Base):
    """A reviewer's short hold on an open item they opened to answer, until ``expires_at``
    (``pipeline.store.assignments``): while it is live and the item needs no more answers
    than its live claims, "next" hands the item to no one else and others' answers are
    refused. One row per (item, reviewer); an expired row counts for nothing."""

    __tablename__ = "claims"

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("items.id"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id"), primary_key=True, autoincrement=False, index=True
    )
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"Claim(item={self.item_id}, user={self.user_id}, until={self.expires_at})"
