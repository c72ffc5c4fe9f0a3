"""The generated ``README.md`` model card: data, licence terms, metrics, intended use, limits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the card is written at training time, from the corpus it saw
    from ..training.corpus_files import Corpus

CORPUS_CARDS = Path(__file__).resolve().parents[2] / "corpora"

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

TRANSFORMER_LIMITATIONS = """\
- Trained on one public corpus from one period and a few platforms; slang, topics and
  spelling drift, so recall on new narratives is lower than the test figures suggest.
- A fine-tuned encoder reads words in context, but quoting, irony and counter-speech that
  repeats an insult in order to reject it can still score high. Its explanations come from
  leaving one word out at a time: they show what the score depends on, not why.
- Posts are cut at the model's maximum length in tokens; words beyond it do not count.
- Check the slice table before relying on it for text without diacritics or for posts much
  shorter or longer than the training data's.
- Labels reflect the corpus annotators' judgement and its known defects (see the corpus card).
- Probabilities are calibrated on the dev set that also chose the checkpoint; on data from
  another source they may be over- or under-confident.
- It inherits the base model's pre-training data, its biases and its licence terms."""


NEURAL_LIMITATIONS = """\
- Trained on one public corpus from one period and a few platforms; slang, topics and
  spelling drift, so recall on new narratives is lower than the test figures suggest.
- A small network trained from scratch on that corpus alone: it sees words, their pieces and
  their neighbours (up to three words), not meaning. Quoting, irony, negation and
  counter-speech that repeats an insult in order to reject it can score high; its
  explanations show what the score depends on, not why.
- Posts are cut at the model's maximum number of words; words beyond it do not count.
- Check the slice table before relying on it for text without diacritics or for posts much
  shorter or longer than the training data's.
- Labels reflect the corpus annotators' judgement and its known defects (see the corpus card).
- Probabilities are calibrated on the dev set that also chose the epoch; on data from
  another source they may be over- or under-confident."""


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
            _fmt(m["macro_f1"]) + _interval(m, "macro_f1"),
            *[_fmt(m["per_class_f1"][lab]) for lab in labels],
            _fmt(m["roc_auc_risk"]) + _interval(m, "roc_auc_risk"),
            _fmt(m["ece"]),
            _fmt(m["risk_ece"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _interval(m: dict, key: str) -> str:
    bounds = (m.get("intervals") or {}).get(key)
    return f" [{_fmt(bounds[0])}, {_fmt(bounds[1])}]" if bounds else ""


def _slice_table(metrics: dict) -> str:
    lines = ["| test set | slice | n | macro-F1 | ROC-AUC (risk) |", "|---|---|---|---|---|"]
    for name, m in metrics["test_sets"].items():
        for slice_name, s in m["slices"].items():
            lines.append(
                f"| {name} | {slice_name} | {s['n']} | {_fmt(s['macro_f1'])} "
                f"| {_fmt(s['roc_auc_risk'])} |"
            )
    return "\n".join(lines)


def functional_table(result: dict) -> str:
    """Per-family accuracy on the functional test set (``evaluate_functional``'s result) as
    a Markdown table, families in the set's order and the whole set last."""
    from ..training.intervals import wilson_interval

    lines = [
        "| family | gold | n | accuracy [95% interval] | flagged accuracy |",
        "|---|---|---|---|---|",
    ]
    for name, f in [*result["families"].items(), ("all", result)]:
        gold = ", ".join(f"{k} {v}" for k, v in f["gold"].items()) if "gold" in f else ""
        low, high = wilson_interval(f["correct"], f["n"]) or (None, None)
        lines.append(
            f"| {name} | {gold} | {f['n']} | {_fmt(f['accuracy'])} [{_fmt(low)}, {_fmt(high)}] "
            f"| {_fmt(f['flagged_accuracy'])} |"
        )
    return "\n".join(lines)


def _functional_section(metrics: dict) -> str:
    result = metrics.get("functional")
    if not result:
        return ""
    return f"""
### Functional test set
Hand-written hard cases (`{result.get("source", "corpora/functional/vi_functional.jsonl")}`),
by family. Accuracy: the decided label is the gold one, with Wilson's 95% interval (a family
of 10 cases cannot pin it closer than about ±0.25); flagged accuracy: risk >= 0.5 exactly
when the gold label is risky.

{functional_table(result)}
"""


def _dev_sentence(dev: dict | None) -> str:
    if not dev:
        return ""
    counts = ", ".join(f"{k}: {v:,}" for k, v in dev["label_counts"].items())
    return (
        f"\nDev set ({dev['used_for']}):\n{dev['source']}, {dev['n']:,} texts ({counts})."
    )


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


def _spans_section(spans: dict | None) -> str:
    if not spans:
        return ""
    return f"""
### ViHOS spans as extra examples
From `{spans["source"]}`: {spans["examples added"]:,} examples (the marked words of a training
comment, with its label) from {spans["comments with spans"]:,} marked comments;
{spans.get("in the test split (left out)", 0):,} left out because the comment is in the
fixed test split.
"""


def _linear_family(config: dict) -> str:
    hp = config["hyperparameters"]
    return f"""\
- Family `{config["family"]}`: text normalised by {config["normaliser"]["name"]}
  v{config["normaliser"]["version"]}, segmented by {config["segmenter"]["name"]}
  {config["segmenter"]["version"]}; TF-IDF of word {_ngrams(hp["features"]["word_ngrams"])}-grams
  and character {_ngrams(hp["features"]["char_ngrams"])}-grams within words; logistic
  regression (C={hp["C"]}, class weights {hp["class_weight"]}).{_content_lines(hp)}
- Calibration: temperature ({config["calibration"]["temperature"]:.4f}) and a bias per label,
  fitted on {hp["cv_folds"]}-fold held-out logits. Labels: calibrated probabilities times
  per-label weights chosen for macro-F1 on the same folds.
- No pickle: `config.json`, `vocabulary.json` and `weights.safetensors`."""


def _content_lines(hp: dict) -> str:
    if not hp.get("content_features"):
        return ""
    return """
- Content features besides the words (never the author): likes, comments and shares in
  log-scale bins, comments and shares per like, the posting hour (UTC+7), links and their
  domains; a missing value is its own `unknown` bin. Each training post is learnt twice, with
  its metadata and with none (half weight each), so a text-only input is scored honestly:
  see the `-without-metadata` row below."""


def _transformer_family(config: dict) -> str:
    hp = config["hyperparameters"]
    base = config["base_model"]
    log = config.get("training_log") or {}
    fed = (
        "word-segmented text\n  (syllables of a word joined by `_`, PhoBERT style)"
        if hp["segmented_input"]
        else "the normalised text as it is (not segmented)"
    )
    steps = f"max {hp['max_steps']} steps" if hp["max_steps"] else f"{hp['epochs']} epochs"
    best = ""
    if log.get("best_step") is not None:
        best = (
            f";\n  the best checkpoint, step {log['best_step']} of {log['global_step']}, "
            f"had dev macro-F1 {_fmt(log.get('best_dev_macro_f1'))}"
        )
    return f"""\
- Family `{config["family"]}`: the encoder `{base["name"]}` ({base.get("model_type")})
  fine-tuned for sequence classification. Text normalised by
  {config["normaliser"]["name"]} v{config["normaliser"]["version"]}, segmented by
  {config["segmenter"]["name"]} {config["segmenter"]["version"]}; the encoder reads
  {fed}, at most {hp["max_length"]} tokens.
- Training: Hugging Face Trainer, {steps}, batch {hp["batch_size"]},
  learning rate {hp["learning_rate"]}, weight decay {hp["weight_decay"]},
  warm-up {hp["warmup_ratio"]} of the steps, cross-entropy with class weights
  {hp["class_weight"]}, seed {hp["seed"]}; early stopping on dev macro-F1
  (patience {hp["early_stopping_patience"]}){best}.
- Calibration: temperature ({config["calibration"]["temperature"]:.4f}) and a bias per label,
  fitted on the dev logits of the best checkpoint ({config["calibration"]["n_dev"]:,}
  texts). Labels: calibrated probabilities times per-label weights chosen for macro-F1 on
  the same logits. Explanations: leave-one-word-out occlusion.
- No pickle: `config.json` and `encoder/` (`model.safetensors`, the encoder's config and
  tokenizer files)."""


def _neural_family(config: dict) -> str:
    hp = config["hyperparameters"]
    log = config.get("training_log") or {}
    ran = len(log.get("epochs", []))
    decay = "rates falling linearly to zero" if hp["lr_decay"] else "constant rates"
    return f"""\
- Family `{config["family"]}`: trained from scratch, no pre-trained weights. Text normalised
  by {config["normaliser"]["name"]} v{config["normaliser"]["version"]}, segmented by
  {config["segmenter"]["name"]} {config["segmenter"]["version"]}; each word is the mean of
  hashed embeddings ({hp["buckets"]:,} buckets × {hp["dim"]}, int8 with a scale per row) of
  the word, its syllables, its character {_ngrams(hp["char_ngrams"])}-grams and (folded:
  {hp["folded"]}) its form without diacritics; convolutions of widths {hp["widths"]}
  ({hp["channels"]} filters each) max-pooled over the post, dropout {hp["dropout"]}, a linear
  head; at most {hp["max_words"]} words per post.
- Training: {ran} of at most {hp["epochs"]} epochs (best: {log.get("best_epoch")}, dev
  macro-F1 {_fmt(log.get("best_dev_macro_f1"))}), batch {hp["batch_size"]}, AdamW (learning
  rate {hp["learning_rate"]}, weight decay {hp["weight_decay"]}) and sparse Adam on the
  embeddings ({hp["embedding_learning_rate"]}), {decay}, word dropout
  {hp["word_dropout"]}, class weights {hp["class_weight"]}, seed {hp["seed"]}; early
  stopping on dev macro-F1 (patience {hp["patience"]}).
- Calibration: temperature ({config["calibration"]["temperature"]:.4f}) and a bias per label,
  fitted on the dev logits of the saved model ({config["calibration"]["n_dev"]:,} texts).
  Labels: calibrated probabilities times per-label weights chosen for macro-F1 on the same
  logits. Explanations: gradient × input per word (exact for this piecewise-linear network).
- No pickle: `config.json` and `weights.safetensors`."""


def _ensemble_family(config: dict) -> str:
    mixed = ", ".join(
        f"`{name}` × {weight:.2f}" for name, weight in config["mixing_weights"].items()
    )
    return f"""\
- Family `{config["family"]}`: member models of other families, each in `members/<i>-<family>/`
  with its own `config.json` and weights: {mixed}. The post's score mixes the members'
  log-probabilities with those weights (summing to 1, fitted on the dev set for the lowest
  calibrated log-loss).
- Calibration: temperature ({config["calibration"]["temperature"]:.4f}) and a bias per label on
  the mixed dev scores; labels: calibrated probabilities times per-label weights chosen for
  macro-F1 on the same set. Explanations: the members' words merged by place, each scaled by
  its member's weight.
- No pickle: `config.json`, `members.json` and each member's own files."""


def _base_model_terms(config: dict) -> str:
    if config["family"] != "transformer":
        return ""
    base = config["base_model"]
    return f"""
The base model `{base["name"]}` comes with its own terms:
**{base["licence"]}**.
The fine-tuned model is a derivative of it, so those terms apply as well.
"""


def render_model_card(config: dict, metrics: dict, corpus: Corpus) -> str:
    task = config["task"]
    data = config["training_data"]
    if config["family"] == "transformer":
        family, limitations = _transformer_family(config), TRANSFORMER_LIMITATIONS
    elif config["family"] == "neural":
        family, limitations = _neural_family(config), NEURAL_LIMITATIONS
    elif config["family"] == "ensemble":
        family, limitations = _ensemble_family(config), NEURAL_LIMITATIONS
    else:
        family, limitations = _linear_family(config), LIMITATIONS
    dev = _dev_sentence(data.get("dev"))
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
{family}

## Training data
Corpus `{data["corpus"]}` read from `{data["source"]}`, splits {", ".join(data["splits_used"])}:
{data["n_train"]:,} labelled texts ({counts}).{dev} What the reader reported:

{problems}
{_reviews_section(data.get("reviews"))}{_spans_section(data.get("span_supervision"))}
### Source
{source}

## Licence terms
{terms}

The model inherits these terms: use it for research and content triage, not commercially
unless the data's terms allow it.
{_base_model_terms(config)}
## Metrics
On the corpus's fixed test split, and on that split minus texts also seen in training.

{_metrics_table(metrics, list(task["labels"]))}

ECE: expected calibration error of the top label (15 bins); risk ECE: of the risk score.
In brackets: the 95% bootstrap interval (1,000 resamples of the test texts), the range another
test set of this size could give.

### Slices
{_slice_table(metrics)}
{_functional_section(metrics)}
## Intended use
{INTENDED_USE}

## Limitations
{limitations}

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
