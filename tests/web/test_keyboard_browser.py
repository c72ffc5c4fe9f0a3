"""A reviewer works from the keyboard in a real browser, in Vietnamese (the default): a note
typed and left with Esc, three items labelled by number keys, then `k` back to the last answer
and `u` to undo it.

Without Chromium the test skips, unless ``CI`` is set: then it fails.
"""

import pytest

from pipeline.store.intake import add_scored
from pipeline.store.tables import Answer, Item
from pipeline.store.users import add_user
from pipeline.web.app import WebSettings, create_app
from tests.store.conftest import scored
from tests.web.browser import ARGS, CHROMIUM, SHOTS, log_in, need_chromium, serving
from tests.web.conftest import PASSWORD

POSTS = [
    scored("k1", "Bọn miền đó toàn lũ ăn cắp, đuổi hết về quê", hostile=(0.05, 0.15, 0.8),
           words=("ăn cắp",)),
    scored("k2", "Thằng này ngu vl, cút đi cho khuất mắt", hostile=(0.1, 0.7, 0.2),
           words=("ngu",)),
    scored("k3", "Đồ óc chó, nói mãi không hiểu", hostile=(0.2, 0.6, 0.2), words=("óc chó",)),
    scored("k4", "Hôm nay trời đẹp, cả nhà đi chơi công viên", hostile=(0.7, 0.2, 0.1)),
]


@pytest.fixture
def server(tmp_path):
    from pipeline.store.db import make_engine, session_factory, upgrade

    url = f"sqlite:///{tmp_path / 'kiemtin.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        add_user(s, "lan", "reviewer", PASSWORD)
    add_scored(engine, POSTS, actor="test")
    app = create_app(WebSettings(secret_key="b" * 40, database_url=url))  # Vietnamese
    with serving(app) as base:
        yield base, session_factory(engine)
    engine.dispose()


def _item_id(url: str) -> int:
    return int(url.rsplit("/items/", 1)[1].split("?")[0])


def test_a_reviewer_labels_by_keyboard_then_k_and_u_undo_the_last_answer(server):
    need_chromium()
    from playwright.sync_api import sync_playwright

    base, sessions = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
        log_in(page, base, "lan")
        with page.expect_navigation():
            page.keyboard.press("j")  # start reviewing
        assert "/items/" in page.url
        assert page.locator("html").get_attribute("lang") == "vi"
        assert page.is_visible("[data-guidelines]") and "Hướng dẫn gán nhãn" in page.content()

        # A note: number keys type into it, Esc leaves it, then a number answers.
        page.click("textarea[name=note]")
        page.keyboard.type("2 lần ")
        page.keyboard.press("Escape")
        assert page.evaluate("document.activeElement.tagName") != "TEXTAREA"
        assert page.input_value("textarea[name=note]") == "2 lần "
        page.screenshot(path=SHOTS / "item-vi.png", full_page=True)

        answered = []
        for key in ("3", "2", "2"):  # thù ghét, xúc phạm, xúc phạm
            answered.append(_item_id(page.url))
            with page.expect_navigation():
                page.keyboard.press(key)
            assert "đã gán nhãn" in page.inner_text(".flash")
        last = answered[-1]

        with page.expect_navigation():
            page.keyboard.press("k")  # back to the answer just given
        assert _item_id(page.url) == last
        assert page.is_visible("[data-undo]")
        with page.expect_navigation():
            page.keyboard.press("u")
        assert f"Mục {last}: đã hoàn tác nhãn bạn gán." in page.inner_text(".flash")
        assert page.is_visible('[data-key="1"]')  # open again, to answer anew
        browser.close()

    with sessions() as s:
        assert s.get(Item, last).status == "open"
        labels = {a.item_id: (a.label, a.note) for a in s.query(Answer)}
    assert labels == {answered[0]: ("hate", "2 lần "), answered[1]: ("offensive", None)}
