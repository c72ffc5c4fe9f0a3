"""A rebuttal's title and text cannot break out of their place in a pack's Markdown: the text
is a code block nothing inside can close, the title one escaped line, as posts already are."""

from __future__ import annotations

import io
import zipfile

from markdown_it import MarkdownIt

from pipeline.store import rebuttals as rb
from pipeline.store.answers import record_answer
from pipeline.store.tables import Item

BODY = "**Sai.** Đây là phần đầu.\n```\n# injected\n<script>alert(1)</script>\n````\n~~~\nhết"
TITLE = "Không đúng <img src=x onerror=alert(1)> `code` [link](javascript:alert(1)) ##"


def _pack(as_user, sessions) -> tuple[str, str, int]:
    """The Markdown and HTML of the pack of a narrative whose rebuttal tries to break out, as
    downloaded, and the rebuttal's id."""
    with sessions() as s:
        item = s.query(Item).filter_by(source_id="p2", task="hostile").one()
        record_answer(s, item.id, "reviewer", "hate", item.version)
        draft = rb.create_draft(s, item.id, "writer", TITLE, BODY)
        rb.approve(s, draft.id, "communicator", draft.version)
        group_id = draft.group_id
    response = as_user("communicator").get(f"/groups/{group_id}/pack.zip")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        md, html = (
            archive.read(f"narrative-{group_id}/narrative-{group_id}.{ext}").decode("utf-8")
            for ext in ("md", "html")
        )
    return md, html, draft.id


def test_a_rebuttal_body_and_title_stay_in_their_block_in_the_pack(as_user, sessions):
    md, _, rebuttal_id = _pack(as_user, sessions)
    # Parsed the way a renderer that allows HTML reads it: the body is one code block holding
    # the text as written; nothing in it or the title is a heading, an HTML block or a tag.
    tokens = MarkdownIt("commonmark").parse(md)
    code = [t.content for t in tokens if t.type == "fence"]
    assert BODY + "\n" in code
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert not any("injected" in h for h in headings)
    (title,) = [h for h in headings if h.startswith(f"Rebuttal {rebuttal_id}:")]
    inline = next(t for t in tokens if t.type == "inline" and t.content == title)
    kinds = {child.type for child in inline.children}
    assert kinds == {"text"}, kinds  # no html_inline, code_inline or link
    rendered = "".join(child.content for child in inline.children)
    assert rendered == f"Rebuttal {rebuttal_id}: {TITLE}"  # shown as written
    assert not [t for t in tokens if t.type in ("html_block", "html_inline")]


def test_the_html_of_the_pack_shows_them_as_text(as_user, sessions):
    _, html, _ = _pack(as_user, sessions)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<strong>Sai.</strong>" in html  # the text is still rendered as Markdown there
