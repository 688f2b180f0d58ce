"""Filter + order speed: lmfilter against MLflow 3.17.2's in-memory logged-model filter, on the same models.

Run: .venv/bin/python benchmarks/filter_speed.py [N ...]   (default 10000 100000 1000000; needs
.venvs/mlflow-3.17.2 from scripts/install-mlflow.sh; MLflow runs up to --mlflow-max models, default 100000)

The models come from one generator (benchmarks/synthetic.py), one row per metric, so that MLflow's in-memory
filter (which compares a metric's *first* row) and the servers' rules (any row on 3.17, the latest on 3.18)
agree, and both sides must return the same models in the same order: the ``same`` column checks it.

- **MLflow**: ``SearchLoggedModelsUtils.filter_logged_models`` then ``.sort``, on MLflow ``LoggedModel``
  entities built from the JSON before timing, in a subprocess in MLflow's venv; best of 3.
- **table, warm**: ``lmfilter.ModelTable.select`` on a table of the same models that has answered searches
  before (a cache searched again and again): best of 3 after a first search. One table per N serves all cases.
- **table, cold**: a new table for the search: building the columns it reads and its order are timed.
- **select**: ``lmfilter.select``, model by model, no state kept (N up to 100000).

lmfilter's input is ``lmfilter.LoggedModel`` objects validated from the JSON before timing, as MLflow's
entities are, up to 100,000 models; at 1,000,000 (15 GB as objects) it is the JSON dicts, and the first search
also validates the dicts it returns, kept by the table for the next.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(Path(__file__).parent)]

from synthetic import models  # noqa: E402

import lmfilter  # noqa: E402

JSON = dict[str, Any]
EVAL = [{"dataset_name": "eval", "dataset_digest": "e1"}]
BY_NAME = [{"field_name": "name", "ascending": True}]
BY_LOSS = [{"field_name": "metrics.loss", "ascending": False}]
TWO = "metrics.accuracy > 0.5 AND params.optimizer = 'adam'"
FOUR = f"{TWO} AND tags.team = 'search' AND model_type = 'sklearn'"
CASES: list[tuple[str, str, list[JSON] | None, list[JSON] | None]] = [
    ("1 condition", "metrics.accuracy > 0.5", None, None),
    ("2 conditions", TWO, None, None),
    ("3 conditions", f"{TWO} AND tags.team = 'search'", None, None),
    ("4 conditions", FOUR, None, None),
    ("6 conditions", f"{FOUR} AND metrics.loss < 0.8 AND name LIKE 'model-1%'", None, None),
    ("2 + datasets", TWO, EVAL, None),
    ("2 + order_by name", TWO, None, BY_NAME),
    ("4 + datasets + order_by metric", FOUR, EVAL, BY_LOSS),
]

BASELINE = """
import hashlib, json, sys, time
from google.protobuf.json_format import ParseDict
from mlflow.entities import LoggedModel
from mlflow.protos import service_pb2 as pb2
from mlflow.utils.search_utils import SearchLoggedModelsUtils as U
path, cases = sys.argv[1], json.loads(sys.argv[2])
with open(path) as f:
    raw = json.load(f)
models = [LoggedModel.from_proto(ParseDict(m, pb2.LoggedModel(), ignore_unknown_fields=True)) for m in raw]
del raw
out = []
for text, datasets, order_by in cases:
    best = None
    for _ in range(3):
        started = time.perf_counter()
        found = U.sort(U.filter_logged_models(models, text, datasets), order_by or [])
        took = time.perf_counter() - started
        best = took if best is None else min(best, took)
    out.append([best, len(found), hashlib.sha1(" ".join(m.model_id for m in found).encode()).hexdigest()])
print(json.dumps(out))
"""

Answer = tuple[float, int, str]  # seconds, matches, digest of the ids in order


def baseline(dicts: list[JSON]) -> list[Answer]:
    python = ROOT / ".venvs" / "mlflow-3.17.2" / "bin" / "python"
    cases = json.dumps([[text, datasets, order_by] for _, text, datasets, order_by in CASES])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "models.json"
        path.write_text(json.dumps(dicts))
        done = subprocess.run(
            [str(python), "-c", BASELINE, str(path), cases], capture_output=True, text=True, check=True
        )
    return [(t, n, digest) for t, n, digest in json.loads(done.stdout.strip().splitlines()[-1])]


def timed(run: Callable[[], list[lmfilter.LoggedModel]], repeats: int = 1) -> Answer:
    best, found = float("inf"), []
    for _ in range(repeats):
        started = time.perf_counter()
        found = run()
        best = min(best, time.perf_counter() - started)
    return best, len(found), hashlib.sha1(" ".join(m.model_id for m in found).encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--mlflow-max", type=int, default=100_000, help="largest N MLflow runs on")
    args = parser.parse_args()
    for n in args.sizes:
        measure(n, with_mlflow=n <= args.mlflow_max)
        gc.collect()


def measure(n: int, *, with_mlflow: bool) -> None:
    started = time.perf_counter()
    dicts = list(models(n, metric_rows=1))
    mlflow = baseline(dicts) if with_mlflow else None
    small = n <= 100_000
    inputs: Sequence[lmfilter.LoggedModel | Mapping[str, Any]] = (
        [lmfilter.LoggedModel.model_validate(d) for d in dicts] if small else dicts
    )
    del dicts
    gc.collect()
    gc.freeze()  # the inputs are long-lived: keep the collector off them, on both sides alike
    kind = "LoggedModel" if small else "dicts"
    print(f"\n{n:,} models (lmfilter input: {kind}, set up in {time.perf_counter() - started:.0f} s)")
    print("models per second; ratio = MLflow 3.17.2's time / lmfilter's, same models, same run")
    header = ("case", "MLflow", "table warm", "ratio", "table cold", "ratio", "select", "ratio", "same")
    print("{:<32} {:>10} {:>11} {:>6} {:>11} {:>6} {:>10} {:>6} {:>5}".format(*header))
    table = lmfilter.ModelTable(inputs)
    for i, (label, text, datasets, order_by) in enumerate(CASES):
        query = lmfilter.compile_query(text, datasets=datasets, order_by=order_by, target="mlflow-3.17")
        table.run(query)  # the first search of the shared table: its columns and order are now kept
        warm = timed(partial(table.run, query), repeats=3)
        cold = timed(partial(_cold, inputs, query)) if small else None
        select = timed(partial(query.select, inputs)) if small else None
        answers = {a[1:] for a in (warm, cold, select) if a is not None}
        base = mlflow[i] if mlflow else None
        if base is not None:
            answers.add(base[1:])
        same = "NO" if len(answers) > 1 else "yes" if base is not None else "-"
        cells = [label, rate(n, base)]
        for answer in (warm, cold, select):
            cells += [rate(n, answer), ratio(base, answer)]
        print("{:<32} {:>10} {:>11} {:>6} {:>11} {:>6} {:>10} {:>6}".format(*cells), f"{same:>5}")
    gc.unfreeze()


def _cold(inputs: Sequence[lmfilter.LoggedModel | Mapping[str, Any]], query: lmfilter.Query) -> list[Any]:
    return lmfilter.ModelTable(inputs).run(query)


def rate(n: int, answer: Answer | None) -> str:
    return "-" if answer is None else f"{n / answer[0]:,.0f}"


def ratio(base: Answer | None, answer: Answer | None) -> str:
    return "-" if base is None or answer is None else f"{base[0] / answer[0]:.1f}x"


if __name__ == "__main__":
    main()
