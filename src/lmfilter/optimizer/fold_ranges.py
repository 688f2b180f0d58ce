"""Fold the numeric bounds on one field within an AND: ``a > 0.5 AND a > 0.7`` is ``a > 0.7``.

With one value per model, all bounds fold into at most one lower and one upper bound (``BETWEEN`` becomes
the two, which servers run natively), or one equality, or ``MATCH_NONE`` when no number satisfies them
(false when the field is there, unknown when not: never a match either way). On a param the equality is
``BETWEEN x AND x``, since ``params.lr = 0.1`` compares text (:func:`lmfilter.ast.equal_number`). Under
3.17's any-row rule for metrics, each comparison may pick another row, so only bounds in the same
direction fold (some row above 0.7 is a row above 0.5).

>>> from lmfilter import parse, format
>>> from lmfilter.schema import get_target
>>> latest, any_row = Facts(get_target("mlflow")), Facts(get_target("mlflow-3.17"))
>>> format(fold_ranges(parse("metrics.a > 0.5 AND metrics.a BETWEEN 0.6 AND 0.9 AND metrics.a < 2"), latest))
'metrics.a >= 0.6 AND metrics.a <= 0.9'
>>> fold_ranges(parse("metrics.a > 1 AND metrics.a < 0"), latest)
Or(items=())
>>> format(fold_ranges(parse("metrics.a > 1 AND metrics.a < 0"), any_row))
'metrics.a > 1 AND metrics.a < 0'
>>> format(fold_ranges(parse("params.lr >= 0.1 AND params.lr <= 0.1"), latest))
'params.lr BETWEEN 0.1 AND 0.1'
"""

from __future__ import annotations

from dataclasses import dataclass

from lmfilter import ast
from lmfilter.ast import Op
from lmfilter.optimizer.facts import MATCH_NONE, Facts, is_nan, rewrite


@dataclass(frozen=True)
class _Bound:
    value: float
    number: ast.Number
    inclusive: bool


def fold_ranges(tree: ast.Expr, facts: Facts) -> ast.Expr:
    return rewrite(tree, lambda node: _folded(node, facts), under_not=False)


def _folded(node: ast.Expr, facts: Facts) -> ast.Expr:
    if isinstance(node, ast.Between) and _bounds(node) and facts.single_valued(node.field):
        node = ast.And((node,), span=node.span)  # a BETWEEN alone becomes its two bounds
    if not isinstance(node, ast.And):
        return node
    if any(isinstance(item, ast.And) for item in node.items):  # a BETWEEN below became an AND of bounds
        node = ast.And(tuple(x for i in node.items for x in (i.items if isinstance(i, ast.And) else (i,))))
    groups: dict[ast.Field, list[int]] = {}
    for i, item in enumerate(node.items):
        if _bounds(item):
            groups.setdefault(item.field, []).append(i)  # type: ignore[union-attr]
    replaced: dict[int, tuple[ast.Expr, ...]] = {}
    for field, places in groups.items():
        if len(places) < 2 and not isinstance(node.items[places[0]], ast.Between):
            continue
        single = facts.single_valued(field)
        if not single and any(
            isinstance(node.items[i], ast.Between) or _is_eq(node.items[i]) for i in places
        ):
            continue
        folded = _fold(field, [node.items[i] for i in places], single)
        if folded is None:
            return MATCH_NONE
        replaced[places[0]] = folded
        replaced.update(dict.fromkeys(places[1:], ()))
    if not replaced:
        return node
    items = tuple(x for i, item in enumerate(node.items) for x in replaced.get(i, (item,)))
    return items[0] if len(items) == 1 else ast.And(items, span=node.span)


def _bounds(item: ast.Expr) -> bool:
    """A numeric comparison this pass can fold: ``< <= > >= =`` with a number, or a plain BETWEEN."""
    match item:
        case ast.Compare(_, op, ast.Number() as number) if op is not Op.NE:
            return not is_nan(number)
        case ast.Between(_, ast.Number() as bottom, ast.Number() as top, negated=False):
            return not (is_nan(bottom) or is_nan(top))
    return False


def _is_eq(item: ast.Expr) -> bool:
    return isinstance(item, ast.Compare) and item.op is Op.EQ


def _fold(field: ast.Field, items: list[ast.Expr], single: bool) -> tuple[ast.Expr, ...] | None:
    lows: list[_Bound] = []
    highs: list[_Bound] = []
    for item in items:
        match item:
            case ast.Compare(_, Op.EQ, ast.Number() as n):
                lows.append(_Bound(n.value, n, True))
                highs.append(_Bound(n.value, n, True))
            case ast.Compare(_, Op.GT | Op.GE as op, ast.Number() as n):
                lows.append(_Bound(n.value, n, op is Op.GE))
            case ast.Compare(_, Op.LT | Op.LE as op, ast.Number() as n):
                highs.append(_Bound(n.value, n, op is Op.LE))
            case ast.Between(_, ast.Number() as bottom, ast.Number() as top):
                lows.append(_Bound(bottom.value, bottom, True))
                highs.append(_Bound(top.value, top, True))
    low = max(lows, key=lambda b: (b.value, not b.inclusive), default=None)
    high = min(highs, key=lambda b: (b.value, b.inclusive), default=None)
    if single and low and high:
        if low.value > high.value or (low.value == high.value and not (low.inclusive and high.inclusive)):
            return None
        if low.value == high.value:
            return (ast.equal_number(field, low.number),)
    out: list[ast.Expr] = []
    if low:
        out.append(ast.Compare(field, Op.GE if low.inclusive else Op.GT, low.number))
    if high:
        out.append(ast.Compare(field, Op.LE if high.inclusive else Op.LT, high.number))
    return tuple(out)
