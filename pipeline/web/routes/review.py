"""Reviewer routes: the queue, an item, answers, undo, split, adjudication, reopening, the
audit view.

Thin: each route checks the permission (and CSRF for writes), calls ``pipeline.store`` and
renders. A stale answer or undo (the item changed since the page was loaded) gets a 409 page
that says what happened. Ids and numbers from the URL are checked first (``params``): an id
no row can have is a 404, a number out of range a 400. Links and redirects are paths, never
built from the request's Host header.
"""

from __future__ import annotations

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from ...tasks import load_task
from ..highlight import highlight
from .params import known_id, risk_bound

QUEUE_PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 200
EXCERPT = 160
STATUSES = ("open", "answered", "adjudication", "done")


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def register(app: FastAPI, *, db, render, require, check_csrf, store_call) -> None:
    from ...store import answers, audit, queue
    from ...store.rebuttals import dependent_rebuttals, describe
    from ...store.rescore import recent_jobs
    from ...store.tables import DECIDED, Item

    def path(name: str, **params) -> str:
        return str(app.url_path_for(name, **params))

    def queue_items(session, request: Request) -> tuple[list[Item], dict]:
        q = request.query_params
        filters = {
            "task": q.get("task") or None,
            "label": q.get("label") or None,
            "status": q.get("status") or "open",
            "min_risk": risk_bound(q.get("min_risk"), "min_risk"),
            "max_risk": risk_bound(q.get("max_risk"), "max_risk"),
        }
        if filters["status"] not in STATUSES:
            raise HTTPException(400, f"Status must be one of {', '.join(STATUSES)}.")
        share = app.state.settings.uncertain_share
        items = queue.next_items(session, limit=QUEUE_PAGE_SIZE, uncertain_share=share, **filters)
        return items, filters

    @app.get("/queue", name="queue_page")
    def queue_page(request: Request):
        user = require(request, "view_queue")
        with db() as session:
            items, filters = queue_items(session, request)
            sizes = queue.group_sizes(session, items)
            rows = [
                {
                    "id": it.id,
                    "task": it.task,
                    "label": it.model_label,
                    "risk": it.risk,
                    "uncertainty": it.uncertainty,
                    "excerpt": _excerpt(it.text),
                    "status": it.status,
                    "group_size": sizes[it.id],
                    "url": path("item_page", item_id=it.id),
                }
                for it in items
            ]
            tasks = queue.tasks(session)
            # Re-scoring after a promotion changes the order: say so while it runs.
            jobs = [
                {
                    "id": j.id,
                    "task": j.task,
                    "model": j.model_version,
                    "status": j.status,
                    "done": j.done,
                    "total": j.total,
                }
                for j in recent_jobs(session, limit=5)
                if j.status in ("queued", "running", "failed")
            ]
            # Shown once items have two independent answers (KIEMTIN_REVIEWS_NEEDED >= 2).
            agreement = [a for a in (answers.cohens_kappa(session, t) for t in tasks) if a.items]
        return render(
            request,
            "queue.html",
            user=user,
            items=rows,
            filters=filters,
            tasks=tasks,
            statuses=STATUSES,
            agreement=agreement,
            jobs=jobs,
        )

    @app.get("/items/{item_id}", name="item_page")
    def item_page(request: Request, item_id: int):
        user = require(request, "view_queue")
        known_id(item_id, "item")
        with db() as session:
            item = queue.find_item(session, item_id)
            if item is None:
                raise HTTPException(404, f"There is no item {item_id}.")
            prev_id, next_id = queue.neighbours(
                session, item, uncertain_share=app.state.settings.uncertain_share
            )
            given = [
                {"reviewer": a.reviewer.name, "label": a.label, "note": a.note}
                for a in item.answers
            ]
            mine = any(a["reviewer"] == user.name for a in given)
            # Approved or published rebuttals answer this label: it is reopened, not undone.
            dependents = dependent_rebuttals(session, item)
            view = {
                "id": item.id,
                "task": item.task,
                "status": item.status,
                "text_html": highlight(item.text, item.words),
                "label": item.model_label,
                "risk": item.risk,
                "proba": item.proba,
                "model_version": item.model_version,
                "version": item.version,
                "labels": list(load_task(item.task).labels)
                if _known(item.task)
                else sorted(item.proba),
                "answerable": item.status == "open" and not mine,
                "adjudicable": item.status == "adjudication",
                "answers": given,
                "members": [
                    {"excerpt": _excerpt(m.text), "split_url": path("split", item_id=m.id)}
                    for m in queue.group_members(session, item)
                    if m.id != item.id
                ],
                "answer_url": path("answer", item_id=item.id),
                "adjudicate_url": path("adjudicate", item_id=item.id),
                "undo_url": path("undo", item_id=item.id) if mine and not dependents else None,
                "dependents": describe(dependents) if item.status in DECIDED else None,
                "reopen_url": path("reopen", item_id=item.id)
                if item.status in DECIDED and dependents
                else None,
                "prev_url": path("item_page", item_id=prev_id) if prev_id else None,
                "next_url": path("item_page", item_id=next_id) if next_id else None,
            }
        return render(request, "item.html", user=user, item=view)

    def _after_write(request: Request, item_id: int, message: str):
        request.session["flash"] = message
        with db() as session:
            item = queue.find_item(session, item_id)
            _, next_id = (
                queue.neighbours(session, item, uncertain_share=app.state.settings.uncertain_share)
                if item
                else (None, None)
            )
        target = path("item_page", item_id=next_id) if next_id else path("queue_page")
        return RedirectResponse(target, status_code=303)

    @app.post("/items/{item_id}/answer", name="answer")
    def answer(
        request: Request,
        item_id: int,
        label: str = Form(...),
        version: int = Form(...),
        note: str = Form(""),
        csrf_token: str | None = Form(None),
    ):
        user = require(request, "answer")
        check_csrf(request, csrf_token)
        known_id(item_id, "item")
        store_call(answers.record_answer, item_id, user.name, label, version, note or None)
        return _after_write(request, item_id, f"Item {item_id}: answered {label}.")

    def _item_action(
        request: Request,
        item_id: int,
        csrf_token,
        action,
        message: str,
        permission: str = "answer",
        version: int | None = None,
    ):
        """A write that stays on the item page: check, call the store, flash."""
        user = require(request, permission)
        check_csrf(request, csrf_token)
        known_id(item_id, "item")
        if version is None and action is answers.undo_answer:
            # The undo form always sends the version it showed: without it, a stale page
            # could withdraw an answer given after it was loaded.
            raise HTTPException(400, "The form's item version is missing; reload the page.")
        store_call(action, item_id, user.name, version)
        request.session["flash"] = message
        return RedirectResponse(path("item_page", item_id=item_id), status_code=303)

    @app.post("/items/{item_id}/undo", name="undo")
    def undo(
        request: Request,
        item_id: int,
        # Required (checked after the permission); a stale one is a 409.
        version: int | None = Form(None),
        csrf_token: str | None = Form(None),
    ):
        return _item_action(
            request,
            item_id,
            csrf_token,
            answers.undo_answer,
            f"Item {item_id}: your answer was withdrawn.",
            version=version,
        )

    @app.post("/items/{item_id}/split", name="split")
    def split(request: Request, item_id: int, csrf_token: str | None = Form(None)):
        return _item_action(
            request,
            item_id,
            csrf_token,
            answers.split_from_group,
            f"Item {item_id} now stands alone.",
        )

    @app.post("/items/{item_id}/reopen", name="reopen")
    def reopen(
        request: Request,
        item_id: int,
        version: int = Form(...),
        csrf_token: str | None = Form(None),
    ):
        # Adjudicating roles (trainer, admin) reopen a decided label; the store checks too.
        return _item_action(
            request,
            item_id,
            csrf_token,
            answers.reopen_item,
            f"Item {item_id} is open for a new answer; its approved rebuttals are drafts "
            "again, to be reviewed once it is decided.",
            permission="adjudicate",
            version=version,
        )

    @app.post("/items/{item_id}/adjudicate", name="adjudicate")
    def adjudicate(
        request: Request,
        item_id: int,
        label: str = Form(...),
        version: int | None = Form(None),
        csrf_token: str | None = Form(None),
    ):
        user = require(request, "adjudicate")
        check_csrf(request, csrf_token)
        known_id(item_id, "item")
        store_call(answers.adjudicate, item_id, user.name, label, version)
        return _after_write(request, item_id, f"Item {item_id}: decided {label}.")

    @app.get("/audit", name="audit_page")
    def audit_page(request: Request):
        user = require(request, "view_audit")
        with db() as session:
            rows = audit.recent_entries(session, limit=AUDIT_PAGE_SIZE)
            rows = [
                {
                    "id": r.id,
                    "at": r.at,
                    "actor": r.actor,
                    "action": r.action,
                    "entity": r.entity,
                    "entity_id": r.entity_id,
                    "before": r.before,
                    "after": r.after,
                }
                for r in rows
            ]
        return render(request, "audit.html", user=user, rows=rows)


def _known(task: str) -> bool:
    from ...tasks import known_tasks

    return task in known_tasks()
