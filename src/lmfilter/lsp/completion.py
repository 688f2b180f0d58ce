"""Completion: what may be typed at a point of a filter (:func:`suggest`).

It asks the parser what its LALR state takes at the point (:func:`lmfilter.syntax.expected_at`, which reads
broken, half-typed text with the parser's own recovery) and offers that: entity prefixes, attributes and
known keys where a field goes, the operators the checker accepts for that field (:mod:`lmfilter.lsp.fields`),
status names and known values where a value goes (:mod:`lmfilter.lsp.known`), and keywords; each only if
the parser's state takes the token it starts with. A :class:`Suggestion` counts in the filter's text; the
request handler in :mod:`lmfilter.lsp.server` writes it into the document.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from lsprotocol import types

from lmfilter import ast
from lmfilter.ast import Entity, ValueType
from lmfilter.lsp.fields import lex, operators_for, typed_field
from lmfilter.lsp.known import NOTHING_KNOWN, Known
from lmfilter.printer import field_text, value_text
from lmfilter.schema import ATTRIBUTES, ENTITY_PREFIXES, Feature, Target, get_target
from lmfilter.status import ModelStatus
from lmfilter.syntax import Expected, Slot, expected_at

_K = types.CompletionItemKind


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A completion: the text to put over the filter's ``[start, end)`` (``end`` is at or past the cursor)."""

    label: str
    kind: types.CompletionItemKind
    insert: str
    start: int
    end: int
    detail: str = ""


_Make = Callable[..., Suggestion]
_STATUS_NAMES = tuple(f"'{status.name}'" for status in ModelStatus)
_MAX_VALUES = 100


def suggest(
    text: str,
    offset: int,
    known: Known = NOTHING_KNOWN,
    target: Target | str = "mlflow",
    native: bool = False,
) -> list[Suggestion]:
    """What may be typed at ``offset`` of a filter, from the text before it (the text may be broken).

    Each suggestion starts with a token the parser's state takes there.
    """
    found = expected_at(text, offset)
    partial = found.partial
    end = offset
    if partial is not None and partial.kind.startswith("UNTERMINATED_"):
        # An open string or key, closed just after the cursor (as editors close quotes): replace it whole.
        quote = next(char for char in partial.text if char in _QUOTES)
        if text.startswith(quote, offset):
            end += 1

    before = text[found.start - 1 : found.start]

    def item(
        label: str, kind: types.CompletionItemKind, insert: str | None = None, detail: str = ""
    ) -> Suggestion:
        written = label if insert is None else insert
        if before.strip() and _runs_into(before, written):  # an open string right after a word: x'a
            written = " " + written
        return Suggestion(label, kind, written, found.start, end, detail)

    offered = _offered(found, known, get_target(target), native, item)
    # Keywords and operators only where the parser takes them (fields and values are the printer's, and
    # the slot is theirs).
    return [s for s in offered if s.kind not in _WORDS or _first_terminal(s.insert) in found.terminals]


_WORDS = frozenset({_K.Keyword, _K.Operator})


_QUOTES = "'\"`"


@functools.lru_cache(maxsize=4096)
def _runs_into(char: str, text: str) -> bool:
    """Whether ``text`` written right after ``char`` would lex as one token with it (``x`` and ``IN``)."""
    first = next(iter(lex(char + text)), None)
    return first is not None and first.start_pos == 0 and (first.end_pos or 0) > 1


@functools.lru_cache(maxsize=4096)
def _first_terminal(text: str) -> str:
    """The terminal that ``text`` starts with."""
    return next((tok.type for tok in lex(text)), "$END")


def _offered(found: Expected, known: Known, profile: Target, native: bool, item: _Make) -> list[Suggestion]:
    """What completes the slot ``found`` names, before it is checked against the terminals it takes."""

    def keywords(*words: str) -> list[Suggestion]:
        return [item(word, _K.Keyword) for word in words if _native_keyword(word, profile, native)]

    slot, field = found.slot, found.field or ""
    partial = found.partial.text if found.partial else ""
    if slot is Slot.OPERAND:
        fields = _operand_suggestions(partial, known, profile, native, item)
        return fields if "." in partial else fields + keywords("NOT", "(")
    if slot is Slot.OPERATOR:
        return [item(label, _K.Operator, insert) for label, insert in operators_for(field, profile, native)]
    if slot is Slot.NEGATED:
        labels = [label for label, _ in operators_for(field, profile, native)]
        return [item(label[4:], _K.Keyword) for label in labels if label.startswith("NOT ")]
    if slot is Slot.NULL:
        return keywords("NULL", "NOT NULL")
    if slot in (Slot.VALUE, Slot.LIST_VALUE, Slot.LOW, Slot.HIGH):
        return _value_suggestions(field, known, slot, item)
    if slot is Slot.LIST_OPEN:
        return [item("(", _K.Keyword)]
    if slot is Slot.LIST_NEXT:
        return [item(",", _K.Keyword), item(")", _K.Keyword)]
    if slot is Slot.BETWEEN_AND:
        return keywords("AND")
    if slot is Slot.CONNECTIVE:
        return keywords("AND", "OR", ")")
    return []  # Slot.NOTHING: text the parser does not read


_KEYWORD_FEATURES = {"OR": Feature.OR, "NOT": Feature.NOT, "(": Feature.GROUPING}


def _native_keyword(word: str, target: Target, native: bool) -> bool:
    feature = _KEYWORD_FEATURES.get(word)
    return not native or feature is None or feature in target.features


def _operand_suggestions(
    partial: str, known: Known, target: Target, native: bool, item: _Make
) -> list[Suggestion]:
    prefix, dot, _ = partial.partition(".")
    entity = ENTITY_PREFIXES.get(prefix) if dot else None
    attributes = [attr for attr in ATTRIBUTES if not native or attr.name in target.attributes]
    out: list[Suggestion] = []
    if entity is None:
        out += [
            item(f"{name}.", _K.Module, detail=f"{prefixed.name.lower()} key")
            for name, prefixed in ENTITY_PREFIXES.items()
        ]
        out += [item(attr.name, _K.Field, detail=f"attribute — {attr.type.value}") for attr in attributes]
    elif entity is Entity.ATTRIBUTE:
        out += [
            item(f"attributes.{attr.mlflow_column}", _K.Field, detail=attr.type.value) for attr in attributes
        ]
    for kind in (Entity.METRIC, Entity.PARAM, Entity.TAG):
        if entity not in (None, kind):
            continue
        for key in known.keys(kind):
            try:
                written = field_text(ast.Field(kind, key))
            except ValueError:
                continue
            stats = known.fields[(kind, key)]
            out.append(item(written, _K.Variable, detail=f"{kind.name.lower()} — in {stats.models} models"))
    return out


def _value_suggestions(field_written: str, known: Known, slot: Slot, item: _Make) -> list[Suggestion]:
    fld = typed_field(field_written)
    if fld.type is ValueType.STATUS:
        return [] if slot in (Slot.LOW, Slot.HIGH) else [item(name, _K.EnumMember) for name in _STATUS_NAMES]
    stats = known.stats(fld)
    if stats is None:
        return []
    if fld.type is ValueType.NUMBER:
        bounds = [(stats.low, "the smallest known"), (stats.high, "the largest known")]
        return [
            item(ast.canonical_number_text(value), _K.Value, detail=why)
            for value, why in bounds
            if value is not None
        ]
    return [
        item(value_text(ast.String(value)), _K.Value, detail=f"in {count} models")
        for value, count in stats.values.most_common(_MAX_VALUES)
    ]
