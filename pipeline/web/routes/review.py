"""Reviewer routes: the queue, an item, answers (one by one or a chosen set), undo, split,
adjudication, reopening, group suggestions (confirm, reject), the admins' guidelines page and
the audit view.

Keyboard flow: after an answer the next page is ``/items/<next>?after=<answered>``, and its
"previous" (``k``) is the item just answered (the session keeps the last answered ids, so a
forged ``after`` is ignored), where ``u`` undoes it; after adjudicating, the next item is the
next disagreement.

Thin: each route checks the permission (and CSRF for writes), calls ``pipeline.store`` and
renders. A stale answer or undo (the item changed since the page was loaded) gets a 409 page
that says what happened. Ids and numbers from the URL are checked first (``params``): an id
no row can have is a 404, a number out of range a 400. Links and redirects are paths, never
built from the request's Host header.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from ...tasks import load_task
from ..highlight import highlight, reasons
from ..i18n import LabelName, _, pgettext
from ..security import safe_next
from . import assignments as work
from .params import MAX_ID, STATUSES, WHAT, known_id, queue_filters
from .search_box import search_cursor, search_query, searched

QUEUE_PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 200
EXCERPT = 160
BULK_ANSWER_PATH = "/items/bulk-answer"  # the queue's form that labels the chosen items


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def register(app: FastAPI, *, db, render, require, check_csrf, store_call) -> None:
    from ...store import answers, assignments, audit, group_suggestions, guidelines, queue
    from ...store.rebuttals import dependent_rebuttals
    from ...store.rescore import recent_jobs
    from ...store.search import search_items
    from ...store.tables import DECIDED, Item

    def path(name: str, **params) -> str:
        return str(app.url_path_for(name, **params))

    def queue_items(
        session, request: Request, user
    ) -> tuple[list[Item], dict, dict | None]:
        """The queue page's items and filters. With words in the search box (``q``), the
        items whose text holds them (accent-insensitive, ``pipeline.store.search``) under the
        same filters, a page at a time (``after``: the cursor of the page before), and the
        search (its query, total and next cursor); else the queue's order, as without."""
        q = request.query_params
        filters, chosen = queue_filters(q, user)
        query = search_query(q.get("q"))
        if query:
            after = search_cursor(q.get("after"))
            found = searched(
                search_items, session, query, after=after, limit=QUEUE_PAGE_SIZE, **chosen
            )
            search = {
                "query": query,
                "total": found.total,
                "capped": found.total_capped,
                "next": found.next,
                "after": after,
            }
            return found.items, filters, search
        share = app.state.settings.uncertain_share
        items = queue.next_items(session, limit=QUEUE_PAGE_SIZE, uncertain_share=share, **chosen)
        return items, filters, None

    @app.get("/queue", name="queue_page")
    def queue_page(request: Request):
        user = require(request, "view_queue")
        with db() as session:
            items, filters, search = queue_items(session, request, user)
            sizes = queue.group_sizes(session, items)
            given = assignments.assignees(session, [it.id for it in items])
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
                    "version": it.version,
                    "url": path("item_page", item_id=it.id),
                    # Named to those who assign and to the assignee (blind reviews stay so).
                    "assignee": work.assignee_shown(given.get(it.id), user),
                }
                for it in items
            ]
            if search is not None:  # links to the next and the first page of the results
                here = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
                first = f"{path('queue_page')}?{urlencode(here)}"
                search["first_url"] = first if search["after"] else None
                search["next_url"] = (
                    f"{first}&{urlencode({'after': search['next']})}" if search["next"] else None
                )
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
            distribution = work.queue_context(session, user, request)
        return render(
            request,
            "queue.html",
            user=user,
            items=rows,
            filters=filters,
            search=search,
            tasks=tasks,
            statuses=STATUSES,
            agreement=agreement,
            jobs=jobs,
            bulk_url=BULK_ANSWER_PATH,
            **distribution,
        )

    @app.get("/items/{item_id}", name="item_page")
    def item_page(request: Request, item_id: int, after: int | None = None):
        user = require(request, "view_queue")
        known_id(item_id, "item")
        with db() as session:
            item = queue.find_item(session, item_id)
            if item is None:
                raise HTTPException(
                    404, _("There is no %(what)s %(id)s.", what=WHAT["item"], id=item_id)
                )
            given = [
                {"reviewer": a.reviewer.name, "label": a.label, "note": a.note}
                for a in item.answers
            ]
            mine = any(a["reviewer"] == user.name for a in given)
            # Opening an open item to answer holds it for this reviewer a few minutes.
            claim = work.claim_on_open(session, app, user, item, mine)
            # Disagreements are worked through among themselves (j/k), open items in the queue
            # this reviewer may be handed (theirs first; not those held for others).
            adjudicating = item.status == "adjudication"
            prev_id, next_id = queue.neighbours(
                session,
                item,
                uncertain_share=app.state.settings.uncertain_share,
                status="adjudication" if adjudicating else "open",
                reviewer=None if adjudicating else user.name,
            )
            prev_id = _previous(request, item.id, after, prev_id)
            # Approved or published rebuttals answer this label: it is reopened, not undone.
            dependents = dependent_rebuttals(session, item)
            known = _known(item.task)
            towards, explained = _explained(item, known)
            rule = _decision_rule(item)
            view = {
                "id": item.id,
                "task": item.task,
                "status": item.status,
                "text_html": highlight(item.text, item.words, towards),
                "reasons": reasons(item.text, item.words, towards),
                "explained": explained,
                "label": item.model_label,
                "risk": item.risk,
                "proba": item.proba,
                "decision_rule": rule,
                "model_version": item.model_version,
                "version": item.version,
                "labels": list(load_task(item.task).labels) if known else sorted(item.proba),
                "guidelines": guidelines.current_guidelines(session, item.task) if known else None,
                "guidelines_url": path("guidelines_page", task=item.task) if known else None,
                "answerable": item.status == "open" and not mine and not claim["holders"],
                "claim": claim,
                "assignment": work.item_assignment(session, user, item),
                "adjudicable": item.status == "adjudication",
                "answers": given,
                "members": [
                    {"excerpt": _excerpt(m.text), "split_url": path("split", item_id=m.id)}
                    for m in queue.group_members(session, item)
                    if m.id != item.id
                ],
                "suggestions": [
                    {
                        "id": s.id,
                        "similarity": s.similarity,
                        "excerpt": _excerpt(s.candidate.text),
                        "candidate_url": path("item_page", item_id=s.candidate_id),
                        "confirm_url": path("confirm_suggestion", suggestion_id=s.id),
                        "reject_url": path("reject_suggestion", suggestion_id=s.id),
                    }
                    for s in group_suggestions.pending_suggestions(session, item.id)
                ],
                "answer_url": path("answer", item_id=item.id),
                "adjudicate_url": path("adjudicate", item_id=item.id),
                "undo_url": path("undo", item_id=item.id) if mine and not dependents else None,
                "dependents": [
                    {
                        "id": r.id,
                        "status": r.status,
                        "url": path("rebuttal_page", rebuttal_id=r.id),
                    }
                    for r in dependents
                ]
                if item.status in DECIDED
                else None,
                "reopen_url": path("reopen", item_id=item.id)
                if item.status in DECIDED and dependents
                else None,
                "prev_url": path("item_page", item_id=prev_id) if prev_id else None,
                "next_url": path("item_page", item_id=next_id) if next_id else None,
            }
        return render(request, "item.html", user=user, item=view)

    def _previous(request: Request, item_id: int, after: int | None, queue_prev: int | None):
        """Where ``k`` goes: right after an answer (``?after=``, an item this browser answered)
        back to the item just answered; on an item this browser answered, to the one it
        answered before; else the previous item in the queue."""
        trail = _trail(request)
        if after is not None and after != item_id and after in trail:
            return after
        if item_id in trail:
            at = trail.index(item_id)
            return trail[at - 1] if at > 0 else queue_prev
        return queue_prev

    def _after_write(
        request: Request, user, item_id: int, message, label: str, status: str = "open"
    ):
        """Flash ``message`` (its ``label`` shown by its task's name for it), remember the item
        as just answered (``k`` comes back to it) and go on to the next item of ``status``
        (open after an answer, the next disagreement after adjudicating)."""
        _remember(request, item_id)
        with db() as session:
            item = queue.find_item(session, item_id)
            _prev, next_id = (
                queue.neighbours(
                    session,
                    item,
                    uncertain_share=app.state.settings.uncertain_share,
                    status=status,
                    reviewer=user.name if status == "open" else None,
                )
                if item
                else (None, None)
            )
            message.params["label"] = LabelName(item.task if item else "", label)
        request.session["flash"] = message.to_json()
        if next_id:
            target = f"{path('item_page', item_id=next_id)}?{urlencode({'after': item_id})}"
        else:
            target = path("queue_page")
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
        return _after_write(
            request, user, item_id, _("Item %(id)s: answered %(label)s.", id=item_id), label
        )

    def _item_action(
        request: Request,
        item_id: int,
        csrf_token,
        action,
        message,
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
            raise HTTPException(400, _("The form's item version is missing; reload the page."))
        store_call(action, item_id, user.name, version)
        request.session["flash"] = message.to_json()
        return RedirectResponse(path("item_page", item_id=item_id), status_code=303)

    @app.post("/items/{item_id}/undo", name="undo")
    def undo(
        request: Request,
        item_id: int,
        # Required (checked after the permission); a stale one is a 409.
        version: int | None = Form(None),
        csrf_token: str | None = Form(None),
    ):
        done = _item_action(
            request,
            item_id,
            csrf_token,
            answers.undo_answer,
            _("Item %(id)s: your answer was withdrawn.", id=item_id),
            version=version,
        )
        _forget(request, item_id)
        return done

    @app.post("/items/{item_id}/split", name="split")
    def split(request: Request, item_id: int, csrf_token: str | None = Form(None)):
        return _item_action(
            request,
            item_id,
            csrf_token,
            answers.split_from_group,
            _("Item %(id)s now stands alone.", id=item_id),
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
            _(
                "Item %(id)s is open for a new answer; its approved rebuttals are drafts "
                "again, to be reviewed once it is decided.",
                id=item_id,
            ),
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
        return _after_write(
            request,
            user,
            item_id,
            _("Item %(id)s: decided %(label)s.", id=item_id),
            label,
            status="adjudication",
        )

    @app.post(BULK_ANSWER_PATH, name="bulk_answer")
    def bulk_answer(
        request: Request,
        label: str | None = Form(None),
        item: Annotated[list[str] | None, Form()] = None,
        note: str = Form(""),
        next: str | None = Form(None),
        csrf_token: str | None = Form(None),
    ):
        """One label for the items chosen on the queue page: each ``item`` field is
        ``ID:VERSION`` (the version the page showed); all are answered or none."""
        user = require(request, "answer")
        check_csrf(request, csrf_token)
        if not label:
            raise HTTPException(400, _("Choose the label to give the chosen items."))
        pairs = [_id_and_version(value) for value in item or []]
        if not pairs:
            raise HTTPException(400, _("Choose at least one item to label."))
        with db() as session:
            given = answers.answer_many(
                session,
                [i for i, _v in pairs],
                user.name,
                label,
                [v for _i, v in pairs],
                note or None,
            )
            task = session.get(Item, given[0].item_id).task
        for a in given:
            _remember(request, a.item_id)
        message = _(
            "%(n)s items answered %(label)s.", n=len(given), label=LabelName(task, label)
        )
        request.session["flash"] = message.to_json()
        return RedirectResponse(safe_next(next) or path("queue_page"), status_code=303)

    @app.post("/suggestions/{suggestion_id}/confirm", name="confirm_suggestion")
    def confirm_suggestion(
        request: Request,
        suggestion_id: int,
        version: int | None = Form(None),
        csrf_token: str | None = Form(None),
    ):
        user = require(request, "answer")
        check_csrf(request, csrf_token)
        known_id(suggestion_id, SUGGESTION)
        with db() as session:
            done = group_suggestions.confirm_suggestion(
                session, suggestion_id, user.name, expected_version=version
            )
            item_id, candidate_id = done.item_id, done.candidate_id
        request.session["flash"] = _(
            "Item %(id)s joined the narrative of item %(candidate)s.",
            id=item_id,
            candidate=candidate_id,
        ).to_json()
        return RedirectResponse(path("item_page", item_id=item_id), status_code=303)

    @app.post("/suggestions/{suggestion_id}/reject", name="reject_suggestion")
    def reject_suggestion(
        request: Request, suggestion_id: int, csrf_token: str | None = Form(None)
    ):
        user = require(request, "answer")
        check_csrf(request, csrf_token)
        known_id(suggestion_id, SUGGESTION)
        with db() as session:
            done = group_suggestions.reject_suggestion(session, suggestion_id, user.name)
            item_id, candidate_id = done.item_id, done.candidate_id
        request.session["flash"] = _(
            "Item %(id)s stays on its own, not with item %(candidate)s.",
            id=item_id,
            candidate=candidate_id,
        ).to_json()
        return RedirectResponse(path("item_page", item_id=item_id), status_code=303)

    def _guideline_task(task: str) -> str:
        if not _known(task):
            raise HTTPException(404, _("There is no task %(task)s.", task=task[:64]))
        return task

    @app.get("/admin/guidelines/{task}", name="guidelines_page")
    def guidelines_page(request: Request, task: str):
        user = require(request, "edit_guidelines")
        _guideline_task(task)
        with db() as session:
            current = guidelines.current_guidelines(session, task)
            history = guidelines.guideline_history(session, task)
        return render(
            request,
            "guidelines.html",
            user=user,
            task=task,
            labels=list(load_task(task).labels),
            current=current,
            history=history,
            languages=guidelines.LANGUAGES,
        )

    @app.post("/admin/guidelines/{task}", name="save_guidelines")
    async def save_guidelines(request: Request, task: str):
        """The edit form: ``definition.<label>.<language>`` and ``examples.<label>.<language>``
        (one example a line) for each label, ``version`` (the version shown), ``note``."""
        user = await run_in_threadpool(require, request, "edit_guidelines")
        form = await request.form()
        await run_in_threadpool(check_csrf, request, form.get("csrf_token"))
        _guideline_task(task)
        labels = {
            label: {
                language: {
                    "definition": str(form.get(f"definition.{label}.{language}") or ""),
                    "examples": str(form.get(f"examples.{label}.{language}") or "").splitlines(),
                }
                for language in guidelines.LANGUAGES
            }
            for label in load_task(task).labels
        }
        version = form.get("version")
        if not isinstance(version, str) or not version.isdigit():
            raise HTTPException(
                400, _("The form's guidelines version is missing; reload the page.")
            )
        saved = await run_in_threadpool(
            store_call,
            guidelines.save_guidelines,
            task,
            user.name,
            labels,
            int(version),
            str(form.get("note") or ""),
        )
        request.session["flash"] = _(
            "Guidelines version %(version)s are in force from now on.", version=saved.version
        ).to_json()
        return RedirectResponse(path("guidelines_page", task=task), status_code=303)

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


# ------------------------------------------------------------ what this browser answered

TRAIL_KEY = "answered"  # in the signed session cookie: item ids answered, the latest last
TRAIL_SIZE = 20
SUGGESTION = pgettext("id of", "group suggestion")


def _trail(request: Request) -> list[int]:
    trail = request.session.get(TRAIL_KEY)
    return [i for i in trail if isinstance(i, int)] if isinstance(trail, list) else []


def _remember(request: Request, item_id: int) -> None:
    trail = [i for i in _trail(request) if i != item_id]
    request.session[TRAIL_KEY] = [*trail[-(TRAIL_SIZE - 1) :], item_id]


def _forget(request: Request, item_id: int) -> None:
    request.session[TRAIL_KEY] = [i for i in _trail(request) if i != item_id]


def _id_and_version(value: str) -> tuple[int, int]:
    """One ``item`` field of the bulk answer, ``ID:VERSION``; else a 400 that shows it."""
    item_id, _sep, version = str(value).strip().partition(":")
    ok = (
        item_id.isascii() and item_id.isdigit() and version.isascii() and version.isdigit()
        and 1 <= int(item_id) <= MAX_ID and int(version) <= MAX_ID
    )
    if not ok:
        raise HTTPException(
            400,
            _(
                "Each chosen item must be sent as ID:VERSION, found %(found)s.",
                found=repr(str(value)[:40]),
            ),
        )
    return int(item_id), int(version)


# ------------------------------------------------------------ explanations


def _explained(item, known: bool) -> tuple[bool, str]:
    """Which label the item's words were explained for (the most probable risky label, as
    the models explain) and whether that is the model's label: then a positive word pushed
    towards the shown label, else away from it."""
    risky = [r for r in load_task(item.task).risk_labels if r in item.proba] if known else []
    if not risky:
        return True, item.model_label
    explained = max(risky, key=lambda r: item.proba[r])
    return explained == item.model_label, explained


def _decision_rule(item) -> dict | None:
    """When the model's label is not its most probable one (the decision rule weighs each
    label's probability), the most probable label and both probabilities; else None."""
    top = max(item.proba, key=item.proba.get)
    if item.proba[top] <= item.proba.get(item.model_label, 0.0):
        return None
    return {"top": top, "p_top": item.proba[top], "p_label": item.proba.get(item.model_label)}
