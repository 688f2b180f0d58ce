"""Checked tree to text that :func:`lmfilter.parse` reads back as the same tree.

The canonical form has upper-case keywords, single spaces, single-quoted strings (a quote doubled), keys in
backticks only where they need them, canonical attribute names (``creation_timestamp``), status by its
short name, and parentheses only where precedence (NOT > AND > OR) or the tree's shape needs them. Parsing
the canonical text gives back an equal tree.

Every tree the optimizer returns has a text too. Where a tree holds what no comparison spells, the printer
writes a comparison of the language that means exactly the same, for every model:

- an empty OR (``MATCH_NONE``, a contradiction) is :data:`NO_MODEL`, ``model_id IN ()``: false for every
  model (a model always has an id), never unknown; the optimizer reads it back as ``MATCH_NONE``, and a
  server runs it and answers with no model. An empty AND inside a filter is :data:`EVERY_MODEL`,
  ``model_id NOT IN ()`` (at the top it is the empty filter); an AND or OR of one item is that item;
- a param's numeric equality, which the checker never makes (``params.lr = 0.1`` compares the text
  ``'0.1'``) but a tree built by hand may hold, is ``params.lr BETWEEN 0.1 AND 0.1``.

What the parser refuses, the printer does not write: a tree nested deeper than
:data:`~lmfilter.syntax.MAX_DEPTH` levels of parentheses and NOT raises :class:`FilterError` ``LMF105``; a
text over :data:`~lmfilter.syntax.MAX_LENGTH` characters is written compactly instead (no optional blanks,
the shortest spelling of each number, attribute and status: never longer than the text it was parsed
from, unless that text left out ANDs or quotes), and if even that is too long, ``LMF106``. The printer
never recurses, so a tree of any depth gets that error rather than a ``RecursionError``.

>>> from lmfilter import parse
>>> to_text(parse("not (params.a = 'x' or tags.`my key` like 'y%') and creation_time>5"))
"NOT (params.a = 'x' OR tags.`my key` LIKE 'y%') AND creation_timestamp > 5"
>>> to_text(ast.MATCH_NONE)
'model_id IN ()'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from lmfilter import ast
from lmfilter.ast import Entity, ValueType
from lmfilter.diagnostics import Diagnostic, FilterError, Span
from lmfilter.schema import attribute
from lmfilter.syntax import MAX_DEPTH, MAX_LENGTH

# Keys that need no backticks, for lmfilter and for MLflow alike (MLflow needs them for keys of digits
# alone, and for `in`, which its tokenizer reads as the keyword).
_PLAIN_KEY = re.compile(r"(?!\d+\Z)(?![iI][nN]\Z)[^\W][\w.\-/]*\Z")
# Keys lmfilter's own lexer reads without backticks: the grammar's FIELD key, ``[^\s'"`=!<>(),]+``.
_LEXER_PLAIN_KEY = re.compile(r"[^\s'\"`=!<>(),]+\Z")
# Characters next to which the compact form needs no blank: no token runs on across them.
_SEPARATORS = frozenset("(),'=!<>")

_PRECEDENCE = {ast.Or: 1, ast.And: 2, ast.Not: 3}
_COMPARISON_PRECEDENCE = 4

_MODEL_ID = ast.Field(Entity.ATTRIBUTE, "model_id", ValueType.STRING)

NO_MODEL = ast.In(_MODEL_ID, ())
"""``model_id IN ()``: the comparison written for ``MATCH_NONE`` (false for every model, never unknown)."""

EVERY_MODEL = ast.In(_MODEL_ID, (), negated=True)
"""``model_id NOT IN ()``: the comparison written for an empty AND inside a filter (true for every model)."""


@dataclass(frozen=True, slots=True)
class _Style:
    compact: bool
    status_numbers: bool


def to_text(
    node: ast.Expr, *, status_numbers: bool = False, bounded: bool = True, compact: bool = False
) -> str:
    """The canonical text of a checked tree. ``And(())`` (no condition) is the empty string.

    ``status_numbers``: write a status as the number a server stores (``status = 2``), for MLflow 3.17.
    ``bounded``: keep to what :func:`lmfilter.parse` reads (:data:`~lmfilter.syntax.MAX_LENGTH`
    characters): past it, write the compact form, or raise :class:`FilterError` ``LMF106``. Server text is
    not read back by lmfilter and is not bounded. ``compact``: write the compact form in any case.

    Raises :class:`FilterError` (``LMF105``) for a tree nested too deeply to have a text, and
    :class:`ValueError` for one that holds something no filter can say (a syntax error's placeholder, a
    key with a backtick, a lone surrogate, a number compared as text).

    >>> from lmfilter import parse
    >>> to_text(parse("creation_time > 1e15 AND status IN ('READY', 'FAILED')"), compact=True)
    'creation_time>1e15 AND status IN(READY,FAILED)'
    """
    if node == ast.MATCH_ALL:
        return ""
    tokens, deepest = _tokens(node, _Style(compact, status_numbers))
    if deepest > MAX_DEPTH:
        raise _too_deep(deepest)
    text = _joined(tokens, compact=compact)
    if not compact and bounded and len(text) > MAX_LENGTH:
        text = _joined(_tokens(node, _Style(True, status_numbers))[0], compact=True)
    _characters_only(text)
    if bounded and len(text) > MAX_LENGTH:
        raise _no_text(
            "LMF106",
            f"the filter's text would be {len(text):,} characters even written compactly; "
            f"lmfilter reads at most {MAX_LENGTH:,}",
        )
    return text


def check_nesting(node: ast.Expr) -> None:
    """Raise :class:`FilterError` ``LMF105`` when ``node`` nests deeper than a filter's text may.

    A tree whose text the parser reads is at most about ``2 * MAX_DEPTH`` nodes deep, which every stage
    handles; a tree built by hand may be deeper than Python's recursion allows. Checked without recursion.
    """
    deepest = nesting(node)
    if deepest > MAX_DEPTH:
        raise _too_deep(deepest)


def nesting(node: ast.Expr) -> int:
    """How deeply the text of ``node`` nests: the most parentheses and NOTs around any part of it, which
    the parser counts against :data:`~lmfilter.syntax.MAX_DEPTH`.

    >>> from lmfilter import parse
    >>> nesting(parse("NOT (name = 'a' OR name = 'b') AND name = 'c'")), nesting(parse("name = 'a'"))
    (2, 0)
    """
    deepest = 0
    stack = [(node, 0)]
    while stack:
        current, level = stack.pop()
        current = stand_in(current)
        if isinstance(current, ast.Not):
            level += 1
        deepest = max(deepest, level)
        stack.extend((child, level + _parenthesized(child, current)) for child in ast.children(current))
    return deepest


def stand_in(node: ast.Expr) -> ast.Expr:
    """What is written in the place of ``node``: for an AND or OR of one item, the item; for an empty OR,
    :data:`NO_MODEL`; for an empty AND, :data:`EVERY_MODEL`; else ``node`` itself."""
    while (type(node) is ast.And or type(node) is ast.Or) and len(node.items) < 2:
        if not node.items:
            return EVERY_MODEL if type(node) is ast.And else NO_MODEL
        node = node.items[0]
    return node


def key_text(key: str) -> str:
    """A metric, param or tag key as written after its prefix: plain, or in backticks.

    >>> key_text("lr"), key_text("a.b"), key_text("my key"), key_text("123")
    ('lr', 'a.b', '`my key`', '`123`')
    """
    if "`" in key:
        raise ValueError(f"the key {key!r} holds a backtick and cannot be written in a filter")
    return key if _PLAIN_KEY.match(key) else f"`{key}`"


def field_text(field: ast.Field) -> str:
    """``metrics.<key>``, ``params.<key>``, ``tags.<key>``, or a bare attribute name."""
    if field.entity is Entity.ATTRIBUTE:
        return field.key
    return f"{field.entity.value}.{key_text(field.key)}"


def value_text(value: ast.Value, status_numbers: bool = False) -> str:
    """A value as written in a filter (a number in its canonical spelling)."""
    match value:
        case ast.String(text):
            return "'" + text.replace("'", "''") + "'"
        case ast.Number():
            return ast.canonical_number_text(value.value)
        case ast.Word(text):
            return text
        case ast.StatusValue(status):
            return str(status.number) if status_numbers else f"'{status.name}'"
        case ast.DoubleQuoted(text):
            return f'"{text}"'
    raise TypeError(f"not a value: {value!r}")  # pragma: no cover


def short_number_text(value: float) -> str:
    """The shortest text lmfilter reads as the number ``value``.

    >>> [short_number_text(v) for v in (0.5, 1e16, 1700000000000.0, -0.25, float("inf"), float("-inf"))]
    ['.5', '1e16', '17e11', '-.25', 'inf', '-1e999']
    """
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-1e999"  # "-inf" does not lex as one token
    if value == 0:
        return "0"
    exact = Decimal(repr(abs(value))).normalize()  # the shortest decimal that reads back as the value
    _, digit_tuple, exponent = exact.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    width = len(digits)
    if exponent >= 0:
        positional = digits + "0" * exponent
    elif -exponent < width:
        positional = f"{digits[: width + exponent]}.{digits[width + exponent :]}"
    else:
        positional = "." + "0" * (-exponent - width) + digits
    leading = digits[0] + (f".{digits[1:]}" if width > 1 else "")
    candidates = (positional, f"{leading}e{exponent + width - 1}", f"{digits}e{exponent}")
    return ("-" if value < 0 else "") + min(candidates, key=len)


# ---- tokens -------------------------------------------------------------------------------------------


def _precedence(node: ast.Expr) -> int:
    return _PRECEDENCE.get(type(node), _COMPARISON_PRECEDENCE)


def _parenthesized(child: ast.Expr, parent: ast.Expr) -> bool:
    """Whether ``child`` is written in parentheses under ``parent``: when it binds more loosely, and for
    an AND in an AND or an OR in an OR (to keep the tree's shape)."""
    child = stand_in(child)
    return _precedence(child) < _precedence(parent) or (
        type(child) is type(parent) and not isinstance(child, ast.Not)
    )


def _tokens(root: ast.Expr, style: _Style) -> tuple[list[str], int]:
    """The tokens of ``root``'s text, left to right, and how deeply they nest (see :func:`nesting`).

    Without recursion: a stack of what is still to write, each node with its parentheses and NOTs."""
    out: list[str] = []
    deepest = 0
    pending: list[tuple[ast.Expr, int] | str] = [(root, 0)]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node, level = item
        node = stand_in(node)
        kind = type(node)
        if kind is ast.Not:
            level += 1
        if level > deepest:
            deepest = level
        if kind is ast.And or kind is ast.Or or kind is ast.Not:
            keyword = "AND" if kind is ast.And else "OR" if kind is ast.Or else "NOT"
            below = ast.children(node)
            for i in range(len(below) - 1, -1, -1):  # pushed last first, so that they pop in order
                child = below[i]
                if _parenthesized(child, node):
                    pending += (")", (child, level + 1), "(")
                else:
                    pending.append((child, level))
                if i or kind is ast.Not:
                    pending.append(keyword)
        else:
            out += _comparison(node, style)
    return out, deepest


def _comparison(node: ast.Expr, style: _Style) -> list[str]:
    match node:
        case ast.Compare(field, op, ast.Number() as number) if field.entity is Entity.PARAM and op in (
            ast.Op.EQ,
            ast.Op.NE,
        ):
            return _comparison(ast.equal_number(field, number, negated=op is ast.Op.NE), style)
        case ast.Compare(field, op, value):
            _numbers_read_as_numbers(field, (value,), numeric=op in ast.ORDERING_OPS)
            return [_field(field, style), op.value, _value(value, style)]
        case ast.Like(field, pattern, negated, insensitive):
            _numbers_read_as_numbers(field, (pattern,), numeric=False)
            like = "ILIKE" if insensitive else "LIKE"
            return [_field(field, style), *(["NOT"] if negated else []), like, _value(pattern, style)]
        case ast.In(field, values, negated):
            _numbers_read_as_numbers(field, values, numeric=False)
            listed: list[str] = []
            for i, value in enumerate(values):
                listed.extend([",", _value(value, style)] if i else [_value(value, style)])
            return [_field(field, style), *(["NOT"] if negated else []), "IN", "(", *listed, ")"]
        case ast.IsNull(field, negated):
            return [_field(field, style), "IS", *(["NOT"] if negated else []), "NULL"]
        case ast.Between(field, low, high, negated):
            _numbers_read_as_numbers(field, (low, high), numeric=True)
            between = ["NOT", "BETWEEN"] if negated else ["BETWEEN"]
            return [_field(field, style), *between, _value(low, style), "AND", _value(high, style)]
        case ast.Invalid():
            raise ValueError("a tree with syntax errors has no text")
    raise TypeError(f"not a filter node: {node!r}")


def _numbers_read_as_numbers(field: ast.Field, values: tuple[ast.Value, ...], *, numeric: bool) -> None:
    """Refuse a number compared with a field of text, unless the comparison reads the field as a number
    (an ordering or BETWEEN on a param): its text would compare the number's text, which means otherwise.
    The checker never makes one; a tree built by hand may."""
    if field.type is not ValueType.STRING or not any(isinstance(v, ast.Number) for v in values):
        return
    if numeric and field.entity is Entity.PARAM:
        return
    raise ValueError(
        f"{field_text(field)} holds text: a number compared with it here has no text in a filter "
        "(a number is compared with a param only by < <= > >= and BETWEEN; write a string: '...')"
    )


def _field(field: ast.Field, style: _Style) -> str:
    if not style.compact:
        return field_text(field)
    if field.entity is Entity.ATTRIBUTE:
        attr = attribute(field.key)
        return min((attr.name, *attr.aliases), key=len) if attr else field.key
    key = field.key if _LEXER_PLAIN_KEY.match(field.key) else key_text(field.key)
    return f"{field.entity.value}.{key}"


def _value(value: ast.Value, style: _Style) -> str:
    if style.compact:
        match value:
            case ast.Number():
                return short_number_text(value.value)
            case ast.StatusValue(status) if not style.status_numbers:
                return status.name
    return value_text(value, style.status_numbers)


def _joined(tokens: list[str], *, compact: bool) -> str:
    """The tokens with blanks between them: canonically one, but none inside parentheses or before a
    comma; compactly only where two tokens would otherwise run together."""
    parts: list[str] = []
    previous = ""
    for token in tokens:
        if previous and (
            not (previous[-1] in _SEPARATORS or token[0] in _SEPARATORS)
            if compact
            else not (previous == "(" or token in (")", ","))
        ):
            parts.append(" ")
        parts.append(token)
        previous = token
    return "".join(parts)


def _characters_only(text: str) -> None:
    """Raise unless ``text`` is characters only: a lone surrogate is none, and neither lmfilter nor a
    server reads it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        found = error.object[error.start : error.end]
        raise ValueError(f"the filter holds {found!a}, a lone surrogate, which no filter can hold") from None


def _too_deep(deepest: int) -> FilterError:
    return _no_text(
        "LMF105",
        f"the filter nests {deepest:,} levels of parentheses and NOT; lmfilter reads at most {MAX_DEPTH}",
    )


def _no_text(code: str, message: str) -> FilterError:
    return FilterError("", (Diagnostic(code, "error", message, Span(0, 0)),))
