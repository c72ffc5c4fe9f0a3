"""The review store as the commands that write to it open it, and who they write as."""

from __future__ import annotations


def open_store():
    """The configured store, migrated to the latest schema: its settings, engine and
    session factory (the store and SQLAlchemy are imported only when a command needs them)."""
    from ..store.db import Settings, make_engine, session_factory, upgrade

    settings = Settings.from_env()
    if settings.database_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return settings, engine, session_factory(engine)


def cli_actor() -> str:
    """Who runs a CLI write, for the audit trail."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
