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

MATCH_NONE = ast.Or(())
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


def rebuild(node: ast.Expr, child: Callable[[ast.Expr], ast.Expr]) -> ast.Expr:
    """``node`` with ``child`` applied to each of its sub-conditions (a comparison is returned as is)."""
    match node:
        case ast.And(items):
            return ast.And(tuple(child(i) for i in items), span=node.span)
        case ast.Or(items):
            return ast.Or(tuple(child(i) for i in items), span=node.span)
        case ast.Not(item):
            return ast.Not(child(item), span=node.span)
    return node


def rebuild_outside_not(node: ast.Expr, child: Callable[[ast.Expr], ast.Expr]) -> ast.Expr:
    """Like :func:`rebuild`, but leaves what stands under a NOT alone.

    For passes whose rewrites keep only which models match (a contradiction, false *or unknown*, becomes
    ``MATCH_NONE``): under a NOT that would turn unknown into true. NOTs that ``push_not`` could not remove
    (3.17's metrics) still stand in the tree."""
    return node if isinstance(node, ast.Not) else rebuild(node, child)


Slot = tuple[ast.Field, bool]


def slot(field: ast.Field, value: ast.Value) -> Slot:
    """What a comparison reads: a param compared with a number reads its text *as a number*, which is
    another value than its text (``'0.0'`` equals the number 0 but not the string ``'0'``)."""
    return field, field.entity is Entity.PARAM and isinstance(value, ast.Number)


def is_nan(value: ast.Value) -> bool:
    return isinstance(value, ast.Number) and math.isnan(value.value)
