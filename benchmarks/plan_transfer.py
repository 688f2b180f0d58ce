"""What a planned search costs in HTTP requests and models transferred, against fetching everything.

Run: .venv/bin/python benchmarks/plan_transfer.py [N]   (N synthetic models, default 600; needs the MLflow
venvs of scripts/install-mlflow.sh)

Starts a real MLflow 3.18 server, creates N models (params, tags, metrics on datasets), then for each filter
runs ``Client.search`` (the plan) and the naive baseline (every page of every model, then ``select``),
counting
the requests and the models each transferred, and checks that both found the same models in the same order.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

from synthetic import models  # noqa: E402
from tests.servers import MlflowServer  # noqa: E402

import lmfilter  # noqa: E402
from lmfilter.client import Client  # noqa: E402

FILTERS = [
    "params.optimizer = 'adam' OR tags.team = 'search'",
    "(params.lr = '0.1' OR params.lr = '0.01') AND tags.stage = 'prod'",
    "params.optimizer = 'sgd' AND metrics.accuracy > 0.9",
    "params.alpha < 0.05 AND status = 'READY'",
    "NOT tags.team = 'ads' AND model_type IS NULL",
    "name = 'model-1' AND name = 'model-2'",
]


class Counting(httpx.BaseTransport):
    """Counts search requests and the models their answers carry."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests = 0
        self.models = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path.endswith("logged-models/search"):
            response.read()
            self.requests += 1
            self.models += len(response.json().get("models", []))
        return response


def seed(server: MlflowServer, n: int) -> str:
    rest = server.rest
    experiment = rest.post("experiments/create", {"name": "plan-benchmark"})["experiment_id"]
    run = rest.post("runs/create", {"experiment_id": experiment})["run"]["info"]["run_id"]

    def create(model: dict[str, Any]) -> list[dict[str, Any]]:
        info, data = model["info"], model["data"]
        body = {
            "experiment_id": experiment,
            "name": info["name"],
            "params": data["params"],
            "tags": info["tags"],
            **({"model_type": info["model_type"]} if info["model_type"] else {}),
        }
        model_id = rest.post("logged-models", body)["model"]["info"]["model_id"]
        if info["status"] != "LOGGED_MODEL_PENDING":
            rest.patch(f"logged-models/{model_id}", {"model_id": model_id, "status": info["status"]})
        return [{**m, "model_id": model_id} for m in data["metrics"]]

    with ThreadPoolExecutor(4) as pool:
        rows = [row for rows in pool.map(create, models(n)) for row in rows]
    for k in range(0, len(rows), 1000):
        rest.post("runs/log-batch", {"run_id": run, "metrics": rows[k : k + 1000]})
    return experiment


def naive(base_url: str, experiment: str, text: str) -> tuple[list[str], Counting]:
    counting = Counting()
    with Client(base_url, transport=counting, target="mlflow") as client:
        everything = list(client.search(experiment_ids=[experiment]))
    return [m.model_id for m in lmfilter.select(everything, text)], counting


def planned(base_url: str, experiment: str, text: str) -> tuple[list[str], Counting, int]:
    counting = Counting()
    with Client(base_url, transport=counting, target="mlflow") as client:
        steps = len(client.plan(text, experiment_ids=[experiment]).requests)
        return [m.model_id for m in client.search(text, experiment_ids=[experiment])], counting, steps


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    with MlflowServer.start("3.18.0", ROOT / ".venvs") as server:
        started = time.perf_counter()
        experiment = seed(server, n)
        print(f"MLflow 3.18.0, {n} models seeded in {time.perf_counter() - started:.0f} s; pages of 100")
        header = ("filter", "plan req", "models", "naive req", "models", "transfer")
        print("{:<68} {:>8} {:>7}  {:>9} {:>7}  {:>8}".format(*header))
        for text in FILTERS:
            found, plan_count, _ = planned(server.base_url, experiment, text)
            expected, naive_count = naive(server.base_url, experiment, text)
            assert found == expected, text
            ratio = plan_count.models / naive_count.models
            print(
                f"{text:<68} {plan_count.requests:>8} {plan_count.models:>7}  "
                f"{naive_count.requests:>9} {naive_count.models:>7}  {ratio:>7.1%}"
            )


if __name__ == "__main__":
    main()
