"""What a field is and what it takes, and what the parser reads each token of a filter as.

:func:`typed_field` types a field as it is written in a token, even half-typed; :func:`operators_for` gives
the operators the checker accepts after it on a target. :class:`ReadTokens` holds a filter's tokens
(:func:`lex`) and says which the parser reads as a field, and which as a value of which field
(:class:`Operand`), from the parse tree and, for a condition cut short, the parser's own state
(:func:`lmfilter.syntax.expected_at`), within a :class:`Budget`. The token kinds it needs come from the
grammar (:func:`keywords`, and the terminals of its ``field`` and ``value`` rules). Completion offers the
operators, hover finds the field under the cursor and lists its operators, and semantic tokens color fields,
and status values by the type of their field.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
from collections.abc import Iterator
from typing import NamedTuple

from lark import Token

from lmfilter import api, ast, lark_adapter
from lmfilter.ast import Entity, ValueType
from lmfilter.printer import field_text
from lmfilter.schema import Target, attribute, entity_type, get_target
from lmfilter.syntax import Expected, Slot, expected_at, field_from_text, parse_surface, parser, tokens

# (label, text inserted, a whole condition to try it in: {f} the field, {v} a value of the field's type)
_OPERATORS = (
    ("=", "=", "{f} = {v}"),
    ("!=", "!=", "{f} != {v}"),
    ("<", "<", "{f} < 1"),
    ("<=", "<=", "{f} <= 1"),
    (">", ">", "{f} > 1"),
    (">=", ">=", "{f} >= 1"),
    ("IN", "IN (", "{f} IN ({v})"),
    ("NOT IN", "NOT IN (", "{f} NOT IN ({v})"),
    ("LIKE", "LIKE", "{f} LIKE {v}"),
    ("ILIKE", "ILIKE", "{f} ILIKE {v}"),
    ("NOT LIKE", "NOT LIKE", "{f} NOT LIKE {v}"),
    ("NOT ILIKE", "NOT ILIKE", "{f} NOT ILIKE {v}"),
    ("BETWEEN", "BETWEEN", "{f} BETWEEN 1 AND 2"),
    ("NOT BETWEEN", "NOT BETWEEN", "{f} NOT BETWEEN 1 AND 2"),
    ("IS NULL", "IS NULL", "{f} IS NULL"),
    ("IS NOT NULL", "IS NOT NULL", "{f} IS NOT NULL"),
)
_SAMPLE_VALUES = {ValueType.NUMBER: "1", ValueType.STATUS: "'READY'"}


def typed_field(text: str) -> ast.Field:
    """The field a FIELD or WORD token names, typed (an unknown attribute is ``UNKNOWN``)."""
    fld = field_from_text(text + "`" if text.count("`") % 2 else text)
    if fld.entity is Entity.ATTRIBUTE:
        attr = attribute(fld.key)
        if attr is not None:
            return ast.Field(Entity.ATTRIBUTE, attr.name, attr.type)
        return ast.Field(Entity.ATTRIBUTE, fld.key, ValueType.UNKNOWN)
    return ast.Field(fld.entity, fld.key, entity_type(fld.entity, fld.key))


@functools.lru_cache(maxsize=1024)
def operators_for(field_written: str, target: Target, native: bool) -> tuple[tuple[str, str], ...]:
    """The operators (label, text to insert) that the checker takes after a field, for a target.

    Each is tried in a whole condition: one the checker finds an error or warning in, other than in the
    field itself, is left out. If none is left (a field the target lacks), those of local evaluation are.

    >>> mlflow = get_target("mlflow")
    >>> [label for label, _ in operators_for("status", mlflow, False)]
    ['=', '!=', 'IN', 'NOT IN']
    >>> [label for label, _ in operators_for("params.lr", mlflow, True)]
    ['=', '!=', 'IN', 'NOT IN', 'LIKE', 'ILIKE']
    """
    fld = typed_field(field_written)
    try:
        written = field_text(fld)
    except ValueError:  # a key with a backtick
        written = ""
    if fld.type is ValueType.UNKNOWN or not written:  # nothing to judge by
        return tuple((label, insert) for label, insert, _ in _OPERATORS)
    value = _SAMPLE_VALUES.get(fld.type, "'x'")
    for checked_target, checked_native in ((target, native), (get_target("local"), False)):
        taken = tuple(
            (label, insert)
            for label, insert, shape in _OPERATORS
            if not any(
                d.severity != "info" and d.span.end > len(written)
                for d in api.check(shape.format(f=written, v=value), checked_target, checked_native)
            )
        )
        if taken:
            return taken
    return ()


# ---- what the parser reads each token as ----------------------------------------------------------------


def lex(text: str) -> list[Token]:
    """The tokens of ``text`` as the parser's lexer reads them, faults as they are (not mended).

    :func:`lmfilter.syntax.tokens`, as Lark's public :class:`~lark.Token` (Lark's own ``lex`` would build a
    lexer for each text).
    """
    return [Token(tok.kind, tok.text, start_pos=tok.start, end_pos=tok.end) for tok in tokens(text)]


@functools.cache
def keywords() -> frozenset[str]:
    """The grammar's keywords (``AND``, ``OR``, ``NOT``, ...): its terminals that match in any letter case.

    >>> sorted(keywords())[:4]
    ['AND', 'BETWEEN', 'ILIKE', 'IN']
    """
    return frozenset(terminal.name for terminal in parser().terminals if "i" in terminal.pattern.flags)


@functools.cache
def _made_of(rule: str) -> frozenset[str]:
    """The terminals the grammar's ``rule`` is one of (``field`` is a FIELD or a WORD)."""
    return frozenset(
        symbol.name
        for compiled in lark_adapter.lalr_table(parser()).rules()
        if compiled.origin == rule
        for symbol in compiled.expansion
        if symbol.is_terminal
    )


def _as_read(kind: str) -> str:
    """The terminal the parser reads a token of ``kind`` as: an unterminated string or key is read as if
    closed at the end of the text (:mod:`lmfilter.syntax` reports it and mends it so)."""
    return kind.removeprefix("UNTERMINATED_")


_VALUE_SLOTS = frozenset({Slot.VALUE, Slot.LIST_VALUE, Slot.LOW, Slot.HIGH})
# Where the parser's recovery stops skipping a broken condition (see lmfilter.syntax).
_SKIP_STOPS = frozenset({"AND", "OR", "RPAR"})


class Operand(NamedTuple):
    """What the parser reads a token as: a field (``is_field``), or a value compared with ``field``.

    ``field`` is the field of the token's condition as written (a field's own text).
    """

    is_field: bool
    field: str


class Budget:
    """How much the lookups of :class:`ReadTokens` may read, in characters: as many as the filters read with
    it hold, and :data:`FLOOR` more. A lookup costs the text it reads, and :data:`CALL` for itself."""

    FLOOR = 16_384
    CALL = 64

    def __init__(self) -> None:
        self.left = self.FLOOR

    def spend(self, chars: int) -> bool:
        """Take ``chars`` and a call's cost from what is left; ``False`` (taking nothing) if it does not hold
        that much."""
        cost = chars + self.CALL
        if cost > self.left:
            return False
        self.left -= cost
        return True


class ReadTokens:
    """A filter's tokens (as the parser's lexer gives them), and what the parser reads each as: a field, a
    value, or neither (:attr:`operands`, one for each of :attr:`tokens`).

    A FIELD token is a field wherever it stands (the grammar has it nowhere else). The parse tree says what
    the other tokens are, in each condition the parser read whole. A condition cut short (being typed, or
    broken) is not in the tree: there :func:`~lmfilter.syntax.expected_at` says what the parser's state
    takes where a token starts, a field or a value, and for a word after a whole condition, whether the
    parser took it as a field (inserting the missing AND). Each such lookup reads the text up to the token,
    so they are bounded by a :class:`Budget` (one per filter unless given, shared by the filters of a
    request): past it, a word is read as neither. So are words the parser skips after a broken condition,
    and any word of text it does not read at all (too long, too deep, too broken).

    >>> read = ReadTokens("name = 'a' AND status IN (READY, ")
    >>> [(str(tok), operand) for tok, operand in zip(read.tokens, read.operands) if operand]
    [('name', Operand(is_field=True, field='name')), ("'a'", Operand(is_field=False, field='name')), \
('status', Operand(is_field=True, field='status')), ('READY', Operand(is_field=False, field='status'))]
    >>> cut = ReadTokens("name = 'a' OR status BETWEEN")
    >>> [str(tok) for tok, operand in zip(cut.tokens, cut.operands) if operand]
    ['name', "'a'", 'status']
    """

    def __init__(self, text: str, budget: Budget | None = None) -> None:
        self.text = text
        self.tokens = lex(text)
        self._budget = Budget() if budget is None else budget
        self._budget.left += len(text)
        self.operands: list[Operand | None] = self._read()

    def _read(self) -> list[Operand | None]:
        read: dict[int, Operand] = {}  # by the token's start
        conditions: list[tuple[int, int]] = []  # the spans of those the tree holds
        tree = parse_surface(self.text).tree
        if tree is not None:
            for condition in ast.comparisons(tree):
                conditions.append((condition.span.start, condition.span.end))
                written = condition.field.written
                read[condition.field.span.start] = Operand(True, written)
                for value in _values(condition):
                    read[value.span.start] = Operand(False, written)
        conditions.sort()
        starts = [start for start, _ in conditions]
        operands: list[Operand | None] = []
        skipping = False  # past a word the parser skips, up to where its skipping stops
        for tok in self.tokens:
            start, kind = tok.start_pos or 0, _as_read(tok.type)
            skipping = skipping and kind not in _SKIP_STOPS
            at = bisect.bisect_right(starts, start) - 1
            if start in read:
                operands.append(read[start])
            elif kind not in _made_of("value"):
                operands.append(Operand(True, str(tok)) if kind in _made_of("field") else None)
            elif tree is None or skipping or (at >= 0 and start < conditions[at][1]):
                operands.append(None)  # not read, or skipped, or in a condition as neither
            else:
                operand = self._look_up(tok, kind)
                skipping = operand is None and kind in _made_of("field")
                operands.append(operand)
        return operands

    def _look_up(self, tok: Token, kind: str) -> Operand | None:
        """What the parser's state takes before and after ``tok``, a token the tree does not place."""
        start = tok.start_pos or 0
        before = self._expected(start)
        if before is None:
            return None
        if before.slot in _VALUE_SLOTS and kind in before.terminals:
            return Operand(False, before.field or "")
        if kind not in _made_of("field"):
            return None
        if before.slot is Slot.OPERAND:
            return Operand(True, str(tok))
        # After a whole condition the parser inserts a missing AND before a field, and it reads the field
        # then; after a broken one it skips the word. Which it did shows in what it wants after the word.
        after = self._expected(tok.end_pos or 0) if before.slot is Slot.CONNECTIVE else None
        if after is not None and after.slot is Slot.OPERATOR and after.field == str(tok):
            return Operand(True, str(tok))
        return None

    def _expected(self, offset: int) -> Expected | None:
        """What the parser takes after ``text[:offset]`` (``None`` once the budget is spent).

        A blank ends the word before (``IN'a'``): what is asked is what follows it, not what replaces it.
        """
        if not self._budget.spend(offset + 1):
            return None
        return expected_at(self.text[:offset] + " ", offset + 1)


def _values(condition: ast.Comparison) -> Iterator[ast.Node]:
    """The values a condition compares its field with, whatever its kind of condition."""
    for slot in dataclasses.fields(condition):
        held = getattr(condition, slot.name)
        for item in held if isinstance(held, tuple) else (held,):
            if isinstance(item, ast.Node) and not isinstance(item, ast.Field):
                yield item
