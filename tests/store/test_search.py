"""Full-text search: accent-insensitive, every word must match, the queue's filters, pages by
cursor that neither repeat nor miss, a total count, input that would be syntax to the database
searched as text, and items stored before and after migration 0006 all found."""

from __future__ import annotations

import doctest

import pytest
from alembic import command

import pipeline.store.search
from pipeline.errors import InputError
from pipeline.store import add_scored, add_user, record_answer
from pipeline.store.db import alembic_config, upgrade
from pipeline.store.search import search_items, search_narratives
from pipeline.store.tables import Item, fold_for_search
from tests.conftest import vihsd_rows
from tests.store.conftest import scored

FAKE_NEWS = "Tin GIẢ: uống nước chanh nóng chữa khỏi ung thư, gọi 0912345678 để mua"
FAKE_NEWS_2 = "Đây là tin giả do bọn phản động tung ra để tuyên truyền chống phá"
FAKE_PRICE = "tin gia xang tang 5000 dong mot lit tu ngay mai"  # written without diacritics
PEACE_OLD = "Mong cho đất nước hoà bình, không ai phải khổ"  # old tone placement
PEACE_NEW = "Hòa bình là khát vọng của cả dân tộc ta"  # new tone placement
TEENCODE = "ko tin dc đâu, toàn tin vịt"


def _found(page) -> list[str]:
    """The source ids of a page's items."""
    return [it.source_id for it in page.items]


def _ids(page) -> list[int]:
    return [it.id for it in page.items]


@pytest.fixture
def stocked(session):
    records = [
        scored("fake", FAKE_NEWS, hostile=(0.2, 0.5, 0.3)),
        scored("fake2", FAKE_NEWS_2, hostile=(0.1, 0.3, 0.6)),
        scored("price", FAKE_PRICE, hostile=(0.7, 0.2, 0.1)),
        scored("peace-old", PEACE_OLD, hostile=(0.9, 0.05, 0.05)),
        scored("peace-new", PEACE_NEW, hostile=(0.95, 0.03, 0.02)),
        scored("teen", TEENCODE, hostile=(0.6, 0.3, 0.1)),
        scored("false", FAKE_NEWS_2 + " (bản tin khác)", hostile=None, false=(0.1, 0.9)),
    ]
    add_scored(session, records, actor="test")
    return session


def test_a_query_without_diacritics_finds_the_text_with_them_and_back(stocked):
    expected = {"fake", "fake2", "price"}
    for query in ("tin gia", "tin giả", "TIN GIẢ", "Tin  GIA!", "tín giá"):
        page = search_items(stocked, query, task="hostile", prefix=False)
        assert set(_found(page)) == expected, query
        assert page.total == 3
        assert page.words == ("tin", "gia")


def test_old_and_new_tone_placement_and_teencode_fold_alike(stocked):
    for query in ("hoà bình", "hòa bình", "HOA BINH"):
        assert set(_found(search_items(stocked, query))) == {"peace-old", "peace-new"}, query
    # "ko" is "không" once folded, in the text and in the query.
    assert set(_found(search_items(stocked, "không tin", prefix=False))) == {"teen"}
    assert set(_found(search_items(stocked, "ko tin", prefix=False))) == {"teen"}


def test_every_word_must_match_and_the_last_may_be_a_prefix(stocked):
    assert _found(search_items(stocked, "tin gia ung thu")) == ["fake"]
    assert _found(search_items(stocked, "tin ung thư vịt")) == []
    assert _found(search_items(stocked, "tuyên truy", task="hostile")) == ["fake2"]
    assert _found(search_items(stocked, "tuyên truy", prefix=False)) == []
    assert _found(search_items(stocked, "ung th")) == ["fake"]
    assert _found(search_items(stocked, "ung th", prefix=False)) == []
    # one letter is a word, not the start of most words
    assert _found(search_items(stocked, "nuoc h")) == []  # not "nước hoà"
    assert _found(search_items(stocked, "nuoc ho")) != []
    assert _found(search_items(stocked, "uong nuoc c")) == []
    assert _found(search_items(stocked, "uong nuoc ch")) == ["fake"]


def test_masked_personal_data_is_not_searchable(stocked):
    assert search_items(stocked, "0912345678").total == 0
    assert search_items(stocked, "goi de mua").total == 1


def test_the_queue_filters_apply(stocked):
    def found(**filters):
        return set(_found(search_items(stocked, "tin gia", prefix=False, **filters)))

    assert found() == {"fake", "fake2", "price", "false"}
    assert found(task="false") == {"false"}
    assert found(task="hostile", label="hate") == {"fake2"}
    assert found(task="hostile", min_risk=0.8) == {"fake", "fake2"}
    assert found(task="hostile", max_risk=0.3) == {"price"}
    assert found(task="hostile", min_risk=0.8, max_risk=0.8) == {"fake"}
    assert found(status="answered") == set()
    add_user(stocked, "lan", "reviewer", "lan password")
    price = stocked.query(Item).filter_by(text=FAKE_PRICE).one()
    record_answer(stocked, price.id, "lan", "clean", price.version)
    assert found(status="answered") == {"price"}
    assert "price" not in found(status="open")


def test_group_members_are_left_out_unless_asked_for(session):
    text = "Tin giả: Bộ Y tế xác nhận uống nước chanh nóng mỗi sáng chữa khỏi ung thư giai đoạn"
    add_scored(session, [scored("a", text), scored("b", text + "!!! chia sẻ ngay")], actor="t")
    members = session.query(Item).filter_by(is_representative=False).count()
    assert members == 1
    assert search_items(session, "nuoc chanh").total == 1
    assert search_items(session, "nuoc chanh", members=True).total == 2


def test_pages_beyond_the_first_repeat_and_miss_nothing(session):
    rows = vihsd_rows("train", 400)
    risks = [(0.5, 0.3, 0.2), (0.2, 0.4, 0.4), (0.9, 0.05, 0.05)]  # many ties on risk
    records = [
        scored(r["id"], f"{r['text']} tin giả", hostile=risks[i % 3]) for i, r in enumerate(rows)
    ]
    records += [scored(f"other-{i}", f"bài số {i} không liên quan") for i in range(30)]
    add_scored(session, records, actor="t")
    matching = {
        it.id: (it.risk, it.id)
        for it in session.query(Item)
        if "tin giả" in it.text and it.is_representative
    }
    assert len(matching) > 120  # three pages and more
    seen, after, pages = [], None, 0
    while True:
        page = search_items(session, "tin gia", after=after, limit=50, prefix=False)
        assert page.total == len(matching)
        assert len(page.items) == 50 or page.next is None
        seen += _ids(page)
        pages += 1
        after = page.next
        if after is None:
            break
    assert pages == -(-len(matching) // 50)
    assert len(seen) == len(set(seen))  # no repeats
    assert set(seen) == set(matching)  # no misses
    assert seen == sorted(matching, key=lambda i: matching[i], reverse=True)  # risk, then id


def test_a_broad_search_walks_the_risk_order_to_the_same_pages(session, monkeypatch):
    """The plan for a word the index matches often (the risk indexes walked per status) and
    the plan for a rare one (matches sorted) give the same items, in the same order, across
    statuses, tasks, filters and pages."""
    rows = vihsd_rows("train", 300)
    risks = [(0.5, 0.3, 0.2), (0.2, 0.4, 0.4), (0.9, 0.05, 0.05), (0.3, 0.3, 0.4)]
    records = [
        scored(
            r["id"],
            f"{r['text']} tin giả",
            hostile=risks[i % 4],
            false=(0.4, 0.6) if i % 5 == 0 else None,
        )
        for i, r in enumerate(rows)
    ]
    records += [scored(f"other-{i}", f"bài số {i} không liên quan") for i in range(30)]
    add_scored(session, records, actor="t")
    add_user(session, "lan", "reviewer", "lan's long password")
    for n, item in enumerate(session.query(Item).filter_by(task="hostile").limit(40)):
        record_answer(session, item.id, "lan", "clean", None)  # some items leave "open"
        if n >= 30:
            break
    assert {s for (s,) in session.query(Item.status).distinct()} > {"open"}

    def pages(query, prefix, **filters):
        seen, after = [], None
        while True:
            page = search_items(session, query, after=after, limit=40, prefix=prefix, **filters)
            seen.append((_ids(page), page.total))
            after = page.next
            if after is None:
                return seen

    calls = []
    plans = {
        "one go": (1024, 4, 65_536),
        "growing": (3, 0, 65_536),
        "at the share seen": (3, 4, 65_536),
        "giving up": (3, 0, 12),
    }
    seen = {plan: [] for plan in plans}
    risk_order, walk = pipeline.store.search._riskiest, pipeline.store.search._walk_risk_order

    def counted_risk_order(session, conditions, status, limit, *columns):
        calls.append(limit)
        return risk_order(session, conditions, status, limit, *columns)

    def counted_walk(*args):
        calls.append("walk")
        return walk(*args)

    monkeypatch.setattr(pipeline.store.search, "_riskiest", counted_risk_order)
    monkeypatch.setattr(pipeline.store.search, "_walk_risk_order", counted_walk)
    every = (
        {},
        {"task": "hostile"},
        {"status": "open"},
        {"task": "false"},
        {"task": "hostile", "status": "answered", "label": "clean"},
        {"min_risk": 0.5, "members": True},
    )
    # whole words, and the last word as a prefix (each candidate's own text checked as the
    # index matches: "gi" is the start of "gia" and of other words)
    queries = [("tin gia", False, f) for f in every] + [("tin gi", True, {}), ("gi", True, {})]
    for query, prefix, filters in queries:
        monkeypatch.setattr(pipeline.store.search, "BROAD_MATCHES", 10**9)
        sorted_plan = pages(query, prefix, **filters)
        monkeypatch.setattr(pipeline.store.search, "BROAD_MATCHES", 5)
        assert pages(query, prefix, **filters) == sorted_plan, filters  # the walk
        monkeypatch.setattr(pipeline.store.search, "DENSE_MATCHES", 5)
        for plan, (least, spare, most) in plans.items():
            # candidates first: all in one go; growing four times while a page is short, or
            # to hold a page at the share of matches seen; giving up to the walk past
            # MAX_CANDIDATES
            monkeypatch.setattr(pipeline.store.search, "MIN_CANDIDATES", least)
            monkeypatch.setattr(pipeline.store.search, "SPARE", spare)
            monkeypatch.setattr(pipeline.store.search, "MAX_CANDIDATES", most)
            for checked_on in (0, 10**9):  # each candidate's text; the index's matches
                monkeypatch.setattr(pipeline.store.search, "TEXT_PER_MATCH", checked_on)
                calls[:] = []
                assert pages(query, prefix, **filters) == sorted_plan, (query, plan, checked_on)
                seen[plan] += calls
        monkeypatch.setattr(pipeline.store.search, "DENSE_MATCHES", 20_000)
        assert sum(len(ids) for ids, _ in sorted_plan) == sorted_plan[0][1] > 0, filters
    if session.get_bind().dialect.name == "sqlite":  # PostgreSQL's planner picks its own plan
        assert "walk" not in seen["one go"] and len(set(seen["one go"])) == 1
        assert "walk" not in seen["growing"] and {3, 12, 48} <= set(seen["growing"])
        by_share = set(seen["at the share seen"])
        assert "walk" not in by_share and by_share - {3 * 4**k for k in range(12)}
        assert "walk" in seen["giving up"] and 48 not in seen["giving up"]
    else:
        assert seen == {plan: [] for plan in plans}


def test_a_total_past_the_exact_count_is_a_lower_bound(session, monkeypatch):
    rows = vihsd_rows("train", 25)
    add_scored(session, [scored(r["id"], f"{r['text']} tin giả") for r in rows], actor="t")
    add_scored(session, [scored("rare", "tin giả hiếm có khó tìm")], actor="t")
    page = search_items(session, "tin gia")
    assert (page.total, page.total_capped) == (26, False)
    monkeypatch.setattr(pipeline.store.search, "EXACT_TOTAL", 10)
    page = search_items(session, "tin gia", limit=5)
    assert (page.total, page.total_capped, len(page.items)) == (10, True, 5)
    rare = search_items(session, "tin gia hiem")
    assert (rare.total, rare.total_capped, _found(rare)) == (1, False, ["rare"])


def test_input_that_is_database_syntax_is_searched_as_text_or_ignored(stocked):
    for query in (
        '"',
        "*",
        "-",
        "NEAR(",
        ")",
        "'",
        ":*",
        "&",
        "|",
        "!",
        "^",
        "()",
        "\\",
        '" OR 1=1 --',
        "AND",
        "tin AND",
        "tin OR vịt",
        "NOT tin",
        "tin -vịt",
        "tin NEAR(gia",
        'tin" gia',
        "tin & gia:*",
        "tin:gia",
        "tin*",
        "tin +gia",
        "{tin}",
        "search_text:tin",
        "🙂 tin giả 🙂",
        "\x00tin",
        "ﾃｽﾄ",
        "tin" * 300,
    ):
        page = search_items(stocked, query)
        assert page.total == len(page.items)
    assert search_items(stocked, '"').words == ()
    assert search_items(stocked, '"').total == 0
    assert search_items(stocked, "*").items == []
    assert search_items(stocked, "NEAR(").words == ("near",)
    assert set(_found(search_items(stocked, 'tin" gia', task="hostile", prefix=False))) == {
        "fake",
        "fake2",
        "price",
    }
    # Operators are words: "OR" must occur too, so nothing matches.
    assert search_items(stocked, "tin OR vịt").total == 0
    assert search_items(stocked, "tin NOT").total == 0


def test_refused_input_says_what_was_expected(stocked):
    with pytest.raises(InputError, match="after: expected the 'next' cursor"):
        search_items(stocked, "tin", after="garbage")
    with pytest.raises(InputError, match="after"):
        search_items(stocked, "tin", after="nan_3")
    with pytest.raises(InputError, match="limit"):
        search_items(stocked, "tin", limit=0)
    with pytest.raises(InputError, match="status"):
        search_items(stocked, "tin", status="closed")
    with pytest.raises(InputError, match="min_risk"):
        search_items(stocked, "tin", min_risk="high")
    with pytest.raises(InputError, match="at most 20 words"):
        search_items(stocked, " ".join(f"w{i}" for i in range(21)))
    with pytest.raises(InputError, match="query: expected a string"):
        search_items(stocked, None)


def test_items_stored_before_the_migration_and_after_it_are_found(db_url, engine, sessions):
    with sessions() as s:
        add_scored(s, [scored("old", FAKE_NEWS), scored("old2", PEACE_OLD)], actor="t")
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0005")
    upgrade(db_url)  # 0006 folds the stored texts
    with sessions() as s:
        assert _found(search_items(s, "tin gia ung thu")) == ["old"]
        assert _found(search_items(s, "hoa binh")) == ["old2"]
        add_scored(s, [scored("new", PEACE_NEW)], actor="t")
        assert set(_found(search_items(s, "hoa binh"))) == {"old2", "new"}
    with sessions() as s, s.begin():  # found in the transaction that adds it, too
        add_scored(s, [scored("newer", "hoà bình mãi mãi")], actor="t")
        assert search_items(s, "hoa binh").total == 3


def _confirm(session, rid, text, label):
    add_scored(session, [scored(rid, text, hostile=None, false=(0.2, 0.8))], actor="t")
    item = session.query(Item).filter_by(source_id=rid).one()
    record_answer(session, item.id, "lan", label, item.version)
    return item


def test_narratives_are_searched_among_the_confirmed_only(session):
    add_user(session, "lan", "reviewer", "lan password")
    # Long, distinct posts, so that none joins another's near-duplicate group.
    long_rows = [r["text"] for r in vihsd_rows("dev", 300) if len(r["text"]) > 120][:7]
    texts = [f"Tin giả số {i}: {text}" for i, text in enumerate(long_rows)]
    for i, text in enumerate(texts[:5]):
        _confirm(session, f"n{i}", text, "unreliable")
    _confirm(session, "ok", texts[5], "reliable")  # decided, but not a narrative
    add_scored(session, [scored("open", texts[6], hostile=None, false=(0.2, 0.8))], actor="t")
    seen, after = [], None
    while True:
        page = search_narratives(session, "tin gia so", after=after, limit=2)
        assert page.total == 5
        seen += [n.item.source_id for n in page.narratives]
        assert all(n.posts == 1 and n.rebuttals == {} for n in page.narratives)
        after = page.next
        if after is None:
            break
    assert seen == ["n4", "n3", "n2", "n1", "n0"]  # the most recently decided first, once each
    assert search_narratives(session, "tin gia so", task="hostile").total == 0
    assert search_narratives(session, "*").narratives == []
    with pytest.raises(InputError, match="after"):
        search_narratives(session, "tin", after="0.5_x")


def test_docstring_examples():
    assert doctest.testmod(pipeline.store.search).failed == 0
    assert fold_for_search("Tin GIẢ, hoà bình ko?") == "tin gia hoa binh khong"  # its example


@pytest.mark.parametrize("after", ["0.5_²", "0.5_99999999999999999999", "0.5_9223372036854775808"])
def test_a_cursor_with_odd_digits_or_an_id_no_row_can_have_is_refused(session, after):
    with pytest.raises(InputError) as refused:
        search_items(session, "tin", after=after)
    assert refused.value.what == "after"
