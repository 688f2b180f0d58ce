"""The server-facing commands (search, models, compile, explain) end to end against a real MLflow server."""

from __future__ import annotations

import json

import pytest

import lmfilter
from lmfilter.cli import main
from tests.servers import TARGETS, SeededServer


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_search_prints_what_select_finds(
    mlflow_server: SeededServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server, data = mlflow_server
    text = "params.optimizer ILIKE 'adam' OR model_type IS NULL"
    ids = [a for e in data.experiment_ids for a in ("--experiment-id", e)]
    status, out, _ = run(capsys, "search", text, "--server", server.base_url, *ids)
    assert status == 0
    expected = lmfilter.select(data.models.values(), text, target=TARGETS[server.version])
    assert out.split() == [m.model_id for m in expected]
    status, out, _ = run(
        capsys, "search", text, "--server", server.base_url, *ids, "--format", "json", "--max-results", "2"
    )
    assert status == 0
    assert [m["info"]["model_id"] for m in json.loads(out)] == [m.model_id for m in expected[:2]]
    status, out, _ = run(capsys, "search", text, "--server", server.base_url, *ids, "--format", "table")
    assert status == 0
    assert out.rstrip().endswith(f"{len(expected)} models")


def test_models_operations(mlflow_server: SeededServer, capsys: pytest.CaptureFixture[str]) -> None:
    server, _ = mlflow_server
    experiment = server.rest.post("experiments/create", {"name": f"cli-{server.version}"})["experiment_id"]
    where = ("--server", server.base_url)
    status, out, _ = run(
        capsys, "models", "create", "--experiment-id", experiment, "--name", "m", "--param", "lr=0.1", *where
    )
    assert status == 0
    model_id = json.loads(out)["info"]["model_id"]
    assert run(capsys, "models", "log-params", model_id, "alpha=2", *where)[0] == 0
    assert run(capsys, "models", "set-tags", model_id, "team=ml", "stage=dev", *where)[0] == 0
    assert run(capsys, "models", "delete-tag", model_id, "stage", *where)[0] == 0
    status, out, _ = run(capsys, "models", "finalize", model_id, "--status", "READY", *where)
    assert json.loads(out)["info"]["status"] == "LOGGED_MODEL_READY"
    status, out, _ = run(capsys, "models", "get", model_id, *where)
    info = json.loads(out)
    assert {t["key"] for t in info["info"]["tags"]} == {"team"}
    assert {p["key"]: p["value"] for p in info["data"]["params"]} == {"lr": "0.1", "alpha": "2"}
    assert run(capsys, "models", "delete", model_id, *where)[0] == 0
    status, _, err = run(capsys, "models", "get", model_id, *where)
    assert status == 1
    assert "RESOURCE_DOES_NOT_EXIST" in err
    status, _, err = run(capsys, "models", "log-params", model_id, "oops", *where)
    assert (status, "expected KEY=VALUE" in err) == (1, True)


def test_compile_and_explain_need_no_server(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "compile", "status = 'READY'", "--experiment-id", "7", "--target", "mlflow-3.17"
    )
    assert (status, json.loads(out)) == (0, {"experiment_ids": ["7"], "filter": "status = 2"})
    status, _, err = run(capsys, "compile", "name = 'a' OR name = 'b'", "--experiment-id", "7")
    assert status == 1
    assert "LMF301" in err
    status, out, _ = run(capsys, "explain", "name = 'a' OR name = 'b'", "--experiment-id", "7")
    assert status == 0
    assert "1 request" in out
    assert "name IN ('a', 'b')" in out


def test_models_pairs_as_json_and_mlflow_environment(
    mlflow_server: SeededServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where `mlflow` works, lmfilter does: MLFLOW_TRACKING_URI instead of --server; and pairs as JSON."""
    server, data = mlflow_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.base_url)
    experiment = server.rest.post("experiments/create", {"name": f"cli-json-{server.version}"})[
        "experiment_id"
    ]
    status, out, err = run(
        capsys,
        "models",
        "create",
        "--experiment-id",
        experiment,
        "--param",
        '{"a=b": "1", "lr": 0.5}',
        "--param",
        "opt=adam",
        "--tag",
        '[{"key": "team", "value": "ml"}]',
    )
    assert status == 0, err
    model_id = json.loads(out)["info"]["model_id"]
    assert run(capsys, "models", "log-params", model_id, '[["x", "1"]]', "y=2")[0] == 0
    status, out, _ = run(capsys, "models", "get", model_id)
    got = json.loads(out)
    params = {p["key"]: p["value"] for p in got["data"]["params"]}
    assert params == {"a=b": "1", "lr": "0.5", "opt": "adam", "x": "1", "y": "2"}
    assert [t["value"] for t in got["info"]["tags"] if t["key"] == "team"] == ["ml"]
    status, _, err = run(capsys, "models", "set-tags", model_id, '[{"value": "v"}]')
    assert status == 1
    assert "no 'key'" in err
    assert "Traceback" not in err
    ids = [a for e in data.experiment_ids for a in ("--experiment-id", e)]
    status, out, _ = run(capsys, "search", "name LIKE '%'", *ids)
    assert status == 0
    assert len(out.split()) == len(data.models)
