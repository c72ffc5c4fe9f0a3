"""Failed logins counted in the database, for the login throttle (``LoginRateLimiter`` in
``pipeline.web.security`` decides what the counts mean).

Each failure is a row per throttle key; a key is the sha256 of what it counts (``name``, or
``address`` + ``name``), so the table holds no address or name in the clear. Rows older than
the throttle's window are deleted as new failures come in. In the database, not in memory:
every worker process sees the same counts, and a restart forgets none of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .db import writing
from .tables import LoginFailure


def throttle_key(*parts: str) -> str:
    """The key of the failures of ``parts`` (e.g. ``("name", "lan")``); names count the same
    whatever their case.

    >>> throttle_key("name", "Lan") == throttle_key("name", "lan")
    True
    """
    joined = "\0".join(p.casefold() for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def failure_counts(session: Session, keys: Iterable[str], since: datetime) -> dict[str, int]:
    """Failures per key since ``since`` (keys without any are left out)."""
    keys = list(keys)
    query = (
        select(LoginFailure.key, func.count())
        .where(LoginFailure.key.in_(keys), LoginFailure.at >= since)
        .group_by(LoginFailure.key)
    )
    return {key: count for key, count in session.execute(query)}


def record_failure(
    session: Session, keys: Iterable[str], now: datetime, forget_before: datetime
) -> None:
    """One failure under each key at ``now``; failures before ``forget_before`` are dropped."""
    with writing(session):
        session.execute(delete(LoginFailure).where(LoginFailure.at < forget_before))
        session.add_all(LoginFailure(key=key, at=now) for key in keys)


def forget_failures(session: Session, keys: Iterable[str]) -> None:
    """Drop the failures under ``keys`` (after a successful login)."""
    with writing(session):
        session.execute(delete(LoginFailure).where(LoginFailure.key.in_(list(keys))))
