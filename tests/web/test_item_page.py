"""The item page a reviewer can trust and keep moving on: words that show their direction and
strength (no stop-words or punctuation), a sentence when the decision rule overrode the most
probable label, the guidelines in force (edited by admins), suggested near-duplicates to
confirm or reject, `k` back to the answer just given, the next disagreement after
adjudicating, and one label for a chosen set of items."""

from __future__ import annotations

import re

import pytest

from pipeline.store import add_scored
from pipeline.store.answers import record_answer
from pipeline.store.tables import Answer, GroupSuggestion, Item
from tests.store.conftest import scored
from tests.store.test_group_suggestions import FACEBOOK, FACEBOOK_REWORDED
from tests.web.conftest import csrf_of


def _id(sessions, source_id: str, task: str = "hostile") -> int:
    with sessions() as s:
        return s.query(Item).filter_by(source_id=source_id, task=task).one().id


def _version(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)


def _words(text: str, weights: dict[str, float]) -> list[dict]:
    out = []
    for w, weight in weights.items():
        start = text.index(w)
        out.append({"word": w, "start": start, "end": start + len(w), "weight": weight})
    return out


# Explanations ------------------------------------------------------------------------------


def test_words_show_direction_and_strength_and_no_stopwords_or_punctuation(
    engine, sessions, as_user
):
    text = "Thằng này ngu thì ngu , cút đi"
    record = scored("e1", text, hostile=(0.1, 0.7, 0.2))
    record["scores"]["hostile"]["words"] = _words(
        text, {"ngu": 0.8, "thì": 0.9, ",": 0.7, "cút": 0.2}
    )
    add_scored(engine, [record], actor="test")
    page = as_user("reviewer").get(f"/items/{_id(sessions, 'e1')}").text
    post = re.search(r'<div class="post" id="post">(.*?)</div>', page, re.S).group(1)
    assert '<mark class="reason towards s4" data-weight="+0.80">ngu</mark>' in post
    assert '<sup class="weight towards">+0.80</sup>' in post
    assert '<mark class="reason towards s1" data-weight="+0.20">cút</mark>' in post
    assert ">thì</mark>" not in post and ">,</mark>" not in post  # never shown as reasons
    assert "data-legend" in page and "towards it" in page and "away from it" in page
    reasons = re.findall(r'data-direction="(\w+)"><span class="word">([^<]+)</span>', page)
    assert reasons == [("towards", "ngu"), ("towards", "cút")]


def test_words_for_a_risky_label_push_away_from_a_clean_label(engine, sessions, as_user):
    text = "Hôm nay trời đẹp, đồ ngốc"
    record = scored("e2", text, hostile=(0.6, 0.3, 0.1))
    record["scores"]["hostile"]["words"] = _words(text, {"ngốc": 0.3})
    add_scored(engine, [record], actor="test")
    page = as_user("reviewer").get(f"/items/{_id(sessions, 'e2')}").text
    assert '<mark class="reason away s4" data-weight="−0.30">ngốc</mark>' in page
    assert "the most probable risky label" in page and "away from clean, towards offensive" in page
    assert "data-decision-rule" not in page  # clean is the most probable label too


def test_the_page_says_why_when_the_label_is_not_the_most_probable(engine, sessions, as_user):
    record = scored("e3", "Nghe nói giá vàng sắp giảm mạnh", hostile=(0.5, 0.4, 0.1))
    record["scores"]["hostile"]["label"] = "offensive"  # the decision weights chose it
    add_scored(engine, [record], actor="test")
    page = as_user("reviewer").get(f"/items/{_id(sessions, 'e3')}").text
    rule = re.search(r"<p class=\"decision-rule\" data-decision-rule>(.*?)</p>", page, re.S)
    assert rule, "no sentence about the decision rule"
    sentence = " ".join(rule.group(1).split())
    assert sentence.startswith("The model chose offensive although clean is more probable "
                               "(0.50 against 0.40)")
    assert sentence.endswith(".") and ". " not in sentence  # one sentence


# Guidelines --------------------------------------------------------------------------------


def test_the_item_page_and_help_show_the_guidelines_in_force(vi_client, sessions):
    page = vi_client.get(f"/items/{_id(sessions, 'p1')}").text
    assert 'data-guideline-version="1"' in page and "Hướng dẫn gán nhãn (phiên bản 1)" in page
    assert "nhắm thẳng vào một người hoặc một nhóm người" in page  # hate, in Vietnamese
    help_box = page[page.index('<aside id="help"'):]
    assert "Không có lời lẽ" in help_box or "không có lời lẽ" in help_box  # clean's definition


def test_an_admin_edits_the_guidelines_and_answers_record_the_new_version(as_user, sessions):
    admin = as_user("admin")
    form_page = admin.get("/admin/guidelines/hostile")
    assert form_page.status_code == 200
    html = form_page.text
    fields = dict(re.findall(r'<textarea name="([^"]+)"[^>]*>([^<]*)</textarea>', html))
    assert "definition.hate.vi" in fields and "examples.offensive.en" in fields
    fields["definition.hate.vi"] = "Công kích trực tiếp một người hay một nhóm người."
    done = admin.post(
        "/admin/guidelines/hostile",
        data={**fields, "version": "1", "note": "ngắn gọn hơn", "csrf_token": csrf_of(html)},
    )
    assert done.status_code == 303
    again = admin.get(done.headers["location"]).text
    assert "Guidelines version 2 are in force from now on." in again
    assert "ngắn gọn hơn" in again  # the history
    stale = admin.post(
        "/admin/guidelines/hostile",
        data={**fields, "version": "1", "csrf_token": csrf_of(html)},
    )
    assert stale.status_code == 409

    reviewer = as_user("reviewer")
    item = _id(sessions, "p1")
    page = reviewer.get(f"/items/{item}").text
    assert 'data-guideline-version="2"' in page
    assert "Công kích trực tiếp một người hay một nhóm người." in page or "Harassing" in page
    reviewer.post(
        f"/items/{item}/answer",
        data={"label": "hate", "version": _version(page), "csrf_token": csrf_of(page)},
    )
    with sessions() as s:
        assert s.query(Answer).filter_by(item_id=item).one().guideline_version == 2
    assert reviewer.get("/admin/guidelines/hostile").status_code == 403
    assert admin.get("/admin/guidelines/nope").status_code == 404


# Keyboard flow -----------------------------------------------------------------------------


def test_after_an_answer_k_goes_back_to_it_and_u_can_undo_it(as_user, sessions):
    c = as_user("reviewer")
    first = _id(sessions, "p2")  # the riskiest: the top of the queue
    page = c.get(f"/items/{first}").text
    done = c.post(
        f"/items/{first}/answer",
        data={"label": "hate", "version": _version(page), "csrf_token": csrf_of(page)},
    )
    assert done.status_code == 303 and done.headers["location"].endswith(f"?after={first}")
    following = c.get(done.headers["location"]).text
    prev = re.search(r'<a href="([^"]+)" data-prev>', following).group(1)
    assert prev == f"/items/{first}"
    back = c.get(prev).text
    assert "data-undo" in back
    undone = c.post(
        f"/items/{first}/undo", data={"version": _version(back), "csrf_token": csrf_of(back)}
    )
    assert undone.status_code == 303
    with sessions() as s:
        assert s.get(Item, first).status == "open"
    # a forged ?after= (an item this browser did not answer) changes nothing
    other = _id(sessions, "p3")
    forged = c.get(f"/items/{_id(sessions, 'p4')}?after={other}").text
    assert f'<a href="/items/{other}" data-prev>' not in forged


def test_after_adjudicating_the_next_item_is_the_next_disagreement(
    engine, sessions, as_user
):
    add_scored(
        engine,
        [scored(f"d{i}", t, hostile=h) for i, (t, h) in enumerate([
            ("Mày ngu như bò", (0.1, 0.5, 0.4)),
            ("Bọn nó toàn lũ lừa đảo", (0.1, 0.3, 0.6)),
            ("Trời mưa to quá", (0.05, 0.5, 0.45)),
        ])],
        actor="test",
        reviews_needed=2,
    )
    ids = [_id(sessions, f"d{i}") for i in range(3)]
    with sessions() as s:
        for item_id in ids[:2]:  # two disagreements; d2 stays open
            record_answer(s, item_id, "reviewer", "offensive", 0)
            record_answer(s, item_id, "reviewer2", "hate", 0)
    trainer = as_user("trainer")
    page = trainer.get(f"/items/{ids[0]}").text
    done = trainer.post(
        f"/items/{ids[0]}/adjudicate",
        data={"label": "hate", "version": _version(page), "csrf_token": csrf_of(page)},
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/items/{ids[1]}?")


def test_a_chosen_set_is_labelled_in_one_post_or_not_at_all(as_user, sessions):
    c = as_user("reviewer")
    token = csrf_of(c.get("/queue").text)
    p1, p3 = _id(sessions, "p1"), _id(sessions, "p3")
    done = c.post(
        "/items/bulk-answer",
        data={"label": "clean", "item": [f"{p1}:0", f"{p3}:0"], "csrf_token": token,
              "next": "/queue?task=hostile"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/queue?task=hostile"
    assert "2 items answered clean." in c.get(done.headers["location"]).text
    with sessions() as s:
        assert {s.get(Item, i).label for i in (p1, p3)} == {"clean"}
    p2, p4 = _id(sessions, "p2"), _id(sessions, "p4")
    stale = c.post(
        "/items/bulk-answer",
        data={"label": "hate", "item": [f"{p2}:0", f"{p4}:7"], "csrf_token": token},
    )
    assert stale.status_code == 409
    with sessions() as s:
        assert s.query(Answer).filter(Answer.item_id.in_([p2, p4])).count() == 0
    bad = c.post("/items/bulk-answer",
                 data={"label": "hate", "item": ["x:1"], "csrf_token": token})
    assert bad.status_code == 400 and "ID:VERSION" in bad.text
    none = c.post("/items/bulk-answer", data={"label": "hate", "csrf_token": token})
    assert none.status_code == 400
    assert c.post("/items/bulk-answer", data={"label": "hate", "item": [f"{p2}:0"]}
                  ).status_code == 403  # no CSRF token
    assert as_user("analyst").post(
        "/items/bulk-answer", data={"label": "hate", "item": [f"{p2}:0"], "csrf_token": token}
    ).status_code == 403


# Near-duplicate suggestions ---------------------------------------------------------------


@pytest.fixture
def suggested(engine, sessions):
    """A post between the suggest and join thresholds of an earlier one: (item, suggestion)."""
    add_scored(engine, [scored("f1", FACEBOOK)], actor="test")
    add_scored(engine, [scored("f2", FACEBOOK_REWORDED)], actor="test")
    item = _id(sessions, "f2")
    with sessions() as s:
        (suggestion,) = s.query(GroupSuggestion).filter_by(item_id=item).all()
        return item, suggestion.id


def test_a_suggestion_is_shown_with_excerpt_and_similarity_and_confirmed(
    as_user, sessions, suggested
):
    item, suggestion = suggested
    c = as_user("reviewer")
    page = c.get(f"/items/{item}").text
    box = page[page.index("data-suggestions"):]
    assert f'data-suggestion="{suggestion}"' in box and "Facebook sẽ bắt đầu thu phí" in box
    assert re.search(r"similarity \d+%", box)
    assert f'action="/suggestions/{suggestion}/confirm"' in box
    assert f'action="/suggestions/{suggestion}/reject"' in box
    done = c.post(
        f"/suggestions/{suggestion}/confirm",
        data={"version": _version(page), "csrf_token": csrf_of(page)},
    )
    assert done.status_code == 303 and done.headers["location"] == f"/items/{item}"
    assert "joined the narrative" in c.get(f"/items/{item}").text
    with sessions() as s:
        assert s.get(Item, item).group_id is not None
        assert s.get(GroupSuggestion, suggestion).status == "confirmed"
    again = c.post(f"/suggestions/{suggestion}/reject", data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409  # decided already
    assert c.post("/suggestions/0/reject", data={"csrf_token": csrf_of(page)}).status_code == 404


def test_a_rejected_suggestion_leaves_the_item_alone(as_user, sessions, suggested):
    item, suggestion = suggested
    c = as_user("reviewer")
    page = c.get(f"/items/{item}").text
    done = c.post(f"/suggestions/{suggestion}/reject", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 303
    after = c.get(f"/items/{item}").text
    assert "data-suggestions" not in after and "stays on its own" in after
    with sessions() as s:
        assert s.get(Item, item).group_id is None
    analyst = as_user("analyst")
    assert analyst.post(f"/suggestions/{suggestion}/confirm",
                        data={"csrf_token": csrf_of(page)}).status_code == 403


@pytest.fixture
def vi_client(app, db_url):
    """A reviewer on the app with no language settings: Vietnamese."""
    from fastapi.testclient import TestClient

    from pipeline.web.app import WebSettings, create_app
    from tests.web.conftest import log_in

    site = create_app(WebSettings(secret_key="v" * 40, database_url=db_url))
    c = TestClient(site, follow_redirects=False)
    assert log_in(c, "reviewer").status_code == 303
    yield c
    c.close()
    site.state.engine.dispose()
