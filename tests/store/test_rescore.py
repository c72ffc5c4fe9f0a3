"""Re-scoring the queue with a newly promoted model: open items get the new model's scores
in batches, decided items keep theirs, the job records its progress and resumes."""

from __future__ import annotations

import pytest

from pipeline.model.directory import model_version
from pipeline.store import add_scored, add_user, record_answer
from pipeline.store.audit import entries
from pipeline.store.queue import next_items
from pipeline.store.rescore import get_job, run_rescore, start_rescore
from pipeline.store.tables import Item
from tests.conftest import vihsd_rows
from tests.store.conftest import scored


@pytest.fixture
def queue(session):
    add_user(session, "lan", "reviewer", "lan password")
    rows = vihsd_rows("test", 12)
    # The old model's scores: the same for every post, so the queue order is arbitrary.
    add_scored(session, [scored(r["id"], r["text"]) for r in rows], actor="test")
    items = session.query(Item).order_by(Item.id).all()
    record_answer(session, items[0].id, "lan", "hate", items[0].version)
    return session, [it.id for it in items]


def test_open_items_get_the_new_models_scores_and_the_queue_follows(queue, sessions,
                                                                      tiny_model_dir):
    session, ids = queue
    job = start_rescore(session, "hostile", tiny_model_dir, actor="cli:trainer")
    assert (job.status, job.total, job.done) == ("queued", 11, 0)
    seen = []
    done = run_rescore(sessions, job.id, batch_size=4, progress=seen.append)
    assert (done.status, done.done, done.total) == ("done", 11, 11) and seen == [4, 4, 3]
    session.expire_all()
    decided, *rescored = [session.get(Item, i) for i in ids]
    assert decided.model_version == "hostile/linear-1" and decided.risk == 0.2  # untouched
    version = model_version(tiny_model_dir)
    for it in rescored:
        assert it.model_version == version
        assert it.risk == pytest.approx(it.proba["offensive"] + it.proba["hate"], abs=2e-4)
        top = sorted(it.proba.values(), reverse=True)
        assert it.uncertainty == pytest.approx(1 - (top[0] - top[1]), abs=1e-6)
        assert all(it.text[w["start"]:w["end"]] == w["word"] for w in it.words)
    order = [it.id for it in next_items(session, task="hostile", uncertain_share=0)]
    assert order == [it.id for it in sorted(rescored, key=lambda it: (-it.risk, -it.id))]
    actions = [e.action for e in entries(session, "job", job.id)]
    assert actions == ["add", "rescore"]


def test_an_interrupted_job_resumes_after_the_last_batch_done(queue, sessions, tiny_model_dir):
    session, _ids = queue
    job = start_rescore(session, "hostile", tiny_model_dir, actor="cli:trainer")

    def interrupt(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_rescore(sessions, job.id, batch_size=5, progress=interrupt)
    failed = get_job(session, job.id)
    assert (failed.status, failed.done) == ("failed", 5) and "KeyboardInterrupt" in failed.error
    done = run_rescore(sessions, job.id, batch_size=5)
    assert (done.status, done.done) == ("done", 11)
    assert run_rescore(sessions, job.id).done == 11  # a finished job is not run again


def test_a_model_of_another_task_is_refused_before_anything_runs(session, tmp_path,
                                                                   tiny_model_dir):
    from pipeline.errors import InputError

    with pytest.raises(InputError, match="task 'false'"):
        start_rescore(session, "false", tiny_model_dir, actor="x")
