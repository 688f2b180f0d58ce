"""What of a checked tree a target's server cannot run itself.

Servers take only an AND of simple comparisons (SPEC §2). :func:`unsupported` walks a checked tree and
names every construct the target lacks, with the node it stands at. The checker turns these into LMF3xx
diagnostics; the request builder refuses a tree that has any; the planner splits a tree along them.

Spelling is not this module's business (``attributes.creation_time``, ``tags.in`` without backticks, a
``+1``): lmfilter writes server text itself, so only the user's own text can be misspelt (see
:mod:`lmfilter.checker`).

>>> from lmfilter import parse
>>> from lmfilter.schema import get_target
>>> [u.what for u in unsupported(parse("params.a < 1 OR NOT model_type IS NULL"), get_target("mlflow"))]
['OR', '< on a param', 'NOT', 'IS NULL']
>>> list(unsupported(parse("status = 'READY'"), get_target("mlflow-3.17"), status_numbers=True))
[]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lmfilter import ast
from lmfilter.ast import Entity, ValueType
from lmfilter.schema import Feature, Target


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A construct the target's server lacks: which, the node it stands at, and how to name it."""

    feature: Feature
    node: ast.Node
    what: str


_EVERY_FEATURE = frozenset(Feature)


def unsupported(tree: ast.Expr, target: Target, *, status_numbers: bool = False) -> Iterator[Unsupported]:
    """Every construct of ``tree`` that ``target`` does not run natively, parents before children.

    ``status_numbers``: status conditions may be sent as numbers (MLflow 3.17 compares stored numbers, so
    lmfilter can send ``status = 2``; a user's ``status = 'READY'`` is still misread there).
    """
    lacks = _EVERY_FEATURE - target.features
    if not lacks:
        return
    for node in ast.walk(tree):
        match node:
            case ast.Or(items) if len(items) > 1:  # one item is written alone, none as model_id IN ()
                yield Unsupported(Feature.OR, node, "OR")
            case ast.Not():
                yield Unsupported(Feature.NOT, node, "NOT")
            case ast.Compare() | ast.Like() | ast.In() | ast.IsNull() | ast.Between():
                yield from _comparison(node, target, status_numbers)


def is_native(tree: ast.Expr, target: Target, *, status_numbers: bool = False) -> bool:
    """Whether ``target`` runs the whole tree itself."""
    return next(unsupported(tree, target, status_numbers=status_numbers), None) is None


def _comparison(node: ast.Comparison, target: Target, status_numbers: bool) -> Iterator[Unsupported]:
    field = node.field
    if field.type is ValueType.UNKNOWN:
        return
    if field.entity is Entity.ATTRIBUTE and field.key not in target.attributes:
        yield Unsupported(Feature.FIELD, node.field, field.key)
    numbers_ok = status_numbers and target.status_filter == "numbers"
    if field.type is ValueType.STATUS and target.status_filter != "names" and not numbers_ok:
        yield Unsupported(Feature.STATUS, node, "a condition on status")
    match node:
        case ast.Like(negated=True, case_insensitive=insensitive):
            yield Unsupported(Feature.NOT, node, "NOT ILIKE" if insensitive else "NOT LIKE")
        case ast.IsNull(negated=negated):
            yield Unsupported(Feature.IS_NULL, node, "IS NOT NULL" if negated else "IS NULL")
        case ast.Between():
            yield Unsupported(Feature.BETWEEN, node, "BETWEEN")
        case ast.In() if field.type is ValueType.NUMBER:
            yield Unsupported(Feature.IN_NUMERIC, node, "IN on a numeric field")
    if isinstance(node, ast.Between) and field.entity is Entity.PARAM:
        yield Unsupported(Feature.NUMERIC_PARAM, node, "BETWEEN on a param")
    elif (
        isinstance(node, ast.Compare) and field.entity is Entity.PARAM and isinstance(node.value, ast.Number)
    ):
        yield Unsupported(Feature.NUMERIC_PARAM, node, f"{node.op.value} on a param")
    in_list = isinstance(node, ast.In)
    for value in _values(node):
        if isinstance(value, ast.String) and (why := _misread_string(value.value, in_list)):
            yield Unsupported(Feature.QUOTE_IN_VALUE, value, why)


def _misread_string(text: str, in_list: bool) -> str | None:
    r"""Why MLflow would not read this string value as it is, if it would not.

    The servers strip a value's outer quotes and unescape nothing, so a \ inside a plain value or a LIKE
    pattern is data. But their SQL tokenizer takes \' for an escaped quote, so a value that ends in \
    swallows the rest of the filter, and an IN list is read as a Python literal, which turns \n into a line
    break (both probed on MLflow 3.17.2 and 3.18.0).

    >>> _misread_string("%\\%%", in_list=False) is None
    True
    >>> print(_misread_string("a\\", in_list=False))
    a value that ends in \ (the server reads \' as an escaped quote)
    """
    if "'" in text:
        return "a value with ' in it"
    if text.endswith("\\"):
        return "a value that ends in \\ (the server reads \\' as an escaped quote)"
    if in_list and "\\" in text:
        return "a \\ in an IN list (the server unescapes it as Python would)"
    return None


def _values(node: ast.Comparison) -> tuple[ast.Value, ...]:
    match node:
        case ast.Compare(value=value):
            return (value,)
        case ast.Like(pattern=pattern):
            return (pattern,)
        case ast.In(values=values):
            return values
        case ast.Between(low=low, high=high):
            return (low, high)
    return ()
