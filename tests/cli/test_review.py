"""The review commands as a team lead runs them: db upgrade, users add, classify --to-queue,
queue add, audit export (SQLite; the store suite covers PostgreSQL)."""

import io
import json

from pipeline.cli import main
from pipeline.store.db import make_engine, session_factory
from pipeline.store.tables import Item, User
from tests.conftest import SAMPLES


def test_a_team_lead_sets_up_accounts_and_fills_the_queue(
    store_env, tiny_models_root, tmp_path, monkeypatch, capsys
):
    assert main(["db", "upgrade"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["users", "add", "lan", "--role", "reviewer", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["users", "add", "sếp", "--role", "boss", "--password-stdin"]) == 2
    assert "admin, trainer, reviewer" in capsys.readouterr().err

    scored = tmp_path / "scored.jsonl"
    assert (
        main(
            [
                "classify",
                str(SAMPLES),
                "-o",
                str(scored),
                "--task",
                "hostile",
                "--models-root",
                str(tiny_models_root),
                "--to-queue",
            ]
        )
        == 0
    )
    first = capsys.readouterr().err
    assert main(["queue", "add", str(scored)]) == 0  # the same file again: nothing new
    second = capsys.readouterr().err
    n = len(SAMPLES.read_text(encoding="utf-8").splitlines())
    assert f"{n} records: {n} items added" in first
    assert "0 items added" in second and f"{n} duplicates" in second

    engine = make_engine(store_env)
    with session_factory(engine)() as s:
        assert [u.name for u in s.query(User)] == ["lan"]
        items = s.query(Item).all()
        assert len(items) == n and {it.model_version for it in items} == {"hostile/linear-1"}
        texts = " ".join(it.text for it in items)
        assert "0912 345 678" not in texts  # the samples' fake phone number is masked
    engine.dispose()

    out = tmp_path / "audit.jsonl"
    assert main(["audit", "export", "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["action"] == "add" and rows[0]["entity"] == "user"
    assert sum(1 for r in rows if r["entity"] == "item") >= n


def test_to_queue_needs_a_jsonl_output_file(store_env, tiny_models_root, capsys):
    code = main(
        [
            "classify",
            str(SAMPLES),
            "--task",
            "hostile",
            "--to-queue",
            "--models-root",
            str(tiny_models_root),
        ]
    )
    assert code == 2 and "-o OUTPUT.jsonl" in capsys.readouterr().err
