"""The logic a search runs, as data: what each place of a model's *row* holds (its slot), and the tests over
those places under AND, OR and NOT.

:func:`lmfilter.compile_query` turns a checked tree, ``datasets`` and ``order_by`` into this logic once, for
one target's semantics (which metric row a comparison reads, how an order key sorts); every executor then
reads the same nodes, so what a search means is decided in one place:

- **rows** (:mod:`lmfilter.evaluate`): each model's row holds one value per slot, and the logic runs as
  nested closures over one row at a time (:meth:`lmfilter.Query.select`, streaming);
- **columns** (:mod:`lmfilter.table`): a :class:`~lmfilter.ModelTable` keeps one column per slot over all
  its models, and runs each :class:`Leaf` over whole columns;
- **SQL** (next): each slot becomes a column expression over MLflow's tables, each leaf a condition on it.

A slot is one small frozen class per kind (the union :data:`Slot`), equal and hashed by value: the
executors key their rows, columns and caches by slot, so two compilations of one filter share them.

>>> Latest("acc", RowFilter((("eval", None),)))
Latest(key='acc', rows=RowFilter(datasets=(('eval', None),), name=None, digest=None))
>>> Param("alpha") == Param("alpha"), Param("alpha") == Tag("alpha")
(True, False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from lmfilter.wire import MetricRow

__all__ = [
    "AnyRow",
    "Attr",
    "ByTime",
    "Junction",
    "Latest",
    "Leaf",
    "Logic",
    "MetricSlot",
    "Mode",
    "Negation",
    "Param",
    "ParamNumber",
    "RowFilter",
    "Slot",
    "SortAttr",
    "Tag",
    "Values",
]


# ---- which rows of a metric count -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowFilter:
    """Which metric rows count: those matching any of ``datasets`` (if given) and the entry's own dataset
    (``name`` and ``digest``, from an ``order_by`` key)."""

    datasets: tuple[tuple[str, str | None], ...] | None = None
    name: str | None = None
    digest: str | None = None

    @property
    def everything(self) -> bool:
        """Whether every row counts (no dataset restricts them)."""
        return self.datasets is None and self.name is None and self.digest is None

    def passes(self, metric: MetricRow) -> bool:
        """Whether the row counts."""
        if self.name is not None and metric.dataset_name != self.name:
            return False
        if self.digest is not None and metric.dataset_digest != self.digest:
            return False
        if self.datasets is None:
            return True
        return any(
            metric.dataset_name == name and (digest is None or metric.dataset_digest == digest)
            for name, digest in self.datasets
        )


# ---- slots: what a place of the row holds ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attr:
    """An attribute's value as filters compare it (``status`` as a :class:`~lmfilter.ModelStatus`);
    ``None`` when null."""

    name: str


@dataclass(frozen=True, slots=True)
class SortAttr:
    """An attribute's value as the server sorts it: ``status`` by its number, an experiment id as the
    server's INTEGER column holds it (:func:`lmfilter.evaluate.experiment_order`); ``None`` when null."""

    name: str


@dataclass(frozen=True, slots=True)
class Param:
    """A param's text; ``None`` when the model has no such param."""

    key: str


@dataclass(frozen=True, slots=True)
class ParamNumber:
    """A param's text read as a number (for a comparison with a number); ``None`` when the param is missing
    or its text is not a number."""

    key: str


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag's text; ``None`` when the model has no such tag."""

    key: str


@dataclass(frozen=True, slots=True)
class Latest:
    """The value of the metric's latest row that ``rows`` passes, by (step, timestamp, value); ``None``
    when no row passes. MLflow 3.18 compares and sorts by it."""

    key: str
    rows: RowFilter


@dataclass(frozen=True, slots=True)
class Values:
    """The values of all the metric's rows that ``rows`` passes, as a tuple (empty when none passes).
    MLflow 3.17 compares with each: a comparison holds when it holds for some row."""

    key: str
    rows: RowFilter


@dataclass(frozen=True, slots=True)
class ByTime:
    """The value of the metric's latest row that ``rows`` passes, by timestamp, then step, then the lowest
    run id; ``None`` when no row passes. MLflow 3.17 sorts by it."""

    key: str
    rows: RowFilter


@dataclass(frozen=True, slots=True)
class AnyRow:
    """Whether any row of any metric passes ``rows`` (with ``datasets`` and no metric condition, a model
    needs one)."""

    rows: RowFilter


MetricSlot = Latest | Values | ByTime
"""A slot read from the rows of one metric."""

Slot = Attr | SortAttr | Param | ParamNumber | Tag | Latest | Values | ByTime | AnyRow
"""What one place of a row holds."""


# ---- the tests over the row -----------------------------------------------------------------------

Mode = Literal["value", "any", "null", "not_null", "empty", "not_empty", "flag"]
"""How a :class:`Leaf` reads its slot's value (see there)."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One test of one place of the row: ``slot`` is its index in the query's slots.

    ``mode`` says how the place's value is read: ``value`` (unknown when null, else ``test(value)``),
    ``any`` (a tuple of values: unknown when empty, else whether some value passes ``test``), ``null`` /
    ``not_null`` (never unknown), ``empty`` / ``not_empty`` (of a tuple), or ``flag`` (the value is the
    verdict). ``bounds``, when set, says the same as ``test`` as comparisons with numbers: the test holds
    when ``operator(value, number)`` holds for all of them, negated if ``negated``."""

    slot: int
    mode: Mode
    test: Callable[[Any], bool] | None = None
    bounds: tuple[tuple[Callable[[Any, Any], bool], Any], ...] | None = None
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Junction:
    """``all`` (AND) or ``any`` (OR) of the items, in Kleene's three-valued logic."""

    kind: Literal["all", "any"]
    items: tuple[Logic, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    """``NOT`` of the item: true and false swap, unknown stays unknown."""

    item: Logic


Logic = Leaf | Junction | Negation
"""A filter over the places of a row."""
