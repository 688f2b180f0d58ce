"""The clients against real MLflow servers (3.17.2 and 3.18.0): every operation end to end, paging, the
server's own errors, a server that stops mid-search, and the async client doing the same.

Tests that write create their own experiment (the seeded data set is shared with the conformance tests
and never changed here). A :class:`Recording` transport wraps the real one, so a test can say what was
sent, or prove that nothing was.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import lmfilter
from lmfilter.client import (
    AsyncClient,
    BadRequestError,
    Client,
    LoggedModelsError,
    NotFoundError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from lmfilter.status import ModelStatus
from lmfilter.wire import LoggedModel
from tests.conftest_servers import venvs_dir
from tests.servers import MlflowServer, RestError, SeededServer, quote_segment, search_all

pytestmark = pytest.mark.mlflow

JSON = dict[str, Any]
TARGET_OF = {"3.17.2": "mlflow-3.17", "3.18.0": "mlflow-3.18"}
UNKNOWN_ID = "m-00000000000000000000000000000000"


class Recording(httpx.BaseTransport):
    """The real transport, recording every request."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()

    def searches(self) -> list[JSON]:
        return [_body(r) for r in self.requests if r.url.path.endswith("/logged-models/search")]


class AsyncRecording(httpx.AsyncBaseTransport):
    """The real async transport, recording every request."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _body(request: httpx.Request) -> JSON:
    parsed: JSON = json.loads(request.content) if request.content else {}
    return parsed


def _seen(requests: list[httpx.Request]) -> list[tuple[str, str, JSON]]:
    return [(r.method, str(r.url), _body(r)) for r in requests]


def new_experiment(server: MlflowServer) -> str:
    name = f"lmfilter-client-{uuid.uuid4().hex[:12]}"
    experiment_id: str = server.rest.post("experiments/create", {"name": name})["experiment_id"]
    return experiment_id


def ids(models: Any) -> list[str]:
    return [m.model_id for m in models]


@pytest.fixture
def client(mlflow_server: SeededServer) -> Iterator[Client]:
    with Client(mlflow_server.server.base_url) as fresh:
        yield fresh


# ---- the target -------------------------------------------------------------------------------------


def test_the_target_is_detected_from_version(mlflow_server: SeededServer) -> None:
    server = mlflow_server.server
    recording = Recording()
    with Client(server.base_url, transport=recording) as client:
        assert client.target.name == TARGET_OF[server.version]
        assert client.target.name == TARGET_OF[server.version]
        assert [str(r.url) for r in recording.requests] == [f"{server.base_url}/version"]
        assert f"target={TARGET_OF[server.version]!r}" in repr(client)


def test_async_target_is_detected_from_version(mlflow_server: SeededServer) -> None:
    async def main() -> str:
        async with AsyncClient(mlflow_server.server.base_url) as client:
            with pytest.raises(RuntimeError, match="resolve_target"):
                client.target  # noqa: B018 - not known yet, and a property does not block to ask
            resolved = await client.resolve_target()
            assert client.target is resolved  # now a plain property, as on Client
            return client.target.name

    assert asyncio.run(main()) == TARGET_OF[mlflow_server.server.version]


# ---- every operation, end to end --------------------------------------------------------------------

EXPECTED_LIFECYCLE: JSON = {
    "created": ("lifecycle-a", "sklearn", "PENDING", True),
    "created params": {"lr": "0.01", "depth": "3"},
    "created tags": {"team": "x", "gone": "soon", "a b%": "odd"},
    "got params": {"lr": "0.01", "depth": "3", "late": "1"},
    "got tags": {"team": "y", "new": "z"},
    "finalized a": "READY",
    "got a": "READY",
    "created b": ("", "PENDING"),
    "finalized b": "FAILED",
    "all": ["b", "a"],
    "ready": ["a"],
    "failed": ["b"],
    "team y and late": ["a"],
    "deleted get": ("NotFoundError", "RESOURCE_DOES_NOT_EXIST", 404),
    "deleted get allowed": ("a", "READY"),
    "all after delete": ["b"],
}


def _kv(items: Any) -> dict[str, str]:
    return {item.key: item.value for item in items}


class Names:
    """Model ids as the letters the lifecycle gave them."""

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}

    def __call__(self, models: Any) -> list[str]:
        return [self.by_id.get(m.model_id, m.model_id) for m in models]


def lifecycle(client: Client, experiment_id: str) -> JSON:
    """Every operation, once or more; what each answered, with ids replaced by letters."""
    out: JSON = {}
    names = Names()
    a = client.create(
        experiment_id,
        name="lifecycle-a",
        model_type="sklearn",
        params={"lr": "0.01", "depth": "3"},
        tags={"team": "x", "gone": "soon", "a b%": "odd"},
    )
    names.by_id[a.model_id] = "a"
    info = a.info
    out["created"] = (info.name, info.model_type, info.status.name, info.experiment_id == experiment_id)
    out["created params"], out["created tags"] = _kv(a.data.params), _kv(info.tags)
    client.log_params(a.model_id, {"late": "1"})
    client.set_tags(a.model_id, {"team": "y", "new": "z"})
    client.delete_tag(a.model_id, "gone")
    client.delete_tag(a.model_id, "a b%")
    got = client.get(a.model_id)
    out["got params"], out["got tags"] = _kv(got.data.params), _kv(got.info.tags)
    out["finalized a"] = client.finalize(a.model_id, "READY").info.status.name
    out["got a"] = client.get(a.model_id).info.status.name
    b = client.create(experiment_id)
    names.by_id[b.model_id] = "b"
    out["created b"] = (b.info.model_type, b.info.status.name)
    out["finalized b"] = client.finalize(b.model_id, ModelStatus.FAILED).info.status.name
    out["all"] = names(client.search(experiment_ids=[experiment_id]))
    out["ready"] = names(client.search("status = 'READY'", experiment_ids=[experiment_id]))
    out["failed"] = names(client.search("status = 'FAILED'", experiment_ids=[experiment_id]))
    out["team y and late"] = names(
        client.search("tags.team = 'y' AND params.late = '1'", experiment_ids=[experiment_id])
    )
    client.delete(a.model_id)
    try:
        client.get(a.model_id)
        out["deleted get"] = "found"
    except LoggedModelsError as err:
        out["deleted get"] = (type(err).__name__, err.error_code, err.status_code)
    deleted = client.get(a.model_id, allow_deleted=True)
    out["deleted get allowed"] = (names([deleted])[0], deleted.info.status.name)
    out["all after delete"] = names(client.search(experiment_ids=[experiment_id]))
    return out


async def lifecycle_async(client: AsyncClient, experiment_id: str) -> JSON:
    """:func:`lifecycle` with the async client."""
    out: JSON = {}
    names = Names()

    async def found(text: str | None) -> list[str]:
        return names([m async for m in client.search(text, experiment_ids=[experiment_id])])

    a = await client.create(
        experiment_id,
        name="lifecycle-a",
        model_type="sklearn",
        params={"lr": "0.01", "depth": "3"},
        tags={"team": "x", "gone": "soon", "a b%": "odd"},
    )
    names.by_id[a.model_id] = "a"
    info = a.info
    out["created"] = (info.name, info.model_type, info.status.name, info.experiment_id == experiment_id)
    out["created params"], out["created tags"] = _kv(a.data.params), _kv(info.tags)
    await client.log_params(a.model_id, {"late": "1"})
    await client.set_tags(a.model_id, {"team": "y", "new": "z"})
    await client.delete_tag(a.model_id, "gone")
    await client.delete_tag(a.model_id, "a b%")
    got = await client.get(a.model_id)
    out["got params"], out["got tags"] = _kv(got.data.params), _kv(got.info.tags)
    out["finalized a"] = (await client.finalize(a.model_id, "READY")).info.status.name
    out["got a"] = (await client.get(a.model_id)).info.status.name
    b = await client.create(experiment_id)
    names.by_id[b.model_id] = "b"
    out["created b"] = (b.info.model_type, b.info.status.name)
    out["finalized b"] = (await client.finalize(b.model_id, ModelStatus.FAILED)).info.status.name
    out["all"] = await found(None)
    out["ready"] = await found("status = 'READY'")
    out["failed"] = await found("status = 'FAILED'")
    out["team y and late"] = await found("tags.team = 'y' AND params.late = '1'")
    await client.delete(a.model_id)
    try:
        await client.get(a.model_id)
        out["deleted get"] = "found"
    except LoggedModelsError as err:
        out["deleted get"] = (type(err).__name__, err.error_code, err.status_code)
    deleted = await client.get(a.model_id, allow_deleted=True)
    out["deleted get allowed"] = (names([deleted])[0], deleted.info.status.name)
    out["all after delete"] = await found(None)
    return out


def test_every_operation_end_to_end(mlflow_server: SeededServer, client: Client) -> None:
    experiment_id = new_experiment(mlflow_server.server)
    assert lifecycle(client, experiment_id) == EXPECTED_LIFECYCLE


def test_every_operation_end_to_end_async(mlflow_server: SeededServer) -> None:
    server = mlflow_server.server
    experiment_id = new_experiment(server)

    async def main() -> JSON:
        async with AsyncClient(server.base_url) as client:
            return await lifecycle_async(client, experiment_id)

    assert asyncio.run(main()) == EXPECTED_LIFECYCLE


def test_what_the_client_wrote_is_what_the_server_holds(mlflow_server: SeededServer, client: Client) -> None:
    server = mlflow_server.server
    experiment_id = new_experiment(server)
    model = client.create(experiment_id, name="held", params=[("p", "1")], tags=[("t", "v")])
    client.finalize(model.model_id, "READY")
    raw = server.rest.get(f"logged-models/{quote_segment(model.model_id)}")["model"]
    assert LoggedModel.model_validate(raw) == client.get(model.model_id)
    assert raw["info"]["status"] == "LOGGED_MODEL_READY"
    assert raw["data"]["params"] == [{"key": "p", "value": "1"}]


# ---- pages -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Many:
    server: MlflowServer
    experiment_id: str
    created: list[str]  # ids in creation order


N_MANY = 23


@pytest.fixture(scope="module")
def many(mlflow_server: SeededServer) -> Many:
    """23 models in a fresh experiment, named so that name order is not creation order."""
    server = mlflow_server.server
    experiment_id = new_experiment(server)
    created = []
    for i in range(N_MANY):
        body = {"experiment_id": experiment_id, "name": f"p-{i * 7 % N_MANY:02d}"}
        created.append(server.rest.post("logged-models", body)["model"]["info"]["model_id"])
    return Many(server, experiment_id, created)


ORDERS: list[list[JSON] | None] = [
    None,
    [{"field_name": "name", "ascending": True}],
    [{"field_name": "creation_time", "ascending": True}],
]


@pytest.mark.parametrize("order_by", ORDERS, ids=["default", "name", "creation_time"])
def test_paging_gives_every_model_once_in_the_servers_order(many: Many, order_by: list[JSON] | None) -> None:
    one_page = search_all(many.server, [many.experiment_id], order_by=order_by, page_size=1000)
    assert sorted(one_page) == sorted(many.created)
    if order_by is None:
        assert one_page == many.created[::-1]  # newest first
    elif order_by[0]["field_name"] == "name":
        by_id = dict(zip(many.created, (f"p-{i * 7 % N_MANY:02d}" for i in range(N_MANY)), strict=True))
        assert [by_id[i] for i in one_page] == sorted(by_id.values())
    else:
        assert one_page == many.created
    recording = Recording()
    with Client(many.server.base_url, page_size=4, transport=recording) as client:
        paged = ids(client.search(experiment_ids=[many.experiment_id], order_by=order_by))
    assert paged == one_page
    sent = recording.searches()
    assert len(sent) == 6  # 4 + 4 + 4 + 4 + 4 + 3
    assert {b["max_results"] for b in sent} == {4}
    tokens = [b.get("page_token") for b in sent]
    assert tokens[0] is None
    assert len(set(tokens)) == len(tokens)


@pytest.mark.parametrize("max_results", [1, 4, 5, 9, 22, 23, 100])
def test_max_results_gives_exactly_the_first_ones(many: Many, max_results: int) -> None:
    one_page = search_all(many.server, [many.experiment_id], page_size=1000)
    recording = Recording()
    with Client(many.server.base_url, page_size=4, transport=recording) as client:
        got = ids(client.search(experiment_ids=[many.experiment_id], max_results=max_results))
    assert got == one_page[:max_results]
    assert len(recording.searches()) == min(-(-max_results // 4), 6)


def test_search_page_and_its_token(many: Many) -> None:
    one_page = search_all(many.server, [many.experiment_id], page_size=1000)
    with Client(many.server.base_url) as client:
        first = client.search_page(experiment_ids=[many.experiment_id], max_results=4)
        assert ids(first.models) == one_page[:4]
        assert first.next_page_token
        second = client.search_page(
            experiment_ids=[many.experiment_id], max_results=4, page_token=first.next_page_token
        )
        assert ids(second.models) == one_page[4:8]
        wider = client.search_page(  # the page size may change between pages (SPEC §3)
            experiment_ids=[many.experiment_id], max_results=30, page_token=first.next_page_token
        )
        assert ids(wider.models) == one_page[4:]
        assert not wider.next_page_token
        with pytest.raises(BadRequestError) as caught:  # not with another filter
            client.search_page(
                "name LIKE 'p-%'", experiment_ids=[many.experiment_id], page_token=first.next_page_token
            )
    assert caught.value.status_code == 400
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "page token" in caught.value.message


def test_both_clients_send_the_same_pages(many: Many) -> None:
    sync_recording, async_recording = Recording(), AsyncRecording()
    order_by = [{"field_name": "name", "ascending": False}]
    with Client(many.server.base_url, page_size=5, transport=sync_recording) as client:
        sync_ids = ids(
            client.search("name LIKE 'p-%'", experiment_ids=[many.experiment_id], order_by=order_by)
        )

    async def main() -> list[str]:
        async with AsyncClient(many.server.base_url, page_size=5, transport=async_recording) as client:
            found = client.search("name LIKE 'p-%'", experiment_ids=[many.experiment_id], order_by=order_by)
            return [m.model_id async for m in found]

    assert asyncio.run(main()) == sync_ids
    assert len(sync_ids) == N_MANY
    assert _seen(sync_recording.requests) == _seen(async_recording.requests)
    assert len(sync_recording.requests) == 1 + 5  # /version, then pages of 5


# ---- the client's search is select over the server's models ----------------------------------------

SEEDED_FILTERS = [
    "",
    "params.lr = '0.01'",
    "status = 'READY'",
    "status IN ('READY', 'FAILED')",
    "status != 'PENDING'",
    "tags.`my key` = 'v'",
    "tags.in = 'x'",
    "metrics.acc > 0.5",
    "params.optimizer ILIKE 'adam' AND tags.team != 'APFEL'",
    "name LIKE 'model-%' AND creation_time > 0",
]


@pytest.mark.parametrize("text", SEEDED_FILTERS)
def test_search_equals_select_on_the_seeded_models(mlflow_server: SeededServer, text: str) -> None:
    server, seeded = mlflow_server
    recording = Recording()
    with Client(server.base_url, page_size=7, transport=recording) as client:
        found = ids(client.search(text, experiment_ids=seeded.experiment_ids))
        expected = ids(lmfilter.select(seeded.models.values(), text, target=client.target))
    assert found == expected
    assert found  # every filter here matches something, so an empty answer is a failure
    sent = recording.searches()
    assert sent
    assert all(b["experiment_ids"] == seeded.experiment_ids for b in sent)


@pytest.mark.parametrize(
    ("text", "for_317", "for_318"),
    [
        ("status = 'READY'", "status = 2", "status = 'READY'"),
        ("status IN ('READY', 'FAILED')", "status IN (2, 3)", "status IN ('READY', 'FAILED')"),
        ("status IN ('FAILED')", "status = 3", "status IN ('FAILED')"),
    ],
)
def test_status_is_sent_as_the_servers_version_reads_it(
    mlflow_server: SeededServer, text: str, for_317: str, for_318: str
) -> None:
    server, seeded = mlflow_server
    recording = Recording()
    with Client(server.base_url, transport=recording) as client:
        found = ids(client.search(text, experiment_ids=seeded.experiment_ids))
        expected = ids(lmfilter.select(seeded.models.values(), text, target=client.target))
    assert found == expected
    assert found
    [sent] = recording.searches()
    assert sent["filter"] == (for_317 if server.version == "3.17.2" else for_318)


def test_ordered_search_equals_select(mlflow_server: SeededServer) -> None:
    server, seeded = mlflow_server
    order_by: list[JSON] = [{"field_name": "metrics.acc", "ascending": False}, {"field_name": "name"}]
    with Client(server.base_url, page_size=6) as client:
        found = ids(
            client.search("params.depth != '3'", experiment_ids=seeded.experiment_ids, order_by=order_by)
        )
        expected = lmfilter.select(
            seeded.models.values(), "params.depth != '3'", order_by=order_by, target=client.target
        )
    assert found == ids(expected)
    assert len(found) > 6


# ---- errors ------------------------------------------------------------------------------------------


def test_an_unknown_id_is_not_found(mlflow_server: SeededServer, client: Client) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.get(UNKNOWN_ID)
    err = caught.value
    assert (err.status_code, err.error_code) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert err.method == "GET"
    assert err.url == f"{mlflow_server.server.base_url}/api/2.0/mlflow/logged-models/{UNKNOWN_ID}"
    assert UNKNOWN_ID in err.message
    assert str(err).startswith("HTTP 404 RESOURCE_DOES_NOT_EXIST: ")


def test_a_create_in_an_unknown_experiment_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.create("987654321", name="nowhere")
    assert caught.value.method == "POST"
    assert caught.value.body == {"experiment_id": "987654321", "name": "nowhere"}


def test_logging_a_param_twice_is_the_servers_400(mlflow_server: SeededServer, client: Client) -> None:
    server = mlflow_server.server
    model = client.create(new_experiment(server), params={"lr": "0.1"})
    with pytest.raises(BadRequestError) as caught:
        client.log_params(model.model_id, {"lr": "0.2"})
    body = {"model_id": model.model_id, "params": [{"key": "lr", "value": "0.2"}]}
    with pytest.raises(RestError) as raw:
        server.rest.post(f"logged-models/{quote_segment(model.model_id)}/params", body)
    err = caught.value
    assert err.status_code == raw.value.status == 400
    assert err.error_code == raw.value.error_code
    assert err.message == raw.value.message
    assert err.message
    assert err.body == {"model_id": model.model_id, "params": [{"key": "lr", "value": "0.2"}]}
    assert client.get(model.model_id).data.param("lr") == "0.1"


def test_a_garbage_page_token_is_the_servers_500(mlflow_server: SeededServer, client: Client) -> None:
    with pytest.raises(ServerError) as caught:
        client.search_page(experiment_ids=mlflow_server.seeded.experiment_ids, page_token="garbage")
    assert caught.value.status_code == 500
    assert caught.value.error_code is None  # an HTML body
    assert "Internal Server Error" in caught.value.message


def test_what_the_server_would_reject_is_refused_before_sending(mlflow_server: SeededServer) -> None:
    server, seeded = mlflow_server
    recording = Recording()
    experiments = seeded.experiment_ids
    some_id = next(iter(seeded.models))
    with Client(server.base_url, transport=recording) as client:
        client.target  # noqa: B018 - asks GET /version, once
        assert len(recording.requests) == 1
        with pytest.raises(lmfilter.FilterError):
            client.search_page("name = 'a' OR name = 'b'", experiment_ids=experiments)
        with pytest.raises(lmfilter.FilterError):
            client.search_page("params.alpha < 0.3", experiment_ids=experiments)
        with pytest.raises(lmfilter.FilterError):
            client.search("metric.acc > 0.5", experiment_ids=experiments)  # not a filter at all
        with pytest.raises(lmfilter.RequestError, match=r"order_by\[0\]\.field_name"):
            client.search_page(experiment_ids=experiments, order_by=[{"field_name": "params.x"}])
        with pytest.raises(lmfilter.RequestError, match=r"datasets\[0\]\.dataset_name"):
            client.search(experiment_ids=experiments, datasets=[{"dataset_name": ""}])
        with pytest.raises(lmfilter.RequestError, match="experiment_ids"):
            client.search_page(experiment_ids=[])
        with pytest.raises(ValueError, match="MLflow cannot take"):
            client.delete_tag(some_id, "a/b")
        with pytest.raises(ValueError, match="unknown status"):
            client.finalize(some_id, "DONE")
    assert len(recording.requests) == 1


def test_why_ids_and_keys_are_refused_not_encoded(mlflow_server: SeededServer, client: Client) -> None:
    """What a real MLflow does with the segments lmfilter refuses. It reads ``%2E%2E`` as data (a tag key
    ``..`` can even be set), but RFC 3986 lets any proxy on the way decode it and drop the step, so
    lmfilter refuses dot segments rather than bet on every hop; and it decodes ``%2F`` before routing,
    so an id holding ``/`` reaches another endpoint: here a model DELETE that deletes a tag."""
    server = mlflow_server.server
    model = client.create(new_experiment(server), tags={"..": "dots", "t": "v"})
    model_path = f"{server.base_url}/api/2.0/mlflow/logged-models/{model.model_id}"
    with httpx.Client() as raw:
        answer = raw.get(f"{server.base_url}/api/2.0/mlflow/logged-models/%2E%2E")
        assert (answer.status_code, answer.json()["message"]) == (404, "Logged model with ID '..' not found.")
        assert raw.delete(f"{model_path}%2Ftags%2Ft").status_code == 200  # DELETE "model" m-…/tags/t
    assert {t.key for t in client.get(model.model_id).info.tags} == {".."}
    with pytest.raises(ValueError, match=r"would reach /api/2\.0/mlflow/logged-models/m-"):
        client.delete_tag(model.model_id, "..")
    with pytest.raises(ValueError, match="MLflow cannot take the model id"):
        client.delete(f"{model.model_id}/tags/..")
    assert client.get(model.model_id).info.tag("..") == "dots"


def test_a_resent_delete_of_a_real_model_is_done(mlflow_server: SeededServer, client: Client) -> None:
    """Deleting twice on MLflow: the second answer is not an error on the servers tested, and with the
    404-after-resend rule it would be taken as done either way."""
    model = client.create(new_experiment(mlflow_server.server))
    client.delete(model.model_id)
    client.delete(model.model_id)
    with pytest.raises(NotFoundError):
        client.get(model.model_id)


# ---- a server that goes away mid-search ----------------------------------------------------------------


def _venv_or_skip(version: str) -> None:
    if not (venvs_dir() / f"mlflow-{version}" / "bin" / "mlflow").exists():
        message = f"MLflow {version} not installed under {venvs_dir()}: run scripts/install-mlflow.sh"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def test_a_server_that_stops_mid_search_raises() -> None:
    _venv_or_skip("3.18.0")
    with MlflowServer.start("3.18.0", venvs_dir()) as server:
        experiment_id = new_experiment(server)
        for i in range(12):
            server.rest.post("logged-models", {"experiment_id": experiment_id, "name": f"s-{i:02d}"})
        with Client(server.base_url, page_size=3, retry=RetryPolicy(deadline=2.0)) as client:
            models = client.search(experiment_ids=[experiment_id])
            got = [next(models).model_id for _ in range(3)]  # the whole first page
            server.stop()
            started = time.monotonic()
            with pytest.raises(TransportError) as caught:
                got.extend(m.model_id for m in models)
            took = time.monotonic() - started
    assert len(got) == 3  # nothing after the first page, and no silent end
    assert 0.9 <= took < 5.0  # one pause of 1 s, then the deadline of 2 s ends the retries
    assert caught.value.method == "POST"
    assert caught.value.url == f"{server.base_url}/api/2.0/mlflow/logged-models/search"
    assert caught.value.status_code is None
