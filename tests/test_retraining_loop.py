"""The whole loop on real data, as its users run it: a trainer trains v1 on part of ViHSD; an
analyst classifies more posts into the queue; reviewers give 200 answers through the web
app (simulated with the corpus's labels); the labels are exported; v2 is retrained with them,
evaluated, promoted (the queue is re-scored in the background) and rolled back. Each step's
artefacts are checked, not only exit codes."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from pipeline.cli import main
from pipeline.store import add_user
from pipeline.store.db import make_engine, session_factory
from pipeline.store.tables import Answer, AuditEntry, Item, Job
from pipeline.web.app import WebSettings, create_app
from tests.conftest import vihsd_rows, write_split
from tests.web.conftest import csrf_of, log_in

PASSWORD = "a long enough password"
TRAIN_ROWS, POSTS, TEST_ROWS, ANSWERS = 1500, 800, 1500, 200


def _wait_for_job(sessions, job_id, seconds=240):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with sessions() as s:
            job = s.get(Job, job_id)
            if job is not None and job.status in ("done", "failed"):
                return job
        time.sleep(0.5)
    pytest.fail(f"background job {job_id} did not finish in {seconds} s")


def _open_versions(sessions) -> set[str]:
    with sessions() as s:
        return {v for (v,) in s.query(Item.model_version).filter(Item.status == "open")}


def test_train_queue_review_export_retrain_evaluate_promote_rollback(
    tmp_path, store_env, capsys
):
    rows = vihsd_rows("train", TRAIN_ROWS + POSTS)
    corpus = tmp_path / "part" / "vihsd-part"
    corpus.mkdir(parents=True)
    write_split(corpus / "train.csv", rows[:TRAIN_ROWS])
    write_split(corpus / "test.csv", vihsd_rows("test", TEST_ROWS))
    truth = {r["id"]: r["label"] for r in rows[TRAIN_ROWS:]}
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        "".join(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n"
                for r in rows[TRAIN_ROWS:]),
        encoding="utf-8",
    )
    models = tmp_path / "models"
    task_dir = models / "hostile"

    # 1. A trainer trains v1; the first model of a task becomes CURRENT.
    assert main(["train", "--task", "hostile", "--corpus", str(corpus), "--models-root",
                 str(models), "--workers", "1"]) == 0
    assert (task_dir / "CURRENT").read_text().strip() == "linear-1"
    v1_config = json.loads((task_dir / "linear-1" / "config.json").read_text())
    assert v1_config["training_data"]["n_train"] == TRAIN_ROWS

    # 2. An analyst classifies more posts straight into the review queue.
    scored = tmp_path / "scored.jsonl"
    assert main(["classify", str(posts), "-o", str(scored), "--task", "hostile",
                 "--models-root", str(models), "--to-queue"]) == 0
    records = [json.loads(line) for line in scored.read_text(encoding="utf-8").splitlines()]
    assert len(records) == POSTS
    assert {r["model_versions"]["hostile"] for r in records} == {"hostile/linear-1"}
    engine = make_engine(store_env)
    sessions = session_factory(engine)
    with sessions() as s:
        assert s.query(Item).count() >= POSTS - 20  # near-identical comments are one item
        for name in ("lan", "minh"):
            add_user(s, name, "reviewer", PASSWORD)

    # 3. Two reviewers give 200 answers through the web app, in queue order.
    app = create_app(WebSettings(secret_key="l" * 40, database_url=store_env))
    clients = [TestClient(app, follow_redirects=False) for _ in range(2)]
    for client, name in zip(clients, ("lan", "minh"), strict=True):
        assert log_in(client, name, PASSWORD).status_code == 303
    for n in range(ANSWERS):
        client = clients[n % 2]
        page = client.get("/queue")
        item_id = int(page.text.split('href="/items/', 1)[1].split('"', 1)[0])
        with sessions() as s:
            item = s.get(Item, item_id)
            label, version = truth[item.source_id], item.version
        answer = client.post(f"/items/{item_id}/answer", data={
            "label": label, "version": str(version), "csrf_token": csrf_of(page.text)})
        assert answer.status_code == 303, answer.text
    for client in clients:
        client.close()
    app.state.engine.dispose()
    with sessions() as s:
        answers = s.query(Answer).all()
        assert len(answers) == ANSWERS
        assert all(a.label == truth[a.item.source_id] for a in answers)
        decided = s.query(Item).filter(Item.status.in_(("answered", "done"))).count()
        assert decided >= ANSWERS  # group members take their representative's label

    # 4. The reviewed labels leave as a corpus file.
    reviews = tmp_path / "reviews.jsonl"
    assert main(["labels", "export", "--task", "hostile", "-o", str(reviews)]) == 0
    exported = [json.loads(line) for line in reviews.read_text(encoding="utf-8").splitlines()]
    assert len(exported) == decided
    by_text = {r["text"]: r["label"] for r in rows[TRAIN_ROWS:]}
    assert sum(r["label"] == by_text.get(r["text"]) for r in exported) >= ANSWERS - 5

    # 5. v2 is retrained with them (not promoted yet).
    assert main(["train", "--task", "hostile", "--corpus", str(corpus), "--models-root",
                 str(models), "--reviews", str(reviews), "--no-promote", "--workers", "1"]) == 0
    v2 = task_dir / "linear-2"
    merged = json.loads((v2 / "config.json").read_text())["training_data"]
    assert merged["reviews"]["read"] == len(exported)
    assert merged["n_train"] == TRAIN_ROWS + merged["reviews"]["added"]
    assert merged["reviews"]["added"] >= ANSWERS - 20
    assert "### Reviewed labels merged" in (v2 / "README.md").read_text(encoding="utf-8")
    assert (task_dir / "CURRENT").read_text().strip() == "linear-1"

    # 6. The trainer evaluates v2 against the current model.
    report = tmp_path / "report"
    assert main(["evaluate", "hostile/linear-2", "--corpus", str(corpus), "--models-root",
                 str(models), "-o", str(report)]) == 0
    metrics = json.loads((report / "metrics.json").read_text(encoding="utf-8"))
    v2_metrics = json.loads((v2 / "metrics.json").read_text())["test_sets"]["vihsd-part/test"]
    assert metrics["macro_f1"] == pytest.approx(v2_metrics["macro_f1"], abs=1e-4)
    assert "linear-1" in (report / "report.html").read_text(encoding="utf-8")
    capsys.readouterr()

    # 7. Promotion passes the gate; the queue is re-scored with v2 in the background. On
    # 1,500 test rows a 1,700-row model's macro-F1 moves by more than the default 0.005 when
    # one training text changes (normaliser v2 changed one: -0.0062 on test-minus-train, with
    # ROC-AUC +0.004), so the trainer here passes a tolerance for a set that small.
    assert main(["models", "promote", "hostile/linear-2", "--models-root", str(models),
                 "--tolerance", "0.01"]) == 0
    assert "in the background: job" in capsys.readouterr().err
    assert (task_dir / "CURRENT").read_text().strip() == "linear-2"
    history = [json.loads(x) for x in (task_dir / "HISTORY.jsonl").read_text().splitlines()]
    assert [(h["action"], h["from"], h["to"]) for h in history] == [
        ("promote", "hostile/linear-1", "hostile/linear-2")]
    with sessions() as s:
        promoted = s.query(Job).order_by(Job.id).all()
        assert [(j.kind, j.model_version) for j in promoted] == [("rescore", "hostile/linear-2")]
        open_items = s.query(Item).filter(Item.status == "open").count()
    job = _wait_for_job(sessions, promoted[0].id)
    assert (job.status, job.done, job.total) == ("done", open_items, open_items), job.error
    assert _open_versions(sessions) == {"hostile/linear-2"}
    with sessions() as s:  # answers keep what the model said when they were given
        assert {a.model_version for a in s.query(Answer)} == {"hostile/linear-1"}

    # 8. Rollback: CURRENT back to v1, and the queue follows.
    assert main(["models", "rollback", "hostile", "--models-root", str(models),
                 "--reason", "checking the rollback"]) == 0
    assert (task_dir / "CURRENT").read_text().strip() == "linear-1"
    with sessions() as s:
        last = s.query(Job).order_by(Job.id.desc()).first()
        actions = [a for (a,) in s.query(AuditEntry.action).filter(AuditEntry.entity == "model")]
    assert actions == ["promote", "rollback"]
    assert _wait_for_job(sessions, last.id).status == "done"
    assert _open_versions(sessions) == {"hostile/linear-1"}
    engine.dispose()
