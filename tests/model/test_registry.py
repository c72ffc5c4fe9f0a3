"""The model registry as a trainer uses it: `kiemtin models list | show | promote | rollback`.

Three real models are trained on ViHSD rows: v1 on the tiny corpus, v2 on 5% of its train
split (deliberately worse), v3 a retrain of v1's data with v1's settings (not worse). The
gate must refuse v2 with the comparison table, accept v3, and every change of CURRENT must
land in HISTORY.jsonl and the audit trail.
"""

import csv
import json
import shutil

import pytest

from pipeline.cli import main
from pipeline.errors import KiemtinError, ModelDirError
from pipeline.model import registry
from pipeline.store import audit
from pipeline.store.db import make_engine, session_factory
from pipeline.training.train import train_model
from tests.conftest import copy_model, write_split
from tests.store.conftest import migrated_database

REASON = "5% model kept for the drift study; accepted by the trainers' meeting"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_corpus, tiny_model_dir):
    """models/hostile/linear-1 (CURRENT), linear-2 (5% of the train split), linear-3 (v1 again).

    linear-1 and linear-3 are copies of the session's tiny model (trained on the tiny
    corpus with these settings); linear-2 is trained here on 150 of its 3,000 rows."""
    root = tmp_path_factory.mktemp("registry_models")
    # The same directory name as the tiny corpus, so both models name their test set alike.
    small = tmp_path_factory.mktemp("five_percent") / tiny_corpus.name
    small.mkdir()
    with open(tiny_corpus / "train.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    write_split(small / "train.csv", rows[::20])  # 150 of 3,000 rows
    shutil.copy(tiny_corpus / "test.csv", small / "test.csv")
    v1 = copy_model(tiny_model_dir, root, "1")
    registry.promote_first(v1)
    v2 = train_model("hostile", small, promote=False, models_root=root,
                     hyperparameters={"cv_folds": 3})
    v3 = copy_model(tiny_model_dir, root, "3")
    assert [d.name for d in (v1, v2.model_dir, v3)] == ["linear-1", "linear-2", "linear-3"]
    assert _current(root) == "linear-1"
    return root


@pytest.fixture
def models(trained, tmp_path):
    """A private copy of the trained models root (tests change CURRENT and HISTORY)."""
    root = tmp_path / "models"
    shutil.copytree(trained, root)
    return root


def _current(root, task="hostile"):
    return (root / task / "CURRENT").read_text(encoding="utf-8").strip()


def _history(root, task="hostile"):
    path = root / task / "HISTORY.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _metrics(root, name):
    return json.loads((root / "hostile" / name / "metrics.json").read_text(encoding="utf-8"))


def _model_audit(url):
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return [e.to_dict() for e in audit.entries(session, "model")]
    finally:
        engine.dispose()


def _models(capsys, *args):
    code = main(["models", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_gate_refuses_a_worse_model_force_needs_a_reason_and_rollback_undoes_it(
    models, store_env, capsys, request
):
    root = ["--models-root", str(models)]
    v1, v2 = _metrics(models, "linear-1"), _metrics(models, "linear-2")
    test_set = next(iter(v1["test_sets"]))
    assert test_set in v2["test_sets"]  # the same fixed test set, by name
    assert v2["test_sets"][test_set]["macro_f1"] < v1["test_sets"][test_set]["macro_f1"] - 0.005

    # The gate refuses the 5% model and shows why.
    code, out, err = _models(capsys, "promote", "hostile/linear-2", *root)
    assert code == 2
    assert "hostile/linear-2" in err and "--force --reason" in err
    assert "candidate hostile/linear-2 vs baseline hostile/linear-1 (tolerance 0.005" in err
    table = err[err.index("candidate hostile/linear-2 vs baseline"):]
    f1_row = next(line for line in table.splitlines() if line.split()[:2] == [test_set,
                                                                                "macro-F1"])
    cand, base = v2["test_sets"][test_set]["macro_f1"], v1["test_sets"][test_set]["macro_f1"]
    assert f"{cand:.4f}" in f1_row and f"{base:.4f}" in f1_row
    assert f"{cand - base:+.4f}" in f1_row and f1_row.endswith("WORSE")
    assert "gate: refused" in table
    if request.config.getoption("capture") == "no":  # the figures, with pytest -s
        with capsys.disabled():
            print(f"\n{table}")
    assert _current(models) == "linear-1" and _history(models) == []
    assert _model_audit(store_env) == []

    # --force alone is refused: a forced promotion must say why.
    code, _, err = _models(capsys, "promote", "hostile/linear-2", "--force", *root)
    assert code == 2 and "--reason" in err
    code, _, err = _models(capsys, "promote", "hostile/linear-2", "--force", "--reason", " ",
                           *root)
    assert code == 2 and "--reason" in err
    assert _current(models) == "linear-1"

    # With a reason it is promoted, and the reason is on record.
    code, out, _ = _models(capsys, "promote", "hostile/linear-2", "--force", "--reason", REASON,
                           *root)
    assert code == 0
    assert "promoted (forced past the gate) hostile/linear-2 (was hostile/linear-1)" in out
    assert "gate: refused" in out  # the table shows what was overridden
    assert _current(models) == "linear-2"
    (forced,) = _history(models)
    assert forced["action"] == "promote" and forced["forced"] is True
    assert (forced["from"], forced["to"]) == ("hostile/linear-1", "hostile/linear-2")
    assert forced["reason"] == REASON and forced["actor"].startswith("cli")
    numbers = forced["comparison"]["test_sets"][test_set]["macro_f1"]
    assert (numbers["candidate"], numbers["baseline"]) == (cand, base)
    assert numbers["worse"] is True and forced["comparison"]["passes"] is False
    (row,) = _model_audit(store_env)
    assert (row["action"], row["entity"], row["entity_id"]) == ("force_promote", "model",
                                                                "hostile")
    assert row["before"] == {"current": "hostile/linear-1"}
    assert row["after"]["current"] == "hostile/linear-2" and row["after"]["reason"] == REASON
    assert row["after"]["comparison"]["test_sets"][test_set]["macro_f1"]["candidate"] == cand

    # Rollback returns to v1; the history and the audit trail say so.
    code, out, _ = _models(capsys, "rollback", "hostile", "--reason", "too weak", *root)
    assert code == 0 and "rolled back to hostile/linear-1 (was hostile/linear-2)" in out
    assert _current(models) == "linear-1"
    back = _history(models)[-1]
    assert (back["action"], back["from"], back["to"]) == ("rollback", "hostile/linear-2",
                                                          "hostile/linear-1")
    assert back["reason"] == "too weak" and back["undoes"] == 1
    assert [r["action"] for r in _model_audit(store_env)] == ["force_promote", "rollback"]

    # A model that is not worse (v1's data, v1's settings) passes the gate.
    code, out, _ = _models(capsys, "promote", "hostile/linear-3", *root)
    assert code == 0
    assert "gate: passes" in out and "promoted hostile/linear-3 (was hostile/linear-1)" in out
    assert _current(models) == "linear-3"
    passed = _history(models)[-1]
    assert passed["forced"] is False and passed["reason"] is None
    assert passed["comparison"]["passes"] is True
    rows = _model_audit(store_env)
    assert [r["action"] for r in rows] == ["force_promote", "rollback", "promote"]
    assert rows[-1]["after"]["current"] == "hostile/linear-3"


def test_successive_rollbacks_walk_back_through_the_history(models):
    act = {"actor": "cli:trainer"}
    registry.promote(models, "hostile/linear-2", force=True, reason=REASON, **act)
    change = registry.promote(models, "hostile/linear-3", **act)  # v3 beats v2
    assert change.action == "promote" and change.comparison.passes
    assert _current(models) == "linear-3"

    first = registry.rollback(models, "hostile", **act)
    assert (first.before, first.after) == ("hostile/linear-3", "hostile/linear-2")
    second = registry.rollback(models, "hostile", **act)  # further back, not to linear-3
    assert (second.before, second.after) == ("hostile/linear-2", "hostile/linear-1")
    assert _current(models) == "linear-1"
    with pytest.raises(KiemtinError, match="every recorded promotion undone already"):
        registry.rollback(models, "hostile", **act)
    assert [(h["action"], h["to"]) for h in _history(models)] == [
        ("promote", "hostile/linear-2"),
        ("promote", "hostile/linear-3"),
        ("rollback", "hostile/linear-2"),
        ("rollback", "hostile/linear-1"),
    ]

    # After a new promotion, a rollback undoes that one.
    registry.promote(models, "hostile/linear-3", **act)
    assert registry.rollback(models, "hostile", **act).after == "hostile/linear-1"


def test_rollback_without_history_or_to_a_damaged_model_is_refused(models, capsys):
    code, _, err = _models(capsys, "rollback", "hostile", "--models-root", str(models))
    assert code == 2 and "HISTORY.jsonl" in err and "no history" in err

    registry.promote(models, "hostile/linear-3", actor="t")
    (models / "hostile" / "linear-1" / "weights.safetensors").unlink()
    with pytest.raises(KiemtinError, match=r"weights\.safetensors missing") as refused:
        registry.rollback(models, "hostile", actor="t")
    assert "Restore" in refused.value.fix
    assert _current(models) == "linear-3" and len(_history(models)) == 1


def test_rollback_undoes_a_change_of_current_made_outside_the_registry(models):
    registry.promote(models, "hostile/linear-3", actor="t")
    (models / "hostile" / "CURRENT").write_text("linear-2\n", encoding="utf-8")  # by hand
    change = registry.rollback(models, "hostile", actor="t")
    assert (change.before, change.after) == ("hostile/linear-2", "hostile/linear-3")
    assert "not set by the registry" in change.notes[0]
    # ... and the next rollback undoes the recorded promotion.
    assert registry.rollback(models, "hostile", actor="t").after == "hostile/linear-1"


def test_promoting_the_current_model_changes_nothing(models, store_env, capsys):
    code, out, _ = _models(capsys, "promote", str(models / "hostile" / "linear-1"),
                           "--models-root", str(models))
    assert code == 0 and "hostile/linear-1 is already CURRENT; nothing changed" in out
    assert _history(models) == [] and _model_audit(store_env) == []


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_audit_row_commits_with_the_files_or_neither_does(models, tmp_path, monkeypatch,
                                                              kind):
    with migrated_database(kind, tmp_path) as url:
        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions() as session:
            registry.promote(models, "hostile/linear-3", actor="cli:lan", audit_session=session)
        (row,) = _model_audit(url)
        assert (row["actor"], row["action"], row["after"]["current"]) == (
            "cli:lan", "promote", "hostile/linear-3"
        )
        before = (models / "hostile" / "HISTORY.jsonl").read_bytes()

        def broken(task_dir, name):
            raise OSError("disk full")

        monkeypatch.setattr(registry.promotion, "write_current", broken)
        with sessions() as session, pytest.raises(OSError, match="disk full"):
            registry.rollback(models, "hostile", actor="cli:lan", audit_session=session)
        engine.dispose()
        assert _current(models) == "linear-3"
        assert (models / "hostile" / "HISTORY.jsonl").read_bytes() == before
        assert [r["action"] for r in _model_audit(url)] == ["promote"]


def test_models_list_shows_every_directory_valid_or_not(models, capsys):
    broken = models / "hostile" / "linear-4"
    shutil.copytree(models / "hostile" / "linear-3", broken)
    (broken / "weights.safetensors").unlink()

    code, out, _ = _models(capsys, "list", "--models-root", str(models))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["task", "model", "current", "family", "version"]
    first = next(line for line in lines if " linear-1 " in line)
    assert first.split()[:5] == ["hostile", "linear-1", "CURRENT", "linear", "1"]
    for name in ("linear-1", "linear-2", "linear-3"):
        row = next(line for line in lines if f" {name} " in line)
        test_set, m = next(iter(_metrics(models, name)["test_sets"].items()))
        assert test_set in row
        assert f"{m['macro_f1']:.4f}" in row and f"{m['roc_auc_risk']:.4f}" in row
        assert "CURRENT" not in row or name == "linear-1"
    invalid = next(line for line in lines if " linear-4 " in line)
    assert "INVALID" in invalid and "weights.safetensors missing" in invalid
    assert "metrics.json's file time" in out  # training records no date: say where it is from

    listing = registry.list_models(models, "hostile")
    (task,) = listing.tasks
    assert task.current == "linear-1"
    assert [(m.name, m.valid) for m in task.models] == [
        ("linear-1", True), ("linear-2", True), ("linear-3", True), ("linear-4", False)
    ]
    assert set(task.models[1].metrics[next(iter(task.models[1].metrics))]) == {
        "macro_f1", "roc_auc_risk"
    }

    code, _, err = _models(capsys, "list", "--task", "distortion", "--models-root", str(models))
    assert code == 2 and "task 'distortion'" in err and "hostile" in err


def test_models_show_prints_config_data_metrics_and_the_comparison(models, capsys):
    code, out, _ = _models(capsys, "show", "hostile/linear-2", "--models-root", str(models))
    assert code == 0
    assert out.startswith("hostile/linear-2: not current (CURRENT is hostile/linear-1)")
    assert "family: linear, labels: clean, offensive, hate (risk: offensive + hate)" in out
    assert '"cv_folds": 3' in out or "cv_folds=3" in out
    assert "training texts: 150 (" in out
    v2 = _metrics(models, "linear-2")
    for test_set, m in v2["test_sets"].items():
        row = next(line for line in out.splitlines() if line.split()[:1] == [test_set])
        assert f"{m['macro_f1']:.4f}" in row and f"{m['ece']:.4f}" in row
    assert "against CURRENT hostile/linear-1:" in out and "gate: refused" in out

    code, out, _ = _models(capsys, "show", str(models / "hostile" / "linear-1"),
                           "--models-root", str(models))
    assert code == 0 and out.startswith("hostile/linear-1: CURRENT")
    assert "training texts: 3,000 (" in out and "against CURRENT" not in out


def test_a_missing_or_invalid_model_directory_is_refused(models, capsys):
    root = ["--models-root", str(models)]
    code, _, err = _models(capsys, "show", "hostile/linear-9", *root)
    assert code == 2 and "no such directory" in err and "hostile/linear-2" in err  # suggests
    code, _, err = _models(capsys, "promote", "hostile/linear-9", *root)
    assert code == 2 and "no such directory" in err

    (models / "hostile" / "linear-2" / "metrics.json").unlink()
    for command in ("show", "promote"):
        code, _, err = _models(capsys, command, "hostile/linear-2", *root)
        assert code == 2 and "metrics.json missing" in err
    assert _current(models) == "linear-1"


def test_no_common_test_set_is_refused_unless_forced(models):
    v3 = models / "hostile" / "linear-3"
    metrics = json.loads((v3 / "metrics.json").read_text(encoding="utf-8"))
    metrics["test_sets"] = {f"other/{k}": v for k, v in metrics["test_sets"].items()}
    (v3 / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")

    with pytest.raises(KiemtinError, match="at least one fixed test set") as refused:
        registry.compare(v3, models / "hostile" / "linear-1")
    assert "other/" in refused.value.found and "--force --reason" in refused.value.fix
    with pytest.raises(KiemtinError, match="at least one fixed test set"):
        registry.promote(models, "hostile/linear-3", actor="t")
    assert _current(models) == "linear-1"

    change = registry.promote(models, "hostile/linear-3", actor="t", force=True,
                              reason="new test split")
    assert change.action == "force_promote" and change.comparison is None
    (entry,) = _history(models)
    assert entry["forced"] is True and "at least one fixed test set" in entry["gate_problem"]


def test_the_tolerance_decides_and_must_be_sensible(models):
    v1, v2 = models / "hostile" / "linear-1", models / "hostile" / "linear-2"
    strict = registry.compare(v2, v1)
    assert not strict.passes and strict.worse_rows
    assert registry.compare(v2, v1, tolerance=1.0).passes
    same = registry.compare(models / "hostile" / "linear-3", v1, tolerance=0)
    assert same.passes and {r.change for r in same.rows} == {0.0}
    assert registry.promote(models, "hostile/linear-2", actor="t", tolerance=1.0).action == (
        "promote"
    )
    for bad in (-0.01, float("nan")):
        with pytest.raises(KiemtinError, match="a number >= 0"):
            registry.compare(v2, v1, tolerance=bad)


def test_a_model_outside_the_models_root_or_of_another_task_is_refused(models, tmp_path):
    outside = tmp_path / "elsewhere" / "hostile" / "linear-7"
    shutil.copytree(models / "hostile" / "linear-3", outside)
    with pytest.raises(ModelDirError, match="Copy it into"):
        registry.promote(models, outside, actor="t")

    moved = models / "false" / "linear-7"
    shutil.copytree(models / "hostile" / "linear-3", moved)
    with pytest.raises(ModelDirError, match="a model of task 'false'"):
        registry.promote(models, "false/linear-7", actor="t")
