"""Hypothesis properties of the front end: totality, positions in range, and the printer's round trip.

- Any text either parses or raises :class:`lmfilter.FilterError` (never another exception), and every
  diagnostic and fix points inside the text; ``check`` never raises, for every target.
- A generated checked tree survives ``parse(format(tree))``.
- Formatting is idempotent, and the canonical text means what the original meant.

Texts come from ``st.text()`` and from near misses: filters built from the language's real tokens (fields,
keywords in any letter case, operators, values), then broken by inserting, dropping or replacing tokens,
or cut short.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lmfilter
from lmfilter import ast
from lmfilter.ast import Entity, Op, ValueType
from lmfilter.diagnostics import Diagnostic
from lmfilter.schema import ATTRIBUTES
from lmfilter.status import ModelStatus

# ---- near-miss filter texts ---------------------------------------------------------------------

NUMERIC_FIELDS = (
    "metrics.acc",
    "metrics.`a b`",
    "metrics.a.b",
    "creation_time",
    "creation_timestamp",
    "last_updated_timestamp",
    "attributes.creation_timestamp_ms",
)
STRING_FIELDS = (
    "params.a.b",
    "params.lr",
    "tags.`my key`",
    "tags.stage",
    "tags.and",
    "params.ключ",
    "tags.`123`",
    "tags.`team:owner`",
    "name",
    "model_type",
    "attributes.name",
)
STATUS_FIELDS = ("status", "attributes.status")
BAD_FIELDS = (
    "metric.acc",
    "param.x",
    "nmae",
    "foo.bar",
    "tags.in",
    "tags.123",
    "tags.a:b",
    'tags."dq"',
    "params.``",
    "params.`unterminated",
    "attributes.creation_time",
    "attributes.`name`",
)
KEYWORDS = ("AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "BETWEEN")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
BAD_OPERATORS = ("==", "<>", "=<", "!")
STRING_VALUES = ("'x'", "'it''s'", "''", "'a b'", "'churn-%'", "'READY'", "'LOGGED_MODEL_READY'", "'0.01'")
NUMBER_VALUES = (
    "-1.5e3",
    ".5",
    "1_000",
    "5.",
    "+1",
    "0.010",
    "2",
    "-0",
    "1e16",
    "9007199254740993",
    "1e999",
    "-1e999",
)
WORD_VALUES = ("READY", "FAILED", "x", "nan", "inf", "Infinity", "LOGGED_MODEL_PENDING")
BAD_VALUES = ('"dq"', "'unterminated", '"unterminated', "1__0", "1e", "-inf", "'x'y'")
STRAY = ("@", ";", "\\", '"', "'", "`", "(", ")", ",", "!", "é", "\x00", "\u00a0")


def _any_case(word: str) -> st.SearchStrategy[str]:
    flags = st.lists(st.booleans(), min_size=len(word), max_size=len(word))
    return flags.map(
        lambda ups: "".join(c.upper() if up else c.lower() for c, up in zip(word, ups, strict=True))
    )


def keyword(word: str) -> st.SearchStrategy[str]:
    """A keyword in a random letter case (mostly upper, as people write it)."""
    return st.one_of(st.just(word), _any_case(word))


any_keyword: st.SearchStrategy[str] = st.sampled_from(KEYWORDS).flatmap(keyword)
fields: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(NUMERIC_FIELDS),
    st.sampled_from(STRING_FIELDS),
    st.sampled_from(STATUS_FIELDS),
    st.sampled_from(BAD_FIELDS),
)
good_values: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(STRING_VALUES), st.sampled_from(NUMBER_VALUES), st.sampled_from(WORD_VALUES)
)
values: st.SearchStrategy[str] = st.one_of(good_values, st.sampled_from(BAD_VALUES))
vocabulary: st.SearchStrategy[str] = st.one_of(
    fields,
    any_keyword,
    st.sampled_from(OPERATORS + BAD_OPERATORS),
    values,
    st.sampled_from(STRAY),
    st.text(max_size=3),
)

Tokens = list[str]


def _optional_not() -> st.SearchStrategy[Tokens]:
    return st.one_of(st.just([]), keyword("NOT").map(lambda k: [k]))


# What each kind of field takes, so that most generated filters type-check: (fields, forms, values).
_TYPED_CONDITIONS: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (NUMERIC_FIELDS, ("compare", "in", "is", "between"), (*NUMBER_VALUES, "nan", "inf")),
    (STRING_FIELDS, ("equality", "like", "in", "is"), (*STRING_VALUES, "x", "5")),
    (("params.lr", "params.a.b", "params.`my key`"), ("compare", "between"), NUMBER_VALUES),
    (STATUS_FIELDS, ("equality", "in", "is"), ("'READY'", "READY", "'LOGGED_MODEL_PENDING'", "FAILED")),
)
_FORMS = ("compare", "equality", "like", "in", "is", "between")


@st.composite
def condition_tokens(draw: st.DrawFn) -> Tokens:
    """The tokens of one comparison, in any of the language's forms; mostly of the right types."""
    if draw(st.integers(0, 3)):
        field_names, forms, value_texts = draw(st.sampled_from(_TYPED_CONDITIONS))
        field, form, value = (
            draw(st.sampled_from(field_names)),
            draw(st.sampled_from(forms)),
            st.sampled_from(value_texts),
        )
    else:
        field, form, value = draw(fields), draw(st.sampled_from(_FORMS)), good_values
    if form in ("compare", "equality"):
        ops = OPERATORS if form == "compare" else ("=", "!=")
        return [field, draw(st.sampled_from(ops)), draw(value)]
    if form == "like":
        like = draw(st.sampled_from(("LIKE", "ILIKE")).flatmap(keyword))
        return [field, *draw(_optional_not()), like, draw(value)]
    if form == "in":
        listed = draw(st.lists(value, max_size=3))
        inner = [tok for i, v in enumerate(listed) for tok in ([","] if i else []) + [v]]
        if len(listed) > 0 and draw(st.booleans()):  # a trailing comma
            inner.append(",")
        return [field, *draw(_optional_not()), draw(keyword("IN")), "(", *inner, ")"]
    if form == "is":
        return [field, draw(keyword("IS")), *draw(_optional_not()), draw(keyword("NULL"))]
    return [
        field,
        *draw(_optional_not()),
        draw(keyword("BETWEEN")),
        draw(value),
        draw(keyword("AND")),
        draw(value),
    ]


def _extend_tokens(inner: st.SearchStrategy[Tokens]) -> st.SearchStrategy[Tokens]:
    joined = st.tuples(inner, st.sampled_from(("AND", "OR")).flatmap(keyword), inner).map(
        lambda t: [*t[0], t[1], *t[2]]
    )
    negated = st.tuples(keyword("NOT"), inner).map(lambda t: [t[0], *t[1]])
    grouped = inner.map(lambda toks: ["(", *toks, ")"])
    return st.one_of(joined, negated, grouped)


filter_tokens: st.SearchStrategy[Tokens] = st.recursive(
    st.one_of(st.just([]), condition_tokens()), _extend_tokens, max_leaves=6
)


def _join(tokens: Sequence[str], separators: Sequence[str]) -> str:
    return separators[0] + "".join(tok + sep for tok, sep in zip(tokens, separators[1:], strict=True))


@st.composite
def well_formed_filters(draw: st.DrawFn) -> str:
    """Filters as the grammar writes them, blanks between tokens; most type-check, some do not."""
    tokens = draw(filter_tokens)
    blanks = st.sampled_from((" ", " ", " ", "  ", "\t", "\n"))
    separators = draw(st.lists(blanks, min_size=len(tokens) + 1, max_size=len(tokens) + 1))
    separators[0] = draw(st.sampled_from(("", "", " ")))
    separators[-1] = draw(st.sampled_from(("", "", " ")))
    return _join(tokens, separators)


@st.composite
def near_miss_filters(draw: st.DrawFn) -> str:
    """A filter of real tokens, broken a little: tokens inserted, dropped, replaced, glued, or cut short."""
    tokens = list(draw(filter_tokens))  # a copy: drawn values may be shared
    for _ in range(draw(st.integers(0, 3))):
        edit = draw(st.sampled_from(("insert", "drop", "replace")))
        at = draw(st.integers(0, len(tokens)))
        if edit == "insert":
            tokens.insert(at, draw(vocabulary))
        elif tokens and at < len(tokens):
            if edit == "drop":
                del tokens[at]
            else:
                tokens[at] = draw(vocabulary)
    separators = draw(
        st.lists(
            st.sampled_from((" ", " ", " ", "", "\t", "\n", "  ")),
            min_size=len(tokens) + 1,
            max_size=len(tokens) + 1,
        )
    )
    text = _join(tokens, separators)
    if text and draw(st.integers(0, 4)) == 0:
        text = text[: draw(st.integers(0, len(text) - 1))]
    return text


# Text of the characters that matter to the lexer, so that odd mixtures of them come up often.
lexer_soup: st.SearchStrategy[str] = st.text(alphabet=st.sampled_from("metrics.ag_1e5-+ '\"`()=!<>,@;\\\n"))
any_text: st.SearchStrategy[str] = st.one_of(st.text(), lexer_soup, near_miss_filters())


# ---- (a) totality and positions ------------------------------------------------------------------


def assert_positions_in_range(text: str, diagnostics: Sequence[Diagnostic]) -> None:
    """Every span, and every fix's edit, lies inside the text; every fix applies."""
    for diag in diagnostics:
        assert 0 <= diag.span.start <= diag.span.end <= len(text), (diag, len(text))
        for fix in diag.fixes:
            for edit in fix.edits:
                assert 0 <= edit.span.start <= edit.span.end <= len(text), (diag, fix, len(text))
            assert isinstance(fix.apply(text), str)


@settings(max_examples=400, deadline=None)
@given(any_text)
def test_parse_returns_a_checked_tree_or_raises_filter_error(text: str) -> None:
    error: lmfilter.FilterError | None = None
    try:
        tree = lmfilter.parse(text)
    except lmfilter.FilterError as err:
        error = err
    if error is not None:
        assert error.errors, error.diagnostics
        assert_positions_in_range(text, error.diagnostics)
        assert not lmfilter.is_valid(text)
    else:
        for node in ast.walk(tree):
            assert not isinstance(node, ast.Invalid)
        for comparison in ast.comparisons(tree):
            assert comparison.field.type is not ValueType.UNKNOWN
        assert lmfilter.is_valid(text)


@settings(max_examples=150, deadline=None)
@given(any_text)
def test_check_never_raises_and_points_inside_the_text(text: str) -> None:
    valid_locally = lmfilter.is_valid(text, "local")
    for target in lmfilter.TARGETS:
        loose = lmfilter.check(text, target=target, native=False)
        strict = lmfilter.check(text, target=target, native=True)
        assert_positions_in_range(text, loose)
        assert_positions_in_range(text, strict)
        # Without native, whatever a server lacks is an info: the target never decides validity.
        assert (not any(d.severity == "error" for d in loose)) == valid_locally, (target, loose)
        # Native is only ever stricter.
        if any(d.severity == "error" for d in loose):
            assert any(d.severity == "error" for d in strict), (target, strict)


# ---- (b) checked trees round-trip through the printer ----------------------------------------------

SPECIAL_KEYS = (
    "acc",
    "a.b",
    "my key",
    " ",
    "a\nb",
    "ключ",
    "a:b",
    "$x",
    "123",
    "0",
    "1a",
    "1.5",
    "in",
    "IN",
    "and",
    "or",
    "not",
    "null",
    "a-b/c",
    "_",
    ".a",
    "a.",
    "'",
    '"',
    '"a"',
    "é\u0301",
    "²",
    "٣",
)

keys: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(SPECIAL_KEYS),
    # Lone surrogates are not text a filter can hold (LMF112).
    st.text(
        alphabet=st.characters(codec="utf-8", blacklist_characters="`"),
        min_size=1,
        max_size=12,
    ),
)
strings: st.SearchStrategy[ast.String] = st.one_of(
    st.sampled_from(("", "'", "it's", "''", "%", "_", "READY", "5", "a\nb", "\\")), st.text()
).map(ast.String)


def numbers_from(floats: st.SearchStrategy[float]) -> st.SearchStrategy[ast.Number]:
    return floats.map(lambda v: ast.Number(ast.canonical_number_text(v)))


_NOTABLE_FLOATS = (0.0, -0.0, 0.5, 1e-7, 1e16, 2.0**53, -(2.0**53), 2.0**53 + 2)
finite_numbers: st.SearchStrategy[ast.Number] = numbers_from(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(2**60), 2**60).map(float),
        st.sampled_from(_NOTABLE_FLOATS),
    )
)
numbers: st.SearchStrategy[ast.Number] = st.one_of(
    finite_numbers, numbers_from(st.sampled_from((float("inf"), float("-inf"), float("nan"))))
)
statuses: st.SearchStrategy[ast.StatusValue] = st.sampled_from(list(ModelStatus)).map(ast.StatusValue)

metric_fields = keys.map(lambda k: ast.Field(Entity.METRIC, k, ValueType.NUMBER))
param_fields = keys.map(lambda k: ast.Field(Entity.PARAM, k, ValueType.STRING))
tag_fields = keys.map(lambda k: ast.Field(Entity.TAG, k, ValueType.STRING))
attribute_fields = st.sampled_from(ATTRIBUTES).map(lambda a: ast.Field(Entity.ATTRIBUTE, a.name, a.type))
checked_fields: st.SearchStrategy[ast.Field] = st.one_of(
    metric_fields, param_fields, tag_fields, attribute_fields
)

ALL_OPS = tuple(Op)
EQUALITY_OPS = (Op.EQ, Op.NE)
ORDERING_OPS = tuple(op for op in Op if op in ast.ORDERING_OPS)


@st.composite
def checked_comparisons(draw: st.DrawFn) -> ast.Expr:
    """A comparison as the checker leaves it: a typed field, and values of the type its operator takes."""
    field = draw(checked_fields)
    negated = draw(st.booleans())
    forms: list[Callable[[], ast.Expr]] = [lambda: ast.IsNull(field, negated)]
    if field.type is ValueType.NUMBER:
        forms += [
            lambda: ast.Compare(field, draw(st.sampled_from(ALL_OPS)), draw(numbers)),
            lambda: ast.In(field, tuple(draw(st.lists(numbers, max_size=3))), negated),
            lambda: ast.Between(field, draw(numbers), draw(numbers), negated),
        ]
    elif field.type is ValueType.STATUS:
        forms += [
            lambda: ast.Compare(field, draw(st.sampled_from(EQUALITY_OPS)), draw(statuses)),
            lambda: ast.In(field, tuple(draw(st.lists(statuses, max_size=3))), negated),
        ]
    else:
        forms += [
            lambda: ast.Compare(field, draw(st.sampled_from(EQUALITY_OPS)), draw(strings)),
            lambda: ast.Like(field, draw(strings), negated, draw(st.booleans())),
            lambda: ast.In(field, tuple(draw(st.lists(strings, max_size=3))), negated),
        ]
        if field.entity is Entity.PARAM:  # numeric comparisons on params (their text read as a number)
            forms += [
                lambda: ast.Compare(field, draw(st.sampled_from(ORDERING_OPS)), draw(numbers)),
                lambda: ast.Between(field, draw(numbers), draw(numbers), negated),
            ]
    return draw(st.sampled_from(forms))()


def _extend_trees(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    items = st.lists(inner, min_size=2, max_size=4).map(tuple)
    return st.one_of(items.map(ast.And), items.map(ast.Or), inner.map(ast.Not))


checked_trees: st.SearchStrategy[ast.Expr] = st.one_of(
    st.just(ast.MATCH_ALL), st.recursive(checked_comparisons(), _extend_trees, max_leaves=10)
)


@settings(max_examples=300, deadline=None)
@given(checked_trees)
def test_checked_trees_round_trip(tree: ast.Expr) -> None:
    text = lmfilter.format(tree)
    assert lmfilter.parse(text) == tree, text
    assert lmfilter.format(text) == text  # the canonical text is its own canonical form


def test_empty_tree_is_the_empty_filter() -> None:
    assert lmfilter.format(ast.MATCH_ALL) == ""
    assert lmfilter.parse("") == ast.And(())


def test_nested_and_or_of_the_same_kind_keep_their_shape() -> None:
    a, b, c = (
        ast.Compare(ast.Field(Entity.METRIC, k, ValueType.NUMBER), Op.GT, ast.Number("1")) for k in "abc"
    )
    for kind in (ast.And, ast.Or):
        tree = kind((kind((a, b)), c))
        assert lmfilter.parse(lmfilter.format(tree)) == tree
        assert lmfilter.parse(lmfilter.format(tree)) != kind((a, b, c))


@pytest.mark.parametrize(
    "text",
    ["metrics.a > -1e999", "params.a < 1e999", "params.a BETWEEN -1e999 AND inf", "metrics.a IN (-1e999)"],
)
def test_infinities_round_trip(text: str) -> None:
    tree = lmfilter.parse(text)
    assert lmfilter.parse(lmfilter.format(tree)) == tree


# ---- (c) formatting is idempotent and keeps the meaning ----------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.one_of(well_formed_filters(), near_miss_filters()))
def test_format_is_idempotent_and_keeps_the_tree(text: str) -> None:
    try:
        tree = lmfilter.parse(text)
    except lmfilter.FilterError:
        return
    canonical = lmfilter.format(text)
    assert lmfilter.format(canonical) == canonical
    assert lmfilter.parse(canonical) == tree
