"""``lmfilter.logic``: the typed logic a compiled query holds is what the row and column executors read.

Rows and columns answering alike over whole searches is tests/test_table.py's; here each slot kind is shown
to be compiled from some filter, a row (``Query.row``) and a column (``read_slot``, what a table keeps) are
shown to hold the same value for every slot of generated queries, and slots are compared and hashed by value.
"""

from __future__ import annotations

import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast, logic
from lmfilter.evaluate import compile_query, read_slot
from lmfilter.logic import (
    AnyRow,
    Attr,
    ByTime,
    Junction,
    Latest,
    Leaf,
    Negation,
    Param,
    ParamNumber,
    RowFilter,
    Slot,
    SortAttr,
    Tag,
    Values,
)
from lmfilter.records import Record
from tests.strategies import DATASETS, KEYS, models, trees

JSON = dict[str, Any]
EVAL = [{"dataset_name": "eval", "dataset_digest": "e1"}]
EVAL_ROWS = RowFilter((("eval", "e1"),))

# (filter, datasets, order_by, target) -> the slots its query reads, in the order of their places.
QUERIES: list[tuple[str, list[JSON] | None, list[JSON] | None, str, tuple[Slot, ...]]] = [
    (
        "name = 'a' AND params.alpha = 'x' AND params.beta < 0.5 AND tags.t = 'y'",
        None,
        None,
        "mlflow",
        (
            Attr("name"),
            Param("alpha"),
            ParamNumber("beta"),
            Tag("t"),
            SortAttr("creation_timestamp"),
            SortAttr("model_id"),
        ),
    ),
    (
        "metrics.acc > 0.5",
        EVAL,
        [{"field_name": "metrics.loss", "ascending": False, "dataset_name": "train"}],
        "mlflow",
        (
            Latest("acc", EVAL_ROWS),
            Latest("loss", RowFilter((("eval", "e1"),), "train")),
            SortAttr("creation_timestamp"),
            SortAttr("model_id"),
        ),
    ),
    (
        "metrics.acc IS NULL",
        None,
        [{"field_name": "metrics.loss", "dataset_name": "eval"}],
        "mlflow-3.17",
        (
            Values("acc", RowFilter()),
            ByTime("loss", RowFilter(None, "eval")),
            SortAttr("creation_timestamp"),
            SortAttr("model_id"),
        ),
    ),
    (
        "name LIKE 'm%'",
        EVAL,
        None,
        "mlflow",
        (Attr("name"), AnyRow(EVAL_ROWS), SortAttr("creation_timestamp"), SortAttr("model_id")),
    ),
]


@pytest.mark.parametrize(("text", "datasets", "order_by", "target", "slots"), QUERIES)
def test_a_query_reads_the_slots_of_its_filter_and_order(
    text: str, datasets: list[JSON] | None, order_by: list[JSON] | None, target: str, slots: tuple[Slot, ...]
) -> None:
    assert compile_query(text, datasets=datasets, order_by=order_by, target=target).slots == slots


def test_every_kind_of_slot_is_compiled_from_some_query() -> None:
    kinds = {type(slot) for *_, slots in QUERIES for slot in slots}
    assert kinds == set(typing.get_args(Slot))


def test_params_and_tags_sorted_locally_are_their_text() -> None:
    order_by: list[JSON] = [{"field_name": "params.alpha"}, {"field_name": "tags.t", "ascending": False}]
    query = compile_query("params.alpha > 1", order_by=order_by, local_order=True)
    assert query.slots[:3] == (ParamNumber("alpha"), Param("alpha"), Tag("t"))
    assert query.order[:2] == ((1, True), (2, False))


def test_the_logic_keeps_the_shape_of_the_filter() -> None:
    query = compile_query("NOT (name = 'a' OR metrics.acc IS NULL) AND tags.t IN ('x')", target="mlflow-3.17")
    match query.logic:
        case Junction(
            "all", (Negation(Junction("any", (Leaf(0, "value"), Leaf(1, "empty")))), Leaf(2, "value"))
        ):
            pass
        case other:
            pytest.fail(f"unexpected logic {other!r}")
    assert query.slots[:3] == (Attr("name"), Values("acc", RowFilter()), Tag("t"))


dataset_entries = st.lists(
    st.sampled_from(DATASETS).map(lambda d: {"dataset_name": d[0], "dataset_digest": d[1]}), max_size=2
)
order_fields = st.sampled_from(
    ["name", "status", "experiment_id", *(f"{e}.{k}" for e in ("metrics", "params", "tags") for k in KEYS)]
)
orders = st.lists(
    st.builds(lambda f, a: {"field_name": f, "ascending": a}, order_fields, st.booleans()), max_size=2
)


@settings(max_examples=80, deadline=None)
@given(trees, models(max_size=8), st.sampled_from(["mlflow", "mlflow-3.17"]), dataset_entries, orders)
def test_a_row_and_the_columns_hold_the_same_value_for_every_slot(
    tree: ast.Expr, cache: list[JSON], target: str, datasets: list[JSON], order_by: list[JSON]
) -> None:
    query = compile_query(tree, datasets=datasets, order_by=order_by, target=target, local_order=True)
    for i, model in enumerate(cache):
        row = query.row(model, i)
        assert row[-1] is None  # every place computed
        assert row[:-1] == [read_slot(slot)(Record.of(model, i)) for slot in query.slots]
    if not any(key["field_name"].startswith(("params.", "tags.")) for key in order_by):
        # Sorting by params and tags is local only: a table and select take the server's order_by.
        table = lmfilter.ModelTable(cache)
        expected = lmfilter.select(cache, tree, datasets=datasets, order_by=order_by, target=target)
        assert table.select(tree, datasets=datasets, order_by=order_by, target=target) == expected


def test_two_compilations_give_equal_slots_that_hash_alike() -> None:
    first = compile_query("params.a = 'x' AND metrics.m > 1", datasets=EVAL)
    second = compile_query("metrics.m > 1 OR params.a LIKE 'x%'", datasets=EVAL)
    assert first is not second
    a, b = first.slots[first.slots.index(Param("a"))], second.slots[second.slots.index(Param("a"))]
    assert a is not b
    assert a == b
    assert hash(a) == hash(b)
    assert Latest("m", EVAL_ROWS) in first.slots
    assert Latest("m", EVAL_ROWS) in second.slots
    assert {a: 1}[b] == 1  # a table's columns are found by either


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (Param("a"), Tag("a")),  # same field, other kind
        (Param("a"), ParamNumber("a")),
        (Attr("status"), SortAttr("status")),
        (Latest("m", RowFilter()), ByTime("m", RowFilter())),
        (Latest("m", RowFilter()), Values("m", RowFilter())),
        (Latest("m", RowFilter()), Latest("m", RowFilter(None, "eval"))),
        (Latest("m", RowFilter((("eval", None),))), Latest("m", RowFilter((("eval", "e1"),)))),
        (AnyRow(RowFilter()), AnyRow(EVAL_ROWS)),
        (Param("a"), Param("b")),
    ],
)
def test_slots_differ_by_kind_and_by_every_field(one: Slot, other: Slot) -> None:
    assert one != other
    assert len({one, other}) == 2


def test_slots_are_frozen() -> None:
    slot = Param("a")
    with pytest.raises(AttributeError):
        slot.key = "b"  # type: ignore[misc]


@pytest.mark.parametrize("slot", [slot for *_, slots in QUERIES for slot in slots])
def test_a_slot_repr_reads_as_the_code_that_makes_it(slot: Slot) -> None:
    text = repr(slot)
    assert text.startswith(f"{type(slot).__name__}(")
    assert eval(text, vars(logic)) == slot


def test_the_logic_is_importable_from_evaluate_as_before() -> None:
    from lmfilter import evaluate

    for name in ("Junction", "Leaf", "Logic", "Negation", "RowFilter", "Slot"):
        assert getattr(evaluate, name) is getattr(logic, name)
