"""Full-text search over queue items and confirmed narratives, accent-insensitive.

Each item keeps ``search_text``, its (masked) text folded as near-duplicates are
(``tables.fold_for_search``: lower-cased; diacritics, đ, tone placement and teencode folded;
only a-z and 0-9 words left), and the query is folded the same way: "tin gia" finds "Tin GIẢ"
and "hoà" finds "hòa". SQLite searches it through an FTS5 table, PostgreSQL through a
``tsvector`` column with a GIN index (migration 0006).

Every word of the query must occur (AND), the last one also as the start of a longer word
("tuyen truy" finds "tuyên truyền") when it has ``MIN_PREFIX`` letters or more: the words
that start with one letter are most words, so "nguoi a" finds "người à", not every "người"
(and, on SQLite, its count would merge hundreds of the index's lists: 130-160 ms at
1,000,000 posts). Since a folded query holds only words, what would be
syntax to the database (quotes, ``*``, ``-``, ``NEAR(``, ``OR``, ``&``) is not: punctuation
folds away and words are quoted. A query with no words finds nothing.

Results come in the queue's order, the riskiest first and ties newest first, a page at a
time with a cursor (keyset pagination on (risk, id)): ``SearchPage.next`` goes in ``after``
for the page beyond. Not by relevance rank: a rank is computed over every match before the
first page can be cut, and FTS5's bm25 changes as items are added, so a cursor on it could
repeat or skip items; risk is stored, so each page is a range that stays put (an item
re-scored between two pages may move past the cursor, as in the queue). ``total`` counts the
matches of the query and filters up to ``EXACT_TOTAL``; beyond that the page says so
(``total_capped``: "1,000+"), since an exact count of a common word costs a read of every
match, which is what a page of the riskiest 50 must not (1,000,000 posts:
benchmarks/queue_latency.py).

Three plans give the same rows. A query the index matches rarely reads its matches and sorts
them by risk. A broad one (more than ``BROAD_MATCHES`` matches in the index) walks the queue's
risk indexes, one per status, and keeps the items among the matches: about
``limit`` x items / matches steps instead of a sort of every match. A very broad one (more
than ``DENSE_MATCHES``: a short word typed as a prefix, "do" matching every word that starts
so) would first gather all its matches for that walk; instead the riskiest thousand or so
items under the filters are read from the risk indexes, and which of them match is read off
their own search texts; if too few do, their share of matches says how many more to read,
checked on their texts or on the index's matches, whichever is cheaper (``do*``, 255,964
matches in 1,000,000 posts: 155-220 ms -> about 20 ms). The index's matches are counted only
as far as choosing among the three plans needs (``DENSE_MATCHES``).

    page = search_items(session, "tin giả", task="hostile")
    more = search_items(session, "tin giả", task="hostile", after=page.next)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from numbers import Real

from sqlalchemy import (
    and_,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    tuple_,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Join

from ..errors import InputError
from ._shared import queue_filters
from .db import is_postgresql
from .rebuttals import Narrative, _confirmed_query, narratives_of
from .tables import (
    SEARCH_FTS_TABLE,
    SEARCH_VECTOR_COLUMN,
    STATUSES,
    Item,
    fold_for_search,
)

MAX_LIMIT = 500
MAX_WORDS = 20  # words in one query; each is one more index lookup
MIN_PREFIX = 2  # letters the last word needs to be searched as a prefix too
EXACT_TOTAL = 1000  # matches counted exactly; past it the total is "1,000+"
BROAD_MATCHES = 2000  # index matches above which a search walks the risk order (SQLite)
DENSE_MATCHES = 20_000  # ... above which it reads the riskiest candidates first (SQLite)
MIN_CANDIDATES = 1024  # candidates read at least, in one go
SPARE = 4  # candidates read per match a page needs, at the share of matches seen so far
MAX_CANDIDATES = 65_536  # candidates read at most before the walk over every match
# A candidate's own search text checked costs about as much as this many matches read from
# the index (1,000,000 posts: 22-52, benchmarks/search_plans.py). Set at the low end, so
# MIN_CANDIDATES x TEXT_PER_MATCH stays under DENSE_MATCHES and the first candidates are
# always checked on their texts (10 ms), which also gives the share of matches.
TEXT_PER_MATCH = 16
_WORD = re.compile(r"[a-z0-9]+")  # all that fold_for_search leaves
_FTS = table(SEARCH_FTS_TABLE, column("rowid"))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SearchPage:
    """A page of matching items, how many match in all (``total_capped``: at least that many,
    the count stopped at ``EXACT_TOTAL``), the cursor of the next page (None on the last) and
    the words searched for (after folding; empty: nothing was searched)."""

    items: list[Item]
    total: int
    next: str | None
    words: tuple[str, ...]
    total_capped: bool = False


@dataclass(frozen=True)
class NarrativePage:
    """A page of matching confirmed narratives (``rebuttals.Narrative``), as ``SearchPage``."""

    narratives: list[Narrative]
    total: int
    next: str | None
    words: tuple[str, ...]


def query_words(query: str) -> tuple[str, ...]:
    """The words a query searches for: folded, each once, in order.

    >>> query_words('Tin GIẢ "hoà" NEAR( * - ko')
    ('tin', 'gia', 'hoa', 'near', 'khong')
    """
    if not isinstance(query, str):
        raise InputError(
            "query",
            expected="a string",
            found=type(query).__name__,
            fix="Pass the text typed into the search box.",
        )
    words = tuple(dict.fromkeys(_WORD.findall(fold_for_search(query))))
    if len(words) > MAX_WORDS:
        raise InputError(
            "query",
            expected=f"at most {MAX_WORDS} words",
            found=f"{len(words)} words",
            fix="Search for fewer, rarer words.",
        )
    return words


def search_items(
    session: Session,
    query: str,
    *,
    task: str | None = None,
    label: str | None = None,
    status: str | None = None,
    min_risk: float | None = None,
    max_risk: float | None = None,
    after: str | None = None,
    limit: int = 50,
    members: bool = False,
    prefix: bool = True,
    assignee: str | None = None,
) -> SearchPage:
    """Items whose text holds every word of ``query``, the riskiest first, ``limit`` at a time.

    The filters are the queue's (``queue.next_items``): ``task``, ``label`` (the model's),
    ``status`` (None: any), risk between ``min_risk`` and ``max_risk`` inclusive, and only one
    item per near-duplicate group (its representative) unless ``members``, only the items
    assigned to ``assignee`` when given. ``after`` is the
    ``next`` of the page before. ``prefix=False`` matches the last word whole, like the others
    (as a word of one letter always is).
    """
    words = query_words(query)
    _check_page(limit)
    conditions = queue_filters(task, label, status, min_risk, max_risk, members, assignee)
    for name, value in (("min_risk", min_risk), ("max_risk", max_risk)):
        if value is not None and (not isinstance(value, Real) or not 0 <= value <= 1):
            raise InputError(
                name,
                expected="a number from 0 to 1 or None",
                found=repr(value),
                fix="Leave it out to search all risks.",
            )
    if not words:
        return SearchPage([], 0, None, words)
    prefix = prefix and len(words[-1]) >= MIN_PREFIX
    source, match = _searched(session, words, prefix)
    beyond = []
    if after is not None:
        beyond.append(tuple_(Item.risk, Item.id) < tuple_(*_risk_cursor(after)))
    matches = _index_matches(session, match)
    if matches > BROAD_MATCHES:
        where = conditions + beyond
        items = None
        if matches > DENSE_MATCHES:
            items = _candidates_first(session, match, words, prefix, where, status, limit + 1)
        if items is None:
            items = _walk_risk_order(session, match, where, status, limit + 1)
    else:
        page = select(Item).select_from(source).where(match, *conditions, *beyond)
        page = page.order_by(Item.risk.desc(), Item.id.desc()).limit(limit + 1)
        items = list(session.scalars(page))
    counted = select(literal(1)).select_from(source).where(match, *conditions)
    total = session.scalar(
        select(func.count()).select_from(counted.limit(EXACT_TOTAL + 1).subquery())
    )
    more = len(items) > limit
    items = items[:limit]
    cursor = f"{items[-1].risk!r}_{items[-1].id}" if more else None
    return SearchPage(
        items, min(total, EXACT_TOTAL), cursor, words, total_capped=total > EXACT_TOTAL
    )


def _index_matches(session: Session, match) -> int:
    """How many matches the index holds, counted up to ``DENSE_MATCHES + 1`` (SQLite; 0 on
    PostgreSQL, whose planner weighs its own statistics): enough to choose the plan. Reading
    the index alone costs little; it is the look-ups of the matching items that a broad
    search must not make, and a count of every match of a common word costs more than the
    page (``do*``: 27 ms for 255,964 matches)."""
    if is_postgresql(session):
        return 0
    found = select(_FTS.c.rowid).where(match).limit(DENSE_MATCHES + 1).subquery()
    return session.scalar(select(func.count()).select_from(found))


def _riskiest(session: Session, conditions, status: str | None, limit: int, *columns):
    """The ids (and ``columns``) of the riskiest ``limit`` items under ``conditions``,
    riskiest first, read down the risk index of each status and merged."""
    items = Item.__table__
    parts = []
    for one in (status,) if status is not None else STATUSES:
        part = (
            select(items.c.id, items.c.risk, *columns)
            .where(Item.status == one, *conditions)
            .order_by(Item.risk.desc(), Item.id.desc())
            .limit(limit)
            .subquery()
        )
        parts.append(select(part))  # SQLite: no LIMIT inside a UNION
    merged = union_all(*parts).subquery()
    chosen = [merged.c.id, *(merged.c[c.name] for c in columns)]
    ordered = select(*chosen).order_by(merged.c.risk.desc(), merged.c.id.desc())
    return list(session.execute(ordered.limit(limit)))


def _candidates_first(session: Session, match, words, prefix, conditions, status, limit):
    """The riskiest ``limit`` matching items of a very broad search (more than
    ``DENSE_MATCHES`` matches in the index): the riskiest ``MIN_CANDIDATES`` items under the
    filters, and which of them match, checked on their own search texts as the index would
    match them (``do*``: 1,024 candidates). While a page is short, more candidates: enough to
    hold a page at the share of matches seen so far (``SPARE`` times over), at least four
    times as many; checked on their texts when they are few against the matches that share
    makes, else read off the index's matches in one pass (``+rowid``: one index probe per
    candidate costs more than either). None past ``MAX_CANDIDATES`` (the walk over every
    match is then the cheaper plan)."""
    want, matches, top = MIN_CANDIDATES, DENSE_MATCHES, None
    while want <= MAX_CANDIDATES:
        if want * TEXT_PER_MATCH <= matches:  # their texts, read with them
            found = _riskiest(session, conditions, status, want, Item.search_text)
            ids = [i for i, _ in found]
            matched = {i for i, text in found if _holds(text, words, prefix)}
        else:
            ids = [i for (i,) in _riskiest(session, conditions, status, want)]
            matched = _index_matched(session, match, ids)
        page = [i for i in ids if i in matched][:limit]
        if len(page) == limit or len(ids) < want:  # a full page, or every candidate read
            return _items_in_order(session, page)
        share = max(len(page), 1) / len(ids)  # of the riskiest items, how many match
        top = top or session.scalar(select(func.max(Item.id))) or 0
        matches = max(matches, share * top)
        want = max(4 * want, math.ceil(SPARE * limit / share))
    return None


def _index_matched(session: Session, match, ids: list[int]) -> set[int]:
    """Which of ``ids`` the index matches, in one pass over its matches."""
    listed = select(literal_column("value")).select_from(func.json_each(json.dumps(ids)))
    in_listed = literal_column(f"+{SEARCH_FTS_TABLE}.rowid").in_(listed)
    return set(session.scalars(select(_FTS.c.rowid).where(match, in_listed)))


def _holds(search_text: str | None, words: tuple[str, ...], prefix: bool) -> bool:
    """Whether the index matches this search text: every word a token of it, the last also
    the start of one (``prefix``), as FTS5's unicode61 tokenizer splits a folded text (its
    words of a-z and 0-9 between single spaces, ``fold_for_search``).

    >>> _holds("tin gia hoa binh", ("gia", "ho"), True), _holds("tin gia", ("gi",), False)
    (True, False)
    """
    text = f" {search_text or ''} "  # a word is " word ", the start of one " word"
    *whole, last = words
    if not all(f" {w} " in text for w in whole):
        return False
    return f" {last}{'' if prefix else ' '}" in text


def _items_in_order(session: Session, ids: list[int]) -> list[Item]:
    by_id = {it.id: it for it in session.scalars(select(Item).where(Item.id.in_(ids)))}
    return [by_id[i] for i in ids]


def _walk_risk_order(session: Session, match, conditions, status: str | None, limit: int):
    """The riskiest ``limit`` items that match, read down the risk index of each status (the
    queue's, ``ix_items_queue_risk`` or ``ix_items_status_risk``) and merged. ``+items.id``
    keeps SQLite from driving the search from the id instead, which would read every match.
    """
    # The matches are read from the index once (a CTE used by every status's walk is
    # materialised once), not once per status.
    matches = select(_FTS.c.rowid).where(match).cte("matches")
    matching = literal_column(f"+{Item.__table__.name}.id").in_(select(matches.c.rowid))
    found = _riskiest(session, [matching, *conditions], status, limit)
    return _items_in_order(session, [i for (i,) in found])


def search_narratives(
    session: Session,
    query: str,
    *,
    task: str | None = None,
    after: str | None = None,
    limit: int = 50,
    prefix: bool = True,
) -> NarrativePage:
    """Confirmed narratives (``rebuttals.confirmed_narratives``) whose representative's text
    holds every word of ``query``, in that page's order (the most recently decided first),
    ``limit`` at a time; ``after`` is the ``next`` of the page before."""
    words = query_words(query)
    _check_page(limit)
    if not words:
        return NarrativePage([], 0, None, words)
    prefix = prefix and len(words[-1]) >= MIN_PREFIX
    source, match = _searched(session, words, prefix)
    matching = _confirmed_query(task).select_from(source).where(match)
    page = matching
    if after is not None:
        decided, last_id = _decided_cursor(after)
        if decided is None:  # among the undecided-time rows, which sort last
            page = page.where(Item.decided_at.is_(None), Item.id < last_id)
        else:
            page = page.where(
                or_(
                    Item.decided_at < decided,
                    and_(Item.decided_at == decided, Item.id < last_id),
                    Item.decided_at.is_(None),
                )
            )
    page = page.order_by(Item.decided_at.desc().nulls_last(), Item.id.desc()).limit(limit + 1)
    items = list(session.scalars(page))
    total = session.scalar(matching.with_only_columns(func.count()))
    more = len(items) > limit
    items = items[:limit]
    cursor = None
    if more:
        at = items[-1].decided_at
        micros = "n" if at is None else str(_micros(at))
        cursor = f"{micros}_{items[-1].id}"
    return NarrativePage(narratives_of(session, items), total, cursor, words)


# ---------------------------------------------------------------------------- the match


def _searched(session: Session, words: tuple[str, ...], prefix: bool):
    """The FROM clause and the condition for the items whose search text holds every word
    (the last also as a prefix)."""
    assert words and all(_WORD.fullmatch(w) for w in words)  # nothing left to escape
    items = Item.__table__
    if is_postgresql(session):
        # 'tin' & 'gia':* ; 'simple': no stemming or stop words, as the vector was built.
        terms = [f"'{w}'" for w in words]
        if prefix:
            terms[-1] += ":*"
        tsquery = func.to_tsquery(literal_column("'simple'"), " & ".join(terms))
        vector = literal_column(f"{items.name}.{SEARCH_VECTOR_COLUMN}")
        return items, vector.bool_op("@@")(tsquery)
    # FTS5: "tin" "gia"* ; quoted strings, so no word is an operator (AND, OR, NOT, NEAR).
    expression = " ".join(f'"{w}"' for w in words) + ("*" if prefix else "")
    joined = _FtsFirst(_FTS, items, items.c.id == _FTS.c.rowid)
    return joined, literal_column(SEARCH_FTS_TABLE).bool_op("MATCH")(expression)


class _FtsFirst(Join):
    """``items_search CROSS JOIN items``: in SQLite a CROSS JOIN keeps its left table the outer
    loop, so the matches are read from the index and their items looked up by id. With a plain
    join or ``id IN (...)`` the planner may walk a task's items instead, probing the index per
    item: seconds rather than milliseconds on 20,000 items (benchmarks/queue_latency.py)."""

    inherit_cache = True


@compiles(_FtsFirst, "sqlite")
def _cross_join(join, compiler, **kw) -> str:
    left, keyword, right = compiler.visit_join(join, **kw).partition(" JOIN ")
    assert keyword and left == SEARCH_FTS_TABLE
    return f"{left} CROSS JOIN {right}"


# ---------------------------------------------------------------------------- pages


def _check_page(limit: int) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InputError(
            "limit",
            expected=f"a whole number from 1 to {MAX_LIMIT}",
            found=repr(limit),
            fix=f"Ask for a page of at most {MAX_LIMIT}.",
        )


MAX_ID = 2**63 - 1


def _bad_cursor(after: object) -> InputError:
    return InputError(
        "after",
        expected="the 'next' cursor of the page before",
        found=repr(after)[:80],
        fix="Start again from the first page.",
    )


def _split_cursor(after: str) -> tuple[str, int]:
    if not isinstance(after, str):
        raise _bad_cursor(after)
    head, sep, tail = after.rpartition("_")
    # ASCII digits only (str.isdigit takes "²"), and an id a row can have (BIGINT).
    if not sep or not head or not (tail.isascii() and tail.isdigit()) or len(tail) > 19:
        raise _bad_cursor(after)
    last_id = int(tail)
    if last_id > MAX_ID:
        raise _bad_cursor(after)
    return head, last_id


def _risk_cursor(after: str) -> tuple[float, int]:
    head, last_id = _split_cursor(after)
    try:
        risk = float(head)
    except ValueError:
        raise _bad_cursor(after) from None
    if not math.isfinite(risk):
        raise _bad_cursor(after)
    return risk, last_id


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def _decided_cursor(after: str) -> tuple[datetime | None, int]:
    head, last_id = _split_cursor(after)
    if head == "n":
        return None, last_id
    if not (head.isascii() and head.isdigit()) or len(head) > 19:
        raise _bad_cursor(after)
    micros = int(head)
    try:
        at = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise _bad_cursor(after) from None
    return at, last_id
