"""Outbound webhooks, so a newsroom's systems can follow: an event is posted when a rebuttal
is published (``rebuttal.published``) and when an item's label is decided
(``label.decided``).

An outbox: ``enqueue`` writes the event in the transaction of the change it reports (a change
that rolls back sends nothing; a receiver that is down loses nothing), and ``deliver_due``
posts the due events, retrying with exponential backoff until ``MAX_ATTEMPTS``. Delivery is
at least once: a receiver dedupes on the ``X-Kiemtin-Delivery`` id. Every outcome is audited
(actor ``webhook``: ``deliver``, ``retry``, ``fail``).

Each request carries ``X-Kiemtin-Signature: sha256=<hex>``, the HMAC-SHA256 with the shared
secret of ``<X-Kiemtin-Timestamp>.<body>``; a receiver recomputes it, compares in constant time
and refuses old timestamps (replays). Payloads hold ids, labels, times and rebuttal titles:
never a post's text nor who answered.

Settings: ``KIEMTIN_WEBHOOK_URL`` (none: no events are written) and
``KIEMTIN_WEBHOOK_SECRET`` (required with it, at least 16 characters).
"""

from __future__ import annotations

import hmac
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..errors import InputError
from . import audit
from .db import writing
from .tables import WebhookDelivery, utcnow

EVENTS = ("rebuttal.published", "label.decided")
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)  # then 1, 2, 4 ... minutes
LONGEST_WAIT = timedelta(hours=1)
# A delivery being sent is claimed for this long, so two senders (two worker processes)
# do not post it twice; a sender that dies mid-way leaves it to be retried after.
CLAIM = timedelta(minutes=2)
TIMEOUT_SECONDS = 10.0
BATCH = 50
MIN_SECRET_CHARS = 16


@dataclass(frozen=True)
class WebhookSettings:
    url: str | None = None
    secret: str = ""

    def __post_init__(self):
        if self.url is None:
            return
        if urlsplit(self.url).scheme not in ("http", "https") or not urlsplit(self.url).netloc:
            raise InputError(
                "KIEMTIN_WEBHOOK_URL",
                expected="an http:// or https:// address",
                found=repr(self.url),
                fix="Set it to the receiver's address, e.g. https://newsroom.example/hooks.",
            )
        if len(self.secret) < MIN_SECRET_CHARS:
            raise InputError(
                "KIEMTIN_WEBHOOK_SECRET",
                expected=f"a shared secret of at least {MIN_SECRET_CHARS} characters",
                found=f"{len(self.secret)} characters",
                fix="Agree a random secret with the receiver, e.g. python -c "
                "'import secrets; print(secrets.token_urlsafe(32))'.",
            )

    @classmethod
    def from_env(cls) -> WebhookSettings:
        url = os.environ.get("KIEMTIN_WEBHOOK_URL", "").strip() or None
        return cls(url, os.environ.get("KIEMTIN_WEBHOOK_SECRET", ""))


def enqueue(session: Session, event: str, payload: dict) -> WebhookDelivery | None:
    """Add ``event`` to the outbox in the caller's transaction (None: no webhook is set)."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if WebhookSettings.from_env().url is None:
        return None
    now = utcnow()
    delivery = WebhookDelivery(
        event=event,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    return delivery


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Kiemtin-Signature`` value of a request.

    >>> signature("s" * 16, "1700000000", b"{}")[:7]
    'sha256='
    """
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, "sha256")
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 30 s, 1 min, 2 min ... 1 h."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_WAIT)


@dataclass(frozen=True)
class Response:
    status: int | None  # None: no answer (refused, timed out)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post_json(url: str, body: bytes, headers: dict[str, str]) -> Response:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            return Response(answer.status)
    except urllib.error.HTTPError as exc:
        return Response(exc.code, f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        return Response(None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def _claim_due(session: Session, now: datetime, limit: int) -> list[WebhookDelivery]:
    """The due deliveries, claimed (their next attempt moved past the claim) in one write."""
    with writing(session):
        due = list(
            session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if due:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_([d.id for d in due]))
                .values(next_attempt_at=now + CLAIM)
            )
    return due


def _body(delivery: WebhookDelivery) -> bytes:
    message = {
        "id": delivery.id,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(message, ensure_ascii=False, sort_keys=True).encode("utf-8")


def deliver_due(
    sessions: sessionmaker,
    settings: WebhookSettings | None = None,
    *,
    now: datetime | None = None,
    send: Callable[[str, bytes, dict[str, str]], Response] = post_json,
    limit: int = BATCH,
) -> DeliveryReport:
    """Post every due event once (in id order); failures are rescheduled or, after
    ``MAX_ATTEMPTS``, marked failed. Returns what happened."""
    settings = settings or WebhookSettings.from_env()
    report = DeliveryReport()
    if settings.url is None:
        return report
    now = now or utcnow()
    with sessions() as session:
        due = _claim_due(session, now, limit)
    for delivery in due:
        body = _body(delivery)
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "kiemtin-webhook",
            "X-Kiemtin-Event": delivery.event,
            "X-Kiemtin-Delivery": str(delivery.id),
            "X-Kiemtin-Timestamp": timestamp,
            "X-Kiemtin-Signature": signature(settings.secret, timestamp, body),
        }
        response = send(settings.url, body, headers)
        with sessions() as session:
            _record(session, delivery.id, response, now, report)
    return report


def _record(session: Session, delivery_id: int, response: Response, now: datetime, report) -> None:
    with writing(session):
        row = session.get(WebhookDelivery, delivery_id, populate_existing=True)
        row.attempts += 1
        outcome = {"event": row.event, "attempt": row.attempts, "status_code": response.status}
        if response.ok:
            row.status, row.delivered_at, row.last_error = "delivered", now, None
            action = "deliver"
            report.delivered += 1
        else:
            row.last_error = response.error or f"HTTP {response.status}"
            outcome["error"] = row.last_error
            if row.attempts >= MAX_ATTEMPTS:
                row.status, action = "failed", "fail"
                report.failed += 1
            else:
                row.next_attempt_at = now + backoff(row.attempts)
                outcome["next_attempt_at"] = row.next_attempt_at.isoformat()
                action = "retry"
                report.retried += 1
        audit.record(session, "webhook", action, "webhook", row.id, None, outcome)


def recent_deliveries(session: Session, limit: int = 20) -> list[WebhookDelivery]:
    return list(
        session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit))
    )
