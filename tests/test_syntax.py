"""The grammar and the tree builder: text in, checked tree out, one row a construct."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lark.exceptions import UnexpectedInput

import lmfilter
from lmfilter import ast
from lmfilter.ast import Op
from lmfilter.diagnostics import LIMIT_CODE, Diagnostic, Span
from lmfilter.syntax import (
    MAX_DEPTH,
    MAX_LENGTH,
    Expected,
    Partial,
    Slot,
    _Driver,
    _Machine,
    _table,
    _tokens,
    _UnexpectedTokenError,
    expected_at,
    parse_surface,
    parser,
)
from tests.build import and_, attr, eq, ge, gt, lt, metric, n, ne, not_, or_, param, s, status, tag
from tests.test_properties import any_text, well_formed_filters

PARSES = [
    # comparisons, each operator
    ("metrics.acc = 1", eq(metric("acc"), n("1"))),
    ("metrics.acc != 1", ne(metric("acc"), n("1"))),
    ("metrics.acc < 1", lt(metric("acc"), n("1"))),
    ("metrics.acc <= 1", ast.Compare(metric("acc"), Op.LE, n("1"))),
    ("metrics.acc > 1", gt(metric("acc"), n("1"))),
    ("metrics.acc >= 1", ge(metric("acc"), n("1"))),
    ("metrics.acc>=1", ge(metric("acc"), n("1"))),
    ("name LIKE 'a%'", ast.Like(attr("name"), s("a%"))),
    ("name NOT LIKE 'a%'", ast.Like(attr("name"), s("a%"), negated=True)),
    ("name ILIKE 'a%'", ast.Like(attr("name"), s("a%"), case_insensitive=True)),
    ("name not ilike 'a%'", ast.Like(attr("name"), s("a%"), negated=True, case_insensitive=True)),
    ("tags.t IN ('a', 'b')", ast.In(tag("t"), (s("a"), s("b")))),
    ("tags.t IN ('a',)", ast.In(tag("t"), (s("a"),))),
    ("tags.t NOT IN ('a')", ast.In(tag("t"), (s("a"),), negated=True)),
    ("tags.t IN ()", ast.In(tag("t"), ())),
    ("model_type IS NULL", ast.IsNull(attr("model_type"))),
    ("model_type is not null", ast.IsNull(attr("model_type"), negated=True)),
    ("metrics.acc BETWEEN 0.1 AND 0.2", ast.Between(metric("acc"), n("0.1"), n("0.2"))),
    ("metrics.acc NOT BETWEEN 1 AND 2", ast.Between(metric("acc"), n("1"), n("2"), negated=True)),
    # precedence: NOT > AND > OR, and parentheses
    (
        "name = 'a' OR name = 'b' AND name = 'c'",
        or_(eq(attr("name"), s("a")), and_(eq(attr("name"), s("b")), eq(attr("name"), s("c")))),
    ),
    (
        "(name = 'a' OR name = 'b') AND name = 'c'",
        and_(or_(eq(attr("name"), s("a")), eq(attr("name"), s("b"))), eq(attr("name"), s("c"))),
    ),
    ("NOT name = 'a' AND name = 'b'", and_(not_(eq(attr("name"), s("a"))), eq(attr("name"), s("b")))),
    ("NOT (name = 'a' AND name = 'b')", not_(and_(eq(attr("name"), s("a")), eq(attr("name"), s("b"))))),
    ("NOT NOT name = 'a'", not_(not_(eq(attr("name"), s("a"))))),
    ("((name = 'a'))", eq(attr("name"), s("a"))),
    (
        "metrics.a BETWEEN 1 AND 2 AND metrics.b > 3",
        and_(ast.Between(metric("a"), n("1"), n("2")), gt(metric("b"), n("3"))),
    ),
    # keywords in any letter case
    ("name = 'a' and name = 'b'", and_(eq(attr("name"), s("a")), eq(attr("name"), s("b")))),
    ("name = 'a' AnD name = 'b'", and_(eq(attr("name"), s("a")), eq(attr("name"), s("b")))),
    # fields: prefixes, dotted keys, backticks, keyword-like keys, attributes with and without prefix
    ("params.a.b = 'c'", eq(param("a.b"), s("c"))),
    ("params.`my key` = 'c'", eq(param("my key"), s("c"))),
    ("params.`a:b` = 'c'", eq(param("a:b"), s("c"))),
    ("params.`123` = 'c'", eq(param("123"), s("c"))),
    ("tags.in = 'x'", eq(tag("in"), s("x"))),
    ("tags.and = 'x' AND tags.not = 'y'", and_(eq(tag("and"), s("x")), eq(tag("not"), s("y")))),
    ("params.`and` = 'x'", eq(param("and"), s("x"))),
    ("tags.a-b = 'x'", eq(tag("a-b"), s("x"))),
    ("tags.a/b = 'x'", eq(tag("a/b"), s("x"))),
    ("tags.é = 'x'", eq(tag("é"), s("x"))),
    ("tags.1a = 'x'", eq(tag("1a"), s("x"))),
    ("metrics.`acc` > 1", gt(metric("acc"), n("1"))),
    ("attributes.name = 'a'", eq(attr("name"), s("a"))),
    ("creation_time > 5", gt(attr("creation_timestamp"), n("5"))),
    ("creation_timestamp_ms > 5", gt(attr("creation_timestamp"), n("5"))),
    ("last_updated_timestamp > 5", gt(attr("last_updated_timestamp"), n("5"))),
    # values: strings, doubled quotes, numbers of every shape (canonical in the checked tree)
    ("name = 'it''s'", eq(attr("name"), s("it's"))),
    ("name = ''", eq(attr("name"), s(""))),
    ("name = 'é 模型 %_'", eq(attr("name"), s("é 模型 %_"))),
    ("metrics.a > -1.5e3", gt(metric("a"), n("-1500"))),
    ("metrics.a > .5", gt(metric("a"), n("0.5"))),
    ("metrics.a > 5.", gt(metric("a"), n("5"))),
    ("metrics.a > 1e-3", gt(metric("a"), n("0.001"))),
    ("metrics.a > 1_000", gt(metric("a"), n("1000"))),
    ("metrics.a > +2", gt(metric("a"), n("2"))),
    ("metrics.a > 1.0", gt(metric("a"), n("1"))),
    ("metrics.a > 1e300", gt(metric("a"), n("1e+300"))),
    ("metrics.a > inf", gt(metric("a"), n("1e999"))),
    ("metrics.a > -1e400", gt(metric("a"), n("-1e999"))),
    ("creation_timestamp > 1700000000000", gt(attr("creation_timestamp"), n("1700000000000"))),
    # params: numbers compared as text with =, as numbers with ordering operators
    ("params.lr = 0.01", eq(param("lr"), s("0.01"))),
    ("params.lr IN (1, 2)", ast.In(param("lr"), (s("1"), s("2")))),
    ("params.alpha < 0.3", lt(param("alpha"), n("0.3"))),
    ("params.alpha BETWEEN 1 AND 2", ast.Between(param("alpha"), n("1"), n("2"))),
    # unquoted words: strings as MLflow reads them, status names
    ("tags.t = x", eq(tag("t"), s("x"))),
    ("status = READY", eq(attr("status"), status("READY"))),
    ("status = 'LOGGED_MODEL_READY'", eq(attr("status"), status("READY"))),
    ("status != 'FAILED'", ne(attr("status"), status("FAILED"))),
    ("status IN ('READY', PENDING)", ast.In(attr("status"), (status("READY"), status("PENDING")))),
    # what MLflow tolerates: stray and missing AND (warnings, same tree)
    ("name = 'a' AND", eq(attr("name"), s("a"))),
    ("AND name = 'a'", eq(attr("name"), s("a"))),
    ("name = 'a' AND AND name = 'b'", and_(eq(attr("name"), s("a")), eq(attr("name"), s("b")))),
    ("name = 'a' name = 'b'", and_(eq(attr("name"), s("a")), eq(attr("name"), s("b")))),
    # no condition
    ("", ast.MATCH_ALL),
    ("   ", ast.MATCH_ALL),
    ("AND", ast.MATCH_ALL),
]


@pytest.mark.parametrize(("text", "tree"), PARSES, ids=[text or "<empty>" for text, _ in PARSES])
def test_parses(text: str, tree: ast.Expr) -> None:
    assert lmfilter.parse(text) == tree


def test_spans_point_into_the_text() -> None:
    text = "params.alpha < 0.3 AND (tags.`my key` = 'x' OR NOT model_type IS NULL)"
    tree = lmfilter.parse(text)
    assert isinstance(tree, ast.And)
    first, group = tree.items
    assert isinstance(first, ast.Compare)
    assert first.span.text(text) == "params.alpha < 0.3"
    assert first.field.span.text(text) == "params.alpha"
    assert first.value.span.text(text) == "0.3"
    assert group.span.text(text) == "(tags.`my key` = 'x' OR NOT model_type IS NULL)"
    assert isinstance(group, ast.Or)
    assert group.items[1].span.text(text) == "NOT model_type IS NULL"
    assert tree.span == Span(0, len(text))


def test_spans_are_not_part_of_equality() -> None:
    one, two = lmfilter.parse("name = 'a'"), lmfilter.parse("   name='a'")
    assert one == two
    assert hash(one) == hash(two)
    assert one.span != two.span
    assert len({one, two}) == 1


def test_parser_is_built_once() -> None:
    assert parser() is parser()
    assert parser().options.parser == "lalr"


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("name = ", ["LMF102"]),
        ("(name = 'a'", ["LMF102"]),
        ("name = 'a')", ["LMF101"]),
        ("name = 'a' @", ["LMF104"]),
        ("metrics.a > 1abc", ["LMF104"]),
        ("name = 'abc", ["LMF103"]),
        ('name = "abc', ["LMF103"]),
        ("tags.`abc = 'x'", ["LMF103"]),
        ("name == 'a'", ["LMF109"]),
        ("name <> 'a'", ["LMF109"]),
        ("name IN 'a'", ["LMF101"]),
        ("name IN ('a' 'b')", ["LMF101"]),
        ("name = 'a' OR OR name = 'b'", ["LMF101"]),
        ("()", ["LMF101"]),
        ("NOT", ["LMF102"]),
        ("name = 'a' AND", ["LMF107"]),
        ("name = 'a' name = 'b'", ["LMF108"]),
        # recovery: each fault reported once, the rest still read
        ("name = AND metrics.a > @ AND tags.t = 'x' OR (", ["LMF101", "LMF104", "LMF102"]),
        ("a = 1 2 AND b = 3", ["LMF101"]),
    ],
)
def test_syntax_diagnostics(text: str, codes: list[str]) -> None:
    assert [d.code for d in parse_surface(text).diagnostics] == codes


def test_expected_tokens_are_named() -> None:
    (diag,) = parse_surface("name =").diagnostics
    assert diag.message == "unexpected end of filter; expected a value ('text' or a number)"
    (diag,) = parse_surface("metrics.acc 1").diagnostics
    assert "expected an operator" in diag.message
    assert diag.span == Span(12, 13)


def test_unclosed_parenthesis_has_a_fix() -> None:
    text = "(name = 'a' OR name = 'b'"
    (diag,) = parse_surface(text).diagnostics
    (fix,) = diag.fixes
    assert lmfilter.parse(fix.apply(text)) == lmfilter.parse(text + ")")


def test_deep_nesting_is_a_clear_error() -> None:
    text = "(" * (MAX_DEPTH + 1) + "name = 'a'" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(lmfilter.FilterError) as caught:
        lmfilter.parse(text)
    assert [d.code for d in caught.value.diagnostics] == ["LMF105"]
    not_chain = "NOT " * 5000 + "name = 'a'"
    assert [d.code for d in lmfilter.check(not_chain)] == ["LMF105"]
    fine = "(" * MAX_DEPTH + "name = 'a'" + ")" * MAX_DEPTH
    assert lmfilter.parse(fine) == eq(attr("name"), s("a"))


def test_very_long_input_is_a_clear_error_and_fast() -> None:
    text = "name = 'a' AND " * (MAX_LENGTH // 10)
    started = time.perf_counter()
    diags = lmfilter.check(text)
    assert [d.code for d in diags] == ["LMF106"]
    assert diags[0].span == Span(MAX_LENGTH, len(text))
    assert time.perf_counter() - started < 1.0  # a length check, not a parse


def test_long_flat_filter_within_limits_parses() -> None:
    text = " AND ".join(f"params.p{i} = 'v{i}'" for i in range(2000))
    assert len(text) < MAX_LENGTH
    tree = lmfilter.parse(text)
    assert isinstance(tree, ast.And)
    assert len(tree.items) == 2000


def test_grammar_has_a_comment_on_each_rule() -> None:
    from lmfilter.syntax import grammar_text

    lines = grammar_text().splitlines()
    rule_lines = [i for i, line in enumerate(lines) if (line and line[0].islower()) or line.startswith("?")]
    assert rule_lines
    for i in rule_lines:
        above = lines[i - 1]
        assert above.startswith("//"), f"rule without an EBNF comment: {lines[i]}"


# ---- the two readings and the scanner, against each other and against Lark ------------------------

texts = st.one_of(any_text, well_formed_filters())
_MENDED = {
    "BAD_OP": "COMPARE_OP",
    "UNTERMINATED_STRING": "STRING",
    "UNTERMINATED_DQ_STRING": "DQ_STRING",
    "UNTERMINATED_FIELD": "FIELD",
}


def exactly(value: Any) -> Any:
    """A tree as plain data, spans included (node equality leaves them out)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, *(exactly(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, tuple):
        return tuple(exactly(item) for item in value)
    return value


@settings(max_examples=300, deadline=None)
@given(texts)
def test_scanner_lexes_as_lark(text: str) -> None:
    """The scanner (Lark's terminals, blanks skipped in front of each token) gives Lark's own tokens."""
    assume(len(text) <= MAX_LENGTH)
    ours = [(tok.kind, tok.start, tok.end) for tok in _tokens(text, [])]
    larks = [(_MENDED.get(tok.type, tok.type), tok.start_pos, tok.end_pos) for tok in parser().lex(text)]
    assert ours == [*larks, ("$END", len(text), len(text))]


@settings(max_examples=300, deadline=None)
@given(texts)
def test_reading_straight_through_is_the_mending_reading_of_a_faultless_filter(text: str) -> None:
    """Where the machine reads a filter straight through, the mending driver reads the same tree (spans and
    all) and reports nothing; where it cannot, there is a fault to report."""
    assume(len(text) <= MAX_LENGTH)
    diagnostics: list[Diagnostic] = []
    tokens = _tokens(text, diagnostics)
    lexical = len(diagnostics)
    mended = _Driver(text, tokens, diagnostics).run()
    try:
        straight = _Machine(_table()).run(tokens)
    except _UnexpectedTokenError:
        assert diagnostics
        return
    assert exactly(mended) == exactly(straight)
    assert diagnostics[lexical:] == []


# ---- what may come next ---------------------------------------------------------------------------

VALUES = {"DQ_STRING", "NUMBER", "STRING", "WORD"}
IN_CONDITION = {
    Slot.OPERATOR,
    Slot.NEGATED,
    Slot.NULL,
    Slot.VALUE,
    Slot.LIST_OPEN,
    Slot.LIST_VALUE,
    Slot.LIST_NEXT,
    Slot.LOW,
    Slot.BETWEEN_AND,
    Slot.HIGH,
}


def expected(marked: str) -> Expected:
    """What comes next at the ``|`` of ``marked`` (the mark is not part of the text)."""
    offset = marked.index("|")
    return expected_at(marked[:offset] + marked[offset + 1 :], offset)


@pytest.mark.parametrize(
    ("marked", "slot", "field", "terminals"),
    [
        # where a condition starts
        ("|", Slot.OPERAND, None, {"FIELD", "WORD", "NOT", "LPAR", "$END"}),
        ("NOT (|", Slot.OPERAND, None, {"FIELD", "WORD", "NOT", "LPAR"}),
        ("name = 'x' OR |", Slot.OPERAND, None, {"FIELD", "WORD", "NOT", "LPAR"}),
        # after a field
        (
            "metrics.acc |",
            Slot.OPERATOR,
            "metrics.acc",
            {"COMPARE_OP", "NOT", "LIKE", "ILIKE", "IN", "IS", "BETWEEN"},
        ),
        ("tags.`my key` |", Slot.OPERATOR, "tags.`my key`", None),
        ("metric.acc |", Slot.OPERATOR, "metric.acc", None),  # a field the checker rejects is still a field
        ("metrics.acc NOT |", Slot.NEGATED, "metrics.acc", {"LIKE", "ILIKE", "IN", "BETWEEN"}),
        ("model_type IS |", Slot.NULL, "model_type", {"NOT", "NULL"}),
        ("model_type is not |", Slot.NULL, "model_type", {"NULL"}),
        # values
        ("status = |", Slot.VALUE, "status", VALUES),
        ("name NOT ILIKE |", Slot.VALUE, "name", VALUES),
        ("status IN |", Slot.LIST_OPEN, "status", {"LPAR"}),
        ("status IN (|", Slot.LIST_VALUE, "status", VALUES | {"RPAR"}),
        ("status IN ('READY', |", Slot.LIST_VALUE, "status", VALUES | {"RPAR"}),
        ("status IN ('READY' |", Slot.LIST_NEXT, "status", {"COMMA", "RPAR"}),
        ("metrics.acc BETWEEN |", Slot.LOW, "metrics.acc", VALUES),
        ("metrics.acc NOT BETWEEN |", Slot.LOW, "metrics.acc", VALUES),
        ("metrics.acc BETWEEN 1 |", Slot.BETWEEN_AND, "metrics.acc", {"AND"}),
        ("metrics.acc BETWEEN 1 AND |", Slot.HIGH, "metrics.acc", VALUES),
        # after a condition: ")" only inside parentheses, the end only outside
        ("name = 'x' |", Slot.CONNECTIVE, None, {"AND", "OR", "$END"}),
        ("(name = 'x' OR metrics.acc > 1 |", Slot.CONNECTIVE, None, {"AND", "OR", "RPAR"}),
        ("status IN ('READY',) |", Slot.CONNECTIVE, None, {"AND", "OR", "$END"}),
        ("metrics.acc BETWEEN 1 AND 2 |", Slot.CONNECTIVE, None, {"AND", "OR", "$END"}),
        ("model_type IS NOT NULL |", Slot.CONNECTIVE, None, {"AND", "OR", "$END"}),
        # broken text, read with the parser's recovery
        ("name = = 'x' AND |", Slot.OPERAND, None, {"FIELD", "WORD", "NOT", "LPAR"}),
        ("name = = 'x' AND metrics.acc |", Slot.OPERATOR, "metrics.acc", None),
        ("name = 'x' metrics.acc |", Slot.OPERATOR, "metrics.acc", None),  # the missing AND inserted
        ("name = 'x' AND AND |", Slot.OPERAND, None, {"FIELD", "WORD", "NOT", "LPAR"}),  # doubled AND dropped
        ("AND |", Slot.OPERAND, None, {"FIELD", "WORD", "NOT", "LPAR", "$END"}),  # leading AND dropped
        ("name == |", Slot.VALUE, "name", VALUES),  # == read as =
        ("metrics.acc 1 AND |", Slot.OPERAND, None, None),
        # a broken condition runs to the next AND or OR, as the parser skips it
        ("name = 'x' AND @@ metrics.acc |", Slot.CONNECTIVE, None, {"AND", "OR", "$END"}),
        ("name = 'x' AND @@ metrics.acc > 1 OR |", Slot.OPERAND, None, None),
        # only the text before the cursor counts
        ("name = |'x' AND metrics.a > 1", Slot.VALUE, "name", VALUES),
    ],
)
def test_expected_at(marked: str, slot: Slot, field: str | None, terminals: set[str] | None) -> None:
    found = expected(marked)
    assert (found.slot, found.field) == (slot, field)
    if terminals is not None:
        assert found.terminals == terminals


@pytest.mark.parametrize(
    ("marked", "slot", "partial"),
    [
        ("nm| = 'x'", Slot.OPERAND, Partial("WORD", "nm", 0)),
        ("metrics.|", Slot.OPERAND, Partial("WORD", "metrics.", 0)),  # WORD then BAD_WORD '.'
        ("metrics.ac|", Slot.OPERAND, Partial("FIELD", "metrics.ac", 0)),
        ("tags.`my k|", Slot.OPERAND, Partial("UNTERMINATED_FIELD", "tags.`my k", 0)),
        ("status = 'RE|'", Slot.VALUE, Partial("UNTERMINATED_STRING", "'RE", 9)),
        ("status = 'a b|", Slot.VALUE, Partial("UNTERMINATED_STRING", "'a b", 9)),
        ('name = "a b|', Slot.VALUE, Partial("UNTERMINATED_DQ_STRING", '"a b', 7)),
        ("name = 'x' AN|", Slot.CONNECTIVE, Partial("WORD", "AN", 11)),
        ("name = 'x' AND|", Slot.CONNECTIVE, Partial("AND", "AND", 11)),  # a keyword may be cut short
        ("metrics.acc BETWEEN 1 an|", Slot.BETWEEN_AND, Partial("WORD", "an", 22)),
        ("metrics.a > -|", Slot.VALUE, Partial("BAD_WORD", "-", 12)),
        ("metrics.a >= 0.5|", Slot.VALUE, Partial("NUMBER", "0.5", 13)),
        # wide characters: offsets count code points (🔑 is one, though two UTF-16 units)
        ("tags.`🔑` = 'x' AND nm|", Slot.OPERAND, Partial("WORD", "nm", len("tags.`🔑` = 'x' AND "))),
        (
            "params.模型 = 1 AND tags.键|",
            Slot.OPERAND,
            Partial("FIELD", "tags.键", len("params.模型 = 1 AND ")),
        ),
        ("tags.`🔑🔑` = '模|", Slot.VALUE, Partial("UNTERMINATED_STRING", "'模", len("tags.`🔑🔑` = "))),
    ],
)
def test_expected_at_names_the_word_being_typed(marked: str, slot: Slot, partial: Partial) -> None:
    found = expected(marked)
    assert (found.slot, found.partial, found.start) == (slot, partial, partial.start)


def test_expected_at_knows_the_field_being_compared_under_wide_characters() -> None:
    assert expected("tags.`🔑🔑` = 'a' AND params.模型 IN ('x', |").field == "params.模型"
    assert expected("tags.`🔑🔑` |").field == "tags.`🔑🔑`"
    found = expected("tags.`🔑` = |")
    assert (found.partial, found.start) == (None, len("tags.`🔑` = "))


def test_expected_at_is_bounded_by_the_parsers_limits() -> None:
    too_long = "name = 'a' AND " * (MAX_LENGTH // 10)
    assert expected_at(too_long, 10) == Expected(Slot.NOTHING, frozenset(), None, None, 10)
    too_deep = "(" * (MAX_DEPTH + 1)
    assert expected_at(too_deep, len(too_deep)).slot is Slot.NOTHING
    assert expected_at("(" * MAX_DEPTH, MAX_DEPTH).slot is Slot.OPERAND
    nots = "NOT " * 5000
    assert expected_at(nots, len(nots)).slot is Slot.NOTHING
    broken = "name = = 'a' AND " * 3000  # more faults than the parser reports: it gives up, and so does this
    assert len(broken) <= MAX_LENGTH
    assert expected_at(broken, len(broken)).slot is Slot.NOTHING
    junk = "@ " * (MAX_LENGTH // 2)  # one broken condition, to the end
    assert expected_at(junk, len(junk)).slot is Slot.CONNECTIVE
    long_list = "name IN (" + ", ".join(["'a'"] * 10_000)
    assert expected_at(long_list, len(long_list)).slot is Slot.LIST_NEXT


@pytest.mark.parametrize("offset", [-1, 11])
def test_expected_at_takes_an_offset_within_the_text(offset: int) -> None:
    with pytest.raises(ValueError, match=f"offset {offset} is outside the text"):
        expected_at("name = 'a'", offset)


@settings(max_examples=150, deadline=None)
@given(well_formed_filters())
def test_expected_at_takes_what_larks_own_parser_takes(text: str) -> None:
    """Before each token of a well-formed filter, the terminals expected are those Lark's interactive parser
    (its public API) accepts after the tokens before, and the token itself is one of them."""
    try:
        parser().parse(text)
    except UnexpectedInput:
        assume(False)  # a field the lexer cannot close (params.`unterminated)
    interactive = parser().parse_interactive("")
    for tok in parser().lex(text):
        if tok.start_pos:  # there is a blank before each token but the first
            found = expected_at(text, tok.start_pos)
            assert found.partial is None
            accepted: set[str] = interactive.accepts()  # type: ignore[no-untyped-call]  # lark leaves it untyped
            assert found.terminals == accepted - {"RECOVERED"}, (text, tok)
            assert tok.type in found.terminals
        interactive.feed_token(tok)
    assert "$END" in expected_at(text + " ", len(text) + 1).terminals


# A token of each terminal, to write where expected_at says it may come.
SAMPLES = {
    "FIELD": "tags.t",
    "WORD": "x",
    "COMPARE_OP": "<=",
    "STRING": "'s'",
    "NUMBER": "1",
    "DQ_STRING": '"d"',
    "LPAR": "(",
    "RPAR": ")",
    "COMMA": ",",
    "AND": "and",
    "OR": "OR",
    "NOT": "NOT",
    "IN": "in",
    "LIKE": "LIKE",
    "ILIKE": "ILIKE",
    "IS": "IS",
    "NULL": "NULL",
    "BETWEEN": "BETWEEN",
}


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_expected_at_reads_broken_text_as_the_parser_does(text: str) -> None:
    """At the end of any text, the end may not come where the parser reports an unexpected end, and may where
    it reports nothing of the end (neither that, nor an AND at the end with nothing to join); and each
    terminal said to come next is read there by the parser without a fault."""
    text += " "
    assume(len(text) <= MAX_LENGTH - 10)
    found = expected_at(text, len(text))
    assume(found.partial is None and found.slot is not Slot.NOTHING)
    diagnostics = parse_surface(text).diagnostics
    codes = {d.code for d in diagnostics}
    if "$END" in found.terminals:
        assert "LMF102" not in codes, (text, found, diagnostics)
    else:
        trailing_and = [d for d in diagnostics if d.code == "LMF107" and not text[d.span.end :].strip()]
        assert "LMF102" in codes or trailing_and, (text, found, diagnostics)
    assert found.terminals - {"$END"} <= SAMPLES.keys()
    for kind in found.terminals - {"$END"}:
        longer = text + SAMPLES[kind]
        faults = [
            d
            for d in parse_surface(longer).diagnostics
            if d.span.start == len(text)
            and d.code not in ("LMF107", LIMIT_CODE)  # an AND at the end is stray
        ]
        assert faults == [], (text, kind, found)


@settings(max_examples=300, deadline=None)
@given(any_text, st.data())
def test_expected_at_anywhere_in_any_text_is_consistent(text: str, data: st.DataObject) -> None:
    assume(len(text) <= MAX_LENGTH)
    offset = data.draw(st.integers(0, len(text)))
    found = expected_at(text, offset)
    assert found.offset == offset
    assert (found.slot is Slot.NOTHING) == (found.terminals == frozenset())
    assert (found.field is not None) == (found.slot in IN_CONDITION)
    if found.partial is None:
        assert found.start == offset
    else:
        assert found.start == found.partial.start <= offset
        assert text[found.start : offset] == found.partial.text != ""


def test_recovery_after_a_stray_closing_parenthesis_reads_what_follows() -> None:
    surface = parse_surface("name = 'a') OR name = 'b'")
    assert isinstance(surface.tree, ast.Or)
    assert [d.message for d in surface.diagnostics] == ["unmatched ')'"]
