"""Web security pieces that hold no routes: CSRF tokens, the login throttle, roles, and where
a login may send the browser next.

Sessions are server-side (``pipeline.store.login_sessions``): the signed, HttpOnly,
SameSite=strict cookie carries a random session token, and the session's row its CSRF token,
which every form posts back. Failed logins are throttled per (client address, account name)
and per account name, with the counts in the database (``pipeline.store.login_throttle``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from ..store.login_throttle import (
    failure_counts,
    forget_failures,
    record_failure,
    throttle_key,
)
from ..store.tables import utcnow

ROLES = ("admin", "trainer", "reviewer", "communicator", "analyst")

# Who may do what. Routes name a permission; the matrix test walks every route × role.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view_queue": frozenset({"admin", "trainer", "reviewer"}),
    "answer": frozenset({"admin", "trainer", "reviewer"}),
    "adjudicate": frozenset({"admin", "trainer"}),
    "view_audit": frozenset({"admin"}),
    "view_rebuttals": frozenset({"admin", "trainer", "communicator"}),
    "write_rebuttal": frozenset({"admin", "communicator"}),
    # Communicators approve only with the right on their account (checked by the store).
    "approve_rebuttal": frozenset({"admin", "trainer", "communicator"}),
    "publish_rebuttal": frozenset({"admin", "trainer", "communicator"}),
    # The analysis page (background jobs) and the reviewed-labels download.
    "view_jobs": frozenset({"admin", "trainer", "analyst"}),
    "export_labels": frozenset({"admin", "trainer", "analyst"}),
    "manage_users": frozenset({"admin"}),
    # The progress and statistics page (figures per reviewer only for admins and trainers).
    "view_stats": frozenset({"admin", "trainer", "reviewer", "analyst"}),
    # The reviewers' guidelines of each task (label definitions and examples).
    "edit_guidelines": frozenset({"admin"}),
    # Giving items to a reviewer, or taking them back (pipeline.store.assignments).
    "assign": frozenset({"admin", "trainer"}),
}

# Where each role lands after logging in: its first page it may see.
HOME_PAGES = (
    ("view_queue", "queue_page"),
    ("view_rebuttals", "narratives_page"),
    ("view_jobs", "analyst_page"),
)

CSRF_FIELD = "csrf_token"


def allowed(role: str | None, permission: str) -> bool:
    return role is not None and role in PERMISSIONS[permission]


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)


def safe_next(target: str | None) -> str | None:
    r"""``target`` when it is a path on this site to go to after login, else None: only
    ``/path?query``, never another host (``//evil``, ``http://...``, ``/\evil``, which
    browsers read as ``//evil``) nor control characters (browsers drop tabs and newlines).

    >>> safe_next("/items/7?task=hostile")
    '/items/7?task=hostile'
    >>> [safe_next(t) for t in ("//evil.example", "https://evil.example/", "/\\evil", "queue")]
    [None, None, None, None]
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@dataclass(frozen=True)
class LoginRateLimiter:
    """The login throttle: at most ``max_failures`` failed logins per (address, name) and
    ``max_name_failures`` per name (from any addresses) in ``window`` seconds.

    Never per address alone: one attacker behind an office's NAT must not lock the office
    out. A refused attempt is not counted, so one address adds at most ``max_failures`` to a
    name's count; locking a name takes failures from several addresses. The counts live in
    the database, shared by every worker process and kept across restarts.
    """

    max_failures: int = 5
    window: float = 300.0
    max_name_failures: int = 20
    clock: Callable[[], datetime] = field(default=utcnow, compare=False)

    @staticmethod
    def keys(address: str, name: str) -> tuple[str, str]:
        return throttle_key("address+name", address, name), throttle_key("name", name)

    def _since(self) -> datetime:
        return self.clock() - timedelta(seconds=self.window)

    def blocked(self, session: Session, address: str, name: str) -> bool:
        pair, by_name = self.keys(address, name)
        counts = failure_counts(session, (pair, by_name), self._since())
        return (
            counts.get(pair, 0) >= self.max_failures
            or counts.get(by_name, 0) >= self.max_name_failures
        )

    def failed(self, session: Session, address: str, name: str) -> None:
        record_failure(session, self.keys(address, name), self.clock(), self._since())

    def succeeded(self, session: Session, address: str, name: str) -> None:
        # Only this address's count for the name: a name's count from other addresses may
        # be an attack in progress, and a correct login elsewhere should not reset it.
        forget_failures(session, self.keys(address, name)[:1])
