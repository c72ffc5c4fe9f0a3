"""A rebuttal pack: one narrative's approved counter-messages, ready to hand out, as Markdown
and as a standalone HTML page (``narrative-<group>.md`` / ``.html``, or both in one zip), with
the ClaimReview records of its published rebuttals (``.claimreview.jsonld``).

A pack is in one language, Vietnamese unless asked otherwise (``language``: the web app
gives the reader's, ``kiemtin rebuttals export --language`` or ``KIEMTIN_LANGUAGE`` the
command's): its headings, notes, task, label and statuses; posts and rebuttals as written.
The same database gives the same bytes: nothing in a pack depends on when it was written.
Posts and rebuttals are untrusted text. In Markdown, posts and rebuttal texts are code blocks
nothing inside can close (``fenced``), and titles and names one line with Markdown and HTML
punctuation backslash-escaped (``inline``), so nothing in them can start a heading, a block
or a tag; in HTML they are escaped, and rebuttal texts rendered by ``pipeline.web.markdown``
(raw HTML shown as text).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from ..store.rebuttals import Pack
from .claimreview import claim_reviews_json
from .i18n import DEFAULT_LANGUAGE, Message, _, install, label_name, task_name, word
from .markdown import fenced, render_markdown

# Fixed zip entry times: a pack's bytes depend on its content only.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_templates = Environment(
    loader=PackageLoader("pipeline.web", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)
install(_templates)


# Punctuation that means something inside a Markdown line (emphasis, code, links, HTML,
# entities, tables, headings' closing #s); CommonMark reads a backslash before it as itself.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]()<>#!|~&{}])")


def inline(text: str) -> str:
    r"""``text`` as literal text on one Markdown line: whitespace runs (newlines too) become
    one space and Markdown/HTML punctuation is backslash-escaped.

    >>> inline("Sai <b>!</b>\n# injected")
    'Sai \\<b\\>\\!\\</b\\> \\# injected'
    """
    return _INLINE_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def pack_markdown(pack: Pack, language: str = DEFAULT_LANGUAGE) -> str:
    def say(message: Message) -> str:
        return message.translate(language)

    heading = _(
        "Narrative %(id)s (%(task)s: %(label)s)",
        id=pack.group_id,
        task=task_name(pack.task, language),
        label=label_name(pack.task, pack.label, language),
    )
    confirmed = _(
        "Confirmed by review %(when)s; %(posts)s post(s) in this narrative (near-duplicates). "
        "Personal data in the posts is masked.",
        when=_when(pack.decided_at),
        posts=pack.posts,
    )
    lines = [
        f"# {say(heading)}",
        "",
        say(confirmed),
        "",
        f"## {say(_('The narrative'))}",
        "",
        fenced(pack.representative),
    ]
    if pack.examples:
        lines += [f"## {say(_('Other posts of it'))}", ""]
        for text in pack.examples:
            lines.append(fenced(text))
    for r in pack.rebuttals:
        published = _(", published %(when)s", when=_when(r.published_at))
        byline = _(
            "%(status)s; written by %(author)s, approved by %(approver)s %(when)s%(published)s.",
            status=word("rebuttal", r.status, language),
            author=inline(r.author),
            approver=inline(r.approver),
            when=_when(r.approved_at),
            published=say(published) if r.published_at else "",
        )
        title = _("Rebuttal %(id)s: %(title)s", id=r.id, title=inline(r.title))
        lines += [
            f"## {say(title)}",
            "",
            f"_{say(byline)}_",
            "",
            fenced(r.body.strip(), "markdown"),
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


def pack_html(pack: Pack, language: str = DEFAULT_LANGUAGE) -> str:
    template = _templates.get_template("pack.html")
    return template.render(
        pack=pack,
        rebuttals=[(r, render_markdown(r.body)) for r in pack.rebuttals],
        when=_when,
        language=language,
    )


def pack_files(pack: Pack, language: str = DEFAULT_LANGUAGE) -> dict[str, bytes]:
    """The pack's files in ``language``: Markdown, HTML and, once a rebuttal is published,
    its ClaimReview records (``narrative-<group>.claimreview.jsonld``)."""
    files = {
        f"{pack.stem}.md": pack_markdown(pack, language).encode("utf-8"),
        f"{pack.stem}.html": pack_html(pack, language).encode("utf-8"),
    }
    if any(r.status == "published" for r in pack.rebuttals):
        files[f"{pack.stem}.claimreview.jsonld"] = claim_reviews_json(pack).encode("utf-8")
    return files


def write_pack(
    pack: Pack, out_dir: str | os.PathLike, language: str = DEFAULT_LANGUAGE
) -> list[Path]:
    """Write the pack's files in ``language`` into ``out_dir`` (created); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in pack_files(pack, language).items():
        path = out / name
        partial = path.with_name(name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)
        written.append(path)
    return written


def pack_zip(pack: Pack, language: str = DEFAULT_LANGUAGE) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in pack_files(pack, language).items():
            info = zipfile.ZipInfo(f"{pack.stem}/{name}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()
