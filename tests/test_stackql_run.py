"""Running the StackQL statements of databricks_workspace.ml.logged_models (lmfilter.stackql_run, and the
``lmfilter stackql`` command).

Every example statement of ``examples/logged_models.iql`` (the provider page's, one per method), filled in,
runs against the real MLflow 3.17.2 and 3.18.0 servers and leaves what the equivalent ``Client`` call does;
against a MockTransport Databricks (no workspace is reachable) each sends the URL, method, body and
Authorization header the API documents. The hostile cases run against real scripted servers on 127.0.0.1:
one that fails mid-file, one whose pages never end, ids that no URL or no MLflow route takes, and values
that try to become statements.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lmfilter.cli import main
from lmfilter.client import Client, NotFoundError, PageLimits, PagingError, ServerError
from lmfilter.stackql import parse_statements
from lmfilter.stackql_run import (
    DESPATCHED,
    StatementFailedError,
    StatementResult,
    StatementsError,
    prepare,
    run_statements,
    variables_used,
)
from tests.hostile_server import HostileServer, Reply, Seen
from tests.servers import MlflowServer, SeededServer

JSON = dict[str, Any]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "logged_models.iql"
EXAMPLE_TEXT = EXAMPLES.read_text(encoding="utf-8")
METHODS = ("get", "create", "delete_tag", "delete", "finalize", "log_params", "search", "set_tags")
ACME = "https://acme.cloud.databricks.com"
TOKEN = "dapi-SECRET-0123456789"
DEPLOYMENT = "dbc-abcd0123-a1bc"  # the page's default deployment name (only the grammar needs it on MLflow)


def example(method: str) -> str:
    """The page's example statement of ``method``, exactly as the examples file has it."""
    (statement,) = [s for s in parse_statements(EXAMPLE_TEXT).statements if s.method == method]
    return EXAMPLE_TEXT[statement.span.start : statement.span.end] + ";"


def run(text: str, client: Client, **variables: str) -> list[StatementResult]:
    return list(run_statements(client, text, variables))


def model_json(model_id: str = "m-1", **info: Any) -> JSON:
    return {"info": {"model_id": model_id, "experiment_id": "1", "name": "a", **info}}


def state(model: JSON) -> JSON:
    """What a model holds, without what differs between two models made alike (ids, times, places)."""
    info = {
        k: v
        for k, v in model["info"].items()
        if k not in ("model_id", "creation_timestamp_ms", "last_updated_timestamp_ms", "artifact_uri")
    }
    info["tags"] = sorted((t["key"], t["value"]) for t in info.get("tags", []))
    data = {"params": sorted((p["key"], p["value"]) for p in model.get("data", {}).get("params", []))}
    return {"info": info, "data": data}


def test_the_examples_file_holds_one_statement_per_method_of_the_page() -> None:
    statements = parse_statements(EXAMPLE_TEXT).statements
    assert [s.method for s in statements] == list(METHODS)
    assert set(variables_used(EXAMPLE_TEXT)) >= {"model_id", "deployment_name", "filter", "tags", "params"}


# ---- the examples against the real MLflow servers ----------------------------------------------------


def new_experiment(server: MlflowServer) -> str:
    name = f"lmfilter-stackql-{uuid.uuid4().hex[:12]}"
    experiment_id: str = server.rest.post("experiments/create", {"name": name})["experiment_id"]
    return experiment_id


@pytest.fixture
def mlflow(mlflow_server: SeededServer) -> Iterator[tuple[Client, str]]:
    """A client of the server, and a fresh experiment of this test's own."""
    with Client(mlflow_server.server.base_url) as client:
        yield client, new_experiment(mlflow_server.server)


def twins(client: Client, experiment: str) -> tuple[str, str]:
    """Two models made alike: one for the statement, one for the equivalent Client call."""
    made = [
        client.create(experiment, name="twin", params={"lr": "0.1"}, tags={"team": "ml", "stage": "dev"})
        for _ in range(2)
    ]
    return made[0].model_id, made[1].model_id


def test_example_get(mlflow: tuple[Client, str]) -> None:
    client, experiment = mlflow
    model_id, _ = twins(client, experiment)
    (result,) = run(example("get"), client, model_id=model_id, deployment_name=DEPLOYMENT)
    assert (result.number, result.line, result.method) == (1, 1, "get")
    assert result.columns == ("model",)
    assert result.rows == ({"model": client.get(model_id).to_json()},)
    assert result.message is None


def test_example_create(mlflow: tuple[Client, str], mlflow_server: SeededServer) -> None:
    client, experiment = mlflow
    run_id = mlflow_server.server.rest.post("runs/create", {"experiment_id": experiment})["run"]["info"][
        "run_id"
    ]
    variables = {
        "experiment_id": experiment,
        "model_type": "LLM",
        "name": "modèle-α 1",
        "params": '[{"key": "lr", "value": "0.1"}, {"key": "α", "value": "x\'y"}]',
        "source_run_id": run_id,
        "tags": '[{"key": "team", "value": "ml"}]',
        "deployment_name": DEPLOYMENT,
    }
    (result,) = run(example("create"), client, **variables)
    (row,) = result.rows
    created = row["model"]
    assert created == client.get(created["info"]["model_id"]).to_json()
    expected = client.create(
        experiment,
        name="modèle-α 1",
        model_type="LLM",
        source_run_id=run_id,
        params=[("lr", "0.1"), ("α", "x'y")],
        tags={"team": "ml"},
    )
    assert state(created) == state(expected.to_json())
    assert state(created)["data"]["params"] == [("lr", "0.1"), ("α", "x'y")]


def test_example_create_with_the_optional_columns_empty(mlflow: tuple[Client, str]) -> None:
    client, experiment = mlflow
    empty = dict.fromkeys(("model_type", "name", "source_run_id"), "")
    (result,) = run(
        example("create"),
        client,
        experiment_id=experiment,
        params="[]",
        tags="[]",
        deployment_name=DEPLOYMENT,
        **empty,
    )
    created = result.models[0]
    assert created.info.name  # not given: the server made one up, as for client.create(experiment)
    assert (
        state(result.rows[0]["model"])["info"].keys()
        == state(client.create(experiment).to_json())["info"].keys()
    )


@pytest.mark.parametrize(
    ("method", "variables", "equivalent"),
    [
        ("delete_tag", {"tag_key": "stage"}, lambda c, m: c.delete_tag(m, "stage")),
        ("finalize", {"status": "LOGGED_MODEL_READY"}, lambda c, m: c.finalize(m, "READY")),
        (
            "log_params",
            {"params": '[{"key": "alpha", "value": "2"}]'},
            lambda c, m: c.log_params(m, {"alpha": "2"}),
        ),
        (
            "set_tags",
            {"tags": '[{"key": "stage", "value": "prod"}, {"key": "owner", "value": "é"}]'},
            lambda c, m: c.set_tags(m, {"stage": "prod", "owner": "é"}),
        ),
    ],
)
def test_example_changes_a_model_as_the_client_call_does(
    mlflow: tuple[Client, str],
    method: str,
    variables: dict[str, str],
    equivalent: Callable[[Client, str], Any],
) -> None:
    client, experiment = mlflow
    ours, theirs = twins(client, experiment)
    (result,) = run(example(method), client, model_id=ours, deployment_name=DEPLOYMENT, **variables)
    equivalent(client, theirs)
    assert state(client.get(ours).to_json()) == state(client.get(theirs).to_json())
    assert result.method == method
    if method == "finalize":  # PATCH answers the model
        assert result.rows == ({"model": client.get(ours).to_json()},)
        assert client.get(ours).info.status.name == "READY"
    else:  # the others answer {}: StackQL prints its words, no row
        assert (result.rows, result.message) == ((), DESPATCHED)


def test_example_delete(mlflow: tuple[Client, str]) -> None:
    client, experiment = mlflow
    ours, theirs = twins(client, experiment)
    (result,) = run(example("delete"), client, model_id=ours, deployment_name=DEPLOYMENT)
    client.delete(theirs)
    assert (result.rows, result.message) == ((), DESPATCHED)
    for gone in (ours, theirs):
        with pytest.raises(NotFoundError):
            client.get(gone)


def search_variables(experiment: str, **given: str) -> dict[str, str]:
    return {
        "deployment_name": DEPLOYMENT,
        "datasets": "[]",
        "experiment_ids": json.dumps([experiment]),
        "filter": "params.lr = '0.1'",
        "max_results": "50",
        "order_by": '[{"field_name": "name", "ascending": true}]',
        "page_token": "",
        **given,
    }


def test_example_search_pages_through_every_model(mlflow_server: SeededServer) -> None:
    server = mlflow_server.server
    experiment = new_experiment(server)
    with Client(server.base_url, page_size=2) as client:
        for i in range(5):
            client.create(experiment, name=f"n{4 - i}", params={"lr": "0.1"})
        client.create(experiment, name="other", params={"lr": "0.2"})
        (result,) = run(example("search"), client, **search_variables(experiment))
        expected = list(
            client.search("params.lr = '0.1'", experiment_ids=[experiment], order_by=[{"field_name": "name"}])
        )
        (capped,) = run(example("search"), client, **search_variables(experiment, max_results="3"))
    assert [r["model"] for r in result.rows] == [m.to_json() for m in expected]
    assert [m.info.name for m in result.models] == ["n0", "n1", "n2", "n3", "n4"]  # 3 pages of 2
    assert [m.model_id for m in capped.models] == [m.model_id for m in expected[:3]]


def test_example_search_starts_at_a_page_token(mlflow_server: SeededServer) -> None:
    server = mlflow_server.server
    experiment = new_experiment(server)
    with Client(server.base_url) as client:
        for i in range(5):
            client.create(experiment, name=f"n{i}", params={"lr": "0.1"})
        first = client.search_page(
            "params.lr = '0.1'", experiment_ids=[experiment], order_by=[{"field_name": "name"}], max_results=2
        )
        assert first.next_page_token
        variables = search_variables(experiment, page_token=first.next_page_token)
        (result,) = run(example("search"), client, **variables)
    assert [m.info.name for m in first.models] == ["n0", "n1"]
    assert [m.info.name for m in result.models] == ["n2", "n3", "n4"]


def test_the_whole_examples_file_runs_in_order(mlflow: tuple[Client, str]) -> None:
    """The page's file as one run: each statement's result in order (delete_tag and delete act on a model
    that is gone by finalize: the page's order is not a workflow, so the file is trimmed to one)."""
    client, experiment = mlflow
    model_id, _ = twins(client, experiment)
    text = "\n".join(
        example(m) for m in ("get", "set_tags", "log_params", "finalize", "delete_tag", "search")
    )
    variables = search_variables(experiment) | {
        "model_id": model_id,
        "tags": '[{"key": "k", "value": "v"}]',
        "params": '[{"key": "alpha", "value": "1"}]',
        "status": "LOGGED_MODEL_READY",
        "tag_key": "k",
    }
    results = run(text, client, **variables)
    assert [r.method for r in results] == [
        "get",
        "set_tags",
        "log_params",
        "finalize",
        "delete_tag",
        "search",
    ]
    assert [r.number for r in results] == [1, 2, 3, 4, 5, 6]
    final = client.get(model_id)
    assert final.info.status.name == "READY"
    assert final.data.param("alpha") == "1"
    assert final.info.tag("k") is None
    assert [m.model_id for m in results[-1].models] == [
        m.model_id for m in client.search("params.lr = '0.1'", experiment_ids=[experiment])
    ]


def test_a_filter_3_17_cannot_run_is_found_after_asking_the_version(mlflow_server: SeededServer) -> None:
    """``status = 'READY'`` reads on MLflow 3.18 and not on 3.17: with the version unknown, the server is
    asked (GET /version, a read) and nothing else is sent where it does not read."""
    server = mlflow_server.server
    experiment = new_experiment(server)
    seen: list[str] = []
    transport = httpx.HTTPTransport()

    class Recording(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(f"{request.method} {request.url.path}")
            return transport.handle_request(request)

    with Client(server.base_url, transport=Recording()) as client:
        text = example("search")
        variables = search_variables(experiment, filter="status = 'READY'")
        if server.version.startswith("3.17"):
            with pytest.raises(StatementsError) as raised:
                run(text, client, **variables)
            assert [d.code for d in raised.value.errors] == ["LMF309"]
            assert seen == ["GET /version"]
        else:
            assert run(text, client, **variables)[0].models == ()
            assert seen == ["GET /version", "POST /api/2.0/mlflow/logged-models/search"]


def test_cli_runs_the_examples_against_a_server(
    mlflow: tuple[Client, str],
    mlflow_server: SeededServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, experiment = mlflow
    model_id, _ = twins(client, experiment)
    path = tmp_path / "run.iql"
    path.write_text(example("get") + "\n" + example("set_tags") + "\n" + example("search"), encoding="utf-8")
    variables = search_variables(experiment) | {"model_id": model_id, "tags": '[{"key": "k", "value": "v"}]'}
    given = [f"--var={name}={value}" for name, value in variables.items()]
    where = ("--server", mlflow_server.server.base_url)
    status = main(["stackql", str(path), *given, *where, "--format", "json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    results = json.loads(out)
    second = 1 + example("get").count("\n") + 1
    third = second + example("set_tags").count("\n") + 1
    assert [(r["statement"], r["line"], r["method"]) for r in results] == [
        (1, 1, "get"),
        (2, second, "set_tags"),
        (3, third, "search"),
    ]
    assert results[1] == {
        "statement": 2,
        "line": second,
        "method": "set_tags",
        "rows": [],
        "message": DESPATCHED,
    }
    assert [r["model"]["info"]["model_id"] for r in results[2]["rows"]] == [
        m.model_id for m in client.search("params.lr = '0.1'", experiment_ids=[experiment])
    ]
    assert main(["stackql", str(path), *given, *where]) == 0
    table, _ = capsys.readouterr()
    assert f"-- statement 2 (line {second}): set_tags\n" + DESPATCHED in table
    assert "params.lr" in table  # the search's table shows the filter's fields
    assert table.rstrip().endswith("2 models")


# ---- the examples against a Databricks workspace (MockTransport: none is reachable) -----------------


class Workspace:
    """A stand-in workspace: answers each operation as the API does, and records every request."""

    def __init__(self, pages: int = 1) -> None:
        self.requests: list[httpx.Request] = []
        self.pages = pages

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.raw_path.decode()
        if path.endswith("/logged-models/search"):
            body = json.loads(request.content)
            page = int(body.get("page_token") or 0)
            answer: JSON = {"models": [model_json(f"m-{page}")]}
            if page + 1 < self.pages:
                answer["next_page_token"] = str(page + 1)
            return httpx.Response(200, json=answer)
        if (request.method in ("GET", "PATCH") and "/tags" not in path) or path.endswith("/logged-models"):
            return httpx.Response(200, json={"model": model_json()})
        return httpx.Response(200, json={})

    def seen(self) -> list[tuple[str, str, JSON | None, str | None]]:
        return [
            (
                r.method,
                str(r.url.raw_path.decode()),
                json.loads(r.content) if r.content else None,
                r.headers.get("Authorization"),
            )
            for r in self.requests
        ]


def workspace_client(workspace: Workspace, **options: Any) -> Client:
    return Client.for_databricks("acme", TOKEN, transport=httpx.MockTransport(workspace), **options)


API = "/api/2.0/mlflow/logged-models"
BEARER = f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("method", "variables", "sent"),
    [
        ("get", {"model_id": "m-1"}, ("GET", f"{API}/m-1", None)),
        (
            "create",
            {
                "experiment_id": "7",
                "model_type": "Agent",
                "name": "bot",
                "params": '[{"key": "lr", "value": "0.1"}]',
                "source_run_id": "r-1",
                "tags": '[{"key": "t", "value": "v"}]',
            },
            (
                "POST",
                API,
                {
                    "experiment_id": "7",
                    "name": "bot",
                    "model_type": "Agent",
                    "source_run_id": "r-1",
                    "params": [{"key": "lr", "value": "0.1"}],
                    "tags": [{"key": "t", "value": "v"}],
                },
            ),
        ),
        (
            "delete_tag",
            {"model_id": "m-1", "tag_key": "a b/c"},
            ("DELETE", f"{API}/m-1/tags/a%20b%2Fc", None),
        ),
        ("delete", {"model_id": "m/1"}, ("DELETE", f"{API}/m%2F1", None)),
        # Databricks documents model_id in the path only (the client sends it in MLflow's body too).
        (
            "finalize",
            {"model_id": "m-1", "status": "LOGGED_MODEL_UPLOAD_FAILED"},
            ("PATCH", f"{API}/m-1", {"status": "LOGGED_MODEL_UPLOAD_FAILED"}),
        ),
        (
            "log_params",
            {"model_id": "m-1", "params": '[{"key": "k", "value": "v"}]'},
            ("POST", f"{API}/m-1/params", {"params": [{"key": "k", "value": "v"}]}),
        ),
        (
            "search",
            {
                "datasets": '[{"dataset_name": "eval", "dataset_digest": "d1"}]',
                "experiment_ids": '["1", "2"]',
                "filter": "metrics.acc > 0.9 AND params.lr = '0.1'",
                "max_results": "20",
                "order_by": '[{"field_name": "metrics.acc", "ascending": false}]',
                "page_token": "",
            },
            (
                "POST",
                f"{API}/search",
                {
                    "experiment_ids": ["1", "2"],
                    "filter": "metrics.acc > 0.9 AND params.lr = '0.1'",
                    "datasets": [{"dataset_name": "eval", "dataset_digest": "d1"}],
                    "max_results": 20,
                    "order_by": [{"field_name": "metrics.acc", "ascending": False}],
                },
            ),
        ),
        (
            "set_tags",
            {"model_id": "m 1", "tags": '[{"key": "k", "value": "\'"}]'},
            ("PATCH", f"{API}/m%201/tags", {"tags": [{"key": "k", "value": "'"}]}),
        ),
    ],
)
def test_each_example_sends_what_the_databricks_api_documents(
    method: str, variables: dict[str, str], sent: tuple[str, str, JSON | None]
) -> None:
    workspace = Workspace()
    with workspace_client(workspace) as client:
        (result,) = run(example(method), client, deployment_name="acme", **variables)
    ((verb, path, body, auth),) = workspace.seen()
    if method == "search":  # the planner adds its tie-breaking order; what the statement asked comes first
        assert body is not None
        assert body.pop("order_by")[0] == sent[2]["order_by"][0]  # type: ignore[index]
        sent = (sent[0], sent[1], {k: v for k, v in sent[2].items() if k != "order_by"})  # type: ignore[union-attr]
    assert (verb, path, body) == sent
    assert auth == BEARER
    assert result.method == method


def test_a_databricks_search_pages_from_a_page_token_on() -> None:
    workspace = Workspace(pages=4)
    with workspace_client(workspace) as client:
        variables = search_variables("1", page_token="1", order_by="[]", deployment_name="acme", filter="")
        (result,) = run(example("search"), client, **variables)
    assert [body["page_token"] for _, _, body, _ in workspace.seen() if body] == ["1", "2", "3"]
    assert [m.model_id for m in result.models] == ["m-1", "m-2", "m-3"]


def test_max_results_above_the_databricks_limit_is_refused_before_sending() -> None:
    workspace = Workspace()
    with workspace_client(workspace) as client, pytest.raises(StatementsError) as raised:
        run(example("search"), client, **search_variables("1", max_results="51", deployment_name="acme"))
    assert [d.code for d in raised.value.errors] == ["LMF505"]
    assert "at most 50" in raised.value.errors[0].message
    assert workspace.requests == []


def test_a_deployment_name_naming_another_workspace_is_refused_before_sending() -> None:
    workspace = Workspace()
    text = example("get") + "\n" + example("delete")
    with workspace_client(workspace) as client, pytest.raises(StatementsError) as raised:
        run(text, client, model_id="m-1", deployment_name="other")
    assert workspace.requests == []
    errors = raised.value.errors
    assert len(errors) == 2  # one for each statement that names it
    assert "https://other.cloud.databricks.com" in errors[0].message
    assert "https://acme.cloud.databricks.com" in errors[0].message
    template = text.index("'{{ deployment_name }}'")
    assert errors[0].span.start == template
    # Names match in any letter case, as host names do.
    with workspace_client(workspace) as client:
        assert run(example("get"), client, model_id="m-1", deployment_name="ACME")[0].models


def test_on_mlflow_the_deployment_name_is_not_used() -> None:
    with HostileServer(lambda seen: Reply.json({"model": model_json()})) as server:
        with Client(server.base_url, target="mlflow") as client:
            (result,) = run(example("get"), client, model_id="m-1", deployment_name="anything-at-all")
        assert result.models[0].model_id == "m-1"
        assert server.paths == ["GET /api/2.0/mlflow/logged-models/m-1"]


# ---- hostile: servers ---------------------------------------------------------------------------------


FILE = """SELECT model FROM databricks_workspace.ml.logged_models
WHERE model_id = 'm-1' AND deployment_name = 'x';

EXEC databricks_workspace.ml.logged_models.set_tags @model_id='m-1', @deployment_name='x'
@@json='{"tags": [{"key": "a", "value": "b"}]}';

DELETE FROM databricks_workspace.ml.logged_models WHERE model_id = 'm-1' AND deployment_name = 'x';
"""


def test_a_server_that_fails_mid_file_stops_the_run_after_the_results_before() -> None:
    def script(seen: Seen) -> Reply:
        if seen.method == "PATCH":
            return Reply.json({"error_code": "INTERNAL_ERROR", "message": "boom"}, status=500)
        return Reply.json({"model": model_json()})

    with HostileServer(script) as server, Client(server.base_url, target="mlflow") as client:
        results = run_statements(client, FILE)
        first = next(results)
        assert first.rows == ({"model": first.models[0].to_json()},)
        with pytest.raises(StatementFailedError) as raised:
            next(results)
        assert server.paths == [
            "GET /api/2.0/mlflow/logged-models/m-1",
            "PATCH /api/2.0/mlflow/logged-models/m-1/tags",
        ]  # the DELETE after it was never sent
    failed = raised.value
    assert (failed.number, failed.line, failed.method) == (2, 4, "set_tags")
    assert isinstance(failed.cause, ServerError)
    assert str(failed).startswith("statement 2 (line 4, set_tags) failed: ")
    assert "boom" in str(failed)


def test_cli_reports_the_results_before_a_failure(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "f.iql"
    path.write_text(FILE, encoding="utf-8")

    def script(seen: Seen) -> Reply:
        if seen.method == "PATCH":
            return Reply.json({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no m-1"}, status=404)
        return Reply.json({"model": model_json()})

    with HostileServer(script) as server:
        status = main(
            ["stackql", str(path), "--server", server.base_url, "--target", "mlflow", "--format", "json"]
        )
        assert len(server.requests) == 2
    out, err = capsys.readouterr()
    assert status == 1
    results = json.loads(out)
    assert [r["statement"] for r in results] == [1, 2]
    assert results[0]["rows"][0]["model"]["info"]["model_id"] == "m-1"
    assert results[1]["method"] == "set_tags"
    assert "no m-1" in results[1]["error"]
    assert f"{path}:4: statement 2 (set_tags) failed: HTTP 404 RESOURCE_DOES_NOT_EXIST: no m-1" in err
    assert "1 later statement not sent" in err


@pytest.mark.parametrize("token", ["same", None])
def test_a_search_that_pages_for_ever_is_stopped(token: str | None) -> None:
    """The client's paging limits end it: a token sent again at once, or new tokens with empty pages."""
    count = 0

    def script(seen: Seen) -> Reply:
        nonlocal count
        count += 1
        if token:  # a model, and the same token again and again
            return Reply.json({"models": [model_json(f"m-{count}")], "next_page_token": token})
        return Reply.json({"models": [], "next_page_token": f"t{count}"})  # new tokens, empty pages

    limits = PageLimits(empty_pages=5)
    started = time.monotonic()
    with (
        HostileServer(script) as server,
        Client(server.base_url, target="mlflow", page_limits=limits) as client,
    ):
        with pytest.raises(StatementFailedError) as raised:
            run(example("search"), client, **search_variables("1"))
        assert 1 <= len(server.requests) <= 6
    assert isinstance(raised.value.cause, PagingError)
    assert raised.value.method == "search"
    assert time.monotonic() - started < 20  # bounded by the limits, not by the server


# ---- hostile: nothing is sent when anything is wrong --------------------------------------------------


def recording_server() -> HostileServer:
    return HostileServer(lambda seen: Reply.json({"model": model_json()}))


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"filter": "nmae = 'x'"}, "LMF202"),  # a typo in a field
        ({"filter": "params.lr = 0.1 OR name = 'a'"}, "LMF301"),  # not native: the server cannot run it
        ({"filter": "name = 'a"}, "LMF103"),  # an unterminated string
        ({"max_results": "lots"}, "LMF505"),
        ({"experiment_ids": "[1"}, "LMF506"),  # malformed JSON in the string
    ],
)
def test_a_bad_search_anywhere_in_the_file_means_nothing_is_sent(
    variables: dict[str, str], code: str
) -> None:
    text = FILE + example("search")  # three good statements first
    with recording_server() as server, Client(server.base_url) as client:  # target unknown: not even asked
        with pytest.raises(StatementsError) as raised:
            run_statements(client, text, search_variables("1", **variables))
        assert server.requests == []
    error = raised.value
    assert code in [d.code for d in error.errors], error
    assert "-->" in str(error)  # shown with its line and a caret


def test_an_invalid_filter_is_placed_on_its_character_in_the_file() -> None:
    text = example("search").replace("{{ filter }}", "name = ''a b'' AND nmae = ''x''")
    with pytest.raises(StatementsError) as raised:
        prepare(text, search_variables("1"), target="mlflow")
    (error,) = raised.value.errors
    assert text[error.span.start : error.span.end] == "nmae"


def test_a_template_with_no_value_is_an_error_before_anything_is_sent() -> None:
    with recording_server() as server, Client(server.base_url, target="mlflow") as client:
        with pytest.raises(StatementsError) as raised:
            run_statements(client, FILE + example("get"), {"deployment_name": "x"})
        assert server.requests == []
    (error,) = raised.value.errors
    assert error.code == "LMF507"
    text = FILE + example("get")
    assert text[error.span.start : error.span.end] == "{{ model_id }}"


@pytest.mark.parametrize(
    ("model_id", "why"),
    [
        ("..", "'.' and '..' are steps of a URL path"),
        (".", "'.' and '..' are steps of a URL path"),
        ("", "must not be empty"),
        ("a/b", "MLflow cannot take the model id 'a/b'"),
        ("a\nb", "MLflow cannot take the model id"),
        ("x" * 9000, "at most 8,192 can be sent"),
    ],
)
def test_an_id_no_url_or_no_mlflow_route_takes_is_refused_before_anything_is_sent(
    model_id: str, why: str
) -> None:
    text = FILE + example("delete")
    with recording_server() as server, Client(server.base_url, target="mlflow") as client:
        with pytest.raises(StatementsError) as raised:
            run_statements(client, text, {"model_id": model_id, "deployment_name": "x"})
        assert server.requests == []
    (error,) = raised.value.errors
    assert why in error.message
    assert text[error.span.start : error.span.end] == "'{{ model_id }}'"  # on the value, as written


@pytest.mark.parametrize(("tag_key", "target"), [("..", "databricks"), ("a/b", "mlflow"), ("", "mlflow")])
def test_a_tag_key_no_url_takes_is_refused_on_its_value(tag_key: str, target: str) -> None:
    text = example("delete_tag")
    with pytest.raises(StatementsError) as raised:
        prepare(text, {"model_id": "m-1", "tag_key": tag_key, "deployment_name": "x"}, target=target)
    (error,) = raised.value.errors
    assert "tag key" in error.message
    assert text[error.span.start : error.span.end] == "'{{ tag_key }}'"


def test_duplicate_params_are_refused_on_the_body_field() -> None:
    text = example("log_params")
    params = '[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]'
    with pytest.raises(StatementsError) as raised:
        prepare(text, {"model_id": "m-1", "params": params, "deployment_name": "x"}, target="mlflow")
    (error,) = raised.value.errors
    assert "given twice" in error.message
    assert text[error.span.start : error.span.end] == '"{{ params }}"'


@pytest.mark.parametrize(
    "model_id",
    ["it's", "o'neil'); DROP", 'say "hi"', "模型-é", "a b", "a%2Fb", "?x=1#y", "🙂"],
)
def test_odd_ids_are_sent_as_one_path_segment(model_id: str) -> None:
    with recording_server() as server, Client(server.base_url, target="mlflow") as client:
        (result,) = run(example("get"), client, model_id=model_id, deployment_name="x")
        ((seen,),) = [server.requests]
    assert seen.method == "GET"
    assert seen.path == "/api/2.0/mlflow/logged-models/" + _segment(model_id)
    assert result.models[0].model_id == "m-1"


def _segment(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def test_quotes_written_in_the_file_reach_the_server_decoded() -> None:
    text = (
        "SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id = 'it''s' "
        "AND deployment_name = 'x'"
    )
    with recording_server() as server, Client(server.base_url, target="mlflow") as client:
        run(text, client)
        assert server.paths == ["GET /api/2.0/mlflow/logged-models/it%27s"]


# ---- hostile: values that try to become statements ----------------------------------------------------


INJECTION = (
    "x'; DELETE FROM databricks_workspace.ml.logged_models WHERE model_id = 'y' AND deployment_name = 'z"
)


def test_a_quote_in_a_value_cannot_add_a_statement() -> None:
    with recording_server() as server, Client(server.base_url, target="mlflow") as client:
        results = run(example("get"), client, model_id=INJECTION, deployment_name="x")
        assert server.paths == ["GET /api/2.0/mlflow/logged-models/" + _segment(INJECTION)]
    assert [r.method for r in results] == ["get"]


def test_a_quote_in_a_value_cannot_add_a_condition() -> None:
    # Were the quote not escaped, a delete would become a delete_tag of the tag 'k'.
    value = "m-1' AND tag_key = 'k"
    with recording_server() as server, Client(server.base_url, target="mlflow") as client:
        (result,) = run(example("delete"), client, model_id=value, deployment_name="x")
        assert server.paths == ["DELETE /api/2.0/mlflow/logged-models/" + _segment(value)]
    assert result.method == "delete"


def test_a_quote_in_a_json_value_cannot_add_a_body_field() -> None:
    # Escaped for the JSON string too: the "filter" stays one (invalid) filter, no max_results appears.
    value = 'name = \'a\'", "max_results": "1000'
    with pytest.raises(StatementsError) as raised:
        prepare(example("search"), search_variables("1", filter=value), target="databricks")
    errors = raised.value.errors
    assert errors
    assert all(d.code.startswith(("LMF1", "LMF2")) for d in errors)  # the filter's own faults only
    assert all(d.code not in ("LMF504", "LMF505") for d in errors)  # no field, no max_results above 50


def test_a_value_outside_quotes_must_be_one_literal() -> None:
    text = (
        "SELECT model FROM databricks_workspace.ml.logged_models WHERE model_id = {{ id }} "
        "AND deployment_name = 'x';"
    )
    with recording_server() as server, Client(server.base_url, target="mlflow") as client:
        with pytest.raises(StatementsError) as raised:
            run_statements(client, text, {"id": "'a'; " + INJECTION[3:] + "'"})
        assert server.requests == []
        (error,) = raised.value.errors
        assert text[error.span.start : error.span.end] == "{{ id }}"
        assert "outside quotes" in error.message
        # One literal is what it takes: a string, written as SQL writes one.
        (result,) = run(text, client, id="'it''s'")
        assert server.paths == ["GET /api/2.0/mlflow/logged-models/it%27s"]
    assert result.method == "get"


JSON_TEMPLATE = (
    "EXEC databricks_workspace.ml.logged_models.search @deployment_name='x' "
    "@@json='{\"experiment_ids\": {{ ids }}, \"filter\": \"name = ''a''\"}';"
)


@pytest.mark.parametrize("value", ["'a' --", "'a' /* */", "'a' 'b'", "", "a", "{{ x }}", "'a'; SELECT"])
def test_a_value_outside_quotes_is_one_literal_and_nothing_else(value: str) -> None:
    # With "'a' --" the rest of the line would be a comment: this delete_tag would become a delete.
    text = (
        "DELETE FROM databricks_workspace.ml.logged_models WHERE model_id = {{ id }} AND tag_key = 'k'\n"
        "AND deployment_name = 'x';"
    )
    with pytest.raises(StatementsError) as raised:
        prepare(text, {"id": value}, target="mlflow")
    error = raised.value.errors[0]  # ("{{ x }}" also holds a template)
    assert "outside quotes" in error.message
    assert text[error.span.start : error.span.end] == "{{ id }}"
    (kept,) = prepare(text, {"id": " 'a' "}, target="mlflow").planned  # one literal, blanks around it
    assert (kept.statement.method, kept.statement.param("model_id").value.text) == ("delete_tag", "a")  # type: ignore[union-attr]


def test_a_value_where_a_json_value_goes_cannot_add_fields() -> None:
    with pytest.raises(StatementsError) as raised:
        prepare(JSON_TEMPLATE, {"ids": '["1"], "max_results": 1'}, target="mlflow")
    (error,) = raised.value.errors
    assert error.code == "LMF505"


def test_a_value_where_a_json_value_goes_fills_one_value_in() -> None:
    assert prepare(JSON_TEMPLATE, {"ids": '["1", "2"]'}, target="mlflow").planned
    with pytest.raises(StatementsError) as raised:
        prepare(JSON_TEMPLATE, {"ids": '["1"], "max_results": 1'}, target="mlflow")
    (error,) = raised.value.errors
    assert "fields of this @@json body" in error.message


def test_a_value_holding_a_template_is_refused() -> None:
    """It would stay a template once filled in, and a template is not checked."""
    with pytest.raises(StatementsError) as raised:
        prepare(example("search"), search_variables("1", filter="{{ other }}"), target="mlflow")
    codes = [d.code for d in raised.value.errors]
    assert codes == ["LMF507"]
    assert "holds a {{ template }}" in raised.value.errors[0].message


# ---- the command line --------------------------------------------------------------------------------


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """``lmfilter ARGV...`` with ``stdin`` as standard input: its status, stdout and stderr."""

    def run_cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        status = main(list(argv))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run_cli


Cli = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize(
    ("var", "said"),
    [
        ("model_id", "is not NAME=VALUE"),
        ("=m-1", "is not NAME=VALUE"),
        ("model id=m-1", "is not NAME=VALUE"),
        ("1x=m-1", "is not NAME=VALUE"),
    ],
)
def test_cli_refuses_a_bad_var(cli: Cli, var: str, said: str) -> None:
    status, out, err = cli("stackql", "-", "--var", var, "--server", "http://127.0.0.1:9", stdin="")
    assert (status, out) == (2, "")
    assert said in err


def test_cli_refuses_a_var_given_twice(cli: Cli) -> None:
    status, _, err = cli(
        "stackql", "-", "--var", "a=1", "--var", "a=1", "--server", "http://127.0.0.1:9", stdin=""
    )
    assert status == 2
    assert "--var a is given twice" in err


def test_cli_var_values_hold_anything_after_the_first_equals(cli: Cli) -> None:
    with recording_server() as server:
        status, out, err = cli(
            "stackql",
            "--var",
            "model_id=a=b'c",
            "--var",
            "deployment_name=x",
            "--var",
            "unused=1",
            "--server",
            server.base_url,
            "--target",
            "mlflow",
            stdin=example("get"),
        )
        assert server.paths == ["GET /api/2.0/mlflow/logged-models/" + _segment("a=b'c")]
    assert status == 0, err
    assert "--var unused: not used by <stdin>" in err
    assert "-- statement 1 (line 1): get" in out
    assert out.rstrip().endswith("1 model")


def test_cli_shows_what_is_wrong_with_its_place_and_sends_nothing(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.iql"
    path.write_text(FILE + example("search"), encoding="utf-8")
    variables = [f"--var={k}={v}" for k, v in search_variables("1", filter="nmae = 'x'").items()]
    with recording_server() as server:
        status, out, err = cli("stackql", str(path), *variables, "--server", server.base_url)
        assert server.requests == []
    assert (status, out) == (1, "")
    lines = example("search").split("\n")
    line = FILE.count("\n") + 1 + next(i for i, text in enumerate(lines) if "{{ filter }}" in text)
    assert f"{path}:{line}:" in err
    assert "LMF202" in err
    assert "1 error in" in err
    assert "nothing was sent" in err


def test_cli_names_each_variable_with_no_value_once_with_the_fix(cli: Cli) -> None:
    """Each use of a variable with no value is an LMF507 at its place; one last line names them all, in
    order of first use, as the options that give them (a variable given is not named)."""
    two = example("get") + example("delete")
    status, _, err = cli("stackql", "--var=deployment_name=acme", "--server", "http://127.0.0.1:9", stdin=two)
    assert status == 1
    assert err.count("LMF507") == 2
    assert err.rstrip().splitlines()[-1] == (
        "lmfilter stackql: give the template variables their values: --var model_id=VALUE"
    )
    status, _, err = cli("stackql", "--server", "http://127.0.0.1:9", stdin=two)
    assert err.rstrip().endswith(": --var model_id=VALUE --var deployment_name=VALUE")
    broken = example("get") + "SELECT"
    status, _, err = cli("stackql", "--var=model_id=m", "--var=deployment_name=acme", stdin=broken)
    assert status == 1
    assert "give the template variables" not in err


def test_cli_reports_an_unreadable_file(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "missing.iql"
    status, _, err = cli("stackql", str(missing), "--server", "http://127.0.0.1:9")
    assert status == 1
    assert "cannot read" in err
    (tmp_path / "latin.iql").write_bytes(b"SELECT \xff")
    status, _, err = cli("stackql", str(tmp_path / "latin.iql"), "--server", "http://127.0.0.1:9")
    assert status == 1
    assert "cannot read" in err


def test_cli_an_unreachable_server_is_one_line(cli: Cli) -> None:
    status, _, err = cli(
        "stackql",
        "--var=model_id=m",
        "--var=deployment_name=x",
        "--server",
        "http://127.0.0.1:9",
        "--target",
        "mlflow",
        "--timeout",
        "0.5",
        stdin=example("get"),
    )
    assert status == 1
    assert "<stdin>:1: statement 1 (get) failed: " in err
    assert "Traceback" not in err


@pytest.fixture
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("MLFLOW_", "DATABRICKS_")):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("no_environment")
def test_cli_without_a_server_runs_on_the_workspace_the_statements_name(cli: Cli) -> None:
    """As StackQL does: deployment_name names the workspace. Shown without a request: the file is checked
    for Databricks (max_results above its 50 is an error only there)."""
    variables = [
        f"--var={k}={v}" for k, v in search_variables("1", max_results="51", deployment_name="acme").items()
    ]
    status, _, err = cli("stackql", "--token", "t", *variables, stdin=example("search"))
    assert status == 1
    assert "at most 50 on Databricks" in err
    assert "nothing was sent" in err
    two = example("get") + example("get").replace("{{ deployment_name }}", "other")
    status, _, err = cli("stackql", "--var=model_id=m", "--var=deployment_name=acme", stdin=two)
    assert status == 1
    assert "the statements name several workspaces ('acme', 'other')" in err


@pytest.mark.usefixtures("no_environment")
def test_cli_runs_on_the_workspace_of_databricks_host(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    with recording_server() as server:
        monkeypatch.setenv("DATABRICKS_HOST", server.base_url)
        monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
        # The host's first label is the deployment name: here 127 (of 127.0.0.1).
        status, out, err = cli(
            "stackql", "--var=model_id=m-1", "--var=deployment_name=127", stdin=example("get")
        )
        assert status == 0, err
        ((seen,),) = [server.requests]
        assert seen.headers["authorization"] == BEARER
        assert "m-1" in out
        status, out, err = cli(
            "stackql", "--var=model_id=m-1", "--var=deployment_name=acme", stdin=example("get")
        )
        assert len(server.requests) == 1  # nothing more sent
    assert status == 1
    assert "deployment_name 'acme' names the workspace https://acme.cloud.databricks.com" in err
    assert TOKEN not in err


def test_a_lone_surrogate_in_a_value_is_refused_before_sending() -> None:
    # What Python makes of a byte that is not UTF-8 on the command line (surrogateescape).
    with pytest.raises(StatementsError) as raised:
        prepare(example("get"), {"model_id": "a\udcffb", "deployment_name": "x"}, target="mlflow")
    (error,) = raised.value.errors
    assert "lone surrogate" in error.message
    assert example("get")[error.span.start : error.span.end] == "{{ model_id }}"


def test_a_body_field_given_twice_is_a_warning_and_the_last_one_is_sent(cli: Cli) -> None:
    text = (
        "EXEC databricks_workspace.ml.logged_models.set_tags @model_id='m-1', @deployment_name='x'\n"
        '@@json=\'{"tags": [{"key": "a", "value": "1"}], "tags": [{"key": "b", "value": "2"}]}\';'
    )
    with recording_server() as server:
        status, out, err = cli("stackql", "--server", server.base_url, "--target", "mlflow", stdin=text)
        ((seen,),) = [server.requests]
    assert status == 0, err
    assert seen.json() == {"tags": [{"key": "b", "value": "2"}]}
    assert "<stdin>:2:48: LMF508 'tags' is given twice: the last one is used" in err
    assert DESPATCHED in out


def test_cli_table_shows_each_result_before_a_later_failure(cli: Cli) -> None:
    def script(seen: Seen) -> Reply:
        if seen.method == "PATCH":
            return Reply.json({"error_code": "INTERNAL_ERROR", "message": "boom"}, status=500)
        return Reply.json({"model": model_json("m-1", name="first")})

    with HostileServer(script) as server:
        status, out, err = cli("stackql", "--server", server.base_url, "--target", "mlflow", stdin=FILE)
    assert status == 1
    assert out.startswith("-- statement 1 (line 1): get\n")
    assert "m-1       first" in out
    assert "statement 2" not in out
    assert "<stdin>:4: statement 2 (set_tags) failed: HTTP 500 INTERNAL_ERROR: boom" in err
