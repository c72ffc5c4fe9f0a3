"""Content features of a post that are not its words: engagement, posting hour, links.

The ``false`` task's posts come with counts of likes, comments and shares and a posting
time (ReINTEL's ``num_like_post``, ``timestamp_post``, ...). These describe the post, not
its author: nothing here reads a user name, an author id or any other feature of a person.

A post's content metadata is a dict with any of the keys in :data:`META_KEYS`; a key that is
absent or ``None`` is unknown, and unknown is a feature of its own (never silently 0):

- ``num_like``, ``num_comment``, ``num_share``: one column per half order of magnitude of
  the count (``log10(1 + n)`` in steps of 0.5: ``0``, ``1-2``, ``3-9``, ``10-30``, ...
  ``100000+``), or ``unknown``;
- ``comments_per_like``, ``shares_per_like``: ``(1 + comments) / (1 + likes)`` as a power of
  two, ``2^-4`` (or less) to ``2^4`` (or more), when both counts are known;
- ``timestamp`` (unix seconds): the hour of posting in Vietnam time (UTC+7), ``00`` to
  ``23``, or ``unknown``;
- from the ORIGINAL text (before normalising, which turns links into ``xxurl``): ``has_link``
  (a URL, ``www.`` address or the ``<URL>`` mask some corpora put in their place) and one
  column per link domain seen in at least ``min_df`` training posts (``domain=vnexpress.net``).

Each active column is 1.0. The columns are named, so a model card can show their weights.

>>> f = ContentFeatures().fit(["xem https://www.vnexpress.net/a"] * 2, [{"num_like": 12}] * 2)
>>> x = f.transform(["xem https://vnexpress.net/b"], [{"num_like": 12, "timestamp": 0}])
>>> [f.names_[j] for j in x.indices][::3]
['num_like=10-30', 'hour=07']
>>> [f.names_[j] for j in x.indices][4:]
['has_link', 'domain=vnexpress.net']
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone

import numpy as np
import scipy.sparse as sp

from ..tasks import CONTENT_KEYS as META_KEYS

COUNTS = META_KEYS[:3]  # num_like, num_comment, num_share; then timestamp
# upper bounds (inclusive) of the half-decade bins of a count: 1 + n < 10 ** (k / 2)
_BIN_TOPS = (0, 2, 9, 30, 99, 315, 999, 3161, 9999, 31621, 99999)
COUNT_BINS = (
    *("0", "1-2", "3-9", "10-30", "31-99", "100-315", "316-999", "1000-3161", "3162-9999"),
    *("10000-31621", "31622-99999", "100000+"),
)
RATIOS = (("comments_per_like", "num_comment"), ("shares_per_like", "num_share"))
RATIO_STEPS = tuple(f"2^{k}" for k in range(-4, 5))
VIETNAM = timezone(timedelta(hours=7))
_LINK = re.compile(r"(?:https?://|(?<![\w.])www\.)([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)")
_MASKED_LINK = "<URL>"
_NUMBER = re.compile(r"\s*(\d+(?:\.\d*)?)\s*(?:(?:like|comment|share)s?)?\s*", re.IGNORECASE)


def count_bin(n: int | None) -> str:
    """The bin of a count: its order of magnitude, or ``unknown``.

    >>> [count_bin(n) for n in (None, 0, 2, 3, 10, 31, 999, 10**6)]
    ['unknown', '0', '1-2', '3-9', '10-30', '31-99', '316-999', '100000+']
    """
    if n is None or n < 0:
        return "unknown"
    return COUNT_BINS[bisect.bisect_left(_BIN_TOPS, n)]


def ratio_step(numerator: int | None, likes: int | None) -> str | None:
    """``(1 + numerator) / (1 + likes)`` as a power of two, clipped to ``2^-4 .. 2^4``;
    ``None`` when either count is unknown.

    >>> ratio_step(0, 0), ratio_step(7, 0), ratio_step(0, 1000), ratio_step(5, None)
    ('2^0', '2^3', '2^-4', None)
    """
    if numerator is None or likes is None or numerator < 0 or likes < 0:
        return None
    k = math.floor(math.log2((1 + numerator) / (1 + likes)))
    return f"2^{min(max(k, -4), 4)}"


def hour_of(timestamp: int | None) -> str:
    """The posting hour in Vietnam time (UTC+7), two digits, or ``unknown``.

    >>> hour_of(0), hour_of(1585945439), hour_of(None)
    ('07', '03', 'unknown')
    """
    if timestamp is None:
        return "unknown"
    try:
        return f"{datetime.fromtimestamp(timestamp, VIETNAM).hour:02d}"
    except (OverflowError, OSError, ValueError):
        return "unknown"


def link_domains(text: str) -> list[str]:
    """Domains of the links in ``text``, lowercased, ``www.`` dropped, in order.

    >>> link_domains("Nguồn: https://WWW.VnExpress.net/x và www.bbc.com/vietnamese")
    ['vnexpress.net', 'bbc.com']
    """
    domains = []
    for m in _LINK.finditer(text):
        domain = m.group(1).lower().rstrip(".")
        domains.append(domain.removeprefix("www."))
    return domains


def has_link(text: str) -> bool:
    return _MASKED_LINK in text or bool(_LINK.search(text))


def parse_count(value) -> int | None:
    """A count from an input field: ``12``, ``12.0``, ``'12'``, ``'12 like'``; anything else
    (empty, ``'unknown'``, negative, not a number) is ``None``, unknown.

    >>> [parse_count(v) for v in (12, 12.0, "12", "54 like", "", "unknown", None, -1, True)]
    [12, 12, 12, 54, None, None, None, None, None]
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if math.isfinite(value) and value >= 0 else None
    if isinstance(value, str) and (m := _NUMBER.fullmatch(value)):
        return int(float(m.group(1)))
    return None


def parse_timestamp(value) -> int | None:
    """Unix seconds from an input field: a number, a string of one, or an ISO 8601 time (a
    time without a zone is taken as Vietnam time); anything else is ``None``, unknown.

    >>> parse_timestamp("1585945439.0"), parse_timestamp("2020-04-04 03:23:59")
    (1585945439, 1585945439)
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if math.isfinite(value) else None
    if not isinstance(value, str) or not value.strip():
        return None
    if m := re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*", value):
        return int(float(m.group(1)))
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return int((when if when.tzinfo else when.replace(tzinfo=VIETNAM)).timestamp())


def parse_meta(raw: Mapping, columns: Mapping[str, str]) -> dict:
    """A post's content metadata from an input row's fields: ``columns`` maps each key of
    :data:`META_KEYS` to the input column holding it (a task's ``content_columns``)."""
    meta = {}
    for key, column in columns.items():
        value = raw.get(column)
        meta[key] = parse_timestamp(value) if key == "timestamp" else parse_count(value)
    return meta


class ContentFeatures:
    """Fit/transform (original texts, metadata) into a few named sparse 0/1 columns."""

    def __init__(self, min_df: int = 2):
        self.min_df = min_df

    def fit(self, texts: Sequence[str], meta: Sequence[Mapping | None] | None) -> ContentFeatures:
        _check_batch(texts)
        seen: Counter[str] = Counter()
        for text in texts:
            seen.update(set(link_domains(text)))
        domains = sorted(d for d, n in seen.items() if n >= self.min_df)
        fixed = [f"{key}={b}" for key in COUNTS for b in (*COUNT_BINS, "unknown")]
        fixed += [f"{name}={step}" for name, _ in RATIOS for step in RATIO_STEPS]
        fixed += [f"hour={h:02d}" for h in range(24)] + ["hour=unknown", "has_link"]
        self.names_ = fixed + [f"domain={d}" for d in domains]
        self._index()
        return self

    def _index(self) -> None:
        self._column = {name: j for j, name in enumerate(self.names_)}

    @property
    def n_features_(self) -> int:
        return len(self.names_)

    def active(self, text: str, meta: Mapping | None) -> list[str]:
        """The names of the columns that are 1 for one post (domains not fitted left out)."""
        meta = meta or {}
        names = [f"{key}={count_bin(meta.get(key))}" for key in COUNTS]
        for name, key in RATIOS:
            if (step := ratio_step(meta.get(key), meta.get("num_like"))) is not None:
                names.append(f"{name}={step}")
        names.append(f"hour={hour_of(meta.get('timestamp'))}")
        if has_link(text):
            names.append("has_link")
        names += [f"domain={d}" for d in dict.fromkeys(link_domains(text))]
        return [n for n in names if n in self._column]

    def transform(
        self, texts: Sequence[str], meta: Sequence[Mapping | None] | None
    ) -> sp.csr_matrix:
        """One row per text; ``meta=None`` (or a ``None`` entry) is unknown metadata."""
        _check_batch(texts)
        if meta is None:
            meta = [None] * len(texts)
        if len(meta) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(meta)} metadata entries")
        indices, indptr = [], [0]
        for text, m in zip(texts, meta, strict=True):
            indices += sorted(self._column[n] for n in self.active(text, m))
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float64)
        shape = (len(texts), self.n_features_)
        return sp.csr_matrix((data, np.asarray(indices, dtype=np.int32), indptr), shape=shape)

    def to_state(self) -> list[str]:
        """The column names (JSON), which are the whole fitted state."""
        return list(self.names_)

    @classmethod
    def from_state(cls, names: Sequence[str], min_df: int = 2) -> ContentFeatures:
        self = cls(min_df)
        self.names_ = list(names)
        self._index()
        return self


def _check_batch(texts) -> None:
    if isinstance(texts, str):
        raise TypeError("expected a list of texts, got a single str")
