"""Nothing lost under load: 20 reviewers at once, 100 answers each, on both databases.

Each thread has its own session and reviewer. It answers its own 100 items (no contention:
every one must succeed) and, between them, tries to answer shared items that every thread
wants (reviews_needed = 3: exactly three answers per shared item can succeed; the rest are
version conflicts once the item is decided, or find it closed). Conflicts must be reported,
never swallowed, and the answers table must hold exactly the answers the threads were told
succeeded.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from pipeline.store import ConflictError, add_scored, add_user, get_item, record_answer
from pipeline.store.tables import Answer, AuditEntry, Item, User
from tests.store.conftest import scored
from tests.store.test_queue import posts

THREADS = 20
OWN = 100
SHARED = 10
SHARED_REVIEWS = 3


@pytest.mark.slow  # 20 threads x 100 answers
def test_twenty_reviewers_answering_at_once_lose_nothing(sessions):
    texts = posts(THREADS * OWN + SHARED, seed=3)
    with sessions() as session:
        add_scored(session, [scored(f"own{i}", t) for i, t in enumerate(texts[SHARED:])],
                   actor="analyst")
        add_scored(session, [scored(f"shared{i}", t) for i, t in enumerate(texts[:SHARED])],
                   actor="analyst", reviews_needed=SHARED_REVIEWS)
        for t in range(THREADS):
            add_user(session, f"r{t}", "reviewer", "long password")
        rows = session.execute(select(Item.id, Item.source_id, Item.group_id)).all()
    assert len(rows) == THREADS * OWN + SHARED and all(g is None for _, _, g in rows)
    by_source = {source: item_id for item_id, source, _ in rows}
    shared_ids = [by_source[f"shared{i}"] for i in range(SHARED)]

    succeeded: list[tuple[int, str]] = []
    conflicts: Counter = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def reviewer(t: int) -> None:
        name = f"r{t}"
        own = [by_source[f"own{t * OWN + k}"] for k in range(OWN)]
        # Every tenth answer goes for a shared item, in an order that differs per thread.
        plan = []
        for k, item_id in enumerate(own):
            plan.append((item_id, False))
            if k % 10 == 9:
                plan.append((shared_ids[(t + k // 10) % SHARED], True))
        mine, clashes = [], Counter()
        try:
            with sessions() as session:
                # The reviewer opened every shared item before the rush: these versions go
                # stale as soon as the item is decided, so conflicts must happen.
                loaded = {i: get_item(session, i).version for i in shared_ids}
                session.rollback()
                start.wait()
                for item_id, shared in plan:
                    version = loaded[item_id] if shared else 0
                    while True:
                        try:
                            record_answer(session, item_id, name, "hate", version)
                            mine.append((item_id, name))
                            break
                        except ConflictError as exc:
                            assert shared, f"own item {item_id} conflicted: {exc}"
                            stale = "the version you loaded" in str(exc)
                            clashes["stale version" if stale else "closed"] += 1
                            item = get_item(session, item_id)
                            if item.status != "open":
                                break
                            version = item.version  # reload, as a reviewer would, and retry
        except BaseException as exc:
            errors.append(exc)
        with lock:
            succeeded.extend(mine)
            conflicts.update(clashes)

    began = time.monotonic()
    threads = [threading.Thread(target=reviewer, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    assert not errors, errors

    with sessions() as session:
        stored = session.execute(
            select(Answer.item_id, User.name).join(User, User.id == Answer.reviewer_id)
        ).all()
        recorded = Counter(stored)
        # Every answer the threads were told succeeded is stored exactly once, and no other.
        assert max(recorded.values()) == 1
        assert set(recorded) == set(succeeded) and len(succeeded) == len(stored)
        assert len(stored) == THREADS * OWN + SHARED * SHARED_REVIEWS
        per_item = Counter(item_id for item_id, _ in stored)
        assert all(per_item[i] == SHARED_REVIEWS for i in shared_ids)
        assert session.scalar(select(func.count()).where(Item.status == "answered")) == (
            THREADS * OWN + SHARED
        )
        versions = session.execute(select(Item.id, Item.version)).all()
        # Only the deciding answer moves the version (independent answers do not).
        assert all(v == 1 for _, v in versions)
        answer_audits = session.scalar(
            select(func.count()).where(AuditEntry.entity == "answer")
        )
        assert answer_audits == len(stored)
    # Conflicts happened and were reported: of 20 threads * 10 shared attempts only 30 can
    # succeed; every other attempt ended in at least one ConflictError.
    assert sum(conflicts.values()) >= THREADS * SHARED - SHARED * SHARED_REVIEWS
    assert conflicts["stale version"] >= SHARED
    print(f"{len(stored)} answers, conflicts {dict(conflicts)}, {elapsed:.1f} s")
    assert elapsed < 60
