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
from typing import Literal, Protocol

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
    """A named set of non-overlapping edits that mends one diagnostic.

    A ``safe`` fix writes what the filter can only have meant (backticks a key needs, the number's status
    name, single quotes for a double-quoted value): ``lmfilter lint --fix`` applies it. Any other is a
    suggestion (a guess at a misspelt name, a closing quote), applied only when asked for with
    ``--unsafe-fixes`` or by hand in an editor.
    """

    title: str
    edits: tuple[Edit, ...]
    safe: bool = False

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
    breakdown = ", ".join(plural(n, severity) for severity, n in tally.items() if n)
    kept.append(
        Diagnostic(
            LIMIT_CODE,
            worst,
            f"{plural(len(left_out), 'more problem')} not listed ({breakdown})",
            left_out[0].span,
        )
    )
    return kept


def plural(n: int, word: str) -> str:
    """``1 file``, ``2 files``, ``1,000 files``."""
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


class DocumentRegion(Protocol):
    """Where a diagnostic stands in a document: 1-based lines and code-point columns, the end exclusive
    (:class:`lmfilter.lint.Region` is one)."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...

    @property
    def end_line(self) -> int: ...

    @property
    def end_column(self) -> int: ...


def render_located(
    where: str,
    region: DocumentRegion,
    lines: Sequence[str],
    diagnostic: Diagnostic,
    notes: Iterable[str] | None = None,
) -> str:
    """A diagnostic of a filter found in a document, as ``lint`` and ``check -`` print it.

    ``where:line:col: CODE message``, then the document's line as a :func:`frame` and a caret line under
    the fault (to the end of the line for a span that goes on to the next), followed by the severity and
    ``notes`` (by default ``fix: TITLE`` for each of the diagnostic's fixes), ``;`` between them. ``lines``
    are the document's lines without their breaks. Bounded as :func:`render` is; ``where`` is escaped but
    never cut (it names a file).

    >>> from lmfilter.lint import Region
    >>> d = Diagnostic("LMF202", "error", "unknown attribute 'nmae'", Span(0, 4))
    >>> print(render_located("<stdin>", Region(2, 3, 2, 7), ["", "  nmae = 'x'"], d))
    <stdin>:2:3: LMF202 unknown attribute 'nmae'
      2 |   nmae = 'x'
        |   ^^^^ error
    """
    line_text = lines[region.line - 1] if 0 < region.line <= len(lines) else ""
    start = region.column - 1
    stop = region.end_column - 1 if region.end_line == region.line else len(line_text)
    shown_line, carets = frame(line_text, start, stop)
    gutter = " " * len(str(region.line))
    if notes is None:
        notes = [f"fix: {fix.title}" for fix in diagnostic.fixes]
    noted = "; ".join([diagnostic.severity, *notes])
    message = shown(diagnostic.message, MAX_MESSAGE)
    return "\n".join(
        [
            f"{shown(where, None)}:{region.line}:{region.column}: {diagnostic.code} {message}",
            f"  {region.line} | {shown_line}".rstrip(),
            f"  {gutter} | {carets} {shown(noted, MAX_MESSAGE)}",
        ]
    )


def frame(line: str, start: int, stop: int, width: int = FRAME_WIDTH) -> tuple[str, str]:
    """A line of source as a code frame shows it, and the caret line that marks ``[start, stop)`` under it.

    ``start`` and ``stop`` are code-point columns (0-based); a ``stop`` past the line's end marks one column
    after it (a span that goes on to the next line), and an empty range gets one caret. A line wider than
    ``width`` terminal columns is cut to a window of at most ``width`` around the fault, with ``…`` where it
    was cut; a fault wider than the window is marked to the window's edge. Carets stay under the characters
    they mark, each taking the columns :func:`text_width` gives it (CJK and emoji two, combining marks none,
    an emoji sequence as one emoji), and a character that would not show as itself is shown escaped
    (``\\x1b``, ``\\ud800``) and marked over its escape. A fault that starts inside a sequence (at a mark
    or a joiner) is marked from the sequence's first character, and a cut never splits a sequence.

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
    if 0 < start < len(line):  # a fault inside a sequence (at a mark, a joiner) is marked from its start
        back = max(0, start - _CONTEXT)
        head = _cells(line, back, start + 1)
        while start > back and (head[start - back][1] == 0 or line[start] == _EMOJI_STYLE):
            start -= 1
    stop = min(max(stop, start + 1), len(line) + 1)
    past_end = stop > len(line)  # a caret one column after the line
    # Little beyond ``width`` characters of the fault can be shown (more only where some take no column), so
    # nothing beyond twice that is looked at.
    low, high = max(0, start - 2 * width), min(len(line), start + 2 * width)
    cells = _cells(line, low, high)

    def columns(a: int, b: int) -> int:
        return sum(cells[i - low][1] for i in range(a, b))

    def continues(i: int) -> bool:
        """Whether ``line[i]`` belongs to the sequence drawn with the character before it."""
        width_of = cells[i - low][1] if i < high else _cells(line, i, i + 1)[0][1]
        return width_of == 0 or line[i] == _EMOJI_STYLE

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
        # A cut window does not start or end inside a character's sequence: a mark, a selector or the rest
        # of an emoji shown without what it belongs to would draw on its own and push the carets aside, and
        # a character shown without its marks would be another.
        while 0 < left < start and continues(left):
            left += 1
        while start + 1 < right < len(line) and continues(right):
            right -= 1
    before, after = ("…" if left > 0 else ""), ("…" if right < len(line) else "")
    shown_line = before + "".join(text for text, _ in cells[left - low : right - low]) + after
    marks = max(1, columns(start, min(stop, right)) + (past_end and right == len(line)))
    return shown_line, " " * (len(before) + columns(left, start)) + "^" * marks


_ZWJ = "\u200d"  # ZERO WIDTH JOINER: joins emoji into one (family, profession, flag sequences)
_EMOJI_STYLE = "\ufe0f"  # VARIATION SELECTOR-16: show the character before as an emoji, two columns wide
_BLACK_FLAG = "\U0001f3f4"  # the base of the subdivision flags, spelled with tag characters
_CANCEL_TAG = "\U000e007f"
_MOST_TAGS = 6  # tag letters of a subdivision flag (gbsct): longer runs hide text, so they are escaped
_CONTEXT = 16  # characters before a window looked at to know how its first ones join

_EmojiPart = Literal["", "base", "joinable"]


def _cells(text: str, start: int = 0, stop: int | None = None) -> list[tuple[str, int]]:
    """How each character of ``text[start:stop]`` is shown on a terminal, and how many columns it takes.

    Terminals draw a character sequence as one: a combining mark, a variation selector or a medial or final
    Hangul jamo takes no column; an emoji presentation sequence (``❤`` U+FE0F, ``1`` U+FE0F U+20E3) takes
    two, the selector taking the second; in an emoji ZWJ sequence (``👩‍💻``), a skin tone, a regional
    indicator pair (a flag) or a tag sequence (``🏴`` and tag letters), the first emoji takes two and the
    rest none. A joiner, tag character or other invisible character outside such a sequence would not show
    as itself, so it is shown escaped (``\\u200d``), as controls and lone surrogates are. Characters before
    ``start`` are looked at (up to :data:`_CONTEXT`) to know how the first ones join.
    """
    stop = len(text) if stop is None else stop
    cells: list[tuple[str, int]] = []
    previous = ""
    part: _EmojiPart = ""  # what the previous character is in an emoji sequence
    width_before = 0  # the columns the previous character took
    joined = pairing = escaped_before = False  # after a shown joiner; a flag's first half; an escape
    tags = -1  # the tag letters after a black flag so far (-1: not in a tag sequence)
    for i in range(max(0, start - _CONTEXT), stop):
        char = text[i]
        following = text[i + 1] if i + 1 < len(text) else ""
        shown_as, width = char, 1
        next_part: _EmojiPart = ""
        if char == "\t":
            shown_as = " "
        elif (joined and _pictograph(char)) or (char == _ZWJ and part and _pictograph(following)):
            width, next_part = 0, "joinable"  # a joiner in an emoji ZWJ sequence, and the emoji it joins
        elif char == _EMOJI_STYLE:
            widens = part != "joinable" and width_before == 1 and _takes_emoji_style(previous)
            width, next_part = (1 if widens else 0), ("joinable" if part or widens else "")
        elif "\U0001f3fb" <= char <= "\U0001f3ff" and part:  # a skin tone on the emoji before it
            width, next_part = 0, "joinable"
        elif "\U0001f1e6" <= char <= "\U0001f1ff":  # regional indicators: two make a flag
            width = 0 if pairing else (2 if "\U0001f1e6" <= following <= "\U0001f1ff" else 1)
        elif tags >= 0 and (char == _CANCEL_TAG or (_tag_letter(char) and tags < _MOST_TAGS)):
            width, next_part = 0, "joinable"
        elif not char.isprintable():  # controls, line breaks, lone surrogates, invisible format characters
            shown_as = _escaped(char)
            width = len(shown_as)
        elif unicodedata.category(char) in ("Mn", "Me") or unicodedata.combining(char):
            width, next_part = 0, part
        elif "\u1160" <= char <= "\u11ff" or "\ud7b0" <= char <= "\ud7ff":  # Hangul medial and final jamo
            width = 0
        else:
            width = 2 if unicodedata.east_asian_width(char) in "WF" else 1
            next_part = "base" if _pictograph(char) else ""
        if width == 0 and escaped_before:  # it would draw on the escape's last character, as if part of it
            shown_as = _escaped(char)
            width, next_part = len(shown_as), ""
        escaped_before = shown_as != char and char != "\t"
        pairing = not pairing and width == 2 and "\U0001f1e6" <= char <= "\U0001f1ff"
        spelling = tags >= 0 and width == 0 and _tag_letter(char)
        tags = 0 if char == _BLACK_FLAG else tags + 1 if spelling else -1
        joined = char == _ZWJ and width == 0
        if i >= start:
            cells.append((shown_as, width))
        previous, part, width_before = char, next_part, width
    return cells


def _escaped(char: str) -> str:
    """A character as Python escapes it (``\\x1b``, ``\\u0301``), printable or not."""
    if not char.isprintable():
        return repr(char)[1:-1]
    return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"


def _pictograph(char: str) -> bool:
    """Whether a character can be an emoji of a sequence: a symbol (So) beyond ASCII."""
    return char != "" and not char.isascii() and unicodedata.category(char) == "So"


def _tag_letter(char: str) -> bool:
    """A tag digit or small letter: what spells a subdivision flag after ``🏴``."""
    return "\U000e0030" <= char <= "\U000e0039" or "\U000e0061" <= char <= "\U000e007a"


def _takes_emoji_style(char: str) -> bool:
    """Whether U+FE0F after ``char`` asks for an emoji presentation: a keycap's base (``#``, ``*``, digits),
    a symbol or punctuation beyond ASCII (``❤``, ``‼``, ``©``), or ``ℹ``."""
    if char.isascii():
        return char in "#*0123456789"
    return char == "\u2139" or unicodedata.category(char)[0] in "SP"


def text_width(text: str) -> int:
    """Columns a text takes on a terminal, as :func:`frame` counts them for its carets: wide East Asian
    characters two, combining marks none, an emoji sequence two (see :func:`_cells`). The one width
    function of lmfilter: code frames and the command line's tables both count with it.

    >>> [text_width(text) for text in ("abc", "键值", "é", "❤\ufe0f", "👩\u200d💻")]
    [3, 4, 1, 2, 2]
    """
    return sum(width for _, width in _cells(text))


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
