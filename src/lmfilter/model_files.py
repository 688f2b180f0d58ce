"""Reading saved logged models for local evaluation: JSON lines, a JSON array, or a saved search answer.

A *model file* holds logged models in the API's JSON (``{"info": ..., "data": ...}``) in one of three forms,
told apart by their content:

- **JSON lines**: one model per line; blank lines are skipped. Read line by line, in constant memory.
- **a JSON array** of models: ``[m1, m2, ...]``.
- **a saved search answer**: ``{"models": [...], "next_page_token": ...}``; ``{}`` holds no model (servers
  leave an empty list out).

The first non-blank character decides: ``[`` is an array; ``{`` is JSON lines when the first line alone is a
whole JSON object holding ``"info"``, and otherwise the whole file is one object, a search answer; anything
else is an error as soon as it is read. An array or an answer is read into memory as text, but its models are
decoded one at a time, so only the text and the current model are held. The path ``-`` reads standard input.

Lines are read in pieces of at most :data:`PIECE` characters: blank text costs no memory however long, and a
line of JSON lines holds at most :data:`MAX_LINE` characters (a longer one is a :class:`ModelFileError` naming
it), so neither a file of one endless line nor ``/dev/zero`` fills the memory before an error.

Models come out as the dicts the JSON holds: their fields are checked later, by whoever reads them
(:mod:`lmfilter.records`). What is wrong with the file itself (unreadable, not UTF-8, bad JSON, an item that
is not an object, no ``"models"``) raises :class:`ModelFileError`, naming the file, the line and, where it
helps, the column. A :class:`ModelFile` also tells how far it has read, for a progress display.

>>> import io
>>> lines = io.BytesIO(b'{"info": {"model_id": "m-1"}}\\n\\n{"info": {"model_id": "m-2"}}\\n')
>>> [m["info"]["model_id"] for m in iter_models(lines)]
['m-1', 'm-2']
>>> answer = io.BytesIO(b'{"next_page_token": "abc", "models": [{"info": {"model_id": "m-3"}}]}')
>>> [m["info"]["model_id"] for m in iter_models(answer)]
['m-3']
>>> list(iter_models(io.BytesIO(b'[{"info": {}},\\n 7]')))
Traceback (most recent call last):
...
lmfilter.model_files.ModelFileError: <stream>:2:2: item 2 of the array is a number, not an object (a logged \
model)
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import stat
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self

from lmfilter.errors import LmfilterError

__all__ = [
    "CacheError",
    "ModelFile",
    "ModelFileError",
    "Source",
    "iter_models",
    "json_value",
    "starts_as_duckdb",
]

#: A path (``-`` for standard input) or an open stream, binary or text.
Source = str | os.PathLike[str] | IO[bytes] | IO[str]
Model = dict[str, Any]
Raw = (
    Any  # text as a stream gives it: str or bytes, one kind for the whole stream (unions of both type badly)
)

_WHITESPACE = " \t\r\n"  # JSON's
_BLANK: dict[type, Any] = {str: _WHITESPACE, bytes: _WHITESPACE.encode()}
_NEWLINE: dict[type, Any] = {str: "\n", bytes: b"\n"}
_SPACES = re.compile(r"[ \t\r\n]*")
_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
_decoder = json.JSONDecoder()
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")

MAX_LINE = 64 * 1024 * 1024
"""Most characters (bytes, for a binary stream) of one line of JSON lines, blanks around it not counted."""

PIECE = 1024 * 1024
"""Most characters (or bytes) read at a time while a line is read."""


class ModelFileError(LmfilterError, ValueError):
    """A model file that cannot be read: ``source`` names it, ``line`` and ``column`` (from 1) the fault.

    >>> str(ModelFileError("models.jsonl", "bad JSON: Expecting value", line=3, column=7))
    'models.jsonl:3:7: bad JSON: Expecting value'
    """

    def __init__(self, source: str, reason: str, line: int | None = None, column: int | None = None) -> None:
        self.source, self.reason, self.line, self.column = source, reason, line, column
        where = source + "".join(f":{n}" for n in (line, column) if n is not None)
        super().__init__(f"{where}: {reason}")


CacheError = ModelFileError
"""The old name of :class:`ModelFileError` (when this module was ``lmfilter.cache``), kept for old code."""


def _kind(value: object) -> str:
    return _KINDS.get(type(value), "a number")


class ModelFile:
    """The models of one file or stream, read as they are asked for. Iterate it once; close it after.

    For a progress display: ``size`` is the file's size in bytes, ``None`` when unknown (a pipe);
    ``bytes_read`` is how far reading has got (characters for a text stream), up to ``size``;
    ``models_read`` counts the models so far. ``format`` (``"jsonl"``, ``"array"`` or ``"response"``) is
    known once the first model is out. :meth:`where` places the last model read, for an error found in it
    later (a malformed field).
    """

    def __init__(self, stream: IO[bytes] | IO[str], name: str, *, owned: bool = False) -> None:
        self.name = name
        self.size = _regular_file_size(stream)
        self.bytes_read = 0
        self.models_read = 0
        self.format: Literal["jsonl", "array", "response"] | None = None
        self._stream: IO[Any] = stream  # bytes or text, told apart line by line
        self._owned = owned
        self._started = False
        self._line = 0  # JSON lines: the line of the last model
        self._text = ""  # an array or an answer: the whole text, and where the last model starts in it
        self._start = 0

    @classmethod
    def open(cls, source: Source) -> ModelFile:
        """The models of a path (``-`` for standard input) or of an open stream, binary or text."""
        if not isinstance(source, str | os.PathLike):
            return cls(source, str(getattr(source, "name", "<stream>")))
        name = os.fspath(source)
        if name == "-":
            return cls(getattr(sys.stdin, "buffer", sys.stdin), "<stdin>")
        try:
            return cls(Path(name).open("rb"), name, owned=True)
        except OSError as error:
            raise ModelFileError(name, f"cannot read it: {error.strerror or error}") from None
        except ValueError:  # a NUL in the path: no file can have that name
            raise ModelFileError(repr(name), "cannot read it: a path holds no NUL character") from None

    def close(self) -> None:
        """Close the file if :meth:`open` opened it (never standard input or a stream passed in)."""
        if self._owned:
            self._stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def where(self) -> str:
        """``name:line`` of the last model read (the line it starts on), or ``name`` before the first."""
        if self.models_read == 0:
            return self.name
        line = self._line if self.format == "jsonl" else self._text.count("\n", 0, self._start) + 1
        return f"{self.name}:{line}"

    def __iter__(self) -> Iterator[Model]:
        if self._started:
            raise RuntimeError(f"{self.name} is being read or was read already")
        self._started = True
        found = self._first_line()
        if found is None:
            return  # an empty (or blank) file holds no model
        number, raw, lead = found
        head = raw.lstrip(_BLANK[type(raw)])
        first_char = head[:1].decode("utf-8", "replace") if isinstance(head, bytes) else head[:1]
        if first_char == "{":
            raw, whole = self._line_rest(raw, number, MAX_LINE)
            if whole:
                text = self._decoded(raw, number, lead)
                first = _whole_object(text) if _starts_a_model(text) else None
                if first is not None:
                    self.format = "jsonl"
                    yield from self._jsonl(first, text, number)
                    return
                rest = self._rest(raw[:0])
                if rest.strip() and _whole_object(text) is not None:
                    raise ModelFileError(
                        self.name,
                        'a JSON object without "info": JSON lines need a logged model on each line',
                        number,
                    )
                text += rest
            else:
                start = self._decoded(raw[:PIECE], number, lead, partial=True)
                if _starts_a_model(start):
                    raise ModelFileError(
                        self.name,
                        f"a line longer than {MAX_LINE:,} characters: JSON lines hold at most that",
                        number,
                    )
                text = self._rest(raw)
        elif first_char == "[":
            text = self._rest(raw)
        else:
            shown = head[:12].decode("utf-8", "replace") if isinstance(head, bytes) else head[:12]
            raise ModelFileError(
                self.name,
                'expected JSON lines, a JSON array or a search answer {"models": [...]}, '
                f"not text starting {shown!r}",
                number,
                lead + len(raw) - len(head) + 1,
            )
        # One JSON value: read whole (after the blank lines skipped), decoded a model at a time.
        self._text = "\n" * (number - 1) + " " * lead + text
        if first_char == "[":
            self.format = "array"
            self._end((yield from self._array(self._skip(0))))
        else:
            self.format = "response"
            yield from self._answer()

    # ---- lines, in pieces -----------------------------------------------------------------------------

    def _piece(self, number: int) -> Raw:
        """The next piece of the current line (ending with its newline, or :data:`PIECE` long)."""
        try:
            piece: Raw = self._stream.readline(PIECE)
        except (OSError, UnicodeDecodeError) as error:  # a failing disk, a text stream that is not text
            raise ModelFileError(self.name, f"cannot read it: {_reason(error)}", number) from None
        self.bytes_read += len(piece)
        return piece

    def _read_line(self, number: int, limit: int) -> tuple[Raw, int, bool] | None:
        """Line ``number`` as read, without the blanks it starts with (only their count is kept, so blank
        text costs no memory), its content cut once it is over ``limit``; whether it is all there; ``None``
        at the end of the file."""
        kept: Raw | None = None
        lead, read_any = 0, False
        while True:
            piece = self._piece(number)
            if not piece:
                break
            read_any = True
            if kept is None and not piece.strip(_BLANK[type(piece)]):
                if piece.endswith(_NEWLINE[type(piece)]):
                    return piece[:0], lead, True  # a blank line
                lead += len(piece)
                continue
            kept = piece if kept is None else kept + piece
            if piece.endswith(_NEWLINE[type(piece)]):
                break
            if len(kept) > limit:
                return kept, lead, False
        if not read_any:
            return None
        return (kept if kept is not None else ""), lead, True

    def _first_line(self) -> tuple[int, Raw, int] | None:
        """The first line that is not blank: its number, its text from its first piece that is not blank
        (maybe not the whole line), and how many blanks come before it."""
        for number in itertools.count(1):
            line = self._read_line(number, 0)
            if line is None:
                return None
            raw, lead, _ = line
            if number == 1:
                raw = raw.removeprefix("\ufeff".encode() if isinstance(raw, bytes) else "\ufeff")
            if raw.strip(_BLANK[type(raw)]):
                return number, raw, lead
        return None  # pragma: no cover - the count never ends

    def _line_rest(self, raw: Raw, number: int, limit: int) -> tuple[Raw, bool]:
        """``raw``, the start of line ``number``, with the rest of the line; cut once over ``limit``."""
        while not raw.endswith(_NEWLINE[type(raw)]) and len(raw) <= limit:
            piece = self._piece(number)
            if not piece:
                return raw, True
            raw += piece
        return raw, len(raw) <= limit

    def _decoded(self, raw: Raw, number: int, lead: int, *, partial: bool = False) -> str:
        if isinstance(raw, str):
            return raw
        try:
            text: str = raw.decode("utf-8", "ignore" if partial else "strict")
            return text
        except UnicodeDecodeError as error:
            raise ModelFileError(
                self.name, f"not UTF-8: {error.reason}", number, lead + error.start + 1
            ) from None

    def _lines(self, after: int) -> Iterator[tuple[int, str]]:
        """Each line after line ``after`` that is not blank, and its number; one over :data:`MAX_LINE` is an
        error."""
        for number in itertools.count(after + 1):
            line = self._read_line(number, MAX_LINE)
            if line is None:
                return
            raw, lead, whole = line
            if not whole:
                raise ModelFileError(
                    self.name,
                    f"a line longer than {MAX_LINE:,} characters: JSON lines hold at most that",
                    number,
                )
            if raw:
                yield number, " " * lead + self._decoded(raw, number, lead)

    def _jsonl(self, first: Model, first_text: str, first_number: int) -> Iterator[Model]:
        if (fault := _not_text(first, first_text)) is not None:
            raise ModelFileError(self.name, fault, first_number)
        self._line, self.models_read = first_number, 1
        yield first
        for number, text in self._lines(first_number):
            if not text.strip():
                continue
            try:
                model = json_value(text)
            except json.JSONDecodeError as error:
                raise ModelFileError(self.name, f"bad JSON: {error.msg}", number, error.colno) from None
            if not isinstance(model, dict):
                raise ModelFileError(
                    self.name, f"expected an object (a logged model) on each line, not {_kind(model)}", number
                )
            if (fault := _not_text(model, text)) is not None:
                raise ModelFileError(self.name, fault, number)
            self._line = number
            self.models_read += 1
            yield model

    # ---- one JSON value, decoded a model at a time ----------------------------------------------------

    def _rest(self, head: Raw) -> str:
        """``head`` (what was read of the stream's last line) and the rest of the stream, whole, as text."""
        try:
            rest: str | bytes = self._stream.read()
        except (OSError, UnicodeDecodeError) as error:
            raise ModelFileError(self.name, f"cannot read it: {_reason(error)}") from None
        self.bytes_read += len(rest)
        whole: str | bytes = head + rest
        if isinstance(whole, str):
            return whole
        try:
            return whole.decode("utf-8")
        except UnicodeDecodeError as error:
            offset = self.bytes_read - len(whole) + error.start
            raise ModelFileError(self.name, f"not UTF-8: {error.reason} at byte {offset}") from None

    def _error(self, reason: str, pos: int) -> ModelFileError:
        line = self._text.count("\n", 0, pos) + 1
        return ModelFileError(self.name, reason, line, pos - self._text.rfind("\n", 0, pos))

    def _skip(self, pos: int) -> int:
        """The position of the next character that is not whitespace."""
        return _skip_spaces(self._text, pos)

    def _next_is(self, pos: int, char: str) -> bool:
        return self._text.startswith(char, self._skip(pos))

    def _decode(self, pos: int) -> tuple[Any, int]:
        """The JSON value at ``pos``, and where it ends."""
        try:
            return _raw_decode(self._text, pos)
        except json.JSONDecodeError as error:
            raise self._error(f"bad JSON: {error.msg}", error.pos) from None

    def _expect(self, pos: int, allowed: str, what: str) -> tuple[str, int]:
        """The next character, which must be one of ``allowed``, and the position after it."""
        pos = self._skip(pos)
        if pos < len(self._text) and self._text[pos] in allowed:
            return self._text[pos], pos + 1
        found = repr(self._text[pos]) if pos < len(self._text) else "the end of the file"
        raise self._error(f"bad JSON: expected {what}, found {found}", pos)

    def _array(self, pos: int) -> Generator[Model, None, int]:
        """The models of the array at ``pos``, one at a time; returns where the array ends."""
        _, pos = self._expect(pos, "[", "'['")
        if self._next_is(pos, "]"):
            return self._skip(pos) + 1
        for index in itertools.count(1):
            start = self._skip(pos)
            model, pos = self._decode(start)
            if not isinstance(model, dict):
                raise self._error(
                    f"item {index} of the array is {_kind(model)}, not an object (a logged model)", start
                )
            if (fault := _not_text(model, self._text, start, pos)) is not None:
                raise self._error(fault, start)
            self._start = start
            self.models_read += 1
            if self.size is not None:
                self.bytes_read = self.size * pos // len(self._text)
            yield model
            separator, pos = self._expect(pos, ",]", "',' or ']'")
            if separator == "]":
                break
        return pos

    def _answer(self) -> Iterator[Model]:
        """The models of a search answer ``{"models": [...], ...}``, whatever the order of its keys."""
        _, pos = self._expect(0, "{", "'{'")
        keys: list[str] = []
        if self._next_is(pos, "}"):
            pos = self._skip(pos) + 1
        else:
            while True:
                start = self._skip(pos)
                if not self._text.startswith('"', start):
                    raise self._error("bad JSON: expected a key in double quotes", start)
                key, pos = self._decode(start)
                _, pos = self._expect(pos, ":", "':'")
                value_at = self._skip(pos)
                if key != "models":
                    _, pos = self._decode(value_at)
                elif key in keys:
                    raise self._error('"models" appears twice', start)
                elif self._text.startswith("[", value_at):
                    pos = yield from self._array(value_at)
                else:
                    raise self._error(f'"models" is {_kind(self._decode(value_at)[0])}, not a list', value_at)
                keys.append(key)
                separator, pos = self._expect(pos, ",}", "',' or '}'")
                if separator == "}":
                    break
        self._end(pos)
        if keys and "models" not in keys:
            if "info" in keys:
                raise ModelFileError(
                    self.name, "holds one logged model: put it in a list [...], or write one model per line"
                )
            raise ModelFileError(
                self.name,
                f'no "models" key (it has {", ".join(map(repr, keys))}): expected a search answer '
                '{"models": [...]}, a JSON array of models, or JSON lines',
            )

    def _end(self, pos: int) -> None:
        """Nothing but whitespace may follow the value."""
        pos = self._skip(pos)
        if pos < len(self._text):
            raise self._error("bad JSON: more data after the end of the value", pos)
        if self.size is not None:
            self.bytes_read = self.size


def _raw_decode(text: str, pos: int) -> tuple[Any, int]:
    """The JSON value at ``pos`` and where it ends. What the json module raises for hostile text other than
    a :class:`json.JSONDecodeError` (nesting past the interpreter's stack, an integer past ``int``'s limit on
    digits) is one too, at ``pos``."""
    try:
        return _decoder.raw_decode(text, pos)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, pos) from None
    except ValueError as error:  # int() refuses a text of more digits than sys.get_int_max_str_digits()
        message = str(error)
        if "integer string conversion" in message:
            message = f"a number of more than {sys.get_int_max_str_digits()} digits"
        raise json.JSONDecodeError(message, text, pos) from None


def json_value(text: str) -> Any:
    """The one JSON value ``text`` holds, as :func:`json.loads` reads it; but text it cannot read (nested
    past the interpreter's stack, a number of too many digits) raises a :class:`json.JSONDecodeError` too."""
    value, end = _raw_decode(text, _skip_spaces(text, 0))
    if _skip_spaces(text, end) != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _not_text(model: Model, text: str, start: int = 0, end: int | None = None) -> str | None:
    """What is wrong when a model decoded from ``text[start:end]`` holds a string that is not text, else
    ``None``. A ``\\uD800``-``\\uDFFF`` escape that is not one of a pair decodes to half a character
    (RFC 8259 §8.2), which no server stores and no output can print."""
    end = len(text) if end is None else end
    if text.find("\\u", start, end) == -1 or not _SURROGATE_ESCAPE.search(text, start, end):
        return None  # no surrogate escape at all: the common case costs a search of the text
    stack: list[tuple[str, Any]] = [("", model)]
    while stack:  # a loop, not recursion: the model may nest as deep as the decoder allows
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    return _half_a_character(f"a key in {path or 'the model'}")
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}", item) for i, item in enumerate(value))
        elif isinstance(value, str) and _SURROGATE.search(value):
            return _half_a_character(path)
    return None


def _half_a_character(where: str) -> str:
    return (
        f"{where}: a \\u escape of half a surrogate pair is not a character: "
        "write the character itself, or both halves of its pair"
    )


def _reason(error: Exception) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error)


def _skip_spaces(text: str, pos: int) -> int:
    """The position of the first character at or after ``pos`` that is not JSON whitespace."""
    match = _SPACES.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _starts_a_model(line: str) -> bool:
    """Whether a line is an object with an ``"info"`` key before any ``"models"``, reading no further.

    This tells the first line of JSON lines from a search answer written on one line without decoding the
    answer's models.
    """
    pos = _skip_spaces(line, 0) + 1  # after the "{"
    try:
        while True:
            key, pos = _raw_decode(line, _skip_spaces(line, pos))
            if not isinstance(key, str):
                return False
            if key in ("info", "models"):
                return key == "info"
            pos = _skip_spaces(line, pos)
            if not line.startswith(":", pos):
                return False
            _, pos = _raw_decode(line, _skip_spaces(line, pos + 1))
            pos = _skip_spaces(line, pos)
            if not line.startswith(",", pos):
                return False
            pos += 1
    except json.JSONDecodeError:
        return False


def _whole_object(line: str) -> Model | None:
    """The object a line holds when it is one whole JSON object, else ``None``."""
    try:
        value = json_value(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _regular_file_size(stream: IO[bytes] | IO[str]) -> int | None:
    """The size of a stream that is a regular file or in memory, else ``None`` (pipes, terminals)."""
    if isinstance(stream, io.BytesIO):
        return len(stream.getbuffer())
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):  # io.UnsupportedOperation is an OSError; ValueError: closed
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def iter_models(source: Source) -> Iterator[Model]:
    """The models of a path (``-`` for standard input) or an open stream, one at a time.

    Raises :class:`ModelFileError` when the file cannot be read or is not a model file (see the module).
    """
    with ModelFile.open(source) as models:
        yield from models


DUCKDB_MAGIC = b"DUCK"  # at offset 8 of a DuckDB database file


def starts_as_duckdb(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a regular file that begins as a DuckDB database does (a model store, not a model
    file); never blocks on a FIFO, never raises."""
    try:
        if not Path(path).is_file():
            return False
        with Path(path).open("rb") as file:
            return file.read(12)[8:12] == DUCKDB_MAGIC
    except (OSError, ValueError):
        return False
