"""``ModelTable``: the columnar search answers what ``select`` does, in the same order, search after search.

``select`` is itself checked against real servers (tests/test_conformance.py, which also runs a table), so
here the table is compared with ``select`` on generated trees, caches, ``datasets`` and ``order_by``, for
both metric rules, and each of its ways to run a test (numbers mapped, distinct values looked up, per
model) is made to run.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast
from lmfilter.records import RecordError
from tests.strategies import DATASETS, KEYS, models, trees

JSON = dict[str, Any]

dataset_entries = st.lists(
    st.sampled_from(DATASETS).map(lambda d: {"dataset_name": d[0], "dataset_digest": d[1]})
    | st.just({"dataset_name": "train"}),
    max_size=2,
)
order_fields = st.sampled_from(
    ["name", "creation_timestamp", "model_type", "status", *(f"metrics.{k}" for k in KEYS)]
)
orders = st.lists(
    st.builds(lambda f, a: {"field_name": f, "ascending": a}, order_fields, st.booleans()), max_size=2
)
targets = st.sampled_from(["mlflow", "mlflow-3.17"])


def ids(found: list[lmfilter.LoggedModel]) -> list[str]:
    return [m.model_id for m in found]


@settings(max_examples=300, deadline=None)
@given(trees, models(max_size=40), targets, dataset_entries, orders)
def test_a_table_answers_what_select_answers(
    tree: ast.Expr, cache: list[JSON], target: str, datasets: list[JSON], order_by: list[JSON]
) -> None:
    expected = ids(lmfilter.select(cache, tree, datasets=datasets, order_by=order_by, target=target))
    table = lmfilter.ModelTable(cache)
    assert ids(table.select(tree, datasets=datasets, order_by=order_by, target=target)) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(trees, min_size=2, max_size=6), models(max_size=40), targets, orders)
def test_columns_and_orders_kept_between_searches_change_no_answer(
    searches: list[ast.Expr], cache: list[JSON], target: str, order_by: list[JSON]
) -> None:
    table = lmfilter.ModelTable(lmfilter.LoggedModel.model_validate(m) for m in cache)
    for tree in [*searches, *searches]:  # the second time, every column and order is kept
        expected = ids(lmfilter.select(cache, tree, order_by=order_by, target=target))
        assert ids(table.select(tree, order_by=order_by, target=target)) == expected


def numbered(n: int) -> list[JSON]:
    """Models with unique names and metric values (too many distinct values to test one by one)."""
    return [
        {
            "info": {"model_id": f"m-{i:03}", "name": f"model-{i * 37 % n}", "creation_timestamp_ms": i % 7},
            "data": {
                "params": [{"key": "alpha", "value": f"{i / n:.3f}"}] if i % 5 else [],
                "metrics": [{"key": "acc", "value": i / n, "step": 1}] if i % 3 else [],
            },
        }
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "name LIKE 'model-1%'",  # per model: every name differs
        "name IN ('model-3', 'model-40', 'x') OR params.alpha = '0.500'",
        "metrics.acc > 0.25 AND metrics.acc <= 0.75",  # numbers mapped, with nulls
        "metrics.acc NOT BETWEEN 0.1 AND 0.9 OR params.alpha < 0.05",
        "NOT (metrics.acc < 0.5 OR params.alpha IS NULL)",
        "creation_timestamp IN (1, 2) AND name != 'model-0'",  # few distinct values: looked up
    ],
)
@pytest.mark.parametrize("target", ["mlflow", "mlflow-3.17"])
def test_each_way_to_run_a_test(text: str, target: str) -> None:
    cache = numbered(200)
    table = lmfilter.ModelTable(cache)
    for order_by in (None, [{"field_name": "metrics.acc", "ascending": False}], [{"field_name": "name"}]):
        expected = ids(lmfilter.select(cache, text, order_by=order_by, target=target))
        assert expected  # the case means something
        assert ids(table.select(text, order_by=order_by, target=target)) == expected


def test_few_matches_and_many_matches_come_in_the_same_order() -> None:
    cache = numbered(400)
    table = lmfilter.ModelTable(cache)
    order_by = [{"field_name": "creation_timestamp", "ascending": True}]
    few = ids(table.select("name LIKE 'model-1_'", order_by=order_by))  # sorted alone: no order kept
    many = ids(table.select("name LIKE 'model-%'", order_by=order_by))  # sorts every model once
    assert 0 < len(few) < 50
    assert len(many) == 400
    assert [i for i in many if i in set(few)] == few
    assert ids(table.select("name LIKE 'model-1_'", order_by=order_by)) == few  # now read off the order


def test_a_table_returns_the_callers_models_and_validates_dicts_once() -> None:
    cache = numbered(20)
    validated = [lmfilter.LoggedModel.model_validate(m) for m in cache]
    assert {id(m) for m in lmfilter.ModelTable(validated).select()} == {id(m) for m in validated}
    table = lmfilter.ModelTable(cache)
    first, second = table.select("name LIKE 'model-1%'"), table.select("name LIKE 'model-1%'")
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert len(table) == 20


def test_a_bad_record_names_itself_when_a_search_reads_it() -> None:
    cache = numbered(5)
    cache[3]["data"]["params"] = [{"key": "alpha", "value": 3}]
    table = lmfilter.ModelTable(cache)
    assert ids(table.select("name = 'model-2'")) == ["m-001"]  # params are not read
    with pytest.raises(RecordError, match=r"record 3 \(model_id 'm-003'\): data.params.0"):
        table.select("params.alpha = '1'")
    with pytest.raises(RecordError, match=r"record 1: \(record\): expected a logged model"):
        lmfilter.ModelTable([cache[0], 7])  # type: ignore[list-item]


def test_an_empty_table_matches_nothing() -> None:
    assert lmfilter.ModelTable([]).select("name = 'a'", order_by=[{"field_name": "name"}]) == []
