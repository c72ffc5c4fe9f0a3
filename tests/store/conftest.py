"""Store fixtures: every storage test runs against SQLite (a temporary file) and PostgreSQL.

PostgreSQL comes from ``KIEMTIN_TEST_POSTGRES_URL`` (see tests/store/README.md); each test
gets its own schema in that database, made by the migrations and dropped afterwards. Without
the variable the PostgreSQL cases skip, unless ``CI`` is set: then they fail.
"""

from __future__ import annotations

import itertools
import os
import uuid
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipeline.store.db import make_engine, normalise_url, session_factory, upgrade

POSTGRES_ENV = "KIEMTIN_TEST_POSTGRES_URL"
_schemas = itertools.count()


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    message = (
        f"{POSTGRES_ENV} is not set: the store tests need a PostgreSQL server "
        "(see tests/store/README.md, or run: eval \"$(bash .ci/postgres.sh)\")"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Cheap argon2 parameters for tests (the real ones cost ~0.15 s a hash on 2 cores);
    test_users checks the production parameters."""
    from pipeline.store import users

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024,
                                                         parallelism=1))
    users._dummy_hash.cache_clear()
    yield
    users._dummy_hash.cache_clear()


@contextmanager
def migrated_database(kind: str, tmp_path, name: str = "kiemtin"):
    """A migrated, empty database of ``kind``: a SQLite file, or a fresh PostgreSQL schema
    (dropped afterwards); yields its URL."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        upgrade(url)
        yield url
        return
    base = normalise_url(_postgres_base_url())
    schema = f"kt_{os.getpid()}_{next(_schemas)}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # unreachable server: a failure, not a skip
        admin.dispose()
        pytest.fail(f"cannot use PostgreSQL at {base!r} ({POSTGRES_ENV}): {exc}")
    # Every connection of this URL works in the test's schema (and only there).
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        upgrade(url)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A migrated, empty database: a SQLite file, or a fresh PostgreSQL schema."""
    with migrated_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return session_factory(engine)


@pytest.fixture
def session(sessions):
    with sessions() as session:
        yield session


def backend(url: str) -> str:
    return make_url(url).get_backend_name()


HOSTILE = ("clean", "offensive", "hate")
FALSE = ("reliable", "unreliable")


def scored(
    rid,
    text_: str,
    hostile: tuple[float, float, float] | None = (0.8, 0.15, 0.05),
    false: tuple[float, float] | None = None,
    words: tuple[str, ...] = (),
) -> dict:
    """A record shaped like ``kiemtin classify`` output: label, calibrated proba, risk and
    the highlighted words with offsets into the original text (first occurrence)."""
    spans = []
    for w in words:
        start = text_.index(w)
        spans.append({"word": w, "start": start, "end": start + len(w), "weight": 0.5})
    scores, versions = {}, {}
    for task, labels, proba, risky in (
        ("hostile", HOSTILE, hostile, ("offensive", "hate")),
        ("false", FALSE, false, ("unreliable",)),
    ):
        if proba is None:
            continue
        p = dict(zip(labels, proba, strict=True))
        scores[task] = {
            "label": max(p, key=p.get),
            "proba": p,
            "risk": round(sum(p[k] for k in risky), 4),
            "words": spans,
        }
        versions[task] = f"{task}/linear-1"
    return {"id": rid, "text": text_, "scores": scores, "model_versions": versions}
