"""What a very broad search's two ways of checking candidates cost, to set
``pipeline.store.search.TEXT_PER_MATCH``: checking a candidate on its own search text (read
with the riskiest items, ``_candidates_first``) against reading one match off the index, on a
database that ``benchmarks/queue_latency.py --dir D`` filled.

    python benchmarks/search_plans.py --dir D
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import func, select

from pipeline.store import search
from pipeline.store._shared import queue_filters
from pipeline.store.db import make_engine, session_factory
from pipeline.store.tables import Item


def timed(call, runs: int = 15) -> float:
    call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="the folder holding kiemtin.db")
    ap.add_argument("--queries", nargs="+", default=["do", "ng", "tin", "khong", "anh"])
    ap.add_argument("--candidates", type=int, default=4096)
    args = ap.parse_args()
    with session_factory(make_engine(f"sqlite:///{args.dir}/kiemtin.db"))() as session:
        conditions = queue_filters("hostile", None, None, None, None, False, None)
        n = args.candidates

        def riskiest_ids():
            return [i for (i,) in search._riskiest(session, conditions, None, n)]

        ids = riskiest_ids()
        alone = timed(riskiest_ids)
        print(f"{n:,} riskiest ids: {alone * 1e3:.1f} ms")
        print(f"{'query':<8} {'matches':>8} {'per text µs':>12} {'per match µs':>13} {'ratio':>6}")
        for query in args.queries:
            words = search.query_words(query)
            _, match = search._searched(session, words, True)
            fts = select(search._FTS.c.rowid).where(match)
            matches = session.scalar(select(func.count()).select_from(fts.subquery()))

            def on_texts(words=words):
                found = search._riskiest(session, conditions, None, n, Item.search_text)
                return {i for i, text in found if search._holds(text, words, True)}

            def on_index(match=match):
                return search._index_matched(session, match, ids)

            assert on_texts() == on_index(), query
            text, index = (timed(on_texts) - alone) / n, timed(on_index) / matches
            print(f"{query:<8} {matches:>8,} {text * 1e6:>12.2f} {index * 1e6:>13.3f} "
                  f"{text / index:>6.1f}")


if __name__ == "__main__":
    main()
