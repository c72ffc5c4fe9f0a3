"""The search box of the queue and narratives pages (on SQLite and PostgreSQL): words typed
without diacritics find the posts that have them, the queue's filters still apply, the
results come 50 a page with a link to the next that neither repeats nor misses, the count of
all results is shown, a cursor no page gave is a 400 and database search syntax is only
text. Without words the queue is the queue. The queue's rows can be chosen and labelled
together (the form of POST /items/bulk-answer: ``item`` fields ``ID:VERSION``)."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from pipeline.store import add_scored, record_answer
from pipeline.store.tables import Item
from pipeline.web.app import WebSettings, create_app
from tests.conftest import vihsd_rows
from tests.store.conftest import scored
from tests.web.conftest import csrf_of, log_in

ROW_ID = re.compile(r'<td class="id"><a href="/items/(\d+)"')
NARRATIVE_ID = re.compile(r'<td class="id"><a href="/narratives/(\d+)"')
NEXT = re.compile(r'<a href="([^"]+)" rel="next"')


def _ids(page_html: str, pattern=ROW_ID) -> list[int]:
    return [int(i) for i in pattern.findall(page_html)]


def _next(page_html: str) -> str | None:
    found = NEXT.search(page_html)
    return html.unescape(found[1]) if found else None


def _item(sessions, source_id: str) -> Item:
    with sessions() as s:
        item = s.query(Item).filter_by(source_id=source_id, task="hostile").one()
        s.expunge(item)
        return item


@pytest.fixture
def many(engine, sessions):
    """130 distinct posts that say "tin giả" (with ties on risk) beside the fixture's four:
    three pages of results. Returns the matching representatives, (risk, id) by id."""
    risks = [(0.5, 0.3, 0.2), (0.2, 0.4, 0.4), (0.9, 0.05, 0.05)]
    rows = vihsd_rows("train", 130)
    add_scored(
        engine,
        [scored(r["id"], f"{r['text']} tin giả", hostile=risks[i % 3]) for i, r in enumerate(rows)],
        actor="test",
    )
    with sessions() as s:
        return {
            it.id: (it.risk, it.id)
            for it in s.query(Item)
            if "tin giả" in it.text and it.is_representative and it.status == "open"
        }


def test_a_search_without_diacritics_finds_the_post_and_shows_the_count(as_user, sessions):
    reviewer = as_user("reviewer")
    p2 = _item(sessions, "p2")
    for query in ("an cap", "ĂN CẮP", "mien do an"):
        page = reviewer.get("/queue", params={"q": query})
        assert page.status_code == 200, query
        assert _ids(page.text) == [p2.id], query
        assert "1 result for" in page.text
    assert f'value="{html.escape("mien do an")}"' in reviewer.get("/queue?q=mien+do+an").text
    none = reviewer.get("/queue", params={"q": "khong co tu nay"})
    assert none.status_code == 200 and _ids(none.text) == []
    assert "0 results for" in none.text and "No post holds these words" in none.text


def test_without_words_the_queue_is_as_before(as_user):
    reviewer = as_user("reviewer")
    for url in ("/queue", "/queue?q=", "/queue?q=++"):
        page = reviewer.get(url)
        assert page.status_code == 200
        assert 'class="results"' not in page.text and 'rel="next"' not in page.text
        assert len(_ids(page.text)) == 4  # the fixture's open items, in the queue's order


def test_the_filters_combine_with_the_search(as_user, sessions, many):
    reviewer = as_user("reviewer")
    everything = reviewer.get("/queue", params={"q": "tin gia", "task": "hostile"})
    assert f"{len(many)} results for" in everything.text
    risky = reviewer.get("/queue", params={"q": "tin gia", "min_risk": "0.6", "label": "offensive"})
    expected = {i for i, (risk, _) in many.items() if risk >= 0.6}
    with sessions() as s:
        expected = {i for i in expected if s.get(Item, i).model_label == "offensive"}
    assert expected and set(_ids(risky.text)) == expected
    assert f"{len(expected)} results for" in risky.text
    low = reviewer.get("/queue", params={"q": "tin gia", "max_risk": "0.2"})
    assert set(_ids(low.text)) == {i for i, (risk, _) in many.items() if risk <= 0.2}
    # Answered items are found under their status, and under "any status".
    some = sorted(many)[0]
    with sessions() as s:
        record_answer(s, some, "reviewer", "clean", s.get(Item, some).version)
    status = _item_by_id(sessions, some).status
    assert status != "open"
    answered = reviewer.get("/queue", params={"q": "tin gia", "status": status})
    assert _ids(answered.text) == [some]
    risk = str(many[some][0])
    at_its_risk = {"q": "tin gia", "min_risk": risk, "max_risk": risk}
    assert some not in _ids(reviewer.get("/queue", params=at_its_risk).text)
    assert some in _ids(reviewer.get("/queue", params={**at_its_risk, "status": "any"}).text)


def test_pages_by_cursor_neither_repeat_nor_miss(as_user, many):
    reviewer = as_user("reviewer")
    assert len(many) > 100  # three pages
    seen, url, pages = [], "/queue?q=tin+gia&task=hostile", 0
    while url:
        page = reviewer.get(url)
        assert page.status_code == 200
        assert f"{len(many)} results for" in page.text  # every page counts them all
        ids = _ids(page.text)
        assert len(ids) == 50 or _next(page.text) is None
        if pages:
            assert "first page" in page.text
        seen += ids
        pages += 1
        url = _next(page.text)
        assert url is None or ("task=hostile" in url and "q=tin+gia" in url)
    assert pages == -(-len(many) // 50)
    assert len(seen) == len(set(seen))
    assert set(seen) == set(many)
    assert seen == sorted(many, key=lambda i: many[i], reverse=True)


def test_a_count_past_the_exact_total_says_more_than(as_user, many, monkeypatch):
    import pipeline.store.search

    monkeypatch.setattr(pipeline.store.search, "EXACT_TOTAL", 100)
    monkeypatch.setattr(pipeline.store.search, "BROAD_MATCHES", 10)  # the risk-order walk
    reviewer = as_user("reviewer")
    first = reviewer.get("/queue?q=tin+gia&task=hostile")
    assert "More than 100 results for" in first.text
    assert len(_ids(first.text)) == 50
    seen, url = [], "/queue?q=tin+gia&task=hostile"
    while url:
        page = reviewer.get(url)
        seen += _ids(page.text)
        url = _next(page.text)
    assert seen == sorted(many, key=lambda i: many[i], reverse=True)  # every page still there


@pytest.mark.parametrize(
    "after",
    [
        "x",
        "0.5",
        "0.5_x",
        "nan_3",
        "inf_3",
        "1e999_3",
        "0.5_99999999999999999999",
        "0.5_0",
        "0.5_²",
        "0.5_-1",
        "n_1_2",
        "0.5_" + "9" * 5000,
    ],
)
def test_a_cursor_no_page_gave_is_a_400(as_user, after):
    c = as_user("admin")
    page = c.get("/queue", params={"q": "tin", "after": after})
    assert page.status_code == 400, after
    assert "start again from the first page" in page.text
    narratives = c.get("/narratives", params={"q": "tin", "after": after})
    assert narratives.status_code == 400, after


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "*",
        "-",
        '"tin',
        "tin*",
        "NEAR(tin gia)",
        "tin OR gia",
        "a & b | !c",
        "'",
        "\\",
        "(",
        ":*",
        "tin:* & gia",
        "%",
        "_",
        "\x00",
        "🙂",
        "ko dc",
    ],
)
def test_search_syntax_is_text_never_a_server_error(as_user, query):
    c = as_user("admin")
    for path in ("/queue", "/narratives"):
        page = c.get(path, params={"q": query})
        assert page.status_code == 200, (path, query)


def test_too_many_words_or_characters_are_a_400(as_user):
    c = as_user("reviewer")
    assert c.get("/queue", params={"q": " ".join(f"w{i}" for i in range(21))}).status_code == 400
    assert c.get("/queue", params={"q": "a" * 501}).status_code == 400


def test_narratives_are_searched_and_paged(as_user, sessions):
    p2, p1 = _item(sessions, "p2"), _item(sessions, "p1")
    with sessions() as s:
        record_answer(s, p2.id, "reviewer", "hate", p2.version)
        record_answer(s, p1.id, "reviewer", "offensive", p1.version)
    c = as_user("communicator")
    found = c.get("/narratives", params={"q": "an cap"})
    assert found.status_code == 200
    assert _ids(found.text, NARRATIVE_ID) == [p2.id] and "1 result for" in found.text
    both = c.get("/narratives", params={"q": "thang ngu", "task": "hostile"})
    assert _ids(both.text, NARRATIVE_ID) == [p1.id]
    assert (
        c.get("/narratives", params={"q": "an cap", "task": "false"}).text.count('class="id"') == 0
    )
    plain = c.get("/narratives")
    assert set(_ids(plain.text, NARRATIVE_ID)) == {p1.id, p2.id}
    assert 'class="results"' not in plain.text


def test_the_count_is_in_vietnamese_by_default(db_url, app):
    site = create_app(WebSettings(secret_key="v" * 40, database_url=db_url))
    try:
        c = TestClient(site, follow_redirects=False)
        assert log_in(c, "reviewer").status_code == 303
        page = c.get("/queue", params={"q": "an cap"})
        assert "1 kết quả" in page.text and "Tìm" in page.text
    finally:
        site.state.engine.dispose()


def test_the_queue_rows_can_be_chosen_and_labelled_together(app, as_user, sessions):
    reviewer = as_user("reviewer")
    page = reviewer.get("/queue").text
    form = re.search(
        r'<form method="post" action="/items/bulk-answer" id="bulk".*?</form>', page, re.S
    )
    assert form, "the bulk form"
    form = form[0]
    assert f'name="csrf_token" value="{csrf_of(page)}"' in form
    assert '<input type="hidden" name="next" value="/queue">' in form
    assert '<select name="label" required>' in form
    for label in ("clean", "offensive", "hate"):
        assert f'<option value="{label}">' in form
    ids = _ids(page)
    for item_id in ids:  # each row's checkbox carries the version the page showed
        version = _item_by_id(sessions, item_id).version
        assert f'name="item" value="{item_id}:{version}"' in form
    # An analyst sees the queue but may not answer: no checkboxes for them.
    assert 'name="item"' not in as_user("analyst").get("/queue").text
    chosen = ids[:2]
    done = reviewer.post(
        "/items/bulk-answer",
        data={
            "csrf_token": csrf_of(page),
            "label": "offensive",
            "next": "/queue",
            "item": [f"{i}:{_item_by_id(sessions, i).version}" for i in chosen],
        },
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/queue"
    for i in chosen:
        assert _item_by_id(sessions, i).status != "open"
    for i in ids[2:]:
        assert _item_by_id(sessions, i).status == "open"
    assert "2 items answered offensive." in reviewer.get("/queue").text


def _item_by_id(sessions, item_id: int) -> Item:
    with sessions() as s:
        item = s.get(Item, item_id)
        s.expunge(item)
        return item
