"""Queue benchmark: fill a SQLite review queue with scored posts, then time the web app.

Prints how long the fill took, the database size, and p50/p95 latency over loopback HTTP
for the queue page, the item page and an answer POST. Targets on a 2-core machine
(issue 3): queue page p95 < 100 ms, answer p95 < 50 ms, at 1,000,000 posts.

    python benchmarks/queue_latency.py --posts 1000000        # the full benchmark
    python benchmarks/queue_latency.py --posts 20000          # a quick run
    python benchmarks/queue_latency.py --dir D --reuse        # time again a database filled before

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
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from pipeline.store.db import make_engine, session_factory, upgrade
from pipeline.store.intake import add_scored
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
    server.should_exit = True
    print(f"queue page   {percentiles(queue_times)}")
    print(f"item page    {percentiles(item_times)}")
    print(f"answer POST  {percentiles(answer_times)}")


if __name__ == "__main__":
    main()
