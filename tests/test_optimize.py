"""The optimizer: golden rewrites, and the property that it never changes which models match."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast
from lmfilter.optimizer import MATCH_NONE, optimize, to_dnf
from tests.strategies import models, trees

REWRITES = [
    # (filter, target, canonical text of the optimized tree; "<none>" for MATCH_NONE)
    ("NOT (name = 'a' OR tags.t != 'b')", "mlflow", "name != 'a' AND tags.t = 'b'"),
    ("NOT NOT name = 'a'", "mlflow", "name = 'a'"),
    ("NOT metrics.a > 1", "mlflow", "metrics.a <= 1"),
    ("NOT metrics.a > 1", "mlflow-3.17", "NOT metrics.a > 1"),
    ("NOT metrics.a BETWEEN 1 AND 2", "mlflow", "metrics.a NOT BETWEEN 1 AND 2"),
    ("NOT model_type IS NULL", "mlflow", "model_type IS NOT NULL"),
    ("NOT tags.t IN ('a')", "mlflow", "tags.t NOT IN ('a')"),
    ("NOT name LIKE 'a%'", "mlflow", "name NOT LIKE 'a%'"),
    ("metrics.a > 0.5 AND metrics.a > 0.7", "mlflow", "metrics.a > 0.7"),
    ("metrics.a > 0.5 AND metrics.a > 0.7", "mlflow-3.17", "metrics.a > 0.7"),
    ("metrics.a >= 0.7 AND metrics.a > 0.7", "mlflow", "metrics.a > 0.7"),
    ("metrics.a BETWEEN 1 AND 5 AND metrics.a < 3", "mlflow", "metrics.a >= 1 AND metrics.a < 3"),
    (
        "metrics.a BETWEEN 1 AND 5 AND metrics.a < 3",
        "mlflow-3.17",
        "metrics.a BETWEEN 1 AND 5 AND metrics.a < 3",
    ),
    ("metrics.a >= 2 AND metrics.a <= 2", "mlflow", "metrics.a = 2"),
    ("params.p >= 2 AND params.p <= 2", "mlflow", "params.p BETWEEN 2 AND 2"),  # params.p = 2 is text
    ("params.p BETWEEN 2 AND 3 AND params.p <= 2", "mlflow", "params.p BETWEEN 2 AND 2"),
    ("params.p = 2 OR params.p = 3", "mlflow", "params.p IN ('2', '3')"),
    ("metrics.a > 1 AND metrics.a < 0", "mlflow", "<none>"),
    ("metrics.a > 1 AND metrics.a < 0", "mlflow-3.17", "metrics.a > 1 AND metrics.a < 0"),
    ("params.p > 2 AND params.p < 1", "mlflow-3.17", "<none>"),
    ("name = 'x' AND name = 'y'", "mlflow", "<none>"),
    ("name = 'x' AND name != 'x'", "mlflow", "<none>"),
    ("tags.t = 'x' AND tags.t IN ('y', 'z')", "mlflow", "<none>"),
    ("tags.t IS NULL AND tags.t = 'x'", "mlflow", "<none>"),
    ("tags.t IN ()", "mlflow", "<none>"),
    ("model_id IN ()", "mlflow", "<none>"),
    ("status IS NULL", "mlflow", "<none>"),
    ("model_id NOT IN () AND name = 'a'", "mlflow", "name = 'a'"),
    ("model_id NOT IN () OR name = 'a'", "mlflow", ""),
    ("tags.t NOT IN () AND name = 'a'", "mlflow", "tags.t NOT IN () AND name = 'a'"),  # unknown if missing
    ("name IS NULL OR tags.t = 'x'", "mlflow", "tags.t = 'x'"),
    ("model_id IS NOT NULL AND tags.t = 'x'", "mlflow", "tags.t = 'x'"),
    ("tags.t IS NULL OR tags.t IS NOT NULL", "mlflow", ""),
    ("tags.t = 'a' OR tags.t = 'b' OR tags.t IN ('c', 'a')", "mlflow", "tags.t IN ('a', 'b', 'c')"),
    ("tags.t IN ('a', 'b') AND tags.t IN ('b', 'c')", "mlflow", "tags.t = 'b'"),
    ("tags.t != 'a' AND tags.t NOT IN ('b')", "mlflow", "tags.t NOT IN ('a', 'b')"),
    ("metrics.a = 1 AND metrics.a = 2", "mlflow-3.17", "metrics.a = 1 AND metrics.a = 2"),
    (
        "(name = 'a' AND (tags.t = 'x' AND name = 'a')) OR name = 'a'",
        "mlflow",
        "name = 'a' AND tags.t = 'x' OR name = 'a'",
    ),
]


@pytest.mark.parametrize(("text", "target", "expected"), REWRITES, ids=[f"{t}|{g}" for t, g, _ in REWRITES])
def test_rewrites(text: str, target: str, expected: str) -> None:
    optimized = optimize(lmfilter.parse(text), target)
    if expected == "<none>":
        assert optimized == MATCH_NONE
    else:
        assert lmfilter.format(optimized) == expected


def test_dnf_terms_and_cap() -> None:
    tree = optimize(lmfilter.parse("NOT (name = 'a' AND tags.t = 'x') AND metrics.m > 1"))
    terms = to_dnf(tree)
    assert terms is not None
    assert [[lmfilter.format(c) for c in term] for term in terms] == [
        ["name != 'a'", "metrics.m > 1"],
        ["tags.t != 'x'", "metrics.m > 1"],
    ]
    wide = lmfilter.parse(" AND ".join(f"(tags.a{i} = 'x' OR tags.b{i} = 'y')" for i in range(7)))
    capped = to_dnf(wide, max_terms=100)
    assert capped is None
    counted = to_dnf(wide, max_terms=128)
    assert counted is not None
    assert len(counted) == 128


# ---- the property -------------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(trees, models(), st.sampled_from(["mlflow", "mlflow-3.17"]))
def test_optimize_never_changes_what_matches(
    tree: ast.Expr, cache: list[dict[str, Any]], target: str
) -> None:
    optimized = optimize(tree, target)
    expected = [m.model_id for m in lmfilter.select(cache, tree, target=target)]
    assert [m.model_id for m in lmfilter.select(cache, optimized, target=target)] == expected
    assert optimize(optimized, target) == optimized  # a fixpoint


@settings(max_examples=200, deadline=None)
@given(trees, models(), st.sampled_from(["mlflow", "mlflow-3.17"]))
def test_dnf_terms_match_what_the_tree_matches(
    tree: ast.Expr, cache: list[dict[str, Any]], target: str
) -> None:
    optimized = optimize(tree, target)
    terms = to_dnf(optimized)
    if terms is None:
        return
    expected = {m.model_id for m in lmfilter.select(cache, tree, target=target)}
    found: set[str] = set()
    for term in terms:
        conjunction = ast.And(term) if len(term) != 1 else term[0]
        found |= {m.model_id for m in lmfilter.select(cache, conjunction, target=target)}
    assert found == expected
