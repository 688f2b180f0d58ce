"""A table of models in memory that answers many searches fast: column by column, not model by model.

:func:`~lmfilter.select` reads every model again for each search. A cache searched again and again can do
better: a :class:`ModelTable` keeps, for each *slot* a search reads (an attribute, a param's text or number,
the latest passing value of a metric, ...), the column of its values over all models, computed the first time
a search needs it and kept. A search then runs each test of its filter over whole columns:

- a comparison with a number runs as one ``operator`` call per model, mapped in C over the column;
- any other test on a column with few distinct values (names, params, tags, status) runs once per distinct
  value, and the models take the verdict of their value through a lookup;
- anything else runs its test per model.

Each test yields two masks, the models for which it is *true* and those for which it is *false* (neither:
unknown, in Kleene's three-valued logic). A mask is a Python ``int`` holding one byte per model, so AND, OR
and NOT over a million models are a few big-integer operations. The order of a search (its ``order_by``
and the default keys) is a permutation of all models, sorted once and kept, that the matches are read off.

The answers are those of :func:`~lmfilter.select` on the same models, in the same order: both run the same
compiled query (:func:`~lmfilter.compile_query`): the same logic (:mod:`lmfilter.logic`), the same slots
and the same tests.

>>> table = ModelTable([
...     {"info": {"model_id": "m-1", "name": "a", "creation_timestamp_ms": 1},
...      "data": {"params": [{"key": "alpha", "value": "0.1"}],
...               "metrics": [{"key": "acc", "value": 0.95, "step": 1}]}},
...     {"info": {"model_id": "m-2", "name": "b", "creation_timestamp_ms": 2},
...      "data": {"params": [{"key": "alpha", "value": "0.5"}]}},
... ])
>>> [m.model_id for m in table.select("params.alpha < 0.3 OR metrics.acc IS NULL")]
['m-2', 'm-1']
>>> [m.model_id for m in table.select("name LIKE '%'", order_by=[{"field_name": "metrics.acc"}])]
['m-1', 'm-2']
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from typing import Any

from lmfilter import ast
from lmfilter.evaluate import Query, batches, collector_paused, compile_query, read_slot, sort_in_order
from lmfilter.logic import Junction, Leaf, Logic, Negation, Slot, Test, Values
from lmfilter.records import Record
from lmfilter.requests import Datasets, OrderByArg, max_results_of
from lmfilter.schema import Target
from lmfilter.wire import LoggedModel

__all__ = ["ModelTable"]

Mask = int  # one byte per model, 1 where the verdict holds
_BITMAPS = 16  # a test that passes at most this many distinct values ORs their bitmaps
_LAYERS = 4  # how many values of a tuple (the rows of a metric) are tested as columns
Verdicts = tuple[Mask, Mask]  # (true, false); unknown where neither holds


@dataclass(frozen=True, slots=True)
class _Layer:
    """The ``depth``-th value of each model's tuple in a :class:`~lmfilter.logic.Values` slot (``None`` when
    it has fewer): a column of its own, tested like any other."""

    values: Values
    depth: int


Column = Slot | _Layer  # what a column holds: a slot of the logic, or a layer of one
_UNSEEN: frozenset[Any] = frozenset({object()})  # no slot's distinct values


class ModelTable:
    """Models held in memory, searched column by column.

    ``models`` are :class:`~lmfilter.wire.LoggedModel` objects or API-JSON dicts, read as they are when a
    search first needs each column (dicts are validated into models when they first match). Columns,
    lookups and orders are kept for the life of the table: memory grows with the slots searched.
    """

    def __init__(self, models: Iterable[LoggedModel | Mapping[str, Any]]) -> None:
        items: list[LoggedModel | Mapping[str, Any]] = []
        self._records: list[Record] = []
        ids: set[str] = set()
        for batch in batches(models):  # the caller's iterator runs with the collector as the caller set it
            with collector_paused():
                for i, item in enumerate(batch, len(items)):
                    record = Record.of(item, i)
                    record.first_of_its_id(ids)
                    self._records.append(record)
                items.extend(batch)
        self._models: list[LoggedModel | None] = [
            m if type(m) is LoggedModel or isinstance(m, LoggedModel) else None for m in items
        ]
        self._size = len(items)
        self._unvalidated = sum(model is None for model in self._models)
        self._everyone: Mask = int.from_bytes(b"\x01" * self._size, "little")
        self._columns: dict[Column, list[Any]] = {}
        self._presence: dict[Column, Mask] = {}
        self._filled: dict[Column, list[Any]] = {}
        # A tuple slot's depth (the most values a model has there) and its layers, kept: a layer is the
        # same object in every search, so looking up its columns finds it by identity.
        self._layers: dict[Values, tuple[int, tuple[_Layer, ...]]] = {}
        self._bitmaps: dict[tuple[Column, Any], Mask] = {}
        self._distinct: dict[Column, frozenset[Any] | None] = {}
        self._orders: dict[tuple[tuple[Slot, bool], ...], list[int]] = {}

    def __len__(self) -> int:
        return self._size

    def select(
        self,
        filter: str | ast.Expr | None = None,  # noqa: A002 - the API's word
        *,
        datasets: Datasets = None,
        order_by: OrderByArg = None,
        target: str | Target = "mlflow",
        max_results: int | None = None,
    ) -> list[LoggedModel]:
        """The models a search would return, in its order: the same as :func:`~lmfilter.select`."""
        query = compile_query(filter, datasets=datasets, order_by=order_by, target=target)
        return self.run(query, max_results=max_results)

    def run(self, query: Query, *, max_results: int | None = None) -> list[LoggedModel]:
        """The first ``max_results`` models (all with ``None``) a compiled query matches, in its order."""
        limit = max_results_of(max_results, least=0)
        with collector_paused():
            true, _ = self._verdicts(query.logic, query.slots, self._everyone)
            mask = true.to_bytes(self._size, "little")
            chosen = self._ordered(mask, tuple((query.slots[i], ascending) for i, ascending in query.order))
            return self._results(chosen[:limit])

    # ---- verdicts ---------------------------------------------------------------------------------
    #
    # ``where`` marks the models whose verdict still matters: under an AND, those that no earlier item has
    # found false; under an OR, those that none has found true. Verdicts are exact there and may be anything
    # elsewhere, so a test run model by model runs only there. Items run cheapest first.

    def _verdicts(self, logic: Logic, slots: Sequence[Slot], where: Mask) -> Verdicts:
        match logic:
            case Junction("all", items):
                true, false = self._everyone, 0  # AND of nothing: true
                for item in sorted(items, key=lambda item: self._cost(item, slots)):
                    more_true, more_false = self._verdicts(item, slots, where & ~false)
                    true, false = true & more_true, false | more_false
                return true, false
            case Junction(_, items):
                true, false = 0, self._everyone  # OR of nothing: false
                for item in sorted(items, key=lambda item: self._cost(item, slots)):
                    more_true, more_false = self._verdicts(item, slots, where & ~true)
                    true, false = true | more_true, false & more_false
                return true, false
            case Negation(item):
                true, false = self._verdicts(item, slots, where)
                return false, true
            case Leaf():
                return self._leaf(logic, slots[logic.slot], where)
        raise AssertionError(f"unknown logic {logic!r}")

    def _cost(self, logic: Logic, slots: Sequence[Slot]) -> int:
        """About how long the logic takes: columnar tests cost 1, tests run model by model 10."""
        match logic:
            case Junction(_, items):
                return sum(self._cost(item, slots) for item in items)
            case Negation(item):
                return self._cost(item, slots)
            case Leaf(_, "value", test) if self._per_model(test, slots[logic.slot]):
                return 10
            case Leaf(_, "any"):
                return 2
        return 1

    def _per_model(self, test: Test | None, slot: Slot) -> bool:
        """Whether a value test runs model by model: it is no comparison with numbers, and the slot has too
        many distinct values to test each."""
        return test is not None and test.bounds is None and self._values(slot) is None

    def _leaf(self, leaf: Leaf, slot: Slot, where: Mask) -> Verdicts:
        present, everyone = self._present(slot), self._everyone
        match leaf.mode:
            case "null" | "empty":
                return everyone ^ present, present
            case "not_null" | "not_empty":
                return present, everyone ^ present
            case "flag":
                true = _mask(map(bool, self._column(slot)))
                return true, everyone ^ true
            case "any":
                assert isinstance(slot, Values)  # the mode of a Values slot, and of no other
                true = self._passing_any(leaf, slot, where)
                return true, present ^ true
        true = self._passing(leaf, slot, where) & present
        return true, present ^ true

    def _passing_any(self, leaf: Leaf, slot: Values, where: Mask) -> Mask:
        """Where some value of a tuple passes the test (MLflow 3.17's rule for the rows of a metric).

        The first values of every model are *layers*, columns of their own (the j-th value, or null), tested
        like any column; the models with more values than there are layers test the rest one by one."""
        column = self._column(slot)
        layered = self._layers.get(slot)
        if layered is None:
            depth = max(map(len, column), default=0)
            layered = self._layers[slot] = (depth, tuple(_Layer(slot, j) for j in range(min(depth, _LAYERS))))
        depth, layers = layered
        true = 0
        for layer in layers:
            true |= self._passing(leaf, layer, where) & self._present(layer)
        if depth > _LAYERS:
            test = leaf.passes
            assert test is not None
            rest = bytearray(self._size)
            for i in self._positions(where):
                if len(values := column[i]) > _LAYERS and any(map(test, values[_LAYERS:])):
                    rest[i] = 1
            true |= _mask(rest)
        return true

    def _passing(self, leaf: Leaf, slot: Column, where: Mask) -> Mask:
        """Where a value test holds, at least among ``where`` (and anything where the value is null: the
        caller masks it out)."""
        column = self._column(slot)
        assert leaf.test is not None  # a value leaf's
        assert leaf.passes is not None
        bounds = leaf.test.bounds
        if bounds is not None:
            filled = self._numbers(slot)
            true = self._everyone
            for compare, number in bounds:
                true &= _mask(map(compare, filled, repeat(number)))
            return self._everyone ^ true if leaf.test.negated else true
        test = leaf.passes
        distinct = self._values(slot)
        if distinct is not None:
            verdict = {value: test(value) for value in distinct if value is not None}
            chosen = [value for value, passes in verdict.items() if passes]
            if len(chosen) <= _BITMAPS:
                true = 0
                for value in chosen:
                    true |= self._holding(slot, value)
                return true
            verdict[None] = False
            return _mask(map(verdict.__getitem__, column))
        passing = bytearray(self._size)
        for i in self._positions(where):
            if (value := column[i]) is not None and test(value):
                passing[i] = 1
        return _mask(passing)

    def _positions(self, where: Mask) -> Iterable[int]:
        return compress(range(self._size), where.to_bytes(self._size, "little"))

    # ---- columns ----------------------------------------------------------------------------------

    def _column(self, slot: Column) -> list[Any]:
        column = self._columns.get(slot)
        if column is None:
            if isinstance(slot, _Layer):
                j = slot.depth
                column = [values[j] if len(values) > j else None for values in self._column(slot.values)]
            else:
                read = read_slot(slot)
                column = [read(record) for record in self._records]
            self._columns[slot] = column
        return column

    def _present(self, slot: Column) -> Mask:
        """Where the slot has a value: not null (for the rows of a metric, not empty)."""
        present = self._presence.get(slot)
        if present is None:
            column = self._column(slot)
            if isinstance(slot, Values):
                present = _mask(map(bool, column))
            else:
                present = _mask(map(operator.is_not, column, repeat(None)))
            self._presence[slot] = present
        return present

    def _holding(self, slot: Column, value: Any) -> Mask:
        """Where the slot holds ``value``: a bitmap, made on first use and kept."""
        mask = self._bitmaps.get((slot, value))
        if mask is None:
            mask = self._bitmaps[slot, value] = _mask(map(operator.eq, self._column(slot), repeat(value)))
        return mask

    def _numbers(self, slot: Column) -> list[Any]:
        """The column with 0 for null, for comparisons run on every model (and masked after)."""
        filled = self._filled.get(slot)
        if filled is None:
            column = self._column(slot)
            filled = (
                column if self._present(slot) == self._everyone else [0 if v is None else v for v in column]
            )
            self._filled[slot] = filled
        return filled

    def _values(self, slot: Column) -> frozenset[Any] | None:
        """The distinct values of the slot, when few enough (a quarter of the models) to test one by one."""
        distinct = self._distinct.get(slot, _UNSEEN)  # one lookup: a slot hashes in Python
        if distinct is _UNSEEN:
            values = frozenset(self._column(slot))
            distinct = self._distinct[slot] = values if 4 * len(values) <= self._size else None
        return distinct

    # ---- order and results ------------------------------------------------------------------------

    def _ordered(self, mask: bytes, keys: tuple[tuple[Slot, bool], ...]) -> list[int]:
        """The positions of the matches, in the order of ``keys``."""
        order = self._orders.get(keys)
        if order is None:
            readers = [(self._column(slot).__getitem__, ascending) for slot, ascending in keys]
            if 8 * mask.count(1) < self._size:  # few matches: sort just them, and keep no order
                return sort_in_order(list(compress(range(self._size), mask)), readers)
            order = self._orders[keys] = sort_in_order(list(range(self._size)), readers)
        return list(compress(order, map(mask.__getitem__, order)))

    def _results(self, chosen: list[int]) -> list[LoggedModel]:
        models = self._models
        if self._unvalidated:
            for i in sorted(i for i in chosen if models[i] is None):  # validated once, in the input's order
                models[i] = self._records[i].model()
                self._unvalidated -= 1
        return list(map(models.__getitem__, chosen))  # type: ignore[arg-type]  # all validated now


def _mask(verdicts: Iterable[bool | int]) -> Mask:
    return int.from_bytes(bytes(verdicts), "little")
