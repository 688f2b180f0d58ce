"""``lmfilter.logic``: the typed logic a compiled query holds is what the row and column executors read.

Rows and columns answering alike over whole searches is tests/test_table.py's; here each slot kind is shown
to be compiled from some filter, a row (``Query.row``) and a column (``read_slot``, what a table keeps) are
shown to hold the same value for every slot of generated queries, and slots are compared and hashed by value.
Each kind of test (the data a leaf tests a value with) is compiled from some filter, and the verdict of a
compiled leaf on a value (missing ones too) is what a direct reading of its test's data says.
"""

from __future__ import annotations

import functools
import math
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast, logic
from lmfilter.ast import Entity, Op, ValueType
from lmfilter.evaluate import compile_query, read_slot
from lmfilter.logic import (
    AnyRow,
    Attr,
    Between,
    ByTime,
    Compare,
    InSet,
    Junction,
    Latest,
    Leaf,
    Like,
    Negation,
    Param,
    ParamNumber,
    RowFilter,
    Slot,
    SortAttr,
    Tag,
    Test,
    Values,
)
from lmfilter.records import Record
from lmfilter.status import ModelStatus
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


# ---- the tests of a leaf, as data -------------------------------------------------------------------

# filter -> the test of its one leaf (on the slot it reads).
TESTS: list[tuple[str, Test, Slot]] = [
    ("name = 'a'", Compare("=", "a"), Attr("name")),
    ("params.alpha < 0.3", Compare("<", 0.3), ParamNumber("alpha")),
    ("params.alpha != '0.3'", Compare("!=", "0.3"), Param("alpha")),
    ("metrics.acc >= 1", Compare(">=", 1.0), Latest("acc", RowFilter())),
    ("status != 'LOGGED_MODEL_READY'", Compare("!=", ModelStatus.READY), Attr("status")),
    ("name NOT ILIKE '%a_'", Like("%a_", insensitive=True, negated=True), Attr("name")),
    ("tags.t LIKE 'x'", Like("x"), Tag("t")),
    ("tags.t NOT IN ('x', 'y')", InSet(("x", "y"), negated=True), Tag("t")),
    ("status IN (READY, FAILED)", InSet((ModelStatus.READY, ModelStatus.FAILED)), Attr("status")),
    ("metrics.acc IN (0.5)", InSet((0.5,)), Latest("acc", RowFilter())),
    ("params.alpha NOT BETWEEN 0 AND 1e999", Between(0.0, math.inf, negated=True), ParamNumber("alpha")),
]


@pytest.mark.parametrize(("text", "test", "slot"), TESTS)
def test_a_leaf_holds_its_test_as_data(text: str, test: Test, slot: Slot) -> None:
    query = compile_query(text)
    assert isinstance(query.logic, Leaf)
    assert query.logic.test == test
    assert query.slots[query.logic.slot] == slot


def test_every_kind_of_test_is_compiled_from_some_filter() -> None:
    assert {type(test) for _, test, _ in TESTS} == set(typing.get_args(Test))


def test_a_test_is_only_in_a_leaf_that_reads_a_value() -> None:
    assert Leaf(0, "null").passes is None
    with pytest.raises(ValueError, match="needs"):
        Leaf(0, "value")
    with pytest.raises(ValueError, match="takes no"):
        Leaf(0, "flag", Like("x"))


# A direct reading of each test's data, written apart from lmfilter's closures.


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _like(pattern: str, text: str) -> bool:
    @functools.cache
    def match(i: int, j: int) -> bool:  # pattern[i:] against text[j:]
        if i == len(pattern):
            return j == len(text)
        if pattern[i] == "%":
            return match(i + 1, j) or (j < len(text) and match(i, j + 1))
        return j < len(text) and pattern[i] in ("_", text[j]) and match(i + 1, j + 1)

    return match(0, 0)


def _reading(test: Test, value: Any) -> bool:
    match test:
        case Compare("=", literal):
            return bool(value == literal)
        case Compare("!=", literal):
            return bool(value != literal)
        case Compare("<", literal):
            return bool(value < literal)
        case Compare("<=", literal):
            return bool(value <= literal)
        case Compare(">", literal):
            return bool(value > literal)
        case Compare(">=", literal):
            return bool(value >= literal)
        case Like(pattern, insensitive, negated):
            if insensitive:
                pattern, value = _ascii_lower(pattern), _ascii_lower(value)
            return _like(pattern, value) != negated
        case InSet(values, negated):
            return (value in values) != negated
        case Between(low, high, negated):
            return bool(low <= value and value <= high) != negated
    raise AssertionError(test)


TAG = ast.Field(Entity.TAG, "t", ValueType.STRING)
METRIC = ast.Field(Entity.METRIC, "m", ValueType.NUMBER)
STATUS = ast.Field(Entity.ATTRIBUTE, "status", ValueType.STATUS)
texts = st.text(alphabet="aAzZ%_\\.*[éÉßİK\n", max_size=6)
edges = st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 1.0])  # drawn often
numbers = st.one_of(edges, st.floats(), st.integers(-3, 3))
literals = st.one_of(edges, st.floats()).map(lambda v: ast.Number(ast.canonical_number_text(v)))
named = st.sampled_from(list(ModelStatus)).map(ast.StatusValue)  # what a filter names
statuses = st.sampled_from(  # what a model holds: a newer server's status too
    [*ModelStatus, ModelStatus.unknown("LOGGED_MODEL_ARCHIVED"), ModelStatus.unknown(7)]
)


@st.composite
def conditions(draw: st.DrawFn) -> tuple[ast.Expr, st.SearchStrategy[Any]]:
    """A condition on one field (a tag, a metric or the status), and the values that field may hold."""
    negated = draw(st.booleans())
    condition: ast.Expr
    match draw(st.sampled_from(["text", "number", "status"])):
        case "text":
            strings = texts.map(ast.String)
            condition = draw(
                st.one_of(
                    st.builds(ast.Compare, st.just(TAG), st.sampled_from([Op.EQ, Op.NE]), strings),
                    st.builds(ast.Like, st.just(TAG), strings, st.just(negated), st.booleans()),
                    st.builds(
                        ast.In, st.just(TAG), st.lists(strings, max_size=3).map(tuple), st.just(negated)
                    ),
                )
            )
            return condition, texts
        case "number":
            condition = draw(
                st.one_of(
                    st.builds(ast.Compare, st.just(METRIC), st.sampled_from(list(Op)), literals),
                    st.builds(
                        ast.In, st.just(METRIC), st.lists(literals, max_size=3).map(tuple), st.just(negated)
                    ),
                    st.builds(ast.Between, st.just(METRIC), literals, literals, st.just(negated)),
                )
            )
            return condition, numbers
    values = st.lists(named, max_size=3).map(tuple)
    condition = draw(
        st.one_of(
            st.builds(ast.Compare, st.just(STATUS), st.sampled_from([Op.EQ, Op.NE]), named),
            st.builds(ast.In, st.just(STATUS), values, st.just(negated)),
        )
    )
    return condition, statuses


@settings(max_examples=300, deadline=None)
@given(st.data(), conditions(), st.sampled_from(["mlflow", "mlflow-3.17"]))
def test_a_leaf_says_what_a_direct_reading_of_its_test_says(
    data: st.DataObject, condition: tuple[ast.Expr, st.SearchStrategy[Any]], target: str
) -> None:
    tree, values = condition
    query = compile_query(tree, target=target)
    leaf = query.logic
    assert isinstance(leaf, Leaf)
    assert leaf.test is not None
    assert leaf.passes is not None
    test = leaf.test
    row: list[Any] = [None] * (len(query.slots) + 1)
    if leaf.mode == "any":  # MLflow 3.17: the rows of a metric, one of which must pass
        many = data.draw(st.lists(values, max_size=3))
        row[leaf.slot] = tuple(many)
        assert query.predicate(row) == (any(_reading(test, v) for v in many) if many else None)
    else:
        value = data.draw(st.none() | values)
        row[leaf.slot] = value
        assert query.predicate(row) == (None if value is None else _reading(test, value))
    value = data.draw(values)
    assert leaf.passes(value) is _reading(test, value)
    if test.bounds is not None:  # what a table runs over a column of numbers
        bounded = all(compare(value, number) for compare, number in test.bounds)
        assert (bounded != test.negated) is _reading(test, value)
    # The data reads back as the code that makes it (NaN equals no NaN, so compare the text).
    assert repr(eval(repr(leaf), vars(logic))) == repr(leaf)
