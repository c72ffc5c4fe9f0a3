"""Where the review store lives and how to reach it: settings from the environment, engines
tuned per database, sessions, one door for writes, and the Alembic upgrade.

SQLite (WAL) is the embedded default, one file under the data directory; PostgreSQL is chosen
by a ``postgresql://`` URL and reached through psycopg 3. The schema only ever comes from the
migrations in ``pipeline/store/migrations`` (``upgrade``), never from ``create_all``.

>>> Settings.from_env({"KIEMTIN_DATA_DIR": "/srv/kiemtin"}).database_url
'sqlite:////srv/kiemtin/kiemtin.db'
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, SAWarning
from sqlalchemy.orm import Session, SessionTransactionOrigin, sessionmaker
from sqlalchemy.pool import StaticPool

from ..errors import InputError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DEFAULT_DATA_DIR = "data"
DATABASE_FILE = "kiemtin.db"
# How long a SQLite writer waits for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 32_768  # page cache of each connection to a database file
# The execution option our SQLite "begin" hook reads: DEFERRED for reads, IMMEDIATE for writes.
_SQLITE_BEGIN = "kiemtin_sqlite_begin"


@dataclass(frozen=True)
class Settings:
    """Where the store is and how items are reviewed, read from the environment.

    ``KIEMTIN_DATABASE_URL`` (default ``sqlite:///<data dir>/kiemtin.db``), ``KIEMTIN_DATA_DIR``
    (default ``./data``) and ``KIEMTIN_REVIEWS_NEEDED`` (independent reviews per item, 1).
    """

    database_url: str
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    reviews_needed: int = 1

    def __post_init__(self):
        normalise_url(self.database_url)  # refuses an unusable URL now, not at first query
        if not isinstance(self.reviews_needed, int) or self.reviews_needed < 1:
            raise InputError(
                "KIEMTIN_REVIEWS_NEEDED",
                expected="a whole number >= 1",
                found=repr(self.reviews_needed),
                fix="Set it to 1 (one review per item) or more (independent reviews).",
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("KIEMTIN_DATA_DIR") or DEFAULT_DATA_DIR)
        url = env.get("KIEMTIN_DATABASE_URL") or f"sqlite:///{data_dir / DATABASE_FILE}"
        raw = env.get("KIEMTIN_REVIEWS_NEEDED") or "1"
        try:
            reviews_needed = int(raw)
        except ValueError:
            reviews_needed = raw  # __post_init__ says what is wrong with it
        return cls(database_url=url, data_dir=data_dir, reviews_needed=reviews_needed)


def normalise_url(url: str | URL) -> URL:
    """The URL as SQLAlchemy should use it: ``postgresql://`` means psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(
            "database URL",
            expected="a URL like sqlite:///data/kiemtin.db or postgresql://user:pw@host/db",
            found=repr(str(url)),
            fix="Check KIEMTIN_DATABASE_URL.",
        ) from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise InputError(
            "database URL",
            expected="a sqlite:// or postgresql:// URL",
            found=f"the backend {backend!r}",
            fix="Use SQLite (the default) or PostgreSQL.",
        )
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs) -> Engine:
    """An engine for ``url``. SQLite: WAL, foreign keys, a busy timeout and a pool that serves
    many threads; writes start with ``BEGIN IMMEDIATE`` (see ``writing``). PostgreSQL: psycopg 3.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    options = {"pool_size": 10, "max_overflow": 30, "pool_pre_ping": True, **kwargs}
    return create_engine(parsed, **options)


def _sqlite_engine(url: URL, **kwargs) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        options = {"poolclass": StaticPool}
    else:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        options = {"pool_size": 10, "max_overflow": 40, "pool_timeout": 60}
    options.update(kwargs)
    connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    engine = create_engine(url, connect_args=connect_args, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let us issue BEGIN ourselves (pysqlite's own BEGIN is deferred and skips DDL),
        # so writers can take the write lock up front and migrations are transactional.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster commits
            # The riskiest thousand items of a broad search are a thousand pages of the items
            # table: past the default 2 MiB each re-read is a system call (1,000,000 posts:
            # 1,024 of them 7.8 ms -> 3.0 ms). A cap; pages are taken as they are read.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for ``engine``. Objects stay readable after commit (pages render after the
    write); every write function re-reads the rows it changes, so nothing stale is written.
    """
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def writing(session: Session) -> Iterator[Session]:
    """The transaction a write function runs in.

    - No transaction open, or only one the session began by itself for earlier reads: the
      write gets its own transaction, committed on success and rolled back on any error
      (reads-only work is ended first; pending ORM changes are committed with the write).
    - A transaction the caller opened (``with session.begin():``): the write joins it and the
      caller commits or rolls back.

    On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` when it is the first to touch
    the database: a deferred transaction that reads and then writes fails at once with
    "database is locked" if another writer got in between, whereas an immediate one waits
    its turn (busy timeout). So call write functions before reading in a caller's transaction.
    """
    trans = session.get_transaction()
    owned = trans is None or trans.origin is SessionTransactionOrigin.AUTOBEGIN
    if owned and trans is not None and not (session.new or session.dirty or session.deleted):
        session.commit()  # end a read snapshot so the write starts fresh
    with warnings.catch_warnings():
        # Ignored (with this warning) when the transaction is already connected, as it should be.
        warnings.simplefilter("ignore", SAWarning)
        session.connection(execution_options={_SQLITE_BEGIN: "IMMEDIATE"})
    if not owned:
        yield session
        session.flush()
        return
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def is_postgresql(bind: Session | Engine) -> bool:
    if isinstance(bind, Session):
        bind = bind.get_bind()
    return bind.dialect.name == "postgresql"


def alembic_config(connection=None, url: str | URL | None = None):
    """The Alembic configuration, built in code: no alembic.ini is needed to migrate."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolates '%', which URL-escaped passwords contain.
        rendered = normalise_url(url).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(url_or_engine: str | URL | Engine, revision: str = "head") -> None:
    """Bring the database at ``url_or_engine`` to ``revision`` (all migrations by default)."""
    from alembic import command

    engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        if engine is not url_or_engine:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
