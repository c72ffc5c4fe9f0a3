"""The generated ``README.md`` model card: data, licence terms, metrics, intended use, limits."""

from __future__ import annotations

import re
from pathlib import Path

from .corpora import Corpus

CORPUS_CARDS = Path(__file__).resolve().parents[1] / "corpora"

INTENDED_USE = """\
Triage of public Vietnamese social-media posts for human review: the score orders a review
queue and the highlighted words show a reviewer why. It scores content, never people: do not
use it to profile, rank or track authors, and do not act on a post on the score alone."""

LIMITATIONS = """\
- Trained on one public corpus from one period and a few platforms; slang, topics and
  spelling drift, so recall on new narratives is lower than the test figures suggest.
- A bag of words and character n-grams: it sees words, not meaning. Quoting, irony, negation
  and counter-speech that repeats an insult in order to reject it can score high; new
  insults and coded words it has not seen score low.
- Check the slice table before relying on it for text without diacritics or for posts much
  shorter or longer than the training data's.
- Labels reflect the corpus annotators' judgement and its known defects (see the corpus card).
- Probabilities are calibrated on held-out folds of the training data; on data from another
  source they may be over- or under-confident."""


def _corpus_section(corpus_name: str, heading: str) -> str | None:
    card = CORPUS_CARDS / f"{corpus_name}.md"
    if not card.is_file():
        return None
    match = re.search(
        rf"^## {re.escape(heading)}\s*\n(.*?)(?=^## |\Z)",
        card.read_text(encoding="utf-8"),
        flags=re.S | re.M,
    )
    return match.group(1).strip() if match else None


def _ngrams(bounds) -> str:
    return f"{bounds[0]}-{bounds[1]}"


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _metrics_table(metrics: dict, labels: list[str]) -> str:
    head = [
        "test set",
        "n",
        "macro-F1",
        *[f"F1 {lab}" for lab in labels],
        "ROC-AUC (risk)",
        "ECE",
        "risk ECE",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in metrics["test_sets"].items():
        cells = [
            name,
            str(m["n"]),
            _fmt(m["macro_f1"]),
            *[_fmt(m["per_class_f1"][lab]) for lab in labels],
            _fmt(m["roc_auc_risk"]),
            _fmt(m["ece"]),
            _fmt(m["risk_ece"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _slice_table(metrics: dict) -> str:
    lines = ["| test set | slice | n | macro-F1 | ROC-AUC (risk) |", "|---|---|---|---|---|"]
    for name, m in metrics["test_sets"].items():
        for slice_name, s in m["slices"].items():
            lines.append(
                f"| {name} | {slice_name} | {s['n']} | {_fmt(s['macro_f1'])} "
                f"| {_fmt(s['roc_auc_risk'])} |"
            )
    return "\n".join(lines)


def _reviews_section(reviews: dict | None) -> str:
    if not reviews:
        return ""
    left_out = ", ".join(f"`{x}`" for x in reviews["left_out_examples"]) or "none"
    return f"""
### Reviewed labels merged
From `{reviews["source"]}`: {reviews["read"]:,} reviewed texts of this task.
{reviews["added"]:,} added as new training texts, {reviews["overridden"]:,} corpus labels
changed by review and {reviews["confirmed"]:,} confirmed; {reviews["left_out_in_test"]:,}
left out because the text is in the fixed test split (first ones: {left_out});
{reviews["other_tasks"]:,} reviews of other tasks skipped.
"""


def render_model_card(config: dict, metrics: dict, corpus: Corpus) -> str:
    task = config["task"]
    data = config["training_data"]
    hp = config["hyperparameters"]
    counts = ", ".join(f"{k}: {v:,}" for k, v in data["train_label_counts"].items())
    problems = (
        "\n".join(f"- {k}: {v:,}" for k, v in data["corpus_problems"].items()) or "- none"
    )
    terms = _corpus_section(corpus.name, "Licence terms") or "See the corpus's own terms."
    source = _corpus_section(corpus.name, "Source and citation") or f"`{data['source']}`"
    versions = ", ".join(f"{k} {v}" for k, v in config["library_versions"].items())
    return f"""# {task["name"]}/{config["name"]}-{config["version"]}

{task["description"]}

- Task `{task["name"]}`: labels {", ".join(f"`{x}`" for x in task["labels"])};
  risk = P({" + ".join(task["risk_labels"])}).
- Family `{config["family"]}`: text normalised by {config["normaliser"]["name"]}
  v{config["normaliser"]["version"]}, segmented by {config["segmenter"]["name"]}
  {config["segmenter"]["version"]}; TF-IDF of word {_ngrams(hp["features"]["word_ngrams"])}-grams
  and character {_ngrams(hp["features"]["char_ngrams"])}-grams within words; logistic
  regression (C={hp["C"]}, class weights {hp["class_weight"]}).
- Calibration: temperature ({config["calibration"]["temperature"]:.4f}) and a bias per label,
  fitted on {hp["cv_folds"]}-fold held-out logits. Labels: calibrated probabilities times
  per-label weights chosen for macro-F1 on the same folds.
- No pickle: `config.json`, `vocabulary.json` and `weights.safetensors`.

## Training data
Corpus `{data["corpus"]}` read from `{data["source"]}`, splits {", ".join(data["splits_used"])}:
{data["n_train"]:,} labelled texts ({counts}). What the reader reported:

{problems}
{_reviews_section(data.get("reviews"))}
### Source
{source}

## Licence terms
{terms}

The model inherits these terms: use it for research and content triage, not commercially
unless the data's terms allow it.

## Metrics
On the corpus's fixed test split, and on that split minus texts also seen in training.

{_metrics_table(metrics, list(task["labels"]))}

ECE: expected calibration error of the top label (15 bins); risk ECE: of the risk score.

### Slices
{_slice_table(metrics)}

## Intended use
{INTENDED_USE}

## Limitations
{LIMITATIONS}

## Reproduce
```
{config["reproduce"] or "python train.py --task " + task["name"] + " --corpus " + data["source"]}
```
Built with {versions}.
"""


def write_model_card(model_dir: Path, config: dict, metrics: dict, corpus: Corpus) -> None:
    (Path(model_dir) / "README.md").write_text(
        render_model_card(config, metrics, corpus), encoding="utf-8"
    )
