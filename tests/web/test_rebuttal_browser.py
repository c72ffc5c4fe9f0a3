"""Communication officers in a real browser: a communicator drafts a rebuttal for a confirmed
narrative, reusing the earlier approved rebuttal the editor suggests for a reworded post; a
second communicator with the approval right approves and publishes it; the pack is
downloaded and its Markdown and HTML checked for content and escaping.

A screenshot of the editor goes to the test's output folder (a copy is in
pipeline/web/screenshots/ for the README).
"""

import zipfile

import pytest

from pipeline.store import add_scored, record_answer
from pipeline.store import rebuttals as rb
from pipeline.store.audit import entries
from pipeline.store.tables import Item, Rebuttal
from pipeline.store.users import add_user
from pipeline.web.app import WebSettings, create_app
from tests.store.conftest import scored
from tests.web.browser import ARGS, CHROMIUM, SHOTS, log_in, need_chromium, serving
from tests.web.conftest import PASSWORD

EARLIER = (
    "Bộ Y tế khuyến cáo: uống nước chanh nóng mỗi sáng giúp chữa khỏi ung thư, "
    "chia sẻ ngay cho người thân!"
)
EARLIER_BODY = (
    "**Thông tin sai.** Bộ Y tế chưa từng khuyến cáo như vậy.\n\n"
    "- Nước chanh không chữa được ung thư.\n"
    "- Người bệnh cần điều trị tại cơ sở y tế: [moh.gov.vn](https://moh.gov.vn)."
)
# The same claim reworded (not a near-duplicate of EARLIER), with markup that must stay text.
REWORDED = (
    "Nghe nói sáng nào cũng uống nước chanh nóng là khỏi ung thư, Bộ Y tế khuyên vậy đó "
    "cả nhà ơi <script>alert('x')</script> liên hệ 0912345678"
)


def _false(rid, text):
    return scored(rid, text, hostile=None, false=(0.15, 0.85))


@pytest.fixture
def server(tmp_path):
    from pipeline.store.db import make_engine, session_factory, upgrade

    url = f"sqlite:///{tmp_path / 'kiemtin.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as s:
        add_user(s, "lan", "reviewer", PASSWORD)
        add_user(s, "vy", "communicator", PASSWORD)
        add_user(s, "khoa", "communicator", PASSWORD, approves_rebuttals=True)
        add_user(s, "thu", "trainer", PASSWORD)
        add_scored(s, [_false("earlier", EARLIER), _false("new", REWORDED)], actor="test")
        ids = {it.source_id: it.id for it in s.query(Item)}
        for item_id in ids.values():
            record_answer(s, item_id, "lan", "unreliable", 0)
        earlier = rb.create_draft(s, ids["earlier"], "khoa", "Chanh không chữa ung thư",
                                  EARLIER_BODY)
        rb.approve(s, earlier.id, "thu", 0)
        earlier_id = earlier.id
    app = create_app(WebSettings(secret_key="r" * 40, database_url=url, language="en"))
    with serving(app) as base:
        yield base, sessions, ids, earlier_id
    engine.dispose()


def test_draft_with_a_reused_suggestion_then_approve_and_export_the_pack(server, tmp_path):
    need_chromium()
    from playwright.sync_api import sync_playwright

    base, sessions, ids, earlier_id = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        vy = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        log_in(vy, base, "vy", lands_on="/narratives")
        vy.click(f"a[href$='/narratives/{ids['new']}']")
        vy.wait_for_url(f"{base}/narratives/{ids['new']}")
        suggestion = vy.locator(".suggestion").first
        assert "Chanh không chữa ung thư" in suggestion.inner_text()
        assert "% similar" in suggestion.inner_text()
        assert "<script>" not in vy.content() and vy.locator("#post").inner_text().count(
            "<script>alert('x')</script>") == 1  # shown as text, not run
        suggestion.locator("[data-reuse]").click()
        vy.wait_for_url(f"{base}/narratives/{ids['new']}?reuse={earlier_id}#editor")
        assert vy.input_value("textarea[name=body]") == EARLIER_BODY
        vy.fill("input[name=title]", "Chanh nóng không chữa ung thư <em>")
        vy.fill("textarea[name=body]", EARLIER_BODY + "\n\n<b>Nguồn</b>: Bộ Y tế, 2026.")
        vy.screenshot(path=SHOTS / "rebuttal-editor.png", full_page=True)
        vy.click("#editor button[type=submit]")
        vy.wait_for_url(f"{base}/rebuttals/*")
        rebuttal_url = vy.url
        assert "a second person approves it" in vy.content()
        assert vy.locator("[data-approve]").count() == 0  # not for its own author

        khoa = browser.new_context().new_page()
        log_in(khoa, base, "khoa", lands_on="/narratives")
        khoa.goto(rebuttal_url)
        rendered = khoa.locator("#rebuttal-body")
        assert rendered.locator("strong").first.inner_text() == "Thông tin sai."
        assert "<b>Nguồn</b>" in rendered.inner_text()  # raw HTML stays text
        khoa.click("[data-approve]")
        khoa.wait_for_url(rebuttal_url)
        khoa.click("[data-publish]")
        khoa.wait_for_url(rebuttal_url)
        assert "published" in khoa.locator("h1").inner_text()
        with khoa.expect_download() as download:
            khoa.click("[data-pack]")
        pack = tmp_path / "pack.zip"
        download.value.save_as(pack)
        browser.close()

    rebuttal_id = int(rebuttal_url.rsplit("/", 1)[1])
    with sessions() as s:
        saved = s.get(Rebuttal, rebuttal_id)
        assert saved.status == "published" and saved.reused_from_id == earlier_id
        assert saved.author.name == "vy" and saved.approver.name == "khoa"
        narrative = s.get(Item, ids["new"])
        assert saved.group_id == narrative.group_id
        actions = [(e.actor, e.action) for e in entries(s, "rebuttal", rebuttal_id)]
        assert actions == [("vy", "add"), ("khoa", "approve"), ("khoa", "publish")]

    stem = f"narrative-{saved.group_id}"
    with zipfile.ZipFile(pack) as archive:
        md = archive.read(f"{stem}/{stem}.md").decode("utf-8")
        html = archive.read(f"{stem}/{stem}.html").decode("utf-8")
    assert "Chanh nóng không chữa ung thư \\<em\\>" in md and "approved by khoa" in md
    assert "<script>alert('x')</script>" in md.split("```text\n", 1)[1].split("\n```", 1)[0]
    assert "0912345678" not in md + html
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "Chanh nóng không chữa ung thư &lt;em&gt;" in html
    assert "<strong>Thông tin sai.</strong>" in html and "&lt;b&gt;Nguồn&lt;/b&gt;" in html
