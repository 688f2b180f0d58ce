"""Filter + order speed: lmfilter.select against MLflow 3.17.2's in-memory logged-model filter, same models.

Run: .venv/bin/python benchmarks/filter_speed.py [N ...]   (default 10000 100000; needs .venvs/mlflow-3.17.2)

The models come from one JSON file (benchmarks/synthetic.py). The baseline builds MLflow ``LoggedModel``
entities from the JSON (not timed) and times ``SearchLoggedModelsUtils.filter_logged_models`` then ``.sort``;
lmfilter is timed from ``LoggedModel`` objects built from the same JSON (not timed) and from the raw dicts.
Both run in this run, one after the other, on the same machine. MLflow's in-memory filter compares a metric's
*first* row (neither 3.17's any row nor 3.18's latest), so its answers can differ; the table says when.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(Path(__file__).parent)]

from synthetic import models  # noqa: E402

import lmfilter  # noqa: E402

CASES: list[tuple[str, str, list[dict[str, str]] | None, list[dict[str, object]] | None]] = [
    ("1 condition", "metrics.accuracy > 0.5", None, None),
    ("2 conditions", "metrics.accuracy > 0.5 AND params.optimizer = 'adam'", None, None),
    (
        "4 conditions",
        "metrics.accuracy > 0.5 AND params.optimizer = 'adam' AND tags.team = 'search' "
        "AND model_type = 'sklearn'",
        None,
        None,
    ),
    (
        "2 conditions + datasets",
        "metrics.accuracy > 0.5 AND params.optimizer = 'adam'",
        [{"dataset_name": "eval", "dataset_digest": "e1"}],
        None,
    ),
    (
        "2 conditions + order_by",
        "metrics.accuracy > 0.5 AND params.optimizer = 'adam'",
        None,
        [{"field_name": "name", "ascending": True}],
    ),
]

BASELINE = """
import json, sys, time
from google.protobuf.json_format import ParseDict
from mlflow.entities import LoggedModel
from mlflow.protos import service_pb2 as pb2
from mlflow.utils.search_utils import SearchLoggedModelsUtils as U
path, cases = sys.argv[1], json.loads(sys.argv[2])
with open(path) as f:
    raw = json.load(f)
models = [LoggedModel.from_proto(ParseDict(m, pb2.LoggedModel(), ignore_unknown_fields=True)) for m in raw]
out = []
for text, datasets, order_by in cases:
    best = None
    for _ in range(3):
        started = time.perf_counter()
        found = U.filter_logged_models(models, text, datasets)
        found = U.sort(found, order_by or [])
        took = time.perf_counter() - started
        best = took if best is None else min(best, took)
    out.append([best, len(found)])
print(json.dumps(out))
"""


def baseline(path: Path) -> list[tuple[float, int]]:
    python = ROOT / ".venvs" / "mlflow-3.17.2" / "bin" / "python"
    cases = json.dumps([[text, datasets, order_by] for _, text, datasets, order_by in CASES])
    done = subprocess.run(
        [str(python), "-c", BASELINE, str(path), cases], capture_output=True, text=True, check=True
    )
    return [(t, n) for t, n in json.loads(done.stdout.strip().splitlines()[-1])]


def best_of(repeats: int, run: Callable[[], list[lmfilter.LoggedModel]]) -> tuple[float, int]:
    best, found = float("inf"), 0
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
        found = len(result)
    return best, found


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    for n in sizes:
        dicts = list(models(n))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "models.json"
            path.write_text(json.dumps(dicts))
            mlflow = baseline(path)
        parsed = [lmfilter.LoggedModel.model_validate(d) for d in dicts]
        gc.freeze()
        print(f"\n{n:,} models (the same JSON for both); best of 3, models per second")
        header = ("case", "MLflow 3.17.2", "lmfilter models", "ratio", "lmfilter dicts", "ratio")
        print("{:<26} {:>14} {:>16} {:>6} {:>15} {:>6}".format(*header))
        for (label, text, datasets, order_by), (base_s, base_n) in zip(CASES, mlflow, strict=True):
            # Under MLflow 3.17's semantics, the closest to what its in-memory filter answers.
            query = lmfilter.compile_query(text, datasets=datasets, order_by=order_by, target="mlflow-3.17")
            on_models, found = best_of(3, partial(query.select, parsed))
            on_dicts, _ = best_of(3, partial(query.select, dicts))
            note = "" if found == base_n else f"  (matches differ: MLflow {base_n}, lmfilter {found})"
            print(
                f"{label:<26} {n / base_s:>14,.0f} {n / on_models:>16,.0f} {base_s / on_models:>5.1f}x "
                f"{n / on_dicts:>15,.0f} {base_s / on_dicts:>5.1f}x{note}"
            )
        gc.unfreeze()


if __name__ == "__main__":
    main()
