"""Deterministic synthetic logged models for benchmarks: realistic shapes, no server needed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

DATASETS = [("train", "t1"), ("eval", "e1"), ("eval", "e2"), ("test", "x9")]
MODEL_TYPES = ["sklearn", "pytorch", "agent", ""]
STATUSES = ["LOGGED_MODEL_READY", "LOGGED_MODEL_READY", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_UPLOAD_FAILED"]


def model(i: int, rng: random.Random, metric_rows: int = 3) -> dict[str, Any]:
    """One model: 4-6 params, 2-3 tags, 3 metrics of ``metric_rows`` rows (steps) each, on random datasets."""
    metrics = []
    for key in ("accuracy", "loss", "f1"):
        for step in range(metric_rows):
            name, digest = rng.choice(DATASETS)
            metrics.append(
                {
                    "key": key,
                    "value": rng.random(),
                    "timestamp": 1_700_000_000_000 + step * 1000 + rng.randrange(1000),
                    "step": step,
                    "dataset_name": name,
                    "dataset_digest": digest,
                    "model_id": f"m-{i:032x}",
                    "run_id": f"r{i % 97}",
                }
            )
    params = [
        {"key": "alpha", "value": f"{rng.random():.3f}"},
        {"key": "lr", "value": rng.choice(["0.1", "0.01", "0.001", "1e-4"])},
        {"key": "optimizer", "value": rng.choice(["adam", "sgd", "rmsprop"])},
        {"key": "layers", "value": str(rng.randrange(1, 9))},
    ]
    if i % 3:
        params.append({"key": "dropout", "value": f"{rng.random() / 2:.2f}"})
    tags = [{"key": "team", "value": rng.choice(["search", "ads", "ml-platform"])}]
    if i % 2:
        tags.append({"key": "stage", "value": rng.choice(["prod", "staging", "dev"])})
    return {
        "info": {
            "model_id": f"m-{i:032x}",
            "experiment_id": str(1 + i % 5),
            "name": f"model-{i}",
            "creation_timestamp_ms": 1_700_000_000_000 + i * 7 % 100_000,
            "last_updated_timestamp_ms": 1_700_000_000_000 + i * 11 % 100_000,
            "status": rng.choice(STATUSES),
            "model_type": rng.choice(MODEL_TYPES),
            "source_run_id": f"r{i % 97}",
            "tags": tags,
        },
        "data": {"params": params, "metrics": metrics},
    }


def models(n: int, seed: int = 7, metric_rows: int = 3) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        yield model(i, rng, metric_rows)
