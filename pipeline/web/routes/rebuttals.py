"""Communicator routes: confirmed narratives, the rebuttal editor with reuse suggestions,
drafts, approval by a second person, publication and the rebuttal pack download.

Thin like the reviewer routes: permission (and CSRF for writes) here, the rules in
``pipeline.store.rebuttals``. Rebuttal texts are Markdown rendered by
``pipeline.web.markdown`` (no raw HTML); posts are escaped by the templates. Ids and page
numbers from URLs and forms are checked first (``params``: 404 for an id no row can have, 400
for a number out of range); links and redirects are paths.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from ..highlight import highlight
from ..i18n import _
from ..markdown import render_markdown
from .params import WHAT, known_id, optional_id, page_number
from .search_box import search_cursor, search_query, searched

PAGE_SIZE = 50
EXCERPT = 200


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def register(app: FastAPI, *, db, render, require, check_csrf, store_call) -> None:
    from ...store import rebuttals as rb
    from ...store.queue import find_item, group_members
    from ...store.search import search_narratives
    from ...store.tables import REBUTTAL_STATUSES
    from ..pack import pack_zip

    def path(name: str, **params) -> str:
        return str(app.url_path_for(name, **params))

    def rebuttal_row(request: Request, r) -> dict:
        return {
            "id": r.id,
            "title": r.title,
            "status": r.status,
            "task": r.task,
            "group_id": r.group_id,
            "author": r.author.name,
            "url": path("rebuttal_page", rebuttal_id=r.id),
        }

    @app.get("/narratives", name="narratives_page")
    def narratives_page(
        request: Request,
        task: str | None = None,
        page: int = 0,
        q: str | None = None,
        after: str | None = None,
    ):
        """Confirmed narratives, the most recently decided first, ``page`` by ``page``; with
        words in the search box (``q``), those whose post holds them (accent-insensitive),
        a page at a time after the cursor ``after``, and how many match."""
        user = require(request, "view_rebuttals")
        page_number(page)
        query = search_query(q)
        search = None
        with db() as session:
            if query:
                after = search_cursor(after)
                results = searched(
                    search_narratives,
                    session,
                    query,
                    task=task or None,
                    after=after,
                    limit=PAGE_SIZE,
                )
                found = results.narratives
                here = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
                first = f"{path('narratives_page')}?{urlencode(here)}"
                search = {
                    "query": query,
                    "total": results.total,
                    "first_url": first if after else None,
                    "next_url": f"{first}&{urlencode({'after': results.next})}"
                    if results.next
                    else None,
                }
            else:
                found = rb.confirmed_narratives(
                    session, task=task or None, limit=PAGE_SIZE, offset=page * PAGE_SIZE
                )
            rows = [
                {
                    "id": n.item.id,
                    "task": n.item.task,
                    "label": n.item.label,
                    "posts": n.posts,
                    "excerpt": _excerpt(n.item.text),
                    "rebuttals": n.rebuttals,
                    "decided_at": n.item.decided_at,
                    "url": path("narrative_page", item_id=n.item.id),
                }
                for n in found
            ]
        return render(
            request,
            "narratives.html",
            user=user,
            narratives=rows,
            task=task,
            page=page,
            more=len(rows) == PAGE_SIZE,
            search=search,
        )

    @app.get("/narratives/{item_id}", name="narrative_page")
    def narrative_page(request: Request, item_id: int, reuse: str | None = None):
        user = require(request, "view_rebuttals")
        known_id(item_id, "item")
        reuse = optional_id(reuse, "reuse")
        with db() as session:
            item = find_item(session, item_id)
            if item is None:
                raise HTTPException(
                    404, _("There is no %(what)s %(id)s.", what=WHAT["item"], id=item_id)
                )
            rep = rb.representative(session, item)
            if rep.id != item.id:  # a member: its narrative is its representative's
                return RedirectResponse(path("narrative_page", item_id=rep.id), status_code=303)
            draft = {"title": "", "body": "", "reused_from": None}
            if reuse is not None:
                source = rb.find_rebuttal(session, reuse)
                if source is None or source.status not in rb.APPROVED:
                    raise HTTPException(
                        400, _("Rebuttal %(id)s is not an approved one to reuse.", id=reuse)
                    )
                draft = {"title": source.title, "body": source.body, "reused_from": source.id}
            members = group_members(session, rep)
            written = rb.narrative_rebuttals(session, rep)
            view = {
                "id": rep.id,
                "task": rep.task,
                "label": rep.label,
                "status": rep.status,
                "confirmed": rb.is_confirmed(rep),
                "decided_at": rep.decided_at,
                "group_id": rep.group_id,
                "text_html": highlight(rep.text, rep.words),
                "posts": len(members),
                "members": [_excerpt(m.text) for m in members if m.id != rep.id][:10],
                "rebuttals": [rebuttal_row(request, r) for r in written],
                "create_url": path("create_rebuttal", item_id=rep.id),
                "pack_url": path("rebuttal_pack", group_id=rep.group_id)
                if any(r.status in rb.APPROVED for r in written)
                else None,
            }
            suggestions = [
                {
                    "similarity": s.similarity,
                    "excerpt": _excerpt(s.item.text),
                    "title": s.rebuttal.title,
                    "status": s.rebuttal.status,
                    "body_html": render_markdown(s.rebuttal.body),
                    "rebuttal_url": path("rebuttal_page", rebuttal_id=s.rebuttal.id),
                    "reuse_url": path("narrative_page", item_id=rep.id)
                    + f"?reuse={s.rebuttal.id}#editor",
                }
                for s in (rb.suggestions(session, rep.id) if view["confirmed"] else [])
            ]
        return render(
            request,
            "narrative.html",
            user=user,
            narrative=view,
            suggestions=suggestions,
            draft=draft,
        )

    @app.post("/narratives/{item_id}/rebuttals", name="create_rebuttal")
    def create_rebuttal(
        request: Request,
        item_id: int,
        title: str = Form(""),
        body: str = Form(""),
        reused_from: str = Form(""),
        csrf_token: str | None = Form(None),
    ):
        user = require(request, "write_rebuttal")
        check_csrf(request, csrf_token)
        known_id(item_id, "item")
        source = optional_id(reused_from, "reused_from")
        rebuttal = store_call(rb.create_draft, item_id, user.name, title, body, source)
        request.session["flash"] = _(
            "Draft %(id)s saved; a second person approves it.", id=rebuttal.id
        ).to_json()
        return RedirectResponse(path("rebuttal_page", rebuttal_id=rebuttal.id), status_code=303)

    @app.get("/rebuttals", name="rebuttals_page")
    def rebuttals_page(request: Request, status: str | None = None):
        user = require(request, "view_rebuttals")
        if status and status not in REBUTTAL_STATUSES:
            raise HTTPException(
                400,
                _("Status must be one of %(statuses)s.", statuses=", ".join(REBUTTAL_STATUSES)),
            )
        with db() as session:
            rows = [rebuttal_row(request, r) for r in rb.rebuttals(session, status or None)]
        return render(
            request,
            "rebuttals.html",
            user=user,
            rebuttals=rows,
            status_filter=status,
            statuses=REBUTTAL_STATUSES,
        )

    @app.get("/rebuttals/{rebuttal_id}", name="rebuttal_page")
    def rebuttal_page(request: Request, rebuttal_id: int):
        user = require(request, "view_rebuttals")
        known_id(rebuttal_id, "rebuttal")
        with db() as session:
            r = rb.find_rebuttal(session, rebuttal_id)
            if r is None:
                raise HTTPException(
                    404,
                    _("There is no %(what)s %(id)s.", what=WHAT["rebuttal"], id=rebuttal_id),
                )
            group_rep = r.group.representative
            view = {
                **rebuttal_row(request, r),
                "body": r.body,
                "body_html": render_markdown(r.body),
                "version": r.version,
                "editor": r.editor.name,
                "approver": r.approver.name if r.approver else None,
                "created_at": r.created_at,
                "approved_at": r.approved_at,
                "published_at": r.published_at,
                "reused_from_url": path("rebuttal_page", rebuttal_id=r.reused_from_id)
                if r.reused_from_id
                else None,
                "narrative_url": path("narrative_page", item_id=group_rep.id),
                "narrative_excerpt": _excerpt(group_rep.text),
                "own": user.id in (r.author_id, r.editor_id),
                "may_approve": rb.may_approve(user),
                "edit_url": path("edit_rebuttal", rebuttal_id=r.id),
                "approve_url": path("approve_rebuttal", rebuttal_id=r.id),
                "publish_url": path("publish_rebuttal", rebuttal_id=r.id),
                "pack_url": path("rebuttal_pack", group_id=r.group_id),
            }
        return render(request, "rebuttal.html", user=user, rebuttal=view)

    def _redirect(request: Request, rebuttal_id: int, message):
        request.session["flash"] = message.to_json()
        return RedirectResponse(path("rebuttal_page", rebuttal_id=rebuttal_id), status_code=303)

    @app.post("/rebuttals/{rebuttal_id}/edit", name="edit_rebuttal")
    def edit_rebuttal(
        request: Request,
        rebuttal_id: int,
        title: str = Form(""),
        body: str = Form(""),
        version: int = Form(...),
        csrf_token: str | None = Form(None),
    ):
        user = require(request, "write_rebuttal")
        check_csrf(request, csrf_token)
        known_id(rebuttal_id, "rebuttal")
        store_call(rb.edit_draft, rebuttal_id, user.name, title, body, version)
        return _redirect(request, rebuttal_id, _("Draft %(id)s saved.", id=rebuttal_id))

    @app.post("/rebuttals/{rebuttal_id}/approve", name="approve_rebuttal")
    def approve_rebuttal(
        request: Request,
        rebuttal_id: int,
        version: int = Form(...),
        csrf_token: str | None = Form(None),
    ):
        user = require(request, "approve_rebuttal")
        check_csrf(request, csrf_token)
        known_id(rebuttal_id, "rebuttal")
        store_call(rb.approve, rebuttal_id, user.name, version)
        return _redirect(request, rebuttal_id, _("Rebuttal %(id)s approved.", id=rebuttal_id))

    @app.post("/rebuttals/{rebuttal_id}/publish", name="publish_rebuttal")
    def publish_rebuttal(
        request: Request,
        rebuttal_id: int,
        version: int = Form(...),
        csrf_token: str | None = Form(None),
    ):
        user = require(request, "publish_rebuttal")
        check_csrf(request, csrf_token)
        known_id(rebuttal_id, "rebuttal")
        store_call(rb.publish, rebuttal_id, user.name, version)
        return _redirect(request, rebuttal_id, _("Rebuttal %(id)s published.", id=rebuttal_id))

    @app.get("/groups/{group_id}/pack.zip", name="rebuttal_pack")
    def rebuttal_pack(request: Request, group_id: int):
        require(request, "view_rebuttals")
        known_id(group_id, "narrative group")
        pack = store_call(rb.group_pack, group_id)
        return Response(
            pack_zip(pack, request.app.state.language_of(request)),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{pack.stem}.zip"'},
        )
