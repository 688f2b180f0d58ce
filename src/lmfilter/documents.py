"""Filters where people write them: ``.lmf`` files and filter strings inside Python code.

:func:`filters_in` finds each filter of a document with a :class:`Place` that maps an offset in the filter
text back to a (line, column) of the document, so that a diagnostic's span lands on the characters the user
typed, escapes and quotes included. Columns count code points; :func:`utf16_column` converts for editors.

- ``.lmf``: one filter per non-empty line; ``#`` starts a comment line.
- Python: the string literals passed as the filter of the calls :mod:`lmfilter.callsites` knows, each with
  what the call does with it (``sends``, and a ``target`` or ``native`` named at the call). An implicitly
  concatenated literal or an f-string with holes is not linted: it comes back with a ``skipped`` reason; so
  does a file that is not Python (a ``warning`` then, at the error).
- StackQL (``.iql`` and ``.sql``): statements on ``databricks_workspace.ml.logged_models``, checked whole by
  :func:`lmfilter.stackql.check_statements` (their search filters among them), so no filter is found here;
  :class:`Spread` places a diagnostic of the whole text, and :func:`noqa_lines` reads ``-- noqa`` comments.

>>> source = 'import mlflow\\nmlflow.search_logged_models(filter_string="nmae = \\'x\\'")\\n'
>>> (found,) = filters_in(source, "python")
>>> found.text, found.place.position(0), found.sends
("nmae = 'x'", (1, 43), 'mlflow')
"""

from __future__ import annotations

import ast as pyast
import bisect
import dataclasses
import io
import re
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from lmfilter.callsites import Call, Sends, calls_in
from lmfilter.diagnostics import Diagnostic, Span
from lmfilter.syntax import tokens

Kind = Literal["lmf", "python", "stackql"]

STACKQL_SUFFIXES = (".iql", ".sql")
"""The names of StackQL statement files: StackQL's own ``.iql``, and SQL."""


@dataclass(frozen=True)
class Place:
    """Where a filter's characters stand in its document: one (line, column) per offset, 0-based."""

    positions: tuple[tuple[int, int], ...]  # for each offset of the filter text, and one past its end

    def position(self, offset: int) -> tuple[int, int]:
        return self.positions[max(0, min(offset, len(self.positions) - 1))]


@dataclass(frozen=True, slots=True)
class Run:
    """Where the characters of a filter that is one run of a line are (a ``.lmf`` filter).

    What a :class:`Place` says with a position per character, in constant space: a line of megabytes costs
    no more than a short one.
    """

    line: int
    start: int  # the column of its first character
    length: int

    def position(self, offset: int) -> tuple[int, int]:
        return self.line, self.start + max(0, min(offset, self.length))


@dataclass(frozen=True, slots=True)
class Spread:
    """Where the characters of a whole document are: each offset's (line, column), found from where its
    lines start (a StackQL file, whose diagnostics count in the whole text's offsets).

    >>> Spread.of("ab\\ncd").position(4)
    (1, 1)
    """

    starts: tuple[int, ...]  # where each line starts (:func:`line_starts`)
    length: int

    @classmethod
    def of(cls, source: str) -> Spread:
        return cls(tuple(line_starts(source)), len(source))

    def position(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, self.length))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]


@dataclass(frozen=True)
class Found:
    """A filter in a document; ``skipped`` says why it is not linted (then ``text`` is empty).

    ``sends``, ``target`` and ``native`` say how the filter is read (see :class:`lmfilter.callsites.Call`);
    a ``.lmf`` filter is read by lmfilter as configured. ``call`` names the call it is passed to. A skip is
    an ``info`` unless ``severity`` says otherwise (a Python file that does not parse). ``stand_ins`` are
    the stand-ins of an f-string's holes.
    """

    text: str
    place: Place | Run | Spread
    skipped: str | None = None
    sends: Sends = "lmfilter"
    target: str | None = None
    native: bool | None = None
    call: str | None = None
    severity: Literal["info", "warning"] = "info"
    stand_ins: tuple[Span, ...] = ()  # where an f-string's holes are in ``text``: no fix may write there

    def touches_a_hole(self, span: Span) -> bool:
        """Whether a span of the text overlaps a stand-in for an f-string's hole."""
        return any(span.start < hole.end and hole.start < span.end for hole in self.stand_ins)


def filters_in(source: str, kind: Kind) -> list[Found]:
    """Every filter of a document, in order (none of a StackQL file: its statements are checked whole)."""
    if kind == "stackql":
        return []
    return list(_lmf(source) if kind == "lmf" else _python(source))


def kind_of(path: str) -> Kind | None:
    """The kind of document a path names, or ``None`` when lmfilter does not lint it."""
    if path.endswith(".lmf"):
        return "lmf"
    if path.endswith((".py", ".pyi")):
        return "python"
    if path.lower().endswith(STACKQL_SUFFIXES):
        return "stackql"
    return None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(source: str) -> list[str]:
    """A document's lines, without their breaks: lines end at ``\\n``, ``\\r\\n`` or ``\\r`` only, as editors
    (LSP) and Python count them; not at U+2028 or a form feed, as ``str.splitlines`` would.

    >>> split_lines("a\\r\\nb\\rc\\u2028d\\n")
    ['a', 'b', 'c\\u2028d', '']
    """
    # str.split is several times faster than a regular expression, and most texts end lines with \n.
    return _LINE_BREAK.split(source) if "\r" in source else source.split("\n")


def line_starts(source: str) -> list[int]:
    """The offset in ``source`` where each of its :func:`split_lines` lines starts.

    >>> line_starts("a\\r\\nb\\rc")
    [0, 3, 5]
    """
    return [0, *(match.end() for match in _LINE_BREAK.finditer(source))]


def utf16_column(line_text: str, column: int) -> int:
    """A code-point column as UTF-16 code units (what LSP positions count); a lone surrogate is one."""
    return len(line_text[:column].encode("utf-16-le", "surrogatepass")) // 2


# ---- noqa ---------------------------------------------------------------------------------------------

# A noqa comment, bare or naming codes (``noqa: LMF301, LMF2``: a code or a prefix), as ruff writes it.
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?(?![\w:])", re.I)
# On a .lmf line it must end the line: what follows a filter's ``#`` is the filter's otherwise.
_LMF_NOQA = re.compile(_NOQA.pattern + r"\s*\Z", re.I)

Suppressed = dict[int, frozenset[str] | None]
"""The lines (0-based) that carry a ``# noqa`` comment: the codes it names, or ``None`` for all."""


# In StackQL, a noqa comment is an SQL comment: ``-- noqa: LMF503`` or ``/* noqa */``, as SQLFluff has it.
_SQL_NOQA = re.compile(r"(?:--|/\*)\s*" + _NOQA.pattern.removeprefix(r"#\s*"), re.I)


def noqa_lines(source: str, kind: Kind) -> Suppressed:
    """Where a document's ``# noqa`` comments are: at the end of a ``.lmf`` filter's line, or any Python
    comment; in StackQL, any SQL comment holding ``-- noqa`` (or ``/* noqa``).

    >>> lines = noqa_lines("import x  # noqa: LMF301, lmf2\\ny = 1 # noqa\\n", "python")
    >>> sorted(lines[0]), lines[1]
    (['LMF2', 'LMF301'], None)
    """
    out: Suppressed = {}
    if kind == "lmf":
        for number, line in enumerate(split_lines(source)):
            if (match := _lmf_noqa(line)) is not None:
                out[number] = _codes(match)
        return out
    if "noqa" not in source.lower():
        return out
    if kind == "stackql":
        from lmfilter.stackql import layout  # here: lmfilter.stackql imports this module

        starts = line_starts(source)
        for comment in layout(source).comments:
            for match in _SQL_NOQA.finditer(source, comment.start, comment.end):
                out[bisect.bisect_right(starts, match.start()) - 1] = _codes(match)
        return out
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source, newline=None).readline):
            if tok.type == tokenize.COMMENT and (match := _NOQA.search(tok.string)) is not None:
                out[tok.start[0] - 1] = _codes(match)
    except (tokenize.TokenError, SyntaxError):
        pass  # a file that is not Python: what was read holds
    return out


def _codes(match: re.Match[str]) -> frozenset[str] | None:
    codes = match.group("codes")
    return frozenset(re.split(r"[\s,]+", codes.upper().strip())) if codes else None


def _lmf_noqa(line: str) -> re.Match[str] | None:
    """The trailing ``# noqa`` comment of a ``.lmf`` line, after a blank and outside any quotes, if it has
    one. It ends the line and holds no other ``#``, so only the line's last ``#`` can start it: one look,
    however long the line."""
    start = line.rfind("#")
    if start <= 0 or not line[start - 1].isspace():
        return None
    match = _LMF_NOQA.match(line, start)
    before = line[:start]
    # Outside a string or a backquoted key: every quote before it is closed.
    quoted = before.count("'") % 2 or before.count("`") % 2
    return match if match is not None and not quoted else None


def suppressed(noqa: Suppressed, lines: Iterable[int], code: str) -> bool:
    """Whether a ``# noqa`` on any of ``lines`` (0-based) covers ``code`` (by the code or a prefix of it)."""
    for line in lines:
        if line in noqa:
            codes = noqa[line]
            if codes is None or any(code.startswith(prefix) for prefix in codes):
                return True
    return False


# ---- .lmf ---------------------------------------------------------------------------------------------


def _lmf(source: str) -> Iterator[Found]:
    for number, line in enumerate(split_lines(source)):
        found = lmf_filter(line)
        if found is not None:
            start, text = found
            yield Found(text, Run(number, start, len(text)))


def lmf_filter(line: str) -> tuple[int, str] | None:
    """The filter a ``.lmf`` line holds and the column it starts at (``None`` for a blank or comment line):
    the line without its indentation, trailing blanks and a trailing ``# noqa`` comment.

    >>> lmf_filter("  name = 'a'  # noqa: LMF301"), lmf_filter("  # a comment"), lmf_filter("   ")
    ((2, "name = 'a'"), None, None)
    """
    comment = _lmf_noqa(line)
    if comment is not None:
        line = line[: comment.start()]
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    return len(line) - len(line.lstrip()), stripped


# ---- Python -------------------------------------------------------------------------------------------


def _python(source: str) -> Iterator[Found]:
    try:
        tree = pyast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        yield _not_python(source, error)
        return
    try:
        calls = calls_in(tree)
    except RecursionError as error:  # ast nests deeper than a walk of it can go
        yield _not_python(source, error)
        return
    if not calls:
        return
    lines = io.StringIO(source, newline=None).readlines()  # ends lines where ast does: \n, \r\n, \r
    strings = _string_tokens(source)
    for call in calls:
        argument = call.argument
        line = argument.lineno - 1
        # ast counts columns in UTF-8 bytes, tokenize in characters.
        column = len(lines[line].encode("utf-8")[: argument.col_offset].decode("utf-8", "replace"))
        at = Place(((line, column),))
        if isinstance(argument, pyast.JoinedStr):
            yield _f_string(call, argument, lines, (line, column))
            continue
        if not (isinstance(argument, pyast.Constant) and isinstance(argument.value, str)):
            continue
        tokens = strings.get((line, column))
        if tokens is None or len(tokens) != 1:
            yield _found(call, "", at, "an implicitly concatenated string is not linted")
            continue
        place = _literal_place(tokens[0], argument.value)
        if place is None:
            yield _found(call, "", at, "a string whose characters cannot be mapped is not linted")
            continue
        yield _found(call, argument.value, place)


def _f_string(call: Call, node: pyast.JoinedStr, lines: list[str], start: tuple[int, int]) -> Found:
    """An f-string's filter, with stand-ins for its holes (see :func:`_filled`)."""
    line, column = start
    end_line = (node.end_lineno or node.lineno) - 1
    end = len(lines[end_line].encode("utf-8")[: node.end_col_offset].decode("utf-8", "replace"))
    written = "".join(lines[line : end_line + 1])
    written = written[column : len(written) - len(lines[end_line]) + end]
    read = _read_literal(_Token(written, line, column))
    constants = "".join(str(v.value) for v in node.values if isinstance(v, pyast.Constant))
    at = Place((start,))
    if read is None or read.text != constants:  # several literals, or one this reader does not follow
        return _found(call, "", at, "an f-string that is not one literal is not linted")
    filled = _filled(read)
    if isinstance(filled, str):
        return _found(call, "", at, filled)
    text, place, stand_ins = filled
    return dataclasses.replace(_found(call, text, place), stand_ins=stand_ins)


def _found(call: Call, text: str, place: Place, skipped: str | None = None) -> Found:
    return Found(text, place, skipped, call.sends, call.target, call.native, call.name)


def _not_python(source: str, error: Exception) -> Found:
    """A warning, where the parser stopped, that a file's filters cannot be found: it is not Python."""
    line, column = 0, 0
    if isinstance(error, SyntaxError):
        line = max(0, (error.lineno or 1) - 1)
        lines = split_lines(source)
        text = lines[line] if line < len(lines) else ""
        column = max(0, min((error.offset or 1) - 1, len(text)))
        reason = f"not Python, its filters are not linted: {error.msg}"
    elif isinstance(error, ValueError):
        reason = f"not Python, its filters are not linted: {error}"
    else:
        reason = "nested too deeply to read as Python, its filters are not linted"
    return Found("", Place(((line, column),)), reason, severity="warning")


@dataclass(frozen=True)
class _Token:
    text: str
    line: int  # 0-based
    column: int


def _string_tokens(source: str) -> dict[tuple[int, int], list[_Token]]:
    """The STRING tokens of each string expression, by where the expression starts."""
    out: dict[tuple[int, int], list[_Token]] = {}
    run: list[_Token] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source, newline=None).readline))
    except (tokenize.TokenError, SyntaxError):
        return out
    for tok in tokens:
        if tok.type == tokenize.STRING:
            run.append(_Token(tok.string, tok.start[0] - 1, tok.start[1]))
        elif tok.type in (tokenize.NL, tokenize.COMMENT) and run:
            continue  # implicit concatenation may span lines
        else:
            if run:
                out[(run[0].line, run[0].column)] = run
            run = []
    return out


# An escape that stands for one character given by its code or name; its text is ASCII, so Python's own
# unicode_escape codec reads it.
_CODED_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}\n]*\}|[0-7]{1,3})")

_SIMPLE_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


@dataclass(frozen=True, slots=True)
class _Hole:
    """A replacement field of an f-string: where the filter text has it, where it is written, its ``!r``."""

    offset: int
    position: tuple[int, int]
    conversion: str


@dataclass(frozen=True, slots=True)
class _Read:
    """What a string literal holds, with the (line, column) of each character and one past the last; for an
    f-string, its literal characters only, with the holes between them."""

    text: str
    positions: tuple[tuple[int, int], ...]
    holes: tuple[_Hole, ...]


def _literal_place(token: _Token, value: str) -> Place | None:
    """Map each character of a string literal's value to its (line, column) in the source."""
    read = _read_literal(token)
    if read is None or read.holes or read.text != value:
        return None
    return Place(read.positions)


def _read_literal(token: _Token) -> _Read | None:
    """Read one string or f-string literal as Python does, keeping where each character was written
    (``None`` for bytes, or what this reader does not follow)."""
    text = token.text
    prefix_length = 0
    while prefix_length < len(text) and text[prefix_length] not in "'\"":
        prefix_length += 1
    prefix = text[:prefix_length].lower()
    if "b" in prefix or prefix_length == len(text):
        return None
    opening = text[prefix_length : prefix_length + 3]
    quote = opening if opening in ('"""', "'''") else text[prefix_length]
    if len(text) < prefix_length + 2 * len(quote) or not text.endswith(quote):
        return None
    body_start = prefix_length + len(quote)
    body = text[body_start : len(text) - len(quote)]
    raw, formatted = "r" in prefix, "f" in prefix
    line, column = token.line, token.column + body_start
    positions: list[tuple[int, int]] = []
    chars: list[str] = []
    holes: list[_Hole] = []
    i = 0
    while i < len(body):
        here = (line, column)
        c = body[i]
        if c == "\\" and not raw and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "\n":  # a line continuation adds nothing
                i, line, column = i + 2, line + 1, 0
                continue
            if nxt in _SIMPLE_ESCAPES:
                chars.append(_SIMPLE_ESCAPES[nxt])
                positions.append(here)
                i, column = i + 2, column + 2
                continue
            coded = _CODED_ESCAPE.match(body, i)
            if coded is not None:  # \x41, \u00e9, \N{...}, \101; \ud800 too, which the filter must report
                try:
                    chars.append(coded.group().encode("ascii").decode("unicode_escape"))
                except UnicodeDecodeError:  # \N{an unknown name}: the literal does not compile anyway
                    return None
                positions.append(here)
                i, column = coded.end(), column + len(coded.group())
                continue
            # Any other backslash stands for itself (the literal holds it and what follows).
        if formatted and c in "{}":
            if body[i + 1 : i + 2] == c:  # {{ and }} stand for one brace
                chars.append(c)
                positions.append(here)
                i, column = i + 2, column + 2
                continue
            end = _hole_end(body, i) if c == "{" else None
            if end is None:
                return None
            field = body[i:end]
            conversion = re.search(r"!([rsa])\s*(?::[^}]*)?\}\Z", field)
            holes.append(_Hole(len(chars), here, conversion.group(1) if conversion else ""))
            breaks = field.count("\n")
            line, column = (
                line + breaks,
                (len(field) - field.rfind("\n") - 1) if breaks else column + len(field),
            )
            i = end
            continue
        chars.append(c)
        positions.append(here)
        if c == "\n":
            line, column = line + 1, 0
        else:
            column += 1
        i += 1
    positions.append((line, column))
    return _Read("".join(chars), tuple(positions), tuple(holes))


def _hole_end(body: str, start: int) -> int | None:
    """Where the replacement field opening at ``body[start]`` ends (just past its ``}``): brackets and
    strings inside it are passed over, as a nested format spec's braces are."""
    depth, i, inside = 0, start + 1, ""
    while i < len(body):
        c = body[i]
        if inside:
            if c == "\\":
                i += 2
                continue
            if body.startswith(inside, i):
                i, inside = i + len(inside), ""
                continue
        elif c in "'\"":
            inside = body[i : i + 3] if body[i : i + 3] in ('"""', "'''") else c
            i += len(inside)
            continue
        elif c in "([{":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "}":
            if depth == 0:
                return i + 1
            depth -= 1
        i += 1
    return None


_ENTITY_DOT = re.compile(r"(?:metrics|params|tags|attributes)\.\Z")


STAND_IN = "x"
"""What stands in a filter for a hole holding text (an f-string's replacement field, a StackQL template)."""


def takes_a_stand_in(before: str) -> bool:
    """Whether a hole in a filter after the text ``before`` holds text, so that :data:`STAND_IN` may take its
    place: inside quotes or backticks, or where a key goes (``params.{key}``). A hole anywhere else (a
    number, an operator, a whole condition) could be anything.

    >>> takes_a_stand_in("name = '"), takes_a_stand_in("params."), takes_a_stand_in("metrics.a > ")
    (True, True, False)
    """
    quoted = before.count("'") % 2 or before.count("`") % 2 or before.count('"') % 2
    return bool(quoted or _ENTITY_DOT.search(before))


def outside_holes(
    text: str, diagnostics: Sequence[Diagnostic], stand_ins: Sequence[Span]
) -> list[Diagnostic]:
    """The diagnostics of a filter with stand-ins that are about the filter, not about what a hole will
    hold: what is said of a string, key or field a stand-in is in is left out (a syntax error is the text's
    own, and kept)."""
    if not stand_ins:
        return list(diagnostics)

    def touches(span: Span) -> bool:
        return any(span.start < hole.end and hole.start < span.end for hole in stand_ins)

    holed = [t for t in tokens(text) if touches(Span(t.start, t.end))]
    return [
        d
        for d in diagnostics
        if d.code.startswith("LMF1")
        or not any(t.start <= d.span.start and d.span.end <= t.end for t in holed)
    ]


def _filled(read: _Read) -> tuple[str, Place, tuple[Span, ...]] | str:
    """An f-string's filter with each hole filled by a stand-in, where the stand-ins are, or why it cannot
    be filled.

    A hole inside quotes or backticks, or where a key goes (``params.{key}``), stands in for text: ``x``.
    A hole anywhere else (a number, an operator, a whole condition, a ``{value!r}`` that may be a number)
    could be anything, so the filter is not linted.
    """
    text: list[str] = []
    positions: list[tuple[int, int]] = []
    stand_ins: list[Span] = []
    done = 0
    for hole in read.holes:
        text.append(read.text[done : hole.offset])
        positions += read.positions[done : hole.offset]
        before = "".join(text)
        if not takes_a_stand_in(before):
            return "an f-string with a hole outside quotes is not linted"
        stand_ins.append(Span(len(before), len(before) + len(STAND_IN)))
        text.append(STAND_IN)
        positions.append(hole.position)
        done = hole.offset
    text.append(read.text[done:])
    positions += read.positions[done:]
    return "".join(text), Place(tuple(positions)), tuple(stand_ins)
