"""The progress and statistics page: the backlog, answers per day, time to label and kappa
per pair of reviewers, drawn as inline SVG with every text escaped; figures per reviewer
only for admins and trainers; bad filters are a 400."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from pipeline.store import add_scored, record_answer
from pipeline.store.tables import Item, utcnow
from pipeline.web.svg_plots import bar_chart, line_chart
from tests.web.conftest import scored

AGREE = [("clean", "clean"), ("hate", "hate"), ("clean", "hate"), ("hate", "hate")]
TEXTS = ["Giá xăng tăng mạnh từ chiều nay", "Đội tuyển thắng trận bán kết tối qua",
         "Mưa lớn gây ngập nhiều tuyến phố", "Chợ hoa xuân mở cửa đến khuya"]


@pytest.fixture
def answered(app, engine, sessions):
    """Four posts answered by reviewer and reviewer2 (as in test_app's kappa case: 0.5), the
    three they agreed on labelled 2, 4 and 6 hours after they arrived."""
    add_scored(engine, [scored(f"k{i}", t) for i, t in enumerate(TEXTS)], actor="test",
               reviews_needed=2)
    with sessions() as s:
        ids = [s.query(Item).filter_by(source_id=f"k{i}").one().id for i in range(4)]
    for item_id, (a, b) in zip(ids, AGREE, strict=True):
        with sessions() as s:
            record_answer(s, item_id, "reviewer", a, None)
            record_answer(s, item_id, "reviewer2", b, None)
    now = utcnow()
    with sessions() as s:
        for item_id, hours in zip((ids[0], ids[1], ids[3]), (2, 4, 6), strict=True):
            s.execute(update(Item).where(Item.id == item_id).values(
                decided_at=now, created_at=now - timedelta(hours=hours)))
        s.commit()
    return ids


def _bars(page: str) -> dict[str, str]:
    return dict(re.findall(r'<rect class="bar"[^>]*data-label="([^"]*)" data-value="([^"]*)"',
                           page))


def _points(page: str, series: str) -> list[str]:
    return re.findall(rf'<circle class="point"[^>]*data-series="{series}"[^>]*'
                      r'data-value="([^"]*)"', page)


def test_a_trainer_sees_backlog_bars_answers_per_reviewer_and_kappa_per_pair(
    as_user, answered
):
    response = as_user("trainer").get("/stats")
    assert response.status_code == 200
    page = response.text
    assert page.count("<svg") == 4 and "<script" not in page.split("</header>")[1]
    # Open in the queue by model label: p1 and p4 offensive, p2 hate, p3 clean (k2 waits for
    # adjudication, the other k posts are labelled).
    assert _bars(page) == {"offensive": "2", "hate": "1", "clean": "1",
                                "hostile: reviewer · reviewer2": "0.50"}
    assert "<td>clean</td><td>1</td><td>1</td><td>1</td>" in page  # k2 in adjudication
    # Four answers each, all today (the last point of each reviewer's line).
    assert _points(page, "reviewer")[-1] == "4" and _points(page, "reviewer2")[-1] == "4"
    assert _points(page, "reviewer")[:-1] == ["0"] * 13  # the 14 days before
    # Time to label: 2, 4 and 6 hours, median 4 h.
    assert "<td>hostile</td><td>3</td><td>4.0 h</td>" in page
    assert _points(page, "median")[-1] == "4"
    # Kappa per pair, with n and how it is computed.
    assert re.search(r"<td>reviewer · reviewer2</td><td>4</td>\s*<td>0.75</td><td>0.50</td>"
                     r"<td>0.50</td>", page)
    assert "κ = (pₒ − pₑ) / (1 − pₑ)" in page and "expected by chance" in page


def test_a_reviewer_sees_the_team_totals_but_no_one_by_name(as_user, answered):
    page = as_user("reviewer2").get("/stats").text
    page = page.split("</header>", 1)[1]  # the account's own name is in the header
    assert "reviewer2" not in page and "reviewer ·" not in page
    assert _points(page, "all reviewers")[-1] == "8"
    assert "8 answers in all." in page
    assert re.search(r"<td>hostile</td><td>4</td><td>0.75</td><td>0.50</td><td>0.50</td>", page)
    assert "Per pair of reviewers" not in page


@pytest.mark.parametrize("role,status", [("admin", 200), ("analyst", 200), ("reviewer", 200),
                                         ("communicator", 403)])
def test_who_may_see_the_page(as_user, role, status):
    assert as_user(role).get("/stats").status_code == status


def test_no_login_goes_to_the_login_page(client):
    response = client.get("/stats")
    assert response.status_code == 303 and "/login" in response.headers["location"]


@pytest.mark.parametrize("query", ["days=0", "days=367", "days=abc", "days=-3", "days=1.5",
                                   "days=" + "9" * 30, "task=nope", "task=%3Cscript%3E"])
def test_bad_filters_are_a_400_not_a_500(as_user, query):
    response = as_user("trainer").get(f"/stats?{query}")
    assert response.status_code == 400, response.text
    assert "<script>" not in response.text


def test_filters_choose_the_task_and_the_window(as_user, answered):
    page = as_user("trainer").get("/stats?task=false&days=3").text
    assert _bars(page) == {}  # nothing of the false task is open
    assert "No open items." in page and "No item has two answers yet." in page
    hostile = as_user("admin").get("/stats?task=hostile&days=3").text
    assert len(_points(hostile, "reviewer")) == 3


def test_text_in_the_charts_is_escaped(as_user, sessions):
    with sessions() as s:
        s.execute(update(Item).where(Item.source_id == "p3").values(
            model_label='<img src=x onerror="alert(1)">'))
        s.commit()
    page = as_user("trainer").get("/stats").text
    assert "<img" not in page
    assert 'data-label="&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"' in page


def test_the_plots_escape_and_scale():
    svg = bar_chart([("a & b", 4), ("<c>", 2)], title='"odd" <title>', unit="h")
    assert "a &amp; b" in svg and "&lt;c&gt;" in svg and "<c>" not in svg
    assert 'aria-label="&#34;odd&#34; &lt;title&gt;"' in svg
    widths = [float(w) for w in re.findall(r'class="bar"[^>]*width="([\d.]+)"', svg)]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert 'viewBox="0 0 600 ' in svg and 'width="100%"' in svg
    line = line_chart(["05-01", "05-02", "05-03"], [("x<y", [1, None, 3])], title="t")
    assert line.count('class="point"') == 2 and "x&lt;y" in line
    assert 'class="line"' not in line  # a gap leaves no two neighbours to join


def test_a_title_marked_safe_is_still_escaped_as_text():
    from markupsafe import Markup

    svg = bar_chart([("a", 1)], title=Markup('say "hi" <b>'))
    assert 'aria-label="say &#34;hi&#34; &lt;b&gt;"' in svg


def test_the_page_is_in_vietnamese_by_default(app, db_url):
    from fastapi.testclient import TestClient

    from pipeline.web.app import WebSettings, create_app
    from tests.web.conftest import log_in

    site = create_app(WebSettings(secret_key="v" * 40, database_url=db_url))
    try:
        with TestClient(site, follow_redirects=False) as c:
            assert log_in(c, "trainer").status_code == 303
            page = c.get("/stats").text
    finally:
        site.state.engine.dispose()
    assert "Tiến độ và thống kê" in page and "Hệ số kappa của Cohen κ" in page
    assert 'aria-label="Mục chờ duyệt trong hàng đợi theo nhãn dự đoán"' in page
    assert 'data-label="xúc phạm" data-value="2"' in page  # the label's Vietnamese name
