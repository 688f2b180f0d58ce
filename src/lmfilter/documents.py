"""Filters where people write them: ``.lmf`` files and filter strings inside Python code.

:func:`filters_in` finds each filter of a document with a :class:`Place` that maps an offset in the filter
text back to a (line, column) of the document, so that a diagnostic's span lands on the characters the user
typed, escapes and quotes included. Columns count code points; :func:`utf16_column` converts for editors.

- ``.lmf``: one filter per non-empty line; ``#`` starts a comment line.
- Python: string literals passed as ``filter_string=`` / ``filter=`` to ``search_logged_models``, or as the
  filter of ``lmfilter.parse/check/select/compile/plan/format`` and ``Client.search`` (first argument or
  ``filter=``). An implicitly concatenated literal or an f-string with holes is not linted: it comes back
  with a ``skipped`` reason.

>>> source = 'import mlflow\\nmlflow.search_logged_models(filter_string="nmae = \\'x\\'")\\n'
>>> (found,) = filters_in(source, "python")
>>> found.text, found.place.position(0)
("nmae = 'x'", (1, 43))
"""

from __future__ import annotations

import ast as pyast
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Kind = Literal["lmf", "python"]

# Calls whose filter argument is linted. ``search_logged_models`` (MLflow's, on any object) takes it as
# ``filter_string=``; lmfilter's own functions take it first (``select``: second), on ``lmfilter.`` or a name
# imported from lmfilter; ``search`` counts only as ``Client.search`` does, with ``experiment_ids=``.
_LMFILTER_FUNCTIONS = {"parse": 0, "check": 0, "format": 0, "compile": 0, "plan": 0, "select": 1}


@dataclass(frozen=True)
class Place:
    """Where a filter's characters stand in its document: one (line, column) per offset, 0-based."""

    positions: tuple[tuple[int, int], ...]  # for each offset of the filter text, and one past its end

    def position(self, offset: int) -> tuple[int, int]:
        return self.positions[max(0, min(offset, len(self.positions) - 1))]


@dataclass(frozen=True)
class Found:
    """A filter in a document; ``skipped`` says why it is not linted (then ``text`` is empty)."""

    text: str
    place: Place
    skipped: str | None = None


def filters_in(source: str, kind: Kind) -> list[Found]:
    """Every filter of a document, in order."""
    return list(_lmf(source) if kind == "lmf" else _python(source))


def kind_of(path: str) -> Kind | None:
    """The kind of document a path names, or ``None`` when lmfilter does not lint it."""
    if path.endswith(".lmf"):
        return "lmf"
    if path.endswith((".py", ".pyi")):
        return "python"
    return None


def utf16_column(line_text: str, column: int) -> int:
    """A code-point column as UTF-16 code units (what LSP positions count); a lone surrogate is one."""
    return len(line_text[:column].encode("utf-16-le", "surrogatepass")) // 2


# ---- .lmf ---------------------------------------------------------------------------------------------


def _lmf(source: str) -> Iterator[Found]:
    for number, line in enumerate(source.split("\n")):  # editors count lines at \n (and \r\n) only
        line = line.removesuffix("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        text = line[indent:].rstrip()
        yield Found(text, Place(tuple((number, indent + i) for i in range(len(text) + 1))))


# ---- Python -------------------------------------------------------------------------------------------


def _python(source: str) -> Iterator[Found]:
    try:
        tree = pyast.parse(source)
    except SyntaxError:
        return
    imported = _imported_from_lmfilter(tree)
    lines = io.StringIO(source, newline=None).readlines()  # ends lines where ast does: \n, \r\n, \r
    arguments = sorted(
        (
            arg
            for node in pyast.walk(tree)
            if isinstance(node, pyast.Call) and (arg := _filter_argument(node, imported))
        ),
        key=lambda arg: (arg.lineno, arg.col_offset),
    )
    if not arguments:
        return
    strings = _string_tokens(source)
    for argument in arguments:
        line = argument.lineno - 1
        # ast counts columns in UTF-8 bytes, tokenize in characters.
        column = len(lines[line].encode("utf-8")[: argument.col_offset].decode("utf-8", "replace"))
        at = Place(((line, column),))
        if isinstance(argument, pyast.JoinedStr):
            holes = any(isinstance(part, pyast.FormattedValue) for part in argument.values)
            yield Found(
                "", at, "an f-string with holes is not linted" if holes else "an f-string is not linted"
            )
            continue
        if not (isinstance(argument, pyast.Constant) and isinstance(argument.value, str)):
            continue
        tokens = strings.get((line, column))
        if tokens is None or len(tokens) != 1:
            yield Found("", at, "an implicitly concatenated string is not linted")
            continue
        place = _literal_place(tokens[0], argument.value)
        if place is None:
            yield Found("", at, "a string whose characters cannot be mapped is not linted")
            continue
        yield Found(argument.value, place)


def _imported_from_lmfilter(tree: pyast.Module) -> frozenset[str]:
    """The local names bound by ``from lmfilter import ...`` to the functions that take a filter."""
    names: set[str] = set()
    for node in pyast.walk(tree):
        if isinstance(node, pyast.ImportFrom) and node.module == "lmfilter":
            names.update(a.asname or a.name for a in node.names if a.name in _LMFILTER_FUNCTIONS)
    return frozenset(names)


def _filter_argument(call: pyast.Call, imported: frozenset[str]) -> pyast.expr | None:
    func = call.func
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    if isinstance(func, pyast.Attribute):
        name = func.attr
        if name == "search_logged_models":
            return keywords.get("filter_string")
        if name == "search" and "experiment_ids" in keywords:
            return keywords.get("filter") or (call.args[0] if call.args else None)
        on_lmfilter = isinstance(func.value, pyast.Name) and func.value.id == "lmfilter"
        if not (on_lmfilter and name in _LMFILTER_FUNCTIONS):
            return None
    elif isinstance(func, pyast.Name) and func.id in imported:
        name = func.id
    else:
        return None
    index = _LMFILTER_FUNCTIONS.get(name, 0)
    if "filter" in keywords or "text" in keywords:
        return keywords.get("filter") or keywords.get("text")
    return call.args[index] if len(call.args) > index else None


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


def _literal_place(token: _Token, value: str) -> Place | None:
    """Map each character of a string literal's value to its (line, column) in the source."""
    text = token.text
    prefix_length = 0
    while text[prefix_length] not in "'\"":
        prefix_length += 1
    prefix = text[:prefix_length].lower()
    if "b" in prefix or "f" in prefix:
        return None
    quote = (
        text[prefix_length : prefix_length + 3]
        if text[prefix_length : prefix_length + 3] in ('"""', "'''")
        else text[prefix_length]
    )
    body_start = prefix_length + len(quote)
    body = text[body_start : len(text) - len(quote)]
    raw = "r" in prefix
    line, column = token.line, token.column + body_start
    positions: list[tuple[int, int]] = []
    chars: list[str] = []
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
        chars.append(c)
        positions.append(here)
        if c == "\n":
            line, column = line + 1, 0
        else:
            column += 1
        i += 1
    if "".join(chars) != value:
        return None
    positions.append((line, column))
    return Place(tuple(positions))
