"""Parse + validate speed: lmfilter (cold and cached) against MLflow 3.17.2's SQL-store parser, same corpus.

Run: .venv/bin/python benchmarks/parse_speed.py   (needs .venvs/mlflow-3.17.2 from scripts/install-mlflow.sh)

The baseline, ``mlflow.utils.search_logged_model_utils.parse_filter_string``, runs in the MLflow venv in a
subprocess on the same filters, timed the same way: best of 5 rounds over the corpus in each of PASSES
passes, the two sides' passes taking turns, so that a stretch of time when the shared machine runs slow
weighs on both alike.
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

PASSES = 5

CORPUS = [
    "metrics.validation_accuracy >= 0.9125",
    "params.optimizer_name = 'adam_weight_decay'",
    "tags.team = 'search' AND metrics.loss < 0.2",
    "name LIKE 'customer-churn-model-%'",
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
    "name LIKE 'fraud-detector-%' AND model_type IN ('xgboost', 'lightgbm', 'catboost') "
    "AND tags.`mlflow.user` = 'data-science-bot' AND metrics.`auc roc` >= 0.91 AND metrics.log_loss < 0.25 "
    "AND params.max_depth = '8' AND params.n_estimators = '500'",
    "metrics.precision_at_10 > 0.6 AND metrics.recall_at_10 > 0.4 AND metrics.ndcg_at_10 >= 0.55 "
    "AND metrics.mrr > 0.5 AND params.embedding_dim = '256' AND params.negative_samples = '20' "
    "AND tags.dataset = 'clicks-2024-q3' AND tags.stage != 'archived' "
    "AND last_updated_timestamp > 1719792000000",
]

BASELINE = """
import json, sys, time
from mlflow.utils.search_logged_model_utils import parse_filter_string
corpus = json.loads(sys.stdin.readline())
print("ready", flush=True)
while sys.stdin.readline():  # one line a pass: time it, best of 5 rounds
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for text in corpus:
            parse_filter_string(text)
        rounds.append(time.perf_counter() - started)
    print(json.dumps(min(rounds) / len(corpus)), flush=True)
"""


class Baseline:
    """MLflow's parser in its own venv, timing one pass of the corpus whenever asked."""

    def __init__(self) -> None:
        python = ROOT / ".venvs" / "mlflow-3.17.2" / "bin" / "python"
        self.process = subprocess.Popen(
            [str(python), "-c", BASELINE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._send(json.dumps(CORPUS))
        if self._receive() != "ready":
            raise RuntimeError("the MLflow baseline did not start")

    def per_filter(self) -> float:
        self._send("pass")
        return float(self._receive())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        if self.process.wait() != 0:
            raise RuntimeError("the MLflow baseline failed")

    def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def _receive(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()


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

    def cached(text: str) -> object:
        return lmfilter.check(text, target, native=True)

    mlflow = Baseline()
    cold_time = cached_time = mlflow_time = float("inf")
    for _ in range(PASSES):
        cold_time = min(cold_time, best_per_filter(cold))
        cached_time = min(cached_time, best_per_filter(cached))
        mlflow_time = min(mlflow_time, mlflow.per_filter())
    mlflow.close()
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
