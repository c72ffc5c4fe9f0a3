"""Every way a request can fail ends on the one error page: status, title and message."""

import re

from fastapi.testclient import TestClient

from pipeline.store.tables import Item
from pipeline.web.errors import SERVER_ERROR_MESSAGE, TITLES

from .conftest import csrf_of

SHAPE = re.compile(
    r'<section class="error" data-status="(\d+)">\s*<h1>(\d+) ([^<]+)</h1>\s*'
    r'<p class="error-message">([^<]*)</p>\s*</section>'
)


def error_page(response, status: int) -> str:
    """The message of an error page of ``status``, after checking the page's shape."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    found = SHAPE.search(response.text)
    assert found, response.text[:500]
    assert found.group(1) == found.group(2) == str(status)
    assert found.group(3) == TITLES[status]
    assert "Traceback" not in response.text
    return found.group(4)


def _item_id(sessions, source_id: str) -> int:
    with sessions() as s:
        return s.query(Item).filter_by(source_id=source_id, task="hostile").one().id


def test_unknown_pages_and_items_are_404_pages(as_user):
    reviewer = as_user("reviewer")
    assert "Not Found" in error_page(reviewer.get("/no-such-page"), 404)
    assert "99999" in error_page(reviewer.get("/items/99999"), 404)


def test_a_field_of_the_wrong_type_is_a_400_page_not_json(as_user):
    message = error_page(as_user("reviewer").get("/items/not-a-number"), 400)
    assert "item_id" in message


def test_a_store_refusal_keeps_its_own_status_and_message(as_user, sessions):
    first, second = as_user("reviewer"), as_user("reviewer2")
    item = _item_id(sessions, "p1")
    pages = [c.get(f"/items/{item}").text for c in (first, second)]
    version = re.search(r'name="version" value="(\d+)"', pages[0]).group(1)
    for client, page, label, status in ((first, pages[0], "hate", 303),
                                        (second, pages[1], "clean", 409)):
        answer = client.post(f"/items/{item}/answer",
                             data={"label": label, "version": version,
                                   "csrf_token": csrf_of(page)})
        if status == 303:
            assert answer.status_code == 303
        else:
            assert "expected" in error_page(answer, 409)


def test_a_forbidden_route_is_a_403_page(as_user):
    assert "analyst" in error_page(as_user("analyst").get("/audit"), 403)


def test_an_unexpected_error_is_a_500_page_that_leaks_nothing(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
        token = csrf_of(client.get("/login").text)
        monkeypatch.setattr("pipeline.store.users.verify_password", broken)
        response = client.post("/login", data={"name": "reviewer", "password": "x",
                                               "csrf_token": token})
    assert error_page(response, 500) == SERVER_ERROR_MESSAGE
    assert "secret internals" not in response.text


def test_not_logged_in_a_page_goes_to_login_and_a_form_gets_a_401_page(client, sessions):
    page = client.get("/queue")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fqueue"
    token = csrf_of(client.get("/login").text)
    answer = client.post(f"/items/{_item_id(sessions, 'p1')}/answer",
                         data={"label": "hate", "version": "1", "csrf_token": token})
    assert "Log in" in error_page(answer, 401)
