"""Re-scoring the queue after a promotion: the open items of a task get the new current
model's label, probabilities, risk, uncertainty and words, so queue order and the uncertain
share follow the model that is current.

``start_rescore`` records a job (its progress lives in the ``jobs`` table, shown by
``kiemtin queue jobs`` and on the queue page); ``run_rescore`` does it in batches, each
committed with the job's progress, so it can run in a background process and resume after
an interruption (it continues after the last item done). Items already answered keep their
answers as they were given (each answer stores what the model said then); items being
decided are not open and are left alone. The job, not each item, is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..errors import InputError
from . import audit
from ._shared import NotFoundError, check_score
from .db import writing
from .tables import Item, Job, utcnow

BATCH_SIZE = 500


def _open_items(task: str):
    return select(Item).where(Item.task == task, Item.status == "open")


def start_rescore(session: Session, task: str, model_dir: str | Path, actor: str) -> Job:
    """Record a queued re-scoring job for ``task``'s open items with the model at
    ``model_dir`` (checked now, so a bad directory fails here and not in the background)."""
    from ..model.directory import check_model_dir, model_version

    config = check_model_dir(Path(model_dir))
    if config["task"]["name"] != task:
        raise InputError(
            "model for re-scoring", expected=f"a model of task {task!r}",
            found=f"a model of task {config['task']['name']!r}", fix="Pass the task's model.",
        )
    with writing(session):
        total = session.scalar(select(func.count()).select_from(_open_items(task).subquery()))
        job = Job(
            kind="rescore", task=task, model_dir=str(Path(model_dir).resolve()),
            model_version=model_version(Path(model_dir)), status="queued", total=total,
            done=0, last_item_id=0, actor=actor, created_at=utcnow(),
        )
        session.add(job)
        session.flush()
        audit.record(session, actor, "add", "job", job.id, None, _public(job))
    return job


def _public(job: Job) -> dict:
    return {
        "kind": job.kind, "task": job.task, "model_version": job.model_version,
        "status": job.status, "total": job.total, "done": job.done, "error": job.error,
    }


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFoundError("job", expected="an existing job id", found=f"no job {job_id}",
                            fix="List the jobs with `kiemtin queue jobs`.")
    return job


def recent_jobs(session: Session, limit: int = 20) -> list[Job]:
    return list(session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))


def run_rescore(
    sessions: sessionmaker,
    job_id: int,
    *,
    batch_size: int = BATCH_SIZE,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Job:
    """Do (or continue) job ``job_id``; ``progress(n)`` is called after each batch of n."""
    from ..model.classifier import Classifier

    with sessions() as session:
        job = get_job(session, job_id)
        if job.status == "done":
            return job
        classifier = Classifier.from_dirs([Path(job.model_dir)], top_words=5)
        with writing(session):
            job = get_job(session, job_id)
            job.status, job.started_at, job.error = "running", job.started_at or utcnow(), None
        task, last = job.task, job.last_item_id
    try:
        while True:
            with sessions() as session:
                items = session.execute(
                    select(Item.id, Item.text)
                    .where(Item.task == task, Item.status == "open", Item.id > last)
                    .order_by(Item.id)
                    .limit(batch_size)
                ).all()
                if not items:
                    break
                records = classifier.score([t for _, t in items], workers=workers)
                with writing(session):
                    for (item_id, text), record in zip(items, records, strict=True):
                        score = check_score(task, record["scores"][task], text, text)
                        # Only while still open: an answer may have decided it meanwhile.
                        session.execute(
                            update(Item)
                            .where(Item.id == item_id, Item.status == "open")
                            .values(
                                model_label=score["label"], proba=score["proba"],
                                risk=score["risk"], uncertainty=score["uncertainty"],
                                words=score["words"],
                                model_version=record["model_versions"][task],
                            )
                        )
                    last = items[-1][0]
                    job = get_job(session, job_id)
                    job.done, job.last_item_id = job.done + len(items), last
            if progress is not None:
                progress(len(items))
    except BaseException as exc:
        with sessions() as session, writing(session):
            job = get_job(session, job_id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
            audit.record(session, job.actor, "fail", "job", job.id, None, _public(job))
        raise
    with sessions() as session:
        with writing(session):
            job = get_job(session, job_id)
            job.status, job.finished_at = "done", utcnow()
            audit.record(session, job.actor, "rescore", "job", job.id, None, _public(job))
        return get_job(session, job_id)  # loaded, so readable after the session closes


def launch_rescore_in_background(
    sessions: sessionmaker, task: str, model_dir: str | Path, *, actor: str, data_dir: Path
) -> tuple[Job, Path]:
    """Record a job re-scoring ``task``'s open items with ``model_dir`` and run it in a
    process of its own (``python -m pipeline.cli queue rescore --job N``, which outlives the
    caller), its output in ``data_dir/jobs/job-<id>.log``; returns the job and that log."""
    import subprocess
    import sys

    with sessions() as session:
        job = start_rescore(session, task, model_dir, actor=actor)
    log_dir = Path(data_dir) / "jobs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"job-{job.id}.log"
    with open(log, "ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "queue", "rescore", "--job", str(job.id)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command
        )
    return job, log
