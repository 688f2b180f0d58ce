"""Local evaluation: a checked tree, ``datasets`` and ``order_by`` compiled into a predicate and a sort.

:func:`select` answers as a logged-model search would (SPEC §3), for the semantics of the given target:

- a missing param, tag or metric, or a null attribute, makes a comparison *unknown*; unknown is not a match,
  and ``AND``/``OR``/``NOT`` follow Kleene's three-valued logic (``NOT unknown`` is unknown);
- a metric comparison tests the model's latest passing row by (step, timestamp, value) on ``mlflow``
  (3.18), or holds when *any* passing row satisfies it on ``mlflow-3.17``; a row passes when it matches an
  entry of ``datasets`` (all rows pass without ``datasets``);
- with ``datasets`` and no metric condition, a model needs at least one passing metric row;
- LIKE is case-sensitive, ILIKE folds ASCII letters only; ``params.x < 0.3`` compares a param's text as a
  number where it is one; values are compared as the MLflow SQL store keeps them (NaN as 0);
- the order is ``order_by`` then ``creation_timestamp DESC, model_id ASC``, nulls last both ways.

A query is compiled once, into the typed logic of :mod:`lmfilter.logic` (what the column executor
:mod:`lmfilter.table` reads too), and that into nested closures over a per-model *row*, a list holding just
the values the filter and the order read (its *slots*: an attribute, a param, the latest passing value of one
metric, ...), computed once per model. Reading a model's metrics costs the most, so conditions on metrics
run after the others and the metric values are computed only when a condition needs them. Models stream
through: only the matches are kept.

>>> models = [
...     {"info": {"model_id": "m-1", "name": "a", "creation_timestamp_ms": 1},
...      "data": {"params": [{"key": "alpha", "value": "0.1"}],
...               "metrics": [{"key": "acc", "value": 0.95, "step": 1}]}},
...     {"info": {"model_id": "m-2", "name": "b", "creation_timestamp_ms": 2},
...      "data": {"params": [{"key": "alpha", "value": "0.5"}]}},
... ]
>>> [m.model_id for m in select(models, "params.alpha < 0.3 OR metrics.acc IS NULL")]
['m-2', 'm-1']
>>> [m.model_id for m in select(models, order_by=[{"field_name": "metrics.acc", "ascending": False}])]
['m-1', 'm-2']
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from lmfilter import ast
from lmfilter.api import tree_of
from lmfilter.ast import Entity, ValueType
from lmfilter.logic import (
    NUMERIC_TEXT,
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
    Logic,
    MetricSlot,
    Mode,
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
from lmfilter.printer import check_nesting
from lmfilter.records import Record, RecordError
from lmfilter.requests import Datasets, OrderByArg, OrderKey, datasets_of, max_results_of, order_keys
from lmfilter.schema import Target, get_target
from lmfilter.wire import LoggedModel, MetricRow

Verdict = bool | None
Row = list[Any]
Predicate = Callable[[Row], Verdict]
_Item = TypeVar("_Item")

__all__ = [
    "Junction",
    "Leaf",
    "Logic",
    "Negation",
    "Query",
    "RecordError",
    "RowFilter",
    "Slot",
    "compile_query",
    "latest_row",
    "latest_row_by_time",
    "select",
]

_NUMERIC_TEXT = re.compile(NUMERIC_TEXT)


class _Layout:
    """Assigns each distinct slot an index in the row."""

    def __init__(self) -> None:
        self.slots: dict[Slot, int] = {}

    def index(self, slot: Slot) -> int:
        return self.slots.setdefault(slot, len(self.slots))


# ---- compiling the filter -------------------------------------------------------------------------
#
# The tree compiles to *logic* (lmfilter.logic): leaves that each test one slot of the row, under AND/OR/NOT.
# Two executors run it: closures over one row at a time (``Query.select``, streaming), and whole columns at a
# time (:class:`lmfilter.table.ModelTable`). Both read the same slots and call the same tests.


@dataclass(frozen=True)
class _Context:
    layout: _Layout
    target: Target
    rows: RowFilter


def _logic(node: ast.Expr, ctx: _Context) -> Logic:
    match node:
        case ast.And(items):
            return _junction("all", [_logic(item, ctx) for item in items])
        case ast.Or(items):
            return _junction("any", [_logic(item, ctx) for item in items])
        case ast.Not(item):
            return Negation(_logic(item, ctx))
        case ast.Compare(field, op, value):
            test = Compare(op.value, _literal(value))
            return _leaf(field, ctx, test, numeric=isinstance(value, ast.Number))
        case ast.Like(field, pattern, negated, insensitive):
            assert isinstance(pattern, ast.String)
            return _leaf(field, ctx, Like(pattern.value, insensitive, negated))
        case ast.In(field, values, negated):
            return _leaf(field, ctx, InSet(tuple(_literal(v) for v in values), negated))
        case ast.Between(field, low, high, negated):
            return _leaf(field, ctx, Between(_literal(low), _literal(high), negated), numeric=True)
        case ast.IsNull(field, negated):
            return _null_leaf(field, ctx, negated)
    raise ValueError(f"cannot evaluate {type(node).__name__}: check the tree first (lmfilter.parse)")


def _junction(kind: Literal["all", "any"], items: list[Logic]) -> Logic:
    return items[0] if len(items) == 1 else Junction(kind, tuple(items))


def _predicate(logic: Logic, late: frozenset[int]) -> Predicate:
    """The logic as one closure over a row; items of AND and OR run those reading no ``late`` place first.

    A ``late`` place (a metric's) may still be :data:`_PENDING`: it is read through :func:`_late`."""
    match logic:
        case Junction(kind, items):
            ordered = sorted(items, key=lambda item: bool(_reads(item) & late))
            preds = [_predicate(item, late) for item in ordered]
            return _all(preds) if kind == "all" else _any(preds)
        case Negation(item):
            inner = _predicate(item, late)
            return lambda row: None if (v := inner(row)) is None else not v
        case Leaf(i, mode) if i in late:
            return _leaf_predicate(mode, logic.passes, _late(i))
        case Leaf(i, mode):
            return _leaf_predicate(mode, logic.passes, operator.itemgetter(i))
    raise AssertionError(f"unknown logic {logic!r}")


def _leaf_predicate(mode: Mode, test: Callable[[Any], bool] | None, read: Callable[[Row], Any]) -> Predicate:
    match mode:
        case "value" if test is not None:
            passes = test
            return lambda row: None if (value := read(row)) is None else passes(value)
        case "any" if test is not None:  # MLflow 3.17: some passing row satisfies it
            some = test
            return lambda row: any(map(some, values)) if (values := read(row)) else None
        case "null":
            return lambda row: read(row) is None
        case "not_null":
            return lambda row: read(row) is not None
        case "empty":
            return lambda row: not read(row)
        case "not_empty":
            return lambda row: bool(read(row))
        case "flag":
            return read
    raise AssertionError(f"unknown leaf mode {mode!r}")


def _reads(logic: Logic) -> frozenset[int]:
    """The places of the row the logic reads."""
    match logic:
        case Junction(_, items):
            return frozenset().union(*(_reads(item) for item in items))
        case Negation(item):
            return _reads(item)
        case Leaf(i):
            return frozenset((i,))
    raise AssertionError(f"unknown logic {logic!r}")


def _late(i: int) -> Callable[[Row], Any]:
    """How to read a late place: its value, once the row's last item (the filler) has computed it."""

    def read(row: Row) -> Any:
        value = row[i]
        if value is _PENDING:
            row[-1](row)
            value = row[i]
        return value

    return read


def _all(preds: Sequence[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]

    def all_of(row: Row) -> Verdict:
        unknown = False
        for pred in preds:
            verdict = pred(row)
            if verdict is False:
                return False
            if verdict is None:
                unknown = True
        return None if unknown else True

    return all_of


def _any(preds: Sequence[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]

    def any_of(row: Row) -> Verdict:
        unknown = False
        for pred in preds:
            verdict = pred(row)
            if verdict is True:
                return True
            if verdict is None:
                unknown = True
        return None if unknown else False

    return any_of


def _literal(value: ast.Value) -> Any:
    match value:
        case ast.String(text):
            return text
        case ast.Number():
            return value.value
        case ast.StatusValue(status):
            return status
    raise ValueError(f"cannot evaluate the unchecked value {value!r}: check the tree first (lmfilter.parse)")


def _field_slot(field: ast.Field, ctx: _Context, *, numeric: bool) -> Slot:
    match field.entity:
        case Entity.ATTRIBUTE:
            return Attr(field.key)
        case Entity.PARAM:
            return ParamNumber(field.key) if numeric else Param(field.key)
        case Entity.TAG:
            return Tag(field.key)
    if ctx.target.metric_rule == "latest":
        return Latest(field.key, ctx.rows)
    return Values(field.key, ctx.rows)


def _leaf(
    field: ast.Field,
    ctx: _Context,
    test: Test,
    *,
    numeric: bool = False,
) -> Leaf:
    """A comparison on a field: unknown when the field has no value, else ``test`` of its value.

    ``numeric``: the comparison is with a number (on a param, its text is then read as a number)."""
    if field.type is ValueType.UNKNOWN:
        raise ValueError(f"cannot evaluate the unchecked field {field.key!r}: check the tree first")
    slot = _field_slot(field, ctx, numeric=numeric)
    return Leaf(ctx.layout.index(slot), "any" if isinstance(slot, Values) else "value", test)


def _null_leaf(field: ast.Field, ctx: _Context, negated: bool) -> Leaf:
    slot = _field_slot(field, ctx, numeric=False)
    if isinstance(slot, Values):
        return Leaf(ctx.layout.index(slot), "not_empty" if negated else "empty")
    return Leaf(ctx.layout.index(slot), "not_null" if negated else "null")


# ---- building rows --------------------------------------------------------------------------------


def _sort_value(attr: str, record: Record) -> Any:
    """An attribute as the server stores and sorts it (status by number, experiment ids as numbers)."""
    value = record.attribute(attr)
    if attr == "status":
        return value.number
    if attr == "experiment_id":
        return experiment_order(value)
    return value


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+\Z")


def experiment_order(experiment_id: str) -> tuple[int, float | str]:
    """Where an experiment id sorts: MLflow keeps ids in an INTEGER column, so an id that is a number sorts
    by its value, before any id that is not one, which sorts by its text (SQLite keeps such text as text,
    and orders numbers before text).

    >>> sorted(["10", "", "9", "x", "-1"], key=experiment_order)
    ['-1', '9', '10', '', 'x']
    """
    if _INTEGER_TEXT.match(experiment_id):
        # Past int64 SQLite keeps a REAL (and int() refuses a text of thousands of digits): 18 stay in it.
        return (0, int(experiment_id) if len(experiment_id) <= 18 else float(experiment_id))
    return (1, experiment_id)


def _as_number(text: str | None) -> float | None:
    return float(text) if text is not None and _NUMERIC_TEXT.match(text) else None


def latest_row(rows: Iterable[MetricRow]) -> MetricRow | None:
    """The row MLflow 3.18 compares and sorts by: the greatest by (step, timestamp, value)."""
    return max(rows, key=lambda m: (m.step, m.timestamp, m.value), default=None)


def latest_row_by_time(rows: Iterable[MetricRow]) -> MetricRow | None:
    """The row MLflow 3.17 sorts by: the greatest timestamp, then step, then the smallest run id."""
    return min(rows, key=lambda m: (-m.timestamp, -m.step, m.run_id or ""), default=None)


def _latest(rows: Sequence[MetricRow]) -> float | None:
    best = latest_row(rows)
    return None if best is None else best.value


def _latest_by_time(rows: Sequence[MetricRow]) -> float | None:
    best = latest_row_by_time(rows)
    return None if best is None else best.value


class _RowBuilder:
    """Computes a model's row: the value of every slot, reading each part of the record once."""

    def __init__(self, slots: Mapping[Slot, int]) -> None:
        # The places by kind of slot, so that building a row runs no dispatch per model.
        self.attrs: list[tuple[int, str]] = []
        self.sort_attrs: list[tuple[int, str]] = []
        self.params: list[tuple[int, str]] = []
        self.param_numbers: list[tuple[int, str]] = []
        self.tags: list[tuple[int, str]] = []
        self.metrics: list[tuple[int, MetricSlot]] = []
        self.any_rows: list[tuple[int, RowFilter]] = []
        for slot, i in sorted(slots.items(), key=lambda item: item[1]):
            match slot:
                case Attr(name):
                    self.attrs.append((i, name))
                case SortAttr(name):
                    self.sort_attrs.append((i, name))
                case Param(key):
                    self.params.append((i, key))
                case ParamNumber(key):
                    self.param_numbers.append((i, key))
                case Tag(key):
                    self.tags.append((i, key))
                case Latest() | Values() | ByTime():
                    self.metrics.append((i, slot))
                case AnyRow(rows):
                    self.any_rows.append((i, rows))
        self.width = len(slots)
        self.metric_keys = frozenset(slot.key for _, slot in self.metrics)
        self.reads_any_metric = bool(self.any_rows)
        self.reads_params = bool(self.params or self.param_numbers)
        self.reads_tags = bool(self.tags)
        self.late = frozenset(i for i, _ in self.metrics) | frozenset(i for i, _ in self.any_rows)

    def __call__(self, record: Record, *, late: bool = False) -> Row:
        """The record's row. Its last item is ``None``, or with ``late`` a filler: the metric places then stay
        :data:`_PENDING` until a predicate that gets that far calls ``row[-1](row)`` to compute them all."""
        # Params and tags first, then attributes in the order of their places (the filter's before the
        # order's): a malformed record reports the error it always has.
        params = record.params() if self.reads_params else None
        tags = record.tags() if self.reads_tags else None
        row: Row = [None] * (self.width + 1)
        for i, name in self.attrs:
            row[i] = record.attribute(name)
        for i, name in self.sort_attrs:
            row[i] = _sort_value(name, record)
        if params is not None:
            for i, key in self.params:
                row[i] = params.get(key)
            for i, key in self.param_numbers:
                row[i] = _as_number(params.get(key))
        if tags is not None:
            for i, key in self.tags:
                row[i] = tags.get(key)
        if self.late:
            if late:
                for i in self.late:
                    row[i] = _PENDING
                row[-1] = lambda row: self._fill(row, record)
            else:
                self._fill(row, record)
        return row

    def _fill(self, row: Row, record: Record) -> None:
        """Compute the metric places of the row, reading the record's metrics once; drop the filler."""
        metrics: Mapping[str, Sequence[MetricRow]] = {}
        if self.reads_any_metric:
            metrics = record.metric_rows(None)
        elif self.metric_keys:
            metrics = record.metric_rows(self.metric_keys)
        for i, rows in self.any_rows:
            row[i] = _on_some_dataset(rows, metrics)
        for i, slot in self.metrics:
            row[i] = _metric_value(slot, metrics.get(slot.key, ()))
        row[-1] = None

    def complete(self, row: Row) -> Row:
        """The row with every place computed."""
        if row[-1] is not None:
            row[-1](row)
        return row


_PENDING: Any = object()  # a late place not yet computed


def _on_some_dataset(rows: RowFilter, metrics: Mapping[str, Sequence[MetricRow]]) -> bool:
    return any(rows.passes(m) for values in metrics.values() for m in values)


def _metric_value(slot: MetricSlot, metric: Sequence[MetricRow]) -> Any:
    """What a metric slot holds, from the metric's rows: the latest passing value, or all of them."""
    rows = slot.rows
    passing = metric if rows.everything else [m for m in metric if rows.passes(m)]
    match slot:
        case Latest():
            return _latest(passing)
        case ByTime():
            return _latest_by_time(passing)
    return tuple(m.value for m in passing)


def read_slot(slot: Slot) -> Callable[[Record], Any]:
    """How to read one slot of a record: the value a row would hold there (for a column of them)."""
    match slot:
        case Attr(name):
            return lambda record: record.attribute(name)
        case SortAttr(name):
            return lambda record: _sort_value(name, record)
        case Param(key):
            return lambda record: record.params().get(key)
        case ParamNumber(key):
            return lambda record: _as_number(record.params().get(key))
        case Tag(key):
            return lambda record: record.tags().get(key)
        case AnyRow(rows):
            return lambda record: _on_some_dataset(rows, record.metric_rows(None))
    keys, metric = frozenset((slot.key,)), slot
    return lambda record: _metric_value(metric, record.metric_rows(keys).get(metric.key, ()))


# ---- the query ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A compiled filter and order for one target: ``matches`` a row, ``sort`` the matches.

    ``slots`` names what each place of a row holds; ``logic`` is the filter over those places, and
    ``predicate`` the same as one closure; ``order`` is (place, ascending) per sort key."""

    slots: tuple[Slot, ...]
    logic: Logic
    predicate: Predicate
    order: tuple[tuple[int, bool], ...]
    build_row: _RowBuilder

    def select(
        self, models: Iterable[LoggedModel | Mapping[str, Any]], *, max_results: int | None = None
    ) -> list[LoggedModel]:
        """The first ``max_results`` matching models (all with ``None``), in order. ``models`` streams: only
        the matches are kept (and a batch of :data:`BATCH` models at a time)."""
        limit = max_results_of(max_results, least=0)
        matches: list[tuple[Row, LoggedModel]] = []
        predicate, build_row = self.predicate, self.build_row
        index = 0
        ids: set[str] = set()
        for batch in batches(models):
            with collector_paused():
                for item in batch:
                    record = Record.of(item, index)
                    record.first_of_its_id(ids)
                    index += 1
                    row = build_row(record, late=True)
                    if predicate(row) is True:
                        matches.append((build_row.complete(row), record.model()))
        with collector_paused():
            return [model for _, model in self.sort(matches)[:limit]]

    def row(self, model: LoggedModel | Mapping[str, Any], index: int = 0) -> Row:
        """The row of one model: what the filter and the order read of it."""
        return self.build_row(Record.of(model, index))

    def matches(self, row: Row) -> bool:
        return self.predicate(row) is True

    def key(self, row: Row) -> tuple[Any, ...]:
        """A key that sorts rows in this query's order (nulls last both ways), for merging sorted streams."""
        return tuple(
            (row[i] is None, 0 if row[i] is None else (row[i] if ascending else _Descending(row[i])))
            for i, ascending in self.order
        )

    def sort(self, matches: list[tuple[Row, LoggedModel]]) -> list[tuple[Row, LoggedModel]]:
        return sort_in_order(matches, [(_place(i), ascending) for i, ascending in self.order])


def _place(i: int) -> Callable[[tuple[Row, Any]], Any]:
    return lambda match: match[0][i]


def sort_in_order(items: list[_Item], keys: Sequence[tuple[Callable[[_Item], Any], bool]]) -> list[_Item]:
    """Sort ``items`` in place by ``keys`` (how to read a value, ascending), nulls last both ways; stable.

    >>> sort_in_order([3, None, 1, 2], [(lambda x: x, False)])
    [3, 2, 1, None]
    """
    # Stable sorts from the last key to the first; a reversed sort keeps equal items in their order.
    for read, ascending in reversed(keys):
        if ascending:
            items.sort(key=lambda item: ((v := read(item)) is None, 0 if v is None else v))
        else:
            items.sort(key=lambda item: ((v := read(item)) is not None, 0 if v is None else v), reverse=True)
    return items


BATCH = 512
"""How many of the caller's models :func:`batches` takes at a time."""


def batches(items: Iterable[_Item]) -> Iterator[list[_Item]]:
    """The items, :data:`BATCH` at a time, taken from the caller's iterator with the collector as the
    caller has it: work on a batch may pause it (:func:`collector_paused`), never the caller's own code.

    >>> [len(batch) for batch in batches(range(BATCH + 1))]
    [512, 1]
    """
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, BATCH)):
        yield batch


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector around lmfilter's own work on a batch of models (and nothing else).

    Each match adds a validated model (dozens of small objects) to the result, and the collector's passes
    over everything the process holds cost more than the filtering itself (three quarters of the time on
    30k models with the caller holding another 30k, by ``benchmarks/evaluate_throughput.py``). Paused, the
    new objects are counted and collected together by the first collection after the batch, in the caller's
    time, as they would be anyway. Nothing made here forms a cycle, so reference counting frees all garbage
    meanwhile. Only code that calls none of the caller's runs inside: a caller's iterator always runs with
    the collector as the caller set it (see :func:`batches`), and the collector is running again when the
    block ends, by an error too, unless the caller had paused it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Descending:
    """Wraps a value so that it sorts in reverse."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and bool(other.value == self.value)

    __hash__ = None  # type: ignore[assignment]


def has_metric_condition(tree: ast.Expr) -> bool:
    return any(c.field.entity is Entity.METRIC for c in ast.comparisons(tree))


@functools.lru_cache(maxsize=256)
def _compile_query(
    tree: ast.Expr,
    datasets: tuple[tuple[str, str | None], ...],
    keys: tuple[OrderKey, ...],
    target: Target,
) -> Query:
    layout = _Layout()
    rows = RowFilter(datasets if datasets else None)
    logic = _logic(tree, _Context(layout, target, rows))
    if datasets and not has_metric_condition(tree):
        # Without a metric condition, a model needs some metric row on one of the datasets.
        logic = _junction("all", [logic, Leaf(layout.index(AnyRow(rows)), "flag")])
    order = tuple((layout.index(_order_slot(key, target, rows)), key.ascending) for key in keys)
    slots = tuple(slot for slot, _ in sorted(layout.slots.items(), key=lambda item: item[1]))
    build_row = _RowBuilder(layout.slots)
    return Query(slots, logic, _predicate(logic, build_row.late), order, build_row)


def _order_slot(key: OrderKey, target: Target, rows: RowFilter) -> Slot:
    match key.kind:
        case "attribute":
            return SortAttr(key.name)
        case "param":
            return Param(key.name)
        case "tag":
            return Tag(key.name)
    if target.metric_order == "latest":
        return Latest(key.name, RowFilter(rows.datasets, key.dataset_name, key.dataset_digest))
    return ByTime(key.name, RowFilter(None, key.dataset_name, key.dataset_digest))


def compile_query(
    filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
    *,
    datasets: Datasets = None,
    order_by: OrderByArg = None,
    target: str | Target = "mlflow",
    local_order: bool = False,
) -> Query:
    """Compile a filter, ``datasets`` and ``order_by`` for ``target`` (cached by their value).

    ``local_order``: also sort by params and tags, which servers cannot (the planner sorts locally)."""
    tree = tree_of(filter)
    check_nesting(tree)  # a tree built by hand deeper than any filter: LMF105, not a RecursionError
    entries = tuple((d.dataset_name, d.dataset_digest) for d in datasets_of(datasets))
    return _compile_query(tree, entries, order_keys(order_by, local=local_order), get_target(target))


def select(
    models: Iterable[LoggedModel | Mapping[str, Any]],
    filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
    *,
    datasets: Datasets = None,
    order_by: OrderByArg = None,
    target: str | Target = "mlflow",
    max_results: int | None = None,
) -> list[LoggedModel]:
    """The models a search with this filter, ``datasets`` and ``order_by`` would return, in its order.

    ``models`` is any iterable of :class:`~lmfilter.wire.LoggedModel` or API-JSON dicts; ``filter`` a text
    or a tree (``None``: every model); ``target`` picks the semantics (``mlflow`` for MLflow 3.18,
    ``mlflow-3.17``, ``databricks``, ``local``). ``max_results`` keeps the first so many, as MLflow's
    ``search_logged_models`` does: ``None`` all of them, ``0`` none. Raises :class:`~lmfilter.FilterError`
    for a bad filter, :class:`~lmfilter.RequestError` for a bad ``datasets`` or ``order_by`` entry or a
    ``max_results`` below 0, and :class:`RecordError` for a malformed record.
    """
    query = compile_query(filter, datasets=datasets, order_by=order_by, target=target)
    return query.select(models, max_results=max_results)
