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
from lmfilter.optimizer.facts import Facts, is_nan

OPPOSITE = {Op.EQ: Op.NE, Op.NE: Op.EQ, Op.LT: Op.GE, Op.GE: Op.LT, Op.GT: Op.LE, Op.LE: Op.GT}


def push_not(tree: ast.Expr, facts: Facts) -> ast.Expr:
    if not any(isinstance(node, ast.Not) for node in ast.walk(tree)):
        return tree

    # Children first (no recursion, so any depth is fine): each node gives its negation normal form and
    # that of its negation; a NOT takes its item's negated form.
    def forms(node: ast.Expr, below: list[tuple[ast.Expr, ast.Expr]]) -> tuple[ast.Expr, ast.Expr]:
        match node:
            case ast.And(items) | ast.Or(items):
                dual = ast.Or if isinstance(node, ast.And) else ast.And
                kept = tuple(positive for positive, _ in below)
                same = all(new is old for new, old in zip(kept, items, strict=True))
                return (node if same else type(node)(kept, span=node.span)), dual(
                    tuple(negative for _, negative in below), span=node.span
                )
            case ast.Not():
                ((positive, negative),) = below
                if isinstance(negative, ast.And | ast.Or):
                    negative = replace(negative, span=node.span)
                return negative, positive
        negated = negate(node, facts)
        return node, (negated if negated is not None else ast.Not(node, span=node.span))

    return ast.fold(tree, forms)[0]


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
