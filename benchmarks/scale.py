"""The model store at scale: N synthetic models imported into a store file, its peak memory, and searches.

Run: .venv/bin/python benchmarks/scale.py [N] [--chunk C] [--runs R] [--checkpoint K] [--keep PATH]
        [--memory-limit 2GB] [--search-memory-limit 3GB] [--searches-only PATH]
     (N models, default 10,000,000; imported C at a time, default 500,000; R searches a case, default 5;
     the baseline searches run when the store holds K models, default 1,000,000; --keep keeps the store;
     the import runs with the first DuckDB memory limit, the searches with the second)

The models are benchmarks/synthetic.py's (three rows per metric, as select_memory.py writes them), streamed:
each chunk of C models is written as JSON lines to a temporary file, added with ``ModelStore.add(path)``
(DuckDB's JSON reader, one transaction a chunk, as a user importing a large export would), and the file
removed, so neither the models nor their JSON are ever all in memory or on disk at once.

Printed:

1. **Import**: models per second per chunk (every few chunks), this process's resident set after each, and at
   the end the peak resident set of the whole run (``ru_maxrss``: the generation of the JSON included) against
   the target of 4 GB, and the store's size on disk.
2. **Search**: the cases of 2 to 4 conditions of filter_speed.CASES (with datasets and order_by), and a
   selective filter of 2 conditions (outside the p50 of all cases), each run
   ``R`` times by ``.select(max_results=100)`` (the first page of models, as a user asks for it) and by
   ``.count`` (all matches), on the store reopened read-only. p50 and p95 in ms; the *baseline* is the same
   searches on the same store when it held K models (same run, same process), and the ratio shows how the
   latency grows with the store. Target: p50 <= 2 s at 10,000,000 for the first 100.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(Path(__file__).parent)]

from filter_speed import CASES  # noqa: E402
from synthetic import models  # noqa: E402

from lmfilter.sql import ModelStore  # noqa: E402

TARGET = "mlflow-3.18"
MB = 1e6
RSS_TARGET_MB = 4000
P50_TARGET_S = 2.0
# filter_speed's cases of 2 to 4 conditions (the issue's), those with datasets or order_by among them; then
# a selective one (1 model in 3,000), whose first page the first 10,000 models by creation time cannot fill,
# shown but left out of the p50 of all cases the target is about
SELECTIVE = "2 selective conditions"
SEARCHES = [
    *(case for case in CASES if case[0].split()[0] in ("2", "3", "4")),
    (SELECTIVE, "params.alpha = '0.123' AND tags.team = 'search'", None, None),
]


def rss_mb() -> float:
    """This process's resident set now (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / MB
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def chunks(n: int, size: int) -> Iterator[Iterator[dict[str, Any]]]:
    """The N models of synthetic.models, in chunks of ``size``: one generator, so the chunks together are
    exactly the models one file of N would hold."""
    every = models(n)
    for start in range(0, n, size):
        yield (next(every) for _ in range(min(size, n - start)))


def write_chunk(path: Path, chunk: Iterator[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for model in chunk:
            out.write(json.dumps(model, separators=(",", ":")))
            out.write("\n")
            count += 1
    return count


def quantiles(samples: list[float]) -> tuple[float, float]:
    if len(samples) == 1:
        return samples[0], samples[0]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94]


Latencies = dict[str, tuple[list[float], list[float], int]]


def searches(store: ModelStore, runs: int) -> Latencies:
    """Per case: the page latencies, the count latencies, and the number of matches."""
    found: Latencies = {}
    for label, text, datasets, order_by in SEARCHES:
        arguments: dict[str, Any] = {"datasets": datasets, "target": TARGET}
        pages, counts, matches = [], [], 0
        for _ in range(runs):
            started = time.perf_counter()
            page = store.select(text, order_by=order_by, max_results=100, **arguments)
            pages.append(time.perf_counter() - started)
            started = time.perf_counter()
            matches = store.count(text, **arguments)
            counts.append(time.perf_counter() - started)
            assert len(page) == min(100, matches), (label, len(page), matches)
        found[label] = (pages, counts, matches)
    return found


def report(at: Latencies, n: int, baseline: Latencies | None, k: int) -> None:
    print(f"\nsearch latency on {n:,} models, ms (p50 / p95 over the runs, the first after opening included)")
    head = ("case", "matches", "page p50", "page p95", "count p50", f"page p50 at {k:,}", "ratio")
    line = "{:<32} {:>11} {:>9} {:>9} {:>10} {:>18} {:>6}"
    print(line.format(*head))
    every: list[float] = []
    for label, (pages, counts, matches) in at.items():
        page50, page95 = quantiles(pages)
        if label != SELECTIVE:
            every += pages
        cells = [label, f"{matches:,}", ms(page50), ms(page95), ms(quantiles(counts)[0])]
        if baseline is not None:
            base50 = quantiles(baseline[label][0])[0]
            cells += [ms(base50), f"{page50 / base50:.1f}x"]
        else:
            cells += ["-", "-"]
        print(line.format(*cells))
    p50 = quantiles(every)[0]
    verdict = "n/a below 10,000,000" if n < 10_000_000 else "met" if p50 <= P50_TARGET_S else "MISSED"
    target = f"target at 10,000,000: <= {P50_TARGET_S * 1000:,.0f} ms"
    print(f"all cases but the selective one: page p50 {ms(p50)} ms ({target}: {verdict})")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkpoint", type=int, default=1_000_000)
    parser.add_argument(
        "--memory-limit",
        default="2GB",
        help="the store's DuckDB memory limit (default 2GB; 'none': DuckDB's)",
    )
    parser.add_argument(
        "--search-memory-limit",
        default="3GB",
        help="the reopened store's DuckDB memory limit for the searches (default 3GB; 'none': DuckDB's)",
    )
    parser.add_argument("--keep", type=Path, help="build the store at this path and keep it")
    parser.add_argument(
        "--searches-only", type=Path, metavar="PATH", help="only search a store a --keep run built"
    )
    args = parser.parse_args()
    if min(args.n, args.chunk, args.runs) < 1:
        parser.error("N, --chunk and --runs must be at least 1")
    started = time.perf_counter()
    if args.searches_only:
        with ModelStore(args.searches_only, read_only=True, memory_limit=search_limit(args)) as store:
            report(searches(store, args.runs), len(store), None, args.checkpoint)
        print(f"peak resident set of the searches: {peak_rss_mb():,.0f} MB")
        return
    with tempfile.TemporaryDirectory(prefix="lmfilter-scale-") as tmp:
        path = args.keep or Path(tmp) / "models.duckdb"
        if path.exists():
            parser.error(f"{path} exists: give a new path")
        baseline = build(path, args, Path(tmp))
        size = sum(f.stat().st_size for f in path.parent.glob(path.name + "*"))
        print(f"the store on disk: {size / MB:,.0f} MB")
        peak = peak_rss_mb()
        verdict = "met" if peak <= RSS_TARGET_MB else "MISSED"
        print(f"peak resident set of the import: {peak:,.0f} MB (target <= {RSS_TARGET_MB:,} MB: {verdict})")
        with ModelStore(path, read_only=True, memory_limit=search_limit(args)) as store:
            report(searches(store, args.runs), args.n, baseline, args.checkpoint)
    took = time.perf_counter() - started
    print(f"\npeak resident set of the whole run: {peak_rss_mb():,.0f} MB; took {took:.0f} s")


def limit(args: argparse.Namespace) -> str | None:
    return duckdb_limit(args.memory_limit)


def search_limit(args: argparse.Namespace) -> str | None:
    """The searches': the model_id indexes a page is read by take about 1.6 GB of it at 10,000,000 models."""
    return duckdb_limit(args.search_memory_limit)


def duckdb_limit(value: str) -> str | None:
    return None if value == "none" else value


def build(path: Path, args: argparse.Namespace, tmp: Path) -> Latencies | None:
    """Import the models chunk by chunk; the baseline searches run when the store first holds
    ``--checkpoint`` models or more."""
    baseline: Latencies | None = None
    chunk_file = tmp / "chunk.jsonl"
    done, began = 0, time.perf_counter()
    print(f"1. {args.n:,} synthetic models into {path}, {args.chunk:,} a chunk, memory_limit {limit(args)}")
    with ModelStore(path, memory_limit=limit(args)) as store:
        for i, chunk in enumerate(chunks(args.n, args.chunk)):
            t0 = time.perf_counter()
            count = write_chunk(chunk_file, chunk)
            t1 = time.perf_counter()
            added = store.add(chunk_file)
            t2 = time.perf_counter()
            chunk_file.unlink()
            assert added == count, (added, count)
            done += added
            if i % 4 == 0 or done == args.n:
                print(
                    f"   {done:>12,} models: chunk written {t1 - t0:5.1f} s, added {t2 - t1:5.1f} s "
                    f"({added / (t2 - t1):,.0f} models/s), rss {rss_mb():,.0f} MB, "
                    f"{time.perf_counter() - began:,.0f} s so far",
                    flush=True,
                )
            if baseline is None and done >= args.checkpoint and done < args.n:
                baseline = searches(store, args.runs)
                report(baseline, done, None, args.checkpoint)
        assert len(store) == args.n
    took = time.perf_counter() - began
    rate = f"{args.n / took:,.0f} models/s, writing the JSON included"
    print(f"imported {args.n:,} models in {took:,.0f} s ({rate})")
    return baseline


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
