"""Markdown to HTML that cannot run anything: rebuttals are written in Markdown and shown in
the web app and in exported packs.

CommonMark (plus tables and strikethrough) through markdown-it-py with raw HTML off, so a
``<script>`` in the text is shown as text; links keep only safe schemes (markdown-it's
``validateLink`` refuses ``javascript:``, ``vbscript:``, ``file:`` and ``data:``) and open
with ``rel="nofollow noopener noreferrer"``; images are not rendered (they would fetch from
wherever the writer pointed, and the page's CSP refuses them anyway).

>>> str(render_markdown("**Sai.** <script>alert(1)</script> [nguồn](javascript:alert(1))"))
'<p><strong>Sai.</strong> &lt;script&gt;alert(1)&lt;/script&gt; [nguồn](javascript:alert(1))</p>\\n'
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable(["table", "strikethrough"]).disable("image")


def _link_open(renderer, tokens, idx, options, env):
    tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
    return renderer.renderToken(tokens, idx, options, env)


_md.add_render_rule("link_open", _link_open)


def render_markdown(text: str) -> Markup:
    """The HTML of ``text`` (Markdown), safe to insert into a page as is."""
    return Markup(_md.render(text or ""))


def fenced(text: str, info: str = "text") -> str:
    """``text`` as a Markdown code block that nothing inside it can close: untrusted posts are
    quoted this way in Markdown packs, so no renderer reads them as Markdown or HTML."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}\n"
