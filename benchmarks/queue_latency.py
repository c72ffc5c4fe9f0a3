"""Queue benchmark: fill a SQLite review queue with scored posts, then time the web app.

Prints how long the fill took, the database size, and p50/p95 latency over loopback HTTP
for the queue page, the item page and an answer POST. Targets on a 2-core machine
(issue 3): queue page p95 < 100 ms, answer p95 < 50 ms, at 1,000,000 posts.

Then full-text search (issue 14: p95 < 150 ms), through the store (``search_items``): a
first page for two words of a stored post, for the commonest word (the most matches to
count and order), for a prefix, and the page after a first one; and the same over HTTP, the
queue page with words in its search box (``/queue?q=...``, any status) and the page its
"next page" link gives. Last, the statistics page (its default window of days).

    python benchmarks/queue_latency.py --posts 1000000        # the full benchmark
    python benchmarks/queue_latency.py --posts 20000          # a quick run
    python benchmarks/queue_latency.py --dir D --reuse        # time again a database filled before
    python benchmarks/queue_latency.py --posts 20000 --search-only   # search, not the web app

Posts are synthetic: random runs of 6-30 words drawn from the ViHSD vocabulary, so they
are distinct and rarely near-duplicates; scores are random but well formed.
"""

from __future__ import annotations

import argparse
import csv
import re
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from sqlalchemy import func, select

from pipeline.store.db import make_engine, session_factory, upgrade
from pipeline.store.intake import add_scored
from pipeline.store.search import search_items
from pipeline.store.tables import Item
from pipeline.store.users import add_user
from pipeline.web.app import WebSettings, create_app

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
LABELS = ("clean", "offensive", "hate")
PASSWORD = "benchmark-password"


def vocabulary() -> list[str]:
    with open(CORPORA / "vihsd" / "train.csv", encoding="utf-8", newline="") as f:
        words = {w for row in csv.DictReader(f) for w in re.findall(r"\w+", row["free_text"])}
    return sorted(words)


def records(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    vocab = np.asarray(vocabulary())
    for i in range(n):
        words = vocab[rng.integers(0, len(vocab), rng.integers(6, 31))]
        text = " ".join(words)
        p = rng.dirichlet((2.0, 0.6, 0.6))
        first = int(rng.integers(0, len(words)))
        start = len(" ".join(words[:first])) + (1 if first else 0)
        yield {
            "id": f"b{i}",
            "text": text,
            "scores": {"hostile": {
                "label": LABELS[int(p.argmax())],
                "proba": {k: round(float(v), 4) for k, v in zip(LABELS, p, strict=True)},
                "risk": round(float(p[1] + p[2]), 4),
                "words": [{"word": words[first], "start": start,
                           "end": start + len(words[first]), "weight": 1.0}],
            }},
            "model_versions": {"hostile": "hostile/linear-1"},
        }


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   (n={len(ms)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200, help="timed requests per kind")
    ap.add_argument("--dir", help="keep the database here (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="time the database in --dir as it is")
    ap.add_argument("--search-only", action="store_true", help="time search only, not the web app")
    args = ap.parse_args()

    work = Path(args.dir or tempfile.mkdtemp(prefix="kiemtin-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{work / 'kiemtin.db'}"
    upgrade(url)  # a reused database gets the latest indexes too
    if not args.reuse:
        engine = make_engine(url)
        with session_factory(engine)() as s:
            add_user(s, "bench", "reviewer", PASSWORD)
        started = time.perf_counter()
        report = add_scored(engine, records(args.posts), actor="benchmark")
        fill = time.perf_counter() - started
        print(f"filled {report.items_added:,} items from {args.posts:,} posts in {fill:,.0f} s "
              f"({args.posts / fill:,.0f} posts/s)")
    with session_factory(make_engine(url))() as s:
        items = s.query(Item).count()
    size = (work / "kiemtin.db").stat().st_size
    print(f"database: {items:,} items, {size / 2**20:,.0f} MiB at {work}")
    # Before the web part answers items (search is over every status, so that changes little).
    time_search(url, args.requests)
    if args.search_only:
        return

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(WebSettings(secret_key="b" * 48, database_url=url))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)

    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
        client.post("/login", data={"name": "bench", "password": PASSWORD, "csrf_token": token})
        queue_times, item_times, answer_times = [], [], []
        for _ in range(args.requests):
            t = time.perf_counter()
            page = client.get("/queue")
            queue_times.append(time.perf_counter() - t)
            item_path = re.search(r'href="[^"]*(/items/\d+)"', page.text)[1]
            t = time.perf_counter()
            item = client.get(item_path)
            item_times.append(time.perf_counter() - t)
            version = re.search(r'name="version" value="(\d+)"', item.text)[1]
            token = re.search(r'name="csrf_token" value="([^"]+)"', item.text)[1]
            t = time.perf_counter()
            answered = client.post(f"{item_path}/answer", data={
                "label": "offensive", "version": version, "csrf_token": token})
            answer_times.append(time.perf_counter() - t)
            assert answered.status_code == 303, answered.text[:300]
        search_times = time_search_page(client, url, args.requests)
        stats_times = []
        for _ in range(max(5, args.requests // 10)):
            t = time.perf_counter()
            page = client.get("/stats")
            stats_times.append(time.perf_counter() - t)
            assert page.status_code == 200, page.text[:300]
    server.should_exit = True
    print(f"queue page   {percentiles(queue_times)}")
    print(f"item page    {percentiles(item_times)}")
    print(f"answer POST  {percentiles(answer_times)}")
    print(f"stats page   {percentiles(stats_times)}")
    print("search page over HTTP (/queue?q=..., any status, first page of 50):")
    for kind, samples in search_times.items():
        print(f"  {kind:<26} {percentiles(samples)}")


def search_queries(url: str, n: int, seed: int = 1) -> dict[str, list[str]]:
    """Queries for the search timings: two words of a stored post (as typed, with its
    diacritics), the commonest word, and a three-letter prefix."""
    rng = np.random.default_rng(seed)
    with session_factory(make_engine(url))() as s:
        top = s.scalar(select(func.max(Item.id)))
        ids = [int(i) for i in rng.integers(1, top + 1, n)]
        texts = [s.scalar(select(Item.search_text).where(Item.id == i)) or "" for i in ids]
    counts = Counter(w for t in texts[:500] for w in t.split())
    common = counts.most_common(1)[0][0]
    pairs = []
    for t in texts:
        words = t.split()
        at = int(rng.integers(0, max(1, len(words) - 1)))
        pairs.append(" ".join(words[at : at + 2]))
    return {
        "two words": pairs,
        f"common word ({common!r})": [common] * n,
        "prefix (3 letters)": [w.split()[0][:3] if w else "a" for w in pairs],
    }


def time_search_page(client: httpx.Client, url: str, n: int) -> dict[str, list[float]]:
    """Latency of the queue page's search over HTTP: a first page for each kind of query,
    then the page its "next page" link leads to (rendered rows, count and cursor)."""
    times: dict[str, list[float]] = {}
    next_links = []
    for kind, queries in search_queries(url, n, seed=2).items():
        samples = times.setdefault(kind, [])
        for q in queries:
            t = time.perf_counter()
            page = client.get("/queue", params={"q": q, "status": "any", "task": "hostile"})
            samples.append(time.perf_counter() - t)
            assert page.status_code == 200, page.text[:300]
            link = re.search(r'<a href="([^"]+)" rel="next"', page.text)
            if link:
                next_links.append(link[1].replace("&amp;", "&"))
    samples = times.setdefault("next page (cursor)", [])
    for link in next_links[:n]:
        t = time.perf_counter()
        page = client.get(link)
        samples.append(time.perf_counter() - t)
        assert page.status_code == 200, page.text[:300]
    return {k: v for k, v in times.items() if v}


def time_search(url: str, n: int) -> None:
    """p50/p95 of ``search_items`` (a fresh session per search, as a request would have)."""
    factory = session_factory(make_engine(url))
    kinds = search_queries(url, n, seed=1)
    common = next(q[0] for kind, q in kinds.items() if kind.startswith("common word"))
    print("search (search_items through the store), task=hostile, any status, first page of 50:")
    matches = {}
    for kind, queries in kinds.items():
        samples, totals, capped = [], [], 0
        for q in queries:
            with factory() as s:
                t = time.perf_counter()
                page = search_items(s, q, task="hostile")
                samples.append(time.perf_counter() - t)
                totals.append(page.total)
                capped += page.total_capped
        matches[kind] = statistics.median(totals)
        past = f" ({capped} of {len(queries)} past the exact count)" if capped else ""
        print(f"  {kind:<26} {percentiles(samples)}   median matches "
              f"{matches[kind]:,.0f}{'+' if 2 * capped > len(queries) else ''}{past}")
    samples = []
    for q in kinds["two words"][: n // 2] + [common] * (n - n // 2):
        with factory() as s:
            first = search_items(s, q, task="hostile", limit=20)
            if first.next is None:
                continue
            t = time.perf_counter()
            search_items(s, q, task="hostile", limit=20, after=first.next)
            samples.append(time.perf_counter() - t)
    if samples:
        print(f"  {'next page (cursor)':<26} {percentiles(samples)}")


if __name__ == "__main__":
    main()
