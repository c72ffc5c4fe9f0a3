"""``kiemtin queue``: the review queue (add scored posts, re-score, background jobs, assign
items to reviewers)."""

from __future__ import annotations

import sys
from pathlib import Path

from .options import Parents, add_action_group, count
from .store_access import cli_actor, open_store


def add_parser(subparsers, parents: Parents) -> None:
    common = parents.common
    q_sub = add_action_group(subparsers, "queue", parents, help="the review queue")
    qa = q_sub.add_parser(
        "add", parents=[common], help="add scored posts (JSONL from classify) to the queue"
    )
    qa.add_argument("scored", help="JSONL written by kiemtin classify")
    qa.add_argument(
        "--reviews-needed", type=count(1), help="independent reviews per item (default: 1)"
    )
    qr = q_sub.add_parser(
        "rescore",
        parents=parents.with_models_root,
        help="re-score a task's open items with its current model (a job with progress)",
    )
    which = qr.add_mutually_exclusive_group(required=True)
    which.add_argument("--task", help="the task whose open items to re-score")
    which.add_argument("--job", type=count(1), help="run (or resume) this queued job")
    qr.add_argument("--batch-size", type=count(1), default=500, help="items per batch")
    qr.add_argument("--workers", type=count(0), default=1, help="processes for word segmentation")
    q_sub.add_parser("jobs", parents=[common], help="recent background jobs and their progress")
    qs = q_sub.add_parser(
        "assign",
        parents=[common],
        help="give open items to a reviewer (chosen ids, or every one under the filters)",
    )
    who = qs.add_mutually_exclusive_group(required=True)
    who.add_argument("--to", help="the reviewer's account name")
    who.add_argument("--unassign", action="store_true", help="take the items back (needs --ids)")
    qs.add_argument("--ids", type=count(1), nargs="+", help="the items (else: the filters)")
    qs.add_argument("--task", help="only this task's open items")
    qs.add_argument("--label", help="only items the model gave this label")
    qs.add_argument("--min-risk", type=float, help="only items at least this risky")
    qs.add_argument("--max-risk", type=float, help="only items at most this risky")
    qs.add_argument("--query", help="only items whose text holds these words")


def handle(args) -> int:
    if args.queue_command == "rescore":
        return _rescore(args)
    if args.queue_command == "jobs":
        return _jobs()
    if args.queue_command == "assign":
        return _assign(args)
    add_scored_file_from_cli(args.scored, args.reviews_needed)
    return 0


def add_scored_file_from_cli(path, reviews_needed: int | None) -> None:
    """Put a JSONL file of scored posts into the queue and say what went in (``classify
    --to-queue`` does it too); ``reviews_needed`` None: the store's setting."""
    from ..store.intake import add_scored_file

    settings, engine, _ = open_store()
    report = add_scored_file(
        engine, path, actor="cli", reviews_needed=reviews_needed or settings.reviews_needed
    )
    print(f"kiemtin: queue: {report.summary()}", file=sys.stderr)
    for rejected in report.rejected[:20]:
        print(f"  line {rejected.line}: {rejected.reason}", file=sys.stderr)


def _rescore(args) -> int:
    from tqdm import tqdm

    from ..model.directory import current_model_dir
    from ..store.rescore import get_job, run_rescore, start_rescore

    _, _, sessions = open_store()
    with sessions() as session:
        if args.job is None:
            model_dir = current_model_dir(args.models_root, args.task)
            job_id = start_rescore(session, args.task, model_dir, actor=cli_actor()).id
        else:
            job_id = args.job
        job = get_job(session, job_id)
    with tqdm(
        total=job.total, initial=job.done, unit="item", desc=f"job {job_id}", disable=None
    ) as bar:
        job = run_rescore(
            sessions, job_id, batch_size=args.batch_size, workers=args.workers, progress=bar.update
        )
    print(
        f"kiemtin: job {job.id}: re-scored {job.done:,} open {job.task} items with "
        f"{job.model_version}",
        file=sys.stderr,
    )
    return 0


def rescore_in_background(task: str, model_dir: Path) -> None:
    """The queue follows the current model: re-score ``task``'s open items with
    ``model_dir`` in a process of its own, and say where to follow it."""
    from ..store.rescore import launch_rescore_in_background

    settings, _, sessions = open_store()
    job, log = launch_rescore_in_background(
        sessions, task, model_dir, actor=cli_actor(), data_dir=settings.data_dir
    )
    print(
        f"kiemtin: re-scoring {job.total:,} open {task} items with {job.model_version} in "
        f"the background: job {job.id} (progress: kiemtin queue jobs; log: {log})",
        file=sys.stderr,
    )


def _jobs() -> int:
    from ..store.rescore import recent_jobs

    _, _, sessions = open_store()
    with sessions() as session:
        for job in recent_jobs(session):
            error = f" ({job.error})" if job.error else ""
            print(
                f"{job.id}\t{job.kind}\t{job.task}\t{job.model_version}\t{job.status}\t"
                f"{job.done}/{job.total}{error}"
            )
    return 0


def _assign(args) -> int:
    from ..errors import InputError
    from ..store import assignments

    _, _, sessions = open_store()
    actor = cli_actor()
    with sessions() as session:
        if args.unassign:
            if not args.ids:
                raise InputError("--unassign", expected="--ids of the items to take back",
                                 found="no --ids", fix="Add --ids 12 13 ...")
            n = assignments.unassign(session, args.ids, actor, operator=True)
            print(f"kiemtin: took {n:,} items back", file=sys.stderr)
            return 0
        if args.ids:
            n = assignments.assign(session, args.ids, args.to, actor, operator=True)
        else:
            n = assignments.assign_filtered(
                session, args.to, actor, operator=True, query=args.query, task=args.task,
                label=args.label, min_risk=args.min_risk, max_risk=args.max_risk,
            )
    print(f"kiemtin: gave {n:,} items to {args.to}", file=sys.stderr)
    return 0
