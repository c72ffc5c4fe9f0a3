"""``kiemtin webhooks deliver|list`` as an admin runs them (SQLite; the store suite covers
PostgreSQL)."""

from pipeline.cli import main
from pipeline.store import add_scored, add_user, record_answer
from pipeline.store.db import make_engine, session_factory, upgrade
from pipeline.store.tables import Item
from tests.store.conftest import scored
from tests.store.test_webhooks import SECRET, Receiver


def test_deliver_posts_the_due_events_and_list_shows_them(store_env, monkeypatch, capsys):
    assert main(["webhooks", "deliver"]) == 0
    assert "KIEMTIN_WEBHOOK_URL is not set" in capsys.readouterr().err
    with Receiver(replies=[500]) as receiver:
        monkeypatch.setenv("KIEMTIN_WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("KIEMTIN_WEBHOOK_SECRET", SECRET)
        upgrade(store_env)
        sessions = session_factory(make_engine(store_env))
        with sessions() as s:
            add_user(s, "lan", "reviewer", "a long enough password")
            add_scored(s, [scored("p", "Bọn nó toàn lũ ăn cắp", hostile=(0.1, 0.2, 0.7))],
                       actor="test")
            item = s.query(Item).one()
            record_answer(s, item.id, "lan", "hate", item.version)
        assert main(["webhooks", "deliver"]) == 0
        assert "0 delivered, 1 to retry, 0 failed" in capsys.readouterr().err
        assert main(["webhooks", "list"]) == 0
        assert capsys.readouterr().out.startswith("1\tlabel.decided\tpending\t1 attempts\tHTTP 500")
        assert len(receiver.received) == 1
