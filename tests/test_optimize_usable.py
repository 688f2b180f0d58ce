"""Whatever ``optimize`` returns is usable: ``format``, ``compile``, ``plan`` and ``select`` take it, and its
text means what it means.

- (a) for generated trees ``t`` and both MLflow targets, ``format``, ``plan`` and ``select`` accept
  ``optimize(t)``, and ``compile`` accepts it or names what the server lacks (a ``FilterError`` of LMF3xx);
- (b) ``select(parse(format(optimize(t)))) == select(t)`` over generated models;
- (c) an optimized checked tree is itself a checked tree: ``parse(format(o)) == o`` (``MATCH_NONE`` has a
  text that optimizes back to it);
- the compact form (written where the canonical text would be too long) reads back as the same tree and is
  never longer than the text it was parsed from;
- trees built by hand, deep or odd, get lmfilter's own errors, never a ``RecursionError`` or an
  ``IndexError``; and a real MLflow server answers the text of ``MATCH_NONE`` with no model.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast
from lmfilter.ast import Op
from lmfilter.diagnostics import FilterError
from lmfilter.optimizer import MATCH_NONE, optimize, to_dnf
from lmfilter.printer import EVERY_MODEL, NO_MODEL, to_text
from tests.build import and_, attr, eq, metric, n, not_, or_, param, s, tag
from tests.servers import TARGETS as SERVER_TARGETS
from tests.servers import SeededServer, search_all
from tests.strategies import models, trees
from tests.test_properties import checked_trees, well_formed_filters


def _characters_only(tree: ast.Expr) -> bool:
    """No lone surrogate in a key or a string (``tests.test_properties`` draws them): no filter holds one."""
    try:
        to_text(tree, bounded=False)
    except ValueError as error:
        return "lone surrogate" not in str(error)  # any other error is the test's to find
    return True


TARGETS = st.sampled_from(["mlflow", "mlflow-3.17"])
checked = checked_trees.filter(_characters_only)
any_trees = st.one_of(trees, checked)


def ids(cache: list[dict[str, Any]], tree: ast.Expr, target: str) -> list[str]:
    return [m.model_id for m in lmfilter.select(cache, tree, target=target)]


# ---- the properties ------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(any_trees, TARGETS, models(max_size=3))
def test_every_stage_accepts_what_optimize_returns(tree: ast.Expr, target: str, cache: Any) -> None:
    optimized = optimize(tree, target)
    lmfilter.format(optimized)
    if lmfilter.native.is_native(optimized, lmfilter.get_target(target), status_numbers=True):
        lmfilter.compile(optimized, target=target, experiment_ids=["1"])
    else:  # the planner's business: compile says what the server lacks
        with pytest.raises(FilterError) as caught:
            lmfilter.compile(optimized, target=target, experiment_ids=["1"])
        assert caught.value.errors
        assert all(d.code.startswith("LMF3") for d in caught.value.errors), caught.value.diagnostics
    lmfilter.plan(optimized, target=target, experiment_ids=["1"]).explain()
    lmfilter.select(cache, optimized, target=target)


@settings(max_examples=150, deadline=None)
@given(trees, models(), TARGETS)
def test_the_text_of_an_optimized_tree_matches_what_the_tree_matches(
    tree: ast.Expr, cache: list[dict[str, Any]], target: str
) -> None:
    text = lmfilter.format(optimize(tree, target))
    assert ids(cache, lmfilter.parse(text), target) == ids(cache, tree, target), text


@settings(max_examples=100, deadline=None)
@given(any_trees, TARGETS)
def test_an_optimized_tree_reads_back_from_its_text(tree: ast.Expr, target: str) -> None:
    optimized = optimize(tree, target)
    again = lmfilter.parse(lmfilter.format(optimized))
    if optimized == MATCH_NONE:
        assert optimize(again, target) == MATCH_NONE
    else:
        assert again == optimized


@settings(max_examples=100, deadline=None)
@given(checked)
def test_the_compact_text_reads_back_as_the_same_tree(tree: ast.Expr) -> None:
    compact = to_text(tree, compact=True)
    assert lmfilter.parse(compact) == tree
    assert len(compact) <= len(to_text(tree))


# What the compact form may not shorten: an AND or quotes the text left out (MLflow's reading of them).
_LEFT_OUT = frozenset({"LMF108", "LMF207", "LMF208"})


@settings(max_examples=150, deadline=None)
@given(well_formed_filters())
def test_the_compact_text_is_never_longer_than_the_text_it_was_parsed_from(text: str) -> None:
    try:
        tree = lmfilter.parse(text)
    except FilterError:
        return
    if any(d.code in _LEFT_OUT for d in lmfilter.check(text, "local")):
        return
    compact = to_text(tree, compact=True)
    assert len(compact) <= len(text), (text, compact)
    assert lmfilter.parse(compact) == tree


# ---- the cases of the issue, and their neighbours ------------------------------------------------------

CONTRADICTIONS = [
    "status IS NULL",
    "name = 'x' AND name = 'y'",
    "model_type IS NULL AND model_type = 'agent'",
    "metrics.a = 1 AND metrics.a IS NULL",
    "params.p > 2 AND params.p < 1",
    "tags.t IN ()",
    "NOT model_id IS NOT NULL",
]


@pytest.mark.parametrize("text", CONTRADICTIONS)
@pytest.mark.parametrize("target", ["mlflow", "mlflow-3.17", "databricks"])
def test_a_contradiction_has_a_text_and_a_request(text: str, target: str) -> None:
    optimized = optimize(lmfilter.parse(text), target)
    assert optimized == MATCH_NONE
    assert lmfilter.format(optimized) == "model_id IN ()"
    assert lmfilter.compile(optimized, target=target, experiment_ids=["1"]).filter == "model_id IN ()"
    assert lmfilter.plan(optimized, target=target, experiment_ids=["1"]).requests == ()


def test_a_param_equal_to_a_number_stays_numeric() -> None:
    tree = lmfilter.parse("params.lr >= 0.1 AND params.lr <= 0.1")
    optimized = optimize(tree)
    assert lmfilter.format(optimized) == "params.lr BETWEEN 0.1 AND 0.1"
    cache = [
        {"info": {"model_id": f"m-{i}"}, "data": {"params": [{"key": "lr", "value": v}]}}
        for i, v in enumerate(["0.1", "0.10", "1e-1", "0.2", "x"])
    ]
    expected = ["m-0", "m-1", "m-2"]
    assert ids(cache, tree, "mlflow") == expected
    assert ids(cache, lmfilter.parse(lmfilter.format(optimized)), "mlflow") == expected


def test_numbers_on_a_param_are_not_merged_into_an_in_list() -> None:
    # IN on a param compares text: params.a IN (0.5, 1) would match neither '0.50' nor '1.0'.
    tree = or_(eq(param("a"), n("0.5")), eq(param("a"), n("1")))
    cache = [
        {"info": {"model_id": f"m-{i}"}, "data": {"params": [{"key": "a", "value": v}]}}
        for i, v in enumerate(["0.50", "1.0", "2"])
    ]
    assert ids(cache, optimize(tree), "mlflow") == ids(cache, tree, "mlflow") == ["m-0", "m-1"]
    assert lmfilter.format(optimize(tree)) == "params.a BETWEEN 0.5 AND 0.5 OR params.a BETWEEN 1 AND 1"


def test_one_number_spelt_two_ways_is_no_contradiction() -> None:
    tree = and_(eq(metric("a"), n("1.0")), eq(metric("a"), n("1")), ast.Compare(metric("a"), Op.LT, n("1e1")))
    assert lmfilter.format(optimize(tree)) == "metrics.a = 1"


def test_the_texts_written_for_nothing_and_everything_optimize_back() -> None:
    assert optimize(lmfilter.parse(to_text(NO_MODEL))) == MATCH_NONE
    assert optimize(lmfilter.parse(f"{to_text(EVERY_MODEL)} AND name = 'a'")) == eq(attr("name"), s("a"))


# ---- trees built by hand -------------------------------------------------------------------------------


def _nots(depth: int, inner: ast.Expr) -> ast.Expr:
    for _ in range(depth):
        inner = not_(inner)
    return inner


def _alternating(depth: int) -> ast.Expr:
    tree: ast.Expr = eq(attr("name"), s("z"))
    for i in range(depth):
        tree = or_(eq(attr("name"), s(f"a{i}")), and_(eq(tag("t"), s(f"b{i}")), tree))
    return tree


def test_a_tree_deeper_than_any_text_is_an_lmf105_not_a_recursion_error() -> None:
    for tree in (_nots(20_000, eq(tag("t"), s("x"))), _alternating(2_000)):
        with pytest.raises(FilterError, match="LMF105"):
            optimize(tree)
        with pytest.raises(FilterError, match="LMF105"):
            lmfilter.format(tree)
    assert to_dnf(_alternating(2_000)) is None  # too many terms, found without recursion


def test_the_deepest_filter_the_parser_reads_optimizes_and_prints() -> None:
    # 100 levels of parentheses, each holding an OR in an AND: some 200 levels of tree.
    text = "name = 'z'"
    for i in range(lmfilter.syntax.MAX_DEPTH):
        text = f"name = 'a{i}' OR tags.t = 'b{i}' AND ({text})"
    tree = lmfilter.parse(text)
    for target in ("mlflow", "mlflow-3.17"):
        optimized = optimize(tree, target)
        assert lmfilter.parse(lmfilter.format(optimized)) == optimized
        lmfilter.plan(optimized, target=target, experiment_ids=["1"])


ODD_TREES = [
    (ast.Or((eq(attr("name"), s("a")),)), "name = 'a'"),
    (
        and_(and_(eq(attr("name"), s("a")), eq(tag("t"), s("x"))), eq(tag("u"), s("y"))),
        "name = 'a' AND tags.t = 'x' AND tags.u = 'y'",
    ),
    (
        and_(eq(attr("name"), s("a")), ast.Or((and_(eq(tag("t"), s("x")), eq(tag("u"), s("y"))),))),
        "name = 'a' AND tags.t = 'x' AND tags.u = 'y'",
    ),
    (and_(eq(attr("name"), s("a")), ast.And(())), "name = 'a'"),
    (and_(eq(attr("name"), s("a")), ast.Or(())), "model_id IN ()"),
    (ast.And(()), None),
]


@pytest.mark.parametrize(("tree", "sent"), ODD_TREES, ids=[str(sent) for _, sent in ODD_TREES])
def test_compile_writes_a_hand_built_tree_as_the_server_reads_it(tree: ast.Expr, sent: str | None) -> None:
    assert lmfilter.compile(tree, experiment_ids=["1"]).filter == sent


@pytest.mark.parametrize(
    "tree",
    [
        not_(ast.Or(())),
        or_(eq(attr("name"), s("a")), not_(ast.And(()))),
        _nots(50_000, eq(attr("name"), s("a"))),
    ],
    ids=["NOT nothing", "OR with NOT everything", "50k NOTs"],
)
def test_compile_names_what_a_hand_built_tree_needs(tree: ast.Expr) -> None:
    with pytest.raises(FilterError) as caught:
        lmfilter.compile(tree, experiment_ids=["1"])
    assert caught.value.errors
    assert {d.code for d in caught.value.errors} <= {"LMF301", "LMF302", "LMF105"}


def test_a_gap_in_a_hand_built_tree_points_into_its_text() -> None:
    tree = and_(eq(attr("name"), s("a")), or_(eq(tag("t"), s("x")), eq(tag("t"), s("y"))))
    with pytest.raises(FilterError) as caught:
        lmfilter.compile(tree, experiment_ids=["1"])
    error = caught.value
    assert error.text == "name = 'a' AND (tags.t = 'x' OR tags.t = 'y')"
    (gap,) = [d for d in error.errors if d.code == "LMF301"]
    assert gap.span.text(error.text) == "OR"


# ---- a real server answers the text of MATCH_NONE with no model ----------------------------------------


def test_the_servers_run_the_texts_of_nothing_and_everything(mlflow_server: SeededServer) -> None:
    server, seeded = mlflow_server
    target = SERVER_TARGETS[server.version]
    nothing = lmfilter.compile(MATCH_NONE, target=target, experiment_ids=seeded.experiment_ids)
    assert nothing.filter == "model_id IN ()"
    assert search_all(server, seeded.experiment_ids, nothing.filter) == []
    everything = search_all(server, seeded.experiment_ids, to_text(EVERY_MODEL))
    assert sorted(everything) == sorted(seeded.model_ids)
