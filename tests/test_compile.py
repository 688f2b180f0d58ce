"""Request bodies without a server: :func:`lmfilter.requests.compile` and ``server_filter``.

The expected strings and bodies are written out in full: they are what a server is sent (SPEC §1, §2, §4),
so a change in spelling, key order inside a list, or an omitted field shows up here first.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import lmfilter
from lmfilter import ast
from lmfilter.requests import RequestError, compile, server_filter  # noqa: A004 - the API's name
from lmfilter.wire import DatasetFilter, OrderBy, SearchLoggedModelsRequest

JSON = dict[str, Any]


def body(text: str | None = None, target: str = "mlflow", **options: Any) -> JSON:
    options.setdefault("experiment_ids", ["1"])
    request = compile(text, target=target, **options)
    assert isinstance(request, SearchLoggedModelsRequest)
    result: JSON = request.to_json()
    return result


def sent_filter(text: str, target: str) -> str:
    out = body(text, target).get("filter")
    assert isinstance(out, str)
    return out


# ---- whole bodies ---------------------------------------------------------------------------------


def test_the_docstring_example_body() -> None:
    got = body("params.lr = '0.01' AND status = 'READY'", "mlflow-3.17")
    assert got == {"experiment_ids": ["1"], "filter": "params.lr = '0.01' AND status = 2"}


def test_every_field_in_snake_case_and_in_the_spec_order() -> None:
    got = body(
        "name = 'a'",
        experiment_ids=[1, "2"],
        datasets=[{"dataset_name": "train", "dataset_digest": "d1"}, {"dataset_name": "eval"}],
        order_by=[
            {"field_name": "metrics.acc", "ascending": False, "dataset_name": "eval"},
            {"field_name": "creation_time"},
        ],
        max_results=10,
        page_token="tok",
    )
    assert got == {
        "experiment_ids": ["1", "2"],
        "filter": "name = 'a'",
        "datasets": [{"dataset_name": "train", "dataset_digest": "d1"}, {"dataset_name": "eval"}],
        "max_results": 10,
        "order_by": [
            {"field_name": "metrics.acc", "ascending": False, "dataset_name": "eval"},
            {"field_name": "creation_time", "ascending": True},
        ],
        "page_token": "tok",
    }
    assert list(got) == ["experiment_ids", "filter", "datasets", "max_results", "order_by", "page_token"]


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in [key, *_keys(item)]]
    if isinstance(value, list):
        return [k for item in value for k in _keys(item)]
    return []


def test_no_camel_case_key_and_no_null_anywhere() -> None:
    got = body(
        "metrics.acc > 0.5",
        datasets=[DatasetFilter(dataset_name="train")],
        order_by=[OrderBy(field_name="metrics.acc", ascending=False, dataset_digest="d")],
    )
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", key) for key in _keys(got)), _keys(got)
    assert "None" not in repr(got)
    assert got["order_by"] == [{"field_name": "metrics.acc", "ascending": False, "dataset_digest": "d"}]


@pytest.mark.parametrize("text", [None, "", "   ", "\n"])
def test_no_filter_means_no_filter_key(text: str | None) -> None:
    assert body(text) == {"experiment_ids": ["1"]}


def test_a_tree_compiles_like_its_text() -> None:
    text = "tags.in = 'x' AND metrics.acc >= 0.9"
    assert compile(lmfilter.parse(text), experiment_ids=["1"]) == compile(text, experiment_ids=["1"])
    assert compile(ast.MATCH_ALL, experiment_ids=["7"]).to_json() == {"experiment_ids": ["7"]}


def test_the_body_is_frozen() -> None:
    request = compile("name = 'a'", experiment_ids=["1"])
    with pytest.raises(ValueError, match="frozen"):
        request.filter = "name = 'b'"


# ---- experiment_ids and max_results -------------------------------------------------------------


@pytest.mark.parametrize("ids", [[], (), [""], ["1", ""]])
def test_experiment_ids_are_required(ids: list[str]) -> None:
    with pytest.raises(RequestError) as caught:
        compile("name = 'a'", experiment_ids=ids)
    assert caught.value.where == "experiment_ids"
    assert isinstance(caught.value, lmfilter.RequestError)


def test_a_single_string_of_experiment_ids_is_not_split_into_characters() -> None:
    try:
        request = compile(experiment_ids="12")
    except RequestError:
        return
    assert request.experiment_ids == ("12",)


@pytest.mark.parametrize("target", ["mlflow", "mlflow-3.17", "databricks"])
@pytest.mark.parametrize("bad", [0, -1, True, False, 1.5, "5"])
def test_max_results_must_be_a_whole_number_of_at_least_one(target: str, bad: Any) -> None:
    with pytest.raises(RequestError) as caught:
        compile(experiment_ids=["1"], target=target, max_results=bad)
    assert caught.value.where == "max_results"
    assert str(caught.value).startswith("max_results: ")


def test_max_results_limits_per_target() -> None:
    assert body(max_results=1)["max_results"] == 1
    assert body(max_results=50, target="databricks")["max_results"] == 50
    assert body(max_results=10_000, target="mlflow")["max_results"] == 10_000
    assert body(max_results=10_000, target="mlflow-3.17")["max_results"] == 10_000
    with pytest.raises(RequestError, match="Databricks returns at most 50") as caught:
        compile(experiment_ids=["1"], target="databricks", max_results=51)
    assert caught.value.where == "max_results"


# ---- datasets and order_by ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"datasets": [{"dataset_name": ""}]}, "datasets[0].dataset_name"),
        ({"datasets": [{"dataset_name": "a"}, {"dataset_name": ""}]}, "datasets[1].dataset_name"),
        ({"datasets": [{"dataset_name": "a"}, {}]}, "datasets[1].dataset_name"),
        ({"datasets": [{"dataset_name": "a", "dataset_digest": 5}]}, "datasets[0].dataset_digest"),
        ({"order_by": [{"field_name": "params.x"}]}, "order_by[0].field_name"),
        ({"order_by": [{"field_name": "name"}, {"field_name": "tags.x"}]}, "order_by[1].field_name"),
        ({"order_by": [{"field_name": "metric.acc"}]}, "order_by[0].field_name"),
        ({"order_by": [{"field_name": "nope"}]}, "order_by[0].field_name"),
        ({"order_by": [{"ascending": False}]}, "order_by[0].field_name"),
    ],
)
def test_datasets_and_order_by_entries_the_server_rejects(options: JSON, where: str) -> None:
    with pytest.raises(RequestError) as caught:
        compile("name = 'a'", experiment_ids=["1"], **options)
    assert caught.value.where == where
    assert str(caught.value).startswith(f"{where}: ")


def test_order_by_on_a_param_names_the_field() -> None:
    with pytest.raises(RequestError, match=r"order_by\[0\]\.field_name: cannot order by 'params\.x'"):
        compile(experiment_ids=["1"], order_by=[{"field_name": "params.x"}])


def test_metric_order_by_keeps_a_dotted_key() -> None:
    got = body(order_by=[{"field_name": "metrics.val.acc", "ascending": False}])
    assert got["order_by"] == [{"field_name": "metrics.val.acc", "ascending": False}]


# ---- filter text per target ----------------------------------------------------------------------

STATUS = [
    ("status = 'READY'", "status = 'READY'", "status = 2"),
    ("status = 'LOGGED_MODEL_READY'", "status = 'READY'", "status = 2"),
    ("status != 'PENDING'", "status != 'PENDING'", "status != 1"),
    ("status = 'UNSPECIFIED'", "status = 'UNSPECIFIED'", "status = 0"),
    ("status = 'FAILED'", "status = 'FAILED'", "status = 3"),
    ("status IN ('READY', 'FAILED')", "status IN ('READY', 'FAILED')", "status IN (2, 3)"),
    ("status IN ('READY')", "status IN ('READY')", "status = 2"),
    ("status NOT IN ('FAILED')", "status NOT IN ('FAILED')", "status != 3"),
    ("status NOT IN ('PENDING', 'FAILED')", "status NOT IN ('PENDING', 'FAILED')", "status NOT IN (1, 3)"),
    ("name = 'a' AND status IN ('READY')", "name = 'a' AND status IN ('READY')", "name = 'a' AND status = 2"),
]


@pytest.mark.parametrize(("text", "for_318", "for_317"), STATUS)
def test_status_is_sent_by_name_to_318_and_by_number_to_317(text: str, for_318: str, for_317: str) -> None:
    assert sent_filter(text, "mlflow") == for_318
    assert sent_filter(text, "mlflow-3.18") == for_318
    assert sent_filter(text, "mlflow-3.17") == for_317


@pytest.mark.parametrize("target", ["mlflow", "mlflow-3.17", "databricks"])
def test_status_by_number_is_a_filter_error_everywhere(target: str) -> None:
    with pytest.raises(lmfilter.FilterError) as caught:
        compile("status = 2", target=target, experiment_ids=["1"])
    assert [d.code for d in caught.value.errors] == ["LMF211"]


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("tags.`my key` = 'v'", "tags.`my key` = 'v'"),
        ("tags.in = 'x'", "tags.`in` = 'x'"),
        ("tags.`in` = 'x'", "tags.`in` = 'x'"),
        ("params.`123` = 'a'", "params.`123` = 'a'"),
        ("tags.`a:b` = 'x'", "tags.`a:b` = 'x'"),
        ("params.`a$b` = 'x'", "params.`a$b` = 'x'"),
        ("params.a.b = 'x'", "params.a.b = 'x'"),
        ("params.`a.b` = 'x'", "params.a.b = 'x'"),
        ("tags.`模型` = '值'", "tags.模型 = '值'"),
        ("tags.a-b/c = 'x'", "tags.a-b/c = 'x'"),
        ("metrics.`my metric` >= -1.5e3", "metrics.`my metric` >= -1500"),
        ("metrics.acc > 0.9 and params.lr = '0.01'", "metrics.acc > 0.9 AND params.lr = '0.01'"),
        ("attributes.name = 'x'", "name = 'x'"),
        ("creation_time > 5", "creation_timestamp > 5"),
        ("attributes.creation_time > +5", "creation_timestamp > 5"),
        ("(name = 'a')", "name = 'a'"),
        ("name LIKE 'a%' AND model_type ILIKE 'SK_'", "name LIKE 'a%' AND model_type ILIKE 'SK_'"),
        ("model_id IN ('m-1', 'm-2')", "model_id IN ('m-1', 'm-2')"),
        ("params.x IN ('a')", "params.x IN ('a')"),
        ("tags.`a b` != ''", "tags.`a b` != ''"),
        ("metrics.x = 1e999", "metrics.x = 1e999"),
    ],
)
@pytest.mark.parametrize("target", ["mlflow", "mlflow-3.17", "databricks"])
def test_keys_values_and_aliases_as_the_server_reads_them(text: str, sent: str, target: str) -> None:
    assert sent_filter(text, target) == sent


@pytest.mark.parametrize(
    ("text", "target", "code"),
    [
        ("name = 'a' OR name = 'b'", "mlflow", "LMF301"),
        ("name = 'a' OR name = 'b'", "mlflow-3.17", "LMF301"),
        ("NOT name = 'a'", "mlflow", "LMF302"),
        ("model_type IS NULL", "mlflow", "LMF304"),
        ("model_type IS NULL", "databricks", "LMF304"),
        ("metrics.a BETWEEN 1 AND 2", "mlflow-3.17", "LMF305"),
        ("params.alpha < 0.3", "mlflow", "LMF306"),
        ("params.alpha < 0.3", "databricks", "LMF306"),
        ("name = 'it''s'", "mlflow", "LMF307"),
        ("source_run_id = 'r'", "databricks", "LMF308"),
        ("status = 'READY'", "databricks", "LMF309"),
    ],
)
def test_filters_a_target_cannot_run_natively(text: str, target: str, code: str) -> None:
    with pytest.raises(lmfilter.FilterError) as caught:
        compile(text, target=target, experiment_ids=["1"])
    assert code in [d.code for d in caught.value.errors]
    assert caught.value.text == text
    with pytest.raises(lmfilter.FilterError):
        server_filter(lmfilter.parse(text), target)


def test_the_filter_is_checked_before_the_other_arguments() -> None:
    with pytest.raises(lmfilter.FilterError):
        compile("name = 'a' OR name = 'b'", experiment_ids=[], max_results=0)


def test_source_run_id_is_native_on_mlflow_only() -> None:
    assert sent_filter("source_run_id = 'r'", "mlflow") == "source_run_id = 'r'"
    assert sent_filter("source_run_id = 'r'", "mlflow-3.17") == "source_run_id = 'r'"


# ---- server_filter on trees ----------------------------------------------------------------------


def test_server_filter_of_a_tree() -> None:
    tree = lmfilter.parse("status in ('READY') and tags.`in` = 'x' and creation_time >= 1")
    assert server_filter(tree) == "status IN ('READY') AND tags.`in` = 'x' AND creation_timestamp >= 1"
    assert server_filter(tree, "mlflow-3.17") == "status = 2 AND tags.`in` = 'x' AND creation_timestamp >= 1"
    assert server_filter(ast.MATCH_ALL) == ""
    assert server_filter(ast.MATCH_ALL, "databricks") == ""


@pytest.mark.parametrize("text", [row[0] for row in STATUS] + ["tags.in = 'x' AND params.`1` LIKE '%'"])
def test_server_filter_is_a_fixed_point_for_318(text: str) -> None:
    once = server_filter(lmfilter.parse(text))
    assert server_filter(lmfilter.parse(once)) == once


@pytest.mark.parametrize("target", ["mlflow", "mlflow-3.17", "databricks"])
def test_a_contradiction_is_sent_as_a_filter_that_matches_no_model(target: str) -> None:
    assert server_filter(ast.MATCH_NONE, target) == "model_id IN ()"
    got = compile(ast.MATCH_NONE, target=target, experiment_ids=["1"]).to_json()
    assert got == {"experiment_ids": ["1"], "filter": "model_id IN ()"}


def test_an_and_inside_an_and_is_sent_without_parentheses() -> None:
    text = "(name = 'a' AND tags.t = 'x') AND tags.u = 'y'"
    tree = lmfilter.parse(text)
    assert lmfilter.format(tree) == text  # the tree keeps its shape
    assert server_filter(tree) == "name = 'a' AND tags.t = 'x' AND tags.u = 'y'"
    assert compile(tree, experiment_ids=["1"]).filter == "name = 'a' AND tags.t = 'x' AND tags.u = 'y'"


def test_a_gap_in_a_tree_points_into_its_canonical_text() -> None:
    tree = lmfilter.parse("name='a'   and not   tags.t = 'x'")
    with pytest.raises(lmfilter.FilterError) as caught:
        server_filter(tree)
    assert caught.value.text == "name = 'a' AND NOT tags.t = 'x'"
    (gap,) = caught.value.errors
    assert gap.span.text(caught.value.text) == "NOT"


def test_compile_is_exported_from_the_package() -> None:
    assert lmfilter.compile is compile
