"""`kiemtin labels export` and `kiemtin labels import` as a trainer runs them (SQLite; the
store suite covers PostgreSQL)."""

import json

import pytest
from sqlalchemy import select

from pipeline.cli import main
from pipeline.store import add_scored, add_user, adjudicate, record_answer
from pipeline.store.db import make_engine, session_factory
from pipeline.store.labels_export import COLUMNS
from pipeline.store.tables import Item
from tests.conftest import REPO
from tests.store.conftest import scored

POSTS = (
    "Mày ngu như bò, nói hoài không hiểu, đúng là hết thuốc chữa",
    "Chiều nay mưa to, đường Lê Lợi ngập nửa bánh xe, mọi người đi cẩn thận",
    "Tin đồn uống nước muối chữa khỏi cúm lan khắp nhóm Zalo của khu phố",
)


@pytest.fixture
def store_env(tmp_path, monkeypatch):
    def use(name: str) -> str:
        url = f"sqlite:///{tmp_path / name / 'kiemtin.db'}"
        monkeypatch.setenv("KIEMTIN_DATA_DIR", str(tmp_path / name))
        monkeypatch.setenv("KIEMTIN_DATABASE_URL", url)
        return url

    return use


def _review(url: str) -> None:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        for name, role in [("lan", "reviewer"), ("minh", "reviewer"), ("hoa", "trainer")]:
            add_user(session, name, role, f"{name} password")
        add_scored(session, [scored(f"p{i}", t) for i, t in enumerate(POSTS)], actor="cli",
                   reviews_needed=2)
        first, second, _third = session.scalars(select(Item.id).order_by(Item.id)).all()
        for who, item, label in [("lan", first, "offensive"), ("minh", first, "offensive"),
                                 ("lan", second, "clean"), ("minh", second, "hate")]:
            record_answer(session, item, who, label, None)
        adjudicate(session, second, "hoa", "clean")
    engine.dispose()


def _rows(path) -> dict[str, dict]:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return {r["text"]: {k: v for k, v in r.items() if k != "id"} for r in rows}


def test_a_trainer_exports_labels_and_imports_them_elsewhere(store_env, tmp_path, capsys):
    url = store_env("team")
    assert main(["db", "upgrade"]) == 0
    _review(url)
    capsys.readouterr()

    jsonl = tmp_path / "labels.jsonl"
    assert main(["labels", "export", "-o", str(jsonl)]) == 0
    assert "wrote 2 reviewed labels (jsonl)" in capsys.readouterr().err
    rows = _rows(jsonl)
    assert {r["decided_by"] for r in rows.values()} == {"agreement", "adjudication"}

    table = tmp_path / "labels.csv"
    assert main(["labels", "export", "--format", "csv", "--task", "hostile",
                 "-o", str(table)]) == 0
    assert table.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)

    assert main(["labels", "export", "--format", "label-studio", "-o", "-"]) == 0
    out = capsys.readouterr().out
    assert len(json.loads(out)) == 2
    tasks = tmp_path / "tasks.json"
    tasks.write_text(out, encoding="utf-8")

    store_env("elsewhere")
    assert main(["labels", "import", str(tasks), "--format", "label-studio"]) == 0
    err = capsys.readouterr().err
    assert "labels import: 2 tasks: 2 items added" in err and "0 rejected" in err
    again = tmp_path / "again.jsonl"
    assert main(["labels", "export", "-o", str(again)]) == 0
    assert _rows(again) == rows


def test_an_import_reports_bad_tasks_and_refuses_a_file_that_is_not_an_array(
    store_env, tmp_path, tiny_models_root, capsys
):
    store_env("team")
    foreign = REPO / "tests" / "data" / "label_studio_foreign.json"
    assert main(["labels", "import", str(foreign), "--task", "hostile",
                 "--models-root", str(tiny_models_root)]) == 0
    err = capsys.readouterr().err
    assert "7 tasks: 5 items added" in err and "2 rejected" in err
    assert "  task 5: annotation 1: label 'spam'" in err and "  task 6: no 'data'" in err

    jsonl = tmp_path / "posts.jsonl"
    jsonl.write_text(json.dumps({"data": {"text": POSTS[0]}}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    assert main(["labels", "import", str(jsonl), "--task", "hostile"]) == 2
    err = capsys.readouterr().err
    assert "expected a JSON array of tasks" in err and "found a JSON object" in err
    assert "Export, format JSON" in err
    with pytest.raises(SystemExit):
        main(["labels", "export", "--format", "xlsx"])
