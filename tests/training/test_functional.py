"""The Vietnamese functional test set: well-formed, varied, our own writing, and evaluated per
family with counts that add up."""

import csv
import json
import re
from collections import Counter

import pytest

from pipeline.errors import InputError
from pipeline.model.card import _functional_section, functional_table
from pipeline.model.classifier import Classifier
from pipeline.model.directory import current_model_dir, load_model
from pipeline.tasks import load_task
from pipeline.text.normalise import normalise
from pipeline.training.functional import (
    FUNCTIONAL_SET,
    FunctionalCase,
    evaluate_functional,
    load_functional,
)
from tests.conftest import BUNDLED_MODELS, require_corpora

MIN_CASES = 150
MIN_PER_FAMILY = 8
# (file under ../shared/corpora, text column) for every reference corpus file
REFERENCE_TEXTS = [
    *((f"vihsd/{s}.csv", "free_text") for s in ("train", "dev", "test")),
    *((f"reintel/{s}.csv", "post_message") for s in ("train", "test")),
    *((f"vihos/{s}.csv", "content") for s in ("train", "dev", "test")),
]
CLEAN_FAMILIES = {"counter_speech_quoting", "negation", "reported_speech"}


@pytest.fixture(scope="module")
def cases():
    return load_functional()


def _key(text: str) -> str:
    return " ".join(normalise(text).casefold().split())


def test_the_set_has_enough_cases_in_every_family(cases):
    assert len(cases) >= MIN_CASES
    per_family = Counter(c.family for c in cases)
    assert min(per_family.values()) >= MIN_PER_FAMILY, per_family
    assert len(per_family) >= 15
    # a family belongs to one task
    assert all(len({c.task for c in cases if c.family == f}) == 1 for f in per_family)


def test_labels_are_the_labels_of_their_task(cases):
    for c in cases:
        assert c.label in load_task(c.task).labels, c.id


def test_counter_speech_negation_and_reporting_are_clean(cases):
    assert {c.label for c in cases if c.family in CLEAN_FAMILIES} == {"clean"}


def test_ids_and_texts_are_unique_after_normalisation(cases):
    assert len({c.id for c in cases}) == len(cases)
    keys = Counter(_key(c.text) for c in cases)
    assert [k for k, n in keys.items() if n > 1] == []


def test_no_text_comes_from_a_reference_corpus(cases):
    corpora = require_corpora(*(name for name, _ in REFERENCE_TEXTS))
    ours = {_key(c.text): c.id for c in cases}
    copied = []
    for name, column in REFERENCE_TEXTS:
        with open(corpora / name, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                key = _key(row[column])
                if key in ours:
                    copied.append((ours[key], name))
    assert copied == []


def test_the_task_filter_keeps_file_order(cases):
    hostile = load_functional(task="hostile")
    assert hostile == [c for c in cases if c.task == "hostile"]
    assert all(isinstance(c, FunctionalCase) for c in hostile)


GOOD = {
    "id": "x-001",
    "family": "negation",
    "task": "hostile",
    "text": "Không sao",
    "label": "clean",
}


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("{not json", "invalid JSON"),
        (json.dumps(["a", "list"]), "a JSON list"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "label"}), "missing ['label']"),
        (json.dumps({**GOOD, "source": "x"}), "unknown keys ['source']"),
        (json.dumps({**GOOD, "text": 3}), "['text'] not a non-empty string"),
        (json.dumps({**GOOD, "text": "  "}), "['text'] not a non-empty string"),
        (json.dumps({**GOOD, "family": "Counter Speech"}), "'Counter Speech'"),
        (json.dumps({**GOOD, "task": "spam"}), "'spam'"),
        (json.dumps({**GOOD, "label": "unreliable"}), "'unreliable'"),
        (json.dumps(GOOD, ensure_ascii=False), "'x-001' again (first on line 1)"),
    ],
)
def test_a_malformed_line_is_refused_with_its_file_and_line(tmp_path, line, found):
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_functional(path)
    message = str(caught.value)
    assert f"{path} line 3" in message
    assert found in message
    assert "Fix that line" in message


def test_a_missing_file_is_refused_and_blank_lines_are_skipped(tmp_path):
    with pytest.raises(InputError, match="no file"):
        load_functional(tmp_path / "absent.jsonl")
    path = tmp_path / "set.jsonl"
    path.write_text("\n" + json.dumps(GOOD) + "\n  \n", encoding="utf-8")
    assert load_functional(path) == [FunctionalCase(**GOOD)]


@pytest.fixture(scope="module")
def models():
    return {t: load_model(current_model_dir(BUNDLED_MODELS, t)) for t in ("hostile", "false")}


@pytest.mark.parametrize("task", ["hostile", "false"])
def test_the_bundled_models_are_scored_per_family_with_counts_that_add_up(cases, models, task):
    result = evaluate_functional(models[task], cases, task)
    mine = [c for c in cases if c.task == task]
    families = result["families"]
    assert list(families) == list(dict.fromkeys(c.family for c in mine))
    assert result["n"] == len(mine) == sum(f["n"] for f in families.values())
    assert result["correct"] == sum(f["correct"] for f in families.values()) <= result["n"]
    assert result["flagged_correct"] == sum(f["flagged_correct"] for f in families.values())
    assert result["accuracy"] == round(result["correct"] / result["n"], 4)
    for name, f in families.items():
        assert sum(f["gold"].values()) == f["n"] == Counter(c.family for c in mine)[name]
        assert f["accuracy"] == round(f["correct"] / f["n"], 4)
    failures = result["failures"]
    assert sum("label" in f["wrong"] for f in failures) == result["n"] - result["correct"]
    assert sum("flag" in f["wrong"] for f in failures) == result["n"] - result["flagged_correct"]
    by_id = {c.id: c for c in mine}
    for f in failures:
        case = by_id[f["id"]]
        assert (f["text"], f["gold"], f["family"]) == (case.text, case.label, case.family)
        assert f["predicted"] in models[task].classes_ and 0 <= f["risk"] <= 1
    json.dumps(result)  # fit for metrics.json


def test_a_classifier_gives_the_same_result_as_its_scorer(cases, models):
    classifier = Classifier(models, {t: f"{t}/bundled" for t in models})
    assert evaluate_functional(classifier, cases, "false") == evaluate_functional(
        models["false"], cases, "false"
    )


def test_a_model_of_another_task_or_no_cases_is_refused(cases, models):
    with pytest.raises(InputError, match="a model of task 'false'"):
        evaluate_functional(models["hostile"], cases, "false")
    with pytest.raises(InputError, match="a model for task 'hostile'"):
        evaluate_functional(Classifier({"false": models["false"]}, {}), cases, "hostile")
    with pytest.raises(InputError, match="cases of task 'hostile'"):
        evaluate_functional(models["hostile"], load_functional(task="false"), "hostile")


def test_the_model_card_shows_the_per_family_table_when_metrics_have_one(cases, models):
    result = evaluate_functional(models["hostile"], cases, "hostile")
    table = functional_table(result).splitlines()
    assert table[0].startswith("| family | gold | n | accuracy")
    assert len(table) == 2 + len(result["families"]) + 1
    assert table[-1].startswith(f"| all |  | {result['n']} |")
    # each accuracy with Wilson's interval, which holds it and is wide for a small family
    for name, f in [*result["families"].items(), ("all", result)]:
        row = next(line for line in table if line.startswith(f"| {name} |"))
        low, high = (float(x) for x in re.search(r"\[([\d.]+), ([\d.]+)\]", row).groups())
        assert low <= f["accuracy"] <= high
        if f["n"] <= 12:
            assert high - low > 0.25
    section = _functional_section({"functional": {**result, "source": "set.jsonl"}})
    assert "### Functional test set" in section and "`set.jsonl`" in section
    assert _functional_section({}) == ""


def test_the_default_set_is_the_file_in_corpora():
    assert FUNCTIONAL_SET.relative_to(FUNCTIONAL_SET.parents[2]).as_posix() == (
        "corpora/functional/vi_functional.jsonl"
    )
