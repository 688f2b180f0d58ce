"""Throughput of lmfilter.select over synthetic models: models per second, by filter size.

Run: .venv/bin/python benchmarks/evaluate_throughput.py [N]   (N models, default 100000)

Prints, for a 2- and a 4-condition filter, with and without datasets/order_by, the models per second
for API-JSON dicts (validated into LoggedModel as they stream) and for LoggedModel objects built beforehand.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import models

import lmfilter

CASES = [
    ("2 conditions", "metrics.accuracy > 0.5 AND params.optimizer = 'adam'", None, None),
    (
        "4 conditions",
        "metrics.accuracy > 0.5 AND params.optimizer = 'adam' AND tags.team = 'search' AND status = 'READY'",
        None,
        None,
    ),
    (
        "4 conditions + datasets + order_by",
        "metrics.accuracy > 0.5 AND params.optimizer = 'adam' AND tags.team = 'search' AND status = 'READY'",
        [{"dataset_name": "eval"}],
        [{"field_name": "metrics.loss", "ascending": True}],
    ),
]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} models/s"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    dicts = list(models(n))
    started = time.perf_counter()
    parsed = [lmfilter.LoggedModel.model_validate(d) for d in dicts]
    print(
        f"{n:,} synthetic models; validating them into LoggedModel: {rate(n, time.perf_counter() - started)}"
    )
    print(f"{'case':<38} {'from dicts':>22} {'from LoggedModel':>22} {'matches':>8}")
    for label, text, datasets, order_by in CASES:
        timings = []
        for source in (dicts, parsed):
            started = time.perf_counter()
            found = lmfilter.select(source, text, datasets=datasets, order_by=order_by)
            timings.append(time.perf_counter() - started)
        print(f"{label:<38} {rate(n, timings[0]):>22} {rate(n, timings[1]):>22} {len(found):>8,}")


if __name__ == "__main__":
    main()
