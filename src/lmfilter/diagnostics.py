"""Positions, diagnostics and the one error type users see.

Every stage reports problems as :class:`Diagnostic` values: a stable code (``LMF1xx`` syntax, ``LMF2xx``
fields and types, ``LMF3xx`` target support), a severity, a message, the :class:`Span` of text it is about,
and the machine-applicable :class:`Fix` es that would mend it. Stages collect diagnostics instead of
stopping at the first; :class:`FilterError` carries all of them when a filter cannot be used.

>>> text = "nmae = 'x'"
>>> d = Diagnostic("LMF202", "error", "unknown attribute 'nmae'", Span(0, 4),
...                (Fix("replace with 'name'", (Edit(Span(0, 4), "name"),)),))
>>> print(render(text, [d]))
error[LMF202]: unknown attribute 'nmae'
 --> 1:1
  |
1 | nmae = 'x'
  | ^^^^ fix: replace with 'name'
>>> d.fixes[0].apply(text)
"name = 'x'"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]

SEVERITY_RANK: dict[Severity, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A half-open range ``[start, end)`` of character offsets into the filter text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad span [{self.start}, {self.end})")

    def cover(self, other: Span) -> Span:
        """The smallest span holding both."""
        return Span(min(self.start, other.start), max(self.end, other.end))

    def text(self, source: str) -> str:
        return source[self.start : self.end]


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column, as people and editors count them (columns in code points)."""

    line: int
    column: int

    @classmethod
    def of(cls, text: str, offset: int) -> Position:
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        return cls(line, column)


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text under ``span`` by ``replacement`` (an empty span inserts)."""

    span: Span
    replacement: str


@dataclass(frozen=True, slots=True)
class Fix:
    """A named set of non-overlapping edits that mends one diagnostic."""

    title: str
    edits: tuple[Edit, ...]

    def apply(self, text: str) -> str:
        """The text with every edit made."""
        out = text
        for edit in sorted(self.edits, key=lambda e: e.span, reverse=True):
            out = out[: edit.span.start] + edit.replacement + out[edit.span.end :]
        return out


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about a filter, with where it is and how to mend it."""

    code: str
    severity: Severity
    message: str
    span: Span
    fixes: tuple[Fix, ...] = ()

    def to_json(self, text: str | None = None) -> dict[str, object]:
        """A JSON-ready dict; with the filter ``text``, line and column too."""
        out: dict[str, object] = {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "span": {"start": self.span.start, "end": self.span.end},
            "fixes": [
                {
                    "title": fix.title,
                    "edits": [
                        {"start": e.span.start, "end": e.span.end, "replacement": e.replacement}
                        for e in fix.edits
                    ],
                }
                for fix in self.fixes
            ],
        }
        if text is not None:
            pos = Position.of(text, self.span.start)
            out["line"], out["column"] = pos.line, pos.column
        return out


class FilterError(ValueError):
    """A filter that cannot be used; ``diagnostics`` holds every problem found, errors first.

    >>> import lmfilter
    >>> try:
    ...     lmfilter.parse("metric.acc > 1 AND nmae = 'x'")
    ... except lmfilter.FilterError as err:
    ...     print([d.code for d in err.diagnostics])
    ['LMF201', 'LMF202']
    """

    def __init__(self, text: str, diagnostics: Sequence[Diagnostic]) -> None:
        self.text = text
        self.diagnostics: tuple[Diagnostic, ...] = tuple(
            sorted(diagnostics, key=lambda d: d.severity != "error")  # stable: reading order within each
        )
        super().__init__(render(text, [d for d in self.diagnostics if d.severity == "error"]))

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")


def ordered(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in reading order: by position, then severity, then code."""
    return sorted(diagnostics, key=lambda d: (d.span.start, d.span.end, SEVERITY_RANK[d.severity], d.code))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The choice closest to ``word`` (ignoring case), if any is close enough.

    >>> did_you_mean("nmae", ["name", "model_id", "status"])
    'name'
    >>> did_you_mean("zzz", ["name"]) is None
    True
    """
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.lower(), choice)
    folded = word.lower()
    if folded in by_folded:
        return by_folded[folded]
    close = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=cutoff)
    return by_folded[close[0]] if close else None


def render(text: str, diagnostics: Iterable[Diagnostic]) -> str:
    """Show each diagnostic as a header, its position, the filter line and a caret line under the fault."""
    blocks = [_render_one(text, d) for d in diagnostics]
    return "\n".join(blocks)


def _render_one(text: str, diagnostic: Diagnostic) -> str:
    span = diagnostic.span
    start = Position.of(text, span.start)
    lines = text.split("\n")
    line_text = (lines[start.line - 1] if start.line - 1 < len(lines) else "").replace("\t", " ")
    # Underline within the first line of the span; an empty span (a missing piece) gets one caret.
    line_end = len(line_text) + 1
    width = max(1, min(span.end - span.start, line_end - (start.column - 1)))
    gutter = " " * len(str(start.line))
    caret = " " * (start.column - 1) + "^" * width
    notes = [f"fix: {fix.title}" for fix in diagnostic.fixes]
    caret_line = f"{gutter} | {caret}" + (f" {'; '.join(notes)}" if notes else "")
    return "\n".join(
        [
            f"{diagnostic.severity}[{diagnostic.code}]: {diagnostic.message}",
            f"{gutter}--> {start.line}:{start.column}",
            f"{gutter} |",
            f"{start.line} | {line_text}",
            caret_line,
        ]
    )
