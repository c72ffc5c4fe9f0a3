"""What the reviewer and rebuttal routes refuse before the store sees it, and the guards on a
label that rebuttals answer: stale undo, reopening by a trainer, ids and numbers out of range,
over-long notes, and redirects that never name the request's Host."""

from __future__ import annotations

import re

import pytest

from pipeline.store import rebuttals as rb
from pipeline.store.audit import entries
from pipeline.store.tables import Item

from .conftest import confirmed_draft, csrf_of
from .test_error_pages import error_page

PAST_64_BITS = "99999999999999999999"


def _item_id(sessions, source_id: str) -> int:
    with sessions() as s:
        return s.query(Item).filter_by(source_id=source_id, task="hostile").one().id


def _version(page: str, action: str) -> str:
    """The hidden version of the form that posts to ``.../{action}``."""
    form = re.search(rf'action="[^"]*/{action}"[^>]*>(.*?)</form>', page, re.S)
    assert form, f"no {action} form on the page"
    return re.search(r'name="version" value="(\d+)"', form.group(1)).group(1)


def _answer(client, item_id: int, label: str = "clean", **headers):
    page = client.get(f"/items/{item_id}").text
    data = {"label": label, "version": _version(page, "answer"), "csrf_token": csrf_of(page)}
    return client.post(f"/items/{item_id}/answer", data=data, headers=headers)


def test_the_undo_form_carries_the_version_and_a_stale_one_is_a_conflict(as_user, sessions):
    reviewer = as_user("reviewer")
    item = _item_id(sessions, "p3")
    assert _answer(reviewer, item).status_code == 303
    page = reviewer.get(f"/items/{item}").text
    version = _version(page, "undo")
    with sessions() as s:
        assert version == str(s.get(Item, item).version)
    stale = {"version": str(int(version) - 1), "csrf_token": csrf_of(page)}
    assert "version" in error_page(reviewer.post(f"/items/{item}/undo", data=stale), 409)
    with sessions() as s:
        assert s.get(Item, item).status == "answered"
    fresh = {"version": version, "csrf_token": csrf_of(page)}
    assert reviewer.post(f"/items/{item}/undo", data=fresh).status_code == 303
    with sessions() as s:
        assert s.get(Item, item).status == "open"


def test_an_answer_rebuttals_depend_on_is_not_undone_but_a_trainer_reopens_it(as_user, sessions):
    item, rebuttal = confirmed_draft(sessions)  # answered by "reviewer", drafted by "writer"
    with sessions() as s:
        rb.approve(s, rebuttal, "communicator", 0)
    reviewer, trainer = as_user("reviewer"), as_user("trainer")

    page = reviewer.get(f"/items/{item}").text
    assert "data-undo" not in page and "data-reopen" not in page  # reopening is not theirs
    assert f"rebuttal {rebuttal} (approved)" in page
    with sessions() as s:
        version = str(s.get(Item, item).version)
    refused = reviewer.post(
        f"/items/{item}/undo", data={"version": version, "csrf_token": csrf_of(page)}
    )
    assert f"rebuttal {rebuttal} (approved)" in error_page(refused, 409)
    forbidden = reviewer.post(
        f"/items/{item}/reopen", data={"version": version, "csrf_token": csrf_of(page)}
    )
    assert error_page(forbidden, 403)

    page = trainer.get(f"/items/{item}").text
    assert "data-reopen" in page
    data = {"version": _version(page, "reopen"), "csrf_token": csrf_of(page)}
    assert error_page(trainer.post(f"/items/{item}/reopen", data={**data, "csrf_token": "x"}), 403)
    done = trainer.post(f"/items/{item}/reopen", data=data)
    assert done.status_code == 303 and done.headers["location"] == f"/items/{item}"
    with sessions() as s:
        reopened = s.get(Item, item)
        assert (reopened.status, reopened.label) == ("open", None)
        assert rb.get_rebuttal(s, rebuttal).status == "draft"
        (why,) = [e for e in entries(s, "rebuttal", rebuttal) if e.action == "needs_review"]
        assert (why.actor, why.before["status"], why.after["status"]) == (
            "trainer",
            "approved",
            "draft",
        )
    # The page it was reopened from is stale now; the reviewer answers the item afresh.
    assert error_page(trainer.post(f"/items/{item}/reopen", data=data), 409)
    assert _answer(reviewer, item, "hate").status_code == 303


GETS = [
    "/items/{id}",
    "/narratives/{id}",
    "/rebuttals/{id}",
    "/groups/{id}/pack.zip",
]
POSTS = [
    ("/items/{id}/answer", "reviewer"),
    ("/items/{id}/undo", "reviewer"),
    ("/items/{id}/split", "reviewer"),
    ("/items/{id}/adjudicate", "trainer"),
    ("/items/{id}/reopen", "trainer"),
    ("/narratives/{id}/rebuttals", "communicator"),
    ("/rebuttals/{id}/edit", "communicator"),
    ("/rebuttals/{id}/approve", "communicator"),
    ("/rebuttals/{id}/publish", "communicator"),
]


@pytest.mark.parametrize("bad_id", [PAST_64_BITS, str(2**63), "0", "-1"])
def test_ids_no_row_can_have_are_404_pages_never_500(as_user, bad_id):
    admin = as_user("admin")
    for path in GETS:
        assert error_page(admin.get(path.format(id=bad_id)), 404), path
    for path, role in POSTS:
        client = as_user(role)
        token = csrf_of(client.get("/queue" if role != "communicator" else "/narratives").text)
        data = {"csrf_token": token, "label": "clean", "version": "0", "title": "t", "body": "b"}
        assert error_page(client.post(path.format(id=bad_id), data=data), 404), path


@pytest.mark.parametrize(
    "query",
    [
        "/narratives?page=9223372036854775807",
        "/narratives?page=-1",
        "/narratives/{narrative}?reuse=1e20",
        f"/narratives/{{narrative}}?reuse={PAST_64_BITS}",
        "/queue?min_risk=nan",
        "/queue?min_risk=inf",
        "/queue?max_risk=-inf",
        "/queue?max_risk=1.5",
        "/queue?min_risk=abc",
    ],
)
def test_numbers_out_of_range_are_400_pages_never_500(as_user, sessions, query):
    item, _ = confirmed_draft(sessions)
    admin = as_user("admin")
    message = error_page(admin.get(query.format(narrative=item)), 400)
    assert re.search(r"page|reuse|risk", message)


def test_a_reused_from_field_past_64_bits_is_a_400(as_user, sessions):
    item, _ = confirmed_draft(sessions)
    writer = as_user("writer")
    page = writer.get(f"/narratives/{item}").text
    data = {"title": "Tiêu đề", "body": "Nội dung", "reused_from": PAST_64_BITS}
    refused = writer.post(
        f"/narratives/{item}/rebuttals", data={**data, "csrf_token": csrf_of(page)}
    )
    assert "reused_from" in error_page(refused, 400)


def test_a_note_past_the_limit_is_a_400_that_says_the_limit_and_its_length(as_user, sessions):
    reviewer = as_user("reviewer")
    item = _item_id(sessions, "p3")
    page = reviewer.get(f"/items/{item}").text
    assert 'maxlength="5000"' in page
    data = {
        "label": "clean",
        "version": _version(page, "answer"),
        "note": "x" * 5_001,
        "csrf_token": csrf_of(page),
    }
    message = error_page(reviewer.post(f"/items/{item}/answer", data=data), 400)
    assert "5,000" in message and "5,001" in message
    with sessions() as s:
        assert s.get(Item, item).status == "open"


def test_redirects_and_links_are_paths_whatever_the_host_header(as_user, sessions):
    reviewer = as_user("reviewer")
    item = _item_id(sessions, "p3")
    answered = _answer(reviewer, item, host="evil.example")
    assert answered.status_code == 303
    location = answered.headers["location"]
    assert location.startswith("/") and not location.startswith("//"), location
    page = reviewer.get(f"/items/{item}", headers={"host": "evil.example"}).text
    assert "evil.example" not in page
    assert "evil.example" not in reviewer.get("/queue", headers={"host": "evil.example"}).text
    data = {"version": _version(page, "undo"), "csrf_token": csrf_of(page)}
    undone = reviewer.post(f"/items/{item}/undo", data=data, headers={"host": "evil.example"})
    assert undone.headers["location"] == f"/items/{item}"

    narrative, rebuttal = confirmed_draft(sessions, "p1")
    writer = as_user("writer")
    page = writer.get(f"/narratives/{narrative}", headers={"host": "evil.example"}).text
    assert "evil.example" not in page
    created = writer.post(
        f"/narratives/{narrative}/rebuttals",
        data={"title": "Tiêu đề", "body": "Nội dung", "csrf_token": csrf_of(page)},
        headers={"host": "evil.example"},
    )
    assert created.status_code == 303 and created.headers["location"].startswith("/rebuttals/")
    page = writer.get(f"/rebuttals/{rebuttal}", headers={"host": "evil.example"}).text
    assert "evil.example" not in page
