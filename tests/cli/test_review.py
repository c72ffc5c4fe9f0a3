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


def test_a_team_lead_assigns_items_from_the_command_line(store_env, capsys):
    from pipeline.store.assignments import assignee_of
    from pipeline.store.intake import add_scored
    from pipeline.store.users import add_user
    from tests.store.conftest import scored

    assert main(["db", "upgrade"]) == 0
    engine = make_engine(store_env)
    sessions = session_factory(engine)
    with sessions() as s:
        add_user(s, "lan", "reviewer", "a long enough password")
    add_scored(engine, [scored("a", "Tin giả về vắc xin lan nhanh", hostile=(0.1, 0.1, 0.8)),
                        scored("b", "Hôm nay trời đẹp, cả nhà đi chơi")], actor="test")
    with sessions() as s:
        ids = {it.source_id: it.id for it in s.query(Item)}
    assert main(["queue", "assign", "--to", "lan", "--task", "hostile", "--min-risk", "0.5"]) == 0
    assert "gave 1 items to lan" in capsys.readouterr().err
    with sessions() as s:
        assert (assignee_of(s, ids["a"]), assignee_of(s, ids["b"])) == ("lan", None)
    assert main(["queue", "assign", "--to", "lan", "--ids", str(ids["b"])]) == 0
    assert main(["queue", "assign", "--unassign", "--ids", str(ids["a"]), str(ids["b"])]) == 0
    assert "took 2 items back" in capsys.readouterr().err
    assert main(["queue", "assign", "--to", "nobody", "--ids", str(ids["a"])]) != 0
    assert "no user named 'nobody'" in capsys.readouterr().err
    with sessions() as s:
        assert assignee_of(s, ids["a"]) is None
    engine.dispose()
