"""Alembic environment for the kiemtin store.

``pipeline.store.db.upgrade`` passes an open connection in ``config.attributes``; the
``alembic`` command line (``alembic -c pipeline/store/alembic.ini ...``, for writing a new
revision with ``--autogenerate``) connects to ``KIEMTIN_DATABASE_URL`` instead.
"""

from alembic import context

from pipeline.store.db import Settings, make_engine
from pipeline.store.tables import Base, include_object

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # The full-text indexes of migration 0006 are not in the metadata: leave them alone.
        include_object=include_object,
        # SQLite cannot ALTER most things: rebuild the table ("batch") when a revision must.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported: run against a database.")
run_migrations_online()
