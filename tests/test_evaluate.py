"""Local evaluation on small hand-made model sets whose answers can be read off the page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import lmfilter
from lmfilter.evaluate import RecordError, compile_query, select
from lmfilter.requests import RequestError
from lmfilter.wire import LoggedModel


def model(
    model_id: str,
    *,
    created: int = 0,
    name: str = "",
    status: str = "LOGGED_MODEL_READY",
    model_type: str | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    metrics: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": model_id,
        "experiment_id": "1",
        "name": name or model_id,
        "creation_timestamp_ms": created,
        "last_updated_timestamp_ms": created,
        "status": status,
        "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
    }
    if model_type is not None:
        info["model_type"] = model_type
    data = {
        "params": [{"key": k, "value": v} for k, v in (params or {}).items()],
        "metrics": [{"step": 0, "timestamp": 0, **m} for m in metrics or []],
    }
    return {"info": info, "data": data}


def ids(models: list[LoggedModel]) -> list[str]:
    return [m.model_id for m in models]


MODELS = [
    model("a", created=3, params={"lr": "0.01", "alpha": "0.1"}, tags={"team": "Äpfel"}, model_type="sk"),
    model(
        "b",
        created=2,
        params={"lr": "0.010", "alpha": "abc"},
        tags={"team": "äpfel"},
        status="LOGGED_MODEL_PENDING",
    ),
    model("c", created=1, params={"alpha": "1e-3"}, model_type=""),
    model("d", created=1, tags={"team": "x%y"}, status="LOGGED_MODEL_UPLOAD_FAILED"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["a", "b", "c", "d"]),
        ("params.lr = '0.01'", ["a"]),
        ("params.lr = 0.01", ["a"]),  # text, as the server compares it: not 0.010
        ("params.lr != '0.01'", ["b"]),  # c and d have no lr: unknown, not a match
        ("NOT params.lr = '0.01'", ["b"]),
        ("params.lr IS NULL", ["c", "d"]),
        ("params.lr IS NOT NULL", ["a", "b"]),
        ("params.lr NOT IN ('0.01')", ["b"]),
        ("params.alpha < 0.5", ["a", "c"]),  # numeric where the text is a number; 'abc' is unknown
        ("NOT params.alpha < 0.5", []),
        ("params.alpha BETWEEN 0.001 AND 0.1", ["a", "c"]),
        ("params.alpha NOT BETWEEN 0.01 AND 1", ["c"]),
        ("tags.team LIKE 'Ä%'", ["a"]),
        ("tags.team ILIKE 'ä%'", ["b"]),  # ILIKE folds ASCII letters only
        ("tags.team ILIKE 'ÄPFEL'", ["a"]),
        ("tags.team LIKE 'x_y'", ["d"]),
        ("tags.team LIKE 'x%'", ["d"]),
        ("tags.team NOT LIKE '%pfel'", ["d"]),
        ("model_type = ''", ["c"]),
        ("model_type IS NULL", ["b", "d"]),
        ("status = 'READY'", ["a", "c"]),
        ("status IN ('PENDING', 'FAILED')", ["b", "d"]),
        ("status != 'READY'", ["b", "d"]),
        ("params.lr = '0.01' OR params.alpha = '1e-3'", ["a", "c"]),
        ("params.lr = '0.01' OR params.lr != '0.01'", ["a", "b"]),  # unknown OR unknown is unknown
        ("NOT (params.lr = '0.01' AND tags.team = 'nobody')", ["a", "b", "d"]),  # c: unknown
        ("creation_timestamp >= 2", ["a", "b"]),
        ("name IN ()", []),
        ("name NOT IN ()", ["a", "b", "c", "d"]),
    ],
)
def test_three_valued_filters(text: str, expected: list[str]) -> None:
    assert ids(select(MODELS, text)) == expected


# One model's rows of metric `acc`: the latest by (step, timestamp, value) is 0.2 on eval@d1.
HISTORY = model(
    "h",
    metrics=[
        {
            "key": "acc",
            "value": 0.9,
            "step": 0,
            "timestamp": 50,
            "dataset_name": "eval",
            "dataset_digest": "d1",
        },
        {
            "key": "acc",
            "value": 0.5,
            "step": 1,
            "timestamp": 10,
            "dataset_name": "train",
            "dataset_digest": "t1",
        },
        {
            "key": "acc",
            "value": 0.2,
            "step": 1,
            "timestamp": 20,
            "dataset_name": "eval",
            "dataset_digest": "d1",
        },
        {
            "key": "acc",
            "value": 0.7,
            "step": 0,
            "timestamp": 90,
            "dataset_name": "eval",
            "dataset_digest": "d2",
        },
    ],
)


@pytest.mark.parametrize(
    ("text", "datasets", "latest", "any_row"),
    [
        ("metrics.acc > 0.8", None, False, True),
        ("metrics.acc < 0.3", None, True, True),
        ("metrics.acc > 0.8 AND metrics.acc < 0.3", None, False, True),  # 3.17: two different rows
        ("metrics.acc = 0.5", [{"dataset_name": "train"}], True, True),
        ("metrics.acc > 0.6", [{"dataset_name": "eval", "dataset_digest": "d2"}], True, True),
        ("metrics.acc > 0.6", [{"dataset_name": "eval", "dataset_digest": "d1"}], False, True),
        ("metrics.acc > 0", [{"dataset_name": "test"}], False, False),  # no passing row: unknown
        ("NOT metrics.acc > 0", [{"dataset_name": "test"}], False, False),
        ("metrics.acc IS NULL", [{"dataset_name": "test"}], True, True),
        ("metrics.acc BETWEEN 0.85 AND 0.95", None, False, True),
        ("NOT metrics.acc > 0.8", None, True, False),
        ("metrics.loss IS NULL", None, True, True),
    ],
)
def test_metric_rules_per_target(
    text: str, datasets: list[dict[str, str]] | None, latest: bool, any_row: bool
) -> None:
    assert bool(select([HISTORY], text, datasets=datasets, target="mlflow")) is latest
    assert bool(select([HISTORY], text, datasets=datasets, target="mlflow-3.17")) is any_row


def test_datasets_without_a_metric_condition_need_a_passing_row() -> None:
    models = [
        HISTORY,
        model("none"),
        model("other", metrics=[{"key": "x", "value": 1, "dataset_name": "eval"}]),
    ]
    eval_only = [{"dataset_name": "eval"}]
    assert ids(select(models, "", datasets=eval_only)) == ["h", "other"]
    assert ids(select(models, "name != ''", datasets=[{"dataset_name": "eval", "dataset_digest": "d2"}])) == [
        "h"
    ]
    assert ids(select(models, "")) == ["h", "none", "other"]


def test_nan_and_infinity_compare_as_the_store_keeps_them() -> None:
    models = [
        model("nan", metrics=[{"key": "m", "value": float("nan")}]),
        model("inf", metrics=[{"key": "m", "value": float("inf")}]),
        model("ninf", metrics=[{"key": "m", "value": "-Infinity"}]),
    ]
    assert ids(select(models, "metrics.m = 0")) == ["nan"]
    assert ids(select(models, "metrics.m > 1e308")) == ["inf"]
    assert ids(select(models, "metrics.m < -1e308")) == ["ninf"]


def test_default_order_is_creation_desc_then_model_id() -> None:
    models = [model("b", created=1), model("c", created=2), model("a", created=1)]
    assert ids(select(models)) == ["c", "a", "b"]


def test_order_by_metric_nulls_last_both_ways() -> None:
    models = [
        model("low", created=1, metrics=[{"key": "acc", "value": 0.1}]),
        model("none", created=2),
        model("high", created=3, metrics=[{"key": "acc", "value": 0.9}]),
    ]
    up = [{"field_name": "metrics.acc", "ascending": True}]
    down = [{"field_name": "metrics.acc", "ascending": False}]
    assert ids(select(models, order_by=up)) == ["low", "high", "none"]
    assert ids(select(models, order_by=down)) == ["high", "low", "none"]


def test_order_by_metric_per_dataset_and_version() -> None:
    other = model(
        "o",
        metrics=[
            {
                "key": "acc",
                "value": 0.6,
                "step": 5,
                "timestamp": 1,
                "dataset_name": "eval",
                "dataset_digest": "d1",
            },
            {
                "key": "acc",
                "value": 0.1,
                "step": 0,
                "timestamp": 99,
                "dataset_name": "train",
                "dataset_digest": "t",
            },
        ],
    )
    by_acc = [{"field_name": "metrics.acc", "ascending": False}]
    # 3.18: latest by step: h 0.2 (step 1), o 0.6 (step 5)
    assert ids(select([HISTORY, other], order_by=by_acc)) == ["o", "h"]
    # 3.17: latest by timestamp: h 0.7 (t=90), o 0.1 (t=99)
    assert ids(select([HISTORY, other], order_by=by_acc, target="mlflow-3.17")) == ["h", "o"]
    on_eval = [
        {"field_name": "metrics.acc", "ascending": True, "dataset_name": "eval", "dataset_digest": "d1"}
    ]
    assert ids(select([HISTORY, other], order_by=on_eval)) == ["h", "o"]  # 0.2 < 0.6
    # 3.18 applies the global datasets to the sort value too; 3.17 does not.
    train = [{"dataset_name": "train"}]
    assert ids(select([HISTORY, other], "", datasets=train, order_by=by_acc)) == ["h", "o"]  # 0.5 > 0.1
    assert ids(select([HISTORY, other], "", datasets=train, order_by=by_acc, target="mlflow-3.17")) == [
        "h",
        "o",
    ]


def test_order_by_attributes() -> None:
    models = [
        model("a", name="b", created=1, status="LOGGED_MODEL_PENDING"),
        model("b", name="a", created=1, status="LOGGED_MODEL_READY"),
        model("c", name="é", created=1, status="LOGGED_MODEL_STATUS_UNSPECIFIED"),
    ]
    assert ids(select(models, order_by=[{"field_name": "name"}])) == ["b", "a", "c"]
    assert ids(select(models, order_by=[{"field_name": "status", "ascending": False}])) == ["b", "a", "c"]
    assert ids(select(models, order_by=[{"field_name": "model_id", "ascending": False}])) == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("order_by", "where"),
    [
        ([{"field_name": "params.lr"}], "order_by[0].field_name"),
        ([{"field_name": "nmae"}], "order_by[0].field_name"),
        ([{"ascending": True}], "order_by[0].field_name"),
    ],
)
def test_bad_order_by_is_a_request_error(order_by: list[dict[str, Any]], where: str) -> None:
    with pytest.raises(RequestError) as caught:
        select(MODELS, order_by=order_by)
    assert caught.value.where == where


def test_bad_datasets_is_a_request_error() -> None:
    with pytest.raises(RequestError, match=r"datasets\[1\].dataset_name"):
        select(MODELS, datasets=[{"dataset_name": "x"}, {"dataset_name": ""}])


def test_malformed_record_names_the_record_and_field() -> None:
    bad = model("bad")
    bad["data"]["metrics"] = [{"key": "acc", "value": "high"}]
    # A field the filter reads is checked as it is read ...
    with pytest.raises(RecordError) as caught:
        select([*MODELS, bad], "metrics.acc > 0")
    error = caught.value
    assert (error.index, error.model_id, error.field) == (4, "bad", "data.metrics.0.value")
    assert str(error).startswith("record 4 (model_id 'bad'): data.metrics.0.value: ")
    assert str(error).endswith(" number (got 'high')")  # what the wire model says, and the value
    # ... and a model that matches is validated whole.
    with pytest.raises(RecordError) as caught:
        select([*MODELS, bad], "name = 'bad'")
    assert (caught.value.index, caught.value.field) == (4, "data.metrics.0.value")
    # A record that does not match, with a fault in a field no one reads, does not stop the search.
    assert ids(select([*MODELS, bad], "name = 'a'")) == ["a"]
    with pytest.raises(RecordError, match="record 0: info: missing"):
        select([{"data": {}}])
    with pytest.raises(RecordError, match=r"record 1 \(model_id 'x'\): info.status: unknown status 'bogus!'"):
        select([MODELS[0], {"info": {"model_id": "x", "status": "bogus!"}}], "status = 'READY'")
    with pytest.raises(RecordError, match="record 0"):
        select([42])  # type: ignore[list-item]


def test_takes_models_and_dicts_and_returns_models() -> None:
    parsed = [LoggedModel.model_validate(m) for m in MODELS]
    mixed: list[LoggedModel | dict[str, Any]] = [parsed[0], MODELS[1], parsed[2], MODELS[3]]
    assert select(mixed, "status = 'READY'") == select(parsed, "status = 'READY'")
    assert all(isinstance(m, LoggedModel) for m in select(MODELS))


def test_takes_a_tree_and_a_stream() -> None:
    consumed = []

    def stream() -> Iterator[dict[str, Any]]:
        for m in MODELS:
            consumed.append(m["info"]["model_id"])
            yield m

    tree = lmfilter.parse("params.lr = '0.01'")
    assert ids(select(stream(), tree)) == ["a"]
    assert consumed == ["a", "b", "c", "d"]


def test_compiled_queries_are_cached() -> None:
    one = compile_query("params.lr = '0.01'", order_by=[{"field_name": "name"}])
    two = compile_query("params.lr='0.01'", order_by=[{"field_name": "name", "ascending": True}])
    assert one is two


def test_bad_filter_raises_filter_error() -> None:
    with pytest.raises(lmfilter.FilterError):
        select(MODELS, "nmae = 'a'")


def test_models_round_trip_to_json_even_with_nan_and_infinity() -> None:
    record = model("n", metrics=[{"key": "a", "value": float("nan")}, {"key": "b", "value": float("-inf")}])
    parsed = LoggedModel.model_validate(record)
    dumped = parsed.to_json()
    text = json.dumps(dumped, allow_nan=False)  # valid JSON: no bare NaN
    assert '"NaN"' in text
    assert '"-Infinity"' in text
    again = LoggedModel.model_validate(json.loads(text))
    assert again.to_json() == dumped
    assert again.info == parsed.info
