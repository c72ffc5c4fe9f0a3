"""The main pages on a phone (390x844) and a laptop (1280x800) in a real browser (Debian's
Chromium driven by Playwright): nothing scrolls sideways, the queue turns into cards on the
phone with buttons a thumb can reach (44px and taller), and the colours follow the system's
dark theme.

Screenshots of every main page at both sizes, in Vietnamese and English, go to the test's
output folder (a copy is in pipeline/web/screenshots/ for the README). Without
Chromium the test skips, unless ``CI`` is set: then it fails.
"""

from __future__ import annotations

import pytest

from pipeline.store import add_scored, record_answer
from pipeline.store import rebuttals as rb
from pipeline.store.tables import Item
from pipeline.store.users import add_user
from pipeline.web.app import WebSettings, create_app
from tests.store.conftest import scored
from tests.web.browser import ARGS, CHROMIUM, SHOTS, log_in, need_chromium, serving
from tests.web.conftest import PASSWORD

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
# A post with a long unbroken run (a link), which must wrap rather than widen the page.
LONG_LINK = "https://example.invalid/" + "rat-dai-khong-co-cho-xuong-dong-" * 6
POSTS = [
    ("r1", "Bọn miền đó toàn lũ ăn cắp, đuổi hết về quê cho sạch", (0.1, 0.2, 0.7)),
    ("r2", "Thằng này ngu vl, cút đi cho khuất mắt, nói mãi không hiểu", (0.05, 0.7, 0.25)),
    ("r3", f"Tin giả: uống nước chanh nóng chữa khỏi ung thư, xem {LONG_LINK}", (0.2, 0.5, 0.3)),
    ("r4", "Hôm nay trời đẹp, cả nhà đi chơi công viên", (0.9, 0.07, 0.03)),
    ("r5", "Đồ óc chó, gọi điện mà chửi như vậy thì ai chịu nổi", (0.3, 0.5, 0.2)),
]

SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"
BACKGROUND = "getComputedStyle(document.body).backgroundColor"


@pytest.fixture
def server(tmp_path):
    from pipeline.store.db import make_engine, session_factory, upgrade

    url = f"sqlite:///{tmp_path / 'kiemtin.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as s:
        add_user(s, "thu", "admin", PASSWORD)
        add_user(s, "lan", "reviewer", PASSWORD)
        add_scored(s, [scored(r, t, hostile=p) for r, t, p in POSTS], actor="test")
        ids = {it.source_id: it.id for it in s.query(Item)}
        confirmed = s.get(Item, ids["r1"])
        record_answer(s, confirmed.id, "lan", "hate", confirmed.version)
        draft = rb.create_draft(
            s,
            confirmed.id,
            "thu",
            "Không ai đáng bị gọi là ăn cắp",
            "**Sai.** Quy chụp cả một vùng là kỳ thị. Nguồn: " + LONG_LINK,
        )
        pages = {
            "queue": "/queue",
            "item": f"/items/{ids['r2']}",
            "narratives": "/narratives",
            "narrative editor": f"/narratives/{confirmed.id}",
            "rebuttals": "/rebuttals",
            "rebuttal": f"/rebuttals/{draft.id}",
            "analysis": "/analysis",
            "accounts": "/admin/users",
            "stats": "/stats",
            "audit": "/audit",
            "guidelines": "/admin/guidelines/hostile",
        }
    app = create_app(WebSettings(secret_key="m" * 40, database_url=url))  # Vietnamese
    with serving(app) as base:
        yield base, pages
    engine.dispose()


def _short_buttons(page) -> list[str]:
    """Buttons, selects and fields on the page shorter than a thumb (44px), by their text."""
    return page.evaluate(
        """() => [...document.querySelectorAll(
                'button, select, input:not([type=hidden]):not([type=checkbox]), '
                + 'header a, table.cards td.id a, label.check')]
            .filter(el => el.offsetParent !== null)
            .filter(el => el.getBoundingClientRect().height < 43.5)
            .map(el => el.outerHTML.slice(0, 80))"""
    )


def _luminance(css_colour: str) -> float:
    r, g, b = (int(x) for x in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_main_pages_fit_a_phone_and_a_laptop_and_follow_the_dark_theme(server):
    need_chromium()
    from playwright.sync_api import sync_playwright

    base, pages = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for size, viewport in (("390", PHONE), ("1280", LAPTOP)):
            page = browser.new_context(viewport=viewport, color_scheme="light").new_page()
            page.goto(f"{base}/login")
            assert page.evaluate(SIDEWAYS) <= 0, f"login at {size}px scrolls sideways"
            page.screenshot(path=SHOTS / f"login-{size}-vi.png")
            page.click("header [data-language]")  # English before logging in, then back
            page.wait_for_function("document.documentElement.lang === 'en'")
            page.screenshot(path=SHOTS / f"login-{size}-en.png")
            page.click("header [data-language]")
            page.wait_for_function("document.documentElement.lang === 'vi'")
            log_in(page, base, "thu")
            for name, path in pages.items():
                page.goto(base + path)
                assert page.evaluate(SIDEWAYS) <= 0, f"{name} at {size}px scrolls sideways"
                assert _luminance(page.evaluate(BACKGROUND)) > 0.8, name
            page.goto(base + pages["queue"])
            row = page.locator("table.cards tbody tr").first
            display = row.evaluate("tr => getComputedStyle(tr).display")
            head = page.locator("table.cards thead").bounding_box()
            if viewport is PHONE:
                assert display == "block", "queue rows are cards on a phone"
                assert head is None or head["height"] <= 1
                for name in ("queue", "item", "narratives", "narrative editor"):
                    page.goto(base + pages[name])
                    assert _short_buttons(page) == [], f"{name}: too small for a thumb"
            else:
                assert display == "table-row", "queue rows are a table on a laptop"
            for language in ("vi", "en"):
                if language == "en":
                    page.goto(base + pages["queue"])
                    page.click("header [data-language]")
                    page.wait_for_url(f"{base}{pages['queue']}")
                    assert page.locator("html").get_attribute("lang") == "en"
                for name, path in pages.items():
                    page.goto(base + path)
                    slug = name.replace(" ", "-")
                    page.screenshot(path=SHOTS / f"{slug}-{size}-{language}.png")
            page.click("header [data-language]")  # back to Vietnamese for the next size
            page.wait_for_function("document.documentElement.lang === 'vi'")
            page.context.close()

        dark = browser.new_context(viewport=PHONE, color_scheme="dark").new_page()
        dark.goto(f"{base}/login")
        assert _luminance(dark.evaluate(BACKGROUND)) < 0.2
        log_in(dark, base, "thu")
        for name in ("queue", "item", "narrative editor"):
            dark.goto(base + pages[name])
            assert _luminance(dark.evaluate(BACKGROUND)) < 0.2, name
            text = dark.evaluate("getComputedStyle(document.querySelector('main')).color")
            assert _luminance(text) > 0.7, name
        dark.screenshot(path=SHOTS / "narrative-editor-390-dark.png")
        browser.close()
