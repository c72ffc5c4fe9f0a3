"""The reviewer web app through HTTP, against SQLite and PostgreSQL."""

import re

import pytest

from pipeline.errors import InputError
from pipeline.store.tables import Item
from pipeline.web.app import WebSettings
from pipeline.web.security import PERMISSIONS, ROLES
from tests.web.conftest import PASSWORD, confirmed_draft, csrf_of, log_in


def _item_id(sessions, source_id: str) -> int:
    with sessions() as s:
        return s.query(Item).filter_by(source_id=source_id, task="hostile").one().id


def test_log_in_and_see_the_queue_riskiest_first(client):
    assert client.get("/queue").status_code == 303  # not logged in: to the login page
    assert log_in(client, "reviewer", "wrong").status_code == 401
    response = log_in(client, "reviewer")
    assert response.status_code == 303 and response.headers["location"].endswith("/queue")
    page = client.get("/queue").text
    order = [m for m in re.findall(r"(ăn cắp|ngu vl|óc chó|trời đẹp)", page)]
    assert order[:3] == ["ngu vl", "ăn cắp", "óc chó"]  # risk 0.95, 0.9, 0.7


def test_session_cookie_is_http_only_and_same_site(client):
    response = log_in(client, "reviewer")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_a_post_renders_as_text_with_the_models_words_highlighted(as_user, sessions):
    c = as_user("reviewer")
    html = c.get(f"/items/{_item_id(sessions, 'p2')}").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(" in html
    assert "<mark" in html and "ăn cắp</mark>" in html
    assert 'data-key="1"' in html and 'data-key="3"' in html
    assert "0912" not in c.get(f"/items/{_item_id(sessions, 'p4')}").text  # masked phone


def test_an_answer_needs_the_forms_csrf_token(as_user, sessions):
    c = as_user("reviewer")
    item = _item_id(sessions, "p1")
    page = c.get(f"/items/{item}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    form = {"label": "offensive", "version": version}
    assert c.post(f"/items/{item}/answer", data=form).status_code == 403
    assert c.post(f"/items/{item}/answer", data={**form, "csrf_token": "x"}).status_code == 403
    ok = c.post(f"/items/{item}/answer", data={**form, "csrf_token": csrf_of(page)})
    assert ok.status_code == 303
    with sessions() as s:
        answered = s.get(Item, item)
        assert answered.status == "answered" and answered.label == "offensive"


def test_a_stale_answer_gets_a_conflict_not_a_silent_overwrite(as_user, sessions):
    first, second = as_user("reviewer"), as_user("reviewer2")
    item = _item_id(sessions, "p1")
    pages = [c.get(f"/items/{item}").text for c in (first, second)]
    version = re.search(r'name="version" value="(\d+)"', pages[0]).group(1)
    ok = first.post(
        f"/items/{item}/answer",
        data={"label": "hate", "version": version, "csrf_token": csrf_of(pages[0])},
    )
    assert ok.status_code == 303
    late = second.post(
        f"/items/{item}/answer",
        data={"label": "clean", "version": version, "csrf_token": csrf_of(pages[1])},
    )
    assert late.status_code == 409
    assert "reload" in late.text.lower() or "changed" in late.text.lower()
    with sessions() as s:
        assert s.get(Item, item).label == "hate"


def test_undo_withdraws_my_answer(as_user, sessions):
    c = as_user("reviewer")
    item = _item_id(sessions, "p3")
    page = c.get(f"/items/{item}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    c.post(
        f"/items/{item}/answer",
        data={"label": "clean", "version": version, "csrf_token": csrf_of(page)},
    )
    page = c.get(f"/items/{item}").text
    assert "data-undo" in page
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    undo = {"csrf_token": csrf_of(page)}
    assert c.post(f"/items/{item}/undo", data=undo).status_code == 400  # no version: refused
    assert c.post(f"/items/{item}/undo", data={**undo, "version": version}).status_code == 303
    with sessions() as s:
        assert s.get(Item, item).status == "open"


def test_failed_logins_are_rate_limited(client):
    for _ in range(5):
        assert log_in(client, "admin", "nope").status_code == 401
    assert log_in(client, "admin").status_code == 429


ROUTES = [
    ("GET", "/queue", "view_queue"),
    ("GET", "/items/{item}", "view_queue"),
    ("POST", "/items/{item}/answer", "answer"),
    ("POST", "/items/{item}/undo", "answer"),
    ("POST", "/items/{item}/split", "answer"),
    ("POST", "/items/{item}/adjudicate", "adjudicate"),
    ("POST", "/items/{item}/reopen", "adjudicate"),
    ("GET", "/audit", "view_audit"),
    ("GET", "/narratives", "view_rebuttals"),
    ("GET", "/narratives/{narrative}", "view_rebuttals"),
    ("POST", "/narratives/{narrative}/rebuttals", "write_rebuttal"),
    ("GET", "/rebuttals", "view_rebuttals"),
    ("GET", "/rebuttals/{rebuttal}", "view_rebuttals"),
    ("POST", "/rebuttals/{rebuttal}/edit", "write_rebuttal"),
    ("POST", "/rebuttals/{rebuttal}/approve", "approve_rebuttal"),
    ("POST", "/rebuttals/{rebuttal}/publish", "publish_rebuttal"),
    ("GET", "/groups/{group}/pack.zip", "view_rebuttals"),
    ("GET", "/analysis", "view_jobs"),
    ("GET", "/stats", "view_stats"),
    ("GET", "/labels/hostile.jsonl", "export_labels"),
    ("GET", "/admin/users", "manage_users"),
    ("POST", "/admin/users/reviewer2/active", "manage_users"),
    ("POST", "/admin/users/reviewer2/role", "manage_users"),
    ("POST", "/admin/users/reviewer2/password", "manage_users"),
    ("GET", "/admin/guidelines/hostile", "edit_guidelines"),
    ("POST", "/admin/guidelines/hostile", "edit_guidelines"),
    ("POST", "/items/bulk-answer", "answer"),
    ("POST", "/suggestions/{suggestion}/confirm", "answer"),
    ("POST", "/suggestions/{suggestion}/reject", "answer"),
    ("POST", "/items/assign", "assign"),
    ("POST", "/items/unassign", "assign"),
    ("GET", "/queue/next", "view_queue"),
]


def _a_suggestion(app, sessions) -> int:
    """A pending near-duplicate suggestion (a reworded post between the two thresholds)."""
    from pipeline.store.intake import add_scored
    from pipeline.store.tables import GroupSuggestion
    from tests.store.test_group_suggestions import FACEBOOK, FACEBOOK_REWORDED
    from tests.web.conftest import scored

    engine = app.state.engine
    add_scored(engine, [scored("fb1", FACEBOOK)], actor="test")
    add_scored(engine, [scored("fb2", FACEBOOK_REWORDED)], actor="test")
    with sessions() as s:
        return s.query(GroupSuggestion).filter_by(status="pending").one().id


@pytest.mark.parametrize("role", [*ROLES, None])
def test_every_route_checks_every_role(app, as_user, client, sessions, role):
    c = as_user(role) if role else client
    token = csrf_of(c.get("/login").text) if role is None else None
    item = _item_id(sessions, "p3")
    narrative, rebuttal = confirmed_draft(sessions)
    with sessions() as s:
        group = s.get(Item, narrative).group_id
    ids = {"item": item, "narrative": narrative, "rebuttal": rebuttal, "group": group,
           "suggestion": _a_suggestion(app, sessions)}
    for method, path, permission in ROUTES:
        url = path.format(**ids)
        if method == "GET":
            status = c.get(url).status_code
        else:
            token = csrf_of(c.get("/login").text) if role else token
            status = c.post(
                url, data={"csrf_token": token, "label": "clean", "version": "0"}
            ).status_code
        if role is None:
            assert status == (303 if method == "GET" else 401), (role, url)
        elif role in PERMISSIONS[permission]:
            assert status not in (401, 403), (role, method, url, status)
        else:
            assert status == 403, (role, method, url, status)


def test_the_app_refuses_a_weak_secret_key():
    with pytest.raises(InputError, match="KIEMTIN_SECRET_KEY"):
        WebSettings(secret_key="change-me", database_url="sqlite://")
    assert PASSWORD  # the accounts above use a real password


def test_agreement_between_two_reviewers_is_shown_as_kappa(app, as_user, engine, sessions):
    from pipeline.store import add_scored, record_answer
    from tests.web.conftest import scored

    texts = ["Giá xăng tăng mạnh từ chiều nay", "Đội tuyển thắng trận bán kết tối qua",
             "Mưa lớn gây ngập nhiều tuyến phố", "Chợ hoa xuân mở cửa đến khuya"]
    add_scored(engine, [scored(f"k{i}", t) for i, t in enumerate(texts)], actor="test",
               reviews_needed=2)
    with sessions() as s:
        ids = [s.query(Item).filter_by(source_id=f"k{i}").one().id for i in range(4)]
    for item_id, (a, b) in zip(ids, [("clean", "clean"), ("hate", "hate"),
                                     ("clean", "hate"), ("hate", "hate")], strict=True):
        with sessions() as s:
            version = s.get(Item, item_id).version
            record_answer(s, item_id, "reviewer", a, version)
        with sessions() as s:
            record_answer(s, item_id, "reviewer2", b, s.get(Item, item_id).version)
    page = as_user("trainer").get("/queue").text
    # observed 3/4, expected 0.5*0.25 + 0.5*0.75 = 0.5, kappa (0.75-0.5)/(1-0.5) = 0.5
    assert "Cohen&#39;s kappa" in page or "Cohen's kappa" in page
    assert "hostile 0.50" in page and "over 4 items" in page


def test_the_uncertain_share_is_a_setting_with_a_clear_error():
    with pytest.raises(InputError, match="KIEMTIN_UNCERTAIN_SHARE"):
        WebSettings(secret_key="k" * 40, database_url="sqlite://", uncertain_share=1.5)


def test_the_queue_page_shows_a_rescoring_job_while_it_runs(as_user, sessions, tiny_model_dir):
    from pipeline.store.rescore import run_rescore, start_rescore

    with sessions() as s:
        job = start_rescore(s, "hostile", tiny_model_dir, actor="cli:trainer")
    html = as_user("reviewer").get("/queue").text
    assert f"Job {job.id}: re-scoring the open hostile items" in html and "queued" in html
    run_rescore(sessions, job.id)
    assert f"Job {job.id}" not in as_user("reviewer2").get("/queue").text  # done: no notice
