"""The typed syntax tree of a filter.

Nodes are frozen, slotted dataclasses. Each carries the :class:`~lmfilter.diagnostics.Span` of text it came
from, left out of equality and hashing: two filters that mean the same written differently (spacing, letter
case of keywords, ``creation_time`` for ``creation_timestamp``) are equal trees, so trees serve as cache keys.

The parser (:mod:`lmfilter.syntax`) builds the *surface* tree, which may still hold the surface-only nodes
:class:`Word`, :class:`DoubleQuoted` and :class:`Invalid`. The checker (:mod:`lmfilter.checker`) turns it into
the *checked* tree that every later stage gets: each field typed, each value a :class:`String`,
:class:`Number` or :class:`StatusValue` of the field's type.

>>> from lmfilter import parse
>>> parse("params.alpha < 0.3 AND tags.team = 'x'") == parse("params.alpha<0.3 and tags.`team`='x'")
True
>>> parse("metrics.acc > 0.9")
Compare(field=Field(entity=<Entity.METRIC: 'metrics'>, key='acc', type=<ValueType.NUMBER: 'number'>), \
op=<Op.GT: '>'>, value=Number(text='0.9'))
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

from lmfilter.diagnostics import Span
from lmfilter.status import ModelStatus

NO_SPAN = Span(0, 0)


class Entity(enum.Enum):
    """What a field names: a metric, param or tag key, or an attribute of the model."""

    METRIC = "metrics"
    PARAM = "params"
    TAG = "tags"
    ATTRIBUTE = "attributes"


class ValueType(enum.Enum):
    """The type of a field's values; ``UNKNOWN`` only on unchecked fields."""

    NUMBER = "number"
    STRING = "string"
    STATUS = "status"
    UNKNOWN = "unknown"


class Op(enum.Enum):
    """A binary comparison operator."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


ORDERING_OPS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node: the span it was written at (not part of its identity)."""

    span: Span = field(default=NO_SPAN, compare=False, hash=False, repr=False, kw_only=True)


# ---- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class String(Node):
    """A string value (written in single quotes; ``''`` stands for one quote)."""

    value: str


@dataclass(frozen=True, slots=True)
class Number(Node):
    """A number. The parser keeps it as written (``params.lr = 0.01`` compares the text ``0.01`` on a
    server); in a checked tree a number only stands where it is compared as a number, spelt canonically."""

    text: str
    value: float = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.text))


def canonical_number_text(value: float) -> str:
    """How a checked tree spells a number: one text per value, that lexes back as a number.

    >>> [canonical_number_text(v) for v in (1.0, 0.5, 1e20, float("inf"), float("-inf"))]
    ['1', '0.5', '1e+20', '1e999', '-1e999']
    """
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)  # 'nan' for NaN, which lexes as a word and checks back to a number


@dataclass(frozen=True, slots=True)
class StatusValue(Node):
    """A model status, named in the filter as ``READY``, ``'READY'`` or ``'LOGGED_MODEL_READY'``."""

    status: ModelStatus


@dataclass(frozen=True, slots=True)
class Word(Node):
    """Surface only: an unquoted word in value position (a status name, or a string as MLflow reads it)."""

    text: str


@dataclass(frozen=True, slots=True)
class DoubleQuoted(Node):
    """Surface only: a double-quoted value (MLflow keeps the quotes, so it never matches)."""

    text: str


Value: TypeAlias = String | Number | StatusValue | Word | DoubleQuoted


# ---- fields ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field(Node):
    """A field: ``metrics.<key>``, ``params.<key>``, ``tags.<key>`` or an attribute.

    ``key`` is the metric, param or tag key, or the canonical attribute name. ``written`` keeps the field's
    text as the user wrote it, for diagnostics about spelling (not part of equality).
    """

    entity: Entity
    key: str
    type: ValueType = ValueType.UNKNOWN
    written: str = field(default="", compare=False, hash=False, repr=False)


# ---- conditions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """``field op value`` with ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``."""

    field: Field
    op: Op
    value: Value


@dataclass(frozen=True, slots=True)
class Like(Node):
    """``field [NOT] LIKE pattern`` (case-sensitive) or ``[NOT] ILIKE`` (ASCII case folded)."""

    field: Field
    pattern: Value
    negated: bool = False
    case_insensitive: bool = False


@dataclass(frozen=True, slots=True)
class In(Node):
    """``field [NOT] IN (v, ...)``."""

    field: Field
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    """``field IS [NOT] NULL``: a missing key or a null attribute."""

    field: Field
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Between(Node):
    """``field [NOT] BETWEEN low AND high`` (both ends included)."""

    field: Field
    low: Value
    high: Value
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Invalid(Node):
    """Surface only: where the parser skipped text it could not read (a syntax error was reported)."""


Comparison: TypeAlias = Compare | Like | In | IsNull | Between


@dataclass(frozen=True, slots=True)
class And(Node):
    """All of ``items`` hold. ``And(())`` is the empty filter: every model matches."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    """At least one of ``items`` holds."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    """``item`` does not hold (unknown stays unknown)."""

    item: Expr


Expr: TypeAlias = And | Or | Not | Compare | Like | In | IsNull | Between | Invalid

MATCH_ALL = And(())

MATCH_NONE = Or(())
"""The empty disjunction: no model matches (what the optimizer makes of a contradiction)."""


def equal_number(field: Field, number: Number, *, negated: bool = False) -> Compare | Between:
    """``field = number`` (``!=`` with ``negated``) compared as numbers, as a checked tree holds it.

    On a param ``=`` compares text (``params.lr = 0.1`` is the string ``'0.1'``), so a param's numeric
    equality is ``BETWEEN number AND number``, which reads its text as a number.

    >>> equal_number(Field(Entity.PARAM, "lr", ValueType.STRING), Number("0.1")).low
    Number(text='0.1')
    """
    if field.entity is Entity.PARAM:
        return Between(field, number, number, negated)
    return Compare(field, Op.NE if negated else Op.EQ, number)


def children(node: Expr) -> tuple[Expr, ...]:
    """The sub-conditions of a boolean node; none for a comparison."""
    match node:
        case And(items) | Or(items):
            return items
        case Not(item):
            return (item,)
        case _:
            return ()


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children, without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


_Result = TypeVar("_Result")


def fold(
    node: Expr,
    combine: Callable[[Expr, list[_Result]], _Result],
    children_of: Callable[[Expr], tuple[Expr, ...]] = children,
) -> _Result:
    """``combine(n, results)`` for every node ``n``, children before their parent, without recursion.

    ``results`` are the values of ``n``'s children (as ``children_of`` gives them), in order; the value of
    ``node`` is returned. Trees built by hand can be deeper than Python's recursion allows.

    >>> from lmfilter import parse
    >>> fold(parse("NOT (name = 'a' OR tags.t = 'b')"), lambda n, below: 1 + max(below, default=0))
    3
    """
    order: list[tuple[Expr, int]] = []
    stack = [node]
    while stack:
        current = stack.pop()
        below = children_of(current)
        order.append((current, len(below)))
        stack.extend(below)
    # ``order`` holds each node before its children, the last child first; read backwards, every node
    # comes after its children, and their values are the last ones made, in order.
    results: list[_Result] = []
    for current, count in reversed(order):
        values = results[len(results) - count :]
        del results[len(results) - count :]
        results.append(combine(current, values))
    return results[0]


def comparisons(node: Expr) -> Iterator[Comparison]:
    """Every comparison in the tree, left to right."""
    for sub in walk(node):
        if isinstance(sub, Compare | Like | In | IsNull | Between):
            yield sub
