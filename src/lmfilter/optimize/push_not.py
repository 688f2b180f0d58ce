"""Push NOT down to the comparisons (negation normal form), where three-valued logic allows it.

De Morgan's laws and ``NOT NOT a = a`` hold in Kleene's logic. Negating a comparison into its opposite
(``NOT a = 1`` into ``a != 1``) is exact only when the comparison tests a single value, since a missing
value keeps both unknown: true for attributes, params, tags, and metrics under the latest-row rule; under
MLflow 3.17's any-row rule ``NOT metrics.a = 1`` (no row is 1) is not ``metrics.a != 1`` (some row is
not 1), so the NOT stays. A comparison with NaN is never flipped (NaN is unequal to everything).

>>> from lmfilter import parse, format
>>> from lmfilter.schema import get_target
>>> format(push_not(parse("NOT (params.a = 'x' OR NOT tags.t LIKE 'y%')"), Facts(get_target("mlflow"))))
"params.a != 'x' AND tags.t LIKE 'y%'"
>>> format(push_not(parse("NOT metrics.acc > 0.5"), Facts(get_target("mlflow-3.17"))))
'NOT metrics.acc > 0.5'
"""

from __future__ import annotations

from dataclasses import replace

from lmfilter import ast
from lmfilter.ast import Op
from lmfilter.optimize.facts import Facts, is_nan, rebuild

OPPOSITE = {Op.EQ: Op.NE, Op.NE: Op.EQ, Op.LT: Op.GE, Op.GE: Op.LT, Op.GT: Op.LE, Op.LE: Op.GT}


def push_not(tree: ast.Expr, facts: Facts) -> ast.Expr:
    if not isinstance(tree, ast.Not):
        return rebuild(tree, lambda child: push_not(child, facts))
    inner = tree.item
    match inner:
        case ast.Not(item):
            return push_not(item, facts)
        case ast.And(items):
            return ast.Or(tuple(push_not(ast.Not(i), facts) for i in items), span=tree.span)
        case ast.Or(items):
            return ast.And(tuple(push_not(ast.Not(i), facts) for i in items), span=tree.span)
        case ast.IsNull():
            return replace(inner, negated=not inner.negated)  # IS NULL is never unknown
    negated = negate(inner, facts)
    return negated if negated is not None else tree


def negate(node: ast.Expr, facts: Facts) -> ast.Expr | None:
    """The comparison that holds exactly when ``node`` is false (unknown when it is), if there is one."""
    match node:
        case ast.IsNull():
            return replace(node, negated=not node.negated)
        case ast.Compare(field, op, value) if facts.single_valued(field) and not is_nan(value):
            return replace(node, op=OPPOSITE[op])
        case ast.Like(field) | ast.In(field) if facts.single_valued(field):
            return replace(node, negated=not node.negated)
        case ast.Between(field, low, high) if facts.single_valued(field) and not (
            is_nan(low) or is_nan(high)
        ):
            return replace(node, negated=not node.negated)
    return None
