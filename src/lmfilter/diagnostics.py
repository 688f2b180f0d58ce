"""Positions, diagnostics and the one error type users see.

Every stage reports problems as :class:`Diagnostic` values: a stable code (``LMF1xx`` syntax, ``LMF2xx``
fields and types, ``LMF3xx`` target support), a severity, a message, the :class:`Span` of text it is about,
and the machine-applicable :class:`Fix` es that would mend it. Stages collect diagnostics instead of
stopping at the first; :class:`FilterError` carries all of them when a filter cannot be used.

What lmfilter hands out and prints about one filter is bounded whatever the filter: at most
:data:`MAX_DIAGNOSTICS` diagnostics, then one ``LMF110`` that counts the rest (:func:`capped`); user text in a
message is clipped and made visible (:func:`shown`, :func:`quoted`); a rendered code frame shows at most
:data:`FRAME_WIDTH` terminal columns of its line around the fault (:func:`frame`).

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
import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from lmfilter.errors import LmfilterError

Severity = Literal["error", "warning", "info"]

SEVERITY_RANK: dict[Severity, int] = {"error": 0, "warning": 1, "info": 2}

MAX_DIAGNOSTICS = 50
"""Most diagnostics kept for one filter (and rendered at once); the rest are counted in one ``LMF110``."""

LIMIT_CODE = "LMF110"
"""The code of a diagnostic about diagnostics: how many more there were, or where the parser gave up."""

FRAME_WIDTH = 120
"""Most terminal columns of a filter's line shown in a code frame; a longer line is cut around the fault."""

MAX_MESSAGE = 300
"""Most characters of a message (and of its fix notes) that :func:`render` prints."""

SHOWN_TEXT = 40
"""Most characters of the user's text that a message quotes."""


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


class FilterError(LmfilterError, ValueError):
    """A filter that cannot be used; ``diagnostics`` holds the problems found, errors first.

    At most :data:`MAX_DIAGNOSTICS` of them, and one ``LMF110`` counting the rest (see :func:`capped`). The
    message, ``str(error)``, is the errors rendered (:func:`render`), made when first asked for.

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
            sorted(capped(diagnostics), key=lambda d: d.severity != "error")  # stable: reading order within
        )
        self._message: str | None = None
        super().__init__(text, self.diagnostics)  # what pickling rebuilds the error from

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    def __str__(self) -> str:
        if self._message is None:
            self._message = render(self.text, self.errors)
        return self._message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({quoted(self.text)}, {len(self.diagnostics)} diagnostics)"


def ordered(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in reading order: by position, then severity, then code."""
    return sorted(diagnostics, key=lambda d: (d.span.start, d.span.end, SEVERITY_RANK[d.severity], d.code))


def capped(diagnostics: Iterable[Diagnostic], limit: int = MAX_DIAGNOSTICS) -> list[Diagnostic]:
    """The first ``limit`` diagnostics in the order given, then one ``LMF110`` counting the others.

    The ``LMF110`` is as severe as the worst diagnostic it stands for, so that leaving diagnostics out never
    changes whether there are errors; it points at the first one left out. ``LMF110`` diagnostics given are
    always kept and not counted, so capping a capped list changes nothing.

    >>> many = [Diagnostic("LMF101", "error", "unmatched ')'", Span(i, i + 1)) for i in range(5)]
    >>> [(d.code, d.span.start) for d in capped(many, limit=2)]
    [('LMF101', 0), ('LMF101', 1), ('LMF110', 2)]
    >>> capped(many, limit=2)[-1].message
    '3 more problems not listed (3 errors)'
    """
    kept: list[Diagnostic] = []
    left_out: list[Diagnostic] = []
    counted = 0
    for diagnostic in diagnostics:
        if diagnostic.code == LIMIT_CODE:
            kept.append(diagnostic)
        elif counted < limit:
            kept.append(diagnostic)
            counted += 1
        else:
            left_out.append(diagnostic)
    if not left_out:
        return kept
    tally = dict.fromkeys(SEVERITY_RANK, 0)
    for diagnostic in left_out:
        tally[diagnostic.severity] += 1
    worst = min(tally, key=lambda severity: (tally[severity] == 0, SEVERITY_RANK[severity]))
    breakdown = ", ".join(_plural(n, severity) for severity, n in tally.items() if n)
    kept.append(
        Diagnostic(
            LIMIT_CODE,
            worst,
            f"{_plural(len(left_out), 'more problem')} not listed ({breakdown})",
            left_out[0].span,
        )
    )
    return kept


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The choice closest to ``word`` (ignoring case), if any is close enough.

    >>> did_you_mean("nmae", ["name", "model_id", "status"])
    'name'
    >>> did_you_mean("zzz", ["name"]) is None
    True
    """
    # Cached, as hostile or generated filters repeat a misspelling many times and each costs a difflib run;
    # long words are not kept (nothing long is close to a choice, and the cache would hold them).
    closest = _closest if len(word) <= 64 else _closest.__wrapped__
    return closest(word, tuple(choices), cutoff)


@functools.lru_cache(maxsize=1024)
def _closest(word: str, choices: tuple[str, ...], cutoff: float) -> str | None:
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.lower(), choice)
    folded = word.lower()
    if folded in by_folded:
        return by_folded[folded]
    close = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=cutoff)
    return by_folded[close[0]] if close else None


def render(text: str, diagnostics: Iterable[Diagnostic]) -> str:
    """Show each diagnostic as a header, its position, the filter line and a caret line under the fault.

    Bounded whatever the input: the diagnostics are :func:`capped` (at most :data:`MAX_DIAGNOSTICS` blocks and
    one ``LMF110``), a message and its fix notes are clipped to :data:`MAX_MESSAGE` characters, and the line
    is a :func:`frame` of at most :data:`FRAME_WIDTH` columns around the fault. Characters that would not
    show as themselves (controls, lone surrogates, bidirectional overrides) are shown escaped, so the
    output is plain text any terminal and any UTF-8 stream takes.
    """
    return "\n".join(_render_one(text, d) for d in capped(diagnostics))


def _render_one(text: str, diagnostic: Diagnostic) -> str:
    offset = min(diagnostic.span.start, len(text))
    start = Position.of(text, offset)
    line_start = offset - (start.column - 1)
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    # Underline within the first line of the span, one column past its end for a span that goes on; an
    # empty span (a missing piece) gets one caret.
    line, carets = frame(
        text[line_start:line_end], start.column - 1, min(diagnostic.span.end, line_end + 1) - line_start
    )
    gutter = " " * len(str(start.line))
    notes = "; ".join(f"fix: {fix.title}" for fix in diagnostic.fixes)
    return "\n".join(
        [
            f"{diagnostic.severity}[{diagnostic.code}]: {shown(diagnostic.message, MAX_MESSAGE)}",
            f"{gutter}--> {start.line}:{start.column}",
            f"{gutter} |",
            f"{start.line} | {line}",
            f"{gutter} | {carets}" + (f" {shown(notes, MAX_MESSAGE)}" if notes else ""),
        ]
    )


def frame(line: str, start: int, stop: int, width: int = FRAME_WIDTH) -> tuple[str, str]:
    """A line of source as a code frame shows it, and the caret line that marks ``[start, stop)`` under it.

    ``start`` and ``stop`` are code-point columns (0-based); a ``stop`` past the line's end marks one column
    after it (a span that goes on to the next line), and an empty range gets one caret. A line wider than
    ``width`` terminal columns is cut to a window of at most ``width`` around the fault, with ``…`` where it
    was cut; a fault wider than the window is marked to the window's edge. Carets stay under the characters
    they mark: wide characters (CJK, emoji) take two columns, combining marks none, and a character that
    would not show as itself is shown escaped (``\\x1b``, ``\\ud800``) and marked over its escape.

    >>> frame("name = 'a' AND nmae = 'b'", 15, 19)
    ("name = 'a' AND nmae = 'b'", '               ^^^^')
    >>> shown_line, carets = frame("x" * 500 + " = 1 AND nmae = 'b'", 509, 513, width=30)
    >>> print(shown_line); print(carets)
    …xxxxxxxxxxx = 1 AND nmae = 'b'
                         ^^^^
    >>> frame("tags.键 = 'é'", 5, 6)
    ("tags.键 = 'é'", '     ^^')
    """
    start = max(0, min(start, len(line)))
    stop = min(max(stop, start + 1), len(line) + 1)
    past_end = stop > len(line)  # a caret one column after the line
    # Nothing beyond ``width`` characters of the fault can be shown, so nothing beyond is looked at.
    low, high = max(0, start - width), min(len(line), start + width)
    cells = [_cell(char) for char in line[low:high]]

    def columns(a: int, b: int) -> int:
        return sum(cells[i - low][1] for i in range(a, b))

    if low == 0 and high == len(line) and columns(0, len(line)) <= width:
        left, right = 0, len(line)
    else:
        # Centre the fault, keeping at least an eighth of the window on each side for what surrounds it.
        marked = columns(start, min(stop, high)) + past_end
        margin = width // 8
        room = (width - min(marked, width - 2 * margin)) // 2
        left, used = start, 0
        while left > low and used + cells[left - 1 - low][1] <= room:
            left -= 1
            used += cells[left - low][1]
        right = start
        while right < high and used + cells[right - low][1] <= width:
            used += cells[right - low][1]
            right += 1
        while left > low and used + cells[left - 1 - low][1] <= width:  # the line ended: widen to the left
            left -= 1
            used += cells[left - low][1]
    before, after = ("…" if left > 0 else ""), ("…" if right < len(line) else "")
    shown_line = before + "".join(text for text, _ in cells[left - low : right - low]) + after
    marks = max(1, columns(start, min(stop, right)) + (past_end and right == len(line)))
    return shown_line, " " * (len(before) + columns(left, start)) + "^" * marks


def _cell(char: str) -> tuple[str, int]:
    """How one character is shown on a terminal, and how many columns it takes there."""
    if char == "\t":
        return " ", 1
    if not char.isprintable():  # controls, line breaks, lone surrogates, invisible format characters
        escaped = repr(char)[1:-1]
        return escaped, len(escaped)
    if unicodedata.combining(char):
        return char, 0
    return char, 2 if unicodedata.east_asian_width(char) in "WF" else 1


def text_width(text: str) -> int:
    """Columns a printable text takes on a terminal: wide East Asian characters two, combining marks none.

    >>> text_width("abc"), text_width("键值"), text_width("é")
    (3, 4, 1)
    """
    return sum(_cell(char)[1] for char in text)


def shown(text: str, limit: int | None = SHOWN_TEXT) -> str:
    """``text`` as a message shows it: each character that would not show as itself escaped, and the whole
    cut to at most ``limit`` characters (``…`` ends a cut; ``None``: never cut).

    >>> shown("a\\tb\\x1b[2J"), shown("x" * 50, limit=5)
    ('a\\\\tb\\\\x1b[2J', 'xxxx…')
    """
    clipped = text if limit is None else _clipped(text, limit)
    if clipped.isprintable():
        return clipped
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in clipped)


def quoted(text: str, limit: int = SHOWN_TEXT) -> str:
    """``text`` in quotes as a message shows it, as Python writes a string, cut as by :func:`shown`.

    >>> quoted("nmae"), quoted("\\ud800")
    ("'nmae'", "'\\\\ud800'")
    """
    return repr(_clipped(text, limit))


def _clipped(text: str, limit: int) -> str:
    """``text`` cut to show in at most about ``limit`` characters, escapes counted; ``…`` ends a cut."""
    if len(text) <= limit and text.isprintable():
        return text
    lengths = [1 if char.isprintable() else len(repr(char)) - 2 for char in text[:limit]]
    if len(text) <= limit and sum(lengths) <= limit:
        return text
    used = kept = 0
    for length in lengths:
        if used + length > limit - 1:
            break
        used += length
        kept += 1
    return text[:kept] + "…"


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(value: object, *, indent: int | None = 2) -> str:
    """JSON text that any UTF-8 stream takes: characters written as themselves, but a lone surrogate (which
    UTF-8 cannot encode) as its ``\\uXXXX`` escape, which JSON readers decode back to the same string.

    >>> json_text({"filter": "tags.键 = '\\udcff'"}, indent=None)
    '{"filter": "tags.键 = \\'\\\\udcff\\'"}'
    """
    out = json.dumps(value, indent=indent, ensure_ascii=False)
    return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", out)
