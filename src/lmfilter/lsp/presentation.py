"""How filters look in the editor: their semantic tokens (:func:`semantic_tokens`) and the edits formatting
them (:func:`formatting_edits`).

Semantic tokens color each token of a filter by its terminal, and fields, word values and status names by
what the parser reads them as (:class:`lmfilter.lsp.fields.ReadTokens`), in the legend :data:`TOKEN_TYPES`;
formatting rewrites each filter that parses in canonical text (:func:`lmfilter.format`). Both take the sites
to do, and a ``stop`` to ask between them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from lark import Token
from lsprotocol import types

from lmfilter import api
from lmfilter.ast import ValueType
from lmfilter.diagnostics import FilterError, Span
from lmfilter.lsp.analysis import Stale
from lmfilter.lsp.fields import Budget, Operand, ReadTokens, keywords, typed_field
from lmfilter.lsp.positions import Lines, Site
from lmfilter.status import ModelStatus
from lmfilter.syntax import MAX_LENGTH

TOKEN_TYPES = ("keyword", "property", "string", "number", "operator", "enumMember")
"""The semantic token legend: keywords, fields, strings, numbers, operators, status names."""


_TOKEN_TYPE = {name: index for index, name in enumerate(TOKEN_TYPES)}
_TERMINAL_TYPE = {
    "COMPARE_OP": "operator",
    "BAD_OP": "operator",
    "STRING": "string",
    "DQ_STRING": "string",
    "UNTERMINATED_STRING": "string",
    "UNTERMINATED_DQ_STRING": "string",
    "NUMBER": "number",
    "FIELD": "property",
    "UNTERMINATED_FIELD": "property",
}


@functools.cache
def _terminal_type(kind: str) -> str | None:
    """The color of a token by its terminal alone (punctuation, words and faults have none)."""
    return "keyword" if kind in keywords() else _TERMINAL_TYPE.get(kind)


def _token_type(tok: Token, operand: Operand | None) -> str | None:
    if operand is None:
        return _terminal_type(tok.type)
    if operand.is_field:
        return "property"
    if typed_field(operand.field).type is ValueType.STATUS:
        name = str(tok)[1:-1].replace("''", "'") if tok.type == "STRING" else str(tok)
        if name in ModelStatus.names():
            return "enumMember"
    return "string" if tok.type == "WORD" else _terminal_type(tok.type)


def semantic_tokens(lines: Lines, sites: Iterable[Site], stop: Callable[[], bool] | None = None) -> list[int]:
    """The LSP encoding of the semantic tokens of filters (one line each; no modifiers).

    A filter longer than the parser reads (:data:`lmfilter.syntax.MAX_LENGTH`) is not colored. ``stop`` is
    asked between filters; when it says so, :class:`~lmfilter.lsp.analysis.Stale` is raised.
    """
    found: list[tuple[int, int, int, int]] = []
    budget = Budget()  # one for the request: many short broken filters cost no more than a long one
    for site in sites:
        if stop is not None and stop():
            raise Stale
        if len(site.text) > MAX_LENGTH:
            continue
        read = ReadTokens(site.text, budget)
        for tok, operand in zip(read.tokens, read.operands, strict=True):
            kind = _token_type(tok, operand)
            if kind is None:
                continue
            start = lines.position(site.place.position(tok.start_pos or 0))
            end = lines.position(site.place.position(tok.end_pos or 0))
            if end.line != start.line:  # a string across lines: its first line only
                line_text = lines.at(start.line)
                end = types.Position(line=start.line, character=lines.units(line_text, len(line_text)))
            found.append((start.line, start.character, end.character - start.character, _TOKEN_TYPE[kind]))
    data: list[int] = []
    last_line = last_start = 0
    for line, column, length, token_type in sorted(found):
        data += [
            line - last_line,
            column - last_start if line == last_line else column,
            length,
            token_type,
            0,
        ]
        last_line, last_start = line, column
    return data


def formatting_edits(
    lines: Lines, sites: Iterable[Site], stop: Callable[[], bool] | None = None
) -> list[types.TextEdit]:
    """An edit to the canonical text of each filter that parses and is not canonical already.

    ``stop`` is asked between filters; when it says so, :class:`~lmfilter.lsp.analysis.Stale` is raised.
    """
    edits = []
    for site in sites:
        if stop is not None and stop():
            raise Stale
        try:
            canonical = api.format(site.text)
        except FilterError:
            continue
        if canonical != site.text:
            whole = site.range(lines, Span(0, len(site.text)))
            edits.append(types.TextEdit(range=whole, new_text=canonical))
    return edits
