"""Checked tree to canonical text.

The canonical form has upper-case keywords, single spaces, single-quoted strings (a quote doubled), keys in
backticks only where they need them, canonical attribute names (``creation_timestamp``), status by its
short name, and parentheses only where precedence (NOT > AND > OR) or the tree's shape needs them. Parsing
the canonical text gives back an equal tree.

>>> from lmfilter import parse
>>> to_text(parse("not (params.a = 'x' or tags.`my key` like 'y%') and creation_time>5"))
"NOT (params.a = 'x' OR tags.`my key` LIKE 'y%') AND creation_timestamp > 5"
"""

from __future__ import annotations

import re

from lmfilter import ast
from lmfilter.ast import Entity

# Keys that need no backticks, for lmfilter and for MLflow alike (MLflow needs them for keys of digits
# alone, and for `in`, which its tokenizer reads as the keyword).
_PLAIN_KEY = re.compile(r"(?!\d+\Z)(?![iI][nN]\Z)[^\W][\w.\-/]*\Z")

_PRECEDENCE = {ast.Or: 1, ast.And: 2, ast.Not: 3}
_COMPARISON_PRECEDENCE = 4


def to_text(node: ast.Expr, *, status_numbers: bool = False) -> str:
    """The canonical text of a checked tree. ``And(())`` (no condition) is the empty string.

    ``status_numbers``: write a status as the number a server stores (``status = 2``), for MLflow 3.17.
    """
    if node == ast.MATCH_ALL:
        return ""
    return _expr(node, status_numbers)


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
    """A value as written in a filter."""
    match value:
        case ast.String(text):
            return "'" + text.replace("'", "''") + "'"
        case ast.Number(text) | ast.Word(text):
            return text
        case ast.StatusValue(status):
            return str(status.number) if status_numbers else f"'{status.name}'"
        case ast.DoubleQuoted(text):
            return f'"{text}"'
    raise TypeError(f"not a value: {value!r}")  # pragma: no cover


def _precedence(node: ast.Expr) -> int:
    return _PRECEDENCE.get(type(node), _COMPARISON_PRECEDENCE)


def _operand(node: ast.Expr, parent: ast.Expr, numbers: bool) -> str:
    text = _expr(node, numbers)
    # Parenthesize a looser child, and a nested And/Or of the parent's own kind (to keep the tree's shape).
    if _precedence(node) < _precedence(parent) or (
        type(node) is type(parent) and not isinstance(node, ast.Not)
    ):
        return f"({text})"
    return text


def _expr(node: ast.Expr, numbers: bool) -> str:
    match node:
        case ast.And(items) | ast.Or(items):
            if not items:
                raise ValueError("an empty AND/OR cannot stand inside a filter")
            joiner = " AND " if isinstance(node, ast.And) else " OR "
            return joiner.join(_operand(item, node, numbers) for item in items)
        case ast.Not(item):
            return f"NOT {_operand(item, node, numbers)}"
        case ast.Compare(field, op, value):
            return f"{field_text(field)} {op.value} {value_text(value, numbers)}"
        case ast.Like(field, pattern, negated, insensitive):
            keyword = ("NOT " if negated else "") + ("ILIKE" if insensitive else "LIKE")
            return f"{field_text(field)} {keyword} {value_text(pattern)}"
        case ast.In(field, values, negated):
            listed = ", ".join(value_text(v, numbers) for v in values)
            return f"{field_text(field)} {'NOT IN' if negated else 'IN'} ({listed})"
        case ast.IsNull(field, negated):
            return f"{field_text(field)} IS {'NOT NULL' if negated else 'NULL'}"
        case ast.Between(field, low, high, negated):
            keyword = "NOT BETWEEN" if negated else "BETWEEN"
            return f"{field_text(field)} {keyword} {value_text(low)} AND {value_text(high)}"
        case ast.Invalid():
            raise ValueError("a tree with syntax errors has no text")
    raise TypeError(f"not a filter node: {node!r}")  # pragma: no cover
