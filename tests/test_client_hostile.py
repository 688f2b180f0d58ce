"""The clients and the server commands against hostile servers and hostile ids (issue 11, items 1-6).

Every misbehaving server here is a real HTTP server on 127.0.0.1 (``tests.hostile_server.HostileServer``):
it trickles bodies, repeats or cycles page tokens, sends endless empty pages, malformed or deeply nested JSON,
503 before 200, drops connections, and echoes secrets. Each test that waits on one is bounded in time, and
each server stops by itself.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import gzip
import itertools
import json
import logging
import re
import time
import tracemalloc
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest

from lmfilter.cli import main
from lmfilter.client import (
    API,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    LoggedModelsError,
    MalformedAnswerError,
    NotFoundError,
    PageLimits,
    PagingError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from lmfilter.planner import plan
from lmfilter.wire import SearchLoggedModelsRequest, SearchLoggedModelsResponse
from tests.hostile_server import HostileServer, Reply, Seen, closed_port

JSON = dict[str, Any]
SECRET = "S3CRET-pa55"
TOKEN = "tok-0123456789-SECRET"


def model_json(model_id: str = "m-1") -> JSON:
    return {"info": {"model_id": model_id, "experiment_id": "1", "name": "a", "status": "LOGGED_MODEL_READY"}}


def model_reply(model_id: str = "m-1") -> Reply:
    return Reply.json({"model": model_json(model_id)})


def quick(deadline: float = 10.0) -> RetryPolicy:
    """Retries without jitter, so a test's waits are known."""
    return RetryPolicy(deadline=deadline, jitter=0.0)


def client_of(server: HostileServer, **options: Any) -> Client:
    options.setdefault("target", "mlflow")
    options.setdefault("retry", quick())
    return Client(server.base_url, **options)


def async_client_of(server: HostileServer, **options: Any) -> AsyncClient:
    options.setdefault("target", "mlflow")
    options.setdefault("retry", quick())
    return AsyncClient(server.base_url, **options)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def searches(server: HostileServer) -> list[Seen]:
    return [seen for seen in server.requests if seen.path.endswith("/logged-models/search")]


# ---- 1. every id and key is one path segment ----------------------------------------------------------

OPERATIONS: dict[str, Callable[[Client, str], Any]] = {
    "get": lambda c, v: c.get(v),
    "delete": lambda c, v: c.delete(v),
    "finalize": lambda c, v: c.finalize(v, "READY"),
    "log_params": lambda c, v: c.log_params(v, {"p": "1"}),
    "set_tags": lambda c, v: c.set_tags(v, {"t": "v"}),
    "delete_tag(id)": lambda c, v: c.delete_tag(v, "t"),
    "delete_tag(key)": lambda c, v: c.delete_tag("m-1", v),
}


class Idle:
    """A server that answers ``{}`` to anything, a client of it that knows the target (MLflow 3.18) and
    one that does not; shared by the tests of this module that send little or nothing."""

    def __init__(self, server: HostileServer) -> None:
        self.server = server
        self.mlflow = client_of(server)
        self.undetected = Client(server.base_url, retry=quick())

    def sent(self, call: Callable[[], Any]) -> list[str]:
        """What ``call`` sent, as ``METHOD path`` lines."""
        before = len(self.server.requests)
        call()
        return self.server.paths[before:]

    def refused(self, call: Callable[[], Any], match: str) -> ValueError:
        """The error ``call`` raised, having sent nothing."""
        before = len(self.server.requests)
        with pytest.raises(ValueError, match=match) as caught:
            call()
        assert len(self.server.requests) == before
        return caught.value


@pytest.fixture(scope="module")
def idle() -> Iterator[Idle]:
    with HostileServer(lambda seen: Reply.json({}), lifetime=600) as server:
        shared = Idle(server)
        with shared.mlflow, shared.undetected:
            yield shared


@pytest.mark.parametrize("value", ["", ".", ".."])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_dot_and_empty_segments_are_refused_before_anything_is_sent(
    idle: Idle, operation: str, value: str
) -> None:
    # The client does not know its target, and still sends nothing, not even GET /version.
    error = idle.refused(
        lambda: OPERATIONS[operation](idle.undetected, value), r"empty|'\.\.?' cannot be sent"
    )
    assert "Traceback" not in str(error)


@pytest.mark.parametrize(
    ("call", "reached"),
    [
        (lambda c: c.delete_tag("m-1", ".."), f"{API}logged-models/m-1"),
        (lambda c: c.delete_tag("m-1", "."), f"{API}logged-models/m-1/tags"),
        (lambda c: c.set_tags("..", {"t": "v"}), f"{API}tags"),
        (lambda c: c.get("."), f"{API}logged-models"),
        (lambda c: c.log_params(".", {"p": "1"}), f"{API}logged-models/params"),
    ],
)
def test_the_refusal_says_which_endpoint_the_request_would_have_reached(
    idle: Idle, call: Callable[[Client], Any], reached: str
) -> None:
    error = idle.refused(lambda: call(idle.mlflow), "cannot be sent")
    assert str(error).endswith(f"so the request would reach {reached} instead")


def test_the_async_client_refuses_the_same() -> None:
    async def refusal(call: Callable[[AsyncClient], Awaitable[Any]]) -> str:
        async with AsyncClient("http://127.0.0.1:9") as client:
            with pytest.raises(ValueError, match=r"cannot be sent|empty") as caught:
                await call(client)
        return str(caught.value)

    assert "would reach /api/2.0/mlflow/logged-models/m-1 instead" in asyncio.run(
        refusal(lambda c: c.delete_tag("m-1", ".."))
    )
    assert "must not be empty" in asyncio.run(refusal(lambda c: c.delete("")))


ODD = [
    "a b",
    "a?b=1",
    "a#b",
    "a%b",
    "a%2Fb",
    "%2E%2E",
    ".%2E",
    "...",
    " .. ",
    "a\tb",
    "a\x00b",
    "é",
    "😀",
    "a\\b",
]


@pytest.mark.parametrize("value", ODD)
def test_odd_ids_and_keys_reach_the_server_as_one_segment_of_data(idle: Idle, value: str) -> None:
    def both() -> None:
        idle.mlflow.delete(value)
        idle.mlflow.delete_tag("m-1", value)

    first, second = idle.sent(both)
    segment = first.removeprefix(f"DELETE {API}logged-models/")
    key = second.removeprefix(f"DELETE {API}logged-models/m-1/tags/")
    assert "/" not in segment + key
    assert unquote(segment) == unquote(key) == value


@pytest.mark.parametrize("value", ["a/b", "m-1/tags/t", "a\nb"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_mlflow_refuses_ids_and_keys_its_router_would_misread(idle: Idle, operation: str, value: str) -> None:
    # MLflow decodes %2F before routing: DELETE logged-models/m-1%2Ftags%2Ft deletes tag t of m-1 (3.17.2).
    idle.refused(lambda: OPERATIONS[operation](idle.mlflow, value), "MLflow cannot take")


def test_an_undetected_mlflow_asks_its_version_before_refusing_a_slash() -> None:
    with (
        HostileServer(lambda seen: Reply(200, b"3.18.0")) as server,
        Client(server.base_url) as client,
        pytest.raises(ValueError, match="MLflow cannot take the model id 'a/b'"),
    ):
        client.get("a/b")
    assert server.paths == ["GET /version"]


def test_databricks_gets_a_slash_as_one_encoded_segment() -> None:
    with (
        HostileServer([model_reply("a/b")]) as server,
        Client.for_databricks(host=server.base_url, token="t", retry=quick()) as client,
    ):
        assert client.get("a/b").model_id == "a/b"
    assert server.paths == [f"GET {API}logged-models/a%2Fb"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.get("\ud800"), "not valid Unicode"),
        (lambda c: c.delete_tag("m-1", "k\udcff"), "not valid Unicode"),
        (lambda c: c.set_tags("m-1", {"t": "\udcff"}), "not valid Unicode"),
        (lambda c: c.create("1", name="\ud800"), "not valid Unicode"),
        (lambda c: c.get("x" * 9000), "characters long once encoded"),
        (lambda c: c.delete_tag("m-1", "é" * 2000), "characters long once encoded"),
    ],
)
def test_ids_keys_and_bodies_no_request_can_carry_are_refused(
    idle: Idle, call: Callable[[Client], Any], message: str
) -> None:
    idle.refused(lambda: call(idle.mlflow), message)


def test_the_cli_refuses_a_dot_key_in_one_line_and_sends_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with HostileServer([Reply.json({})]) as server:
        status, out, err = run(capsys, "models", "delete-tag", "m-1", "..", "--server", server.base_url)
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("lmfilter models delete-tag: tag key '..' cannot be sent")
    assert f"would reach {API}logged-models/m-1 instead" in err
    assert server.requests == []


def test_the_cli_shows_the_request_line_really_sent(capsys: pytest.CaptureFixture[str]) -> None:
    answers = [Reply.json({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}, 404)]
    with HostileServer(answers) as server:
        status, _, err = run(capsys, "models", "get", "a b?", "--server", server.base_url, "-v")
    sent = f"{server.base_url}{API}logged-models/a%20b%3F"
    assert server.paths[-1] == f"GET {API}logged-models/a%20b%3F"
    assert status == 1
    assert err.splitlines() == [
        f"lmfilter: GET {sent} -> 404",
        f"lmfilter models get: HTTP 404 RESOURCE_DOES_NOT_EXIST: no (GET {sent})",
    ]


# ---- 2. paging ends ------------------------------------------------------------------------------------


class Pages:
    """A search endpoint whose next token comes from ``next_token(token_asked)``; each page holds one new
    model (or none, with ``empty``)."""

    def __init__(self, next_token: Callable[[str | None], str | None], empty: bool = False) -> None:
        self.next_token, self.empty = next_token, empty
        self.count = itertools.count()

    def __call__(self, seen: Seen) -> Reply:
        if seen.path == "/version":
            return Reply(200, b"3.18.0")
        token = (seen.json() or {}).get("page_token")
        page: JSON = {} if self.empty else {"models": [model_json(f"m-{next(self.count):05d}")]}
        following = self.next_token(token)
        if following is not None:
            page["next_page_token"] = following
        return Reply.json(page)


def _search_sync(server: HostileServer, **options: Any) -> list[str]:
    with client_of(server, **options) as client:
        return [m.model_id for m in client.search(experiment_ids=["1"])]


def _search_async(server: HostileServer, **options: Any) -> list[str]:
    async def go() -> list[str]:
        async with async_client_of(server, **options) as client:
            return [m.model_id async for m in client.search(experiment_ids=["1"])]

    return asyncio.run(go())


SEARCHES = {"sync": _search_sync, "async": _search_async}


@pytest.mark.parametrize("how", SEARCHES)
def test_a_repeating_token_is_a_paging_error(how: str) -> None:
    with (
        HostileServer(Pages(lambda token: "again")) as server,
        pytest.raises(PagingError, match="sent the page token 'again' again after 2 pages") as caught,
    ):
        SEARCHES[how](server)
    assert len(searches(server)) == 2
    assert isinstance(caught.value, LoggedModelsError)


@pytest.mark.parametrize("how", SEARCHES)
def test_tokens_that_cycle_are_a_paging_error(how: str) -> None:
    cycle = {None: "a", "a": "b", "b": "a"}
    with (
        HostileServer(Pages(lambda token: cycle[token])) as server,
        pytest.raises(PagingError, match="'a' again after 3 pages"),
    ):
        SEARCHES[how](server)
    assert [(s.json() or {}).get("page_token") for s in searches(server)] == [None, "a", "b"]


@pytest.mark.parametrize("how", SEARCHES)
def test_endless_empty_pages_with_new_tokens_end_at_the_limit(how: str) -> None:
    with (
        HostileServer(Pages(lambda token: uuid.uuid4().hex, empty=True)) as server,
        pytest.raises(PagingError, match=r"100 empty pages in a row \(PageLimits.empty_pages\)"),
    ):
        SEARCHES[how](server)  # the default limits
    assert len(searches(server)) == 100


def test_endless_full_pages_end_at_the_page_limit() -> None:
    with (
        HostileServer(Pages(lambda token: uuid.uuid4().hex)) as server,
        pytest.raises(PagingError, match=r"more than 5 pages \(PageLimits.pages\)"),
    ):
        _search_sync(server, page_limits=PageLimits(pages=5))
    assert len(searches(server)) == 5


def test_slow_endless_pages_end_at_the_time_limit() -> None:
    slow = Pages(lambda token: uuid.uuid4().hex)

    def paced(seen: Seen) -> Reply:  # each page takes about 0.3 s to arrive
        reply = slow(seen)
        return Reply(reply.status, reply.body, reply.headers, trickle=0.3 / max(len(reply.body), 1))

    with HostileServer(paced) as server:
        started = time.monotonic()
        with pytest.raises(PagingError, match=r"more than the 1 s of PageLimits.seconds"):
            _search_sync(server, page_limits=PageLimits(seconds=1.0))
        took = time.monotonic() - started
    assert 2 <= len(searches(server)) <= 6
    assert took < 5


def test_the_time_limit_counts_waiting_for_pages_not_the_callers_time() -> None:
    now = [0.0]

    def fetch(body: SearchLoggedModelsRequest) -> SearchLoggedModelsResponse:
        now[0] += 1.0  # each page takes a second
        offset = int(body.page_token or 0)
        token = str(offset + 1) if offset < 4 else None
        page = SearchLoggedModelsResponse.model_validate({"models": [model_json(f"m-{offset}")]})
        return page.model_copy(update={"next_page_token": token})

    clock = lambda: now[0]  # noqa: E731
    found = []
    for model in plan(experiment_ids=["1"], page_size=1, limits=PageLimits(seconds=6.0, clock=clock)).run(
        fetch
    ):
        now[0] += 100.0  # the caller takes its time over each model
        found.append(model.model_id)
    assert found == [f"m-{i}" for i in range(5)]  # 5 s of waiting for pages, 500 s in all
    now[0] = 0.0
    with pytest.raises(PagingError, match=r"spent 4.0 s waiting for 4 pages, more than the 3 s"):
        list(plan(experiment_ids=["1"], page_size=1, limits=PageLimits(seconds=3.0, clock=clock)).run(fetch))


def test_a_page_token_is_sent_back_as_it_came() -> None:
    tokens = {None: "\ud800 é\n", "\ud800 é\n": None}
    with HostileServer(Pages(lambda token: tokens[token])) as server:
        assert _search_sync(server) == ["m-00000", "m-00001"]
    assert [s.body for s in searches(server)][1].endswith(b'"page_token":"\\ud800 \\u00e9\\n"}')


def test_a_fan_out_whose_one_request_pages_for_ever_is_stopped() -> None:
    def script(seen: Seen) -> Reply:
        body = seen.json() or {}
        token = "loop" if body.get("filter") == "params.a = 'x'" else None
        return Reply.json({"models": [model_json(f"m-{uuid.uuid4().hex}")], "next_page_token": token})

    with HostileServer(script) as server, client_of(server) as client:
        found = client.search("params.a = 'x' OR tags.t = 'y'", experiment_ids=["1"])
        assert len(client.plan("params.a = 'x' OR tags.t = 'y'", experiment_ids=["1"]).requests) == 2
        with pytest.raises(PagingError, match=r"again after 2 pages of search request 1 \(params.a = 'x'\)"):
            list(found)


def test_async_fan_out_cancels_the_other_requests_when_one_fails() -> None:
    def script(seen: Seen) -> Reply:
        if (seen.json() or {}).get("filter") == "params.a = 'x'":
            return Reply.json({"models": "not a list"})
        return Reply(hang=True)

    async def go(server: HostileServer) -> None:
        async with async_client_of(server, retry=quick(deadline=20)) as client:
            [m async for m in client.search("params.a = 'x' OR tags.t = 'y'", experiment_ids=["1"])]

    with HostileServer(script) as server:
        started = time.monotonic()
        with pytest.raises(MalformedAnswerError, match="models: Input should be a valid tuple"):
            asyncio.run(go(server))
        assert time.monotonic() - started < 5  # not the 20 s the held request could have taken


def test_the_cli_ends_an_endless_search_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with HostileServer(Pages(lambda token: "again")) as server:
        status, out, err = run(capsys, "search", "", "--server", server.base_url, "--experiment-id", "1")
    assert status == 1
    assert out.split() == ["m-00000"]  # the first page's model, then the error
    assert err.count("\n") == 1
    assert err.startswith("lmfilter search: the server sent the page token 'again' again")


# ---- 3. the deadline bounds the whole call ----------------------------------------------------------------


def trickle(reply: Reply, every: float = 0.5) -> Reply:
    return Reply(reply.status, reply.body, reply.headers, trickle=every)


def test_a_trickled_answer_ends_at_the_deadline() -> None:
    with HostileServer([trickle(model_reply())]) as server, client_of(server, retry=quick(3)) as client:
        started = time.monotonic()
        with pytest.raises(TransportError, match="no whole answer within the 3 s deadline") as caught:
            client.get("m-1")
        took = time.monotonic() - started
    assert took < 3 + 1.5
    assert len(server.requests) == 1  # no time was left to try again
    assert caught.value.url == f"{server.base_url}{API}logged-models/m-1"


def test_a_trickled_answer_ends_at_the_deadline_async() -> None:
    async def go(server: HostileServer) -> None:
        async with async_client_of(server, retry=quick(3)) as client:
            await client.get("m-1")

    with HostileServer([trickle(model_reply())]) as server:
        started = time.monotonic()
        with pytest.raises(TransportError, match="within the 3 s deadline"):
            asyncio.run(go(server))
        assert time.monotonic() - started < 3 + 1.5


def test_a_held_request_ends_at_the_deadline() -> None:
    with HostileServer([Reply(hang=True)]) as server, client_of(server, retry=quick(1)) as client:
        started = time.monotonic()
        with pytest.raises(TransportError):
            client.search_page(experiment_ids=["1"])
        assert time.monotonic() - started < 1 + 1.5


def test_a_trickled_create_is_neither_endless_nor_sent_twice() -> None:
    with (
        HostileServer([trickle(model_reply()), model_reply()]) as server,
        client_of(server, retry=quick(2)) as client,
        pytest.raises(TransportError),
    ):
        client.create("1", name="n")
    assert len(server.requests) == 1


HEADS = {
    # A status line and one header that never ends, a byte every 0.3 s (each read gets a byte in time).
    "trickled headers": Reply(raw=b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 200, trickle=0.3),
    # Informational answers for ever: each is whole, so no read ever waits long.
    "102 for ever": Reply(raw=b"HTTP/1.1 102 Processing\r\n\r\n" * 100, trickle=0.2, piece=28),
}


def _serving_ends(server: HostileServer) -> bool:
    """Whether the server sees its connections closed soon (the client kept no socket open)."""
    for _ in range(100):
        if not server.serving:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("head", HEADS.values(), ids=HEADS.keys())
def test_a_status_line_and_headers_that_never_end_stop_at_the_deadline(head: Reply) -> None:
    with HostileServer([head, model_reply()]) as server, client_of(server, retry=quick(2)) as client:
        started = time.monotonic()
        with pytest.raises(TransportError, match="no answer within the 2 s deadline"):
            client.get("m-1")
        assert time.monotonic() - started < 2 + 1
        assert len(server.requests) == 1
        assert _serving_ends(server)
        assert client.get("m-1").model_id == "m-1"  # the client is as good as before


@pytest.mark.parametrize("head", HEADS.values(), ids=HEADS.keys())
def test_a_status_line_and_headers_that_never_end_stop_at_the_deadline_async(head: Reply) -> None:
    async def go(server: HostileServer) -> None:
        async with async_client_of(server, retry=quick(2)) as client:
            started = time.monotonic()
            with pytest.raises(TransportError, match="no answer within the 2 s deadline"):
                await client.get("m-1")
            assert time.monotonic() - started < 2 + 1
            assert (await client.get("m-1")).model_id == "m-1"

    with HostileServer([head, model_reply()]) as server:
        asyncio.run(go(server))
        assert len(server.requests) == 2
        assert _serving_ends(server)


def test_a_create_whose_headers_never_end_is_not_sent_twice() -> None:
    with (
        HostileServer([HEADS["trickled headers"], model_reply()]) as server,
        client_of(server, retry=quick(1.5)) as client,
        pytest.raises(TransportError, match="not sent again"),
    ):
        client.create("1", name="n")
    assert len(server.requests) == 1


def test_the_cli_gives_up_on_an_unreachable_server_within_its_timeout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    status, out, err = run(capsys, "search", "", "--server", url, "--experiment-id", "1", "--timeout", "2")
    assert time.monotonic() - started < 4
    assert (status, out) == (1, "")
    retry, final = err.splitlines()
    assert retry == f"lmfilter: no answer to GET {url}/version (ConnectError); retrying in 1.0 s"
    assert final.startswith("lmfilter search: no answer after 2 attempts: ")
    assert final.endswith(f"(GET {url}/version)")


def test_the_cli_timeout_ends_a_held_request(capsys: pytest.CaptureFixture[str]) -> None:
    with HostileServer([Reply(hang=True)]) as server:
        started = time.monotonic()
        status, _, err = run(capsys, "models", "get", "m-1", "--server", server.base_url, "--timeout", "1.5")
        assert time.monotonic() - started < 1.5 + 1.5
    assert status == 1
    assert err.splitlines()[-1].startswith("lmfilter models get: no answer")


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "soon"])
def test_the_cli_timeout_must_be_a_positive_number(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["models", "get", "m-1", "--server", "http://127.0.0.1:9", "--timeout", bad])
    assert caught.value.code == 2
    assert "expected a positive number of seconds" in capsys.readouterr().err


# ---- 4. malformed answers are typed errors ---------------------------------------------------------------

MALFORMED = {
    "a model without an id": b'{"models": [{"info": {}}]}',
    "models not a list": b'{"models": "x"}',
    "a token that is a number": b'{"models": [], "next_page_token": 5}',
    "a list": b"[1, 2]",
    "null": b"null",
    "not JSON": b"<html>hello</html>",
    "arrays 50k deep": b"[" * 50_000 + b"]" * 50_000,
    "objects 50k deep": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "models 50k deep": b'{"models": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "bad UTF-8": b'{"models": "\xff\xfe"}',
    "a 5000-digit number": b'{"models": [], "n": ' + b"7" * 5000 + b"}",
    "a status that is an object": b'{"models": [{"info": {"model_id": "m", "status": {"a": [1]}}}]}',
    "a metric value that is text": (
        b'{"models": [{"info": {"model_id": "m"}, "data": {"metrics": [{"key": "k", "value": "high"}]}}]}'
    ),
}


def _malformed(seen: Seen) -> Reply:
    """Answers with the body of MALFORMED named by the experiment id searched, or by the model id."""
    name = unquote(seen.path.split("/")[5])  # /api/2.0/mlflow/logged-models/<name>[/...]
    if name == "search":
        name = (seen.json() or {})["experiment_ids"][0]
    return Reply.json(MALFORMED[name])


@pytest.fixture(scope="module")
def malformed() -> Iterator[tuple[HostileServer, Client]]:
    with HostileServer(_malformed, lifetime=600) as server, client_of(server) as client:
        yield server, client


def _check_malformed(error: MalformedAnswerError, url: str) -> None:
    assert type(error) is MalformedAnswerError
    assert str(error).startswith("HTTP 200: an answer lmfilter cannot read: ")
    assert error.url == url
    assert len(str(error)) < 1000


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_answers_are_malformed_answer_errors(
    malformed: tuple[HostileServer, Client], name: str
) -> None:
    server, client = malformed
    with pytest.raises(MalformedAnswerError) as caught:
        list(client.search(experiment_ids=[name]))
    _check_malformed(caught.value, f"{server.base_url}{API}logged-models/search")
    with pytest.raises(MalformedAnswerError) as caught:
        client.get(name)
    _check_malformed(caught.value, f"{server.base_url}{API}logged-models/{quote(name, safe='')}")
    with pytest.raises(MalformedAnswerError):
        client.finalize(name, "READY")


def test_malformed_answers_are_malformed_answer_errors_async() -> None:
    async def go(server: HostileServer) -> list[BaseException]:
        errors: list[BaseException] = []
        async with async_client_of(server) as client:
            for name in MALFORMED:
                try:
                    [m async for m in client.search(experiment_ids=[name])]
                except BaseException as error:  # each is checked below
                    errors.append(error)
        return errors

    with HostileServer(_malformed) as server:
        errors = asyncio.run(go(server))
    assert [type(e) for e in errors] == [MalformedAnswerError] * len(MALFORMED)
    for error in errors:
        assert isinstance(error, MalformedAnswerError)
        _check_malformed(error, f"{server.base_url}{API}logged-models/search")


@pytest.mark.parametrize("name", ["a list", "not JSON", "arrays 50k deep", "null"])
def test_operations_that_answer_nothing_still_need_a_json_object(
    malformed: tuple[HostileServer, Client], name: str
) -> None:
    with pytest.raises(MalformedAnswerError):
        malformed[1].set_tags(name, {"t": "v"})


def test_the_cli_prints_one_line_for_a_malformed_answer(capsys: pytest.CaptureFixture[str]) -> None:
    with HostileServer([Reply.json(MALFORMED["arrays 50k deep"])]) as server:
        status, out, err = run(
            capsys, "search", "", "--server", server.base_url, "--experiment-id", "1", "--target", "mlflow"
        )
    assert (status, out) == (1, "")
    assert err == (
        "lmfilter search: HTTP 200: an answer lmfilter cannot read: JSON nested too deeply to read "
        f"(POST {server.base_url}{API}logged-models/search)\n"
    )


def test_odd_error_bodies_are_typed_and_short() -> None:
    replies = [
        Reply.json({"error_code": 5, "message": {"nested": [1, None]}}, 404),
        Reply.json({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "x" * 10_000}, 404),
        Reply.json({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "y" * 1_000_000}, 404),
        Reply(500, b"<html>" + b"oops " * 2_000_000),  # 10 MB of HTML
        Reply.json(b'{"message": ' + b"[" * 50_000, 404),
        Reply.json({"error_code": "X" * 1000, "message": "long code"}, 400),
        Reply(302, b"", (("Location", "http://127.0.0.1:9/elsewhere"),)),
    ]
    with HostileServer(replies) as server, client_of(server) as client:
        errors = []
        for _ in replies:
            with pytest.raises(LoggedModelsError) as caught:
                client.get("m-1")
            errors.append(caught.value)
    assert [type(e) for e in errors] == [
        NotFoundError,
        NotFoundError,
        NotFoundError,
        ServerError,
        NotFoundError,
        BadRequestError,
        LoggedModelsError,
    ]
    assert (errors[0].message, errors[0].error_code) == ('{"nested": [1, null]}', None)
    assert (errors[1].message, errors[1].error_code) == ("x" * 2000 + "...", "RESOURCE_DOES_NOT_EXIST")
    # Past the 64 KiB read of an error, the JSON is cut: its start is shown as text.
    assert errors[2].message.startswith('{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "yyy')
    assert len(errors[2].message) == 303
    assert errors[3].message.startswith("<html>oops oops")
    assert len(errors[3].message) == 303
    assert errors[4].message.startswith('{"message": [[[')
    assert errors[5].error_code is None
    assert errors[6].status_code == 302
    assert len(server.requests) == len(replies)  # nothing retried, no redirect followed


def test_an_answer_larger_than_the_cap_is_refused() -> None:
    big = Reply.json({"model": model_json(), "padding": "x" * 5000})
    with (
        HostileServer([big]) as server,
        client_of(server, max_answer_bytes=1000) as client,
        pytest.raises(MalformedAnswerError, match="larger than the 1,000 bytes lmfilter reads"),
    ):
        client.get("m-1")


def test_an_answer_that_does_not_decompress_is_malformed() -> None:
    broken = Reply(200, b"this is not gzip", (("Content-Encoding", "gzip"),))
    bomb = Reply(200, gzip.compress(b"[" * 3_000_000), (("Content-Encoding", "gzip"),))
    with HostileServer([broken, bomb]) as server, client_of(server, max_answer_bytes=100_000) as client:
        with pytest.raises(MalformedAnswerError, match=r"Content-Encoding \(gzip\) cannot be decoded"):
            client.get("m-1")
        with pytest.raises(MalformedAnswerError, match="larger than"):
            client.get("m-1")


BOMB = 64 * 1024 * 1024  # bytes of zeros, which compress a thousandfold


@functools.cache
def _compressed(encoding: str) -> bytes:
    """BOMB zeros in ``encoding``: gzip, deflate (zlib), raw deflate, or gzip of gzip."""
    if encoding == "gzip, gzip":
        return gzip.compress(_compressed("gzip"))
    wbits = {"gzip": 31, "deflate": 15, "raw deflate": -15}[encoding]
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(BOMB // len(zeros))) + packer.flush()


def _peak_memory(call: Callable[[], Any]) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    try:
        call()
        error = None
    except Exception as caught:
        error = caught
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error


@pytest.mark.parametrize(
    ("encoding", "status", "error", "message"),
    [
        ("gzip", 200, MalformedAnswerError, "larger than the 1,048,576 bytes"),
        ("deflate", 200, MalformedAnswerError, "larger than the 1,048,576 bytes"),
        ("raw deflate", 200, MalformedAnswerError, "larger than the 1,048,576 bytes"),
        ("gzip, gzip", 200, MalformedAnswerError, r"Content-Encoding \(gzip, gzip\) cannot be decoded"),
        ("gzip", 500, ServerError, "HTTP 500"),
        ("gzip, gzip", 503, RateLimitedError, "HTTP 503"),
    ],
)
def test_a_compression_bomb_is_stopped_at_the_cap(
    encoding: str, status: int, error: type[Exception], message: str
) -> None:
    header = "deflate" if encoding == "raw deflate" else encoding
    bomb = Reply(status, _compressed(encoding), (("Content-Encoding", header),))
    limits = {"max_answer_bytes": 1024 * 1024, "retry": quick(1.5)}
    with HostileServer([bomb]) as server, client_of(server, **limits) as client:
        peak, caught = _peak_memory(lambda: client.get("m-1"))
    assert type(caught) is error
    assert re.search(message, str(caught))
    assert len(str(caught)) < 1000
    assert peak < 16 * 1024 * 1024  # the bomb would be 64 MiB (and 2 GiB stacked), not the cap's 1 MiB
    assert len(server.requests) == (2 if status == 503 else 1)  # a 503 is retried once after 1 s


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "raw deflate", "identity", "GZIP "])
def test_compressed_answers_are_read(encoding: str) -> None:
    body = json.dumps({"model": model_json()}).encode()
    name = encoding.strip().lower()
    pack = {"gzip": 31, "x-gzip": 31, "deflate": 15, "raw deflate": -15}.get(name)
    if pack is not None:
        packer = zlib.compressobj(6, zlib.DEFLATED, pack)
        body = packer.compress(body) + packer.flush()
    header = "deflate" if encoding == "raw deflate" else encoding
    reply = Reply(200, body, (("Content-Encoding", header), ("Content-Type", "application/json")))
    with HostileServer([reply]) as server, client_of(server) as client:
        assert client.get("m-1").model_id == "m-1"
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, gzip.compress(b'{"model": {}}')[:-12], (("Content-Encoding", "gzip"),)),  # cut short
        Reply(200, b'{"model": {}}', (("Content-Encoding", "br"),)),
        Reply(200, b'{"model": {}}', (("Content-Encoding", "gzip"), ("Content-Encoding", "identity"))),
    ],
    ids=["gzip cut short", "brotli", "two headers"],
)
def test_an_encoding_lmfilter_cannot_undo_is_malformed(reply: Reply) -> None:
    async def go(server: HostileServer) -> None:
        async with async_client_of(server) as client:
            await client.get("m-1")

    with HostileServer([reply]) as server:
        for call in (lambda: client_of(server).get("m-1"), lambda: asyncio.run(go(server))):
            with pytest.raises(MalformedAnswerError, match="cannot be decoded"):
                call()


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        (None, 1.0),
        ("", 1.0),
        ("3", 3.0),
        (" 7 ", 7.0),
        ("²", 1.0),
        ("٣", 1.0),  # an Arabic-Indic three: a digit to Python, not to HTTP
        ("-1", 1.0),
        ("1.5", 1.0),
        ("NaN", 1.0),
        ("inf", 1.0),
        ("1e9", 1.0),
        ("1000000000", 1e9),
        ("9" * 50, float("inf")),
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),
        ("Wed, 31 Dec 2025 23:00:00 GMT", 0.0),  # in the past
        ("Thu, 01 Jan 2026 00:00:30", 1.0),  # no zone: not an HTTP date
        ("Thu, 99 Jan 2026 00:00:30 GMT", 1.0),
    ],
)
def test_retry_after_is_read_as_http_says(header: str | None, wait: float) -> None:
    midnight = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC).timestamp()
    assert RetryPolicy(wall_clock=lambda: midnight).retry_after(header) == wait


def test_a_non_ascii_retry_after_from_a_real_server_waits_the_default() -> None:
    busy = Reply.json(
        {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}, 503, (("Retry-After", "²".encode()),)
    )
    with HostileServer([busy, model_reply()]) as server, client_of(server) as client:
        assert client.get("m-1").model_id == "m-1"
    assert len(server.requests) == 2


def test_a_retry_after_past_the_deadline_ends_at_once() -> None:
    busy = Reply.json({"message": "busy"}, 429, (("Retry-After", "1000000000"),))
    with HostileServer([busy, model_reply()]) as server, client_of(server) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitedError, match="still busy after 1 attempt"):
            client.get("m-1")
        assert time.monotonic() - started < 2
    assert len(server.requests) == 1


def test_retry_after_zero_for_ever_is_asked_a_bounded_number_of_times() -> None:
    with (
        HostileServer([BUSY]) as server,
        client_of(server, retry=quick(2)) as client,
        pytest.raises(RateLimitedError, match="still busy after"),
    ):
        client.get("m-1")
    # 0.1 s, 0.2 s, 0.3 s, ... between attempts: 6 fit in 2 s (without the floor, hundreds did).
    assert 3 <= len(server.requests) <= 8


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_the_least_pause_is_a_number_of_seconds(bad: float) -> None:
    with pytest.raises(ValueError, match="min_pause"):
        RetryPolicy(min_pause=bad)


def test_a_server_message_cannot_break_the_cli_line(capsys: pytest.CaptureFixture[str]) -> None:
    evil = Reply.json({"error_code": "BAD", "message": "line one\nline two\x1b[2J\r\u202e"}, 400)
    with HostileServer([evil]) as server:
        status, _, err = run(capsys, "models", "get", "m-1", "--server", server.base_url, "--timeout", "5")
    assert status == 1
    assert err.count("\n") == 1
    assert "line one\\nline two\\x1b[2J\\r\\u202e" in err
    assert "\x1b" not in err


def test_the_cli_escapes_odd_model_ids_and_refuses_lone_surrogates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    odd = b'{"models": [{"info": {"model_id": "m-1\\nm-2\\u001b[2J"}}]}'
    with HostileServer([Reply.json(odd)]) as server:
        where = ("--server", server.base_url, "--experiment-id", "1", "--target", "mlflow")
        status, out, _ = run(capsys, "search", "", *where)
        assert status == 0
        assert out.splitlines() == ["m-1\\nm-2\\x1b[2J"]
    # Half a surrogate pair is no text a server stores: the answer is malformed, said in one line.
    half = b'{"models": [{"info": {"model_id": "m-\\ud800"}}]}'
    with HostileServer([Reply.json(half)]) as server:
        where = ("--server", server.base_url, "--experiment-id", "1", "--target", "mlflow")
        for output in ("ids", "json"):
            status, out, err = run(capsys, "search", "", *where, "--format", output)
            assert (status, out) == (1, "")
            assert len(err.splitlines()) == 1
            assert "half a surrogate pair" in err


# ---- 5. no duplicates from retries ---------------------------------------------------------------------

BUSY = Reply.json({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}, 503, (("Retry-After", "0"),))
SLOW_DOWN = Reply.json(
    {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}, 429, (("Retry-After", "0"),)
)


@pytest.mark.parametrize("first", [BUSY, SLOW_DOWN, Reply(drop=True)], ids=["503", "429", "dropped"])
@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create("1", name="n"),
        lambda c: c.log_params("m-1", {"p": "1"}),
        lambda c: c.delete_tag("m-1", "t"),
    ],
    ids=["create", "log_params", "delete_tag"],
)
def test_what_must_not_be_done_twice_is_sent_once(first: Reply, call: Callable[[Client], Any]) -> None:
    with (
        HostileServer([first, model_reply()]) as server,
        client_of(server) as client,
        pytest.raises(LoggedModelsError, match="not sent again: it may have reached the server") as caught,
    ):
        call(client)
    assert len(server.requests) == 1
    assert type(caught.value) is (TransportError if first.drop else RateLimitedError)


def test_a_create_that_never_connected_is_sent_again() -> None:
    port = closed_port()
    with (
        Client(f"http://127.0.0.1:{port}", target="mlflow", retry=quick(1.5)) as client,
        pytest.raises(TransportError, match="after 2 attempts"),
    ):
        client.create("1")


def test_idempotent_calls_are_retried_after_503() -> None:
    with HostileServer([BUSY, model_reply()]) as server, client_of(server) as client:
        assert client.finalize("m-1", "READY").model_id == "m-1"
    assert len(server.requests) == 2


def _deleted_then_gone() -> Callable[[Seen], Reply]:
    """The first DELETE deletes but its answer is lost (the connection drops); then the model is gone."""
    deleted: list[str] = []

    def script(seen: Seen) -> Reply:
        if not deleted:
            deleted.append(seen.path)
            return Reply(drop=True)
        return Reply.json({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "gone"}, 404)

    return script


def test_a_resent_delete_that_finds_the_model_gone_is_done(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="lmfilter.client")
    with HostileServer(_deleted_then_gone()) as server, client_of(server) as client:
        client.delete("m-1")  # no NotFoundError
    assert server.paths == [f"DELETE {API}logged-models/m-1"] * 2
    assert any(
        "404 after a resend, so an earlier attempt did it: done" in r.getMessage() for r in caplog.records
    )


def test_a_resent_delete_that_finds_the_model_gone_is_done_async() -> None:
    async def go(server: HostileServer) -> None:
        async with async_client_of(server) as client:
            await client.delete("m-1")

    with HostileServer(_deleted_then_gone()) as server:
        asyncio.run(go(server))
    assert len(server.requests) == 2


def test_a_404_after_a_busy_answer_is_still_not_found() -> None:
    """A 503 did nothing: the 404 that follows is the server's word that there is no such model."""
    gone = Reply.json({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "gone"}, 404)
    with HostileServer([BUSY, gone]) as server, client_of(server) as client, pytest.raises(NotFoundError):
        client.delete("typo-id")
    assert len(server.requests) == 2


def test_a_first_404_of_a_delete_is_still_not_found() -> None:
    gone = Reply.json({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "gone"}, 404)
    with HostileServer([gone]) as server, client_of(server) as client, pytest.raises(NotFoundError):
        client.delete("m-1")


# ---- 6. secrets --------------------------------------------------------------------------------------


def _echo(seen: Seen) -> Reply:
    """A server that puts what it was sent into its errors: the Authorization header and the path."""
    said = f"you sent {seen.headers.get('authorization')} to {seen.path}"
    if seen.path.endswith("/m-404"):
        return Reply.json({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": said}, 404)
    if seen.path.endswith("/m-401"):
        return Reply.json({"error_code": "UNAUTHENTICATED", "message": {"said": said}}, 401)
    return Reply(500, f"<html><pre>{said}</pre></html>".encode())


def _leaks(text: str, *secrets: str) -> bool:
    return any(secret in text for secret in secrets)


def test_a_password_in_the_url_shows_nowhere(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="lmfilter")
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    basic = base64.b64encode(f"user:{SECRET}".encode()).decode()
    with HostileServer(_echo) as server:
        url = server.base_url.replace("http://", f"http://user:{SECRET}@")
        errors: list[LoggedModelsError] = []
        with Client(url, target="mlflow", retry=quick()) as client:
            assert repr(client) == f"Client({server.base_url!r}, target='mlflow-3.18', token=***)"
            for model_id in ("m-404", "m-500"):
                with pytest.raises(LoggedModelsError) as caught:
                    client.get(model_id)
                errors.append(caught.value)
    assert [seen.headers["authorization"] for seen in server.requests] == [f"Basic {basic}"] * 2
    assert errors[0].message == f"you sent Basic *** to {API}logged-models/m-404"
    for err in errors:
        assert not _leaks(str(err) + repr(vars(err)), SECRET, basic)
    assert caplog.records
    assert not _leaks(caplog.text, SECRET, basic)
    assert all(not _leaks(repr(r.args), SECRET, basic) for r in caplog.records)


def test_an_echoed_token_is_redacted_in_every_error() -> None:
    with HostileServer(_echo) as server, client_of(server, token=TOKEN) as client:
        for model_id, kind in (
            ("m-404", NotFoundError),
            ("m-401", AuthenticationError),
            ("m-500", ServerError),
        ):
            with pytest.raises(kind) as caught:
                client.get(model_id)
            assert "you sent Bearer *** to" in caught.value.message
            assert not _leaks(str(caught.value) + repr(vars(caught.value)), TOKEN)


def _says(message: str) -> Callable[[Seen], Reply]:
    return lambda seen: Reply.json({"error_code": "BAD", "message": message}, 400)


@pytest.mark.parametrize(
    ("password", "said", "shown"),
    [
        # A short password only where it stands alone: the rest of the message is the server's.
        ("1", "error 1 at line 10, 21 rows", "error *** at line 10, 21 rows"),
        ("10", "10 is wrong; 100 is not", "*** is wrong; 100 is not"),
        ("hunter2", "hunter22 and hunter2 differ", "hunter22 and *** differ"),
        # A long one wherever it is, even glued to other text.
        (SECRET, f"x{SECRET}y", "x***y"),
        # The forms a server echoes: a form's +, a path's %20 (either case), JSON escapes.
        ("pa ss/word", "got pa+ss%2Fword and pa%20ss%2fword", "got *** and ***"),
        ('pa"ss\\', 'raw {"p": "pa\\"ss\\\\"}', 'raw {"p": "***"}'),
    ],
)
def test_a_password_is_redacted_as_a_whole(password: str, said: str, shown: str) -> None:
    with HostileServer(_says(said)) as server:
        url = server.base_url.replace("http://", f"http://u:{quote(password, safe='')}@")
        with Client(url, target="mlflow", retry=quick()) as client, pytest.raises(BadRequestError) as caught:
            client.get("m-1")
    assert caught.value.message == shown


def test_a_secret_cut_short_by_the_shown_length_is_still_redacted() -> None:
    for body in (f'{{"message": "{"x" * 1990}{TOKEN}"}}', f"<p>{'x' * 290}{TOKEN}</p>"):
        with (
            HostileServer([Reply(400, body.encode())]) as server,
            client_of(server, token=TOKEN) as client,
            pytest.raises(BadRequestError) as caught,
        ):
            client.get("m-1")
        assert "***" in caught.value.message
        assert not any(TOKEN[:n] in str(caught.value) for n in range(4, len(TOKEN)))


def test_an_unreachable_server_does_not_show_its_password() -> None:
    url = f"http://user:{SECRET}@127.0.0.1:{closed_port()}"
    with Client(url, target="mlflow", retry=quick(0.5)) as client, pytest.raises(TransportError) as caught:
        client.get("m-1")
    assert not _leaks(str(caught.value) + repr(client), SECRET)


def test_percent_encoded_credentials_are_decoded_once() -> None:
    with HostileServer([model_reply()]) as server:
        url = server.base_url.replace("http://", "http://us%40er:p%3Ass%2F@")
        with Client(url, target="mlflow") as client:
            client.get("m-1")
            assert "p%3Ass" not in repr(client)
    expected = base64.b64encode(b"us@er:p:ss/").decode()
    assert server.requests[0].headers["authorization"] == f"Basic {expected}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"http://user:{SECRET}@host:notaport", "not a server URL"),
        ("127.0.0.1:5000", "not a server URL"),
        (f"ftp://user:{SECRET}@host", "not a server URL"),
        ("http://host/?q=1", "no query or fragment"),
        # A password holding the characters that end a URL's parts, and a token in the query.
        (f"http://user:se/{SECRET}@127.0.0.1:9", "not a server URL"),
        (f"http://user:se?{SECRET}@127.0.0.1:9", "not a server URL|no query or fragment"),
        (f"http://user:se#{SECRET}@127.0.0.1:9", "not a server URL|no query or fragment"),
        (f"ftp://user:p@{SECRET}@h", "not a server URL"),
        (f"http://127.0.0.1:9/?token={SECRET}", "no query or fragment"),
        (f"http://user:{SECRET}@127.0.0.1:99999", "a port is from 1 to 65535"),  # refused, not retried
        ("http://127.0.0.1:0", "a port is from 1 to 65535"),
    ],
)
def test_bad_server_urls_are_refused_without_their_password(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        Client(url)
    assert not _leaks(str(caught.value), SECRET)


def test_credentials_given_twice_are_refused() -> None:
    with pytest.raises(ValueError, match="give credentials once"):
        Client(f"http://user:{SECRET}@host", token="t")


@pytest.mark.parametrize("name", ["evil.com/x", "a@b", "a.b", "-a", "a_b", "a b"])
def test_a_deployment_name_is_one_dns_label(name: str) -> None:
    with pytest.raises(ValueError, match="one DNS label"):
        Client.for_databricks(name, "t")


def test_the_cli_shows_no_password_or_token(capsys: pytest.CaptureFixture[str]) -> None:
    with HostileServer(_echo) as server:
        url = server.base_url.replace("http://", f"http://user:{SECRET}@")
        status, _, err = run(capsys, "models", "get", "m-404", "--server", url, "-v", "--timeout", "5")
        assert status == 1
        assert "Basic ***" in err
        status, _, err2 = run(
            capsys, "models", "get", "m-401", "--server", server.base_url, "--token", TOKEN, "--timeout", "5"
        )
        assert status == 1
    assert not _leaks(err + err2, SECRET, TOKEN, TOKEN.upper())
    unreachable = f"http://user:{SECRET}@127.0.0.1:{closed_port()}"
    status, _, err3 = run(capsys, "models", "get", "m-1", "--server", unreachable, "--timeout", "1.5")
    assert status == 1
    assert "retrying" in err3
    assert not _leaks(err3, SECRET)


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    """No test here may take long: a hang is a failure, not a stuck run."""
    started = time.monotonic()
    yield
    assert time.monotonic() - started < 30
