"""A reviewer's session in a real browser, in Vietnamese, on a phone (390 px) and on a desk
(1280 px): a search typed without diacritics finds its post, then ten items are labelled
from the keyboard and `k` `u` takes the last answer back.

Without Chromium the test skips, unless ``CI`` is set: then it fails.
"""

import pytest

from pipeline.store.intake import add_scored
from pipeline.store.tables import Answer, Item
from pipeline.store.users import add_user
from pipeline.web.app import WebSettings, create_app
from tests.store.conftest import scored
from tests.store.test_queue import posts
from tests.web.browser import ARGS, CHROMIUM, log_in, need_chromium, serving
from tests.web.conftest import PASSWORD

HOAX = "Bọn miền đó toàn lũ ăn cắp, đuổi hết về quê"
ANSWERS = 10


@pytest.fixture
def server(tmp_path):
    from pipeline.store.db import make_engine, session_factory, upgrade

    url = f"sqlite:///{tmp_path / 'kiemtin.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        add_user(s, "lan", "reviewer", PASSWORD)
    risky = [scored(f"r{i}", t, hostile=(0.1, 0.3, 0.6)) for i, t in enumerate(posts(12, 7))]
    add_scored(engine, [*risky, scored("hoax", HOAX, hostile=(0.05, 0.15, 0.8))], actor="test")
    app = create_app(WebSettings(secret_key="b" * 40, database_url=url))  # Vietnamese
    with serving(app) as base:
        yield base, session_factory(engine)
    engine.dispose()


def _item_id(url: str) -> int:
    return int(url.rsplit("/items/", 1)[1].split("?")[0])


@pytest.mark.parametrize("width", [390, 1280])
def test_search_without_diacritics_then_ten_answers_by_keyboard_and_k_u(server, width):
    need_chromium()
    from playwright.sync_api import sync_playwright

    base, sessions = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context(viewport={"width": width, "height": 844}).new_page()
        log_in(page, base, "lan")
        assert page.locator("html").get_attribute("lang") == "vi"
        page.fill("input[name=q]", "an cap mien do")
        with page.expect_navigation():
            page.press("input[name=q]", "Enter")
        assert "ăn cắp" in page.inner_text("main") and "1 kết quả" in page.inner_text("main")

        page.goto(f"{base}/queue")
        with page.expect_navigation():
            page.keyboard.press("j")  # start reviewing
        answered = []
        for n in range(ANSWERS):
            answered.append(_item_id(page.url))
            with page.expect_navigation():
                page.keyboard.press("3" if n % 2 else "2")  # thù ghét, xúc phạm
            assert "đã gán nhãn" in page.inner_text(".flash")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        with page.expect_navigation():
            page.keyboard.press("k")
        assert _item_id(page.url) == answered[-1]
        with page.expect_navigation():
            page.keyboard.press("u")
        assert "đã hoàn tác" in page.inner_text(".flash")
        browser.close()

    with sessions() as s:
        labels = {a.item_id: a.label for a in s.query(Answer)}
        assert s.get(Item, answered[-1]).status == "open"
    assert len(set(answered)) == ANSWERS
    assert labels == {
        item: "hate" if n % 2 else "offensive" for n, item in enumerate(answered[:-1])
    }
