"""Work distribution through HTTP: trainers assign items from the queue and item pages,
"assigned to me", a reviewer's next item, claims shown and enforced, blind second review."""

from __future__ import annotations

import re

import pytest

from pipeline.errors import InputError
from pipeline.store.assignments import assignee_of
from pipeline.store.intake import add_scored
from pipeline.store.tables import Item
from pipeline.store.users import add_user
from pipeline.web.app import WebSettings
from tests.web.conftest import PASSWORD, csrf_of, scored
from tests.web.test_i18n import _logged_in, vi_app  # noqa: F401 - the fixture


def _ids(sessions) -> dict[str, int]:
    with sessions() as s:
        return {it.source_id: it.id for it in s.query(Item).filter_by(task="hostile")}


def _queue_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td class="id"><a href="/items/(\d+)"', html)]


def _assign(client, page_html: str, to: str, **form):
    return client.post(
        "/items/assign", data={"csrf_token": csrf_of(page_html), "to": to, **form}
    )


def test_a_trainer_assigns_chosen_items_and_the_reviewer_finds_them(as_user, sessions):
    ids = _ids(sessions)
    trainer = as_user("trainer")
    page = trainer.get("/queue").text
    assert "data-assign-selected" in page and '<option value="reviewer">' in page
    assert '<option value="analyst">' not in page  # only accounts that review
    chosen = [f"{ids['p3']}:0", f"{ids['p4']}:0"]
    done = _assign(trainer, page, "reviewer", item=chosen, next="/queue")
    assert done.status_code == 303 and done.headers["location"] == "/queue"
    with sessions() as s:
        assert assignee_of(s, ids["p3"]) == assignee_of(s, ids["p4"]) == "reviewer"
    # The trainer's queue names the assignee; another reviewer's does not.
    assert 'data-assignee="reviewer"' in trainer.get("/queue").text
    other = as_user("reviewer2")
    assert "data-assignee" not in other.get("/queue").text
    # "Assigned to me": exactly those items, in the queue's order.
    reviewer = as_user("reviewer")
    mine = reviewer.get("/queue?assigned=me").text
    assert sorted(_queue_ids(mine)) == sorted([ids["p3"], ids["p4"]])
    assert "data-assignee" in mine  # her own assignments are named to her
    # Her next item is hers (p4, the riskier of the two), not the top of the queue (p1)...
    assert reviewer.get("/queue/next").headers["location"] == f"/items/{ids['p4']}"
    # ...and the other reviewer is not handed them.
    nxt = other.get("/queue/next?task=hostile&min_risk=0.6").headers["location"]
    assert nxt not in (f"/items/{ids['p3']}", f"/items/{ids['p4']}")
    # Taken back from the queue page.
    back = trainer.post("/items/unassign", data={"csrf_token": csrf_of(page), "item": chosen})
    assert back.status_code == 303
    with sessions() as s:
        assert assignee_of(s, ids["p3"]) is None


def test_every_open_item_under_the_filters_is_assigned_at_once(as_user, sessions):
    ids = _ids(sessions)
    trainer = as_user("trainer")
    page = trainer.get("/queue?task=hostile&min_risk=0.9").text
    assert '<input type="hidden" name="min_risk" value="0.9">' in page
    done = _assign(trainer, page, "reviewer2", scope="filtered", task="hostile", min_risk="0.9")
    assert done.status_code == 303
    with sessions() as s:  # p1 (risk 0.95) and p2 (0.9); not p4 (0.7), p3 (0.1)
        given = {k: assignee_of(s, v) for k, v in ids.items()}
    assert given == {"p1": "reviewer2", "p2": "reviewer2", "p3": None, "p4": None}
    assert "2 items given to reviewer2" in trainer.get("/queue").text


def test_assigning_to_an_account_that_does_not_review_is_a_clear_400(as_user, sessions):
    ids = _ids(sessions)
    trainer = as_user("trainer")
    page = trainer.get("/queue").text
    refused = _assign(trainer, page, "analyst", item=[str(ids["p1"])])
    assert refused.status_code == 400 and "role &#39;analyst&#39;" in refused.text
    assert _assign(trainer, page, "", item=[str(ids["p1"])]).status_code == 400
    assert _assign(trainer, page, "reviewer").status_code == 400  # nothing chosen
    assert _assign(trainer, page, "reviewer", item=["x"]).status_code == 400


def test_the_item_page_assigns_and_tells_the_assignee(as_user, sessions):
    item = _ids(sessions)["p2"]
    admin = as_user("admin")
    page = admin.get(f"/items/{item}").text
    assert 'action="/items/assign"' in page and "data-assigned" not in page
    assert _assign(admin, page, "reviewer", item=str(item)).status_code == 303
    assert "Assigned to reviewer." in admin.get(f"/items/{item}").text
    assert "Assigned to you." in as_user("reviewer").get(f"/items/{item}").text
    plain = as_user("reviewer2").get(f"/items/{item}").text
    assert "data-assigned" not in plain and 'action="/items/assign"' not in plain


def test_a_claim_keeps_an_item_from_a_second_reviewer_until_answered(as_user, sessions):
    item = _ids(sessions)["p1"]
    first, second = as_user("reviewer"), as_user("reviewer2")
    mine = first.get(f"/items/{item}").text
    assert "data-claim" in mine and "Held for you until" in mine
    theirs = second.get(f"/items/{item}").text
    assert "Being reviewed by reviewer until" in theirs and "data-claimed" in theirs
    assert 'name="label" value="hate"' not in theirs  # no answer buttons
    # "Next" does not hand it to the second reviewer while the claim is live.
    assert second.get("/queue/next").headers["location"] != f"/items/{item}"
    # An answer sent anyway is a 409 that says who holds it, not a 500.
    version = re.search(r'name="version" value="(\d+)"', mine).group(1)
    late = second.post(
        f"/items/{item}/answer",
        data={"label": "clean", "version": version, "csrf_token": csrf_of(theirs)},
    )
    assert late.status_code == 409 and "live claim by reviewer" in late.text
    ok = first.post(
        f"/items/{item}/answer",
        data={"label": "hate", "version": version, "csrf_token": csrf_of(mine)},
    )
    assert ok.status_code == 303
    with sessions() as s:
        assert s.get(Item, item).label == "hate"


def test_blind_second_review_stays_blind_with_assignments_and_claims(app, as_user, sessions):
    with sessions() as s:
        add_user(s, "thu.ha", "reviewer", PASSWORD)
        add_user(s, "quoc.bao", "reviewer", PASSWORD)
    add_scored(app.state.engine, [scored("b1", "Tin đồn về giá vàng tăng gấp đôi")],
               actor="test", reviews_needed=2)
    with sessions() as s:
        item = s.query(Item).filter_by(source_id="b1").one()
        item_id, version = item.id, item.version
    trainer = as_user("trainer")
    assert _assign(trainer, trainer.get("/queue").text, "thu.ha",
                   item=[str(item_id)]).status_code == 303
    lan, minh = as_user("thu.ha"), as_user("quoc.bao")
    first = lan.get(f"/items/{item_id}").text
    second = minh.get(f"/items/{item_id}").text
    # Both may answer, each under a claim of their own, and neither learns of the other.
    for page, other in ((first, "quoc.bao"), (second, "thu.ha")):
        assert "data-claim" in page and "data-claimed" not in page
        assert 'name="label" value="hate"' in page
        assert other not in page
    assert lan.post(f"/items/{item_id}/answer", data={
        "label": "hate", "version": version, "csrf_token": csrf_of(first)}).status_code == 303
    # After lan's answer, minh's page shows neither her answer nor her name.
    after = minh.get(f"/items/{item_id}").text
    assert "thu.ha" not in after and "data-claimed" not in after
    assert 'name="label" value="clean"' in after
    assert minh.post(f"/items/{item_id}/answer", data={
        "label": "clean", "version": version, "csrf_token": csrf_of(after)}).status_code == 303
    with sessions() as s:
        assert s.get(Item, item_id).status == "adjudication"


def test_the_claim_length_is_a_setting_with_a_clear_error(monkeypatch):
    monkeypatch.setenv("KIEMTIN_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("KIEMTIN_CLAIM_MINUTES", "12")
    assert WebSettings.from_env().claim_minutes == 12
    for bad in ("0", "soon", "2000"):
        monkeypatch.setenv("KIEMTIN_CLAIM_MINUTES", bad)
        with pytest.raises(InputError, match="KIEMTIN_CLAIM_MINUTES"):
            WebSettings.from_env()


def test_assigned_to_me_in_vietnamese(vi_app):  # noqa: F811 - the fixture
    page = _logged_in(vi_app, "reviewer").get("/queue").text
    assert "Được giao cho tôi" in page and 'name="assigned" value="me"' in page
