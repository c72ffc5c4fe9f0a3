"""The search box of the queue and narratives pages: the words and the page cursor read from
the URL, checked before they reach ``pipeline.store.search``.

``q`` is what was typed (any text: quotes, ``*`` and other search syntax are plain
punctuation to the store); ``after`` is the ``next`` cursor of the page before. A cursor a
results page could not have given (edited by hand, cut short, from an old link) is a 400
that says to start again, never a database error.

>>> search_cursor("0.97_12")
'0.97_12'
>>> search_cursor(None) is None
True
"""

from __future__ import annotations

import re

from fastapi import HTTPException

from ...errors import InputError
from ...store.search import MAX_WORDS
from ..i18n import _
from .params import MAX_ID

MAX_QUERY = 500  # characters of a query; the store reads at most 20 words of it
# What the store's cursors look like: a risk (a decimal number) or a time in microseconds
# ("n": none), then "_" and an item id.
_CURSOR = re.compile(r"(?:n|[0-9][0-9.e+-]{0,30})_([0-9]{1,19})", re.ASCII)


def _stale_cursor() -> HTTPException:
    return HTTPException(
        400,
        _("This link to a further page of results is not valid; start again from the first page."),
    )


def search_query(value: str | None) -> str:
    """The text typed into the search box, trimmed ("" when none); too long a text is a 400."""
    text = (value or "").strip()
    if len(text) > MAX_QUERY:
        raise HTTPException(400, _("Search for at most %(max)s characters of text.", max=MAX_QUERY))
    return text


def search_cursor(value: str | None) -> str | None:
    """The ``after`` cursor of a results page: None when empty, else one in the store's
    shape with an id a row can have; anything else is a 400."""
    if value in (None, ""):
        return None
    match = _CURSOR.fullmatch(value)
    if match is None or not 1 <= int(match[1]) <= MAX_ID:
        raise _stale_cursor()
    return value


def searched(search, session, query: str, **kwargs):
    """``search(session, query, **kwargs)`` (``search_items`` or ``search_narratives``), its
    refusals of the cursor or the query as 400 pages in the reader's language."""
    try:
        return search(session, query, **kwargs)
    except InputError as exc:
        if exc.what == "after":
            raise _stale_cursor() from None
        if exc.what == "query":
            raise HTTPException(
                400, _("Search for at most %(max)s words at a time.", max=MAX_WORDS)
            ) from None
        raise
