"""Settings, engines and migrations: the schema comes from Alembic and matches tables.py."""

from __future__ import annotations

import doctest

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import pipeline.store.db
from pipeline.errors import InputError
from pipeline.store.db import Settings, alembic_config, current_revision, normalise_url, upgrade
from pipeline.store.tables import Base, include_object


def _diff(engine, metadata):
    with engine.connect() as conn:
        # The search indexes of migration 0006 (an FTS5 table, a tsvector column and its GIN
        # index) cannot be described by the metadata: include_object leaves out exactly those.
        opts = {"compare_type": True, "include_object": include_object}
        context = MigrationContext.configure(conn, opts=opts)
        return compare_metadata(context, metadata)


def test_the_migrated_schema_matches_the_table_metadata(engine):
    assert _diff(engine, Base.metadata) == []
    assert current_revision(engine) == "0015"


def test_the_comparison_would_notice_a_difference(engine):
    # A control: the empty diff above means something only if a real difference shows.
    changed = sa.MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["items"].append_column(sa.Column("extra", sa.Integer()))
    assert any(d[0] == "add_column" for d in _diff(engine, changed))


def test_upgrade_twice_changes_nothing_and_downgrade_removes_everything(db_url, engine):
    upgrade(db_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(db_url)
    assert {"users", "items", "item_groups", "item_bands", "answers", "audit"} <= set(
        inspect(engine).get_table_names()
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_connections_use_wal_and_foreign_keys(engine):
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        with pytest.raises(sa.exc.IntegrityError):
            conn.exec_driver_sql("INSERT INTO answers (item_id, reviewer_id, label, model_label, "
                                 "model_score, model_risk, model_version, created_at) VALUES "
                                 "(99, 99, 'x', 'x', 0, 0, 'v', '2025-01-01')")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_urls_use_psycopg_3(engine):
    assert engine.dialect.driver == "psycopg"


def test_settings_default_to_a_sqlite_file_in_the_data_dir():
    assert Settings.from_env({}).database_url == "sqlite:///data/kiemtin.db"
    settings = Settings.from_env({"KIEMTIN_DATA_DIR": "/srv/kt", "KIEMTIN_REVIEWS_NEEDED": "2"})
    assert settings.database_url == "sqlite:////srv/kt/kiemtin.db"
    assert settings.reviews_needed == 2
    url = "postgresql://u:p@db/kiemtin"
    assert Settings.from_env({"KIEMTIN_DATABASE_URL": url}).database_url == url


def test_settings_refuse_what_cannot_work_and_say_how_to_fix_it():
    with pytest.raises(InputError, match="KIEMTIN_REVIEWS_NEEDED: expected a whole number >= 1"):
        Settings.from_env({"KIEMTIN_REVIEWS_NEEDED": "two"})
    with pytest.raises(InputError, match="expected a sqlite:// or postgresql:// URL"):
        Settings.from_env({"KIEMTIN_DATABASE_URL": "mysql://u@h/db"})
    with pytest.raises(InputError, match="KIEMTIN_DATABASE_URL"):
        Settings.from_env({"KIEMTIN_DATABASE_URL": "not a url"})


def test_a_bare_postgresql_url_means_psycopg_3():
    assert normalise_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg://u:p@h/db").drivername == "postgresql+psycopg"


def test_docstring_examples():
    assert doctest.testmod(pipeline.store.db).failed == 0


def test_migration_0003_backfills_when_each_label_was_decided(db_url, engine, sessions):
    from pipeline.store import add_scored, add_user, adjudicate, record_answer
    from pipeline.store.audit import entries
    from pipeline.store.tables import Answer, Item
    from tests.store.conftest import scored

    with sessions() as s:
        add_user(s, "lan", "reviewer", "lan password")
        add_user(s, "minh", "reviewer", "minh password")
        add_user(s, "hoa", "trainer", "hoa password")
        add_scored(s, [scored("a", "Thằng này ngu vl"), scored("b", "Đồ óc chó"),
                       scored("c", "Trời đẹp quá")], actor="t", reviews_needed=2)
        a, b, _ = s.query(Item).order_by(Item.id).all()
        for item, labels in ((a, ("offensive", "offensive")), (b, ("clean", "hate"))):
            record_answer(s, item.id, "lan", labels[0], None)
            record_answer(s, item.id, "minh", labels[1], None)
        adjudicate(s, b.id, "hoa", "hate")
        answered_at = max(x.created_at for x in s.query(Answer).filter_by(item_id=a.id))
        adjudicated_at = entries(s, "item", b.id)[-1].at
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0002")
    upgrade(db_url)
    with sessions() as s:
        decided = [it.decided_at for it in s.query(Item).order_by(Item.id)]
    assert decided == [answered_at, adjudicated_at, None]
