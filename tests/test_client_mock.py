"""The clients against scripted answers (``httpx.MockTransport``): what only a Databricks workspace or a
failing network shows, without either.

A :class:`Script` answers each request from a list (the last answer repeats) and records it; pauses go
through a patched ``time.sleep`` / ``asyncio.sleep`` that advances a fake clock, so retry timing is exact
and the tests take no time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

import lmfilter
from lmfilter.client import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    LoggedModelsError,
    MalformedAnswerError,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from lmfilter.status import ModelStatus
from lmfilter.wire import KeyValue, LoggedModel, SearchLoggedModelsResponse

JSON = dict[str, Any]
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]

API = "/api/2.0/mlflow/"
ACME = "https://acme.cloud.databricks.com"
TOKEN = "tok-SECRET-0123456789"


def model_json(model_id: str = "m-1", name: str = "a", status: str = "LOGGED_MODEL_READY") -> JSON:
    return {"info": {"model_id": model_id, "experiment_id": "1", "name": name, "status": status}}


def ok(payload: JSON | None = None) -> httpx.Response:
    return httpx.Response(200, json=payload if payload is not None else {"model": model_json()})


def error(
    status: int, code: str = "", message: str = "", headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json={"error_code": code, "message": message}, headers=headers)


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


class Script:
    """Answers requests in order (the last answer repeats) and records every request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer):
            return answer(request)
        # A fresh copy each time: a response read by one client cannot be handed to another.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def bodies(self) -> list[JSON | None]:
        return [body_of(r) for r in self.requests]


def body_of(request: httpx.Request) -> JSON | None:
    if not request.content:
        return None
    parsed: JSON = json.loads(request.content)
    return parsed


class Api:
    """A stand-in server for every operation: models ``m-0`` .. ``m-{n-1}`` paged by an offset token;
    ``GET /version`` answers ``version``. Records every request."""

    def __init__(self, n: int = 10, version: str = "3.17.2") -> None:
        self.models = [model_json(f"m-{i}", f"n{i}") for i in range(n)]
        self.version = version
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/version":
            return httpx.Response(200, text=self.version)
        if path == f"{API}logged-models/search":
            body = body_of(request) or {}
            offset, size = int(body.get("page_token") or 0), int(body.get("max_results") or 50)
            page: JSON = {"models": self.models[offset : offset + size]}
            if offset + size < len(self.models):
                page["next_page_token"] = str(offset + size)
            return ok(page)
        parts = request.url.raw_path.decode().split("?")[0].removeprefix(API).split("/")
        if parts == ["logged-models"] and request.method == "POST":
            return ok({"model": model_json("m-new")})
        if len(parts) == 2 and request.method in ("GET", "PATCH"):
            return ok({"model": model_json(unquote(parts[1]))})
        return httpx.Response(200)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def bodies(self) -> list[JSON | None]:
        return [body_of(r) for r in self.requests]

    def seen(self) -> list[tuple[str, str, str | None, str | None, JSON | None]]:
        """What each request was: method, URL, auth and content-type headers, JSON body."""
        return [
            (
                r.method,
                str(r.url),
                r.headers.get("Authorization"),
                r.headers.get("Content-Type"),
                body_of(r),
            )
            for r in self.requests
        ]


class Clock:
    """A fake monotonic clock that the patched sleeps advance."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("lmfilter.client.time.sleep", fake.sleep)
    monkeypatch.setattr("lmfilter.client.asyncio.sleep", fake.async_sleep)
    return fake


def policy(clock: Clock, **options: Any) -> RetryPolicy:
    options.setdefault("jitter", 0.0)
    return RetryPolicy(clock=clock, **options)


def mlflow(script: Script | Api, **options: Any) -> Client:
    options.setdefault("target", "mlflow")
    return Client("http://mlflow.test", transport=script.transport, **options)


# ---- Databricks: where, who, limits ---------------------------------------------------------------


def test_for_databricks_sends_to_the_workspace_with_a_bearer_token() -> None:
    script = Script(ok())
    client = Client.for_databricks(deployment_name="acme", token="t", transport=script.transport)
    model = client.get("m-1")
    assert model.model_id == "m-1"
    [request] = script.requests
    assert str(request.url) == f"{ACME}/api/2.0/mlflow/logged-models/m-1"
    assert request.headers["Authorization"] == "Bearer t"
    assert client.target.name == "databricks"
    assert len(script.requests) == 1  # the target is known: no GET /version


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("adb-123.azuredatabricks.net", "https://adb-123.azuredatabricks.net"),
        ("https://dbc.example.com/", "https://dbc.example.com"),
    ],
)
def test_for_databricks_reads_host_and_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, host: str, base: str
) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", host)
    monkeypatch.setenv("DATABRICKS_TOKEN", "env-token")
    script = Script(ok())
    Client.for_databricks(transport=script.transport).get("m-1")
    [request] = script.requests
    assert str(request.url) == f"{base}/api/2.0/mlflow/logged-models/m-1"
    assert request.headers["Authorization"] == "Bearer env-token"


def test_explicit_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", "other.example.com")
    monkeypatch.setenv("DATABRICKS_TOKEN", "env-token")
    script = Script(ok())
    Client.for_databricks("acme", "t", transport=script.transport).get("m-1")
    assert script.requests[0].url.host == "acme.cloud.databricks.com"
    assert script.requests[0].headers["Authorization"] == "Bearer t"


def test_for_databricks_needs_a_token_and_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABRICKS_TOKEN", raising=False)
    monkeypatch.delenv("DATABRICKS_HOST", raising=False)
    monkeypatch.setitem(sys.modules, "databricks.sdk.core", None)  # without the extra (see test_client_env)
    with pytest.raises(ValueError, match="DATABRICKS_TOKEN"):
        Client.for_databricks("acme")
    with pytest.raises(ValueError, match="DATABRICKS_HOST"):
        Client.for_databricks(token="t")
    with pytest.raises(ValueError, match="DATABRICKS_TOKEN"):
        AsyncClient.for_databricks("acme")


def test_databricks_search_pages_hold_at_most_50() -> None:
    api = Api(n=130)
    # Ids that sort as text as they are listed: a server answers in its own order (model_id breaks ties).
    api.models = [model_json(f"m-{i:03d}", f"n{i}") for i in range(130)]
    client = Client.for_databricks("acme", "t", transport=api.transport, page_size=500)
    ids = [m.model_id for m in client.search(experiment_ids=["1"], max_results=120)]
    assert ids == [f"m-{i:03d}" for i in range(120)]
    bodies = [body_of(r) or {} for r in api.requests]
    assert len(bodies) == 3
    assert all(1 <= b["max_results"] <= 50 for b in bodies)
    assert [b.get("page_token") for b in bodies] == [None, "50", "100"]
    assert all(str(r.url) == f"{ACME}/api/2.0/mlflow/logged-models/search" for r in api.requests)


def test_databricks_search_page_over_50_is_refused_before_sending() -> None:
    api = Api()
    client = Client.for_databricks("acme", "t", transport=api.transport)
    with pytest.raises(lmfilter.RequestError, match="at most 50"):
        client.search_page(experiment_ids=["1"], max_results=51)
    assert client.search_page(experiment_ids=["1"], max_results=50).models[0].model_id == "m-0"
    assert len(api.requests) == 1


@pytest.mark.parametrize("text", ["source_run_id = 'r-1'", "status = 'READY'", "name = 'a' OR name = 'b'"])
def test_databricks_refuses_a_page_it_cannot_filter_before_sending(text: str) -> None:
    api = Api()
    client = Client.for_databricks("acme", "t", transport=api.transport)
    with pytest.raises(lmfilter.FilterError):
        client.search_page(text, experiment_ids=["1"])
    assert api.requests == []


def test_databricks_search_keeps_source_run_id_local() -> None:
    api = Api(n=6)
    for i, model in enumerate(api.models):
        model["info"]["source_run_id"] = "r-1" if i % 2 else "r-2"
    client = Client.for_databricks("acme", "t", transport=api.transport)
    found = [m.model_id for m in client.search("source_run_id = 'r-1' AND name != 'x'", experiment_ids=["1"])]
    assert found == ["m-1", "m-3", "m-5"]
    assert api.bodies() == [{"experiment_ids": ["1"], "filter": "name != 'x'", "max_results": 50}]


@pytest.mark.parametrize("text", ["metric.acc > 1", "status = 2", "name = "])
def test_search_refuses_a_bad_filter_before_sending(text: str) -> None:
    api = Api()
    client = Client.for_databricks("acme", "t", transport=api.transport)
    with pytest.raises(lmfilter.FilterError):
        client.search(text, experiment_ids=["1"])
    assert api.requests == []


# ---- paths and bodies ------------------------------------------------------------------------------


def test_path_segments_are_percent_encoded() -> None:
    api = Api()
    client = Client.for_databricks("acme", "t", transport=api.transport)
    client.get("a b/c")
    client.delete("a b/c")
    client.finalize("a b/c", "READY")
    client.log_params("a b/c", {"p": "1"})
    client.set_tags("a b/c", {"t": "v"})
    client.delete_tag("a b/c", "k/ey %?#")
    paths = [(r.method, r.url.raw_path.decode()) for r in api.requests]
    model = f"{API}logged-models/a%20b%2Fc"
    assert paths == [
        ("GET", model),
        ("DELETE", model),
        ("PATCH", model),
        ("POST", f"{model}/params"),
        ("PATCH", f"{model}/tags"),
        ("DELETE", f"{model}/tags/k%2Fey%20%25%3F%23"),
    ]


def test_model_id_goes_in_the_finalize_and_log_params_bodies() -> None:
    api = Api()
    client = mlflow(api)
    client.finalize("a b?c", "FAILED")
    client.finalize("m-2", ModelStatus.READY)
    client.log_params("a b?c", [("p", "1"), KeyValue(key="q", value="")])
    client.set_tags("m-2", {"t": "v"})
    assert api.bodies() == [
        {"model_id": "a b?c", "status": "LOGGED_MODEL_UPLOAD_FAILED"},
        {"model_id": "m-2", "status": "LOGGED_MODEL_READY"},
        {"model_id": "a b?c", "params": [{"key": "p", "value": "1"}, {"key": "q", "value": ""}]},
        {"tags": [{"key": "t", "value": "v"}]},
    ]
    assert all(r.headers["Content-Type"] == "application/json" for r in api.requests)


def test_create_sends_only_what_was_given() -> None:
    api = Api()
    client = mlflow(api)
    client.create("1")
    client.create(
        "2", name="n", model_type="sklearn", source_run_id="r", params={"lr": "0.1"}, tags=[("t", "v")]
    )
    assert api.bodies() == [
        {"experiment_id": "1"},
        {
            "experiment_id": "2",
            "name": "n",
            "model_type": "sklearn",
            "source_run_id": "r",
            "params": [{"key": "lr", "value": "0.1"}],
            "tags": [{"key": "t", "value": "v"}],
        },
    ]
    assert [(r.method, r.url.path) for r in api.requests] == [("POST", f"{API}logged-models")] * 2


def test_get_allow_deleted_is_a_query_parameter() -> None:
    api = Api()
    client = mlflow(api)
    client.get("m-1", allow_deleted=True)
    client.get("m-1")
    assert [str(r.url) for r in api.requests] == [
        "http://mlflow.test/api/2.0/mlflow/logged-models/m-1?allow_deleted=true",
        "http://mlflow.test/api/2.0/mlflow/logged-models/m-1",
    ]
    assert [body_of(r) for r in api.requests] == [None, None]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.finalize("m-1", "BOGUS"),
        lambda c: c.finalize("m-1", "failed"),
        lambda c: c.get(""),
        lambda c: c.delete_tag("m-1", ""),
        lambda c: c.delete_tag("m-1", "a/b"),  # MLflow routes on the decoded '/'
        lambda c: c.get("m-1/tags"),
    ],
)
def test_arguments_the_server_would_misread_are_refused_before_sending(call: Callable[[Client], Any]) -> None:
    api = Api()
    with pytest.raises(ValueError, match=r"status|empty|MLflow cannot take"):
        call(mlflow(api))
    assert api.requests == []


# ---- target detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "target"),
    [
        ("3.17.2", "mlflow-3.17"),
        ("3.17.0\n", "mlflow-3.17"),
        ("3.16.1", "mlflow-3.17"),
        ("3.18.0", "mlflow-3.18"),
        ("3.19.0rc1", "mlflow-3.18"),
        ("4.0.0", "mlflow-3.18"),
        ("not a version", "mlflow-3.18"),
    ],
)
def test_the_target_is_read_once_from_version(version: str, target: str) -> None:
    api = Api(version=version)
    client = Client("http://mlflow.test", transport=api.transport)
    assert repr(client) == "Client('http://mlflow.test', target=None, token=None)"
    assert client.target.name == target
    assert client.target.name == target
    assert [str(r.url) for r in api.requests] == ["http://mlflow.test/version"]
    assert repr(client) == f"Client('http://mlflow.test', target={target!r}, token=None)"


def test_a_detected_317_gets_status_by_number() -> None:
    api = Api(version="3.17.2")
    client = Client("http://mlflow.test/", transport=api.transport)
    client.search_page("status IN ('READY')", experiment_ids=["1"])
    assert api.bodies()[-1] == {"experiment_ids": ["1"], "filter": "status = 2"}


def test_a_version_that_could_not_be_read_is_not_guessed_for_good() -> None:
    script = Script(refuse, httpx.Response(200, text="3.17.2"))
    client = Client("http://mlflow.test", transport=script.transport)
    with contextlib.suppress(LoggedModelsError, httpx.HTTPError):
        client.target  # noqa: B018 - the property asks the server
    assert client.target.name == "mlflow-3.17"


# ---- answers and errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (500, ServerError),
        (502, ServerError),
        (418, LoggedModelsError),
    ],
)
def test_errors_are_typed_and_carry_the_request(status: int, kind: type[LoggedModelsError]) -> None:
    script = Script(error(status, "SOME_CODE", "the server's words"))
    client = mlflow(script)
    with pytest.raises(LoggedModelsError) as caught:
        client.create("1", name="n")
    err = caught.value
    assert type(err) is kind
    assert (err.status_code, err.error_code, err.message) == (status, "SOME_CODE", "the server's words")
    assert (err.method, err.url) == ("POST", "http://mlflow.test/api/2.0/mlflow/logged-models")
    assert err.body == {"experiment_id": "1", "name": "n"}
    assert str(err) == (
        f"HTTP {status} SOME_CODE: the server's words (POST http://mlflow.test/api/2.0/mlflow/logged-models)"
    )
    assert len(script.requests) == 1


def test_a_plain_500_is_not_retried(clock: Clock) -> None:
    script = Script(error(500, "INTERNAL_ERROR", "boom"), ok())
    with pytest.raises(ServerError) as caught:
        mlflow(script, retry=policy(clock)).get("m-1")
    assert (caught.value.status_code, caught.value.error_code, caught.value.message) == (
        500,
        "INTERNAL_ERROR",
        "boom",
    )
    assert len(script.requests) == 1
    assert clock.sleeps == []


def test_a_non_json_500_is_a_server_error_with_its_text(clock: Clock) -> None:
    html = "<!doctype html><title>500 Internal Server Error</title><p>oops, the server fell over</p>"
    script = Script(httpx.Response(500, text=html))
    with pytest.raises(ServerError) as caught:
        mlflow(script, retry=policy(clock)).search_page(experiment_ids=["1"], page_token="garbage")
    assert "oops, the server fell over" in str(caught.value)
    assert caught.value.error_code is None
    assert caught.value.status_code == 500
    assert len(script.requests) == 1


def test_a_2xx_answer_that_is_not_json_is_a_malformed_answer() -> None:
    with pytest.raises(MalformedAnswerError, match="not JSON"):
        mlflow(Script(httpx.Response(200, text="<html>proxy login</html>"))).get("m-1")


def test_an_empty_2xx_answer_is_fine() -> None:
    script = Script(httpx.Response(200))
    client = mlflow(script)
    client.delete("m-1")
    client.set_tags("m-1", {"a": "b"})
    assert len(script.requests) == 2


# ---- retries -----------------------------------------------------------------------------------------


def test_429_honours_retry_after(clock: Clock) -> None:
    script = Script(error(429, "REQUEST_LIMIT_EXCEEDED", "slow down", {"Retry-After": "2"}), ok())
    model = mlflow(script, retry=policy(clock)).get("m-1")
    assert model.model_id == "m-1"
    assert clock.sleeps == [2.0]
    assert len(script.requests) == 2
    assert str(script.requests[0].url) == str(script.requests[1].url)


@pytest.mark.parametrize("draw", [0.0, 0.4, 0.999])
def test_jitter_adds_up_to_a_second(clock: Clock, draw: float) -> None:
    script = Script(error(429, headers={"Retry-After": "2"}), ok())
    mlflow(script, retry=RetryPolicy(clock=clock, random=lambda: draw)).get("m-1")
    assert clock.sleeps == [pytest.approx(2.0 + draw)]
    assert 2.0 <= clock.sleeps[0] <= 3.0


def test_real_jitter_stays_within_a_second(clock: Clock) -> None:
    script = Script(*[error(429, headers={"Retry-After": "2"})] * 20, ok())
    mlflow(script, retry=RetryPolicy(clock=clock, deadline=1000.0)).get("m-1")
    assert len(clock.sleeps) == 20
    assert all(2.0 <= s <= 3.0 for s in clock.sleeps)
    assert len(set(clock.sleeps)) > 1  # jittered, not constant


@pytest.mark.parametrize("retry_after", [None, "1.5", "", "-1", "NaN", "1e9", "Wed, 21 Oct 2015 07:28:00"])
def test_503_without_a_readable_retry_after_waits_one_second(clock: Clock, retry_after: str | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    script = Script(error(503, "TEMPORARILY_UNAVAILABLE", "", headers), ok())
    assert mlflow(script, retry=policy(clock)).get("m-1").model_id == "m-1"
    assert clock.sleeps == [1.0]


def test_429_retries_stop_at_the_deadline(clock: Clock) -> None:
    script = Script(error(429, "REQUEST_LIMIT_EXCEEDED", "slow down", {"Retry-After": "2"}))
    with pytest.raises(RateLimitedError) as caught:
        mlflow(script, retry=policy(clock, deadline=5.0)).get("m-1")
    assert clock.sleeps == [2.0, 2.0]  # a third wait would end after the deadline
    assert len(script.requests) == 3
    assert caught.value.status_code == 429
    assert caught.value.message == "slow down"


def test_503_retries_stop_at_the_deadline_as_rate_limited(clock: Clock) -> None:
    script = Script(error(503, "TEMPORARILY_UNAVAILABLE", "busy"))
    with pytest.raises(RateLimitedError):  # RateLimitedError: "429 or 503 still answered when ..."
        mlflow(script, retry=policy(clock, deadline=3.0)).get("m-1")


def test_connection_errors_back_off_linearly_up_to_ten_seconds(clock: Clock) -> None:
    script = Script(refuse)
    with pytest.raises(TransportError) as caught:
        mlflow(script, retry=policy(clock, deadline=80.0)).get("m-1")
    assert clock.sleeps == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10]
    assert len(script.requests) == 13
    assert caught.value.status_code is None
    assert caught.value.method == "GET"
    assert "connection refused" in str(caught.value)


def test_a_connection_error_then_an_answer(clock: Clock) -> None:
    script = Script(refuse, refuse, ok())
    assert mlflow(script, retry=policy(clock)).get("m-1").model_id == "m-1"
    assert clock.sleeps == [1.0, 2.0]


def test_a_create_that_timed_out_is_not_sent_again(clock: Clock) -> None:
    script = Script(read_timeout, ok())
    with pytest.raises(TransportError) as caught:
        mlflow(script, retry=policy(clock)).create("1", name="n")
    assert len(script.requests) == 1
    assert clock.sleeps == []
    assert caught.value.body == {"experiment_id": "1", "name": "n"}


def test_a_create_that_never_connected_is_sent_again(clock: Clock) -> None:
    script = Script(refuse, ok())
    model = mlflow(script, retry=policy(clock)).create("1", name="n")
    assert model.model_id == "m-1"
    assert len(script.requests) == 2
    assert script.bodies() == [{"experiment_id": "1", "name": "n"}] * 2
    assert clock.sleeps == [1.0]


def test_log_params_that_timed_out_is_not_sent_again(clock: Clock) -> None:
    script = Script(read_timeout, httpx.Response(200))
    with pytest.raises(TransportError):
        mlflow(script, retry=policy(clock)).log_params("m-1", {"p": "1"})
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get("m-1"),
        lambda c: c.search_page(experiment_ids=["1"]),
        lambda c: c.set_tags("m-1", {"a": "b"}),
        lambda c: c.finalize("m-1", "READY"),
        lambda c: c.delete("m-1"),
    ],
)
def test_harmless_calls_that_timed_out_are_sent_again(clock: Clock, call: Callable[[Client], Any]) -> None:
    script = Script(read_timeout, ok({"model": model_json()}))
    call(mlflow(script, retry=policy(clock)))
    assert len(script.requests) == 2
    assert clock.sleeps == [1.0]


def test_a_delete_tag_that_timed_out_does_not_become_not_found(clock: Clock) -> None:
    # The first DELETE reached the server and removed the tag, but its answer was lost; MLflow answers a
    # second DELETE of the same tag with 404 (checked on 3.18.0), so resending is not harmless.
    script = Script(read_timeout, error(404, "RESOURCE_DOES_NOT_EXIST", "No tag with key 't' found"))
    with contextlib.suppress(TransportError):
        mlflow(script, retry=policy(clock)).delete_tag("m-1", "t")


# ---- paging --------------------------------------------------------------------------------------------


def test_search_pages_until_the_token_runs_out() -> None:
    api = Api(n=10)
    client = mlflow(api, page_size=3)
    assert [m.model_id for m in client.search("name LIKE 'n%'", experiment_ids=["1"])] == [
        f"m-{i}" for i in range(10)
    ]
    bodies = [body_of(r) or {} for r in api.requests]
    assert [b.get("page_token") for b in bodies] == [None, "3", "6", "9"]
    assert {b["filter"] for b in bodies} == {"name LIKE 'n%'"}
    assert {b["max_results"] for b in bodies} == {3}


def test_search_stops_at_max_results_even_if_a_page_holds_more() -> None:
    script = Script(ok({"models": [model_json(f"m-{i}") for i in range(10)], "next_page_token": "x"}))
    client = mlflow(script)
    assert [m.model_id for m in client.search(experiment_ids=["1"], max_results=4)] == [
        "m-0",
        "m-1",
        "m-2",
        "m-3",
    ]
    assert len(script.requests) == 1


def test_search_stops_on_an_empty_page_that_repeats_its_token() -> None:
    script = Script(
        ok({"models": [model_json("m-0")], "next_page_token": "t"}), ok({"next_page_token": "t"}), ok()
    )
    assert [m.model_id for m in mlflow(script).search(experiment_ids=["1"])] == ["m-0"]
    assert len(script.requests) == 2


def test_a_failed_page_raises_after_the_models_before_it() -> None:
    script = Script(ok({"models": [model_json("m-0")], "next_page_token": "t"}), error(500, "X", "boom"))
    found: list[str] = []
    with pytest.raises(ServerError):
        found.extend(m.model_id for m in mlflow(script).search(experiment_ids=["1"]))
    assert found == ["m-0"]


@pytest.mark.parametrize("bad", [-1, True])
def test_search_refuses_a_bad_max_results_before_sending(bad: Any) -> None:
    api = Api(n=5)
    with pytest.raises(ValueError, match="max_results"):
        list(mlflow(api, page_size=2).search(experiment_ids=["1"], max_results=bad))
    assert api.requests == []


def test_search_max_results_zero_sends_nothing() -> None:
    api = Api(n=5)
    assert list(mlflow(api).search(experiment_ids=["1"], max_results=0)) == []
    assert api.requests == []


# ---- the token stays secret -------------------------------------------------------------------------


def test_the_token_never_shows(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="lmfilter")
    caplog.set_level(logging.DEBUG, logger="httpx")
    script = Script(
        error(429, "REQUEST_LIMIT_EXCEEDED", "slow", {"Retry-After": "1"}),
        ok(),
        error(404, "RESOURCE_DOES_NOT_EXIST", "no such model"),
        httpx.Response(500, text="<html>oops</html>"),
        refuse,
    )
    client = Client.for_databricks("acme", TOKEN, transport=script.transport, retry=policy(clock, deadline=3))
    client.get("m-1")
    errors: list[LoggedModelsError] = []
    for _ in range(3):
        with pytest.raises(LoggedModelsError) as caught:
            client.create("1", name="n", tags={"t": "v"})
        errors.append(caught.value)
    assert [type(e) for e in errors] == [NotFoundError, ServerError, TransportError]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in script.requests)
    assert repr(client) == f"Client({ACME!r}, target='databricks', token=***)"
    for err in errors:
        assert TOKEN not in str(err)
        assert TOKEN not in repr(err)
        assert TOKEN not in repr(vars(err))
    assert caplog.records, "expected the client or httpx to log something"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.args)
    assert TOKEN not in caplog.text


def test_async_repr_hides_the_token() -> None:
    client = AsyncClient.for_databricks("acme", TOKEN)
    assert repr(client) == f"AsyncClient({ACME!r}, target='databricks', token=***)"


def test_basic_auth() -> None:
    script = Script(ok())
    client = Client(
        "http://mlflow.test", basic_auth=("user", "pa ss"), target="mlflow", transport=script.transport
    )
    client.get("m-1")
    expected = "Basic " + base64.b64encode(b"user:pa ss").decode()
    assert script.requests[0].headers["Authorization"] == expected
    assert "pa ss" not in repr(client)
    assert "token=***" in repr(client)


def test_no_credentials_no_authorization_header() -> None:
    script = Script(ok())
    mlflow(script).get("m-1")
    assert "Authorization" not in script.requests[0].headers


def test_a_token_and_basic_auth_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        Client("http://mlflow.test", "t", basic_auth=("u", "p"))


# ---- the async client mirrors the sync one ------------------------------------------------------------


def drive_sync(client: Client, odd_id: str, tag_key: str) -> list[Any]:
    """Every operation once, and a search across pages."""
    out: list[Any] = [client.target.name]
    out.append(client.get(odd_id))
    out.append(client.get("m-1", allow_deleted=True))
    out.append(client.create("1", name="n", model_type="t", params={"p": "1"}, tags=[("t", "v")]))
    client.delete("m-1")
    client.delete_tag(odd_id, tag_key)
    out.append(client.finalize("m-1", "FAILED"))
    client.log_params("m-1", [KeyValue(key="p", value="2")])
    client.set_tags("m-1", {"t": "w"})
    out.append(
        client.search_page(
            "name LIKE 'n%' AND tags.in = 'x'",
            experiment_ids=["1", 2],
            datasets=[{"dataset_name": "train"}],
            order_by=[{"field_name": "metrics.acc", "ascending": False}],
            max_results=2,
            page_token="4",
        )
    )
    out.append(list(client.search("name != 'x'", experiment_ids=["1"], max_results=7)))
    out.append(list(client.search(experiment_ids=["1"])))
    out.append(list(client.search("name = 'n1' OR tags.t = 'v'", experiment_ids=["1"])))
    return out


async def drive_async(client: AsyncClient, odd_id: str, tag_key: str) -> list[Any]:
    """:func:`drive_sync`, awaited."""
    out: list[Any] = [(await client.resolve_target()).name]
    out.append(await client.get(odd_id))
    out.append(await client.get("m-1", allow_deleted=True))
    out.append(await client.create("1", name="n", model_type="t", params={"p": "1"}, tags=[("t", "v")]))
    await client.delete("m-1")
    await client.delete_tag(odd_id, tag_key)
    out.append(await client.finalize("m-1", "FAILED"))
    await client.log_params("m-1", [KeyValue(key="p", value="2")])
    await client.set_tags("m-1", {"t": "w"})
    out.append(
        await client.search_page(
            "name LIKE 'n%' AND tags.in = 'x'",
            experiment_ids=["1", 2],
            datasets=[{"dataset_name": "train"}],
            order_by=[{"field_name": "metrics.acc", "ascending": False}],
            max_results=2,
            page_token="4",
        )
    )
    out.append([m async for m in client.search("name != 'x'", experiment_ids=["1"], max_results=7)])
    out.append([m async for m in client.search(experiment_ids=["1"])])
    out.append([m async for m in client.search("name = 'n1' OR tags.t = 'v'", experiment_ids=["1"])])
    return out


def _clients(kind: str, sync_api: Api, async_api: Api) -> tuple[Client, AsyncClient, str, str]:
    """The two clients, a model id and a tag key as odd as the target can route."""
    if kind == "databricks":
        return (
            Client.for_databricks("acme", TOKEN, transport=sync_api.transport, page_size=3),
            AsyncClient.for_databricks("acme", TOKEN, transport=async_api.transport, page_size=3),
            "a b/c",
            "k/ey %",
        )
    return (
        Client("http://mlflow.test", TOKEN, transport=sync_api.transport, page_size=3),
        AsyncClient("http://mlflow.test", TOKEN, transport=async_api.transport, page_size=3),
        "a b?c#%",
        "k ey%",
    )


@pytest.mark.parametrize("kind", ["mlflow-detected", "databricks"])
def test_both_clients_send_the_same_requests_and_read_the_same_answers(kind: str) -> None:
    sync_api, async_api = Api(n=10), Api(n=10)
    sync_client, async_client, odd_id, tag_key = _clients(kind, sync_api, async_api)
    with sync_client:
        sync_out = drive_sync(sync_client, odd_id, tag_key)

    async def main() -> list[Any]:
        async with async_client:
            return await drive_async(async_client, odd_id, tag_key)

    async_out = asyncio.run(main())
    assert sync_api.seen() == async_api.seen()
    assert sync_out == async_out
    # and what was sent is what it should be
    bodies = sync_api.bodies()
    first_or = next(i for i, b in enumerate(bodies) if b and "n1" in b.get("filter", ""))
    assert first_or == (1 if kind == "mlflow-detected" else 0) + 9 + 3 + 4
    assert {b["filter"] for b in bodies[first_or:] if b} <= {"name = 'n1'", "tags.t = 'v'"}
    page = bodies[first_or - 8]
    assert page == {
        "experiment_ids": ["1", "2"],
        "filter": "name LIKE 'n%' AND tags.`in` = 'x'",
        "datasets": [{"dataset_name": "train"}],
        "max_results": 2,
        "order_by": [{"field_name": "metrics.acc", "ascending": False}],
        "page_token": "4",
    }
    assert sync_out[0] == ("mlflow-3.17" if kind == "mlflow-detected" else "databricks")
    assert isinstance(sync_out[5], SearchLoggedModelsResponse)
    assert [m.model_id for m in sync_out[6]] == [f"m-{i}" for i in range(7)]
    assert [m.model_id for m in sync_out[7]] == [f"m-{i}" for i in range(10)]
    assert all(isinstance(m, LoggedModel) for m in sync_out[7])
    assert [m.model_id for m in sync_out[8]] == ["m-1"]  # the OR is checked locally as well


def test_both_clients_wait_alike(clock: Clock) -> None:
    answers: list[Answer] = [error(429, headers={"Retry-After": "3"}), refuse, error(503), ok()]
    sync_script, async_script = Script(*answers), Script(*answers)
    sync_model = Client(
        "http://mlflow.test", target="mlflow", transport=sync_script.transport, retry=policy(clock)
    ).get("m-1")
    sync_sleeps = list(clock.sleeps)
    clock.sleeps.clear()

    async def main() -> LoggedModel:
        client = AsyncClient(
            "http://mlflow.test", target="mlflow", transport=async_script.transport, retry=policy(clock)
        )
        async with client:
            return await client.get("m-1")

    assert asyncio.run(main()) == sync_model
    assert sync_sleeps == clock.sleeps == [3.0, 2.0, 1.0]
    assert len(sync_script.requests) == len(async_script.requests) == 4


def test_async_errors_are_the_same_types(clock: Clock) -> None:
    script = Script(read_timeout)

    async def main() -> None:
        async with AsyncClient(
            "http://mlflow.test", target="mlflow", transport=script.transport, retry=policy(clock)
        ) as client:
            with pytest.raises(lmfilter.FilterError):
                await client.search_page("name = 'a' OR name = 'b'", experiment_ids=["1"])
            with pytest.raises(lmfilter.FilterError):
                [m async for m in client.search("metric.acc > 1", experiment_ids=["1"])]
            assert script.requests == []
            with pytest.raises(TransportError):
                await client.create("1")

    asyncio.run(main())
    assert len(script.requests) == 1


def test_the_clients_are_exported_from_the_package() -> None:
    assert lmfilter.Client is Client
    assert lmfilter.AsyncClient is AsyncClient
