"""Canonical printing: one spelling for each meaning."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import lmfilter
from lmfilter import ast, printer
from lmfilter.ast import Op
from lmfilter.printer import EVERY_MODEL, NO_MODEL, key_text, nesting, short_number_text, to_text
from lmfilter.syntax import MAX_DEPTH
from tests.build import and_, attr, eq, metric, n, ne, not_, or_, param, s, tag

CANONICAL = [
    ("params.alpha<0.3 and   metrics.accuracy>0.9", "params.alpha < 0.3 AND metrics.accuracy > 0.9"),
    ("name = 'a' or name = 'b' and name = 'c'", "name = 'a' OR name = 'b' AND name = 'c'"),
    ("(name = 'a' or name = 'b') and name = 'c'", "(name = 'a' OR name = 'b') AND name = 'c'"),
    ("not (name = 'a')", "NOT name = 'a'"),
    ("not not name = 'a'", "NOT NOT name = 'a'"),
    ("NOT (name = 'a' AND name = 'b')", "NOT (name = 'a' AND name = 'b')"),
    ("(name = 'a' AND name = 'b') AND name = 'c'", "(name = 'a' AND name = 'b') AND name = 'c'"),
    (
        "name = 'a' AND (name = 'b' OR (name = 'c' OR name = 'd'))",
        "name = 'a' AND (name = 'b' OR (name = 'c' OR name = 'd'))",
    ),
    ("tags.`team` = x", "tags.team = 'x'"),
    ("tags.`my key` = 'x'", "tags.`my key` = 'x'"),
    ("tags.in = 'x'", "tags.`in` = 'x'"),
    ("params.123 = 'x'", "params.`123` = 'x'"),
    ("params.a.b = 'x'", "params.a.b = 'x'"),
    ("params.lr = 0.010", "params.lr = '0.010'"),
    ("params.lr < 1e-2", "params.lr < 0.01"),
    ("metrics.a > 1.50", "metrics.a > 1.5"),
    ("attributes.creation_time >= 1700000000000", "creation_timestamp >= 1700000000000"),
    ("name = 'it''s'", "name = 'it''s'"),
    ("status in (READY, 'LOGGED_MODEL_UPLOAD_FAILED')", "status IN ('READY', 'FAILED')"),
    ("name not like 'a%'", "name NOT LIKE 'a%'"),
    ("name ilike 'a%'", "name ILIKE 'a%'"),
    ("model_type is not null", "model_type IS NOT NULL"),
    ("metrics.a not between 1 and 2", "metrics.a NOT BETWEEN 1 AND 2"),
    ("tags.t in ('a',)", "tags.t IN ('a')"),
    ("tags.t not in ()", "tags.t NOT IN ()"),
    ("name = 'a' AND", "name = 'a'"),
    ("name = 'a' name = 'b'", "name = 'a' AND name = 'b'"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL, ids=[t or "<empty>" for t, _ in CANONICAL])
def test_format(text: str, canonical: str) -> None:
    assert lmfilter.format(text) == canonical
    assert lmfilter.format(canonical) == canonical
    assert lmfilter.parse(canonical) == lmfilter.parse(text)


def test_format_takes_a_tree() -> None:
    tree = and_(
        or_(eq(attr("name"), s("a")), eq(attr("name"), s("b"))), not_(eq(metric("m"), ast.Number("1")))
    )
    assert lmfilter.format(tree) == "(name = 'a' OR name = 'b') AND NOT metrics.m = 1"


def test_format_of_a_bad_filter_raises() -> None:
    with pytest.raises(lmfilter.FilterError):
        lmfilter.format("name = ")


@pytest.mark.parametrize(
    ("key", "written"),
    [
        ("lr", "lr"),
        ("a.b", "a.b"),
        ("a-b/c", "a-b/c"),
        ("é", "é"),
        ("1a", "1a"),
        ("123", "`123`"),
        ("my key", "`my key`"),
        ("a:b", "`a:b`"),
        ("a$b", "`a$b`"),
        ("IN", "`IN`"),
        ("and", "and"),
        ("", "``"),
        ("-x", "`-x`"),
        ("it's", "`it's`"),
    ],
)
def test_key_text(key: str, written: str) -> None:
    assert key_text(key) == written


def test_a_key_with_a_backtick_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="backtick"):
        key_text("a`b")


def test_trees_that_have_no_text() -> None:
    with pytest.raises(ValueError, match="syntax errors"):
        to_text(ast.Invalid())
    for text_compared_with_a_number in (
        ast.In(param("lr"), (n("0.1"),)),
        eq(tag("t"), n("0.1")),
        ast.Compare(attr("name"), Op.LT, n("1")),
        ast.Like(tag("t"), n("1")),
        ast.Between(tag("t"), n("1"), n("2")),
    ):
        with pytest.raises(ValueError, match="holds text: a number compared with it"):
            to_text(text_compared_with_a_number)
    with pytest.raises(ValueError, match="lone surrogate"):
        to_text(eq(tag("t"), s("a\udcff")))
    with pytest.raises(ValueError, match="lone surrogate"):
        to_text(eq(tag("\ud800"), s("a")), bounded=False)


# ---- what no comparison spells: written as a comparison that means the same ----------------------------

STAND_INS = [
    (ast.MATCH_NONE, "model_id IN ()"),
    (and_(eq(attr("name"), s("a")), ast.Or(())), "name = 'a' AND model_id IN ()"),
    (or_(eq(attr("name"), s("a")), ast.And(())), "name = 'a' OR model_id NOT IN ()"),
    (not_(ast.Or(())), "NOT model_id IN ()"),
    (ast.And((ast.And(()),)), "model_id NOT IN ()"),
    (and_(or_(eq(attr("name"), s("a"))), eq(tag("t"), s("x"))), "name = 'a' AND tags.t = 'x'"),
    (
        and_(ast.Or((or_(eq(attr("name"), s("a")), eq(attr("name"), s("b"))),)), eq(tag("t"), s("x"))),
        "(name = 'a' OR name = 'b') AND tags.t = 'x'",
    ),
    (eq(param("lr"), n("0.1")), "params.lr BETWEEN 0.1 AND 0.1"),
    (ne(param("lr"), n("0.1")), "params.lr NOT BETWEEN 0.1 AND 0.1"),
    (eq(metric("m"), n("1.50")), "metrics.m = 1.5"),
]


@pytest.mark.parametrize(("tree", "text"), STAND_INS, ids=[t for _, t in STAND_INS])
def test_what_no_comparison_spells_is_written_as_one_that_means_the_same(tree: ast.Expr, text: str) -> None:
    assert to_text(tree) == text
    models = [
        {"info": {"model_id": f"m-{i}", "name": name}, "data": {"params": [{"key": "lr", "value": lr}]}}
        for i, (name, lr) in enumerate([("a", "0.10"), ("b", "0.1"), ("c", "x"), ("a", "1e-1")])
    ]
    assert [m.model_id for m in lmfilter.select(models, lmfilter.parse(text))] == [
        m.model_id for m in lmfilter.select(models, tree)
    ]


def test_the_texts_of_match_none_and_match_all_optimize_back_to_them() -> None:
    assert lmfilter.optimize(lmfilter.parse(to_text(NO_MODEL))) == ast.MATCH_NONE
    assert lmfilter.optimize(lmfilter.parse(to_text(EVERY_MODEL))) == ast.MATCH_ALL
    for target in ("mlflow", "mlflow-3.17", "databricks"):
        assert lmfilter.is_valid(to_text(NO_MODEL), target, native=True)


# ---- what the parser refuses, the printer does not write -----------------------------------------------


def _nots(depth: int) -> ast.Expr:
    tree: ast.Expr = eq(attr("name"), s("a"))
    for _ in range(depth):
        tree = not_(tree)
    return tree


def test_a_tree_as_deep_as_the_parser_reads_prints_and_one_level_more_does_not() -> None:
    deepest = _nots(MAX_DEPTH)
    assert lmfilter.parse(to_text(deepest)) == deepest
    with pytest.raises(lmfilter.FilterError) as caught:
        to_text(_nots(MAX_DEPTH + 1))
    assert [d.code for d in caught.value.diagnostics] == ["LMF105"]


def _a() -> ast.Expr:
    return eq(attr("name"), s("a"))


def _b() -> ast.Expr:
    return eq(tag("t"), s("b"))


# Shapes of nesting, each as (what one level adds, levels of parentheses and NOT per level).
SHAPES = [
    (lambda inner: not_(inner), 1),
    (lambda inner: not_(and_(inner, _b())), 2),
    (lambda inner: and_(_b(), or_(_a(), inner)), 1),  # an OR in an AND: one level; the AND in the OR: none
    (lambda inner: and_(inner, _b()), 1),  # an AND in an AND keeps its parentheses
    (lambda inner: or_(_b(), inner), 1),
]


def _text_unchecked(tree: ast.Expr) -> str:
    # The canonical text without the printer's depth check, to show that the parser refuses it too.
    return printer._joined(printer._tokens(tree, printer._Style(False, False))[0], compact=False)


@pytest.mark.parametrize(("level", "per_level"), SHAPES, ids=["NOT", "NOT (AND)", "OR in AND", "AND", "OR"])
def test_the_printer_counts_nesting_as_the_parser_does(
    level: Callable[[ast.Expr], ast.Expr], per_level: int
) -> None:
    tree = _a()
    while nesting(level(tree)) <= MAX_DEPTH:
        tree = level(tree)
    assert MAX_DEPTH - per_level < nesting(tree) <= MAX_DEPTH
    assert lmfilter.parse(to_text(tree)) == tree
    deeper = level(tree)
    with pytest.raises(lmfilter.FilterError, match="LMF105"):
        to_text(deeper)
    with pytest.raises(lmfilter.FilterError) as caught:
        lmfilter.parse(_text_unchecked(deeper))
    assert [d.code for d in caught.value.errors] == ["LMF105"]


def test_no_recursion_error_whatever_the_depth() -> None:
    with pytest.raises(lmfilter.FilterError, match="LMF105"):
        to_text(_nots(20_000))


def test_a_deep_chain_of_ands_has_no_text_but_compiles_flat() -> None:
    tree: ast.Expr = eq(attr("name"), s("a"))
    for i in range(3_000):
        tree = and_(tree, eq(tag(f"t{i}"), s("x")))
    with pytest.raises(lmfilter.FilterError, match="LMF105"):
        to_text(tree)
    sent = lmfilter.compile(tree, experiment_ids=["1"]).filter
    assert sent is not None
    assert "(" not in sent
    assert sent.count(" AND ") == 3_000


# ---- length: compact where the canonical text would be too long ----------------------------------------

_NEAR_THE_LIMIT = [
    # conditions as a user may write them, each shorter than its canonical text
    "creation_time>5",
    "metrics.a>9e15",
    "tags.t IN('a','b')",
    "status=READY",
    "params.`x`<.5",
    "tags.a:b!='x'",
    "NOT(name='a')",
]


def test_a_valid_filter_at_the_length_limit_formats_to_text_that_parses_back() -> None:
    limit = lmfilter.syntax.MAX_LENGTH
    conditions: list[str] = []
    while len(" AND ".join(conditions)) < limit - 40:
        conditions.append(_NEAR_THE_LIMIT[len(conditions) % len(_NEAR_THE_LIMIT)])
    text = " AND ".join(conditions)
    tree = lmfilter.parse(text)
    assert len(to_text(tree, bounded=False)) > limit  # the canonical text would be too long to read back
    written = lmfilter.format(tree)
    assert len(written) <= len(text)
    assert lmfilter.parse(written) == tree


def test_a_tree_too_long_even_compactly_is_an_lmf106() -> None:
    tree = ast.And(tuple(eq(tag(f"key{i}"), s("v" * 100)) for i in range(700)))
    with pytest.raises(lmfilter.FilterError) as caught:
        to_text(tree)
    assert [d.code for d in caught.value.diagnostics] == ["LMF106"]
    assert "characters" in str(caught.value)
    assert len(to_text(tree, bounded=False)) > lmfilter.syntax.MAX_LENGTH  # server text is not bounded


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (0.5, ".5"),
        (-0.5, "-.5"),
        (0.001, ".001"),
        (1e-7, "1e-7"),
        (1234.5, "1234.5"),
        (1e16, "1e16"),
        (1500.0, "1500"),
        (2.0**53 + 2, "9007199254740994"),
        (1.7976931348623157e308, "17976931348623157e292"),
        (float("inf"), "inf"),
        (float("-inf"), "-1e999"),
    ],
)
def test_short_number_text(value: float, written: str) -> None:
    assert short_number_text(value) == written
    checked = lmfilter.parse(f"metrics.a > {written}")
    assert isinstance(checked, ast.Compare)
    assert checked.value == ast.Number(ast.canonical_number_text(value))


def test_short_number_text_of_nan() -> None:
    checked = lmfilter.parse(f"metrics.a = {short_number_text(float('nan'))}")
    assert isinstance(checked, ast.Compare)
    assert checked.value == ast.Number("nan")
    assert checked.op is Op.EQ
