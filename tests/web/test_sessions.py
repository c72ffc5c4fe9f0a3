"""Server-side sessions, the login throttle and redirects, as an attacker would try them,
against SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from pipeline.store.login_sessions import SessionLimits, find_session, start_session
from pipeline.store.tables import AuditEntry, Item, LoginSession
from pipeline.store.users import get_user, set_password, set_role
from pipeline.web.app import WebSettings, create_app
from pipeline.web.security import LoginRateLimiter
from tests.web.conftest import PASSWORD, csrf_of, log_in


def _item_id(sessions, source_id: str = "p1") -> int:
    with sessions() as s:
        return s.query(Item).filter_by(source_id=source_id, task="hostile").one().id


def _captured(app, c: TestClient) -> TestClient:
    """Another browser holding a copy of ``c``'s cookie (stolen, or an old tab)."""
    thief = TestClient(app, follow_redirects=False)
    thief.cookies.update(c.cookies)
    return thief


def _post_answer(c: TestClient, sessions, token: str):
    item = _item_id(sessions)
    return c.post(f"/items/{item}/answer", data={"label": "hate", "version": "0",
                                                 "csrf_token": token})


def test_a_cookie_captured_before_logout_is_refused(app, as_user, sessions):
    c = as_user("reviewer")
    token = csrf_of(c.get("/queue").text)
    thief = _captured(app, c)
    assert thief.get("/queue").status_code == 200  # the same session, for now
    assert c.post("/logout", data={"csrf_token": token}).headers["location"] == "/login"
    page = thief.get("/queue")
    assert page.status_code == 401 and "session has ended" in page.text
    assert 'name="password"' in page.text  # the login form, coming back to /queue after
    assert _post_answer(thief, sessions, token).status_code == 401
    with sessions() as s:
        assert s.query(LoginSession).count() == 0
        assert s.get(Item, _item_id(sessions)).status == "open"  # nothing was answered


def test_switching_an_account_off_ends_its_open_tabs_at_once(app, as_user, sessions):
    tab = as_user("reviewer")
    token = csrf_of(tab.get("/queue").text)
    admin = as_user("admin")
    admin_token = csrf_of(admin.get("/admin/users").text)
    response = admin.post("/admin/users/reviewer/active",
                          data={"active": "0", "csrf_token": admin_token})
    assert response.status_code == 303 and response.headers["location"] == "/admin/users"
    assert _post_answer(tab, sessions, token).status_code == 401
    assert tab.get("/queue").status_code == 401
    assert log_in(TestClient(app, follow_redirects=False), "reviewer").status_code == 401
    with sessions() as s:
        entry = s.query(AuditEntry).filter_by(action="set_active").one()
        assert entry.actor == "admin" and entry.after["active"] is False
        assert entry.after["sessions_ended"] == 1
    admin.post("/admin/users/reviewer/active", data={"active": "1", "csrf_token": admin_token})
    assert log_in(TestClient(app, follow_redirects=False), "reviewer").status_code == 303


@pytest.mark.parametrize("change", ["role", "password"])
def test_a_role_or_password_change_ends_every_session_of_the_account(
    app, as_user, sessions, change
):
    tabs = [as_user("reviewer"), as_user("reviewer")]
    other = as_user("reviewer2")
    with sessions() as s:
        if change == "role":
            set_role(s, "reviewer", "analyst", actor="admin")
        else:
            set_password(s, "reviewer", "another long password", actor="admin")
    assert [t.get("/queue").status_code for t in tabs] == [401, 401]
    assert other.get("/queue").status_code == 200  # only that account's sessions


def test_sessions_end_after_the_idle_timeout_and_the_absolute_lifetime(app, sessions):
    limits = SessionLimits(idle=timedelta(minutes=30), lifetime=timedelta(hours=8))
    with sessions() as s:
        user = get_user(s, "reviewer")
        token, row = start_session(s, user, limits)
        start = row.created_at
        assert find_session(s, token, limits, now=start + timedelta(minutes=29)) is not None
        assert find_session(s, token, limits, now=start + timedelta(minutes=60)) is None
        assert find_session(s, token, limits, now=start) is None  # deleted, not just refused
        # Used every 20 minutes, a session still ends at its lifetime.
        token, row = start_session(s, user, limits, now=start)
        for minutes in range(20, 8 * 60, 20):
            assert find_session(s, token, limits, now=start + timedelta(minutes=minutes))
        assert find_session(s, token, limits, now=start + timedelta(hours=8, minutes=1)) is None


def test_session_timeouts_are_settings(monkeypatch):
    monkeypatch.setenv("KIEMTIN_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("KIEMTIN_SESSION_IDLE_MINUTES", "15")
    monkeypatch.setenv("KIEMTIN_SESSION_HOURS", "2")
    limits = WebSettings.from_env().session_limits
    assert limits == SessionLimits(idle=timedelta(minutes=15), lifetime=timedelta(hours=2))
    monkeypatch.setenv("KIEMTIN_SESSION_HOURS", "0.1")
    with pytest.raises(Exception, match="KIEMTIN_SESSION_IDLE_MINUTES"):
        WebSettings.from_env()


def test_the_table_alone_logs_no_one_in(app, as_user, sessions):
    c = as_user("reviewer")
    with sessions() as s:
        row = s.query(LoginSession).one()
    assert row.id not in str(c.cookies.get("kiemtin_session"))
    forged = TestClient(app, follow_redirects=False)
    forged.cookies.set("kiemtin_session", row.id)  # unsigned: ignored
    assert forged.get("/queue").status_code == 303


def _from(app, address: str) -> TestClient:
    return TestClient(app, follow_redirects=False, client=(address, 50000))


def test_one_address_cannot_lock_an_office_out(app):
    attacker = _from(app, "10.0.0.7")  # the office NAT: everyone has this address
    for _ in range(5):
        assert log_in(attacker, "admin", "guess").status_code == 401
    assert log_in(attacker, "admin").status_code == 429  # that name, from that address
    colleague = _from(app, "10.0.0.7")
    assert log_in(colleague, "reviewer").status_code == 303  # another name: not locked
    assert log_in(_from(app, "192.0.2.1"), "admin").status_code == 303  # elsewhere: fine


def test_many_addresses_guessing_one_name_lock_that_name(app, db_url):
    for i in range(4):  # 5 refused tries each: 20 in all, the name's limit
        c = _from(app, f"198.51.100.{i}")
        for _ in range(5):
            assert log_in(c, "trainer", "guess").status_code == 401
    assert log_in(_from(app, "203.0.113.9"), "trainer").status_code == 429
    # The counts are in the database: another worker, or the app after a restart, agrees.
    restarted = create_app(WebSettings(secret_key="k" * 40, database_url=db_url,
                                       rate_limit=LoginRateLimiter(), language="en"))
    try:
        assert log_in(_from(restarted, "203.0.113.9"), "trainer").status_code == 429
        assert log_in(_from(restarted, "203.0.113.9"), "reviewer").status_code == 303
    finally:
        restarted.state.engine.dispose()


def test_redirects_are_paths_whatever_the_host_header(app):
    c = TestClient(app, follow_redirects=False, headers={"host": "evil.example"})
    response = log_in(c, "reviewer")
    assert response.headers["location"] == "/queue"
    page = c.get("/queue").text
    assert "evil.example" not in page
    logout = c.post("/logout", data={"csrf_token": csrf_of(page)})
    assert logout.headers["location"] == "/login"


def test_a_deep_link_comes_back_after_login_on_this_site_only(client, sessions):
    item = _item_id(sessions, "p2")
    response = client.get(f"/items/{item}?task=hostile")
    target = f"/items/{item}?task=hostile"
    assert response.status_code == 303
    login_page = client.get(response.headers["location"]).text
    assert f'name="next" value="/items/{item}?task=hostile"' in login_page.replace("&amp;", "&")
    token = csrf_of(login_page)
    data = {"name": "reviewer", "password": PASSWORD, "csrf_token": token, "next": target}
    assert client.post("/login", data=data).headers["location"] == target
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "\t//evil"):
        fresh = TestClient(client.app, follow_redirects=False)
        token = csrf_of(fresh.get("/login").text)
        data = {"name": "reviewer", "password": PASSWORD, "csrf_token": token, "next": evil}
        assert fresh.post("/login", data=data).headers["location"] == "/queue", evil


def test_logged_in_pages_are_never_cached_and_hsts_comes_with_https(app, as_user, db_url):
    page = as_user("reviewer").get("/queue")
    assert page.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in page.headers
    secure = create_app(
        WebSettings(secret_key="k" * 40, database_url=db_url, https=True, language="en")
    )
    try:
        c = TestClient(secure, base_url="https://testserver", follow_redirects=False)
        response = c.get("/login")
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "secure" in log_in(c, "reviewer").headers["set-cookie"].lower()
    finally:
        secure.state.engine.dispose()


def test_the_server_sends_no_banner(app):
    import http.client
    import socket
    import threading
    import time

    import uvicorn

    from pipeline.cli.serve import server_config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(server_config(app, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/login")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("server") is None
        assert response.getheader("cache-control") == "no-store"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
