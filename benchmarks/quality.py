"""Quality benchmark: train every candidate on the fixed splits and compare them in one table.

For each task and candidate (a model family with its settings), the candidate is trained as
``train.py`` would (``pipeline.training.train.train_model``, into a scratch models root, never
promoted) on the reference corpus's train (and dev) splits, and the printed figures come from
the model as saved:

- ``macro-F1`` and per-class F1 of the decided labels, ``AUC`` (ROC-AUC of risk: the risky
  labels against the rest) and ``ECE`` (top-label calibration error), on the fixed test split
  (``metrics.json``, as the model card shows them), macro-F1 and AUC with their 95% bootstrap
  intervals; ``unseen F1``: macro-F1 on the test split minus every text also in training;
- ``train s``: wall seconds of the whole training run (preparing the texts included);
- ``posts/s``: raw test posts scored with explanations in one process (normalise, segment,
  ``predict_and_explain``), as ``classify.py`` does per worker;
- ``MB``: the model directory's size.

Then each candidate against the task's first one on the same test posts: the paired
differences of macro-F1 and AUC with their 95% bootstrap intervals
(:mod:`pipeline.training.intervals`). A difference whose interval holds 0 is one this test
set cannot tell from chance.

Then the team's hand-written functional set (``corpora/functional``, HateCheck-style: insults,
group hate, counter-speech quoting an insult, negation, reported speech, no diacritics,
teencode, obfuscation; hoaxes, rumours, official news), per family, with Wilson's 95%
interval of the whole set's accuracy, and the cross-domain
figure: ROC-AUC of risk on those cases, which no corpus holds, for the model trained on
ViHSD (ReINTEL). ViHOS cannot serve as the cross-domain set: every ViHOS comment is a
ViHSD comment (all 11,056 share a ``same_post_key`` with one of ViHSD's splits).

    python benchmarks/quality.py                          # every candidate of both tasks
    python benchmarks/quality.py --tasks hostile --candidates linear neural
    python benchmarks/quality.py --keep models-out/       # keep the trained directories

Needs the reference corpora at ../shared/corpora; the neural and ensemble candidates need
the ``transformer`` extra (torch).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.model.directory import load_model  # noqa: E402
from pipeline.model.families import FAMILY_NAMES  # noqa: E402
from pipeline.text.prepare import prepare  # noqa: E402
from pipeline.training.corpora import load_corpus  # noqa: E402
from pipeline.training.functional import load_functional  # noqa: E402
from pipeline.training.intervals import difference_intervals, wilson_interval  # noqa: E402
from pipeline.training.metrics import predict_with_meta  # noqa: E402
from pipeline.training.train import labelled_split, train_model  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"
CORPUS = {"hostile": CORPORA / "vihsd", "false": CORPORA / "reintel"}
SPEED_POSTS = 3000  # raw test posts timed per candidate
# Families whose posts must not be flagged (issue 15: >= 90%).
MUST_NOT_FLAG = ("counter_speech_quoting", "reported_speech", "negation", "debunk_news")


# What --json writes of a row (not the model, nor the per-post predictions).
JSON_KEYS = ("task", "candidate", "functional", "cross_domain_auc", "intervals", "macro_f1",
             "per_class_f1", "roc_auc", "ece", "unseen_f1", "train_s", "posts_s", "mb")


@dataclass(frozen=True)
class Candidate:
    name: str
    family: str
    hyperparameters: dict = field(default_factory=dict)
    corpus_options: dict = field(default_factory=dict)


UNMARKED = {"diacritic_free_copies": True}
CANDIDATES = {
    "hostile": [
        Candidate("linear", "linear"),
        Candidate("linear+unmarked", "linear", UNMARKED),
        Candidate("neural", "neural"),
        Candidate("ensemble", "ensemble"),
        Candidate(
            "ensemble+unmarked",
            "ensemble",
            {"members": [{"family": "linear", "hyperparameters": UNMARKED}, {"family": "neural"}]},
        ),
    ],
    "false": [
        Candidate("linear", "linear"),
        Candidate("linear+content", "linear", {"content_features": True}),
        Candidate(
            "linear+content+unmarked",
            "linear",
            {"content_features": True, **UNMARKED},
        ),
        Candidate("neural", "neural"),
        Candidate("ensemble", "ensemble"),
    ],
}


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def posts_per_second(model, texts: list[str]) -> float:
    started = time.perf_counter()
    model.predict_and_explain(prepare(texts))
    return len(texts) / (time.perf_counter() - started)


def run_candidate(task: str, candidate: Candidate, root: Path) -> dict:
    started = time.perf_counter()
    result = train_model(
        task,
        CORPUS[task],
        models_root=root,
        name=candidate.name.replace("+", "-"),
        promote=False,
        hyperparameters=candidate.hyperparameters or None,
        corpus_options=candidate.corpus_options or None,
        family=candidate.family,
        command=f"benchmarks/quality.py --tasks {task} --candidates {candidate.name}",
    )
    seconds = time.perf_counter() - started
    sets = result.metrics["test_sets"]
    full = next(v for k, v in sets.items() if k.endswith("/test"))
    unseen = next(v for k, v in sets.items() if k.endswith("-minus-train"))
    model = load_model(result.model_dir)
    corpus = load_corpus(CORPUS[task], task=task)
    test_texts, test_labels, test_meta = labelled_split(corpus, "test")
    proba = predict_with_meta(model, prepared_test(task, test_texts), test_meta)
    texts = [t for t in test_texts if t][:SPEED_POSTS]
    functional = result.metrics.get("functional") or {}
    return {
        "task": task,
        "candidate": candidate.name,
        "functional": functional,
        "cross_domain_auc": cross_domain_auc(model, task),
        "model_dir": result.model_dir,
        "model": model,
        "test_labels": test_labels,
        "test_decided": model.labels_from_proba(proba),
        "test_risk": model.risk_from_proba(proba),
        "classes": list(model.classes_),
        "risk_labels": list(model.task.risk_labels),
        "intervals": full["intervals"],
        "macro_f1": full["macro_f1"],
        "per_class_f1": full["per_class_f1"],
        "roc_auc": full["roc_auc_risk"],
        "ece": full["ece"],
        "unseen_f1": unseen["macro_f1"],
        "train_s": seconds,
        "posts_s": posts_per_second(model, texts),
        "mb": dir_mb(result.model_dir),
    }


_PREPARED: dict[str, list] = {}


def prepared_test(task: str, texts: list[str]) -> list:
    """The task's test texts normalised and segmented once for every candidate."""
    if task not in _PREPARED:
        _PREPARED[task] = prepare(texts, workers=2)
    return _PREPARED[task]


def cross_domain_auc(model, task: str) -> float | None:
    """ROC-AUC of risk on the functional set's cases of ``task`` (hand-written, in no corpus):
    how well the model ranks risky posts above the rest off its training domain."""
    from sklearn.metrics import roc_auc_score

    cases = [c for c in load_functional() if c.task == task]
    if not cases:
        return None
    risk = model.risk_from_proba(model.predict_proba([c.text for c in cases]))
    gold = [c.label in model.task.risk_labels for c in cases]
    return float(roc_auc_score(gold, risk))


def print_functional(rows: list[dict]) -> None:
    """Per-family accuracy on the functional set, a column per candidate."""
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task and r["functional"]]
        if not mine:
            continue
        families = list(mine[0]["functional"]["families"])
        print(f"\nFunctional set, {task} (accuracy of the decided label; n per family):")
        print("| family | n | " + " | ".join(r["candidate"] for r in mine) + " |")
        print("|---|---|" + "---|" * len(mine))
        for fam in families:
            n = mine[0]["functional"]["families"][fam]["n"]
            cells = [f"{r['functional']['families'][fam]['accuracy']:.2f}" for r in mine]
            print(f"| {fam} | {n} | " + " | ".join(cells) + " |")
        overall = [f"{r['functional']['accuracy']:.3f}" for r in mine]
        print(f"| **all** | {mine[0]['functional']['n']} | " + " | ".join(overall) + " |")
        wilson = [
            bounds(wilson_interval(r["functional"]["correct"], r["functional"]["n"]))
            for r in mine
        ]
        print("| all: 95% interval (Wilson) | | " + " | ".join(wilson) + " |")
        auc = [f"{r['cross_domain_auc']:.3f}" for r in mine]
        print("| ROC-AUC of risk (cross-domain) | | " + " | ".join(auc) + " |")


def bounds(interval: list[float] | None, signed: bool = False) -> str:
    if not interval:
        return ""
    shown = "{:+.4f}" if signed else "{:.4f}"
    return f"{shown.format(interval[0])} to {shown.format(interval[1])}"


def print_paired(rows: list[dict]) -> None:
    """Each candidate minus the task's first one, scored on the same test posts."""
    for task in dict.fromkeys(r["task"] for r in rows):
        first, *others = [r for r in rows if r["task"] == task]
        if not others:
            continue
        print(f"\nPaired against {task}/{first['candidate']} on the same test posts "
              "(difference, 95% bootstrap interval):")
        print("| candidate | macro-F1 | 95% interval | AUC | 95% interval |")
        print("|---|---|---|---|---|")
        for r in others:
            d = difference_intervals(
                r["test_labels"],
                (r["test_decided"], r["test_risk"]),
                (first["test_decided"], first["test_risk"]),
                r["classes"],
                r["risk_labels"],
            )
            f1, auc = r["macro_f1"] - first["macro_f1"], r["roc_auc"] - first["roc_auc"]
            print(f"| {r['candidate']} | {f1:+.4f} | {bounds(d['macro_f1'], signed=True)} | "
                  f"{auc:+.4f} | {bounds(d['roc_auc_risk'], signed=True)} |")


def print_table(rows: list[dict]) -> None:
    labels = sorted({lab for r in rows for lab in r["per_class_f1"]})
    head = ["task", "candidate", "macro-F1", "95% interval", *[f"F1 {lab}" for lab in labels],
            "AUC", "95% interval", "ECE", "unseen F1", "train s", "posts/s", "MB"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["task"], r["candidate"], f"{r['macro_f1']:.4f}",
                 bounds(r["intervals"]["macro_f1"])]
        cells += [
            f"{r['per_class_f1'][lab]:.4f}" if lab in r["per_class_f1"] else "" for lab in labels
        ]
        cells += [f"{r['roc_auc']:.4f}", bounds(r["intervals"]["roc_auc_risk"]), f"{r['ece']:.4f}",
                  f"{r['unseen_f1']:.4f}", f"{r['train_s']:.0f}", f"{r['posts_s']:,.0f}",
                  f"{r['mb']:.1f}"]
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    ap.add_argument("--candidates", nargs="+", help="names from CANDIDATES (default: all)")
    ap.add_argument("--keep", type=Path, help="models root to keep the trained directories in")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="kiemtin-quality-"))
    rows = []
    for task in args.tasks:
        for candidate in CANDIDATES[task]:
            if args.candidates and candidate.name not in args.candidates:
                continue
            if candidate.family not in FAMILY_NAMES:
                print(f"skip {task}/{candidate.name}: no {candidate.family!r} family here",
                      file=sys.stderr)
                continue
            print(f"training {task}/{candidate.name} ...", file=sys.stderr, flush=True)
            row = run_candidate(task, candidate, root)
            rows.append(row)
            print(  # as it goes: a long run's finished rows are not lost
                f"  {task}/{candidate.name}: macro-F1 {row['macro_f1']:.4f}, AUC "
                f"{row['roc_auc']:.4f}, ECE {row['ece']:.4f}, functional "
                f"{row['functional'].get('accuracy')}, {row['train_s']:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    print_table(rows)
    print_paired(rows)
    print_functional(rows)
    if args.json:
        plain = [{k: v for k, v in r.items() if k in JSON_KEYS} for r in rows]
        args.json.write_text(json.dumps(plain, indent=2, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
