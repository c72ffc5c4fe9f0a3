"""Server-side login sessions: the browser holds only a random token; the ``login_sessions``
row (keyed by the token's sha256) says whose session it is, its CSRF token and its times.

A session ends when it is deleted: at logout, and for every session of an account when the
account is switched off or changes role or password (``pipeline.store.users`` calls
``end_user_sessions`` in the same transaction as the change). A session idle for longer than
its idle timeout, or older than its absolute lifetime, is refused and deleted.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .db import writing
from .tables import LoginSession, User, utcnow

# A session's last_seen_at is written at most this often: not every page view is a write.
# The idle timeout is then exact to within this much.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lives: ``idle`` since its last request, ``lifetime`` in all."""

    idle: timedelta
    lifetime: timedelta


def token_id(token: str) -> str:
    """The row id of a session token: its sha256, so reading the table logs no one in.

    >>> len(token_id("abc")), token_id("abc") == token_id("abc")
    (64, True)
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(
    session: Session, user: User, limits: SessionLimits, now: datetime | None = None
) -> tuple[str, LoginSession]:
    """A new session of ``user``: (the token for the cookie, its row). A fresh random token
    every time, so a token known before logging in is worth nothing after (no fixation)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with writing(session):
        # Sessions past their lifetime are dead whatever happens: clear them out as we go.
        session.execute(delete(LoginSession).where(LoginSession.created_at < now - limits.lifetime))
        row = LoginSession(
            id=token_id(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
        )
        session.add(row)
    session.refresh(row)  # loads the account with it, readable after the session closes
    return token, row


def find_session(
    session: Session, token: str | None, limits: SessionLimits, now: datetime | None = None
) -> LoginSession | None:
    """The live session of ``token`` with its (active) account, or None; an expired session
    or one whose account was switched off is deleted on the way."""
    if not token:
        return None
    now = now or utcnow()
    key = token_id(token)
    query = (
        select(LoginSession).where(LoginSession.id == key).execution_options(populate_existing=True)
    )
    row = session.scalars(query).one_or_none()
    if row is None:
        return None
    expired = now - row.last_seen_at > limits.idle or now - row.created_at > limits.lifetime
    if expired or not row.user.active:
        end_session(session, token)
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        with writing(session):
            session.execute(
                update(LoginSession).where(LoginSession.id == key).values(last_seen_at=now)
            )
    return row


def end_session(session: Session, token: str | None) -> None:
    """Log this token's session out (nothing happens when there is none)."""
    if not token:
        return
    with writing(session):
        session.execute(delete(LoginSession).where(LoginSession.id == token_id(token)))


def end_user_sessions(session: Session, user_id: int) -> int:
    """Delete every session of an account, in the caller's transaction; returns how many."""
    result = session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    return result.rowcount or 0
