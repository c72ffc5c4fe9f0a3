"""Nothing lost under load, through HTTP: 20 reviewers, each in a browser session of its own,
post 100 answers at once against SQLite and PostgreSQL. Every answer is recorded exactly
once, and a second answer to the same items is refused as a conflict, never written."""

import re
import threading
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.store.intake import add_scored
from pipeline.store.tables import Answer, Item, User
from pipeline.store.users import add_user
from tests.store.conftest import scored
from tests.store.test_queue import posts
from tests.web.conftest import PASSWORD, csrf_of, log_in

CLIENTS = 20
ANSWERS = 100


@pytest.mark.slow  # 20 clients x 100 answers over HTTP
def test_twenty_clients_answering_at_once_lose_nothing(app, engine, sessions):
    add_scored(
        engine,
        [scored(f"c{i}", t) for i, t in enumerate(posts(CLIENTS * ANSWERS, 11))],
        actor="test",
    )
    with sessions() as s:
        for c in range(CLIENTS):
            add_user(s, f"c{c}", "reviewer", PASSWORD)
        ids = dict(s.execute(select(Item.source_id, Item.id).where(Item.task == "hostile")).all())
    statuses: Counter = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def reviewer(c: int) -> None:
        try:
            with TestClient(app, follow_redirects=False) as client:
                assert log_in(client, f"c{c}").status_code == 303
                token = csrf_of(client.get("/queue").text)
                mine = [ids[f"c{c * ANSWERS + k}"] for k in range(ANSWERS)]
                # The neighbour's first item too: it is answered by its owner at the same time.
                theirs = ids[f"c{((c + 1) % CLIENTS) * ANSWERS}"]
                start.wait()
                seen = Counter()
                for item_id in [*mine, theirs]:
                    r = client.post(
                        f"/items/{item_id}/answer",
                        data={"label": "hate", "version": "0", "csrf_token": token},
                    )
                    seen[r.status_code] += 1
                    if r.status_code == 409:
                        assert re.search(r"changed since|not open|status", r.text)
                with lock:
                    statuses.update(seen)
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    with sessions() as s:
        stored = s.execute(select(Answer.item_id, User.name).join(User)).all()
    # Each client's 100 answers, plus one per client that won the race on a neighbour's item
    # (none can: the owner or the neighbour gets there first, the other gets a conflict).
    assert len(stored) == len(set(stored)) == CLIENTS * ANSWERS
    assert Counter(item for item, _ in stored).most_common(1)[0][1] == 1
    assert statuses[303] == CLIENTS * ANSWERS and statuses[409] == CLIENTS
