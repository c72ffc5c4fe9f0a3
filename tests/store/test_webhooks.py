"""Webhooks against a local receiver: events written with the change they report, signed,
retried with backoff, audited, never lost (SQLite and PostgreSQL)."""

from __future__ import annotations

import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.errors import InputError
from pipeline.store import rebuttals as rb
from pipeline.store.answers import record_answer
from pipeline.store.audit import entries
from pipeline.store.tables import Item, WebhookDelivery, utcnow
from pipeline.store.webhooks import (
    MAX_ATTEMPTS,
    WebhookSettings,
    backoff,
    deliver_due,
    signature,
)
from tests.store.test_rebuttals import BODY, HOAX, _false, team  # noqa: F401 - fixture

SECRET = "a shared secret for the newsroom"


class Receiver:
    """A newsroom's endpoint on loopback: answers with the next status in ``replies``
    (then 200) and keeps what it was sent."""

    def __init__(self, replies=()):
        self.replies = list(replies)
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.replies.pop(0) if receiver.replies else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch):
    with Receiver() as r:
        monkeypatch.setenv("KIEMTIN_WEBHOOK_URL", r.url)
        monkeypatch.setenv("KIEMTIN_WEBHOOK_SECRET", SECRET)
        yield r


def _publish(session):
    from pipeline.store import add_scored

    add_scored(session, [_false("hoax", HOAX)], actor="test")
    item = session.query(Item).filter_by(source_id="hoax").one()
    record_answer(session, item.id, "lan", "unreliable", item.version)
    draft = rb.create_draft(session, item.id, "vy", "Chanh không chữa ung thư", BODY)
    approved = rb.approve(session, draft.id, "khoa", draft.version)
    return item, rb.publish(session, draft.id, "vy", approved.version)


def test_a_decided_label_and_a_published_rebuttal_reach_the_receiver_signed(
    team, sessions, receiver  # noqa: F811
):
    item, published = _publish(team)
    report = deliver_due(sessions)
    assert (report.delivered, report.retried, report.failed) == (2, 0, 0)
    events = []
    for headers, body in receiver.received:
        expected = signature(SECRET, headers["X-Kiemtin-Timestamp"], body)
        assert hmac.compare_digest(headers["X-Kiemtin-Signature"], expected)
        message = json.loads(body)
        assert headers["X-Kiemtin-Event"] == message["event"]
        assert headers["X-Kiemtin-Delivery"] == str(message["id"])
        events.append((message["event"], message["data"]))
    assert [e for e, _ in events] == ["label.decided", "rebuttal.published"]
    decided, publication = (data for _, data in events)
    assert decided["item_id"] == item.id and decided["label"] == "unreliable"
    assert decided["decided_by"] == "agreement"
    assert publication["rebuttal_id"] == published.id and publication["label"] == "unreliable"
    assert "Bộ Y tế" not in json.dumps(events, ensure_ascii=False)  # no post text
    assert "lan" not in json.dumps(decided)  # nor who answered
    assert deliver_due(sessions).delivered == 0  # delivered once


def test_a_receiver_that_is_down_gets_the_event_later_with_backoff(
    team, sessions, receiver  # noqa: F811
):
    receiver.replies = [503, 500]
    _publish(team)
    now = utcnow()
    first = deliver_due(sessions, now=now)
    assert (first.delivered, first.retried) == (0, 2)
    assert deliver_due(sessions, now=now + timedelta(seconds=29)).delivered == 0  # not due yet
    second = deliver_due(sessions, now=now + backoff(1))
    assert (second.delivered, second.retried) == (2, 0)
    with sessions() as s:
        rows = s.query(WebhookDelivery).order_by(WebhookDelivery.id).all()
        assert [(r.status, r.attempts) for r in rows] == [("delivered", 2), ("delivered", 2)]
        trail = [(e.actor, e.action) for e in entries(s, "webhook", rows[0].id)]
    assert trail == [("webhook", "retry"), ("webhook", "deliver")]
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(seconds=30), timedelta(minutes=1),
                                               timedelta(minutes=2)]
    assert backoff(20) == timedelta(hours=1)


def test_after_the_last_attempt_an_event_is_failed_not_dropped(team, sessions, monkeypatch):  # noqa: F811
    monkeypatch.setenv("KIEMTIN_WEBHOOK_URL", "http://127.0.0.1:9/nothing-listens-here")
    monkeypatch.setenv("KIEMTIN_WEBHOOK_SECRET", SECRET)
    from pipeline.store import add_scored

    add_scored(team, [_false("hoax", HOAX)], actor="test")
    item = team.query(Item).filter_by(source_id="hoax").one()
    record_answer(team, item.id, "lan", "unreliable", item.version)
    now = utcnow()
    for attempt in range(MAX_ATTEMPTS):
        deliver_due(sessions, now=now)
        now += backoff(attempt + 1)
    with sessions() as s:
        [row] = s.query(WebhookDelivery).all()
        assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
        assert "Connection" in row.last_error or "refused" in row.last_error
        assert entries(s, "webhook", row.id)[-1].action == "fail"


def test_no_webhook_set_writes_no_events_and_bad_settings_are_clear(team, monkeypatch):  # noqa: F811
    monkeypatch.delenv("KIEMTIN_WEBHOOK_URL", raising=False)
    _publish(team)
    assert team.query(WebhookDelivery).count() == 0
    with pytest.raises(InputError, match="KIEMTIN_WEBHOOK_SECRET"):
        WebhookSettings("https://newsroom.example/hooks", "short")
    with pytest.raises(InputError, match="KIEMTIN_WEBHOOK_URL"):
        WebhookSettings("ftp://newsroom.example", SECRET)


def test_kiemtin_serve_sends_them_in_the_background(team, sessions, receiver):  # noqa: F811
    import time

    from pipeline.cli.serve import start_webhook_sender

    stop = threading.Event()
    thread = start_webhook_sender(sessions, stop, every=0.05)
    try:
        _publish(team)
        for _ in range(200):
            if len(receiver.received) == 2:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert len(receiver.received) == 2 and not thread.is_alive()
