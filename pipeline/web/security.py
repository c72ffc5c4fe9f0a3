"""Web security pieces that hold no routes: CSRF tokens, the login rate limit, roles.

Sessions live in a signed, HttpOnly, SameSite cookie (Starlette's SessionMiddleware); each
session carries a random CSRF token that every form posts back. Failed logins are limited
per client address and per account name.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

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
}

# Where each role lands after logging in: its first page it may see.
HOME_PAGES = (("view_queue", "queue_page"), ("view_rebuttals", "narratives_page"))

CSRF_FIELD = "csrf_token"


def allowed(role: str | None, permission: str) -> bool:
    return role is not None and role in PERMISSIONS[permission]


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)


class LoginRateLimiter:
    """At most ``max_failures`` failed logins per key in ``window`` seconds."""

    def __init__(self, max_failures: int = 5, window: float = 300.0, clock=time.monotonic):
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        q = self._failures[key]
        cutoff = self.clock() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        with self._lock:
            return any(len(self._recent(k)) >= self.max_failures for k in keys)

    def failed(self, *keys: str) -> None:
        with self._lock:
            now = self.clock()
            for k in keys:
                self._recent(k).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)
