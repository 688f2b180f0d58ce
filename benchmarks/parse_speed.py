"""Parse + validate speed: lmfilter (cold and cached) against MLflow 3.17.2's SQL-store parser, same corpus.

Run: .venv/bin/python benchmarks/parse_speed.py   (needs .venvs/mlflow-3.17.2 from scripts/install-mlflow.sh)

The baseline, ``mlflow.utils.search_logged_model_utils.parse_filter_string``, runs in the MLflow venv in a
subprocess on the same filters, timed the same way (best of 5 rounds over the corpus), in the same run.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import lmfilter  # noqa: E402
from lmfilter import front  # noqa: E402

CORPUS = [
    "metrics.accuracy > 0.9",
    "params.optimizer = 'adam'",
    "tags.team = 'search' AND metrics.loss < 0.2",
    "name LIKE 'churn-%'",
    "name ILIKE '%fraud%' AND model_type = 'sklearn'",
    "params.learning_rate = '0.001' AND params.batch_size = '64' AND metrics.f1 >= 0.8",
    "tags.`mlflow.source.git.commit` = 'a1b2c3d4e5f6'",
    "metrics.`val accuracy` > 0.85 AND params.`hidden units` = '128'",
    "creation_timestamp > 1700000000000 AND creation_timestamp < 1710000000000",
    "model_type IN ('sklearn', 'pytorch', 'xgboost')",
    "tags.stage NOT IN ('archived', 'deprecated') AND metrics.auc > 0.75",
    "source_run_id = '8f14e45fceea167a5a36dedd4bea2543'",
    "model_id = 'm-0123456789abcdef0123456789abcdef'",
    "params.model.depth = '12' AND params.model.width = '256' AND metrics.latency_ms < 35.5",
    "metrics.rmse <= 1.25e-2 AND metrics.mae <= 0.5 AND metrics.r2 > 0.9 AND params.alpha = '0.1'",
    "last_updated_timestamp >= 1705000000000 AND tags.owner = 'ml-platform'",
    "name = 'customer-churn-classifier-v2' AND tags.environment = 'production' AND metrics.precision > 0.92",
    "params.framework ILIKE 'tensor%' AND params.version LIKE '2.%' AND metrics.throughput > 1000",
    "tags.dataset_version = '2024-06-01' AND metrics.eval_loss < 0.35 AND metrics.train_loss < 0.3",
    "params.optimizer IN ('adam', 'adamw', 'sgd') AND params.scheduler != 'none' "
    "AND metrics.accuracy >= 0.88",
    "metrics.accuracy > 0.9 AND metrics.precision > 0.85 AND metrics.recall > 0.8 AND metrics.f1 > 0.82 "
    "AND params.epochs = '50' AND tags.team = 'vision'",
    "tags.`team:owner` = 'ml-platform' AND creation_time > 1700000000000 AND model_type = 'agent'",
]

BASELINE = """
import json, sys, time
from mlflow.utils.search_logged_model_utils import parse_filter_string
corpus = json.loads(sys.stdin.read())
rounds = []
for _ in range(5):
    started = time.perf_counter()
    for text in corpus:
        parse_filter_string(text)
    rounds.append(time.perf_counter() - started)
print(json.dumps(min(rounds) / len(corpus)))
"""


def baseline() -> float:
    python = ROOT / ".venvs" / "mlflow-3.17.2" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", BASELINE], input=json.dumps(CORPUS), capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def best_per_filter(check: object) -> float:
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for text in CORPUS:
            check(text)  # type: ignore[operator]
        rounds.append(time.perf_counter() - started)
    return min(rounds) / len(CORPUS)


def main() -> None:
    target = lmfilter.get_target("mlflow-3.17")
    lmfilter.parse("name = 'warm the parser up'")  # the one Lark parser of the process is built once

    def cold(text: str) -> object:
        return front._analyze.__wrapped__(text, target, True)  # the uncached path: parse and check

    cold_time = best_per_filter(cold)
    cached_time = best_per_filter(lambda text: lmfilter.check(text, target, native=True))
    mlflow_time = baseline()
    lengths = [len(t) for t in CORPUS]
    median = statistics.median(lengths)
    print(f"{len(CORPUS)} native filters, {min(lengths)}-{max(lengths)} characters (median {median:.0f})")
    print(f"{'':<34} {'µs/filter':>10} {'vs MLflow':>10}")
    print(f"{'MLflow 3.17.2 parse_filter_string':<34} {mlflow_time * 1e6:>10.1f} {'1.0x':>10}")
    for label, seconds in (
        ("lmfilter parse + check, cold", cold_time),
        ("lmfilter parse + check, cached", cached_time),
    ):
        print(f"{label:<34} {seconds * 1e6:>10.1f} {mlflow_time / seconds:>9.1f}x")


if __name__ == "__main__":
    main()
