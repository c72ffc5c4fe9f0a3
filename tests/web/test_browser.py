"""A reviewer in a real browser (Debian's Chromium driven by Playwright): log in, label three
items from the keyboard, and see a disagreement adjudicated by a trainer.

Screenshots of the queue and item pages go to the test's output folder. Without Chromium
the test skips, unless ``CI`` is set: then it fails.
"""

import pytest

from pipeline.store.intake import add_scored
from pipeline.store.tables import Item
from pipeline.store.users import add_user
from pipeline.web.app import WebSettings, create_app
from tests.store.conftest import scored
from tests.web.browser import ARGS, CHROMIUM, SHOTS, log_in, need_chromium, serving
from tests.web.conftest import PASSWORD


@pytest.fixture
def server(tmp_path):
    from pipeline.store.db import make_engine, session_factory, upgrade

    url = f"sqlite:///{tmp_path / 'kiemtin.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        add_user(s, "lan", "reviewer", PASSWORD)
        add_user(s, "minh", "reviewer", PASSWORD)
        add_user(s, "thu", "trainer", PASSWORD)
    add_scored(
        engine,
        [
            scored(
                "b1",
                "Thằng này ngu vl, cút đi cho khuất mắt",
                hostile=(0.05, 0.7, 0.25),
                words=("ngu",),
            ),
            scored(
                "b2",
                "Bọn miền đó toàn lũ ăn cắp, đuổi hết về quê",
                hostile=(0.1, 0.2, 0.7),
                words=("ăn cắp",),
            ),
            scored(
                "b3", "Đồ óc chó, nói mãi không hiểu", hostile=(0.2, 0.6, 0.2), words=("óc chó",)
            ),
            scored("b4", "Hôm nay trời đẹp, cả nhà đi chơi công viên", hostile=(0.9, 0.07, 0.03)),
        ],
        actor="test",
        reviews_needed=2,
    )
    app = create_app(WebSettings(secret_key="b" * 40, database_url=url, language="en"))
    with serving(app) as base:
        yield base, session_factory(engine)
    engine.dispose()


def test_label_three_items_by_keyboard_and_adjudicate_a_disagreement(server):
    need_chromium()
    from playwright.sync_api import sync_playwright

    base, sessions = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        lan = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
        log_in(lan, base, "lan")
        lan.screenshot(path=SHOTS / "queue.png", full_page=True)
        lan.keyboard.press("j")  # "Start reviewing"
        lan.wait_for_url(f"{base}/items/*")
        lan.screenshot(path=SHOTS / "item.png", full_page=True)
        first_url = lan.url
        for key in ("2", "3", "2"):  # offensive, hate, offensive
            current = lan.url
            lan.keyboard.press(key)
            lan.wait_for_url(lambda url, current=current: url != current)
        lan.keyboard.press("?")
        assert lan.is_visible("#help")

        minh = browser.new_context().new_page()
        log_in(minh, base, "minh")
        minh.goto(first_url)
        minh.keyboard.press("1")  # clean: disagrees with lan
        minh.wait_for_url(lambda url: url != first_url)

        thu = browser.new_context().new_page()
        log_in(thu, base, "thu")
        thu.goto(first_url)
        assert "Reviewers disagree" in thu.content()
        thu.keyboard.press("2")
        thu.wait_for_url(lambda url: url != first_url)
        browser.close()

    item_id = int(first_url.rsplit("/", 1)[1])
    with sessions() as s:
        items = s.query(Item).filter(Item.task == "hostile").all()
        decided = s.get(Item, item_id)
        assert decided.label == "offensive" and decided.status == "done"
        lan_answers = sum(1 for it in items for a in it.answers if a.reviewer.name == "lan")
        assert lan_answers == 3
