"""The admin's accounts page and the analysts' landing page, through HTTP, against SQLite
and PostgreSQL."""

import csv
import io
import json
import re

from pipeline.store.answers import record_answer
from pipeline.store.tables import AuditEntry, Item
from pipeline.store.users import get_user, verify_password
from tests.web.conftest import PASSWORD, csrf_of, log_in


def test_an_admin_changes_roles_and_passwords_from_the_accounts_page(as_user, sessions):
    admin = as_user("admin")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and 'data-user="reviewer2"' in page.text
    token = csrf_of(page.text)
    response = admin.post("/admin/users/reviewer2/role", data={"role": "trainer",
                                                               "csrf_token": token})
    assert response.status_code == 303
    assert "reviewer2 is now trainer" in admin.get("/admin/users").text
    assert admin.post("/admin/users/reviewer2/role",
                      data={"role": "boss", "csrf_token": token}).status_code == 400
    mismatch = {"password": "new password one", "again": "new password two", "csrf_token": token}
    assert admin.post("/admin/users/reviewer2/password", data=mismatch).status_code == 400
    short = {"password": "short", "again": "short", "csrf_token": token}
    assert "at least 8 characters" in admin.post("/admin/users/reviewer2/password",
                                                 data=short).text
    ok = {"password": "new password one", "again": "new password one", "csrf_token": token}
    assert admin.post("/admin/users/reviewer2/password", data=ok).status_code == 303
    with sessions() as s:
        assert get_user(s, "reviewer2").role == "trainer"
        assert verify_password(s, "reviewer2", "new password one") is not None
        assert verify_password(s, "reviewer2", PASSWORD) is None
        actions = [(e.actor, e.action) for e in s.query(AuditEntry).filter(
            AuditEntry.action.in_(("set_role", "set_password"))).order_by(AuditEntry.id)]
    assert actions == [("admin", "set_role"), ("admin", "set_password")]
    page = admin.get("/admin/users").text
    assert "new password one" not in page and "argon2" not in page


def test_the_last_admin_cannot_switch_itself_off(as_user, sessions):
    admin = as_user("admin")
    token = csrf_of(admin.get("/admin/users").text)
    response = admin.post("/admin/users/admin/active", data={"active": "0", "csrf_token": token})
    assert response.status_code == 400 and "last active admin" in response.text
    with sessions() as s:
        assert get_user(s, "admin").active


def test_an_analyst_lands_on_its_own_page_and_downloads_reviewed_labels(app, client, sessions):
    with sessions() as s:
        item = s.query(Item).filter_by(source_id="p2", task="hostile").one()
        record_answer(s, item.id, "reviewer", "hate", item.version, "quy chụp vùng miền")
    response = log_in(client, "analyst")
    assert response.status_code == 303 and response.headers["location"] == "/analysis"
    page = client.get("/analysis")
    assert page.status_code == 200
    assert "hostile" in page.text and "/labels/hostile.jsonl" in page.text
    # 4 posts scored by that model are in the queue, 1 of them decided by review.
    assert re.search(r"hostile/linear-1</code></td><td>4</td>\s*<td>1</td>", page.text)
    jsonl = client.get("/labels/hostile.jsonl")
    assert jsonl.status_code == 200
    assert "attachment" in jsonl.headers["content-disposition"]
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [(r["id"], r["label"]) for r in rows] == [(f"kiemtin:{item.id}", "hate")]
    table = list(csv.DictReader(io.StringIO(client.get("/labels/hostile.csv").text)))
    assert [r["label"] for r in table] == ["hate"]
    assert client.get("/labels/nosuchtask.jsonl").status_code == 400
    assert client.get("/labels/hostile.exe").status_code == 404
    assert client.get("/queue").status_code == 403  # still not a reviewer
