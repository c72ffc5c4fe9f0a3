"""Work distribution on the web (``pipeline.store.assignments``): trainers and admins give
the items chosen on the queue page, every open item under its filters, or one item from its
page to a reviewer (``POST /items/assign``) or take them back (``POST /items/unassign``); a
reviewer's "start reviewing" (``GET /queue/next``) goes to their own items first and never
to an item held for someone else; opening an item to answer takes a short claim
(``KIEMTIN_CLAIM_MINUTES``), and another reviewer it keeps out is told who holds it until
when.

Blind reviews stay blind: an assignee's name is shown only to those who assign and to the
assignee, and a claim's holders only to a reviewer the claims keep out.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from ..i18n import _
from ..security import allowed, safe_next
from .params import ASSIGNED_TO_ME, optional_id, queue_filters
from .search_box import search_query

# The queue's filters a filtered assignment takes (always the open items).
FILTER_FIELDS = ("task", "label", "min_risk", "max_risk", "q")


def assignee_shown(name: str | None, user) -> str | None:
    """The assignee's name as ``user`` may see it: to those who assign, and to the assignee."""
    if name is None or not (allowed(user.role, "assign") or name == user.name):
        return None
    return name


def _reviewers(session, user) -> list[str]:
    """The accounts items may be given to (active, reviewing roles), for those who assign."""
    if not allowed(user.role, "assign"):
        return []
    from ...store._shared import ANSWERING_ROLES
    from ...store.users import list_users

    return [u.name for u, _n in list_users(session) if u.active and u.role in ANSWERING_ROLES]


def queue_context(session, user, request: Request) -> dict:
    """What the queue page needs to distribute work: the accounts to give items to, the
    forms' and links' paths, and the filters a filtered assignment sends."""
    app = request.app
    params = request.query_params
    here = [(k, v) for k, v in params.multi_items() if k != "after"]
    return {
        "reviewers": _reviewers(session, user),
        "assign_url": str(app.url_path_for("assign_items")),
        "unassign_url": str(app.url_path_for("unassign_items")),
        "next_url": f"{app.url_path_for('next_item')}?{urlencode(here)}".rstrip("?"),
        "mine_url": f"{app.url_path_for('queue_page')}?{urlencode({'assigned': 'me'})}",
        "filter_fields": [(k, params.get(k)) for k in FILTER_FIELDS if params.get(k)],
    }


def claim_on_open(session, app: FastAPI, user, item, answered: bool) -> dict:
    """Take (or renew) ``user``'s claim on the open ``item`` they opened to answer: until when
    they hold it, or who holds it against them (names and times), for the page."""
    from ...store import assignments

    if not allowed(user.role, "answer") or item.status != "open" or answered:
        return {"until": None, "holders": []}
    state = assignments.take_claim(
        session, item.id, user.name, minutes=app.state.settings.claim_minutes
    )
    return {
        "until": state.until,
        "holders": [{"name": h.name, "until": h.until} for h in state.holders],
    }


def item_assignment(session, user, item) -> dict:
    """The item page's assignment: the assignee as ``user`` may see it, and for those who
    assign, the accounts to give it to."""
    from ...store import assignments

    name = assignments.assignee_of(session, item.id)
    return {
        "assignee": assignee_shown(name, user),
        "mine": name is not None and name == user.name,
        "assigned": name is not None,
        "reviewers": _reviewers(session, user) if item.status == "open" else [],
    }


def _item_ids(values: list[str] | None) -> list[int]:
    """The ``item`` fields of a form, ``ID`` or ``ID:VERSION`` (the queue's selection)."""
    ids = [optional_id(str(v).partition(":")[0], "item") for v in values or []]
    return [i for i in ids if i is not None]


def register(app: FastAPI, *, db, render, require, check_csrf, store_call) -> None:
    from ...store import assignments, queue

    def back(next_: str | None) -> RedirectResponse:
        return RedirectResponse(safe_next(next_) or app.url_path_for("queue_page"), 303)

    @app.post("/items/assign", name="assign_items")
    def assign_items(
        request: Request,
        to: str | None = Form(None),
        item: Annotated[list[str] | None, Form()] = None,
        scope: str = Form("selected"),
        task: str | None = Form(None),
        label: str | None = Form(None),
        min_risk: str | None = Form(None),
        max_risk: str | None = Form(None),
        q: str | None = Form(None),
        next: str | None = Form(None),
        csrf_token: str | None = Form(None),
    ):
        """Give the chosen items (``item``), or with ``scope=filtered`` every open item under
        the queue's filters sent with the form, to the reviewer ``to``."""
        user = require(request, "assign")
        check_csrf(request, csrf_token)
        if not to:
            raise HTTPException(400, _("Choose the reviewer to give the items to."))
        if scope == "filtered":
            sent = {"task": task, "label": label, "min_risk": min_risk, "max_risk": max_risk}
            _shown, chosen = queue_filters(sent, user)
            filters = {k: chosen[k] for k in ("task", "label", "min_risk", "max_risk")}
            n = store_call(
                assignments.assign_filtered, to, user.name, query=search_query(q), **filters
            )
        else:
            ids = _item_ids(item)
            if not ids:
                raise HTTPException(400, _("Choose at least one item to assign."))
            n = store_call(assignments.assign, ids, to, user.name)
        request.session["flash"] = _("%(n)s items given to %(name)s.", n=n, name=to).to_json()
        return back(next)

    @app.post("/items/unassign", name="unassign_items")
    def unassign_items(
        request: Request,
        item: Annotated[list[str] | None, Form()] = None,
        next: str | None = Form(None),
        csrf_token: str | None = Form(None),
    ):
        """Take the chosen items back from whoever they were given to."""
        user = require(request, "assign")
        check_csrf(request, csrf_token)
        ids = _item_ids(item)
        if not ids:
            raise HTTPException(400, _("Choose at least one item to take back."))
        n = store_call(assignments.unassign, ids, user.name)
        request.session["flash"] = _("%(n)s items taken back.", n=n).to_json()
        return back(next)

    @app.get("/queue/next", name="next_item")
    def next_item(request: Request):
        """The first item under the queue's filters for this reviewer: their own first, then
        the queue's order, never one held for someone else; the queue when none is left."""
        user = require(request, "view_queue")
        filters, chosen = queue_filters(request.query_params, user)
        chosen.pop("assignee")
        share = app.state.settings.uncertain_share
        with db() as session:
            found = queue.next_items(
                session, limit=1, assignee=user.name, reviewer=user.name, **chosen
            )
            if not found and filters["assigned"] != ASSIGNED_TO_ME:
                found = queue.next_items(
                    session, limit=1, uncertain_share=share, reviewer=user.name, **chosen
                )
        if not found:
            request.session["flash"] = _(
                "Nothing left for you to review with these filters."
            ).to_json()
            return RedirectResponse(app.url_path_for("queue_page"), status_code=303)
        return RedirectResponse(app.url_path_for("item_page", item_id=found[0].id), 303)
