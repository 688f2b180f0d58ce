"""The client's public surface: pairs in every shape, the operations written once for both clients, requests
as each server documents them, and statuses a newer server may send."""

from __future__ import annotations

import asyncio
import inspect
import json
import pickle
import pydoc
from dataclasses import dataclass
from typing import Any

import pytest

import lmfilter
from lmfilter.client import AsyncClient, Client, calls, key_values
from lmfilter.status import ModelStatus
from lmfilter.wire import KeyValue, LoggedModel, SearchLoggedModelsResponse
from tests.hostile_server import HostileServer, Reply, Seen

# ---- pairs ------------------------------------------------------------------------------------------


@dataclass
class LoggedModelParameter:  # the shape of MLflow's own class: .key and .value
    key: str
    value: str


EXPECTED = (KeyValue(key="lr", value="0.1"), KeyValue(key="opt", value="adam"))


@pytest.mark.parametrize(
    "pairs",
    [
        {"lr": "0.1", "opt": "adam"},
        {"lr": 0.1, "opt": "adam"},  # a number is written as MLflow writes it
        [("lr", "0.1"), ("opt", "adam")],
        [["lr", "0.1"], ["opt", "adam"]],
        list(EXPECTED),
        [{"key": "lr", "value": "0.1"}, {"key": "opt", "value": "adam"}],  # the API's JSON
        [LoggedModelParameter("lr", "0.1"), LoggedModelParameter("opt", "adam")],
        (p for p in EXPECTED),  # any iterable, read once
    ],
    ids=["mapping", "number", "tuples", "lists", "KeyValue", "json", "mlflow", "generator"],
)
def test_pairs_in_every_shape(pairs: Any) -> None:
    assert key_values(pairs, "params") == EXPECTED


def test_every_operation_takes_every_shape() -> None:
    json_form = [{"key": "lr", "value": "0.1"}, {"key": "opt", "value": "adam"}]
    expected = [{"key": "lr", "value": "0.1"}, {"key": "opt", "value": "adam"}]
    create = calls.create("1", params=json_form, tags=json_form)
    assert create.json is not None
    assert create.json["params"] == create.json["tags"] == expected
    assert calls.log_params("m-1", json_form).json == {"model_id": "m-1", "params": expected}
    assert calls.set_tags("m-1", [LoggedModelParameter("lr", "0.1"), ("opt", "adam")]).json == {
        "tags": expected
    }


@pytest.mark.parametrize(
    ("pairs", "error", "message"),
    [
        ("lr=0.1", TypeError, r"params: expected a mapping, \(key, value\) pairs.*; not .lr=0.1."),
        (5, TypeError, "params: expected a mapping"),
        ([("lr", "0.1", "x")], ValueError, r"params\[0\]: a pair is \(key, value\), not 3 items"),
        ([{"value": "0.1"}], ValueError, r"params\[0\]: an object is \{'key': ..., 'value': ...\}; no 'key'"),
        ([{"key": "a", "value": "1", "extra": 1}], ValueError, r"params\[0\]: .*unknown fields \['extra'\]"),
        (["lr"], TypeError, r"params\[0\]: expected a mapping"),
        ([None], TypeError, r"params\[0\]: expected a mapping"),
        ([(1, "x")], TypeError, r"params\[0\]: a key is text, not int"),
        ({"lr": None}, TypeError, r"params\['lr'\]: the value of 'lr' is text or a number, not NoneType"),
        ({"lr": True}, TypeError, r"the value of 'lr' is text or a number, not bool"),
        ({"lr": ["x"]}, TypeError, r"not list"),
        ([("a", "1"), ("a", "2")], ValueError, r"params\[1\]: the key 'a' is given twice, with '1' and '2'"),
        ({"a\ud800": "1"}, ValueError, r"params\['a\\ud800'\]: cannot be sent: key: is not valid Unicode"),
    ],
)
def test_a_bad_pair_is_named_in_words(pairs: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        key_values(pairs, "params")
    assert "pydantic" not in str(caught.value)
    assert "KeyError" not in repr(caught.value)


def test_the_same_pair_twice_is_taken_once() -> None:
    assert key_values([("a", "1"), {"key": "a", "value": "1"}]) == (KeyValue(key="a", value="1"),)


# ---- the operations, written once ---------------------------------------------------------------------

OPERATIONS = ("get", "create", "delete", "delete_tag", "finalize", "log_params", "set_tags", "search_page")


@pytest.mark.parametrize("name", OPERATIONS)
def test_both_clients_show_each_operation_as_written(name: str) -> None:
    build = getattr(calls, name)
    for cls in (Client, AsyncClient):
        method = getattr(cls, name)
        assert method.__doc__ == build.__doc__
        assert build.__doc__
        signature = inspect.signature(method)
        assert next(iter(signature.parameters)) == "self"
        assert list(signature.parameters.values())[1:] == list(inspect.signature(build).parameters.values())
        assert "Call[" not in str(signature.return_annotation)
        text = pydoc.render_doc(method, renderer=pydoc.plaintext)  # type: ignore[attr-defined]
        assert build.__doc__.split("\n")[0].strip() in text
    assert inspect.iscoroutinefunction(getattr(AsyncClient, name))
    assert not inspect.iscoroutinefunction(getattr(Client, name))


def test_async_target_is_a_property_once_resolved() -> None:
    with HostileServer(lambda seen: Reply(200, b"3.17.2")) as server:

        async def main() -> tuple[str, str]:
            async with AsyncClient(server.base_url) as client:
                with pytest.raises(RuntimeError, match=r"await client.resolve_target\(\)"):
                    client.target  # noqa: B018
                resolved = (await client.resolve_target()).name
                return resolved, client.target.name

        assert asyncio.run(main()) == ("mlflow-3.17", "mlflow-3.17")
        assert [r.path for r in server.requests] == ["/version"]  # asked once


# ---- requests as each server documents them -----------------------------------------------------------


def recorded(answer: dict[str, Any]) -> tuple[HostileServer, list[Seen]]:
    seen: list[Seen] = []

    def script(request: Seen) -> Reply:
        seen.append(request)
        return Reply.json(answer)

    return HostileServer(script), seen


@pytest.mark.parametrize(
    ("target", "with_id"), [("mlflow", True), ("mlflow-3.17", True), ("databricks", False)]
)
def test_finalize_and_log_params_bodies_per_target(target: str, with_id: bool) -> None:
    server, seen = recorded({"model": {"info": {"model_id": "m-1", "status": "LOGGED_MODEL_READY"}}})
    with server, Client(server.base_url, "t", target=target) as client:
        client.finalize("m-1", "READY")
        client.log_params("m-1", {"a": "1"})
    finalize, log_params = (r.json() for r in seen)
    assert finalize == ({"model_id": "m-1"} if with_id else {}) | {"status": "LOGGED_MODEL_READY"}
    assert log_params == ({"model_id": "m-1"} if with_id else {}) | {"params": [{"key": "a", "value": "1"}]}
    assert all(r.headers["accept"] == "application/json" for r in seen)
    assert all(r.headers["user-agent"].startswith(f"lmfilter/{lmfilter.__version__} ") for r in seen)


def test_finalize_takes_only_statuses_lmfilter_knows() -> None:
    for bad in ("DONE", "LOGGED_MODEL_ARCHIVED", ModelStatus.unknown("LOGGED_MODEL_ARCHIVED")):
        with pytest.raises(ValueError, match="unknown status"):
            calls.finalize("m-1", bad)


# ---- statuses a newer server sends ---------------------------------------------------------------------


def page(*statuses: Any) -> dict[str, Any]:
    return {
        "models": [
            {"info": {"model_id": f"m-{i}", "name": f"n{i}", "status": status}}
            for i, status in enumerate(statuses)
        ]
    }


def test_an_unknown_status_does_not_fail_the_answer() -> None:
    server, _ = recorded(page("LOGGED_MODEL_READY", "LOGGED_MODEL_ARCHIVED", 7))
    with server, Client(server.base_url, target="mlflow") as client:
        found = list(client.search(experiment_ids=["1"]))
    ready, archived, seven = (m.info.status for m in found)
    assert ready is ModelStatus.READY
    assert (archived.known, archived.raw, seven.known, seven.raw, seven.number) == (
        False,
        "LOGGED_MODEL_ARCHIVED",
        False,
        7,
        7,
    )
    # Kept as it came: written back as the server sent it.
    assert [m.to_json()["info"]["status"] for m in found] == [
        "LOGGED_MODEL_READY",
        "LOGGED_MODEL_ARCHIVED",
        7,
    ]
    again = SearchLoggedModelsResponse.model_validate_json(
        json.dumps({"models": [m.to_json() for m in found]})
    )
    assert again.models == tuple(found)
    # A filter on status matches an unknown status with no status name; != and NOT IN take it.
    assert [m.model_id for m in lmfilter.select(found, "status = 'READY'")] == ["m-0"]
    assert [m.model_id for m in lmfilter.select(found, "status != 'READY'")] == ["m-1", "m-2"]
    assert lmfilter.select(found, "status IN ('PENDING', 'FAILED', 'UNSPECIFIED')") == []
    assert [m.model_id for m in lmfilter.select(found, "status NOT IN ('READY')")] == ["m-1", "m-2"]
    # Sorting puts it where the server's number puts it; an unknown name after every known status.
    assert [m.model_id for m in lmfilter.select(found, order_by=[{"field_name": "status"}])] == [
        "m-0",
        "m-2",
        "m-1",
    ]
    assert pickle.loads(pickle.dumps(found[1])) == found[1]


@pytest.mark.parametrize("status", ["ready-ish", "", "LOGGED MODEL", 2**40, True, 1.5, None, ["READY"]])
def test_what_cannot_be_a_status_is_still_malformed(status: Any) -> None:
    with pytest.raises(ValueError, match="status"):
        LoggedModel.model_validate({"info": {"model_id": "m", "status": status}})
