"""Smoke tests of the MLflow server harness (tests/servers.py, tests/conftest_servers.py).

They prove the fixtures start the right servers, that the seeded data set is what searches see,
and that SPEC §3's metric semantics differ between 3.17.2 ("any row") and 3.18.0 ("latest row").
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.servers import VERSIONS, RestError, Seeded, SeededServer, search_all

pytestmark = pytest.mark.mlflow


def _kv(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {i["key"]: i.get("value", "") for i in items or []}


def _params(model: dict[str, Any]) -> dict[str, str]:
    return _kv(model.get("data", {}).get("params"))


def _rows(model: dict[str, Any], key: str) -> list[tuple[int, int, float]]:
    """(step, timestamp, value) of every row of metric *key*."""
    return [
        (int(m.get("step", 0)), int(m["timestamp"]), float(m["value"]))
        for m in model.get("data", {}).get("metrics", [])
        if m["key"] == key
    ]


def _index_of(seeded: Seeded) -> dict[str, int]:
    return {mid: i for i, mid in seeded.plan_ids.items()}


def test_both_versions_run(mlflow_servers: dict[str, SeededServer]) -> None:
    assert sorted(mlflow_servers) == sorted(VERSIONS)
    for version, (server, seeded) in mlflow_servers.items():
        assert server.version == seeded.version == version
        assert httpx.get(f"{server.base_url}/version").text.strip() == version
        assert server.process.poll() is None


def test_317_and_318_fixtures(mlflow_server_317: SeededServer, mlflow_server_318: SeededServer) -> None:
    assert mlflow_server_317.server.version == "3.17.2"
    assert mlflow_server_318.server.version == "3.18.0"


def test_unfiltered_search_returns_every_seeded_model(mlflow_server: SeededServer) -> None:
    server, seeded = mlflow_server
    ids = search_all(server, seeded.experiment_ids, page_size=7)  # several pages
    assert len(ids) == len(set(ids))
    assert set(ids) == seeded.model_ids
    assert len(seeded.models) == 38
    assert len({m["info"]["experiment_id"] for m in seeded.models.values()}) == 2


def test_deleted_models_are_absent(mlflow_server: SeededServer) -> None:
    server, seeded = mlflow_server
    assert seeded.deleted_ids
    ids = set(search_all(server, seeded.experiment_ids, filter="name LIKE '%'"))
    assert ids.isdisjoint(seeded.deleted_ids)
    with pytest.raises(RestError) as info:
        server.rest.get(f"logged-models/{seeded.deleted_ids[0]}")
    assert (info.value.status, info.value.error_code) == (404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    ("key", "value"),
    [("lr", "0.01"), ("lr", "0.010"), ("lr", ""), ("optimizer", "Adam"), ("a.b", "x"), ("my key", "v")],
)
def test_param_equality_matches_python(mlflow_server: SeededServer, key: str, value: str) -> None:
    server, seeded = mlflow_server
    field = f"params.`{key}`" if " " in key else f"params.{key}"
    got = search_all(server, seeded.experiment_ids, filter=f"{field} = '{value}'")
    want = {mid for mid, m in seeded.models.items() if _params(m).get(key) == value}
    assert want
    assert set(got) == want


def test_rejected_search_raises_with_details(mlflow_server: SeededServer) -> None:
    server, seeded = mlflow_server
    with pytest.raises(RestError) as info:
        search_all(server, seeded.experiment_ids, filter="name = 'a' OR name = 'b'")
    assert info.value.status == 400
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "AND" in info.value.message


def test_metric_semantics_differ_between_versions(
    mlflow_server_317: SeededServer, mlflow_server_318: SeededServer
) -> None:
    """SPEC §3: 3.17 keeps a model when any row matches, 3.18 tests the latest (step, ts, value) row."""
    threshold = 0.9
    flt = f"metrics.acc > {threshold}"
    results: dict[str, set[int]] = {}
    for (server, seeded), rule in [(mlflow_server_317, "any"), (mlflow_server_318, "latest")]:
        want = set()
        for mid, model in seeded.models.items():
            rows = _rows(model, "acc")
            if not rows:
                continue
            hit = any(v > threshold for *_, v in rows) if rule == "any" else max(rows)[2] > threshold
            if hit:
                want.add(mid)
        got = set(search_all(server, seeded.experiment_ids, filter=flt))
        assert got == want, f"{server.version}: {flt}"
        index = _index_of(seeded)
        results[server.version] = {index[mid] for mid in got}
    # Model 0: acc 0.9x at step 0, latest (step 2) about 0.1.
    assert 0 in results["3.17.2"]
    assert 0 not in results["3.18.0"]
    assert results["3.18.0"] < results["3.17.2"]
