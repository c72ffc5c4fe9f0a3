"""Near-duplicate and suggestion quality on the paraphrase pair set, and most_similar speed.

Reads tests/data/paraphrase_pairs.jsonl (hand-written pairs: ``same`` true for the same
claim, false for another claim) and prints:

- for thresholds 0.10 to 0.60, precision and recall of "similarity >= threshold" for the
  MinHash estimate (``jaccard``) and the exact shingle Jaccard (``shingle_jaccard``);
- the grouping decision of the review queue (a shared LSH band key AND estimate >=
  NEAR_DUPLICATE) and the suggestion decision (estimate >= SUGGEST_MIN): precision, recall,
  and per kind the share of pairs accepted (recall for same-claim kinds, the false-positive
  rate for the others), with the pairs each decision gets wrong;
- the two thresholds of the review queue (``intake.Thresholds``): for each threshold, the
  precision and recall of joining at it (a shared band key and estimate >= t, as intake joins)
  and of suggesting down to it (joined or suggested: estimate >= t, through the band keys as
  intake finds candidates, and over all pairs as if every pair were a candidate), and the
  precision of what is only suggested at the defaults;
- the recall of candidate generation (a shared LSH band key) at the suggest threshold for the
  current band setup and two others, with the theoretical probability
  ``1 - (1 - J**rows)**bands``, and (with the corpora) how many unrelated ViHSD comments each
  setup makes candidates;
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
import hashlib
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from pipeline.store.intake import Thresholds
from pipeline.text.similarity import (
    BANDS,
    NEAR_DUPLICATE,
    NUM_PERM,
    ROWS,
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
        p["banded"] = bool(set(band_keys(sa)) & set(band_keys(sb)))
        p["signatures"] = sa, sb
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


def two_thresholds(pairs: list[dict]) -> None:
    """Join and suggest thresholds of the review queue: precision and recall at each.

    A pair is accepted at t when it is joined or suggested with t as the threshold: through a
    shared band key and estimate >= t as intake decides, or (the candidates intake would need)
    estimate >= t alone. Read the join figures at the join threshold and the joined-or-suggested
    figures at the suggest threshold."""
    chosen = Thresholds()
    intake = {}
    print(f"\nreview queue: joined (at the join threshold) or joined-or-suggested (at the "
          f"suggest threshold)\n{'':9}  {'intake: band key,':^17}  {'every pair a':^17}\n"
          f"{'':9}  {'estimate >= t':^17}  {'candidate':^17}\n{'threshold':>9}  "
          + "  ".join([f"{'P':>7} {'R':>5} {'FP':>3}"] * 2))
    for step in range(20, 61, 5):
        t = step / 100
        banded = precision_recall(pairs, lambda x, t=t: x["banded"] and x["estimate"] >= t)
        every = precision_recall(pairs, lambda x, t=t: x["estimate"] >= t)
        intake[step] = banded
        print(f"{t:9.2f}  " + "  ".join(f"{p:7.3f} {r:5.3f} {fp:3d}"
                                         for p, r, _tp, fp in (banded, every)))
    for name, t in (("join", chosen.join), ("suggest", chosen.suggest)):
        p, r, tp, fp = precision_recall(pairs, lambda x, t=t: x["banded"] and x["estimate"] >= t)
        ideal = precision_recall(pairs, lambda x, t=t: x["estimate"] >= t)
        what = "joined" if name == "join" else "joined or suggested"
        print(f"{name} threshold {t} (default): {what}: precision {p:.3f} recall {r:.3f} "
              f"({tp} right, {fp} wrong); every pair a candidate: precision {ideal[0]:.3f} "
              f"recall {ideal[1]:.3f}")
    only = [x for x in pairs if x["banded"] and chosen.suggest <= x["estimate"] < chosen.join]
    right = sum(x["same"] for x in only)
    print(f"suggested only (band key, {chosen.suggest} <= estimate < {chosen.join}): "
          f"{len(only)} pairs, {right} of the same claim")
    unbanded = [x for x in pairs if not x["banded"] and x["same"]
                and x["estimate"] >= chosen.suggest]
    print(f"same-claim pairs at estimate >= {chosen.suggest} sharing no band key (never "
          f"candidates): {len(unbanded)}")
    for x in unbanded:
        print(f"  {x['kind']:<10} est {x['estimate']:.2f}: {x['a'][:50]!r} / {x['b'][:50]!r}")


SETUPS = ((BANDS, ROWS), (21, 3), (32, 2))  # (bands, rows): the current one first


def setup_keys(sig: np.ndarray, bands: int, rows: int) -> set:
    """Band keys of another band setup (the current one is ``band_keys``)."""
    if (bands, rows) == (BANDS, ROWS):
        return set(band_keys(sig))
    return {hashlib.blake2b(bytes([rows, b]) + sig[b * rows:(b + 1) * rows].tobytes(),
                            digest_size=8).digest() for b in range(bands)}


def candidate_recall(pairs: list[dict]) -> None:
    """How many same-claim pairs at the suggest threshold each band setup makes candidates."""
    t = Thresholds()
    print(f"\ncandidate generation (a shared band key), same-claim pairs; "
          f"{NUM_PERM} MinHash values")
    print(f"{'setup':>13}  {'est >= suggest':>14}  {'suggest-join':>12}  "
          + "  ".join(f"P(J={j:.2f})" for j in (0.25, 0.3, 0.4, 0.5)))
    for bands, rows in SETUPS:
        found = {"all": [0, 0], "between": [0, 0]}
        for x in pairs:
            if not x["same"] or x["estimate"] < t.suggest:
                continue
            shared = bool(setup_keys(x["signatures"][0], bands, rows)
                          & setup_keys(x["signatures"][1], bands, rows))
            for part in ("all", "between") if x["estimate"] < t.join else ("all",):
                found[part][0] += shared
                found[part][1] += 1
        theory = "  ".join(f"{1 - (1 - j**rows) ** bands:9.2f}" for j in (0.25, 0.3, 0.4, 0.5))
        name = f"{bands}x{rows}" + (" (now)" if (bands, rows) == (BANDS, ROWS) else "")
        (a, n), (b, m) = found["all"], found["between"]
        print(f"{name:>13}  {a:>6}/{n:<2} {a / max(n, 1):.2f}  {b:>4}/{m:<2} "
              f"{b / max(m, 1):.2f}  {theory}")


def candidate_load(n: int) -> None:
    """Pairs of unrelated ViHSD comments sharing a band key, per setup: the rows intake reads."""
    texts = _vihsd_texts()
    rng = np.random.default_rng(0)
    picked = [texts[i] for i in rng.choice(len(texts), size=min(n, len(texts)), replace=False)]
    sigs = [signature(t) for t in picked]
    pairs = len(sigs) * (len(sigs) - 1) // 2
    print(f"\ncandidate load over {len(sigs):,} ViHSD comments (key-sharing pairs):")
    for bands, rows in SETUPS:
        per_key = Counter(k for s in sigs for k in setup_keys(s, bands, rows))
        hits = sum(c * (c - 1) // 2 for c in per_key.values())
        print(f"  {bands}x{rows}: {hits:,} pairs ({hits / pairs:.2e}), about "
              f"{hits / pairs * 1e6:,.0f} candidate rows per new post per million stored; "
              f"{bands} band rows per item")


def _vihsd_texts() -> list[str]:
    path = CORPORA / "vihsd" / "train.csv"
    with open(path, encoding="utf-8", newline="") as f:
        return [r["free_text"] for r in csv.DictReader(f) if r["free_text"].strip()]


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
    texts = _vihsd_texts()
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
    parser.add_argument("--load", type=int, default=20_000,
                        help="ViHSD comments to count band-key candidates over (default 20,000)")
    parser.add_argument("--no-timing", action="store_true",
                        help="skip what needs the corpora (timing, candidate load)")
    args = parser.parse_args()

    pairs = load_pairs()
    same = sum(p["same"] for p in pairs)
    print(f"{len(pairs)} pairs ({same} same claim, {len(pairs) - same} different) from "
          f"{PAIRS.relative_to(REPO)}\n")
    sweep(pairs)
    decision(pairs, f"grouping (band key and estimate >= NEAR_DUPLICATE {NEAR_DUPLICATE})",
             "grouped")
    decision(pairs, f"suggestion (estimate >= SUGGEST_MIN {SUGGEST_MIN})", "suggested")
    two_thresholds(pairs)
    candidate_recall(pairs)
    ranking(pairs)
    if not args.no_timing:
        timing(pairs, args.candidates, args.repeat)
        candidate_load(args.load)


if __name__ == "__main__":
    main()
