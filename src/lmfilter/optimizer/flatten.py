"""Flatten nested AND/OR, drop ``MATCH_ALL`` from ANDs and ``MATCH_NONE`` from ORs, unwrap single items.

>>> from lmfilter import parse, format
>>> from lmfilter.schema import get_target
>>> tree = parse("(name = 'a' AND (name = 'b' AND name = 'c')) AND name = 'd'")
>>> format(flatten(tree, Facts(get_target("mlflow"))))
"name = 'a' AND name = 'b' AND name = 'c' AND name = 'd'"
"""

from __future__ import annotations

from lmfilter import ast
from lmfilter.optimizer.facts import MATCH_NONE, Facts, rewrite


def flatten(tree: ast.Expr, facts: Facts | None = None) -> ast.Expr:
    """``facts`` is not needed: flattening holds for every target."""
    return rewrite(tree, _flat)


def _flat(node: ast.Expr) -> ast.Expr:
    if not isinstance(node, ast.And | ast.Or):
        return node
    kind = type(node)
    absorbing = MATCH_NONE if kind is ast.And else ast.MATCH_ALL  # false in an AND, true in an OR
    neutral = ast.MATCH_ALL if kind is ast.And else MATCH_NONE
    items: list[ast.Expr] = []
    for item in node.items:
        if item == absorbing:
            return absorbing
        if item == neutral:
            continue
        items.extend(item.items if isinstance(item, kind) else (item,))
    if len(items) == 1:
        return items[0]
    return kind(tuple(items), span=node.span)
