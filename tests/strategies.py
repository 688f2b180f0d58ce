"""Hypothesis strategies shared by the property tests: small model caches and checked trees over them.

The vocabulary is tiny (two keys, five texts, five numbers, two datasets) so that conditions often meet
and models often tie.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from lmfilter import ast
from lmfilter.ast import Entity, Op, ValueType
from lmfilter.status import ModelStatus

KEYS = ("a", "b")
TEXTS = ("x", "y", "", "1.5", "2")
NUMBERS = (0.0, 0.5, 1.0, 1.5, 2.0)
DATASETS = (("train", "t1"), ("eval", "e1"))


@st.composite
def models(draw: st.DrawFn, max_size: int = 6) -> list[dict[str, Any]]:
    """A few models over a tiny vocabulary, with missing keys, so that conditions often meet."""
    out = []
    for i in range(draw(st.integers(1, max_size))):
        params = {k: draw(st.sampled_from(TEXTS)) for k in KEYS if draw(st.booleans())}
        tags = {k: draw(st.sampled_from(TEXTS)) for k in KEYS if draw(st.booleans())}
        metrics = []
        for t, k in enumerate(draw(st.lists(st.sampled_from(KEYS), max_size=4))):
            dataset, digest = draw(st.sampled_from(DATASETS))
            value, step = draw(st.sampled_from(NUMBERS)), draw(st.integers(0, 2))
            metrics.append(
                {
                    "key": k,
                    "value": value,
                    "step": step,
                    "timestamp": t,
                    "dataset_name": dataset,
                    "dataset_digest": digest,
                }
            )
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
