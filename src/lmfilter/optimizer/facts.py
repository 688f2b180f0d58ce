"""What the passes may assume, and the small helpers they share.

>>> from lmfilter import parse
>>> from lmfilter.schema import get_target
>>> Facts(get_target("mlflow")).single_valued(parse("metrics.a > 1").field)
True
>>> Facts(get_target("mlflow-3.17")).single_valued(parse("metrics.a > 1").field)
False
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from lmfilter import ast
from lmfilter.ast import Entity
from lmfilter.schema import Target

MATCH_NONE = ast.MATCH_NONE
"""The empty disjunction: no model matches."""


@dataclass(frozen=True)
class Facts:
    """The target's semantics, as the passes need them."""

    target: Target

    def single_valued(self, field: ast.Field) -> bool:
        """Whether a comparison on ``field`` tests one value per model (so negating it is exact).

        Attributes, params and tags hold one value; a metric does under the latest-row rule (MLflow 3.18),
        but under 3.17's any-row rule each comparison may pick another row.
        """
        return field.entity is not Entity.METRIC or self.target.metric_rule == "latest"


def rewrite(tree: ast.Expr, step: Callable[[ast.Expr], ast.Expr], *, under_not: bool = True) -> ast.Expr:
    """``tree`` with ``step`` applied to every node, children first: each node ``step`` gets already has its
    rewritten children. Without recursion, so a tree of any depth is fine.

    With ``under_not=False`` what stands under a NOT is left alone (``step`` still gets the NOT): for
    passes whose rewrites keep only which models match (a contradiction, false *or unknown*, becomes
    ``MATCH_NONE``), since under a NOT that would turn unknown into true. NOTs that ``push_not`` could not
    remove (3.17's metrics) still stand in the tree.
    """

    def rebuilt(node: ast.Expr, below: list[ast.Expr]) -> ast.Expr:
        if below and any(new is not old for new, old in zip(below, ast.children(node), strict=True)):
            node = _with_children(node, below)
        return step(node)

    return ast.fold(tree, rebuilt, ast.children if under_not else _outside_not)


def _outside_not(node: ast.Expr) -> tuple[ast.Expr, ...]:
    return () if isinstance(node, ast.Not) else ast.children(node)


def _with_children(node: ast.Expr, below: list[ast.Expr]) -> ast.Expr:
    match node:
        case ast.And():
            return ast.And(tuple(below), span=node.span)
        case ast.Or():
            return ast.Or(tuple(below), span=node.span)
        case ast.Not():
            return ast.Not(below[0], span=node.span)
    return node  # pragma: no cover - a comparison has no children


Slot = tuple[ast.Field, bool]


def slot(field: ast.Field, value: ast.Value) -> Slot:
    """What a comparison reads: a param compared with a number reads its text *as a number*, which is
    another value than its text (``'0.0'`` equals the number 0 but not the string ``'0'``)."""
    return field, field.entity is Entity.PARAM and isinstance(value, ast.Number)


def is_nan(value: ast.Value) -> bool:
    return isinstance(value, ast.Number) and math.isnan(value.value)
