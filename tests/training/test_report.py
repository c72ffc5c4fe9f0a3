"""`kiemtin evaluate`: the report files, what they say, and that corpus text stays text."""

from __future__ import annotations

import csv
import json
import re
import struct
from pathlib import Path

import pytest

from pipeline.errors import CorpusError, ModelDirError
from pipeline.training.report import PLOTS, evaluate_model
from tests.conftest import vihsd_rows, write_split

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCRIPT_POST = "<script>alert('x')</script> Đồ óc chó ngu như bò, cút mẹ mày đi"
PHONE_POST = "Thằng chó này lừa đảo, gọi nó 0912 345 678 mà chửi cho nó ngu"
# Texts whose teencode (expanded by the normaliser's table) we know: 3 of 7.
TEENCODE = [
    ("ko bít j hết trơn", "clean", True),  # ko, bít, j
    ("Mày ngu vl", "offensive", True),  # vl
    ("dc rồi mn ơi", "clean", True),  # dc, mn
    ("không biết gì hết trơn", "clean", False),  # the same words written out
    ("Hôm nay trời đẹp quá", "clean", False),
    ("Giá 300 k một cái", "clean", False),  # "300 k" is thousands, not teencode
    ("K-pop hay thật", "clean", False),  # glued by - : not teencode
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Real ViHSD test rows, plus a script tag (with an id that is markup too), a phone
    number, and the teencode texts; every special post is labelled so it is an error."""
    d = tmp_path_factory.mktemp("report_corpus")
    rows = vihsd_rows("test", 200)
    rows += [
        {"id": "<img src=x onerror=alert(1)>", "text": SCRIPT_POST, "label": "clean"},
        {"id": "phone", "text": PHONE_POST, "label": "clean"},
    ]
    rows += [{"id": f"teen-{i}", "text": t, "label": lab} for i, (t, lab, _) in enumerate(TEENCODE)]
    write_split(d / "test.csv", rows)  # a test split alone is enough to evaluate
    return d


@pytest.fixture(scope="module")
def second_models_root(tmp_path_factory, tiny_corpus) -> Path:
    """A models root whose CURRENT hostile model is a weaker one: 600 training rows."""
    from pipeline.training.train import train_model

    d = tmp_path_factory.mktemp("small_corpus")
    with open(tiny_corpus / "train.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[:600]
    write_split(d / "train.csv", rows)
    write_split(d / "test.csv", vihsd_rows("test", 100))
    root = tmp_path_factory.mktemp("second_models")
    train_model("hostile", d, models_root=root, name="small", hyperparameters={"cv_folds": 3})
    return root


@pytest.fixture(scope="module")
def second_model_dir(second_models_root) -> Path:
    return second_models_root / "hostile" / "small-1"


@pytest.fixture(scope="module")
def report(tmp_path_factory, tiny_model_dir, corpus, second_model_dir):
    out = tmp_path_factory.mktemp("report")
    return evaluate_model(tiny_model_dir, corpus, out, against=second_model_dir)


def _split(corpus: Path) -> tuple[list[str], list[str], list[str]]:
    with open(corpus / "test.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["id"] for r in rows], [r["text"] for r in rows], [r["label"] for r in rows]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_report_is_a_page_its_metrics_and_three_real_pngs(report):
    names = sorted(p.name for p in report.out_dir.iterdir())
    assert names == sorted(["metrics.json", "report.html", *PLOTS.values()])
    html = report.html_path.read_text(encoding="utf-8")
    for file in PLOTS.values():
        data = (report.out_dir / file).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000
        width, height = _png_size(data)
        assert width >= 400 and height >= 300
        assert f'<img src="{file}"' in html  # beside the page, linked relatively
    # Self-contained: nothing fetched, nothing run.
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "<script" not in html


def test_metrics_json_is_what_evaluate_says_on_the_same_data(report, tiny_model, corpus):
    from pipeline.text.prepare import prepare
    from pipeline.training.metrics import evaluate

    written = json.loads(report.metrics_path.read_text(encoding="utf-8"))
    _, texts, labels = _split(corpus)
    expected = json.loads(json.dumps(evaluate(tiny_model, prepare(texts), labels)))
    assert {key: written[key] for key in expected} == expected
    assert written["model"] == "hostile/linear-1" and written["task"] == "hostile"
    assert written["corpus"] == corpus.name and written["split"] == "test"
    assert written["n"] == len(texts)
    # the plots' data: the confusion matrix counts every text once, per true label
    cm = written["curves"]["confusion_matrix"]
    assert cm["labels"] == list(tiny_model.classes_)
    assert [sum(row) for row in cm["counts"]] == [written["support"][c] for c in cm["labels"]]
    pr = written["curves"]["precision_recall_risk"]
    assert len(pr["recall"]) == len(pr["precision"]) == 101 and 0 < pr["average_precision"] <= 1
    bins = written["curves"]["reliability"]["top_label"]
    assert sum(b["n"] for b in bins) == len(texts)


def test_the_teencode_slice_holds_the_texts_with_teencode(tmp_path, tiny_model_dir):
    d = tmp_path / "teencode"
    d.mkdir()
    write_split(d / "test.csv", [{"id": str(i), "text": t, "label": lab} for i, (t, lab, _) in
                            enumerate(TEENCODE)])  # fmt: skip
    written = evaluate_model(tiny_model_dir, d, tmp_path / "out", against=None).metrics
    teencode = written["slices"]["teencode"]
    assert teencode["n"] == sum(known for *_, known in TEENCODE) == 3
    assert teencode["support"] == {"clean": 2, "offensive": 1, "hate": 0}
    assert list(written["slices"])[:2] == ["no_diacritics", "teencode"]
    assert any(name.startswith("short") for name in written["slices"])
    assert written["against"] is None


def test_worst_errors_are_wrong_and_the_surest_first(report, tiny_model, corpus):
    from pipeline.text.prepare import prepare

    ids, texts, labels = _split(corpus)
    proba = tiny_model.predict_proba(prepare(texts))
    pred = tiny_model.labels_from_proba(proba)
    col = {c: i for i, c in enumerate(tiny_model.classes_)}
    wrong = {ids[i]: proba[i, col[pred[i]]] for i in range(len(ids)) if pred[i] != labels[i]}
    errors = report.metrics["worst_errors"]
    assert len(errors) == min(25, len(wrong)) and len(wrong) > 25
    row = {id_: i for i, id_ in enumerate(ids)}
    for e in errors:
        i = row[e["id"]]
        assert e["label"] == labels[i] != e["predicted"] == pred[i]
        assert e["confidence"] == round(float(proba[i, col[pred[i]]]), 4)
    confidences = [e["confidence"] for e in errors]
    assert confidences == sorted(confidences, reverse=True)
    left_out = set(wrong) - {e["id"] for e in errors}
    assert all(wrong[i] <= confidences[-1] + 1e-4 for i in left_out)
    assert [e["rank"] for e in errors] == list(range(1, len(errors) + 1))


def test_corpus_text_is_masked_and_escaped_never_markup(tmp_path, tiny_model_dir, corpus):
    # every error of this small split is listed, so both special posts are in the table
    out = evaluate_model(tiny_model_dir, corpus, tmp_path, against=None, worst=1000)
    html = out.html_path.read_text(encoding="utf-8")
    listed = {e["id"] for e in out.metrics["worst_errors"]}
    assert {"<img src=x onerror=alert(1)>", "phone"} <= listed
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Đồ óc chó" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "0912 345 678" not in html and "•••• ••• •••" in html
    assert "0912 345 678" not in out.metrics_path.read_text(encoding="utf-8")


def test_side_by_side_shows_both_models_and_the_differences(report):
    m = report.metrics
    against = m["against"]
    assert against["model"] == "hostile/small-1"
    other = against["metrics"]
    for key in ("macro_f1", "accuracy", "roc_auc_risk", "ece", "risk_ece"):
        assert against["differences"][key] == round(m[key] - other[key], 4)
    for label, f1 in m["per_class_f1"].items():
        assert against["differences"]["per_class_f1"][label] == round(
            f1 - other["per_class_f1"][label], 4
        )
    for name, s in m["slices"].items():
        d = against["differences"]["slices"][name]
        o = other["slices"][name]
        if s["macro_f1"] is None:
            assert d["macro_f1"] is None
        else:
            assert d["macro_f1"] == round(s["macro_f1"] - o["macro_f1"], 4)
    agreement = against["agreement"]
    assert sum(agreement[k] for k in agreement if k != "same_label") == m["n"]
    # Each figure's interval holds it; the paired difference's holds the difference and, the
    # two models being scored on the same resampled texts, is narrower than theirs together.
    for key in ("macro_f1", "roc_auc_risk"):
        low, high = m["intervals"][key]
        assert low <= m[key] <= high
        d_low, d_high = against["difference_intervals"][key]
        assert d_low <= against["differences"][key] <= d_high
        o_low, o_high = other["intervals"][key]
        assert d_high - d_low < (high - low) + (o_high - o_low)

    html = report.html_path.read_text(encoding="utf-8")
    interval = r'<span class="meta"> \[([+-]?[\d.]+), ([+-]?[\d.]+)\]</span>'
    row = re.search(
        rf"<tr><td>macro-F1</td><td class=\"num\">([\d.]+){interval}</td>"
        rf"<td class=\"num\">([\d.]+){interval}</td>"
        rf"<td class=\"num (better|worse|same)\">([+-][\d.]+){interval}</td></tr>",
        html,
    )
    assert row, "headline row with both models, the difference and their intervals"
    assert row.group(1) == f"{m['macro_f1']:.4f}" and row.group(4) == f"{other['macro_f1']:.4f}"
    assert row.group(8) == f"{against['differences']['macro_f1']:+.4f}"
    assert [float(row.group(i)) for i in (2, 3)] == m["intervals"]["macro_f1"]
    assert [float(row.group(i)) for i in (9, 10)] == against["difference_intervals"]["macro_f1"]
    assert "hostile/linear-1" in html and "hostile/small-1" in html
    assert "Slices side by side" in html
    teencode = other["slices"]["teencode"]["macro_f1"]
    assert f'<td>teencode</td><td class="num">{m["slices"]["teencode"]["n"]}</td>' in html
    assert f"{teencode:.4f}" in html


def test_against_current_compares_with_the_current_model_unless_it_is_this_one(
    tmp_path, tiny_model_dir, tiny_models_root, corpus, second_models_root
):
    other = evaluate_model(tiny_model_dir, corpus, tmp_path / "a", models_root=second_models_root)
    assert other.metrics["against"]["model"] == "hostile/small-1"
    same = evaluate_model(tiny_model_dir, corpus, tmp_path / "b", models_root=tiny_models_root)
    assert "is the task's CURRENT model" in same.metrics["against"]["skipped"]
    assert "Slices side by side" not in same.html_path.read_text(encoding="utf-8")


def test_the_same_inputs_give_the_same_bytes(tmp_path, report, tiny_model_dir, corpus):
    again = evaluate_model(
        tiny_model_dir, corpus, tmp_path, against=report.metrics["against"]["model_dir"]
    )
    for name in ["metrics.json", "report.html", *PLOTS.values()]:
        assert (again.out_dir / name).read_bytes() == (report.out_dir / name).read_bytes(), name


def test_what_cannot_be_evaluated_is_refused_with_a_reason(tmp_path, tiny_model_dir, corpus):
    from tests.conftest import BUNDLED_MODELS

    with pytest.raises(ModelDirError, match="no such directory"):
        evaluate_model(tmp_path / "nope", corpus, tmp_path / "out")
    with pytest.raises(CorpusError, match=r"expected a split 'dev'.*'test'"):
        evaluate_model(tiny_model_dir, corpus, tmp_path / "out", split="dev", against=None)
    false_labels = tmp_path / "false_corpus"
    false_labels.mkdir()
    write_split(false_labels / "test.csv", [{"id": "1", "text": "tin giả", "label": "unreliable"}])
    with pytest.raises(CorpusError, match="'hostile' labels"):
        evaluate_model(tiny_model_dir, false_labels, tmp_path / "out", against=None)
    with pytest.raises(ModelDirError, match="a model of task 'hostile'"):
        evaluate_model(
            tiny_model_dir, corpus, tmp_path / "out", against=BUNDLED_MODELS / "false" / "linear-1"
        )
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_cli_writes_the_report_and_prints_where_and_the_headline(
    tmp_path, capsys, tiny_models_root, corpus, second_model_dir
):
    from pipeline.cli import main

    out = tmp_path / "report"
    code = main(
        ["evaluate", "hostile/linear-1", "--corpus", str(corpus), "-o", str(out),
         "--models-root", str(tiny_models_root), "--against", str(second_model_dir),
         "--split", "test", "--workers", "1"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"report: {out / 'report.html'}" in captured.out
    assert re.search(r"n=209 macro-F1=0\.\d{4}", captured.out)
    assert re.search(r"macro-F1=0\.\d{4} \[0\.\d{4}, 0\.\d{4}\]", captured.out)
    assert re.search(r"vs hostile/small-1: macro-F1 [+-]0\.\d{4} \[[+-]0\.\d{4}, [+-]0\.\d{4}\]",
                     captured.out)  # fmt: skip
    assert "normalising and segmenting 209 texts" in captured.err
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["n"] == 209

    code = main(["evaluate", "hostile/linear-1", "--corpus", str(corpus), "-o", str(out),
                 "--models-root", str(tiny_models_root), "--against", "none"])  # fmt: skip
    assert code == 0 and "no comparison" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "dev"], "expected a split 'dev'"),
        (["--against", "hostile/linear-9"], "model 'hostile/linear-9'"),
    ],
)
def test_cli_refuses_with_exit_code_2_and_says_why(
    tmp_path, capsys, tiny_model_dir, corpus, args, message
):
    from pipeline.cli import main

    code = main(["evaluate", str(tiny_model_dir), "--corpus", str(corpus), "-o",
                 str(tmp_path / "r"), *args])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "kiemtin: error:" in err and message in err


def test_cli_refuses_a_corpus_of_another_task(tmp_path, capsys):
    from pipeline.cli import main
    from tests.conftest import BUNDLED_MODELS, require_corpora

    corpora = require_corpora()
    code = main(["evaluate", str(BUNDLED_MODELS / "false" / "linear-1"), "--corpus",
                 str(corpora / "vihsd"), "-o", str(tmp_path / "r")])  # fmt: skip
    assert code == 2
    assert "labelled for the model's task 'false'" in capsys.readouterr().err


def test_two_models_of_the_same_name_are_told_apart_by_their_directories():
    from pipeline.training.report import display_names

    m = {"model": "hostile/linear-1", "model_dir": "models/hostile/linear-1"}
    other = {"model": "hostile/linear-1", "model_dir": "/tmp/m/hostile/linear-1"}
    assert display_names({**m, "against": other}) == (m["model_dir"], other["model_dir"])
    assert display_names({**m, "against": {**other, "model": "hostile/linear-2"}}) == (
        "hostile/linear-1",
        "hostile/linear-2",
    )
    assert display_names({**m, "against": None}) == ("hostile/linear-1", None)
