"""Pull speed: 5,000 models from a real MLflow 3.18.0 server into a model store, then 100 changes and an
incremental pull, against a full re-pull (the naive way to catch up) measured in the same run.

    .venv/bin/python benchmarks/pull_speed.py [--models 5000] [--changes 100] [--page-size 1000]

Needs the MLflow 3.18.0 venv of ``scripts/install-mlflow.sh`` (``.venvs/mlflow-3.18.0``). The server is
started as the tests start it (``tests/servers.py``: one worker, SQLite, loopback).

How the 5,000 models are made: creating them one REST call at a time takes minutes, so the script runs
MLflow's own ``SqlAlchemyStore.create_logged_model`` in the server's venv, on the server's database, while
the server runs. Each model is what ``POST logged-models`` makes (the same function does it behind the
server: ids, timestamps, artifact location, params and tags); only the HTTP hop is skipped. The 100 changes
go through the REST API, as a user's would: half finalize existing models (which moves their
``last_updated_timestamp``), half create new ones.

What it prints: for each pull, the requests sent, the models fetched ("moved") and written, and seconds;
then the incremental pull against the full re-pull (requests, models moved, seconds). MLflow stamps only
creations, finalizes and deletions, so tag, param and metric changes and deletions need the full pull
(``full=True``, ``--full``, or the periodic one; see ``lmfilter.sql.pull``).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests/servers.py starts the server

from tests.servers import MlflowServer  # noqa: E402

from lmfilter import Client, ModelStore  # noqa: E402
from lmfilter.sql.pull import PullReport  # noqa: E402

VERSION = "3.18.0"


def seed(server: MlflowServer, client: Client, experiment: str, count: int) -> float:
    """Write ``count`` models into the server's database in one transaction (rows as ``POST logged-models``
    writes them: a PENDING model, its params and tags, one millisecond apart); check that the server
    answers for one of them as for a model made through REST; the seconds it took."""
    made = client.create(
        experiment_id=experiment, name="made-by-rest", params={"lr": "0"}, tags={"kind": "x"}
    )
    client.delete(made.model_id)
    started = time.perf_counter()
    base = made.info.creation_timestamp_ms or 0
    location = (made.info.artifact_uri or "").rsplit("/models/", 1)[0]
    models, params, tags = [], [], []
    for i in range(count):
        model_id = f"m-{uuid.uuid4().hex}"
        stamp = base - count + i  # before the REST model: a pull sees them in this order
        models.append(
            (model_id, int(experiment), f"model-{i}", f"{location}/models/{model_id}/artifacts", stamp, stamp,
             1, "active", "agent" if i % 3 else None, None, None)
        )  # fmt: skip
        owner = (model_id, int(experiment))
        params += [(*owner, "lr", str(0.001 * (i % 100))), (*owner, "layers", str(i % 7))]
        tags += [(*owner, "team", f"team-{i % 5}"), (*owner, "kind", "bench")]
    with sqlite3.connect(server.tmpdir / "mlflow.db", timeout=60) as db:
        db.executemany(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, "
            "creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, "
            "source_run_id, status_message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            models,
        )
        for kind, rows in (("param", params), ("tag", tags)):
            db.executemany(
                f"INSERT INTO logged_model_{kind}s (model_id, experiment_id, {kind}_key, {kind}_value) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
    seconds = time.perf_counter() - started
    one = client.get(models[0][0])
    assert one.model_dump().keys() == made.model_dump().keys()
    assert (one.info.status, one.info.artifact_uri) == (made.info.status, models[0][3]), one
    return seconds


def change(client: Client, experiment: str, model_ids: list[str], count: int) -> None:
    """``count`` changes through REST: half finalize existing models, half create new ones."""
    finalized = count // 2
    for model_id in model_ids[:finalized]:
        client.finalize(model_id, "READY")
    for i in range(count - finalized):
        client.create(experiment_id=experiment, name=f"new-{i}", params={"lr": "0.5"})


def line(what: str, report: PullReport) -> str:
    return (
        f"{what:<22} {report.requests:>8,} {report.fetched:>8,} "
        f"{report.added + report.updated + report.refreshed + report.deleted:>8,} {report.seconds:>8.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()

    with MlflowServer.start(VERSION, REPO / ".venvs") as server, Client(server.base_url) as client:
        experiment = server.rest.post("experiments/create", {"name": "pull-speed"})["experiment_id"]
        seconds = seed(server, client, experiment, args.models)
        print(f"MLflow {VERSION}, {args.models:,} models written in {seconds:.1f} s (into its database)")
        with tempfile.TemporaryDirectory() as folder, ModelStore(Path(folder) / "models.duckdb") as store:
            first = store.pull(client, experiment, page_size=args.page_size)
            assert len(store) == args.models, len(store)
            change(client, experiment, store.ids(order_by=[{"field_name": "name"}]), args.changes)
            incremental = store.pull(client, experiment, page_size=args.page_size)
            wanted = list(client.search(None, experiment_ids=[experiment]))
            assert store.select(experiment_ids=[experiment]) == wanted, "the incremental pull missed a change"
            full = store.pull(client, experiment, full=True, page_size=args.page_size)
            assert store.select(experiment_ids=[experiment]) == wanted, "the full pull differs"
        print(f"page size {args.page_size:,}; {args.changes} changes (finalize half, create half)\n")
        print(f"{'pull':<22} {'requests':>8} {'moved':>8} {'written':>8} {'seconds':>8}")
        print(line("first (full)", first))
        print(line("incremental", incremental))
        print(line("full re-pull (naive)", full))
        print(
            "\nincremental against the full re-pull: "
            f"{full.requests / max(incremental.requests, 1):.0f}x fewer requests, "
            f"{full.fetched / max(incremental.fetched, 1):.0f}x fewer models moved, "
            f"{full.seconds / max(incremental.seconds, 1e-9):.0f}x faster"
        )


if __name__ == "__main__":
    main()
