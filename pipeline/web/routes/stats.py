"""The progress and statistics page: the backlog per task and model label, answers per day,
the median time to label and agreement between reviewers, with small server-side SVG charts
(``pipeline.web.svg_plots``).

``GET /stats`` takes ``task`` (empty: every task) and ``days`` (the window of the answers
per day and of the time to label, 1 to 366, 14 by default); other values are a 400. The
figures come from ``pipeline.store.stats``, aggregated by the database.

Reviewers are team accounts, not the authors of posts; still, figures per reviewer (answers
per reviewer, kappa per pair) are for the people who run the team (admins and trainers).
Everyone else who may see the page sees the team's totals and each task's kappa.
"""

from __future__ import annotations

from collections import defaultdict

from fastapi import FastAPI, HTTPException, Request

from ..i18n import _
from ..svg_plots import bar_chart, line_chart

DEFAULT_DAYS = 14
PER_REVIEWER_ROLES = ("admin", "trainer")  # see figures per reviewer, not only the team's


def _days(value: str | None, most: int) -> int:
    if value is None or not value.strip():
        return DEFAULT_DAYS
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= most:
        raise HTTPException(
            400,
            _(
                "The field days must be a whole number from 1 to %(most)s, found %(found)s.",
                most=most,
                found=repr(text[:40]),
            ),
        )
    return int(text)


def register(app: FastAPI, *, db, render, require, check_csrf, store_call) -> None:
    from ...store import stats
    from ...store.queue import status_counts, tasks
    from ...tasks import known_tasks

    @app.get("/stats", name="stats_page")
    def stats_page(request: Request):
        user = require(request, "view_stats")
        q = request.query_params
        days = _days(q.get("days"), stats.MAX_DAYS)
        chosen = (q.get("task") or "").strip() or None
        per_reviewer = user.role in PER_REVIEWER_ROLES
        since, window = stats.window(days)
        with db() as session:
            stored = tasks(session)
            if chosen is not None and chosen not in {*stored, *known_tasks()}:
                raise HTTPException(
                    400,
                    _(
                        "There is no task %(found)s; the tasks are %(tasks)s.",
                        found=repr(chosen[:64]),
                        tasks=", ".join(stored) or "-",
                    ),
                )
            shown = [chosen] if chosen else stored
            progress = [(t, status_counts(session, t)) for t in shown]
            backlog: dict[str, list] = defaultdict(list)
            for row in stats.backlog(session, task=chosen):
                backlog[row.task].append(row)
            daily = stats.answers_per_day(session, since, task=chosen)
            medians = stats.time_to_label(session, since=since, task=chosen)
            median_days = stats.time_to_label(session, since=since, task=chosen, by_day=True)
            agreement = stats.task_agreement(session, task=chosen)
            pairs = stats.pair_agreement(session, task=chosen) if per_reviewer else []

        at = {day: i for i, day in enumerate(window)}
        totals = [0] * days
        by_reviewer: dict[str, list[int]] = {}
        for row in daily:
            if row.day not in at:  # a clock ahead of this one: after today
                continue
            totals[at[row.day]] += row.answers
            by_reviewer.setdefault(row.reviewer, [0] * days)[at[row.day]] += row.answers
        hours: list[float | None] = [None] * days
        for row in median_days:
            if row.day not in at:
                continue
            hours[at[row.day]] = row.median_seconds / 3600
        return render(
            request,
            "stats.html",
            user=user,
            tasks=stored,
            chosen=chosen,
            days=days,
            max_days=stats.MAX_DAYS,
            first_day=window[0],
            day_labels=[d.strftime("%m-%d") for d in window],
            progress=progress,
            backlog=[(t, backlog[t]) for t in shown if backlog.get(t)],
            answer_totals=totals,
            per_reviewer=per_reviewer,
            by_reviewer=sorted(by_reviewer.items()) if per_reviewer else [],
            medians=medians,
            median_hours=hours,
            agreement=agreement,
            pairs=pairs,
            bar_chart=bar_chart,
            line_chart=line_chart,
        )
