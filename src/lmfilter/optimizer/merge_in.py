"""Merge equalities and IN lists on one field: ``a = 1 OR a IN (2, 3)`` is ``a IN (1, 2, 3)``.

In an OR this holds for every field (also 3.17's any-row metrics: some row is in A, or some row is in B,
is some row in A or B). In an AND it needs one value per model: ``a IN (1, 2) AND a IN (2, 3)`` is
``a = 2``, and ``a != 1 AND a NOT IN (2)`` is ``a NOT IN (1, 2)``. An empty intersection stays an empty
``IN ()`` (false, or unknown when the field is missing) for the contradictions pass. Equalities with a
number on a param (read as a number) are left alone: IN on a param compares text.

>>> from lmfilter import parse, format
>>> from lmfilter.schema import get_target
>>> facts = Facts(get_target("mlflow"))
>>> format(merge_in(parse("tags.t = 'a' OR tags.t IN ('b', 'c') OR name = 'x'"), facts))
"tags.t IN ('a', 'b', 'c') OR name = 'x'"
>>> format(merge_in(parse("tags.t IN ('a', 'b') AND tags.t IN ('b', 'c')"), facts))
"tags.t = 'b'"
"""

from __future__ import annotations

from lmfilter import ast
from lmfilter.ast import Op
from lmfilter.optimizer.facts import Facts, Slot, is_nan, rewrite, slot


def merge_in(tree: ast.Expr, facts: Facts) -> ast.Expr:
    return rewrite(tree, lambda node: _merged(node, facts))


def _merged(node: ast.Expr, facts: Facts) -> ast.Expr:
    if isinstance(node, ast.Or):
        return _merge(node, facts, negated=False, union=True)
    if isinstance(node, ast.And):
        node = _merge(node, facts, negated=False, union=False)
        if isinstance(node, ast.And):
            node = _merge(node, facts, negated=True, union=True)
    return node


def _members(item: ast.Expr, negated: bool) -> tuple[Slot, tuple[ast.Value, ...]] | None:
    """What ``f = v`` / ``f IN (...)`` (or ``!=`` / ``NOT IN`` when ``negated``) reads, and its values."""
    match item:
        case ast.Compare(field, op, value) if op is (Op.NE if negated else Op.EQ):
            values: tuple[ast.Value, ...] = (value,)
        case ast.In(field, listed, negated=n) if n is negated and listed:
            values = listed
        case _:
            return None
    slots = {slot(field, v) for v in values}
    if len(slots) != 1 or any(is_nan(v) for v in values):
        return None
    found = slots.pop()
    if found[1]:
        return None  # a param's number: IN on a param compares text, so numbers have no IN there
    return found, values


def _merge(node: ast.And | ast.Or, facts: Facts, *, negated: bool, union: bool) -> ast.Expr:
    groups: dict[Slot, list[int]] = {}
    for i, item in enumerate(node.items):
        found = _members(item, negated)
        if found and (isinstance(node, ast.Or) or facts.single_valued(found[0][0])):
            groups.setdefault(found[0], []).append(i)
    merged: dict[int, ast.Expr] = {}
    dropped: set[int] = set()
    for (field, _), places in groups.items():
        if len(places) < 2:
            continue
        lists = [_members(node.items[i], negated)[1] for i in places]  # type: ignore[index]
        if union:
            values = tuple(dict.fromkeys(v for listed in lists for v in listed))
        else:
            common = set(lists[0]).intersection(*lists[1:])
            values = tuple(v for v in lists[0] if v in common)
        merged[places[0]] = _written(field, values, negated)
        dropped.update(places[1:])
    if not merged:
        return node
    items = tuple(merged.get(i, item) for i, item in enumerate(node.items) if i not in dropped)
    return items[0] if len(items) == 1 else type(node)(items, span=node.span)


def _written(field: ast.Field, values: tuple[ast.Value, ...], negated: bool) -> ast.Expr:
    if len(values) == 1:
        return ast.Compare(field, Op.NE if negated else Op.EQ, values[0])
    return ast.In(field, values, negated)
