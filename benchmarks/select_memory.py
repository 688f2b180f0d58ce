"""Peak memory of lmfilter.select over models streamed from a JSON-lines file, against the results' size.

Run: .venv/bin/python benchmarks/select_memory.py [N] [--cache DIR] [--tracemalloc]
     (N models, default 1000000: a whole run took 10 minutes on 2 busy cores, 2.3 of them writing the 2.2 GB
     file, which --cache DIR keeps for the next run; 100000 takes under a minute)

The target (issue 7): peak memory under 1.5x the results' size plus a constant. The file holds N synthetic
models (benchmarks/synthetic.py), written once, a line at a time. Each case runs in a fresh subprocess, so
that peaks do not mix: ``select(iter_models(path), filter, order_by=...)``, the filter compiled beforehand
(the grammar's load is not the stream's). Then:

- *peak*: by default the resident set's peak above the resident set before ``select``, as the system counts
  it (the peak is reset first through ``/proc/self/clear_refs``; ``ru_maxrss`` where that is missing). With
  ``--tracemalloc``: the peak of Python's allocations above those before ``select``; tracemalloc slows the
  stream 6-8x, and its own books double the resident set, so the two kinds of figure never share a run.
- *results*: the bytes of the objects reachable from the returned list, each counted once: the sum of
  ``sys.getsizeof`` over them (classes and what only they reach left out). With ``--tracemalloc``, what stays
  allocated after ``select`` returns; the two agree within 0.1%. The allocator's overhead on these small
  objects (about 6%: the same models built alone from their lines) is in the resident peak but not in the
  results, so it counts against the target.
- *constant*: the peak of the case with no match (a file's read buffer, the current line and its model).
- *ratio*: (peak - constant) / results; the target holds where it is under 1.5.

Models per second are timed over the same ``select`` (slowed by --tracemalloc, and by whatever else runs).
The ~50% case reads only the first N/10 models: at N it would hold about 10 GB of results.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(Path(__file__).parent)]

from synthetic import models  # noqa: E402

import lmfilter  # noqa: E402
from lmfilter.model_files import iter_models  # noqa: E402

LOSS_DESCENDING = [{"field_name": "metrics.loss", "ascending": False}]
BY_NAME = [{"field_name": "name"}]

#: label, filter, order_by, share of the file read (1 = all N models, 10 = the first N/10)
CASES: list[tuple[str, str, list[dict[str, Any]] | None, int]] = [
    ("no match (the constant)", "name = 'none'", None, 1),
    ("~1%", "metrics.accuracy > 0.99", None, 1),
    ("~10%", "metrics.accuracy > 0.9", None, 1),
    ("~10%, order_by metrics.loss", "metrics.accuracy > 0.9", LOSS_DESCENDING, 1),
    ("~50%, order_by name (N/10)", "metrics.accuracy > 0.5", BY_NAME, 10),
]
TARGET = 1.5
MB = 1e6


# ---- the file -------------------------------------------------------------------------------------


def write_models(path: Path, n: int) -> None:
    """N synthetic models as JSON lines, streamed out; written under a temporary name, then renamed, so an
    interrupted write is never taken for a whole file."""
    partial = path.with_suffix(".partial")
    started = time.perf_counter()
    with partial.open("w", encoding="utf-8") as out:
        for model in models(n):
            out.write(json.dumps(model, separators=(",", ":")))
            out.write("\n")
    partial.rename(path)
    took = time.perf_counter() - started
    print(f"wrote {n:,} models ({path.stat().st_size / MB:,.0f} MB) to {path} in {took:.0f} s")


# ---- one case, in its own process -----------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        found = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) * 1024 if found else None


def _reset_peak_rss() -> int:
    """Reset the resident set's peak to the current size where Linux allows it; the peak's starting point."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return _peak_rss()
    return _status_kb("VmHWM") or _peak_rss()


def _peak_rss() -> int:
    peak = _status_kb("VmHWM")
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def deep_size(root: object) -> int:
    """The bytes of ``root`` and of every object it reaches, each once; classes (and what only they reach)
    are left out, being there before and after."""
    seen: set[int] = set()
    total = 0
    frontier: list[Any] = [root]
    while frontier:
        batch = {id(o): o for o in frontier if not isinstance(o, type)}
        for known in seen.intersection(batch):
            del batch[known]
        seen.update(batch)
        total += sum(map(sys.getsizeof, batch.values()))
        frontier = gc.get_referents(*batch.values())
    return total


def measure(path: Path, case: int, limit: int, traced: bool) -> dict[str, float]:
    """Run one case; its peak, results and speed, in bytes and models per second."""
    _, text, order_by, _ = CASES[case]
    lmfilter.compile_query(text, order_by=order_by)  # cached: select finds it compiled
    gc.collect()
    if traced:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = _reset_peak_rss()
    started = time.perf_counter()
    found = lmfilter.select(islice(iter_models(path), limit), text, order_by=order_by)
    took = time.perf_counter() - started
    if traced:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        results = current - before
    else:
        peak = _peak_rss()
        results = deep_size(found)
    return {"matches": len(found), "peak": peak - before, "results": results, "rate": limit / took}


def run_case(path: Path, case: int, limit: int, traced: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--case", str(case), "--models", str(path), str(limit)]
    done = subprocess.run(command + ["--tracemalloc"] * traced, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


# ---- the table ------------------------------------------------------------------------------------


def report(path: Path, n: int, traced: bool) -> None:
    kind = "Python allocations (tracemalloc)" if traced else "resident set"
    print(f"\nselect over {n:,} models from JSON lines; peak of the {kind}, MB; target: ratio < {TARGET}")
    header = ("case", "models", "matches", "results", "peak", "ratio", "< 1.5", "models/s")
    print("{:<30} {:>9} {:>8} {:>9} {:>9} {:>6} {:>6} {:>9}".format(*header))
    constant = None
    for case, (label, _, _, share) in enumerate(CASES):
        limit = n // share
        got = run_case(path, case, limit, traced)
        constant = got["peak"] if constant is None else constant
        ratio, holds = "", ""
        if got["matches"]:
            value = (got["peak"] - constant) / got["results"]
            ratio, holds = f"{value:.2f}", "yes" if value < TARGET else "NO"
        print(
            f"{label:<30} {limit:>9,} {got['matches']:>8,} {got['results'] / MB:>9,.1f} "
            f"{got['peak'] / MB:>9,.1f} {ratio:>6} {holds:>6} {got['rate']:>9,.0f}"
        )
    print(f"constant: {constant / MB:.2f} MB" if constant is not None else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000, help="models in the file")
    parser.add_argument("--cache", type=Path, help="keep the file in this directory, and reuse it")
    parser.add_argument("--tracemalloc", action="store_true", help="Python's allocations, not the RSS")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # one case, in a subprocess
    parser.add_argument("--models", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(measure(args.models, args.case, args.n, args.tracemalloc)))
        return
    started = time.perf_counter()
    with _directory(args.cache) as directory:
        path = directory / f"synthetic-{args.n}.jsonl"
        if path.exists():
            print(f"reading {path} ({path.stat().st_size / MB:,.0f} MB), written before")
        else:
            write_models(path, args.n)
        report(path, args.n, args.tracemalloc)
    print(f"took {time.perf_counter() - started:.0f} s")


@contextlib.contextmanager
def _directory(given: Path | None) -> Iterator[Path]:
    """The cache directory given, or a temporary one removed at the end."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="select-memory-") as temporary:
        yield Path(temporary)


if __name__ == "__main__":
    main()
