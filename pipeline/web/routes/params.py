"""Ids and numbers read from URLs and forms, checked before they reach the database.

FastAPI parses ``/items/{item_id}`` into a Python int of any size, and a float parameter
accepts ``nan`` and ``inf``; PostgreSQL refuses a parameter past 64 bits with an error (a 500)
and a NaN risk bound matches nothing without saying why. These helpers answer 404 for an id
no row can have and 400 for a number out of range, through the one error page.

>>> known_id(7, "item")
7
>>> risk_bound("0.5", "min_risk")
0.5
"""

from __future__ import annotations

import math

from fastapi import HTTPException

from ...store.tables import STATUSES
from ..i18n import _, pgettext

ANY_STATUS = "any"  # the queue filter for every status
ASSIGNED_TO_ME = "me"  # the queue filter ?assigned=me
MAX_ID = 2**63 - 1  # the largest BIGINT: no stored row has a larger id
MAX_PAGE = 10_000  # pages of a listing (offset = page * page size)
# What an id is of, in the reader's language.
WHAT = {
    "item": pgettext("id of", "item"),
    "rebuttal": pgettext("id of", "rebuttal"),
    "narrative group": pgettext("id of", "narrative group"),
}


def known_id(value: int, what: str) -> int:
    """``value`` when a stored ``what`` could have it as its id (1..2**63-1), else a 404."""
    if not 1 <= value <= MAX_ID:
        raise HTTPException(
            404, _("There is no %(what)s %(id)s.", what=WHAT.get(what, what), id=value)
        )
    return value


def optional_id(value: str | int | None, field: str) -> int | None:
    """An id from an optional form or query field: None when empty, else an int in
    1..2**63-1; anything else is a 400 that names the field."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise HTTPException(
            400,
            _(
                "The field %(field)s must be an id (a whole number from 1), found %(found)s.",
                field=field,
                found=repr(text[:40]),
            ),
        )
    return int(text)


def page_number(value: int) -> int:
    """A listing's page number, 0..MAX_PAGE, else a 400."""
    if not 0 <= value <= MAX_PAGE:
        raise HTTPException(
            400,
            _(
                "The page number must be between 0 and %(max)s, found %(found)s.",
                max=f"{MAX_PAGE:,}",
                found=value,
            ),
        )
    return value


def risk_bound(value: str | None, field: str) -> float | None:
    """A risk filter: None when empty, else a finite number between 0 and 1 (400 otherwise,
    NaN and infinities included)."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not 0 <= number <= 1:
        raise HTTPException(
            400,
            _(
                "The field %(field)s must be a number between 0 and 1, found %(found)s.",
                field=field,
                found=repr(value[:40]),
            ),
        )
    return number


def queue_filters(params, user) -> tuple[dict, dict]:
    """The queue's filters from a query string or form (``params``): as the page shows them,
    and as ``pipeline.store.queue.next_items`` takes them (``assigned=me``: the items
    assigned to ``user``); a 400 for a status or a risk bound out of range."""
    filters = {
        "task": params.get("task") or None,
        "label": params.get("label") or None,
        "status": params.get("status") or "open",
        "min_risk": risk_bound(params.get("min_risk"), "min_risk"),
        "max_risk": risk_bound(params.get("max_risk"), "max_risk"),
        "assigned": ASSIGNED_TO_ME if params.get("assigned") == ASSIGNED_TO_ME else None,
    }
    if filters["status"] not in (*STATUSES, ANY_STATUS):
        raise HTTPException(
            400,
            _(
                "Status must be one of %(statuses)s.",
                statuses=", ".join((*STATUSES, ANY_STATUS)),
            ),
        )
    chosen = {k: v for k, v in filters.items() if k != "assigned"}
    chosen["status"] = None if filters["status"] == ANY_STATUS else filters["status"]
    chosen["assignee"] = user.name if filters["assigned"] else None
    return filters, chosen
