"""Completion, hover and semantic tokens follow the parser (:mod:`lmfilter.lsp.completion`, :mod:`~.hover`,
:mod:`~.fields`): what completion offers, the parser's state takes there; what hover and semantic tokens call
a field or a value, the parser reads as one. On broken and half-typed text too, and under wide characters.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types

from lmfilter.ast import Entity, ValueType
from lmfilter.diagnostics import Span
from lmfilter.lsp import fields
from lmfilter.lsp.analysis import lmf_sites
from lmfilter.lsp.completion import Suggestion, suggest
from lmfilter.lsp.fields import Budget, Operand, ReadTokens, keywords, typed_field
from lmfilter.lsp.hover import field_at
from lmfilter.lsp.known import FieldStats, Known
from lmfilter.lsp.positions import Lines
from lmfilter.lsp.presentation import TOKEN_TYPES, semantic_tokens
from lmfilter.syntax import Expected, Slot, expected_at, parser
from tests.test_properties import any_text, well_formed_filters

UNKNOWN = ValueType.UNKNOWN
KNOWN = Known(
    "test",
    3,
    {
        (Entity.METRIC, "acc"): FieldStats(3, low=0.5, high=0.9),
        (Entity.METRIC, "my metric"): FieldStats(1, low=-1.0, high=float("inf")),
        (Entity.PARAM, "模型"): FieldStats(2, Counter({"it's": 1, "日本": 1, "": 1})),
        (Entity.PARAM, "lr"): FieldStats(2, Counter({"0.1": 2}), low=0.1, high=0.1),
        (Entity.TAG, "in"): FieldStats(1, Counter({"x y": 1})),
        (Entity.TAG, "🔑"): FieldStats(1, Counter({"😀": 1})),
        (Entity.TAG, "a`b"): FieldStats(1, Counter({"z": 1})),  # no way to write the key: never offered
        (Entity.ATTRIBUTE, "status"): FieldStats(3, Counter({"READY": 2, "FAILED": 1})),
        (Entity.ATTRIBUTE, "name"): FieldStats(3, Counter({"model-1": 3})),
    },
)

# Pieces of filters, whole and cut short: fields (backquoted, wide, unknown), operators, keywords in any
# case, values (unterminated, double-quoted, with quotes doubled), junk.
FRAGMENTS = (
    "metrics.acc",
    "metrics.`my metric`",
    "metrics.`my",
    "params.模型",
    "tags.🔑",
    "tags.`in`",
    "name",
    "status",
    "nmae",
    "metrics.",
    "=",
    "!=",
    "<=",
    "==",
    "<>",
    "IN",
    "not",
    "NOT",
    "LIKE",
    "ilike",
    "IS",
    "NULL",
    "BETWEEN",
    "AND",
    "OR",
    "an",
    "(",
    ")",
    ",",
    "'a'",
    "'READY'",
    "'it''s'",
    "'日本",
    "'",
    '"dq"',
    '"RE',
    "READY",
    "1",
    "-0.5",
    "1e3",
    "@",
    "😀",
    "`",
    "#",
)
soup = st.lists(st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from(("", " ", " ", "  "))), max_size=9).map(
    lambda pieces: "".join(piece + blank for piece, blank in pieces)
)
texts = st.one_of(soup, any_text, well_formed_filters())


@st.composite
def texts_and_offsets(draw: st.DrawFn) -> tuple[str, int]:
    text = draw(texts)
    offset = len(text) if draw(st.booleans()) else draw(st.integers(0, len(text)))
    return text, offset


def lexed(text: str) -> list[tuple[str, int]]:
    """The tokens of ``text`` as the parser's lexer reads them: their terminal and where each starts."""
    return [(tok.type, tok.start_pos or 0) for tok in parser().lex(text)]


def first_terminal(text: str) -> str:
    return lexed(text)[0][0]


# ---- completion ---------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(texts_and_offsets(), st.booleans())
def test_each_suggestion_is_read_by_the_parser_where_it_goes(case: tuple[str, int], native: bool) -> None:
    """Put in place of the word being typed, a suggestion lexes, on its own, into tokens that the parser
    takes one after another: the first of them among the terminals expected there (an entity prefix such as
    ``metrics.`` is a field cut short, so only its start counts)."""
    text, offset = case
    found = expected_at(text, offset)
    for suggestion in suggest(text, offset, KNOWN, "mlflow", native):
        assert found.start == suggestion.start <= offset <= suggestion.end <= len(text)
        written = text[: suggestion.start] + suggestion.insert
        inserted = [(kind, start) for kind, start in lexed(written) if start >= suggestion.start]
        blanks = len(suggestion.insert) - len(suggestion.insert.lstrip(" "))
        assert inserted[0] == (first_terminal(suggestion.insert), suggestion.start + blanks), (
            written,
            suggestion,
        )
        assert inserted[0][0] in found.terminals, (found, suggestion)
        if suggestion.kind is types.CompletionItemKind.Module:
            continue
        for kind, start in inserted[1:]:
            after = expected_at(written[:start] + " ", start + 1)
            assert kind in after.terminals, (written, kind, after)


@settings(max_examples=200, deadline=None)
@given(texts_and_offsets())
def test_every_keyword_the_parser_takes_between_values_is_offered(case: tuple[str, int]) -> None:
    """Where the parser wants a connective, NULL, an IN list's punctuation or BETWEEN's AND, completion offers
    each keyword it takes, and nothing else; after a field of no known type, each operator it takes."""
    text, offset = case
    found = expected_at(text, offset)
    keyword_slots = {Slot.CONNECTIVE, Slot.NULL, Slot.LIST_OPEN, Slot.LIST_NEXT, Slot.BETWEEN_AND}
    offered = {first_terminal(s.insert) for s in suggest(text, offset, KNOWN)}
    if found.slot in keyword_slots:
        assert offered == found.terminals - {"$END"}
    elif found.slot in (Slot.OPERATOR, Slot.NEGATED) and typed_field(found.field or "").type is UNKNOWN:
        assert offered == found.terminals  # every operator, for a field the checker knows nothing of
    elif found.slot is Slot.OPERAND and "." not in (found.partial.text if found.partial else ""):
        assert {"NOT", "LPAR"} <= offered


def labels(text: str, **options: bool) -> list[str]:
    return [s.label for s in suggest(text, len(text), KNOWN, "mlflow", **options)]


@pytest.mark.parametrize(
    ("text", "wanted", "unwanted"),
    [
        pytest.param("x != x BETWEEN( ", ["name", "metrics.acc", "NOT"], ["AND"], id="group after junk"),
        pytest.param(") 😀 name NOT ", ["IN", "LIKE"], ["NOT IN"], id="after a wide character"),
        pytest.param("OR1 ", ["=", "LIKE"], ["AND"], id="OR1 is a word"),
        pytest.param("name = 'a' ORDER ", ["="], ["AND"], id="ORDER is a word"),
        pytest.param("(name = 'a' ", ["AND", "OR", ")"], [], id="open group"),
        pytest.param("name = 'a' ", ["AND", "OR"], [")"], id="no open group"),
        pytest.param("model_type IS NOT ", ["NULL"], ["NOT NULL"], id="after IS NOT"),
        pytest.param("tags.🔑 = ", ["'😀'"], ["'READY'"], id="a wide key's values"),
        pytest.param("params.模型 IN ('日本', ", ["'it''s'", "''"], [")"], id="quotes doubled"),
        pytest.param("status BETWEEN ", [], ["'READY'"], id="no status bounds"),
        pytest.param("tags.", ["tags.`in`", "tags.`🔑`"], ["tags.a`b", "tags.`a`b`"], id="keys written"),
    ],
)
def test_completion_follows_the_parser(text: str, wanted: list[str], unwanted: list[str]) -> None:
    offered = labels(text)
    assert [label for label in wanted if label not in offered] == []
    assert [label for label in unwanted if label in offered] == []


def test_native_completion_leaves_out_what_the_server_lacks() -> None:
    assert "OR" not in labels("name = 'a' ", native=True)
    assert "OR" in labels("name = 'a' ")
    assert {"NOT", "("} & set(labels("", native=True)) == set()


def only(suggestions: list[Suggestion], label: str) -> tuple[str, int, int]:
    (found,) = [s for s in suggestions if s.label == label]
    return found.insert, found.start, found.end


def test_an_open_string_or_key_closed_by_the_editor_is_replaced_whole() -> None:
    """Editors close a quote as it is typed: the closing ', " or ` after the cursor is replaced too."""
    assert only(suggest("status = 'RE'", 12, KNOWN), "'READY'") == ("'READY'", 9, 13)
    assert only(suggest('status = "RE"', 12, KNOWN), "'READY'") == ("'READY'", 9, 13)
    assert only(suggest("metrics.`my`", 11, KNOWN), "metrics.`my metric`") == ("metrics.`my metric`", 0, 12)
    # A quote after the cursor that does not close the word being typed stays.
    assert only(suggest("status = 'RE x'", 12, KNOWN), "'READY'") == ("'READY'", 9, 12)
    assert only(suggest("status = RE'", 11, KNOWN), "'READY'") == ("'READY'", 9, 11)


def test_a_suggestion_glued_to_the_word_before_is_set_apart() -> None:
    """An open string right after a word (``x'ab``) is replaced by what the parser takes after the word; an
    operator written there must not run into the word."""
    found = only(suggest("x'ab", 4, KNOWN), "IN")
    assert found == (" IN (", 1, 4)
    assert first_terminal(found[0]) == "IN"
    assert only(suggest("x'ab", 4, KNOWN), "=") == ("=", 1, 4)


# ---- what the parser reads each token as: hover and semantic tokens -----------------------------------


def operands(text: str) -> list[tuple[str, Operand | None]]:
    read = ReadTokens(text)
    return [(str(tok), operand) for tok, operand in zip(read.tokens, read.operands, strict=True)]


FIELD = Operand(True, "status")


@pytest.mark.parametrize(
    ("text", "word", "operand"),
    [
        pytest.param("name = 'a' AND status = ", "status", FIELD, id="being typed"),
        pytest.param("status = = READY", "status", FIELD, id="broken after the field"),
        pytest.param("status IN (READY, FAI", "FAI", Operand(False, "status"), id="IN list cut short"),
        pytest.param("status BETWEEN READY", "READY", Operand(False, "status"), id="BETWEEN cut short"),
        pytest.param("status IN(READY", "READY", Operand(False, "status"), id="glued to the ("),
        pytest.param("name = 'a' status", "status", FIELD, id="missing AND"),
        pytest.param("name = 'a' status = = 1", "status", FIELD, id="missing AND, then broken"),
        pytest.param(") status", "status", FIELD, id="after a stray )"),
        pytest.param("name = (x OR status", "status", None, id="skipped by the parser"),
        pytest.param("name = = x status", "status", None, id="skipped after a fault"),
        pytest.param("tags.`🔑` = '😀' AND status", "status", FIELD, id="after wide characters"),
        pytest.param("tags.`my key", "tags.`my key", Operand(True, "tags.`my key"), id="unterminated key"),
        pytest.param("name = 'a' AND", "AND", None, id="a keyword"),
    ],
)
def test_tokens_are_read_as_the_parser_reads_them(text: str, word: str, operand: Operand | None) -> None:
    assert dict(operands(text))[word] == operand


@settings(max_examples=200, deadline=None)
@given(well_formed_filters(), st.data())
def test_a_filter_cut_short_reads_its_tokens_as_the_whole_filter_does(text: str, data: st.DataObject) -> None:
    """Typing a filter from left to right, each token before the cursor is a field or a value, of the same
    field, as it will be in the whole filter."""
    cut = data.draw(st.integers(0, len(text)))
    whole = ReadTokens(text)
    spans = [(tok.type, tok.start_pos, tok.end_pos) for tok in whole.tokens]
    read = dict(zip(spans, whole.operands, strict=True))
    prefix = ReadTokens(text[:cut])
    for tok, operand in zip(prefix.tokens, prefix.operands, strict=True):
        key = (tok.type, tok.start_pos, tok.end_pos)
        if key in read:  # not a word cut short (nor cut into two: ``metrics.``)
            assert operand == read[key], (text[:cut], str(tok))


@settings(max_examples=150, deadline=None)
@given(texts)
def test_hover_finds_the_field_the_parser_reads_under_the_cursor(text: str) -> None:
    """Hover's field is a token the parser reads as a field: completion at its end offers fields, or (a field
    after a whole condition, where the parser inserts the missing AND) operators after it."""
    for offset in range(len(text) + 1):
        found = field_at(text, offset)
        if found is None:
            continue
        span, written = found
        assert span.start <= offset <= span.end
        assert text[span.start : span.end] == written
        after = expected_at(text[: span.end] + " ", span.end + 1)
        read_as = first_terminal(written).removeprefix("UNTERMINATED_")  # an open key is read closed
        assert read_as == "FIELD" or (after.slot is Slot.OPERATOR and after.field == written)


def test_hover_counts_in_code_points() -> None:
    text = "tags.`🔑` = '😀' AND nmae = 'x' OR metrics.acc > 1"
    assert field_at(text, text.index("metrics") + 3) == (Span(33, 44), "metrics.acc")
    assert field_at(text, text.index("nmae") + 4) == (Span(19, 23), "nmae")  # just after it
    assert field_at(text, text.index("'😀'") + 1) is None


def test_lookups_read_a_bounded_share_of_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Words of conditions cut short are read by asking the parser about the text before each; however many
    there are, in one filter or in many read with one budget, those lookups read no more than the filters'
    text and a fixed floor (each lookup counting a fixed cost too)."""
    costs: list[int] = []

    def counted(before: str, offset: int) -> Expected:
        costs.append(offset + Budget.CALL)
        return expected_at(before, offset)

    monkeypatch.setattr(fields, "expected_at", counted)
    long = "status IN (" + ", ".join(f"w{i}" for i in range(3000)) + " @"
    read = ReadTokens(long)
    assert 0 < sum(costs) <= len(long) + Budget.FLOOR
    assert read.operands[3] == Operand(False, "status")  # the first words are read
    assert read.operands[-3] is None  # the last ones, past the budget, are not

    costs.clear()
    budget = Budget()
    short = [f"status IN (w{i}, w{i} @" for i in range(2000)]
    reads = [ReadTokens(text, budget) for text in short]
    assert sum(costs) <= sum(map(len, short)) + Budget.FLOOR
    assert reads[0].operands[3] == Operand(False, "status")
    assert reads[-1].operands[3] is None


def test_words_the_parser_skips_are_not_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a word the parser skips, the words up to where it stops skipping are skipped too: no lookups."""
    asked: list[int] = []

    def counted(before: str, offset: int) -> Expected:
        asked.append(offset)
        return expected_at(before, offset)

    monkeypatch.setattr(fields, "expected_at", counted)
    read = ReadTokens("name x y z w OR status")
    assert [str(tok) for tok, op in zip(read.tokens, read.operands, strict=True) if op] == ["name", "status"]
    assert len(asked) <= 4  # name, x (before it), and status (before it): nothing for y, z and w


def test_keywords_are_the_grammars() -> None:
    assert keywords() == {"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "BETWEEN"}
    assert all(first_terminal(word.lower()) == word for word in keywords())


def decoded(text: str) -> list[tuple[str, str]]:
    """Each semantic token of a one-line ``.lmf`` text: its text and its type."""
    lines = Lines(text)
    data = semantic_tokens(lines, lmf_sites(lines))
    out, column = [], 0
    for i in range(0, len(data), 5):
        column = data[i + 1] if data[i] else column + data[i + 1]
        out.append((text[column : column + data[i + 2]], TOKEN_TYPES[data[i + 3]]))
    return out


def test_semantic_tokens_of_a_filter_being_typed() -> None:
    assert decoded("status IN (READY, FAI") == [
        ("status", "property"),
        ("IN", "keyword"),
        ("READY", "enumMember"),
        ("FAI", "string"),
    ]
    assert decoded("name = 'a' AND status = = READY") == [
        ("name", "property"),
        ("=", "operator"),
        ("'a'", "string"),
        ("AND", "keyword"),
        ("status", "property"),
        ("=", "operator"),
        ("=", "operator"),
    ]
    assert decoded("nmae LIKE x OR status = 'READY'") == [
        ("nmae", "property"),
        ("LIKE", "keyword"),
        ("x", "string"),
        ("OR", "keyword"),
        ("status", "property"),
        ("=", "operator"),
        ("'READY'", "enumMember"),
    ]
