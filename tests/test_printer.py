"""Canonical printing: one spelling for each meaning."""

from __future__ import annotations

import pytest

import lmfilter
from lmfilter import ast
from lmfilter.printer import key_text, to_text
from tests.build import and_, attr, eq, metric, not_, or_, s

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
    with pytest.raises(ValueError, match="empty"):
        to_text(and_(eq(attr("name"), s("a")), ast.Or(())))
    with pytest.raises(ValueError, match="syntax errors"):
        to_text(ast.Invalid())
