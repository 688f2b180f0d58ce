"""The optimizer: golden rewrites, and the property that it never changes which models match."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast
from lmfilter.ast import Entity, Op, ValueType
from lmfilter.optimize import MATCH_NONE, optimize, to_dnf
from lmfilter.status import ModelStatus

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
    ("metrics.a > 1 AND metrics.a < 0", "mlflow", "<none>"),
    ("metrics.a > 1 AND metrics.a < 0", "mlflow-3.17", "metrics.a > 1 AND metrics.a < 0"),
    ("params.p > 2 AND params.p < 1", "mlflow-3.17", "<none>"),
    ("name = 'x' AND name = 'y'", "mlflow", "<none>"),
    ("name = 'x' AND name != 'x'", "mlflow", "<none>"),
    ("tags.t = 'x' AND tags.t IN ('y', 'z')", "mlflow", "<none>"),
    ("tags.t IS NULL AND tags.t = 'x'", "mlflow", "<none>"),
    ("tags.t IN ()", "mlflow", "<none>"),
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

KEYS = ("a", "b")
TEXTS = ("x", "y", "", "1.5", "2")
NUMBERS = (0.0, 0.5, 1.0, 1.5, 2.0)


@st.composite
def models(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few models over a tiny vocabulary, with missing keys, so that conditions often meet."""
    out = []
    for i in range(draw(st.integers(1, 6))):
        params = {k: draw(st.sampled_from(TEXTS)) for k in KEYS if draw(st.booleans())}
        tags = {k: draw(st.sampled_from(TEXTS)) for k in KEYS if draw(st.booleans())}
        metrics = [
            {
                "key": k,
                "value": draw(st.sampled_from(NUMBERS)),
                "step": draw(st.integers(0, 2)),
                "timestamp": t,
            }
            for t, k in enumerate(draw(st.lists(st.sampled_from(KEYS), max_size=4)))
        ]
        out.append(
            {
                "info": {
                    "model_id": f"m-{i}",
                    "name": draw(st.sampled_from(TEXTS)),
                    "creation_timestamp_ms": draw(st.integers(0, 3)),
                    "status": draw(st.sampled_from([s.wire_name for s in ModelStatus])),
                    **({"model_type": draw(st.sampled_from(TEXTS))} if draw(st.booleans()) else {}),
                    "tags": [{"key": k, "value": v} for k, v in tags.items()],
                },
                "data": {"params": [{"key": k, "value": v} for k, v in params.items()], "metrics": metrics},
            }
        )
    return out


def _fields() -> st.SearchStrategy[ast.Field]:
    keys = st.sampled_from(KEYS)
    return st.one_of(
        keys.map(lambda k: ast.Field(Entity.METRIC, k, ValueType.NUMBER)),
        keys.map(lambda k: ast.Field(Entity.PARAM, k, ValueType.STRING)),
        keys.map(lambda k: ast.Field(Entity.TAG, k, ValueType.STRING)),
        st.sampled_from(["name", "model_type"]).map(
            lambda k: ast.Field(Entity.ATTRIBUTE, k, ValueType.STRING)
        ),
        st.just(ast.Field(Entity.ATTRIBUTE, "status", ValueType.STATUS)),
        st.just(ast.Field(Entity.ATTRIBUTE, "creation_timestamp", ValueType.NUMBER)),
    )


@st.composite
def comparisons(draw: st.DrawFn) -> ast.Expr:
    field = draw(_fields())
    numbers = st.sampled_from(NUMBERS).map(lambda v: ast.Number(ast.canonical_number_text(v)))
    strings = st.sampled_from(TEXTS).map(ast.String)
    statuses = st.sampled_from(list(ModelStatus)).map(ast.StatusValue)
    negated = draw(st.booleans())
    if draw(st.integers(0, 9)) == 0:
        return ast.IsNull(field, negated)
    if field.type is ValueType.STATUS:
        if draw(st.booleans()):
            return ast.In(field, tuple(draw(st.lists(statuses, max_size=3))), negated)
        return ast.Compare(field, draw(st.sampled_from([Op.EQ, Op.NE])), draw(statuses))
    numeric = field.type is ValueType.NUMBER or (field.entity is Entity.PARAM and draw(st.booleans()))
    if numeric:
        if draw(st.integers(0, 4)) == 0:
            return ast.Between(field, draw(numbers), draw(numbers), negated)
        if field.type is ValueType.NUMBER and draw(st.integers(0, 4)) == 0:
            return ast.In(field, tuple(draw(st.lists(numbers, max_size=3))), negated)
        return ast.Compare(field, draw(st.sampled_from(list(Op))), draw(numbers))
    form = draw(st.integers(0, 2))
    if form == 0:
        return ast.Compare(field, draw(st.sampled_from([Op.EQ, Op.NE])), draw(strings))
    if form == 1:
        pattern = ast.String(draw(st.sampled_from(["%", "x%", "_", "%.5", "X", ""])))
        return ast.Like(field, pattern, negated, draw(st.booleans()))
    return ast.In(field, tuple(draw(st.lists(strings, max_size=3))), negated)


def _combine(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    items = st.lists(inner, min_size=2, max_size=4).map(tuple)
    return st.one_of(items.map(ast.And), items.map(ast.Or), inner.map(ast.Not))


trees = st.recursive(comparisons(), _combine, max_leaves=8)


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
