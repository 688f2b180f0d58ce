"""StackQL statements of ``databricks_workspace.ml.logged_models``: read, filled in and checked.

lmfilter began as the StackQL provider page of this one resource (SPEC §7). Its statements hold a search
filter three layers deep: a filter inside a JSON string inside a single-quoted SQL string
(``@@json='{"filter": "name = ''a''"}'``), where StackQL passes it on unchecked. This module reads such
statements into a typed model and checks them, the filter with lmfilter's own checker, every position mapped
back through both layers of quoting so that a caret lands on the character in the file.

- :func:`parse_statements` reads a file of statements separated by ``;`` (grammar ``grammar/stackql.lark``)
  into :class:`Statement` values, with the diagnostics of what it could not read (an unterminated string or
  comment, a form the page does not show, another resource). Each statement is read on its own, so one
  broken statement hides nothing of the next.
- :func:`fill` puts values for the ``{{ name }}`` template variables, escaped for where each stands (inside a
  SQL string, ``'`` becomes ``''``; inside a JSON string in it, JSON escapes first), and keeps a map from the
  filled text back to the template.
- :func:`check_statements` reports, as :class:`~lmfilter.diagnostics.Diagnostic` values in the file's own
  offsets, every fault of the statements: the ``LMF5xx`` codes below, and the search filter's own
  diagnostics (checked natively for the target, as the server will read it).

Every string and JSON value keeps an :class:`OffsetMap` from its decoded characters to offsets in the file.

>>> text = "EXEC databricks_workspace.ml.logged_models.search @deployment_name='dbc-1' " + chr(10) + (
...     "@@json='{\\"filter\\": \\"nmae = ''it''''s''\\"}';")
>>> [(d.code, text[d.span.start : d.span.end]) for d in check_statements(text)]
[('LMF202', 'nmae')]
>>> (statement,), _ = parse_statements(text)
>>> statement.method, statement.search_filter().value
('search', "nmae = 'it''s'")

Codes (the ``LMF5`` family, "StackQL statements"):

=========  ==========================================================================================
``LMF501``  a statement that does not read: an unexpected token, an unterminated string or comment
``LMF502``  not a statement of this resource (another resource, or a form its page does not show)
``LMF503``  a required parameter is missing (as the page lists them per method)
``LMF504``  an unknown parameter, ``data__`` column, body field or selected column
``LMF505``  a value the method does not take (a ``status``, ``max_results``, a body field's type)
``LMF506``  malformed JSON
``LMF507``  a template variable with no value
``LMF508``  a parameter or body field given twice
``LMF509``  an unknown method
``LMF510``  a JSON escape written once in a StackQL string, which reads it first (``\\u`` becomes ``u``)
=========  ==========================================================================================
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken

from lmfilter import lark_adapter
from lmfilter.api import check
from lmfilter.diagnostics import (
    LIMIT_CODE,
    MAX_DIAGNOSTICS,
    Diagnostic,
    Edit,
    Fix,
    Severity,
    Span,
    capped,
    did_you_mean,
    ordered,
    plural,
    quoted,
)
from lmfilter.documents import STAND_IN, outside_holes, takes_a_stand_in
from lmfilter.schema import get_target
from lmfilter.status import ModelStatus
from lmfilter.syntax import grammar_text

__all__ = [
    "METHODS",
    "RESOURCE",
    "Filled",
    "JsonArray",
    "JsonLiteral",
    "JsonMember",
    "JsonNumber",
    "JsonObject",
    "JsonString",
    "JsonTemplate",
    "JsonValue",
    "Layout",
    "Method",
    "Name",
    "OffsetMap",
    "Param",
    "Parsed",
    "Statement",
    "Value",
    "check_statements",
    "checked",
    "fill",
    "layout",
    "parse_statements",
    "sql_escaped",
    "variable",
]

RESOURCE = "databricks_workspace.ml.logged_models"
"""The one resource whose statements this module reads."""

SYNTAX_CODE = "LMF501"
OTHER_RESOURCE_CODE = "LMF502"
MISSING_CODE = "LMF503"
UNKNOWN_CODE = "LMF504"
BAD_VALUE_CODE = "LMF505"
JSON_CODE = "LMF506"
UNDEFINED_CODE = "LMF507"
DUPLICATE_CODE = "LMF508"
UNKNOWN_METHOD_CODE = "LMF509"
SQL_ESCAPE_CODE = "LMF510"

MAX_JSON_DEPTH = 100
"""Deepest nesting of JSON arrays and objects read in a body (deeper is malformed for lmfilter)."""

Verb = Literal["select", "insert", "delete", "exec"]
MethodName = Literal["get", "create", "delete", "delete_tag", "finalize", "log_params", "search", "set_tags"]
FieldKind = Literal["string", "status", "count", "key_values", "strings", "datasets", "order_by"]


@dataclass(frozen=True, slots=True)
class Method:
    """One of the resource's eight methods as its page lists it: the SQL verb that reaches it, the
    parameters it requires, and what it takes (``parameters`` by name, ``body`` fields with their kinds: in
    ``@@json`` for ``exec``, as ``data__`` columns for ``insert``)."""

    name: MethodName
    verb: Verb
    required: tuple[str, ...]
    parameters: frozenset[str]
    body: Mapping[str, FieldKind]


_KEYED = {"model_id", "deployment_name"}
METHODS: Mapping[MethodName, Method] = {
    method.name: method
    for method in (
        Method("get", "select", ("model_id", "deployment_name"), frozenset(_KEYED), {}),
        Method(
            "create",
            "insert",
            ("deployment_name", "data__experiment_id"),
            frozenset({"deployment_name"}),
            {
                "experiment_id": "string",
                "model_type": "string",
                "name": "string",
                "params": "key_values",
                "source_run_id": "string",
                "tags": "key_values",
            },
        ),
        Method(
            "delete_tag",
            "delete",
            ("model_id", "tag_key", "deployment_name"),
            frozenset({*_KEYED, "tag_key"}),
            {},
        ),
        Method("delete", "delete", ("model_id", "deployment_name"), frozenset(_KEYED), {}),
        # MLflow wants model_id in the body of finalize and log_params too (SPEC §1): lmfilter sends it from
        # @model_id, and a body that names it is not wrong.
        Method(
            "finalize",
            "exec",
            ("model_id", "deployment_name", "status"),
            frozenset(_KEYED),
            {"status": "status", "model_id": "string"},
        ),
        Method(
            "log_params",
            "exec",
            ("model_id", "deployment_name"),
            frozenset(_KEYED),
            {"params": "key_values", "model_id": "string"},
        ),
        Method(
            "search",
            "exec",
            ("deployment_name",),
            frozenset({"deployment_name"}),
            {
                "datasets": "datasets",
                "experiment_ids": "strings",
                "filter": "string",
                "max_results": "count",
                "order_by": "order_by",
                "page_token": "string",
            },
        ),
        Method(
            "set_tags", "exec", ("model_id", "deployment_name"), frozenset(_KEYED), {"tags": "key_values"}
        ),
    )
}

_EXEC_BY_NAME: Mapping[str, MethodName] = {
    name: name for name, method in METHODS.items() if method.verb == "exec"
}
_EXEC_METHODS = tuple(_EXEC_BY_NAME)
_DATA_PREFIX = "data__"
_SELECTABLE = ("model",)
# What finalize may set a model to: the end of its upload, either way (as `lmfilter models finalize`).
_FINAL_STATUSES = (ModelStatus.READY.wire_name, ModelStatus.FAILED.wire_name)
_TEMPLATE = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}")
# A workspace's deployment name is the first label of its host name (SPEC §7): anything else would send the
# request, and its token, to another host.
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


# ---- offsets -----------------------------------------------------------------------------------------------

Quoting = Literal["plain", "sql", "json", "filled"]


@dataclass(frozen=True, slots=True)
class OffsetMap:
    """Where the characters of a decoded text stand in the text it was decoded from, and so in the file.

    The map is a list of runs: from decoded offset ``starts[k]`` on, either each character stands for one
    character from ``sources[k]`` on (``steps[k]`` 1: text as written), or all of the run's characters
    stand for the source text up to the next run's start (``steps[k]`` 0: an escape such as ``''``,
    ``\\u00e9`` or a surrogate pair, or a template's filled-in value). ``below`` maps the source further
    down (a JSON string's characters to the SQL string's, those to the file). ``quoting`` says how text is
    written in the layer below (:meth:`written`), so that a fix's replacement can be written there too.

    >>> m = OffsetMap.of_sql("'it''s'", 0)
    >>> m.decoded, [m.start(i) for i in range(4)], m.span(Span(2, 4))
    ("it's", [1, 2, 3, 5], Span(start=3, end=6))
    """

    length: int
    starts: tuple[int, ...]
    sources: tuple[int, ...]
    steps: tuple[int, ...]
    quoting: Quoting = "plain"
    below: OffsetMap | None = None
    decoded: str = dataclasses.field(default="", repr=False, compare=False)

    @classmethod
    def identity(cls, start: int, length: int, below: OffsetMap | None = None) -> OffsetMap:
        """``length`` characters written as they are, from ``start`` on."""
        return cls(length, (0,), (start,), (1,), "plain", below)

    @classmethod
    def of_sql(cls, literal: str, start: int, below: OffsetMap | None = None) -> OffsetMap:
        """The map of a single-quoted SQL string literal written at ``start``, its text in ``decoded``.

        StackQL reads a string as MySQL does (its parser is Vitess'): ``''`` and ``\\'`` stand for a quote,
        ``\\\\`` for a backslash, ``\\n``, ``\\t``, ``\\r``, ``\\b``, ``\\0`` and ``\\Z`` for those control
        characters, and a backslash before any other character for that character alone.
        """
        runs = _Runs(start + 1)
        content = literal[1:-1] if len(literal) > 1 and _closed(literal) else literal[1:]
        out: list[str] = []
        at = length = 0
        while True:
            found = _SQL_ESCAPE.search(content, at)
            if found is None or found.end() - found.start() < 2:  # none, or a backslash that ends the text
                out.append(content[at:])
                break
            out.append(content[at : found.start()])
            length += found.start() - at
            runs.squeeze(length, start + 1 + found.start(), 1, 2)
            escaped = found.group()[1]
            out.append(_SQL_DECODED.get(escaped, escaped) if found.group()[0] == "\\" else "'")
            length += 1
            at = found.end()
        decoded = "".join(out)
        return runs.build(len(decoded), "sql", below, decoded)

    def _run(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def _local_start(self, offset: int) -> int:
        offset = max(0, min(offset, self.length))
        k = self._run(offset)
        return self.sources[k] + (offset - self.starts[k]) * self.steps[k]

    def _local_end(self, offset: int) -> int:
        offset = max(0, min(offset, self.length))
        if offset == 0:
            return self._local_start(0)
        k = self._run(offset - 1)
        if self.steps[k]:
            return self.sources[k] + offset - self.starts[k]
        return self.sources[k + 1]  # a squeezed run is always followed by the run after it

    def start(self, offset: int) -> int:
        """Where the decoded character at ``offset`` begins in the file (``length``: where the text ends)."""
        local = self._local_start(offset)
        return local if self.below is None else self.below.start(local)

    def end(self, offset: int) -> int:
        """Where the decoded character before ``offset`` ends in the file."""
        local = self._local_end(offset)
        return local if self.below is None else self.below.end(local)

    def span(self, span: Span) -> Span:
        """The file's span of the decoded ``span``: whole escapes, whole filled-in values."""
        if span.start >= span.end:
            at = self.start(span.start)
            return Span(at, at)
        return Span(self.start(span.start), max(self.start(span.start), self.end(span.end)))

    def written(self, text: str) -> str | None:
        """``text`` as the file must hold it to decode to ``text`` here; ``None`` if it cannot be written
        (see :meth:`exact`)."""
        if self.quoting == "sql":
            text = sql_escaped(text)
        elif self.quoting == "json":
            text = json.dumps(text, ensure_ascii=False)[1:-1]
        return text if self.below is None else self.below.written(text)

    def exact(self, span: Span) -> bool:
        """Whether an edit of the decoded ``span`` is an edit of the file: false where it would cut into a
        filled-in template (the template, not its value, is what the file holds)."""
        if self.quoting == "filled":
            for k, step in enumerate(self.steps):
                if step:
                    continue
                low, high = self.starts[k], self.starts[k + 1]
                if (low < span.end and span.start < high) or low < span.start < high:
                    return False
        if self.below is None:
            return True
        local = Span(
            self._local_start(span.start), max(self._local_start(span.start), self._local_end(span.end))
        )
        return self.below.exact(local if span.start < span.end else Span(local.start, local.start))

    def fix(self, fix: Fix) -> Fix | None:
        """``fix`` (of the decoded text) as a fix of the file, or ``None`` where the file cannot take it."""
        edits = []
        for edit in fix.edits:
            replacement = self.written(edit.replacement)
            if replacement is None or not self.exact(edit.span):
                return None
            edits.append(Edit(self.span(edit.span), replacement))
        return Fix(fix.title, tuple(edits), fix.safe)

    def diagnostic(self, diagnostic: Diagnostic) -> Diagnostic:
        """``diagnostic`` (of the decoded text) placed in the file, keeping the fixes the file can take."""
        fixes = tuple(f for f in map(self.fix, diagnostic.fixes) if f is not None)
        return dataclasses.replace(diagnostic, span=self.span(diagnostic.span), fixes=fixes)


# The escapes of a StackQL string: a doubled quote, or a backslash and the character after it (any, a line
# break too); a backslash that ends the text escapes nothing.
_SQL_ESCAPE = re.compile(r"''|\\[\s\S]?")
_SQL_DECODED = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_SQL_ENCODED = {decoded: escape for escape, decoded in _SQL_DECODED.items()}


def _closed(literal: str) -> bool:
    """Whether a string literal's last quote closes it: not escaped by an odd run of backslashes (and not its
    opening quote)."""
    if not literal.endswith("'"):
        return False
    body = literal[1:-1]
    return (len(body) - len(body.rstrip("\\"))) % 2 == 0


def sql_escaped(text: str) -> str:
    """``text`` as a StackQL string holds it: each backslash doubled, each quote doubled.

    >>> print(sql_escaped("it's C:\\\\x"))
    it''s C:\\\\x
    """
    return text.replace("\\", "\\\\").replace("'", "''")


class _Runs:
    """Builds an :class:`OffsetMap` left to right."""

    def __init__(self, source: int) -> None:
        self.starts, self.sources, self.steps = [0], [source], [1]

    def _add(self, start: int, source: int, step: int) -> None:
        if self.starts[-1] == start:
            self.sources[-1], self.steps[-1] = source, step
        elif not (step and self.steps[-1] and self.sources[-1] + start - self.starts[-1] == source):
            self.starts.append(start)
            self.sources.append(source)
            self.steps.append(step)

    def copy(self, start: int, source: int) -> None:
        """From decoded ``start`` on, characters are written as they are, from ``source`` on."""
        self._add(start, source, 1)

    def squeeze(self, start: int, source: int, length: int, width: int) -> None:
        """The ``length`` decoded characters from ``start`` stand for ``width`` characters from ``source``."""
        if length:
            self._add(start, source, 0)
        self._add(start + length, source + width, 1)

    def build(self, length: int, quoting: Quoting, below: OffsetMap | None, decoded: str = "") -> OffsetMap:
        return OffsetMap(
            length, tuple(self.starts), tuple(self.sources), tuple(self.steps), quoting, below, decoded
        )


# ---- JSON --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JsonString:
    """A JSON string: its decoded ``value``, its ``span`` in the file (quotes included) and ``offsets``, the
    map from each character of ``value`` to the file."""

    value: str
    span: Span
    offsets: OffsetMap = dataclasses.field(compare=False)


@dataclass(frozen=True, slots=True)
class JsonNumber:
    text: str
    value: int | float
    span: Span


@dataclass(frozen=True, slots=True)
class JsonLiteral:
    """``true``, ``false`` or ``null``."""

    value: bool | None
    span: Span


@dataclass(frozen=True, slots=True)
class JsonTemplate:
    """A ``{{ name }}`` template variable written where a JSON value goes (not filled in yet)."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class JsonArray:
    items: tuple[JsonValue, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class JsonMember:
    key: JsonString
    value: JsonValue


@dataclass(frozen=True, slots=True)
class JsonObject:
    """A JSON object, its members in the order written (a key given twice is there twice)."""

    members: tuple[JsonMember, ...]
    span: Span

    def get(self, key: str) -> JsonValue | None:
        """The value of ``key``: the last one written, as Go's JSON decoder (StackQL's) takes it."""
        found = None
        for member in self.members:
            if member.key.value == key:
                found = member.value
        return found


JsonValue = JsonObject | JsonArray | JsonString | JsonNumber | JsonLiteral | JsonTemplate


def plain(value: JsonValue) -> object:
    """The Python value of a JSON value (templates as their ``{{ name }}`` text)."""
    if isinstance(value, JsonObject):
        return {member.key.value: plain(member.value) for member in value.members}
    if isinstance(value, JsonArray):
        return [plain(item) for item in value.items]
    if isinstance(value, JsonTemplate):
        return f"{{{{ {value.name} }}}}"
    return value.value


class _JsonError(Exception):
    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message, self.span = message, span


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_JSON_PLAIN = re.compile(r'[^"\\\x00-\x1f]+')
_JSON_BLANK = re.compile(r"[ \t\n\r]*")
_JSON_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


def parse_json(text: str, where: OffsetMap) -> JsonValue | Diagnostic:
    """Read ``text`` (decoded through ``where``, which maps it to the file) as one JSON value, or say where
    it is malformed (``LMF506``, in the file's offsets). A ``{{ name }}`` where a value goes is read as a
    :class:`JsonTemplate`."""
    reader = _JsonReader(text, where)
    try:
        value = reader.value(0)
        reader.blank()
        if reader.at < len(text):
            raise _JsonError("unexpected text after the JSON value", Span(reader.at, reader.at + 1))
    except _JsonError as error:
        return Diagnostic(JSON_CODE, "error", f"malformed JSON: {error.message}", where.span(error.span))
    return value


class _JsonReader:
    """A recursive-descent reader of JSON (RFC 8259) that keeps every value's place."""

    def __init__(self, text: str, where: OffsetMap) -> None:
        self.text, self.where, self.at = text, where, 0

    def blank(self) -> None:
        found = _JSON_BLANK.match(self.text, self.at)
        self.at = found.end() if found else self.at

    def fail(self, message: str, start: int | None = None, end: int | None = None) -> _JsonError:
        start = self.at if start is None else start
        return _JsonError(message, Span(start, min(len(self.text), start + 1) if end is None else end))

    def span(self, start: int) -> Span:
        return self.where.span(Span(start, self.at))

    def value(self, depth: int) -> JsonValue:
        self.blank()
        if self.at >= len(self.text):
            raise self.fail("a value is missing at the end")
        char = self.text[self.at]
        start = self.at
        template = _TEMPLATE.match(self.text, self.at)
        if template:  # before "{": a {{ name }} where a value goes is one value, not an object
            self.at = template.end()
            return JsonTemplate(template.group(1), self.span(start))
        if char in "{[":
            if depth >= MAX_JSON_DEPTH:
                raise self.fail(f"nested more than {MAX_JSON_DEPTH} levels deep")
            return self.object(depth) if char == "{" else self.array(depth)
        if char == '"':
            return self.string()
        number = _JSON_NUMBER.match(self.text, self.at)
        if number:
            self.at = number.end()
            literal = number.group()
            parsed: int | float = float(literal) if any(c in literal for c in ".eE") else int(literal)
            return JsonNumber(literal, parsed, self.span(start))
        for word, meant in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.at):
                self.at += len(word)
                return JsonLiteral(meant, self.span(start))
        if char == "'":
            raise self.fail("JSON strings take double quotes")
        raise self.fail(f"unexpected {quoted(char)}: expected a value")

    def object(self, depth: int) -> JsonObject:
        start = self.at
        self.at += 1
        members: list[JsonMember] = []
        self.blank()
        if self.text.startswith("}", self.at):
            self.at += 1
            return JsonObject((), self.span(start))
        while True:
            self.blank()
            if not self.text.startswith('"', self.at):
                raise self.fail("expected a key in double quotes" if members else "expected a key or '}'")
            key = self.string()
            self.blank()
            if not self.text.startswith(":", self.at):
                raise self.fail("expected ':' after the key")
            self.at += 1
            members.append(JsonMember(key, self.value(depth + 1)))
            self.blank()
            if self.text.startswith(",", self.at):
                self.at += 1
                continue
            if self.text.startswith("}", self.at):
                self.at += 1
                return JsonObject(tuple(members), self.span(start))
            raise self.fail("expected ',' or '}'" if self.at < len(self.text) else "the object is not closed")

    def array(self, depth: int) -> JsonArray:
        start = self.at
        self.at += 1
        items: list[JsonValue] = []
        self.blank()
        if self.text.startswith("]", self.at):
            self.at += 1
            return JsonArray((), self.span(start))
        while True:
            items.append(self.value(depth + 1))
            self.blank()
            if self.text.startswith(",", self.at):
                self.at += 1
                continue
            if self.text.startswith("]", self.at):
                self.at += 1
                return JsonArray(tuple(items), self.span(start))
            raise self.fail("expected ',' or ']'" if self.at < len(self.text) else "the array is not closed")

    def string(self) -> JsonString:
        text, start = self.text, self.at
        runs = _Runs(start + 1)
        out: list[str] = []
        length = 0
        self.at += 1
        while True:
            chunk = _JSON_PLAIN.match(text, self.at)
            if chunk:
                out.append(chunk.group())
                length += chunk.end() - self.at
                self.at = chunk.end()
            if self.at >= len(text):
                raise self.fail("unterminated string: a closing '\"' is missing", start)
            char = text[self.at]
            if char == '"':
                self.at += 1
                break
            if char != "\\":
                width = 2 if text.startswith("\r\n", self.at) else 1  # a line break is marked whole
                raise self.fail(
                    f"a control character ({quoted(char)}) cannot stand in a JSON string: escape it",
                    end=self.at + width,
                )
            escape_start = self.at
            decoded = self.escape()
            runs.squeeze(length, escape_start, 1, self.at - escape_start)
            out.append(decoded)
            length += 1
        value = "".join(out)
        offsets = runs.build(len(value), "json", self.where, value)
        return JsonString(value, self.span(start), offsets)

    def escape(self) -> str:
        """Read the escape at ``self.at`` (a backslash); a surrogate pair written as two escapes is one."""
        text, start = self.text, self.at
        kind = text[start + 1 : start + 2]
        if kind in _JSON_ESCAPES:
            self.at += 2
            return _JSON_ESCAPES[kind]
        if kind != "u":
            raise self.fail(f"unknown escape {quoted(text[start : start + 2])}", start, start + 2)
        if not _HEX4.fullmatch(text, start + 2, start + 6):
            raise self.fail("\\u takes four hexadecimal digits", start, min(len(text), start + 6))
        code = int(text[start + 2 : start + 6], 16)
        self.at = start + 6
        if (
            0xD800 <= code < 0xDC00
            and text.startswith("\\u", self.at)
            and _HEX4.fullmatch(text, self.at + 2, self.at + 6)
        ):
            low = int(text[self.at + 2 : self.at + 6], 16)
            if 0xDC00 <= low < 0xE000:
                self.at += 6
                return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
        return chr(code)  # a lone surrogate stays as it is: check_statements reports it


# ---- statements ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    """A name as written (a column, a parameter) and where."""

    text: str
    span: Span

    @property
    def key(self) -> str:
        """The name as compared: column and parameter names match in any letter case, as StackQL's."""
        return self.text.strip("`").lower()


@dataclass(frozen=True, slots=True)
class Value:
    """A value in a statement: a single-quoted ``string`` (``text`` decoded), a bare ``template``
    (``text`` is its variable's name) or a ``number``; ``offsets`` maps ``text`` to the file."""

    kind: Literal["string", "template", "number"]
    text: str
    span: Span
    offsets: OffsetMap = dataclasses.field(compare=False)

    @property
    def templated(self) -> bool:
        """Whether the value is, or holds, a template variable not filled in."""
        return self.kind == "template" or _TEMPLATE.search(self.text) is not None


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter given to a method: a ``WHERE`` condition, an ``INSERT`` column with its value, or an
    ``EXEC`` argument (``@name=``)."""

    name: Name
    value: Value

    @property
    def span(self) -> Span:
        return self.name.span.cover(self.value.span)


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement on the resource, read: its verb, the method it calls and what it passes.

    ``resource`` spans the resource's name as written (with the method's, for ``EXEC``), ``method_span``
    the method's part of it (the whole name for the other verbs). ``params`` are in the order written.
    ``body`` is the decoded ``@@json`` of an ``EXEC`` (``None`` when there is none, or it is a template);
    ``columns`` the selected or returned columns.
    """

    verb: Verb
    method: MethodName
    span: Span
    verb_span: Span
    resource: Span
    method_span: Span
    params: tuple[Param, ...] = ()
    body: JsonValue | None = None
    body_param: Param | None = None
    columns: tuple[Name, ...] = ()

    @property
    def spec(self) -> Method:
        return METHODS[self.method]

    def param(self, key: str) -> Param | None:
        """The parameter ``key`` (any letter case), the last one given."""
        found = None
        for param in self.params:
            if param.name.key == key:
                found = param
        return found

    def search_filter(self) -> JsonString | None:
        """The search filter of ``EXEC ….search``'s body, when it is a string."""
        if self.method != "search" or not isinstance(self.body, JsonObject):
            return None
        found = self.body.get("filter")
        return found if isinstance(found, JsonString) else None


class Parsed(NamedTuple):
    """What :func:`parse_statements` read: the statements, and the diagnostics of what it could not."""

    statements: list[Statement]
    diagnostics: list[Diagnostic]


_FAULTS = ("BAD_CHAR", "DQ_STRING", "UNTERMINATED_STRING", "UNTERMINATED_COMMENT")


@functools.cache
def parser() -> Lark:
    """The grammar compiled by Lark, once per process."""
    return lark_adapter.compile_lalr(grammar_text("stackql.lark"), keep=(*_FAULTS, "SEMICOLON"))


def _error(code: str, message: str, span: Span, *fixes: Fix, severity: Severity = "error") -> Diagnostic:
    return Diagnostic(code, severity, message, span, fixes)


def _span(token: Token) -> Span:
    return Span(token.start_pos or 0, token.end_pos or 0)


def _fault(token: Token, text: str) -> Diagnostic:
    span = _span(token)
    if token.type == "UNTERMINATED_STRING":
        # After a backslash a quote is escaped: the backslash is made one of its own (\\) first.
        trailing = len(str(token)) - len(str(token).rstrip("\\"))
        close = Fix("close the string", (Edit(Span(len(text), len(text)), "\\'" if trailing % 2 else "'"),))
        return _error(
            SYNTAX_CODE,
            "unterminated string: a closing ' is missing",
            Span(span.start, span.start + 1),
            close,
        )
    if token.type == "UNTERMINATED_COMMENT":
        close = Fix("close the comment", (Edit(Span(len(text), len(text)), "*/"),))
        return _error(
            SYNTAX_CODE,
            "unterminated comment: a closing */ is missing",
            Span(span.start, span.start + 2),
            close,
        )
    if token.type == "DQ_STRING":
        single = "'" + sql_escaped(str(token)[1:-1]) + "'"
        fix = Fix("use single quotes", (Edit(span, single),), safe=True)
        return _error(
            SYNTAX_CODE, "strings take single quotes in StackQL ('...', '' for a quote inside)", span, fix
        )
    return _error(SYNTAX_CODE, f"unexpected character {quoted(str(token))}", span)


def _lex(text: str) -> tuple[list[Token], list[Diagnostic]]:
    """Every token of ``text`` (comments and blanks left out), and a diagnostic for each fault token."""
    tokens: list[Token] = []
    faults: list[Diagnostic] = []
    left_out: list[Token] = []  # counted, not described: a file of a million stray characters stays cheap
    for token in parser().lex(text):
        if token.type in _FAULTS:
            if len(faults) < MAX_DIAGNOSTICS:
                faults.append(_fault(token, text))
            else:
                left_out.append(token)
        tokens.append(token)
    if left_out:
        n = len(left_out)
        message = f"{plural(n, 'more problem')} not listed ({plural(n, 'error')})"
        faults.append(_error(LIMIT_CODE, message, _span(left_out[0])))
    return tokens, faults


def parse_statements(text: str) -> Parsed:
    """Read every statement of ``text`` (separated by ``;``); never raises on bad input.

    A statement with a fault (an unterminated string, a character StackQL does not take), a form the page
    does not show, or a name other than the resource's is reported and left out of ``statements``.

    >>> parsed = parse_statements("SELECT model FROM aws.ec2.instances WHERE region = 'x';")
    >>> parsed.statements, [(d.code, d.span) for d in parsed.diagnostics]
    ([], [('LMF502', Span(start=18, end=35))])
    """
    tokens, diagnostics = _lex(text)
    statements: list[Statement] = []
    group: list[Token] = []
    elsewhere: list[Span] = []  # statements on other resources: their faults are not lmfilter's to say
    for token in [*tokens, None]:
        if token is not None and token.type != "SEMICOLON":
            group.append(token)
            continue
        if group and not any(t.type in _FAULTS for t in group):
            read = _statement(group)
            if isinstance(read, Statement):
                statements.append(read)
            else:
                diagnostics.extend(read)
        elif group and (other := _elsewhere(group)) is not None:
            elsewhere.append(_span(group[0]).cover(_span(group[-1])))
            diagnostics.append(other)
        group = []
    if elsewhere:
        starts = [span.start for span in elsewhere]

        def inside(d: Diagnostic) -> bool:
            k = bisect.bisect_right(starts, d.span.start) - 1
            return k >= 0 and d.span.start < elsewhere[k].end and d.code != OTHER_RESOURCE_CODE

        diagnostics = [d for d in diagnostics if not inside(d)]
    return Parsed(statements, ordered(diagnostics))


class Layout(NamedTuple):
    """Where a file's string literals (terminated or not) and comments are, in order."""

    strings: list[Span]
    comments: list[Span]


# The grammar's COMMENT: between two tokens there is nothing but blanks and comments (the lexer is total).
_COMMENT = re.compile(r"--[^\n]*|/\*(?:[^*]|\*(?!/))*\*/")


def layout(text: str) -> Layout:
    """Where the strings and comments of ``text`` are, as the statements' lexer reads them (a ``--`` inside a
    string is no comment, a ``'`` inside a comment no string).

    >>> layout("SELECT 'a--b' -- c" + chr(10) + "/* 'd' */")
    Layout(strings=[Span(start=7, end=13)], comments=[Span(start=14, end=18), Span(start=19, end=28)])
    """
    strings: list[Span] = []
    comments: list[Span] = []
    at = 0
    for token in parser().lex(text):
        start = token.start_pos or 0
        comments.extend(Span(m.start(), m.end()) for m in _COMMENT.finditer(text, at, start))
        if token.type in ("STRING", "UNTERMINATED_STRING"):
            strings.append(_span(token))
        at = token.end_pos or start
    comments.extend(Span(m.start(), m.end()) for m in _COMMENT.finditer(text, at))
    return Layout(strings, comments)


_NEAR_MISS = 0.9

_VERBS: Mapping[str, Verb] = {"SELECT": "select", "INSERT": "insert", "DELETE": "delete", "EXEC": "exec"}

_SHOWN_TERMINALS = {
    "NAME": "a name",
    "STRING": "a string",
    "TEMPLATE": "a {{ template }}",
    "NUMBER": "a number",
    "VARIABLE": "an @argument",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "DOT": "'.'",
    "STAR": "'*'",
    "EQUALS": "'='",
    "$END": "the end of the statement",
}


def _shown_terminal(name: str) -> str:
    return _SHOWN_TERMINALS.get(name, name)


def _dotted(tokens: Sequence[Token], at: int) -> tuple[str, Span, list[Token]] | None:
    """The dotted name starting at ``tokens[at]``: its text, its span and its parts."""
    parts: list[Token] = []
    # A part may be double-quoted: StackQL's quoted name (read as a fault of a statement on the resource).
    while at < len(tokens) and tokens[at].type in ("NAME", "DQ_STRING"):
        parts.append(tokens[at])
        if at + 1 < len(tokens) and tokens[at + 1].type == "DOT":
            at += 2
        else:
            break
    if not parts:
        return None
    return ".".join(str(p).strip('`"') for p in parts), _span(parts[0]).cover(_span(parts[-1])), parts


def _elsewhere(tokens: list[Token]) -> Diagnostic | None:
    """Why a statement is not one on the resource (its verb, or the name after it, is another's), if it is
    not. Checked before the rest, so a statement on another resource is said to be one, whatever its form."""
    first = tokens[0]
    verb = _VERBS.get(str(first.type))
    if first.type in _FAULTS:  # no statement at all: the fault is what there is to say
        return None
    if verb is None:
        return _error(
            OTHER_RESOURCE_CODE,
            f"not a statement on {RESOURCE}: {quoted(str(first))} (it takes SELECT, INSERT, DELETE and EXEC)",
            _span(first),
        )
    named = _named(tokens, verb)
    if named is None:
        return None
    name, span, parts = named
    resource = name.rsplit(".", 1)[0] if verb == "exec" and len(parts) > 1 else name
    if resource == RESOURCE:
        return None
    # Only a near miss: the provider's other resources (databricks_workspace.ml.experiments) are close in
    # letters too, and no typo.
    hint = did_you_mean(
        name,
        [RESOURCE] if verb != "exec" else [f"{RESOURCE}.{m}" for m in _EXEC_METHODS],
        cutoff=_NEAR_MISS,
    )
    fixes = (Fix(f"replace with {quoted(hint)}", (Edit(span, hint),)),) if hint else ()
    what = "this" if verb != "exec" or len(parts) > 1 else "EXEC on this"
    return _error(
        OTHER_RESOURCE_CODE,
        f"not {what} resource: lmfilter reads statements on {RESOURCE}, not {quoted(name, 80)}",
        span,
        *fixes,
    )


def _named(tokens: list[Token], verb: Verb) -> tuple[str, Span, list[Token]] | None:
    """The name a statement is on: after the verb (EXEC), or after the first FROM or INTO."""
    at = (
        1
        if verb == "exec"
        else next((i + 1 for i, t in enumerate(tokens) if t.type in ("FROM", "INTO")), None)
    )
    return None if at is None else _dotted(tokens, at)


def _statement(tokens: list[Token]) -> Statement | list[Diagnostic]:
    other = _elsewhere(tokens)
    if other is not None:
        return [other]
    verb = _VERBS[str(tokens[0].type)]
    named = _named(tokens, verb)
    if named is not None and verb == "exec":
        method_token = named[2][-1]
        method = str(method_token).strip("`")
        if method not in _EXEC_METHODS:
            method_span = _span(method_token)
            hint = did_you_mean(method, _EXEC_METHODS)
            fixes = (Fix(f"replace with {quoted(hint)}", (Edit(method_span, hint),)),) if hint else ()
            choices = ", ".join(_EXEC_METHODS)
            return [
                _error(
                    UNKNOWN_METHOD_CODE,
                    f"unknown method {quoted(method)} of {RESOURCE} (EXEC takes {choices})"
                    + (f"; did you mean {quoted(hint)}?" if hint else ""),
                    method_span,
                    *fixes,
                )
            ]
    interactive = parser().parse_interactive()
    try:
        for token in tokens:
            interactive.feed_token(token)
        tree = interactive.feed_eof(tokens[-1])  # type: ignore[no-untyped-call]  # lark leaves it untyped
    except UnexpectedToken as unexpected:
        return [_unexpected(unexpected, tokens)]
    except UnexpectedInput as unexpected:  # pragma: no cover - the lexer is total, the table says the rest
        end = tokens[-1].end_pos or 0
        return [_error(SYNTAX_CODE, f"cannot read the statement ({unexpected})", Span(end, end))]
    return _build(tree, tokens)


def _unexpected(unexpected: UnexpectedToken, tokens: list[Token]) -> Diagnostic:
    token = unexpected.token
    expected = sorted({_shown_terminal(name) for name in unexpected.expected})
    wanted = expected[0] if len(expected) == 1 else ", ".join(expected[:-1]) + " or " + expected[-1]
    if token.type == "$END":
        end = tokens[-1].end_pos or 0
        return _error(SYNTAX_CODE, f"the statement ends early: expected {wanted}", Span(end, end))
    return _error(SYNTAX_CODE, f"unexpected {quoted(str(token))}: expected {wanted}", _span(token))


def _build(tree: Tree[Token], tokens: list[Token]) -> Statement | list[Diagnostic]:
    (form,) = tree.children
    assert isinstance(form, Tree)
    verb = _VERBS[str(tokens[0].type)]
    span = _span(tokens[0]).cover(_span(tokens[-1]))
    resource = _child(form, "resource")
    names = [t for t in resource.children if isinstance(t, Token) and t.type == "NAME"]
    resource_span = _span(names[0]).cover(_span(names[-1]))
    verb_span = _span(tokens[0])
    if verb == "select":
        params = _conditions(form)
        return Statement(
            "select",
            "get",
            method_span=resource_span,
            params=params,
            columns=_columns(form),
            span=span,
            verb_span=verb_span,
            resource=resource_span,
        )
    if verb == "delete":
        params = _conditions(form)
        method: MethodName = "delete_tag" if any(p.name.key == "tag_key" for p in params) else "delete"
        return Statement(
            "delete",
            method,
            method_span=resource_span,
            params=params,
            span=span,
            verb_span=verb_span,
            resource=resource_span,
        )
    if verb == "insert":
        columns = [Name(str(t), _span(t)) for t in form.children if isinstance(t, Token) and t.type == "NAME"]
        rows = _child(form, "select_row", "values_row")
        values = [_value(v) for v in _child(rows, "values").children if isinstance(v, Tree)]
        if len(columns) != len(values):
            where = (
                Span(values[-1].span.end, values[-1].span.end)
                if len(values) < len(columns)
                else values[len(columns)].span
            )
            return [
                _error(
                    SYNTAX_CODE,
                    f"{len(columns)} columns are named but {len(values)} values given: one value per column",
                    where,
                )
            ]
        returning = _child(form, "columns", required=False)
        return Statement(
            "insert",
            "create",
            method_span=resource_span,
            params=tuple(Param(c, v) for c, v in zip(columns, values, strict=True)),
            columns=() if returning is None else _names(returning),
            span=span,
            verb_span=verb_span,
            resource=resource_span,
        )
    exec_method = _EXEC_BY_NAME[str(names[-1]).strip("`")]  # one of them: checked before parsing
    params_list: list[Param] = []
    body_param: Param | None = None
    body: JsonValue | None = None
    problems: list[Diagnostic] = []
    for argument in form.children:
        if not (isinstance(argument, Tree) and argument.data == "argument"):
            continue
        variable, _, value_tree = argument.children
        assert isinstance(variable, Token)
        assert isinstance(value_tree, Tree)
        value = _value(value_tree)
        if str(variable).lower() == "@@json":
            body_param = Param(Name(str(variable), _span(variable)), value)
            if value.kind == "string" and not _whole_template(value.text):
                read = parse_json(value.text, value.offsets)
                if isinstance(read, Diagnostic):
                    problems += [*_sql_escapes_in_json(value, well_formed=False), read]
                else:
                    body = read
            continue
        params_list.append(Param(Name(str(variable).lstrip("@"), _span(variable)), value))
    if problems:
        return problems
    return Statement(
        "exec",
        exec_method,
        method_span=_span(names[-1]),
        params=tuple(params_list),
        body=body,
        body_param=body_param,
        span=span,
        verb_span=verb_span,
        resource=resource_span,
    )


def _whole_template(text: str) -> bool:
    return _TEMPLATE.fullmatch(text.strip()) is not None


def _child(tree: Tree[Token], *names: str, required: bool = True) -> Tree[Token]:
    for child in tree.children:
        if isinstance(child, Tree) and child.data in names:
            return child
    if required:  # pragma: no cover - the grammar guarantees it
        raise AssertionError(f"no {names} in {tree.data}")
    return None  # type: ignore[return-value]  # only with required=False, whose callers test for None


def _names(columns: Tree[Token]) -> tuple[Name, ...]:
    return tuple(
        Name(str(t), _span(t))
        for t in columns.children
        if isinstance(t, Token) and t.type in ("NAME", "STAR")
    )


def _columns(form: Tree[Token]) -> tuple[Name, ...]:
    return _names(_child(form, "columns"))


def _conditions(form: Tree[Token]) -> tuple[Param, ...]:
    conditions = _child(form, "conditions", required=False)
    if conditions is None:
        return ()
    params = []
    for condition in conditions.children:
        if isinstance(condition, Tree):
            name, _, value = condition.children
            assert isinstance(name, Token)
            assert isinstance(value, Tree)
            params.append(Param(Name(str(name), _span(name)), _value(value)))
    return tuple(params)


def _value(tree: Tree[Token]) -> Value:
    (token,) = tree.children
    assert isinstance(token, Token)
    span = _span(token)
    if token.type == "STRING":
        offsets = OffsetMap.of_sql(str(token), span.start)
        return Value("string", offsets.decoded, span, offsets)
    if token.type == "TEMPLATE":
        found = _TEMPLATE.fullmatch(str(token))
        assert found is not None
        return Value("template", found.group(1), span, OffsetMap.identity(span.start, len(token)))
    return Value("number", str(token), span, OffsetMap.identity(span.start, len(token)))


# ---- templates -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filled:
    """A text with its template variables filled in: ``origin`` maps it back to the text as written (a
    filled-in value to its whole ``{{ name }}``); ``diagnostics`` name the variables with no value (left as
    written), in the written text's offsets."""

    text: str
    origin: OffsetMap
    diagnostics: tuple[Diagnostic, ...]


def fill(text: str, variables: Mapping[str, str]) -> Filled:
    """``text`` with each ``{{ name }}`` replaced by ``variables[name]``, written for where it stands.

    Inside a single-quoted string, ``'`` is written ``''`` and ``\\`` ``\\\\`` (:func:`sql_escaped`); inside a
    JSON string within it (an ``@@json`` body, a ``data__params`` value), the value is JSON-escaped first, so
    the statement reads back exactly the value given, whatever it holds. Outside strings the value is written
    as it is. Templates in comments are left alone.

    >>> filled = fill("@@json='{\\"filter\\": \\"{{ f }}\\"}'", {"f": "it's \\"x\\""})
    >>> print(filled.text)
    @@json='{"filter": "it''s \\\\"x\\\\""}'
    >>> [d.code for d in fill("'{{ nope }}'", {}).diagnostics]
    ['LMF507']
    """
    replacements: list[tuple[Span, str]] = []
    diagnostics: list[Diagnostic] = []

    def place(name: str, span: Span, write: Literal["as-is", "sql", "json"]) -> None:
        if name not in variables:
            diagnostics.append(_error(UNDEFINED_CODE, f"template variable {quoted(name)} has no value", span))
            return
        value = variables[name]
        if write == "json":
            value = json.dumps(value, ensure_ascii=False)[1:-1]
        if write in ("json", "sql"):
            value = sql_escaped(value)
        replacements.append((span, value))

    tokens, _ = _lex(text)
    for token in tokens:
        if token.type == "TEMPLATE":
            found = _TEMPLATE.fullmatch(str(token))
            assert found is not None
            place(found.group(1), _span(token), "as-is")
        elif token.type in ("STRING", "UNTERMINATED_STRING"):
            offsets = OffsetMap.of_sql(str(token), token.start_pos or 0)
            inside = _json_strings(offsets.decoded)
            for found in _TEMPLATE.finditer(offsets.decoded):
                in_json = any(a <= found.start() and found.end() <= b for a, b in inside)
                place(
                    found.group(1),
                    offsets.span(Span(found.start(), found.end())),
                    "json" if in_json else "sql",
                )
    runs = _Runs(0)
    pieces: list[str] = []
    at = length = 0
    for span, value in replacements:
        pieces.append(text[at : span.start])
        length += span.start - at
        runs.squeeze(length, span.start, len(value), span.end - span.start)
        pieces.append(value)
        length += len(value)
        at = span.end
    pieces.append(text[at:])
    filled = "".join(pieces)
    return Filled(filled, runs.build(len(filled), "filled", None), tuple(diagnostics))


def variable(text: str) -> tuple[str, str]:
    """A command line's ``NAME=VALUE`` as a template variable's name and value (the value may hold ``=``).

    >>> variable("filter=name = 'a'")
    ('filter', "name = 'a'")
    """
    name, equals, value = text.partition("=")
    if not equals or _VARIABLE_NAME.fullmatch(name) is None:
        raise ValueError(f"{quoted(text)} is not NAME=VALUE (a name of letters, digits and '_')")
    return name, value


_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _json_strings(text: str) -> list[tuple[int, int]]:
    """Where the JSON strings of ``text`` are (between their quotes), if ``text`` looks like JSON."""
    head = text.lstrip()
    if not head.startswith(("{", "[")) or _TEMPLATE.match(head):
        return []
    ranges: list[tuple[int, int]] = []
    at = 0
    while True:
        quote = text.find('"', at)
        if quote < 0:
            return ranges
        end = quote + 1
        while end < len(text) and text[end] != '"':
            end += 2 if text[end] == "\\" else 1
        ranges.append((quote + 1, min(end, len(text))))
        at = end + 1


# ---- checking ------------------------------------------------------------------------------------------


def check_statements(
    text: str, target: str = "databricks", variables: Mapping[str, str] | None = None
) -> list[Diagnostic]:
    """Every diagnostic of the statements in ``text``, in the file's offsets; never raises on bad input.

    With ``variables``, the templates are filled in first (:func:`fill`) and the filled statements checked,
    each diagnostic placed back in ``text`` (one inside a filled-in value on its template). Without, a value
    holding a template is not checked. The search filter is checked as the ``target`` server reads it
    (``lmfilter.check(filter, target, native=True)``), and ``max_results`` against the target's limit. Each
    statement has at most :data:`~lmfilter.diagnostics.MAX_DIAGNOSTICS` diagnostics, then one ``LMF110``
    counting the rest; so have the faults of the file's characters (:func:`parse_statements`).
    """
    return checked(text, target, variables).diagnostics


def checked(
    text: str,
    target: str = "databricks",
    variables: Mapping[str, str] | None = None,
    between: Callable[[], None] | None = None,
) -> Parsed:
    """What :func:`check_statements` says, with the statements it read (of the filled-in text, with
    ``variables``): one reading serves both. ``between`` is called before each statement is checked: what
    it raises stops the work (a language server's, when the text has changed)."""
    get_target(target)  # an unknown target is the caller's error, raised before anything is read
    if variables is None:
        statements, found = _checked(text, target, between)
    else:
        filled = fill(text, variables)
        statements, found = _checked(filled.text, target, between)
        found = [filled.origin.diagnostic(d) for d in found]
        found.extend(filled.diagnostics)
    return Parsed(statements, ordered(found))


def _checked(text: str, target: str, between: Callable[[], None] | None = None) -> Parsed:
    statements, diagnostics = parse_statements(text)
    for statement in statements:
        if between is not None:
            between()
        diagnostics.extend(capped(ordered(_check(statement, target))))
    return Parsed(statements, diagnostics)


def _check(statement: Statement, target: str) -> Iterator[Diagnostic]:
    spec = statement.spec
    given: dict[str, Param] = {}
    for param in statement.params:
        key = param.name.key
        if key in given:
            yield _error(DUPLICATE_CODE, f"{quoted(key)} is given twice", param.name.span)
        given[key] = param
        yield from _check_param(statement, param, target)
    for column in statement.columns:
        if column.text != "*" and column.key not in _SELECTABLE:
            yield _unknown(column, _SELECTABLE, "column", f"{RESOURCE} has the column 'model'")
    if statement.body is not None and statement.body_param is not None:
        yield from _sql_escapes_in_json(statement.body_param.value, well_formed=True)
    body_keys: set[str] = set()
    if isinstance(statement.body, JsonObject):
        body_keys = {member.key.value for member in statement.body.members}
        yield from _check_body(statement.body, spec, target)
    elif statement.body is not None and not isinstance(statement.body, JsonTemplate):
        yield _error(BAD_VALUE_CODE, "the @@json body must be a JSON object", statement.body.span)
    for required in spec.required:
        if required not in given and required not in body_keys:
            where = "in @@json" if spec.verb == "exec" and required not in spec.parameters else ""
            how = {"select": "WHERE", "delete": "WHERE", "insert": "a column", "exec": "an argument"}[
                spec.verb
            ]
            yield _error(
                MISSING_CODE,
                f"{spec.name} needs {required} ({where or how})",
                statement.method_span,
            )


def _unknown(name: Name, known: Sequence[str], what: str, note: str) -> Diagnostic:
    hint = did_you_mean(name.key, known)
    fixes = (Fix(f"replace with {quoted(hint)}", (Edit(name.span, hint),)),) if hint else ()
    advice = f"; did you mean {quoted(hint)}?" if hint else f" ({note})"
    return _error(UNKNOWN_CODE, f"unknown {what} {quoted(name.text)}{advice}", name.span, *fixes)


def _check_param(statement: Statement, param: Param, target: str) -> Iterator[Diagnostic]:
    spec = statement.spec
    key = param.name.key
    if spec.verb == "insert" and key.startswith(_DATA_PREFIX):
        field = key.removeprefix(_DATA_PREFIX)
        if field not in spec.body:
            known = [_DATA_PREFIX + name for name in spec.body]
            yield _unknown(param.name, known, "column", "the data__ columns are " + ", ".join(known))
        elif not param.value.templated:
            if spec.body[field] not in ("string", "status", "count"):  # a column of JSON
                read = parse_json(param.value.text, param.value.offsets)
                yield from _sql_escapes_in_json(param.value, not isinstance(read, Diagnostic))
            yield from _check_field(_as_json(param.value), spec.body[field], field, target)
        return
    if param.value.kind == "string":
        yield from _check_lone_surrogates(param.value.text, param.value.offsets)
    accepted = sorted(spec.parameters | ({"tag_key"} if spec.verb == "delete" else set()))
    if key not in accepted:
        shown = ", ".join(accepted) + (
            ", " + ", ".join(_DATA_PREFIX + n for n in spec.body) if spec.verb == "insert" else ""
        )
        yield _unknown(
            param.name,
            accepted,
            "parameter" if spec.verb != "insert" else "column",
            f"{spec.name} takes {shown}",
        )
        return
    if key == "deployment_name" and not param.value.templated and not _HOST_LABEL.fullmatch(param.value.text):
        yield _error(
            BAD_VALUE_CODE,
            f"deployment_name {quoted(param.value.text)} is not a workspace name (letters, digits and '-'): "
            "it names the host https://<deployment_name>.cloud.databricks.com",
            param.value.span,
        )


def _as_json(value: Value) -> JsonValue:
    """A statement's string value as a JSON string (a data__ column holds what a body field does)."""
    return JsonString(value.text, value.span, value.offsets)


def _check_body(body: JsonObject, spec: Method, target: str) -> Iterator[Diagnostic]:
    seen: set[str] = set()
    known = list(spec.body)
    for member in body.members:
        key = member.key
        if key.value in seen:
            yield _error(
                DUPLICATE_CODE,
                f"{quoted(key.value)} is given twice: the last one is used",
                key.span,
                severity="warning",
            )
        seen.add(key.value)
        yield from _check_lone_surrogates(key.value, key.offsets)
        if key.value not in spec.body:
            name_span = key.offsets.span(Span(0, len(key.value)))
            hint = did_you_mean(key.value, known)
            fixes: tuple[Fix, ...] = ()
            if hint:
                mapped = key.offsets.fix(
                    Fix(f"replace with {quoted(hint)}", (Edit(Span(0, len(key.value)), hint),))
                )
                fixes = () if mapped is None else (mapped,)
            fields = ", ".join(known) or "no fields"
            advice = f"; did you mean {quoted(hint)}?" if hint else f" ({spec.name} takes {fields})"
            yield _error(
                UNKNOWN_CODE,
                f"unknown field {quoted(key.value)} in the @@json body of {spec.name}{advice}",
                name_span if name_span.end > name_span.start else key.span,
                *fixes,
            )
            continue
        yield from _check_field(member.value, spec.body[key.value], key.value, target)


def _sql_escapes_in_json(value: Value, well_formed: bool) -> Iterator[Diagnostic]:
    """Each JSON escape written with one backslash in a StackQL string that holds JSON: StackQL reads the
    string first, so ``\\u00e9`` reaches the JSON as ``u00e9`` and ``\\"`` as a bare quote. (``\\'`` and
    ``\\/`` mean the same either way; ``\\\\`` is how a JSON escape is written.)

    In JSON that reads (``well_formed``), only an escape inside a JSON string is one: ``{\\"filter\\": …}``
    and a ``\\t`` between values are StackQL's quotes and blanks, and mean what they say. In JSON that does
    not read, an escaped quote is said too, as a likely cause, its fix only suggested."""
    offsets = value.offsets
    if value.kind != "string" or offsets.quoting != "sql":
        return
    inside = _json_strings(offsets.decoded)
    starts = [a for a, _ in inside]
    for k, step in enumerate(offsets.steps):
        decoded = offsets.decoded[offsets.starts[k]] if not step else ""
        if step or decoded in ("'", "\\", "/"):
            continue
        index = offsets.starts[k]
        at = bisect.bisect_right(starts, index) - 1
        in_string = at >= 0 and index < inside[at][1]
        if not (in_string or (decoded == '"' and not well_formed)):
            continue
        source = offsets.sources[k]
        written = _SQL_ENCODED.get(decoded, decoded)
        yield _error(
            SQL_ESCAPE_CODE,
            f"StackQL reads \\{written} in a string as {quoted(decoded)} before the JSON is read: write "
            f"\\\\{written} for JSON's escape",
            Span(source, source + 2),
            Fix("double the backslash", (Edit(Span(source, source), "\\"),), safe=well_formed),
        )


def _check_lone_surrogates(text: str, offsets: OffsetMap) -> Iterator[Diagnostic]:
    """A lone surrogate in a value (a JSON ``\\ud800``, or a byte Python decoded with ``surrogateescape``) is
    no character: StackQL would send U+FFFD instead, and UTF-8 cannot carry it."""
    for found in _SURROGATE.finditer(text):
        yield _error(
            BAD_VALUE_CODE,
            f"lone surrogate {quoted(found.group())}: it is no character (StackQL would send U+FFFD instead)",
            offsets.span(Span(found.start(), found.end())),
        )


_SURROGATE = re.compile("[\ud800-\udfff]")


def _templated(value: JsonValue) -> bool:
    return isinstance(value, JsonTemplate) or (
        isinstance(value, JsonString) and _TEMPLATE.search(value.value) is not None
    )


_KIND_SHOWN: Mapping[FieldKind, str] = {
    "string": "a string",
    "status": "a status name",
    "count": "a whole number",
    "key_values": 'a list of {"key": ..., "value": ...} objects',
    "strings": "a list of strings",
    "datasets": 'a list of {"dataset_name": ..., "dataset_digest": ...} objects',
    "order_by": 'a list of {"field_name": ..., "ascending": ..., "dataset_name": ..., ...} objects',
}
_ITEM_FIELDS: Mapping[FieldKind, tuple[tuple[str, ...], Mapping[str, type]]] = {
    "key_values": (("key",), {"key": str, "value": str}),
    "datasets": (("dataset_name",), {"dataset_name": str, "dataset_digest": str}),
    "order_by": (
        ("field_name",),
        {"field_name": str, "ascending": bool, "dataset_name": str, "dataset_digest": str},
    ),
}


def _check_field(value: JsonValue, kind: FieldKind, name: str, target: str) -> Iterator[Diagnostic]:
    if name == "filter" and isinstance(value, JsonString) and _templated(value):
        yield from _check_templated_filter(value, target)
        return
    if _templated(value):
        return
    if isinstance(value, JsonString):
        yield from ([] if name == "filter" else _check_lone_surrogates(value.value, value.offsets))
        if kind not in ("string", "status", "count"):
            # The page writes every body field as a string ("params": "{{ params }}"): a string holding the
            # field's JSON stands for it.
            nested = parse_json(value.value, value.offsets)
            if isinstance(nested, Diagnostic):
                yield dataclasses.replace(nested, message=f"{name}: {nested.message}")
                return
            value = nested
    wrong = _error(BAD_VALUE_CODE, f"{name} takes {_KIND_SHOWN[kind]}", value.span)
    if kind == "string":
        if not isinstance(value, JsonString):
            yield wrong
        elif name == "filter":
            for diagnostic in check(value.value, target, native=True):
                yield value.offsets.diagnostic(diagnostic)
    elif kind == "status":
        yield from _check_status(value)
    elif kind == "count":
        yield from _check_count(value, target)
    elif kind == "strings":
        if not isinstance(value, JsonArray):
            yield wrong
        else:
            for item in value.items:
                if not isinstance(item, JsonString) and not _templated(item):
                    yield _error(BAD_VALUE_CODE, f"{name} takes strings", item.span)
    else:
        yield from _check_items(value, kind, name, wrong)


def _check_templated_filter(value: JsonString, target: str) -> Iterator[Diagnostic]:
    """A search filter partly made of templates, checked with a stand-in for each where it holds text (a
    value in quotes, a key): what is said of the stand-ins is left out, and no fix writes into one. A filter
    with a template anywhere else (a number, a whole condition, the whole filter) is not checked."""
    text = value.value
    runs = _Runs(0)
    pieces: list[str] = []
    stand_ins: list[Span] = []
    at = length = 0
    for found in _TEMPLATE.finditer(text):
        pieces.append(text[at : found.start()])
        length += found.start() - at
        if not takes_a_stand_in("".join(pieces)):
            return
        runs.squeeze(length, found.start(), len(STAND_IN), found.end() - found.start())
        stand_ins.append(Span(length, length + len(STAND_IN)))
        pieces.append(STAND_IN)
        length += len(STAND_IN)
        at = found.end()
    pieces.append(text[at:])
    filled = "".join(pieces)
    where = runs.build(len(filled), "filled", value.offsets, filled)
    for diagnostic in outside_holes(filled, check(filled, target, native=True), stand_ins):
        yield where.diagnostic(diagnostic)


def _check_items(value: JsonValue, kind: FieldKind, name: str, wrong: Diagnostic) -> Iterator[Diagnostic]:
    if not isinstance(value, JsonArray):
        yield wrong
        return
    required, fields = _ITEM_FIELDS[kind]
    for item in value.items:
        if _templated(item):
            continue
        if not isinstance(item, JsonObject):
            yield dataclasses.replace(wrong, span=item.span)
            continue
        for member in item.members:
            expected = fields.get(member.key.value)
            if expected is None:
                hint = did_you_mean(member.key.value, fields)
                yield _error(
                    UNKNOWN_CODE,
                    f"unknown field {quoted(member.key.value)} in {name}"
                    + (f"; did you mean {quoted(hint)}?" if hint else f" (it takes {', '.join(fields)})"),
                    member.key.span,
                )
            elif not _templated(member.value) and not (
                isinstance(member.value, JsonString if expected is str else JsonLiteral)
                and isinstance(plain(member.value), expected)
            ):
                shown = "a string" if expected is str else "true or false"
                yield _error(BAD_VALUE_CODE, f"{name}: {member.key.value} takes {shown}", member.value.span)
        for key in required:
            if item.get(key) is None:
                yield _error(MISSING_CODE, f"{name}: each item needs {quoted(key)}", item.span)


def _check_status(value: JsonValue) -> Iterator[Diagnostic]:
    choices = " or ".join(_FINAL_STATUSES)
    if not isinstance(value, JsonString):
        yield _error(BAD_VALUE_CODE, f"status takes {choices}", value.span)
        return
    if value.value in _FINAL_STATUSES:
        return
    meant: str | None
    try:
        status = ModelStatus.from_name(value.value.strip().upper())
        meant = status.wire_name if status.wire_name in _FINAL_STATUSES else None
    except (ValueError, KeyError):
        meant = did_you_mean(value.value, _FINAL_STATUSES)
    whole = Span(0, len(value.value))
    fix = (
        None
        if meant is None
        else value.offsets.fix(Fix(f"replace with {quoted(meant)}", (Edit(whole, meant),), safe=True))
    )
    yield _error(
        BAD_VALUE_CODE,
        f"finalize takes the status {choices}, not {quoted(value.value)}"
        + (f"; did you mean {quoted(meant)}?" if meant else ""),
        value.span,
        *(() if fix is None else (fix,)),
    )


def _check_count(value: JsonValue, target: str) -> Iterator[Diagnostic]:
    profile = get_target(target)
    limit = profile.max_results
    number: int | None = None
    if isinstance(value, JsonNumber) and isinstance(value.value, int):
        number = value.value
    elif isinstance(value, JsonString) and re.fullmatch(r"-?[0-9]{1,18}", value.value.strip()):
        number = int(value.value)  # proto3 JSON takes an integer as a string too
    if number is None:
        yield _error(BAD_VALUE_CODE, "max_results takes a whole number", value.span)
    elif number < 1:
        yield _error(BAD_VALUE_CODE, f"max_results must be at least 1, not {number}", value.span)
    elif limit is not None and number > limit:
        yield _error(
            BAD_VALUE_CODE,
            f"max_results is at most {limit} on {profile.title}, not {number}",
            value.span,
            Fix(
                f"replace with {limit}",
                (Edit(value.span, str(limit) if isinstance(value, JsonNumber) else f'"{limit}"'),),
            ),
        )
