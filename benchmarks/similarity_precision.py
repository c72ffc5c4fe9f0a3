"""Near-duplicate and suggestion quality on the paraphrase pair set, and most_similar speed.

Reads tests/data/paraphrase_pairs.jsonl (hand-written pairs: ``same`` true for the same
claim, false for another claim) and prints:

- for thresholds 0.10 to 0.60, precision and recall of "similarity >= threshold" for the
  MinHash estimate (``jaccard``) and the exact shingle Jaccard (``shingle_jaccard``);
- the grouping decision of the review queue (a shared LSH band key AND estimate >=
  NEAR_DUPLICATE) and the suggestion decision (estimate >= SUGGEST_MIN): precision, recall,
  and per kind the share of pairs accepted (recall for same-claim kinds, the false-positive
  rate for the others), with the pairs each decision gets wrong;
- how often ``most_similar`` ranks a reworded post's partner in the top 5 among all the
  set's other texts;
- the time of ``most_similar`` over 10,000 candidate signatures of ViHSD comments (read by
  path from ../shared/corpora/vihsd/train.csv), and how many of the set's texts those
  unrelated comments would be suggested for.

    python benchmarks/similarity_precision.py                    # everything
    python benchmarks/similarity_precision.py --candidates 50000 --repeat 50
    python benchmarks/similarity_precision.py --no-timing        # without the corpora
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import numpy as np

from pipeline.text.similarity import (
    NEAR_DUPLICATE,
    SUGGEST_MIN,
    band_keys,
    jaccard,
    most_similar,
    shingle_jaccard,
    signature,
)

REPO = Path(__file__).resolve().parents[1]
PAIRS = REPO / "tests" / "data" / "paraphrase_pairs.jsonl"
CORPORA = REPO.parent / "shared" / "corpora"
KINDS = ("spelling", "reworded", "shared", "same_topic", "unrelated")


def load_pairs(path: Path = PAIRS) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        pairs = [json.loads(line) for line in f if line.strip()]
    for p in pairs:
        sa, sb = signature(p["a"]), signature(p["b"])
        p["estimate"] = jaccard(sa, sb)
        p["exact"] = shingle_jaccard(p["a"], p["b"])
        p["grouped"] = bool(set(band_keys(sa)) & set(band_keys(sb))) and (
            p["estimate"] >= NEAR_DUPLICATE
        )
        p["suggested"] = p["estimate"] >= SUGGEST_MIN
    return pairs


def precision_recall(pairs: list[dict], accepted) -> tuple[float, float, int, int]:
    """Precision, recall, true and false positives of a decision over the pairs."""
    tp = sum(1 for p in pairs if p["same"] and accepted(p))
    fp = sum(1 for p in pairs if not p["same"] and accepted(p))
    positives = sum(1 for p in pairs if p["same"])
    precision = tp / (tp + fp) if tp + fp else float("nan")
    return precision, tp / positives, tp, fp


def sweep(pairs: list[dict]) -> None:
    head = f"{'P':>10} {'R':>5} {'FP':>3}"
    print(f"{'':9}  {'estimate':^20}  {'exact':^20}\n{'threshold':>9}  {head}  {head}")
    for step in range(10, 61, 5):
        t = step / 100
        row = [f"{t:9.2f}"]
        for measure in ("estimate", "exact"):
            p, r, _tp, fp = precision_recall(pairs, lambda x, m=measure, t=t: x[m] >= t)
            row.append(f"{p:10.3f} {r:5.3f} {fp:3d}")
        print("  ".join(row))


def decision(pairs: list[dict], name: str, field: str) -> None:
    p, r, tp, fp = precision_recall(pairs, lambda x: x[field])
    print(f"\n{name}: precision {p:.3f} ({tp} of {tp + fp}), recall {r:.3f}")
    for kind in KINDS:
        of_kind = [x for x in pairs if x["kind"] == kind]
        accepted = sum(x[field] for x in of_kind)
        what = "recall" if of_kind and of_kind[0]["same"] else "false-positive rate"
        print(f"  {kind:<11} {accepted:>2}/{len(of_kind):<2} {what} {accepted / len(of_kind):.2f}")
    for x in pairs:
        if x[field] != x["same"]:
            wrong = "joined" if x[field] else "missed"
            print(f"  {wrong} {x['kind']:<10} est {x['estimate']:.2f} exact {x['exact']:.2f}: "
                  f"{x['a'][:50]!r} / {x['b'][:50]!r}")


def ranking(pairs: list[dict]) -> None:
    texts = sorted({t for p in pairs for t in (p["a"], p["b"])})
    sigs = {t: signature(t) for t in texts}
    reworded = [p for p in pairs if p["kind"] == "reworded"]
    print(f"\nmost_similar over the set's {len(texts)} distinct texts, reworded pairs "
          f"({len(reworded)}, both directions): partner in the top 5")
    for minimum in (0.0, SUGGEST_MIN):
        found = 0
        for p in reworded:
            for query, partner in ((p["a"], p["b"]), (p["b"], p["a"])):
                others = [(t, sigs[t]) for t in texts if t != query]
                top = most_similar(sigs[query], others, k=5, minimum=minimum)
                found += partner in [key for key, _ in top]
        print(f"  minimum {minimum:.2f}: {found}/{2 * len(reworded)} = "
              f"{found / (2 * len(reworded)):.2f}")


def timing(pairs: list[dict], n: int, repeat: int) -> None:
    path = CORPORA / "vihsd" / "train.csv"
    with open(path, encoding="utf-8", newline="") as f:
        texts = [r["free_text"] for r in csv.DictReader(f) if r["free_text"].strip()]
    rng = np.random.default_rng(0)
    picked = [texts[i] for i in rng.choice(len(texts), size=n, replace=len(texts) < n)]
    start = time.perf_counter()
    candidates = [(i, signature(t)) for i, t in enumerate(picked)]
    per_signature = (time.perf_counter() - start) / n
    queries = [signature(t) for p in pairs for t in (p["a"], p["b"])]
    times = []
    for r in range(repeat):
        start = time.perf_counter()
        most_similar(queries[r % len(queries)], candidates)
        times.append(time.perf_counter() - start)
    median = statistics.median(times) * 1e3
    print(f"\nmost_similar over {n:,} ViHSD signatures: median {median:.1f} ms, "
          f"max {max(times) * 1e3:.1f} ms ({repeat} queries); signature() "
          f"{per_signature * 1e6:.0f} us per comment")
    hit = sum(1 for q in queries if most_similar(q, candidates, k=1))
    print(f"set texts with a ViHSD comment at >= SUGGEST_MIN ({SUGGEST_MIN}): "
          f"{hit}/{len(queries)} (unrelated comments, so false suggestions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=10_000,
                        help="ViHSD signatures to time most_similar over (default 10,000)")
    parser.add_argument("--repeat", type=int, default=20, help="timed queries (default 20)")
    parser.add_argument("--no-timing", action="store_true", help="skip the ViHSD timing")
    args = parser.parse_args()

    pairs = load_pairs()
    same = sum(p["same"] for p in pairs)
    print(f"{len(pairs)} pairs ({same} same claim, {len(pairs) - same} different) from "
          f"{PAIRS.relative_to(REPO)}\n")
    sweep(pairs)
    decision(pairs, f"grouping (band key and estimate >= NEAR_DUPLICATE {NEAR_DUPLICATE})",
             "grouped")
    decision(pairs, f"suggestion (estimate >= SUGGEST_MIN {SUGGEST_MIN})", "suggested")
    ranking(pairs)
    if not args.no_timing:
        timing(pairs, args.candidates, args.repeat)


if __name__ == "__main__":
    main()
