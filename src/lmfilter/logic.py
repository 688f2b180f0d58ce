"""The logic a search runs, as data: what each place of a model's *row* holds (its slot), and the tests over
those places under AND, OR and NOT.

:func:`lmfilter.compile_query` turns a checked tree, ``datasets`` and ``order_by`` into this logic once, for
one target's semantics (which metric row a comparison reads, how an order key sorts); every executor then
reads the same nodes, so what a search means is decided in one place:

- **rows** (:mod:`lmfilter.evaluate`): each model's row holds one value per slot, and the logic runs as
  nested closures over one row at a time (:meth:`lmfilter.Query.select`, streaming);
- **columns** (:mod:`lmfilter.table`): a :class:`~lmfilter.ModelTable` keeps one column per slot over all
  its models, and runs each :class:`Leaf` over whole columns;
- **SQL** (next): each slot becomes a column expression over MLflow's tables, each leaf a condition on it,
  read from the leaf's :data:`Test`: a test is data (:class:`Compare`, :class:`Like`, :class:`InSet`,
  :class:`Between`), and the closures the other two run are made from it.

A slot is one small frozen class per kind (the union :data:`Slot`), equal and hashed by value: the
executors key their rows, columns and caches by slot, so two compilations of one filter share them.

>>> Latest("acc", RowFilter((("eval", None),)))
Latest(key='acc', rows=RowFilter(datasets=(('eval', None),), name=None, digest=None))
>>> Param("alpha") == Param("alpha"), Param("alpha") == Tag("alpha")
(True, False)

A leaf's test is data too, and the closure the executors run is made from it once:

>>> leaf = Leaf(0, "value", Like("m_%", insensitive=True))
>>> leaf
Leaf(slot=0, mode='value', test=Like(pattern='m_%', insensitive=True, negated=False))
>>> leaf.passes("Model"), leaf.passes("m")
(True, False)
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from lmfilter.status import ModelStatus

if TYPE_CHECKING:
    from lmfilter.wire import MetricRow

__all__ = [
    "NUMERIC_TEXT",
    "OPERATORS",
    "AnyRow",
    "Attr",
    "Between",
    "Bounds",
    "ByTime",
    "Comparator",
    "Compare",
    "InSet",
    "Junction",
    "Latest",
    "Leaf",
    "Like",
    "Logic",
    "MetricSlot",
    "Mode",
    "Negation",
    "Param",
    "ParamNumber",
    "RowFilter",
    "Scalar",
    "Slot",
    "SortAttr",
    "Tag",
    "Test",
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
    or its text is not a number (see :data:`NUMERIC_TEXT`)."""

    key: str


NUMERIC_TEXT = r"^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$"
"""The param texts a comparison with a number reads as numbers (``params.depth > 5``): a decimal number
in ASCII, with ASCII whitespace around it, read as Python's ``float`` reads it (``1e400`` is infinity). It is
one regular expression that Python, DuckDB, SQLite and PostgreSQL read alike (Spark's Java regular
expressions read ``$`` and ``\\v`` otherwise: :mod:`lmfilter.sql.compile` spells it for them), so every
executor reads the same texts as numbers.

>>> [bool(re.match(NUMERIC_TEXT, text)) for text in (" -1.5e3 ", "1.", ".5", "1e", "nan", "\u0663", "0x1")]
[True, True, True, False, False, False, False]
"""


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


# ---- what a leaf tests of a value -----------------------------------------------------------------
#
# A leaf's test is data, so that every executor reads the same thing: the row executor runs it as a closure
# made from the data once (:attr:`Leaf.passes`), the column executor also reads its ``bounds`` (comparisons
# with numbers, run over whole columns), and a SQL compiler renders the data as a condition. A test is only
# ever run on a value that is there: what a missing value means (unknown, in three-valued logic) is the
# leaf's ``mode``, and so is IS NULL.

Comparator = Literal["=", "!=", "<", "<=", ">", ">="]
"""A comparison operator, as the filter spells it."""

Scalar = str | float | ModelStatus
"""A literal of a filter: a text, a number (always a ``float``, as the checker reads it: ``1`` is ``1.0``,
``nan`` and ``1e999`` too), or a status (compared with an attribute's :class:`~lmfilter.ModelStatus`,
never with its number)."""

Bounds = tuple[tuple[Callable[[Any, Any], bool], float], ...]
"""Comparisons with numbers, ``(operator, number)``: a value passes when ``operator(value, number)`` holds
for each."""

OPERATORS: dict[Comparator, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
"""What each comparator does to a value and a literal (Python's own comparison: NaN is neither less,
equal nor greater than anything)."""

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class _Test:
    """What every test has: its ``closure``, its ``bounds``, and a ``repr`` that reads as the code that
    makes it."""

    __slots__ = ()

    def closure(self) -> Callable[[Any], bool]:
        """The test as a closure over one value that is there (never ``None``)."""
        raise NotImplementedError

    @property
    def bounds(self) -> Bounds | None:
        """The same test as comparisons with numbers, when it is one (its verdict the opposite when the
        test is ``negated``)."""
        return None

    def __repr__(self) -> str:
        names = [f.name for f in dataclasses.fields(cast(Any, self))]  # every test is a dataclass
        shown = ", ".join(f"{name}={_code(getattr(self, name))}" for name in names)
        return f"{type(self).__name__}({shown})"


@dataclass(frozen=True, slots=True, repr=False)
class Compare(_Test):
    """``value <op> literal``. Text compares with text, a number with a number (a param's text through a
    :class:`ParamNumber` slot), a status with a status (``=`` and ``!=`` only)."""

    op: Comparator
    literal: Scalar
    negated: ClassVar[bool] = False

    def closure(self) -> Callable[[Any], bool]:
        compare, literal = OPERATORS[self.op], self.literal
        return lambda value: compare(value, literal)

    @property
    def bounds(self) -> Bounds | None:
        literal = self.literal
        return ((OPERATORS[self.op], literal),) if isinstance(literal, float) else None


@dataclass(frozen=True, slots=True, repr=False)
class Like(_Test):
    """``value [NOT] [I]LIKE pattern``: ``%`` stands for any text, ``_`` for any one character, and there
    is no escape (a ``%`` or ``_`` is always a wildcard, ``\\`` an ordinary character). LIKE is
    case-sensitive; ILIKE folds the 26 ASCII letters only, in the pattern and in the value (``É`` and ``é``
    differ, as they do to MLflow's SQL stores)."""

    pattern: str
    insensitive: bool = False
    negated: bool = False

    def closure(self) -> Callable[[Any], bool]:
        pattern, negated = self.pattern, self.negated
        if self.insensitive:
            pattern = pattern.translate(_ASCII_LOWER)
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        match = re.compile(regex, re.DOTALL).fullmatch
        if self.insensitive:
            return lambda value: (match(value.translate(_ASCII_LOWER)) is None) is negated
        return lambda value: (match(value) is None) is negated


@dataclass(frozen=True, slots=True, repr=False)
class InSet(_Test):
    """``value [NOT] IN (values)``: whether the value equals one of ``values`` (texts, numbers or
    statuses), in the filter's order. ``NOT IN`` of a value that is there is the opposite; of a missing one
    it is unknown, like ``IN``."""

    values: tuple[Scalar, ...]
    negated: bool = False

    def closure(self) -> Callable[[Any], bool]:
        members = frozenset(self.values)
        if self.negated:
            return lambda value: value not in members
        return members.__contains__


@dataclass(frozen=True, slots=True, repr=False)
class Between(_Test):
    """``value [NOT] BETWEEN low AND high``, bounds included: ``low <= value <= high`` (for a param, its
    text read as a number through a :class:`ParamNumber` slot). ``NOT BETWEEN`` holds where that does not,
    a NaN value included."""

    low: float
    high: float
    negated: bool = False

    def closure(self) -> Callable[[Any], bool]:
        low, high = self.low, self.high
        if self.negated:
            return lambda value: not low <= value <= high
        return lambda value: low <= value <= high

    @property
    def bounds(self) -> Bounds | None:
        return ((operator.ge, self.low), (operator.le, self.high))


Test = Compare | Like | InSet | Between
"""What a :class:`Leaf` tests of a value that is there."""


def _code(value: object) -> str:
    """Python code for a test's field: ``nan`` and statuses too."""
    if isinstance(value, tuple):
        items = [_code(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, ModelStatus):
        return f"ModelStatus.{value.name}" if value.known else f"ModelStatus.unknown({value.raw!r})"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


# ---- the logic over the row -----------------------------------------------------------------------

Mode = Literal["value", "any", "null", "not_null", "empty", "not_empty", "flag"]
"""How a :class:`Leaf` reads its slot's value (see there)."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One test of one place of the row: ``slot`` is its index in the query's slots.

    ``mode`` says how the place's value is read: ``value`` (unknown when null, else whether it passes
    ``test``), ``any`` (a tuple of values: unknown when empty, else whether some value passes ``test``),
    ``null`` / ``not_null`` (IS [NOT] NULL: never unknown), ``empty`` / ``not_empty`` (the same of a
    tuple), or ``flag`` (the value is the verdict). ``passes`` is ``test`` as a closure, made once."""

    slot: int
    mode: Mode
    test: Test | None = None
    passes: Callable[[Any], bool] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.test is None) is (self.mode in ("value", "any")):
            raise ValueError(f"a {self.mode!r} leaf {'needs' if self.test is None else 'takes no'} test")
        object.__setattr__(self, "passes", None if self.test is None else self.test.closure())


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
