"""The web app in Vietnamese by default and in English on request: per account, on the login
page and as the site's ``KIEMTIN_LANGUAGE``; label names shown in Vietnamese while the stored
values stay as they are; and the catalogues complete, compiled and covering every string."""

from __future__ import annotations

import ast
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages import frontend
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from pipeline.errors import InputError
from pipeline.store.tables import Item, User
from pipeline.tasks import known_tasks, load_task
from pipeline.web.app import WebSettings, create_app
from pipeline.web.i18n import LANGUAGES, LOCALE_DIR
from pipeline.web.security import ROLES
from tests.conftest import REPO
from tests.web.conftest import csrf_of, log_in

WEB = REPO / "pipeline" / "web"
TEMPLATES = WEB / "templates"
# Templates that are not pages of the app: report.html is the trainers' evaluation report
# that `kiemtin evaluate` writes next to metrics.json. (pack.html, the handed-out rebuttal
# pack, is in the reader's language like the pages and checked with them.)
NOT_PAGES = {"report.html"}
# Visible words that are the same in every language: the app's name and key names.
SAME_IN_EVERY_LANGUAGE = {"kiemtin", "Esc", "j", "k", "u"}


@pytest.fixture
def vi_app(app, db_url):
    """The app as it starts with no language settings (the ``app`` fixture seeds the
    database and speaks English for the other tests)."""
    site = create_app(WebSettings(secret_key="v" * 40, database_url=db_url))
    yield site
    site.state.engine.dispose()


def _client(app) -> TestClient:
    return TestClient(app, follow_redirects=False)


def _logged_in(app, name: str) -> TestClient:
    c = _client(app)
    assert log_in(c, name).status_code == 303
    return c


def _item_id(sessions, source_id: str) -> int:
    with sessions() as s:
        return s.query(Item).filter_by(source_id=source_id, task="hostile").one().id


def _switch(c: TestClient, language: str, page: str = "/login", **extra):
    return c.post(
        "/language",
        data={"language": language, "csrf_token": csrf_of(c.get(page).text), **extra},
    )


# Vietnamese by default ---------------------------------------------------------------------


def test_the_default_language_is_vietnamese_and_kiemtin_language_chooses_another(monkeypatch):
    assert WebSettings(secret_key="k" * 40, database_url="sqlite://").language == "vi"
    monkeypatch.setenv("KIEMTIN_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("KIEMTIN_LANGUAGE", "en")
    assert WebSettings.from_env().language == "en"
    monkeypatch.setenv("KIEMTIN_LANGUAGE", "fr")
    with pytest.raises(InputError, match="KIEMTIN_LANGUAGE") as refused:
        WebSettings.from_env()
    assert "vi" in str(refused.value) and "en" in str(refused.value)


def test_the_login_page_is_in_vietnamese(vi_app):
    page = _client(vi_app).get("/login").text
    assert '<html lang="vi">' in page
    assert "Đăng nhập" in page and "Tên đăng nhập" in page and "Mật khẩu" in page
    assert "Log in" not in page
    assert 'value="en"' in page and "English" in page  # the switch offers English


def test_the_queue_and_item_show_vietnamese_label_names_and_keep_the_stored_values(
    vi_app, sessions
):
    c = _logged_in(vi_app, "reviewer")
    queue = c.get("/queue").text
    assert "Hàng đợi duyệt" in queue and "Bắt đầu duyệt" in queue
    assert "thù ghét" in queue and "xúc phạm" in queue and "thù địch" in queue
    assert '<option value="hate"' in queue  # the filter's value is the stored label
    assert "chờ duyệt" in queue  # the status "open"
    item = _item_id(sessions, "p1")
    page = c.get(f"/items/{item}").text
    assert re.search(r'value="hate" data-key="3"><kbd>3</kbd> thù ghét</button>', page)
    assert re.search(r'value="clean" data-key="1"><kbd>1</kbd> sạch</button>', page)
    assert "Phím tắt" in page and "gán nhãn" in page  # the help overlay
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    done = c.post(
        f"/items/{item}/answer",
        data={"label": "offensive", "version": version, "csrf_token": csrf_of(page)},
    )
    assert done.status_code == 303
    with sessions() as s:
        assert s.get(Item, item).label == "offensive"  # stored as today
    flashed = c.get(done.headers["location"]).text
    assert f"Mục {item}: đã gán nhãn xúc phạm." in flashed


def test_false_task_labels_have_vietnamese_names():
    from pipeline.web.i18n import label_name, task_name

    assert label_name("false", "reliable", "vi") == "đáng tin"
    assert label_name("false", "unreliable", "vi") == "không đáng tin"
    assert label_name("false", "unreliable", "en") == "unreliable"
    assert label_name("unknown-task", "odd", "vi") == "odd"  # no names: the label itself
    assert task_name("false", "vi") == "tin sai lệch"


def test_every_bundled_task_names_each_label_in_each_language():
    for name in known_tasks():
        task = load_task(name)
        for language in LANGUAGES:
            shown = task.display.get(language, {})
            assert shown.get("name"), (name, language)
            assert set(shown.get("labels", {})) == set(task.labels), (name, language)
        assert "display" not in task.to_dict()  # model directories record the task as before


def test_error_pages_are_in_vietnamese_and_store_refusals_get_a_vietnamese_lead(vi_app, sessions):
    reviewer = _logged_in(vi_app, "reviewer")
    missing = reviewer.get("/items/99999")
    assert missing.status_code == 404
    assert "<h1>404 Không tìm thấy</h1>" in missing.text and "Không có mục 99999." in missing.text
    unknown = reviewer.get("/no-such-page")
    assert unknown.status_code == 404 and "Không tìm thấy" in unknown.text
    forbidden = _logged_in(vi_app, "analyst").get("/audit")
    assert forbidden.status_code == 403
    assert "403 Không có quyền" in forbidden.text and "phân tích viên" in forbidden.text

    other = _logged_in(vi_app, "reviewer2")
    item = _item_id(sessions, "p1")
    pages = [c.get(f"/items/{item}").text for c in (reviewer, other)]
    version = re.search(r'name="version" value="(\d+)"', pages[0]).group(1)
    for c, page, label in ((reviewer, pages[0], "hate"), (other, pages[1], "clean")):
        answer = c.post(
            f"/items/{item}/answer",
            data={"label": label, "version": version, "csrf_token": csrf_of(page)},
        )
    assert answer.status_code == 409
    assert "409 Xung đột" in answer.text
    # The store's own message stays in English after the translated lead.
    assert re.search(r"Yêu cầu không thực hiện được: .*expected", answer.text)


def test_a_stale_form_is_refused_in_vietnamese(vi_app):
    c = _client(vi_app)
    c.get("/login")
    refused = c.post("/login", data={"name": "reviewer", "password": "x", "csrf_token": "no"})
    assert refused.status_code == 403 and "Biểu mẫu đã cũ" in refused.text
    wrong = log_in(c, "reviewer", "wrong password")
    assert wrong.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in wrong.text


# Choosing a language ---------------------------------------------------------------------


def test_a_user_who_picks_english_sees_english_and_others_still_see_vietnamese(vi_app, sessions):
    lan = _logged_in(vi_app, "reviewer")
    switched = _switch(lan, "en", page="/queue", next="/queue")
    assert switched.status_code == 303 and switched.headers["location"] == "/queue"
    page = lan.get("/queue").text
    assert '<html lang="en">' in page and "Review queue" in page and "hate" in page
    assert "Hàng đợi duyệt" not in page
    assert "Hàng đợi duyệt" in _logged_in(vi_app, "reviewer2").get("/queue").text
    # The choice is the account's: another browser, a new login, still English.
    assert "Review queue" in _logged_in(vi_app, "reviewer").get("/queue").text
    with sessions() as s:
        assert s.query(User).filter_by(name="reviewer").one().language == "en"
    back = _switch(lan, "vi", page="/queue")
    assert back.status_code == 303
    assert "Hàng đợi duyệt" in lan.get("/queue").text


def test_the_login_page_choice_is_kept_for_the_login(vi_app, sessions):
    c = _client(vi_app)
    switched = _switch(c, "en", next="/login")
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert "Log in" in c.get("/login").text
    assert log_in(c, "reviewer2").status_code == 303
    assert "Review queue" in c.get("/queue").text  # no choice of its own: the browser's
    with sessions() as s:
        assert s.query(User).filter_by(name="reviewer2").one().language is None
    assert "Hàng đợi duyệt" in _logged_in(vi_app, "reviewer2").get("/queue").text


def test_the_site_default_applies_to_accounts_without_a_choice(app, as_user, sessions):
    from pipeline.store.users import set_language

    with sessions() as s:  # the ``app`` fixture's site speaks English (KIEMTIN_LANGUAGE=en)
        set_language(s, "reviewer2", "vi", actor="test")
    assert "Review queue" in as_user("reviewer").get("/queue").text
    assert "Hàng đợi duyệt" in as_user("reviewer2").get("/queue").text


@pytest.mark.parametrize("role", [*ROLES, None])
def test_every_role_and_no_login_may_switch_the_language_with_the_forms_token(
    app, as_user, client, role
):
    c = as_user(role) if role else client
    page = "/login"
    assert c.post("/language", data={"language": "vi"}).status_code == 403  # no CSRF token
    assert _switch(c, "fr", page=page).status_code == 400
    response = _switch(c, "vi", page=page, next="//evil.example/")
    assert response.status_code == 303
    assert (
        response.headers["location"].startswith("/") and "evil" not in response.headers["location"]
    )
    if role is None:
        assert "Đăng nhập" in c.get("/login").text


# The catalogues --------------------------------------------------------------------------


def _catalogue(language: str):
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def _extracted() -> set[tuple[str | None, str]]:
    """Every translatable string of the templates and the Python of the web app, as
    ``pybabel extract -F babel.cfg`` finds them."""
    with (REPO / "babel.cfg").open(encoding="utf-8") as handle:
        # parse_mapping_cfg since Babel 2.15; parse_mapping before.
        parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
        method_map, options_map = parse(handle)
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        REPO, method_map, options_map
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.add((context, msgid))
    return found


def test_every_translatable_string_has_a_vietnamese_translation():
    extracted = _extracted()
    assert len(extracted) > 150  # the extraction found the templates and the routes
    vi = _catalogue("vi")
    translated = {}
    for m in vi:
        if m.id:
            msgid = m.id[0] if isinstance(m.id, tuple) else m.id
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            translated[(m.context, msgid)] = "fuzzy" not in m.flags and all(strings)
    missing = sorted((k for k in extracted if not translated.get(k)), key=str)
    assert not missing, f"no Vietnamese for {missing}: see pipeline/web/i18n.py"
    unused = sorted(set(translated) - extracted, key=str)
    assert not unused, f"in vi messages.po but no longer in the code: {unused}"
    en = {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in _catalogue("en")}
    assert en - {(None, "")} == extracted, "en messages.po is not up to date"


def test_translations_keep_every_placeholder():
    for language in LANGUAGES:
        problems = [(m.id, [str(e) for e in errors]) for m, errors in _catalogue(language).check()]
        assert not problems, (language, problems)


def test_the_committed_mo_files_are_compiled_from_the_po_files():
    for language in LANGUAGES:
        compiled = io.BytesIO()
        write_mo(compiled, _catalogue(language))
        committed = (LOCALE_DIR / language / "LC_MESSAGES" / "messages.mo").read_bytes()
        assert compiled.getvalue() == committed, (
            f"{language}: messages.mo is older than messages.po; run "
            "pybabel compile -d pipeline/web/locale"
        )


# Nothing left untranslated -----------------------------------------------------------------


class _VisibleText(HTMLParser):
    """Text a reader sees (outside <script> and <style>), and the attributes read aloud."""

    SHOWN_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        self.found += [value for name, value in attrs if name in self.SHOWN_ATTRIBUTES and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.found.append(data)


def untranslated(template: str) -> list[str]:
    """The words of ``template`` a reader would see that no ``{% trans %}`` or ``_()``
    carries (values from ``{{ ... }}`` are the code's business).

    >>> untranslated("<p>{% trans %}Saved{% endtrans %} <b>{{ name }}</b> (<kbd>j</kbd>)</p>")
    []
    >>> untranslated('<h1>Queue</h1><input aria-label="role of {{ name }}">')
    ['Queue', 'role of']
    """
    text = re.sub(r"{#.*?#}", " ", template, flags=re.S)
    text = re.sub(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", " ", text, flags=re.S)
    text = re.sub(r"{{.*?}}|{%.*?%}", " ", text, flags=re.S)
    parser = _VisibleText()
    parser.feed(text)
    parser.close()
    words = []
    for chunk in parser.found:
        chunk = " ".join(chunk.split())
        letters = [w for w in re.findall(r"[^\W\d_]+", chunk) if w not in SAME_IN_EVERY_LANGUAGE]
        if letters:
            words.append(chunk)
    return words


def test_no_template_shows_text_outside_trans():
    pages = sorted(p for p in TEMPLATES.glob("*.html") if p.name not in NOT_PAGES)
    assert len(pages) >= 12
    left = {p.name: untranslated(p.read_text(encoding="utf-8")) for p in pages}
    assert not {name: words for name, words in left.items() if words}


def test_the_check_finds_a_string_left_outside_trans():
    assert untranslated('<button type="submit">Save draft</button>') == ["Save draft"]
    assert untranslated("<script>var ok = 'not shown';</script><style>p{}</style>") == []


def _untranslated_python(path: Path) -> list[str]:
    """Error details, flash messages and login errors written as plain strings."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        plain = (ast.Constant, ast.JoinedStr, ast.BinOp)
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "HTTPException"
            and len(node.args) > 1
            and isinstance(node.args[1], plain)
        ):
            found.append(f"{path.name}:{node.lineno}")
        if isinstance(node, ast.Call):
            found += [
                f"{path.name}:{node.lineno}"
                for kw in node.keywords
                if kw.arg in ("error", "message") and isinstance(kw.value, plain)
            ]
        if isinstance(node, ast.Assign) and isinstance(node.value, plain):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and "flash" in ast.unparse(target):
                    found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_route_raises_or_flashes_an_untranslated_message():
    files = [WEB / "app.py", WEB / "errors.py", *sorted((WEB / "routes").glob("*.py"))]
    assert not [hit for path in files for hit in _untranslated_python(path)]


def test_the_keyboard_help_takes_its_words_from_the_page():
    script = (WEB / "static" / "app.js").read_text(encoding="utf-8")
    code = re.sub(r"//[^\n]*", "", script)
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', code)
    wordy = [s for s in literals if re.search(r"[^\W\d_]{2,}\s+[^\W\d_]{2,}", s)]
    assert wordy == ["use strict"]
