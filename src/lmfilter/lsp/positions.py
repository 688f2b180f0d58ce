"""Positions: a document's lines as LSP counts them, and where each character of a filter is in its document.

:class:`Lines` splits a text into lines where LSP (and ``lint``) does and converts between a client's
positions (UTF-16 units unless it asked for UTF-8 or UTF-32) and code-point offsets; :meth:`Lines.range` is
the one conversion of a :class:`~lmfilter.lint.Region` to LSP's. A :class:`Site` is one filter of a
document: its text, a :class:`~lmfilter.documents.Run` (a ``.lmf`` line) or a
:class:`~lmfilter.documents.Place` (a Python string) saying where each of its characters is, and a
:class:`Quoting` saying how text is written back into it. :func:`readable`, :func:`joined` and
:func:`halves` deal with the lone surrogates a client's text may hold. Everything after this counts in
code points and lets these convert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lsprotocol import types

from lmfilter import documents
from lmfilter.diagnostics import Fix, Span
from lmfilter.documents import Found, Place, Run, Spread, line_starts, split_lines
from lmfilter.lint import Region
from lmfilter.stackql import OffsetMap

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def readable(text: str) -> str:
    r"""``text`` with each lone surrogate as U+FFFD.

    A client's JSON may carry a lone surrogate (``"\ud800"``), which no file and no UTF-8 codec holds. Either
    character is one UTF-16 unit, one code point and three UTF-8 (WTF-8) bytes, so every position is the
    same in both texts.

    >>> readable("name = '\ud800'") == "name = '\ufffd'"
    True
    """
    return _SURROGATE.sub("\ufffd", text) if _has_surrogates(text) else text


def _has_surrogates(text: str) -> bool:
    if text.isascii():  # the common case, at memory speed (a regular expression is ten times slower)
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def joined(text: str) -> str:
    """``text`` with the halves of a surrogate pair that meet as one character (an edit may split a pair,
    a later one join it again); lone halves are kept."""
    if not _has_surrogates(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def halves(char: str) -> str:
    """A character beyond the BMP as the two halves of its UTF-16 surrogate pair (two lone surrogates)."""
    units = char.encode("utf-16-le")
    return chr(int.from_bytes(units[:2], "little")) + chr(int.from_bytes(units[2:], "little"))


class Lines:
    """A document's lines as LSP counts them, and columns in the client's units (UTF-16 by default).

    Lines end where :func:`lmfilter.documents.split_lines` ends them, as ``lint`` counts them: at ``\\n``,
    ``\\r\\n`` or ``\\r`` only (not at U+2028 or a form feed, as ``str.splitlines`` would). The text is kept
    :func:`readable`.
    """

    def __init__(self, source: str, encoding: str = types.PositionEncodingKind.Utf16) -> None:
        self.source = readable(source)
        self.lines = split_lines(self.source)
        self.encoding = encoding
        self._starts: list[int] | None = None

    def __len__(self) -> int:
        return len(self.lines)

    def at(self, line: int) -> str:
        return self.lines[line] if 0 <= line < len(self.lines) else ""

    def units(self, text: str, column: int) -> int:
        """A code-point column of ``text`` in the client's units."""
        if self.encoding == types.PositionEncodingKind.Utf8:
            return len(text[:column].encode("utf-8", "surrogatepass"))
        if self.encoding == types.PositionEncodingKind.Utf32:
            return column
        return documents.utf16_column(text, column)

    def range(self, region: Region) -> types.Range:
        """A :class:`~lmfilter.lint.Region` (1-based, code points) as the client counts: the one conversion
        of a place in a document to LSP's, for diagnostics and edits alike."""
        return types.Range(
            start=self.position((region.line - 1, region.column - 1)),
            end=self.position((region.end_line - 1, region.end_column - 1)),
        )

    def position(self, where: tuple[int, int]) -> types.Position:
        line, column = where
        return types.Position(line=line, character=self.units(self.at(line), column))

    def column(self, position: types.Position) -> int:
        """The code-point column of a client position in its line.

        Past the end of the line it is the end, as LSP says; inside a character (half of a surrogate pair,
        a byte of a UTF-8 sequence), after the character.

        >>> Lines("a😀b").column(types.Position(0, 2)), Lines("a😀b").column(types.Position(0, 9))
        (2, 3)
        """
        text = self.at(position.line)
        wanted = position.character
        if self.encoding == types.PositionEncodingKind.Utf32 or text.isascii():
            return min(wanted, len(text))
        if self.encoding == types.PositionEncodingKind.Utf8:
            data = text.encode("utf-8", "surrogatepass")[:wanted]
            head = data.decode("utf-8", "ignore")
            return len(head) + (len(head.encode("utf-8", "surrogatepass")) < len(data))
        # A cut pair decodes to its high half: one more code point, the character the cut is in.
        return len(self._utf16_head(text, wanted))

    def cut(self, position: types.Position) -> int | None:
        """The offset in the text of the character a UTF-16 position falls inside, between the halves of its
        surrogate pair (which a client counting UTF-16 units may do), if it does."""
        if self.encoding != types.PositionEncodingKind.Utf16 or self.at(position.line).isascii():
            return None
        head = self._utf16_head(self.at(position.line), position.character)
        if not head or not "\ud800" <= head[-1] <= "\udbff":  # the text is readable: a high half is a cut
            return None
        return self.offset(types.Position(position.line, 0)) + len(head) - 1

    @staticmethod
    def _utf16_head(text: str, units: int) -> str:
        return text.encode("utf-16-le")[: 2 * units].decode("utf-16-le", "surrogatepass")

    def holds(self, position: types.Position) -> bool:
        """Whether a client position is in the text (not past its line's end, nor past the last line)."""
        if position.line >= len(self.lines):
            return False
        text = self.lines[position.line]
        return position.character <= self.units(text, len(text))

    def offset(self, position: types.Position) -> int:
        """The offset in the text of a client position; one outside it is taken as LSP's reference
        implementation does: to its line's end, or to the end of the text."""
        if position.line >= len(self.lines):
            return len(self.source)
        if self._starts is None:
            self._starts = line_starts(self.source)
        return self._starts[position.line] + self.column(position)


@dataclass(frozen=True, slots=True)
class Quoting:
    """How text is written into a filter's place: as it is (``.lmf``), escaped for a Python literal, or for
    the layers a StackQL search filter is in (a JSON string in an SQL string: ``layers``)."""

    quote: str = ""  # the literal's delimiter (one or three quotes); empty for a .lmf line
    raw: bool = False
    layers: OffsetMap | None = None

    @classmethod
    def python(cls, lines: Lines, found: Found) -> Quoting:
        """The literal a Python filter is in, read from the characters before its first one."""
        line, column = found.place.position(0)
        before = lines.at(line)[:column]
        quote = before[-3:] if before.endswith(('"""', "'''")) else before[-1:]
        prefix = re.search(r"[A-Za-z]*\Z", before[: len(before) - len(quote)])
        return cls(quote, "r" in (prefix.group() if prefix else "").lower())

    def write(self, text: str) -> str | None:
        r"""``text`` as it must be written in place, or ``None`` when the literal cannot hold it.

        >>> Quoting("'").write("name = 'x'"), Quoting('\"\"\"').write("a\nb")
        ("name = \\'x\\'", 'a\nb')
        >>> Quoting("'", raw=True).write("'x'") is None
        True
        """
        if self.layers is not None:
            return self.layers.written(text)
        if not self.quote:
            return text
        quote, single = self.quote[0], len(self.quote) == 1
        if self.raw:
            unwritable = quote in text or text.endswith("\\") or (single and "\n" in text)
            return None if unwritable else text
        out = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
        return out.replace("\n", "\\n").replace("\r", "\\r") if single else out


@dataclass(frozen=True, slots=True)
class Site:
    """A filter in a document: its text, where each of its characters is, and how to write into it."""

    text: str
    place: Place | Run | Spread  # a StackQL document's site is the whole of it
    quoting: Quoting = Quoting()
    found: Found | None = None  # how the filter is read (a Python call site's); None: as configured

    def range(self, lines: Lines, span: Span) -> types.Range:
        return lines.range(Region.of(self.place, span))

    def edits(self, lines: Lines, fix: Fix) -> list[types.TextEdit] | None:
        """The document edits of a fix (``None`` if one cannot be written in the literal)."""
        out = []
        for edit in fix.edits:
            written = self.quoting.write(edit.replacement)
            if written is None:
                return None
            out.append(types.TextEdit(range=self.range(lines, edit.span), new_text=written))
        return out

    @property
    def line_span(self) -> tuple[int, int]:
        """The document lines ``[first, stop)`` the filter is on."""
        return self.place.position(0)[0], self.place.position(len(self.text))[0] + 1
