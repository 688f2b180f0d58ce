"""The optimizer: meaning-preserving rewrites of a checked tree, one pass per module.

``optimize(tree, target)`` runs the passes of :data:`RULES` in order until the tree stops changing. Each
pass is a pure function ``(tree, facts) -> tree``; :class:`~lmfilter.optimizer.facts.Facts` tells a pass
what the target's semantics allow (a metric is single-valued under MLflow 3.18's latest-row rule, not under
3.17's any-row rule, and that decides which rewrites are sound).

What is preserved is *which models match*, under three-valued logic: a model matches when the filter is
true for it; unknown (a missing value) is not a match. Rewrites inside the tree keep unknown as unknown,
except that a contradiction (false or unknown for every model) becomes ``MATCH_NONE``, which only ever
stands where that cannot change a match: the tree is in negation normal form by then, so nothing above it
negates it.

What ``optimize`` returns is a checked tree again (or ``MATCH_NONE``, or ``MATCH_ALL``): its text means
the same (``MATCH_NONE`` is written ``model_id IN ()``, which reads back as it), and ``compile``, ``plan``
and ``select`` take it. The passes never recurse, so a filter as deeply nested as the parser reads is fine.

>>> from lmfilter import parse, format
>>> tree = parse("NOT (metrics.a <= 0.5 OR metrics.a <= 0.7) AND tags.t IN ('x') AND tags.t IN ('x')")
>>> format(optimize(tree))
"metrics.a > 0.7 AND tags.t IN ('x')"
>>> optimize(parse("name = 'x' AND name = 'y'")) == MATCH_NONE
True
"""

from __future__ import annotations

from collections.abc import Callable

from lmfilter import ast
from lmfilter.api import tree_of
from lmfilter.optimizer.canonical import canonical
from lmfilter.optimizer.contradictions import contradictions
from lmfilter.optimizer.dedupe import dedupe
from lmfilter.optimizer.facts import MATCH_NONE, Facts
from lmfilter.optimizer.flatten import flatten
from lmfilter.optimizer.fold_ranges import fold_ranges
from lmfilter.optimizer.merge_in import merge_in
from lmfilter.optimizer.push_not import push_not
from lmfilter.optimizer.to_dnf import to_dnf
from lmfilter.printer import check_nesting
from lmfilter.schema import Target, get_target

Rule = Callable[[ast.Expr, Facts], ast.Expr]

RULES: tuple[Rule, ...] = (
    canonical,
    push_not,
    flatten,
    dedupe,
    merge_in,
    fold_ranges,
    contradictions,
    flatten,
    dedupe,
)
"""The passes, in the order they run; the whole tuple repeats until nothing changes."""

MAX_ROUNDS = 8

__all__ = ["MATCH_NONE", "RULES", "Facts", "optimize", "to_dnf"]


def optimize(tree: str | ast.Expr, target: str | Target = "mlflow") -> ast.Expr:
    """A tree that matches the same models as ``tree`` (a tree, or a filter's text) for ``target``,
    simplified.

    What it returns has a text (:func:`lmfilter.format`) that means the same, and ``compile``, ``plan``
    and ``select`` take it. Raises :class:`~lmfilter.FilterError` ``LMF105`` for a tree built by hand that
    nests deeper than any filter's text may (comparing or hashing it would recurse past Python's limit).
    """
    tree = tree_of(tree)
    check_nesting(tree)
    facts = Facts(get_target(target))
    for _ in range(MAX_ROUNDS):
        before = tree
        for rule in RULES:
            tree = rule(tree, facts)
        if tree == before:
            break
    return tree
