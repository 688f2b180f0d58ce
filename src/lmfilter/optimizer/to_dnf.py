"""Disjunctive normal form with a cap: an OR of ANDs of comparisons, for planning requests per term.

Works on a tree in negation normal form (after ``push_not``): NOT stands only on comparisons, and a NOT
that stays (3.17's metrics) is treated as a comparison. Distributing AND over OR can blow up (n ORs of two
items give 2**n terms), so past ``max_terms`` it gives up and returns ``None``.

>>> from lmfilter import parse, format
>>> terms = to_dnf(parse("(name = 'a' OR name = 'b') AND (tags.t = 'x' OR tags.u = 'y')"))
>>> for term in terms:
...     print(" AND ".join(format(c) for c in term))
name = 'a' AND tags.t = 'x'
name = 'a' AND tags.u = 'y'
name = 'b' AND tags.t = 'x'
name = 'b' AND tags.u = 'y'
>>> to_dnf(parse(" AND ".join(f"(name = 'a{i}' OR name = 'b{i}')" for i in range(8))), max_terms=64) is None
True
"""

from __future__ import annotations

import math
from itertools import product

from lmfilter import ast

Term = tuple[ast.Expr, ...]
DEFAULT_MAX_TERMS = 64


def to_dnf(tree: ast.Expr, max_terms: int = DEFAULT_MAX_TERMS) -> tuple[Term, ...] | None:
    """The terms of ``tree`` in DNF (each a conjunction of comparisons), or ``None`` past ``max_terms``."""

    def terms(node: ast.Expr, below: list[tuple[Term, ...] | None]) -> tuple[Term, ...] | None:
        if not isinstance(node, ast.And | ast.Or):
            return ((node,),)
        if any(sub is None for sub in below):
            return None
        parts = [sub for sub in below if sub is not None]
        if isinstance(node, ast.Or):
            union = tuple(term for sub in parts for term in sub)
            return union if len(union) <= max_terms else None
        if math.prod(len(sub) for sub in parts) > max_terms:
            return None
        return tuple(tuple(c for term in combo for c in term) for combo in product(*parts))

    # Without recursion (a tree built by hand may be deep); a NOT is a comparison here, not looked into.
    return ast.fold(tree, terms, lambda node: node.items if isinstance(node, ast.And | ast.Or) else ())
