"""`kiemtin classify` end to end, on a tiny real model, as an analyst runs it."""

import csv
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from tests.conftest import REPO, SAMPLES


def _classify(models_root, *args):
    return main(["classify", *map(str, args), "--models-root", str(models_root)])


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_output_has_one_record_per_scored_row_in_input_order(
    tiny_models_root, tmp_path, capsys
):
    out = tmp_path / "scores.jsonl"
    assert _classify(tiny_models_root, SAMPLES, "-o", out, "--task", "hostile") == 0
    inputs = _read_jsonl(SAMPLES)
    records = _read_jsonl(out)
    assert [r["id"] for r in records] == [i["id"] for i in inputs]
    assert [r["text"] for r in records] == [i["text"] for i in inputs]
    for r in records:
        s = r["scores"]["hostile"]
        assert s["label"] in {"clean", "offensive", "hate"}
        assert set(s["proba"]) == {"clean", "offensive", "hate"}
        assert sum(s["proba"].values()) == pytest.approx(1, abs=1e-3)
        assert s["risk"] == pytest.approx(s["proba"]["offensive"] + s["proba"]["hate"], abs=2e-4)
        for w in s["words"]:
            assert r["text"][w["start"] : w["end"]] == w["word"]
        assert r["model_versions"] == {"hostile": "hostile/linear-1"}
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"scored {len(inputs)} rows, rejected 0" in summary and "posts/s" in summary
    assert not (tmp_path / "scores.rejects.jsonl").exists()


def test_csv_and_parquet_outputs_are_flattened(tiny_models_root, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('post,text\np1,"Mày ngu vl"\np2,"Trời\nđẹp quá"\np3,\n', encoding="utf-8")
    for name in ("out.csv", "out.parquet"):
        out = tmp_path / name
        assert (
            _classify(tiny_models_root, src, "-o", out, "--id-column", "post", "--task", "hostile")
            == 0
        )
        if name.endswith(".csv"):
            with open(out, encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
        else:
            rows = pq.read_table(out).to_pylist()
        assert [r["id"] for r in rows] == ["p1", "p2"]
        assert rows[1]["text"] == "Trời\nđẹp quá"
        assert {
            "hostile_label",
            "hostile_p_clean",
            "hostile_p_offensive",
            "hostile_p_hate",
            "hostile_risk",
            "hostile_words",
            "hostile_model",
        } <= set(rows[0])
        assert float(rows[0]["hostile_risk"]) > float(rows[1]["hostile_risk"])
        json.loads(rows[0]["hostile_words"])
        rejects = _read_jsonl(out.with_suffix(".rejects.jsonl"))
        assert rejects == [{"line": 5, "id": "p3", "reason": "empty text", "raw": ""}]


def test_bad_rows_go_to_rejects_and_the_run_finishes(tiny_models_root, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b'{"id": 1, "text": "b\xc3\xacnh th\xc6\xb0\xe1\xbb\x9dng"}\n{broken\n'
        b'{"id": 3, "text": "\xff\xfe"}\n{"id": 4, "text": ""}\n'
        + json.dumps({"id": 5, "text": "x" * 1_000_000}).encode()
        + b"\n"
    )
    out = tmp_path / "o.jsonl"
    assert _classify(tiny_models_root, src, "-o", out, "--task", "hostile") == 0
    assert [r["id"] for r in _read_jsonl(out)] == [1]
    rejects = _read_jsonl(tmp_path / "o.rejects.jsonl")
    assert [(r["line"], r["id"]) for r in rejects] == [(2, None), (3, 3), (4, 4), (5, 5)]
    assert [r["reason"].split(" ")[0] for r in rejects] == ["malformed", "line", "empty", "text"]
    assert "rejected 4 (see" in capsys.readouterr().err


def test_all_tasks_need_every_current_model(tiny_models_root, tmp_path, capsys):
    code = _classify(tiny_models_root, SAMPLES, "-o", tmp_path / "o.jsonl")
    err = capsys.readouterr().err
    assert code == 2
    assert "current model for task 'false'" in err and "train.py" in err
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--task", "spam"], "one of ['false', 'hostile', 'all']"),
        (["-o", "out.xlsx"], ".xlsx"),
        (["--model", "no/such/dir"], "no such directory"),
        (["--text-column", "body"], "--text-column"),
    ],
)
def test_wrong_options_exit_non_zero_with_expected_found_fix(
    tiny_models_root, tmp_path, capsys, args, expected
):
    src = tmp_path / "in.csv"
    src.write_text("id,text\n1,xin chào\n", encoding="utf-8")
    code = _classify(tiny_models_root, src, "--task", "hostile", *args)
    err = capsys.readouterr().err
    assert code == 2
    assert "expected" in err and "found" in err and expected in err


def test_stdin_jsonl_through_the_classify_script(tiny_models_root, tmp_path):
    lines = "\n".join(
        [
            json.dumps({"text": "Mày ngu vl"}, ensure_ascii=False),
            "{không phải json",
            json.dumps({"text": "Chúc mừng năm mới"}, ensure_ascii=False),
        ]
    )
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "classify.py"),
            "-",
            "--task",
            "hostile",
            "--models-root",
            str(tiny_models_root),
        ],
        input=lines.encode(),
        capture_output=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()
    records = [json.loads(x) for x in result.stdout.decode().splitlines()]
    assert [r["id"] for r in records] == [1, 3]
    assert "rejected 1" in result.stderr.decode()
    assert json.loads((tmp_path / "stdin.rejects.jsonl").read_text())["line"] == 2


def test_a_row_that_breaks_scoring_is_rejected_and_its_batch_is_still_scored(
    tiny_models_root, tmp_path, monkeypatch
):
    import pipeline.model.classifier as score_mod

    real_prepare = score_mod.prepare

    def fragile_prepare(texts, workers=1):
        if any("BOOM" in t for t in texts):
            raise RuntimeError("segmenter crashed")
        return real_prepare(texts, workers=workers)

    monkeypatch.setattr(score_mod, "prepare", fragile_prepare)
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps({"id": i, "text": t}) for i, t in
                             enumerate(["một", "BOOM", "ba"], start=1)), encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert _classify(tiny_models_root, src, "-o", out, "--task", "hostile") == 0
    assert [r["id"] for r in _read_jsonl(out)] == [1, 3]
    [reject] = _read_jsonl(tmp_path / "o.rejects.jsonl")
    assert reject["line"] == 2 and "segmenter crashed" in reject["reason"]


def test_a_damaged_model_directory_exits_non_zero_naming_the_missing_part(
    tiny_model_dir, tmp_path, capsys
):
    import shutil

    broken = shutil.copytree(tiny_model_dir, tmp_path / "hostile" / "linear-9")
    (broken / "weights.safetensors").unlink()
    code = main(["classify", str(SAMPLES), "--model", str(broken)])
    err = capsys.readouterr().err
    assert code == 2
    assert "weights.safetensors missing" in err and "retrain" in err


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.csv", "empty.parquet"])
def test_an_empty_input_gives_an_empty_output(tiny_models_root, tmp_path, capsys, name):
    src = tmp_path / name
    if name.endswith(".parquet"):
        import pyarrow as pa

        pq.write_table(pa.table({"text": pa.array([], pa.string())}), src)
    else:
        src.write_bytes(b"")
    out = tmp_path / "o.jsonl"
    assert _classify(tiny_models_root, src, "-o", out, "--task", "hostile") == 0
    assert out.read_text() == ""
    assert "scored 0 rows, rejected 0" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--batch-size=0", "--workers=-1", "--max-chars=lots"])
def test_a_bad_number_is_refused_before_any_work(option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", str(SAMPLES), option])
    assert exit_info.value.code == 2
    assert "expected a whole number" in capsys.readouterr().err
