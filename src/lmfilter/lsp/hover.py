"""Hover: the field under the cursor (:func:`field_at`) and the Markdown shown over it.

A token is a field where the parser reads it as one (:class:`lmfilter.lsp.fields.ReadTokens`), in a broken
or half-typed filter too. The Markdown (:func:`describe_field`) says the field's type, what it means on the
target, the operators it takes (:mod:`lmfilter.lsp.fields`), and what the known models hold for it
(:mod:`lmfilter.lsp.known`).
"""

from __future__ import annotations

from lmfilter import ast
from lmfilter.ast import Entity, ValueType
from lmfilter.diagnostics import Span
from lmfilter.lsp.fields import ReadTokens, operators_for, typed_field
from lmfilter.lsp.known import FieldStats, Known
from lmfilter.printer import field_text, value_text
from lmfilter.schema import Target, attribute

_ENTITY_MEANING = {
    Entity.PARAM: (
        "A param of the model: text. Servers compare it as text; lmfilter also compares it as a number "
        "(`params.lr < 0.1`), evaluated locally. A model without the param matches only IS NULL."
    ),
    Entity.TAG: "A tag of the model: text. A model without the tag matches only IS NULL.",
}


def field_at(text: str, offset: int) -> tuple[Span, str] | None:
    """The field under ``offset`` of a filter (the token it is in, else the one it is just after): where
    it is and its text, if the parser reads that token as a field.

    >>> field_at("name = 'a' AND metr", 17), field_at("name = 'a' AND metr", 8)
    ((Span(start=15, end=19), 'metr'), None)
    """
    read = ReadTokens(text)
    under = None
    for index, tok in enumerate(read.tokens):
        start, end = tok.start_pos or 0, tok.end_pos or 0
        if start > offset:
            break
        if end >= offset:
            under = index  # the one it is just after, until one it is in comes
            if end > offset:
                break
    operand = None if under is None else read.operands[under]
    if under is None or operand is None or not operand.is_field:
        return None
    tok = read.tokens[under]
    return Span(tok.start_pos or 0, tok.end_pos or 0), str(tok)


def _meaning(fld: ast.Field, target: Target) -> str:
    if fld.entity is Entity.METRIC:
        rule = (
            "a condition tests the metric's latest value (by step, then timestamp, then value)"
            if target.metric_rule == "latest"
            else "a condition matches when any logged value of the metric passes"
        )
        absent = "A model without the metric matches only IS NULL."
        return f"A metric of the model: a number. On {target.title}, {rule}. {absent}"
    if fld.entity is Entity.ATTRIBUTE:
        attr = attribute(fld.key)
        if attr is None:
            return ""
        also = f" Also written {', '.join(attr.aliases)}." if attr.aliases else ""
        return attr.doc + also
    return _ENTITY_MEANING[fld.entity]


def describe_field(written: str, known: Known, target: Target, native: bool) -> str | None:
    """Markdown about a field: its type, what it means, its operators, and what known models hold."""
    fld = typed_field(written)
    if fld.type is ValueType.UNKNOWN:
        return None
    try:
        title = field_text(fld)
    except ValueError:
        title = written
    operators = " ".join(f"`{label}`" for label, _ in operators_for(written, target, native))
    lines = [f"**{title}** — {fld.type.value}", "", _meaning(fld, target), "", f"Operators: {operators}"]
    stats = known.stats(fld)
    if stats is not None:
        lines += ["", f"In {stats.models} of {known.models} models ({known.source}): {_seen(stats)}"]
    return "\n".join(lines)


def _seen(stats: FieldStats) -> str:
    parts = []
    if stats.low is not None and stats.high is not None:
        low, high = (ast.canonical_number_text(bound) for bound in (stats.low, stats.high))
        parts.append(f"min {low}, max {high}")
    if stats.values:
        common = [f"{value_text(ast.String(v))} ({n})" for v, n in stats.values.most_common(5)]
        more = len(stats.values) - len(common)
        parts.append("values " + ", ".join(common) + (f" and {more} more" if more > 0 else ""))
    if stats.datasets:
        parts.append("datasets " + ", ".join(sorted(stats.datasets)))
    return "; ".join(parts)
