"""Drop repeated items of an AND or OR (``a AND a`` is ``a``), keeping the first.

>>> from lmfilter import parse, format
>>> from lmfilter.schema import get_target
>>> format(dedupe(parse("name = 'a' OR tags.t = 'x' OR name = 'a'"), Facts(get_target("mlflow"))))
"name = 'a' OR tags.t = 'x'"
"""

from __future__ import annotations

from lmfilter import ast
from lmfilter.optimizer.facts import Facts, rewrite


def dedupe(tree: ast.Expr, facts: Facts) -> ast.Expr:
    return rewrite(tree, _deduped)


def _deduped(node: ast.Expr) -> ast.Expr:
    if not isinstance(node, ast.And | ast.Or):
        return node
    items = tuple(dict.fromkeys(node.items))
    if len(items) == 1:
        return items[0]
    return node if len(items) == len(node.items) else type(node)(items, span=node.span)
