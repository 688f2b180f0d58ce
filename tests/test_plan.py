"""The planner: what it sends, and (against real servers) that Client.search equals select for any filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast
from lmfilter.ast import Entity, Op, ValueType
from lmfilter.client import Client
from lmfilter.planner import plan
from lmfilter.status import ModelStatus
from tests.servers import DATASETS, TARGETS, SeededServer
from tests.test_conformance import Vocabulary, native_comparisons

JSON = dict[str, Any]


def sent(text: str, target: str = "mlflow", **options: Any) -> list[str | None]:
    return [r.body.filter for r in plan(text, target=target, experiment_ids=["1"], **options).requests]


@pytest.mark.parametrize(
    ("text", "target", "requests"),
    [
        ("params.a = 'x' AND tags.t = 'y'", "mlflow", ["params.a = 'x' AND tags.t = 'y'"]),
        ("params.a = 'x' AND params.n < 3", "mlflow", ["params.a = 'x'"]),  # numeric param: local
        ("params.a = 'x' OR tags.t = 'y'", "mlflow", ["params.a = 'x'", "tags.t = 'y'"]),  # fan-out
        ("params.a != 'x' OR tags.t != 'y'", "mlflow", [None]),  # broad terms: one request for all
        ("params.a = 'x' OR model_type IS NULL", "mlflow", [None]),  # a term the server cannot narrow
        ("(tags.t = 'a' OR tags.t = 'b') AND name = 'n'", "mlflow", ["tags.t IN ('a', 'b') AND name = 'n'"]),
        ("status = 'READY' AND name = 'n'", "mlflow-3.17", ["status = 2 AND name = 'n'"]),
        ("status IN ('READY') AND name = 'n'", "mlflow-3.17", ["status = 2 AND name = 'n'"]),
        ("status = 'READY' AND name = 'n'", "databricks", ["name = 'n'"]),
        ("source_run_id = 'r' AND name = 'n'", "databricks", ["name = 'n'"]),
        ("NOT (name = 'a' OR name = 'b')", "mlflow", ["name NOT IN ('a', 'b')"]),
        ("metrics.m BETWEEN 1 AND 2", "mlflow", ["metrics.m >= 1 AND metrics.m <= 2"]),
        ("name = 'x' AND name = 'y'", "mlflow", []),
    ],
)
def test_requests(text: str, target: str, requests: list[str | None]) -> None:
    assert sent(text, target) == requests


def test_datasets_are_sent_only_where_the_server_reads_them_as_the_filter() -> None:
    digest = [{"dataset_name": "eval", "dataset_digest": "d"}]
    name_only = [{"dataset_name": "eval"}]

    def datasets_of(text: str, datasets: list[JSON]) -> list[bool]:
        return [bool(r.body.datasets) for r in plan(text, experiment_ids=["1"], datasets=datasets).requests]

    assert datasets_of("metrics.m > 1", digest) == [True]
    assert datasets_of("name = 'a'", digest) == [True]  # no metric condition anywhere: the any-row rule holds
    assert datasets_of("name = 'a' AND metrics.m IS NULL", digest) == [False]  # the server would need a row
    assert datasets_of("metrics.m > 1", name_only) == [False]  # MLflow would match nothing: all local
    assert sent("metrics.m > 1 AND name = 'a'", datasets=name_only) == ["name = 'a'"]


def test_order_the_server_cannot_give_is_local() -> None:
    by_param = plan("name = 'a'", experiment_ids=["1"], order_by=[{"field_name": "params.lr"}])
    assert by_param.local_order
    assert by_param.requests[0].body.order_by is None
    by_metric = plan("metrics.m > 1", experiment_ids=["1"], order_by=[{"field_name": "metrics.m"}])
    assert not by_metric.local_order
    assert by_metric.requests[0].body.order_by is not None


def test_explain_reads_like_a_plan() -> None:
    text = plan(
        "(params.a = 'x' OR tags.t = 'y') AND params.n < 3", experiment_ids=["1"], max_results=5
    ).explain()
    assert "plan for MLflow 3.18: 2 requests" in text
    assert "request 1: params.a = 'x'" in text
    assert "checked locally:" in text
    assert "stops after 5 models" in text
    assert "why:" in text
    assert "no request" in plan("name = 'a' AND name = 'b'", experiment_ids=["1"]).explain()


def test_plan_runs_on_a_cache_like_select() -> None:
    """Without a server: each request answered by select over a small cache, one model a page."""
    models = [
        {
            "info": {"model_id": f"m-{i}", "name": n, "creation_timestamp_ms": i},
            "data": {"params": [{"key": "a", "value": v}]},
        }
        for i, (n, v) in enumerate([("x", "1"), ("y", "2"), ("x", "3"), ("z", "1")])
    ]

    def answer(body: lmfilter.wire.SearchLoggedModelsRequest) -> lmfilter.wire.SearchLoggedModelsResponse:
        found = lmfilter.select(models, body.filter or "", order_by=body.order_by)
        start = int(body.page_token or 0)
        page = found[start : start + 1]
        token = str(start + 1) if start + 1 < len(found) else None
        return lmfilter.wire.SearchLoggedModelsResponse(models=tuple(page), next_page_token=token)

    for text in (
        "name = 'x' OR params.a = '1'",
        "NOT name = 'x' AND params.a < 3",
        "params.a BETWEEN 2 AND 3",
    ):
        expected = [m.model_id for m in lmfilter.select(models, text)]
        assert [m.model_id for m in plan(text, experiment_ids=["1"]).run(answer)] == expected
        assert [m.model_id for m in plan(text, experiment_ids=["1"], max_results=1).run(answer)] == expected[
            :1
        ]


# ---- against real servers -------------------------------------------------------------------------


@st.composite
def extended_trees(draw: st.DrawFn, vocab: Vocabulary, with_status: bool) -> ast.Expr:
    """Native comparisons and what servers lack: OR, NOT, IS NULL, BETWEEN, numeric params, status."""
    leaf = st.one_of(
        native_comparisons(vocab, with_status),
        _extended_leaf(vocab),
    )
    return draw(
        st.recursive(
            leaf,
            lambda inner: st.one_of(
                st.lists(inner, min_size=2, max_size=3).map(lambda items: ast.And(tuple(items))),
                st.lists(inner, min_size=2, max_size=3).map(lambda items: ast.Or(tuple(items))),
                inner.map(ast.Not),
            ),
            max_leaves=5,
        )
    )


@st.composite
def _extended_leaf(draw: st.DrawFn, vocab: Vocabulary) -> ast.Expr:
    kind = draw(st.sampled_from(["null", "between", "param_number", "status"]))
    if kind == "status":
        field = ast.Field(Entity.ATTRIBUTE, "status", ValueType.STATUS)
        return ast.Compare(
            field,
            draw(st.sampled_from([Op.EQ, Op.NE])),
            ast.StatusValue(draw(st.sampled_from(list(ModelStatus)))),
        )
    if kind == "param_number":
        field = ast.Field(Entity.PARAM, draw(st.sampled_from(["lr", "depth"])), ValueType.STRING)
        number = ast.Number(ast.canonical_number_text(draw(st.sampled_from([0.001, 0.01, 2.0, 10.0, 15.0]))))
        return ast.Compare(field, draw(st.sampled_from(list(Op))), number)
    key = draw(st.sampled_from(sorted(vocab.metrics)))
    metric = ast.Field(Entity.METRIC, key, ValueType.NUMBER)
    if kind == "between":
        low = draw(st.sampled_from([0.0, 0.3, 0.5]))
        return ast.Between(
            metric,
            ast.Number(ast.canonical_number_text(low)),
            ast.Number(ast.canonical_number_text(low + 0.4)),
            draw(st.booleans()),
        )
    field = draw(
        st.sampled_from(
            [
                metric,
                ast.Field(Entity.TAG, "note", ValueType.STRING),
                ast.Field(Entity.PARAM, "lr", ValueType.STRING),
                ast.Field(Entity.ATTRIBUTE, "model_type", ValueType.STRING),
            ]
        )
    )
    return ast.IsNull(field, draw(st.booleans()))


def _check(
    seeded: SeededServer,
    tree: ast.Expr,
    datasets: Sequence[JSON] | None,
    order_by: Sequence[JSON] | None,
    max_results: int | None,
) -> None:
    server, data = seeded
    target = TARGETS[server.version]
    # select follows the server's order_by rules; the planner also sorts by params locally.
    query = lmfilter.compile_query(
        tree, datasets=datasets, order_by=order_by, target=target, local_order=True
    )
    expected = [m.model_id for m in query.select(data.models.values())]
    with Client(server.base_url, page_size=7) as client:
        found = [
            m.model_id
            for m in client.search(
                tree,
                experiment_ids=data.experiment_ids,
                datasets=datasets,
                order_by=order_by,
                max_results=max_results,
            )
        ]
    assert found == expected[:max_results], lmfilter.format(tree)


PLANNED: dict[str, int] = {}


def _generated(seeded: SeededServer, examples: int) -> None:
    vocab = Vocabulary(list(seeded.seeded.models.values()))
    version = seeded.server.version
    train, train2, evaluation = ({"dataset_name": n, "dataset_digest": d} for n, d in DATASETS)

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        extended_trees(vocab, with_status=True),
        st.sampled_from([None, [train], [train2, evaluation], [{"dataset_name": "train"}]]),
        st.sampled_from(
            [
                None,
                [{"field_name": "metrics.acc", "ascending": False}],
                [{"field_name": "name"}],
                [{"field_name": "params.lr"}],
            ]
        ),
        st.sampled_from([None, 3]),
    )
    def run(
        tree: ast.Expr, datasets: list[JSON] | None, order_by: list[JSON] | None, max_results: int | None
    ) -> None:
        _check(seeded, tree, datasets, order_by, max_results)
        PLANNED[version] = PLANNED.get(version, 0) + 1

    run()


def test_planned_search_equals_select_on_3_17(mlflow_server_317: SeededServer) -> None:
    _generated(mlflow_server_317, 120)


def test_planned_search_equals_select_on_3_18(mlflow_server_318: SeededServer) -> None:
    _generated(mlflow_server_318, 120)
    print(f"\nplanned searches compared with select: {PLANNED}")


@pytest.mark.parametrize(
    "text",
    [
        "params.optimizer = 'adam' OR tags.team = 'Äpfel'",
        "NOT params.optimizer = 'adam' AND metrics.acc > 0.5",
        "model_type IS NULL OR status = 'FAILED'",
        "params.depth > 5 AND params.lr < 1",
        "(tags.team ILIKE 'apfel' OR name LIKE 'model-%') AND NOT metrics.loss IS NULL",
        "metrics.acc BETWEEN 0.2 AND 0.6 OR metrics.f1 > 0.5",
    ],
)
def test_planned_table(mlflow_server: SeededServer, text: str) -> None:
    for datasets in (None, [{"dataset_name": "train", "dataset_digest": "d-train-1"}]):
        for order_by in (None, [{"field_name": "metrics.acc", "ascending": True}]):
            for max_results in (None, 2):
                _check(mlflow_server, lmfilter.parse(text), datasets, order_by, max_results)
