"""The SQL back end's speed: lmfilter's DuckDB model store against MLflow 3.17.2, on the same models.

Run: .venv/bin/python benchmarks/sql_speed.py [N] [--large M] [--runs R] [--cache DIR] [--mlflow-max K]
     (N models for parts 1 and 2, default 200000; M for part 3, default 1000000, 0 to skip it; needs
     .venvs/mlflow-3.17.2 from scripts/install-mlflow.sh; MLflow and the cold table run up to K models,
     default 200000)

The models come from benchmarks/synthetic.py with one row per metric (as in filter_speed.py), so that MLflow's
in-memory filter (a metric's *first* row) and the servers' rules agree; every search is filter_speed.CASES
with ``target="mlflow-3.17"``, and ``same`` checks that every answer holds MLflow's ids in MLflow's order.

1. **Import + search of a JSON-lines file** (N models written one per line). *MLflow*: in its venv, reading
   the file (``json.loads`` per line, ``ParseDict``, ``LoggedModel.from_proto``) once, timed, then per case
   ``SearchLoggedModelsUtils.filter_logged_models`` + ``.sort`` once; a case's time is the load's plus its
   search's. *store*: ``ModelStore()`` in memory, ``.add(path)`` once (DuckDB's JSON reader), timed, then
   per case ``.select(...)`` (``LoggedModel`` objects, as MLflow's are entities); a case's time is the
   import's plus its search's. *eval duckdb*: ``lmfilter eval --engine duckdb --format ids``, a process per
   case, its whole life timed (start-up, import, search, printing). *python*: ``lmfilter.select`` over
   ``lmfilter.iter_models(path)``, per case, for reference. Target: store >= 10x MLflow at 200,000.
2. **Search of a loaded store**: the store of part 1 searched again (best of 3), by ``.ids(...)`` (the ids
   only) and ``.select(...)`` (the models), against MLflow's in-memory filter on entities built beforehand
   (filter_speed.baseline: best of 3) and a cold ``ModelTable`` over ``LoggedModel`` objects (as in
   filter_speed). Target: >= 30x MLflow, and faster than the cold table.
3. **M models in a store file** (no MLflow): the file of select_memory.py (three rows per metric; ``--cache``
   keeps it for the next run, shared with that script), imported into ``ModelStore(path)`` (timed to the
   store's close), the store's size on disk, and per case the latency of a search on the store reopened
   read-only: ``--runs`` searches each by ``.ids`` (the first after opening included), p50 and p95, and a
   page of 100 models by ``.select(max_results=100)``.

At the end: the peak resident set of this process, and of the largest child (MLflow's side).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(Path(__file__).parent)]

from filter_speed import CASES, Answer, _cold, baseline, rate, ratio, timed  # noqa: E402
from select_memory import _directory, write_models  # noqa: E402
from synthetic import models  # noqa: E402

import lmfilter  # noqa: E402
from lmfilter.sql import ModelStore  # noqa: E402

TARGET = "mlflow-3.17"
MLFLOW_PYTHON = ROOT / ".venvs" / "mlflow-3.17.2" / "bin" / "python"
LMFILTER = [sys.executable, "-m", "lmfilter"]
MB = 1e6

# MLflow's side of part 1: the load from JSON lines, timed, then one search per case.
LOAD_AND_SEARCH = """
import hashlib, json, sys, time
from google.protobuf.json_format import ParseDict
from mlflow.entities import LoggedModel
from mlflow.protos import service_pb2 as pb2
from mlflow.utils.search_utils import SearchLoggedModelsUtils as U
path, cases = sys.argv[1], json.loads(sys.argv[2])
started = time.perf_counter()
with open(path, encoding="utf-8") as f:
    models = [
        LoggedModel.from_proto(ParseDict(json.loads(line), pb2.LoggedModel(), ignore_unknown_fields=True))
        for line in f
    ]
load = time.perf_counter() - started
out = []
for text, datasets, order_by in cases:
    started = time.perf_counter()
    found = U.sort(U.filter_logged_models(models, text, datasets), order_by or [])
    took = time.perf_counter() - started
    out.append([took, len(found), hashlib.sha1(" ".join(m.model_id for m in found).encode()).hexdigest()])
print(json.dumps([load, out]))
"""


def digest(ids: Sequence[str]) -> str:
    """The digest filter_speed's answers carry: of the ids in order."""
    return hashlib.sha1(" ".join(ids).encode()).hexdigest()


def timed_ids(run: Callable[[], list[str]], repeats: int = 1) -> Answer:
    """As filter_speed.timed, for a search that returns ids."""
    best, found = float("inf"), []
    for _ in range(repeats):
        started = time.perf_counter()
        found = run()
        best = min(best, time.perf_counter() - started)
    return best, len(found), digest(found)


def plus(load: float, answer: Answer | None) -> Answer | None:
    """A search's answer with the load before it added to its time."""
    return None if answer is None else (load + answer[0], *answer[1:])


def same(base: Answer | None, *answers: Answer | None) -> str:
    found = {a[1:] for a in answers if a is not None}
    if base is None:
        return "-" if len(found) <= 1 else "NO"
    return "yes" if found <= {base[1:]} else "NO"


# ---- part 1: import + search of a JSON-lines file -------------------------------------------------


def mlflow_load_and_search(path: Path) -> tuple[float, list[Answer]]:
    cases = json.dumps([[text, datasets, order_by] for _, text, datasets, order_by in CASES])
    done = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", LOAD_AND_SEARCH, str(path), cases],
        capture_output=True,
        text=True,
        check=True,
    )
    load, answers = json.loads(done.stdout.strip().splitlines()[-1])
    return load, [(t, n, d) for t, n, d in answers]


def eval_duckdb(path: Path, text: str, datasets: object, order_by: object) -> Answer:
    """``lmfilter eval --engine duckdb`` as a user runs it: the process's whole life, timed."""
    command = [*LMFILTER, "eval", text, "--models", str(path), "--engine", "duckdb", "--target", TARGET]
    command += ["--format", "ids"]
    if datasets is not None:
        command += ["--datasets", json.dumps(datasets)]
    if order_by is not None:
        command += ["--order-by", json.dumps(order_by)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=_env())
    took = time.perf_counter() - started
    ids = done.stdout.splitlines()
    return took, len(ids), digest(ids)


def _env() -> dict[str, str]:
    """This checkout's lmfilter for the child, whatever is installed."""
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def import_and_search(path: Path, n: int, *, with_mlflow: bool) -> ModelStore:
    """Part 1; returns the store it loaded, for part 2."""
    print(f"\n1. import + search of a JSON-lines file: {n:,} models ({path.stat().st_size / MB:,.0f} MB)")
    mlflow_load, mlflow = mlflow_load_and_search(path) if with_mlflow else (0.0, None)
    started = time.perf_counter()
    store = ModelStore()
    added = store.add(path)
    store_load = time.perf_counter() - started
    assert added == n, f"the store took {added:,} models of {n:,}"
    mlflow_note = f"MLflow {mlflow_load:.2f} s (json -> entities), " if with_mlflow else ""
    print(f"load: {mlflow_note}store {store_load:.2f} s (ModelStore().add(path))")
    print("seconds, load included; ratio = MLflow 3.17.2's time / lmfilter's, same models, same run")
    header = ("case", "MLflow", "store", "ratio", "eval duckdb", "ratio", "python", "ratio", "same")
    line = "{:<32} {:>8} {:>8} {:>6} {:>11} {:>6} {:>8} {:>6} {:>5}"
    print(line.format(*header))
    for i, (label, text, datasets, order_by) in enumerate(CASES):
        search = partial(store.select, text, datasets=datasets, order_by=order_by, target=TARGET)
        in_store = plus(store_load, timed(search))
        end_to_end = eval_duckdb(path, text, datasets, order_by)
        python = timed(partial(_stream, path, text, datasets=datasets, order_by=order_by, target=TARGET))
        base = plus(mlflow_load, mlflow[i]) if mlflow else None
        cells = [label, seconds(base)]
        for answer in (in_store, end_to_end, python):
            cells += [seconds(answer), ratio(base, answer)]
        print(line.format(*cells, same(base, in_store, end_to_end, python)))
    return store


def _stream(path: Path, text: str, **arguments: Any) -> list[lmfilter.LoggedModel]:
    return lmfilter.select(lmfilter.iter_models(path), text, **arguments)


# ---- part 2: search of a loaded store -------------------------------------------------------------


def search_loaded(store: ModelStore, dicts: list[dict[str, object]], *, with_mlflow: bool) -> None:
    n = len(dicts)
    mlflow = baseline(dicts) if with_mlflow else None
    inputs = [lmfilter.LoggedModel.model_validate(d) for d in dicts] if with_mlflow else []
    gc.collect()
    gc.freeze()  # the inputs are long-lived: keep the collector off them, as filter_speed does
    print(f"\n2. search of a loaded store: {n:,} models, models per second (best of 3; table cold: once)")
    print("ratio = MLflow 3.17.2's time (in memory, entities built beforehand) / lmfilter's")
    header = ("case", "MLflow", "store ids", "ratio", "store select", "ratio", "table cold", "ratio", "same")
    line = "{:<32} {:>10} {:>10} {:>6} {:>12} {:>6} {:>10} {:>6} {:>5}"
    print(line.format(*header))
    for i, (label, text, datasets, order_by) in enumerate(CASES):
        arguments: dict[str, Any] = {"datasets": datasets, "order_by": order_by, "target": TARGET}
        ids = timed_ids(partial(store.ids, text, **arguments), repeats=3)
        found = timed(partial(store.select, text, **arguments), repeats=3)
        query = lmfilter.compile_query(text, **arguments)
        cold = timed(partial(_cold, inputs, query)) if inputs else None
        base = mlflow[i] if mlflow else None
        cells = [label, rate(n, base)]
        for answer in (ids, found, cold):
            cells += [rate(n, answer), ratio(base, answer)]
        print(line.format(*cells, same(base, ids, found, cold)))


# ---- part 3: a large store file -------------------------------------------------------------------


def large_store(m: int, runs: int, cache: Path | None) -> None:
    with _directory(cache) as directory:
        source = directory / f"synthetic-{m}.jsonl"
        if source.exists():
            print(f"\nreading {source} ({source.stat().st_size / MB:,.0f} MB), written before")
        else:
            write_models(source, m)
        with tempfile.TemporaryDirectory(prefix="sql-speed-") as tmp:
            path = Path(tmp) / "models.duckdb"
            started = time.perf_counter()
            with ModelStore(path) as store:
                added = store.add(source)
            took = time.perf_counter() - started
            size = sum(f.stat().st_size for f in Path(tmp).iterdir())
            jsonl = source.stat().st_size
            print(
                f"\n3. {added:,} models into a store file: import {took:.1f} s ({added / took:,.0f} models/s)"
            )
            print(f"   the store on disk: {size / MB:,.0f} MB (the JSON lines: {jsonl / MB:,.0f} MB)")
            with ModelStore(path, read_only=True) as store:
                latencies(store, runs)


def latencies(store: ModelStore, runs: int) -> None:
    print(f"search latency, ms, {runs} runs a case on the store reopened read-only (the first run included)")
    header = ("case", "matches", "ids p50", "ids p95", "page p50", "page p95")
    line = "{:<32} {:>9} {:>8} {:>8} {:>8} {:>8}"
    print(line.format(*header))
    every: list[float] = []
    for label, text, datasets, order_by in CASES:
        arguments: dict[str, Any] = {"datasets": datasets, "order_by": order_by, "target": TARGET}
        ids, page, matches = [], [], 0
        for _ in range(runs):
            started = time.perf_counter()
            matches = len(store.ids(text, **arguments))
            ids.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.select(text, max_results=100, **arguments)
            page.append(time.perf_counter() - started)
        every += ids
        print(line.format(label, f"{matches:,}", *(ms(q) for q in (*quantiles(ids), *quantiles(page)))))
    print(line.format("all cases", "", *(ms(q) for q in quantiles(every)), "", ""))


def quantiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95, interpolated between the samples."""
    if len(samples) == 1:
        return samples[0], samples[0]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94]


# ---- the run --------------------------------------------------------------------------------------


def seconds(answer: Answer | None) -> str:
    return "-" if answer is None else f"{answer[0]:.2f}"


def ms(value: float) -> str:
    return f"{value * 1000:,.0f}" if value >= 0.01 else f"{value * 1000:.1f}"


def peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss * (1 if sys.platform == "darwin" else 1024) / MB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=200_000, help="models for parts 1 and 2")
    parser.add_argument("--large", type=int, default=1_000_000, help="models for part 3 (0: skip it)")
    parser.add_argument("--runs", type=int, default=10, help="searches per case in part 3")
    parser.add_argument("--mlflow-max", type=int, default=200_000, help="largest N MLflow runs on")
    parser.add_argument(
        "--cache", type=Path, help="keep part 3's JSON lines in this directory, and reuse them"
    )
    args = parser.parse_args()
    if args.n < 1 or args.large < 0 or args.runs < 1:
        parser.error("N and --runs must be at least 1, --large at least 0")
    with_mlflow = args.n <= args.mlflow_max
    if with_mlflow and not MLFLOW_PYTHON.exists():
        parser.error(f"{MLFLOW_PYTHON} is missing: run scripts/install-mlflow.sh")
    started = time.perf_counter()
    dicts = list(models(args.n, metric_rows=1))
    gc.collect()
    gc.freeze()  # this script's own models (and part 2's): the searches timed should not pay for them
    try:
        with tempfile.TemporaryDirectory(prefix="sql-speed-") as tmp:
            path = Path(tmp) / "models.jsonl"
            with path.open("w", encoding="utf-8") as out:
                out.writelines(json.dumps(d, separators=(",", ":")) + "\n" for d in dicts)
            with import_and_search(path, args.n, with_mlflow=with_mlflow) as store:
                search_loaded(store, dicts, with_mlflow=with_mlflow)
    finally:
        gc.unfreeze()
    del dicts
    gc.collect()
    if args.large:
        large_store(args.large, args.runs, args.cache)
    print(f"\npeak resident set: this process {peak_rss_mb(resource.RUSAGE_SELF):,.0f} MB, ", end="")
    print(f"the largest child (MLflow) {peak_rss_mb(resource.RUSAGE_CHILDREN):,.0f} MB")
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
