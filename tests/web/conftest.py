"""Web fixtures: a migrated database (SQLite and PostgreSQL), one account per role, a few
scored posts in the queue, and a test client of the app.

The app of these fixtures speaks English (``language="en"``), the language of the tests'
expectations; Vietnamese, the default, is tested in ``test_i18n.py``."""

import re

import pytest
from fastapi.testclient import TestClient

from pipeline.store.intake import add_scored
from pipeline.store.users import add_user
from pipeline.web.app import WebSettings, create_app
from pipeline.web.security import ROLES, LoginRateLimiter
from tests.store.conftest import (  # noqa: F401 - fixtures
    db_url,
    engine,
    fast_password_hashing,
    scored,
    session,
    sessions,
)

PASSWORD = "correct horse battery staple"
POSTS = [
    scored("p1", "Thằng này ngu vl, cút đi", hostile=(0.05, 0.7, 0.25), words=("ngu",)),
    scored(
        "p2",
        "Bọn <script>alert('x')</script> miền đó toàn lũ ăn cắp",
        hostile=(0.1, 0.2, 0.7),
        words=("ăn cắp",),
    ),
    scored("p3", "Hôm nay trời đẹp, cả nhà đi chơi", hostile=(0.9, 0.07, 0.03)),
    scored("p4", "Đồ óc chó, gọi 0912 345 678 mà chửi", hostile=(0.3, 0.5, 0.2), words=("óc chó",)),
]


@pytest.fixture
def app(engine, sessions, db_url):  # noqa: F811 - the imported fixtures
    with sessions() as s:
        for role in ROLES:
            add_user(s, role, role, PASSWORD, approves_rebuttals=role == "communicator")
        add_user(s, "reviewer2", "reviewer", PASSWORD)
        add_user(s, "writer", "communicator", PASSWORD)  # writes; may not approve
    add_scored(engine, POSTS, actor="test")
    settings = WebSettings(
        secret_key="k" * 40,
        database_url=db_url,
        rate_limit=LoginRateLimiter(max_failures=5, window=300),
        language="en",
    )
    app = create_app(settings)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def client(app):
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def as_user(app):
    """``as_user("reviewer")``: a client of its own, logged in as that account."""
    clients = []

    def make(name: str) -> TestClient:
        c = TestClient(app, follow_redirects=False)
        clients.append(c)
        assert log_in(c, name).status_code == 303
        return c

    yield make
    for c in clients:
        c.close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in(client: TestClient, name: str, password: str = PASSWORD):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


def confirmed_draft(factory, source_id: str = "p2", author: str = "writer") -> tuple[int, int]:
    """Confirm post ``source_id`` (hostile) by review and draft a rebuttal for it:
    (item id, rebuttal id)."""
    from pipeline.store.answers import record_answer
    from pipeline.store.rebuttals import create_draft
    from pipeline.store.tables import Item

    with factory() as s:
        item = s.query(Item).filter_by(source_id=source_id, task="hostile").one()
        record_answer(s, item.id, "reviewer", "hate", item.version)
        draft = create_draft(s, item.id, author, "Không ai đáng bị gọi là ăn cắp",
                             "**Sai.** Quy chụp cả một vùng là kỳ thị.")
        return item.id, draft.id
